"""The four configs of a release: explicit Arrow schemas, row builders, streaming parquet writers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..config import STANCE_VALUES, Config
from ..records import Annotation, Article

CONFIGS = ("articles", "stance", "claims", "annotations")

_STR = pa.string()
_SPAN = pa.struct(
    [
        ("id", _STR),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("label", _STR),
        ("text", _STR),
        ("checkworthy", _STR),
        ("claim_type", _STR),
        ("speaker", _STR),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "articles": pa.schema(
        [
            ("id", _STR),
            ("url", _STR),
            ("canonical_url", _STR),
            ("source", _STR),
            ("site", _STR),
            ("title", _STR),
            ("text", _STR),
            ("text_sha256", _STR),
            ("text_policy", _STR),
            ("language", _STR),
            ("authors", pa.list_(_STR)),
            ("published", _STR),
            ("dup_cluster", _STR),
            ("topic_terms", pa.list_(_STR)),
            ("fetched_at", _STR),
            ("extractor", _STR),
            ("synthetic", pa.bool_()),
        ]
    ),
    "stance": pa.schema(
        [
            ("article_id", _STR),
            ("target", _STR),
            ("label", _STR),
            ("label_source", _STR),
            ("method", _STR),
            *[(f"p_{v}", pa.float32()) for v in STANCE_VALUES],
            ("n_annotators", pa.int32()),
            ("language", _STR),
        ]
    ),
    "claims": pa.schema(
        [
            ("article_id", _STR),
            ("span_id", _STR),
            ("start", pa.int32()),
            ("end", pa.int32()),
            ("label", _STR),
            ("text", _STR),
            ("checkworthy", _STR),
            ("claim_type", _STR),
            ("speaker", _STR),
            ("label_source", _STR),
            ("language", _STR),
        ]
    ),
    "annotations": pa.schema(
        [
            ("article_id", _STR),
            ("annotator", _STR),
            ("stance", pa.list_(pa.struct([("target", _STR), ("label", _STR)]))),
            ("spans", pa.list_(_SPAN)),
            ("created_at", _STR),
            ("updated_at", _STR),
            ("language", _STR),
        ]
    ),
}


def text_policy(cfg: Config, source: str) -> str:
    """The text policy of a source; sources not in corpus.toml (e.g. the seed) are 'full'."""
    for s in cfg.sources:
        if s.name == source:
            return s.text_policy
    return "full"


def article_row(art: Article, policy: str) -> dict[str, Any]:
    """One row of the articles config; hydrate sources keep no text."""
    return {
        "id": art.id,
        "url": art.url,
        "canonical_url": art.canonical_url,
        "source": art.source,
        "site": art.site,
        "title": art.title,
        "text": art.text if policy == "full" else None,
        "text_sha256": art.text_sha256,
        "text_policy": policy,
        "language": art.language,
        "authors": list(art.authors),
        "published": art.published,
        "dup_cluster": art.dup_cluster,
        "topic_terms": list(art.topic_terms),
        "fetched_at": art.fetched_at,
        "extractor": art.extractor,
        "synthetic": art.synthetic,
    }


def span_row(span: dict[str, Any], keep_text: bool) -> dict[str, Any]:
    """A span with the release's fields; its text is dropped for hydrate sources."""
    return {
        "id": str(span.get("id", "")),
        "start": int(span["start"]),
        "end": int(span["end"]),
        "label": span.get("label"),
        "text": span.get("text") if keep_text else None,
        "checkworthy": span.get("checkworthy"),
        "claim_type": span.get("claim_type"),
        "speaker": span.get("speaker"),
    }


def annotation_row(ann: Annotation, language: str, keep_text: bool) -> dict[str, Any]:
    """One annotator's current labels of one article (pseudonymous)."""
    return {
        "article_id": ann.article_id,
        "annotator": ann.annotator,
        "stance": [{"target": t, "label": v} for t, v in sorted(ann.stance.items())],
        "spans": [span_row(s, keep_text) for s in ann.spans],
        "created_at": ann.created_at,
        "updated_at": ann.updated_at,
        "language": language,
    }


def majority(labels: Iterable[str | None]) -> tuple[str | None, dict[str, float], int]:
    """Majority label (ties -> 'unresolved'), label shares and the number of labels."""
    counts: dict[str, int] = {}
    for v in labels:
        if v:
            counts[v] = counts.get(v, 0) + 1
    n = sum(counts.values())
    if not n:
        return None, {}, 0
    best = max(counts.values())
    winners = [k for k, c in counts.items() if c == best]
    label = winners[0] if len(winners) == 1 else "unresolved"
    return label, {k: c / n for k, c in counts.items()}, n


def stance_row(
    article_id: str,
    target: str,
    label: str,
    source: str,
    method: str | None,
    soft: dict[str, float],
    n: int | None,
    language: str,
) -> dict[str, Any]:
    """One (article, target) row of the stance config."""
    row: dict[str, Any] = {
        "article_id": article_id,
        "target": target,
        "label": label,
        "label_source": source,
        "method": method,
    }
    for v in STANCE_VALUES:  # a distribution sums to 1: labels nobody chose get 0.0
        row[f"p_{v}"] = float(soft.get(v, 0.0)) if soft else None
    row["n_annotators"] = n
    row["language"] = language
    return row


class TableWriter:
    """Streams rows into ``data/<config>/<split>-00000-of-00001.parquet``, one writer per split."""

    def __init__(self, root: Path, config: str, batch_rows: int = 5000) -> None:
        self.root = root
        self.config = config
        self.schema = SCHEMAS[config]
        self.batch_rows = batch_rows
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self.counts: Counter[str] = Counter()
        self.scanner: Any = None

    def path(self, split: str) -> Path:
        """Where a split's rows go."""
        return self.root / "data" / self.config / f"{split}-00000-of-00001.parquet"

    def add(self, split: str, row: dict[str, Any]) -> None:
        """Queue a row; full batches are written at once."""
        buf = self._buffers.setdefault(split, [])
        buf.append(row)
        self.counts[split] += 1
        if len(buf) >= self.batch_rows:
            self._flush(split)

    def _flush(self, split: str) -> None:
        rows = self._buffers.get(split)
        if not rows:
            return
        writer = self._writers.get(split)
        if writer is None:
            target = self.path(split)
            target.parent.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(target, self.schema, compression="zstd")
            self._writers[split] = writer
        # column lists then from_pydict: 2-3x faster than from_pylist, same nulls for missing keys
        columns = {name: [r.get(name) for r in rows] for name in self.schema.names}
        batch = pa.RecordBatch.from_pydict(columns, schema=self.schema)
        if self.scanner is not None:
            self.scanner.scan_batch(f"data/{self.config}/{split}", batch)
        writer.write_batch(batch)
        self._buffers[split] = []

    def close(self) -> dict[str, int]:
        """Flush and close every file; row counts per split."""
        for split in list(self._buffers):
            self._flush(split)
        for writer in self._writers.values():
            writer.close()
        return dict(self.counts)
