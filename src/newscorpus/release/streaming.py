"""Write the configs of a release in memory that does not grow with the texts of the corpus.

Three passes, each holding one batch of wide rows at a time:

1. the articles, a reader's batch at a time: each gets its split and goes to the articles
   config's parquet files; only narrow columns (ids, clusters, splits, facets) stay;
2. the annotation files, a batch at a time: the records are spilled to temporary Arrow files,
   one per bucket of :data:`BUCKET_ARTICLES` consecutive articles, with their line in the
   corpus and their article as an integer code (only the keys of records of no known
   article are held);
3. per bucket, in article order: the current records of its articles (chosen among the
   bucket's records: all of an article's are there) become the rows of the
   stance, claims, annotations and choice configs (by the same functions as a whole-corpus
   build, :func:`tables.annotation_tables`), appended to their parquet files.

A parquet file is written a row group (:data:`ROW_GROUP_ROWS`) at a time, scanned before it is
written, so the files are those of writing each split's table at once.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from ..config import Config
from ..corpus import annotation_files, article_files
from ..errors import ReleaseError
from ..layers import Layers, defined
from .scan import Scanner
from .splits import SplitAssigner
from .tables import (
    _ARTICLE_READ,
    KINDS,
    _annotation_read,
    annotation_tables,
    article_batches,
    article_keys,
    chosen_lines,
    config_names,
    grouped,
    int_offsets,
    iter_json,
    record_keys,
    to_arrow,
)

# Rows per parquet row group: small enough for streaming readers, large enough to compress well.
ROW_GROUP_ROWS = 10_000
# Articles whose annotation configs are built together (their records held at once).
BUCKET_ARTICLES = 50_000
# What stays of each article for the card, the manifest and the baselines.
NARROW = (
    "id",
    "_ord",
    "split",
    "dup_cluster",
    "language",
    "source",
    "text_policy",
    "synthetic",
    "fetched_at",
    "published",
)
_CAT = pl.Categorical()
_TEXTS = pa.schema([f for f in _ARTICLE_READ if f.name in ("id", "title", "text")])


def parquet_name(split: str, version: str) -> str:
    """A split's file: the version is in the name, and so in the card's ``data_files`` pattern.

    datasets 5.2 caches a local folder by its name and its card's configs, not by the files'
    contents: with one name for every version, loading v1.1.0 after v1.0.0 from the same clone
    silently returned v1.0.0's rows (tests/release/test_release.py shows it no longer does).
    """
    return f"{split}-v{version}-00000-of-00001.parquet"


@dataclass
class _SplitFile:
    name: str
    path: Path
    scanner: Scanner
    writer: pq.ParquetWriter | None = None
    pending: list[pa.Table] = field(default_factory=list)
    pending_rows: int = 0
    rows: int = 0
    error: ReleaseError | None = None


class ConfigWriter:
    """A config's parquet files, one per split, appended to in release order."""

    def __init__(self, out: Path, config: str, version: str, scanner: Scanner) -> None:
        self.out, self.config, self.version, self.scanner = out, config, version, scanner
        self.files: dict[str, _SplitFile] = {}  # in the order the splits first appear

    def add(self, frame: pl.DataFrame) -> None:
        """The next rows of the config (``split`` column included)."""
        if not frame.height:
            return
        for (split,), part in frame.partition_by(
            "split", as_dict=True, maintain_order=True
        ).items():
            f = self._file(str(split))
            if f.error is not None:
                continue
            try:
                table = to_arrow(part, self.config)
            except ReleaseError as exc:  # raised once the config's earlier splits are known
                f.error = exc
                continue
            f.pending.append(table)
            f.pending_rows += table.num_rows
            if f.pending_rows >= ROW_GROUP_ROWS:
                self._flush(f, final=False)

    def _file(self, split: str) -> _SplitFile:
        if split not in self.files:
            name = f"data/{self.config}/{parquet_name(split, self.version)}"
            sub = Scanner(allow=self.scanner.allow, roots=self.scanner.roots)
            self.files[split] = _SplitFile(name, self.out / name, sub)
        return self.files[split]

    def _flush(self, f: _SplitFile, *, final: bool) -> None:
        table = pa.concat_tables(f.pending)
        done = 0
        while table.num_rows - done >= ROW_GROUP_ROWS or (final and done < table.num_rows):
            group = table.slice(done, ROW_GROUP_ROWS).combine_chunks()
            for batch in group.to_batches(max_chunksize=ROW_GROUP_ROWS):
                f.scanner.scan_batch(f.name, batch)
            if f.writer is None:
                f.path.parent.mkdir(parents=True, exist_ok=True)
                f.writer = pq.ParquetWriter(f.path, group.schema, compression="zstd")
            f.writer.write_table(group, row_group_size=ROW_GROUP_ROWS)
            done += group.num_rows
        f.rows += done
        rest = table.slice(done)
        f.pending, f.pending_rows = ([rest] if rest.num_rows else []), rest.num_rows

    def close(self) -> dict[str, int]:
        """Write what is left; the rows per split. ReleaseError of its first split with one."""
        for f in self.files.values():
            if f.error is not None:
                raise f.error
            if f.pending_rows:
                self._flush(f, final=True)
            if f.writer is not None:
                f.writer.close()
        return {s: f.rows for s, f in self.files.items()}

    def abort(self) -> None:
        for f in self.files.values():
            if f.writer is not None:
                f.writer.close()

    def findings(self) -> list[str]:
        return [x for f in self.files.values() for x in f.scanner.findings]


@dataclass
class Streamed:
    """What the configs' writing leaves: counts and the narrow frames the card needs."""

    counts: dict[str, dict[str, int]]  # config -> split -> rows, splits in first-seen order
    articles: pl.DataFrame  # NARROW columns, store order
    stance: pl.DataFrame  # article_id, target, label, split (release order)
    choices: dict[str, pl.DataFrame]  # per choice layer: article_id, label, split
    annotations: pl.DataFrame  # article_id (a code in id order), stance, per choice layer one
    claims: pl.DataFrame  # article_id and the claims' fields but id and text (digests)
    per_item: list[int]  # annotators per annotated article
    texts: Callable[[Sequence[str]], pl.DataFrame]  # id, title, text of some articles


def write_configs(
    cfg: Config, out: Path, version: str, scanner: Scanner, assigner: SplitAssigner
) -> Streamed:
    """Write every config's parquet files into ``out``; ReleaseError on unreadable records,
    annotations of unknown articles, or a label outside its vocabulary (nothing is released)."""
    layers = defined()
    targets = [t.id for t in cfg.targets]
    writers = {c: ConfigWriter(out, c, version, scanner) for c in config_names(layers)}
    try:
        arts = _write_articles(cfg, writers["articles"], assigner)
        _release_unused()
        with tempfile.TemporaryDirectory(prefix="newscorpus-release-") as spill:
            buckets, orphans = _spill_annotations(cfg, arts, targets, layers, Path(spill))
            _release_unused()
            if orphans:
                raise ReleaseError(f"annotations refer to articles not in articles/: {orphans[:5]}")
            stance, choices, annotations, claims, per_item = _write_buckets(
                arts, buckets, writers, targets, layers
            )
        counts = {c: w.close() for c, w in writers.items()}
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    for w in writers.values():  # findings in the order of a whole-table write
        scanner.extend(w.findings())
    return Streamed(
        counts=counts,
        articles=arts,
        stance=stance,
        choices=choices,
        annotations=annotations,
        claims=claims,
        per_item=per_item,
        texts=lambda ids: _texts(cfg, ids),
    )


def _release_unused() -> None:
    """Hand back to the system the memory Arrow's allocator keeps from a pass's batches (at
    1,000,000 articles it kept some hundred MB that the next pass did not reuse)."""
    pa.default_memory_pool().release_unused()


def _write_articles(cfg: Config, writer: ConfigWriter, assigner: SplitAssigner) -> pl.DataFrame:
    narrow = []
    for arts in article_batches(cfg):
        ids: list[str] = arts.get_column("id").to_list()
        clusters: list[str] = arts.get_column("dup_cluster").to_list()
        splits = [assigner.assign(a, c) for a, c in zip(ids, clusters, strict=True)]
        arts = arts.with_columns(pl.Series("split", splits, dtype=pl.String))
        writer.add(
            arts.with_columns(
                pl.when(pl.col("text_policy") == "full").then(pl.col("text")).otherwise(None)
            )
        )
        narrow.append(arts.select(NARROW))
    if narrow:
        return pl.concat(narrow).rechunk()
    empty = pl.from_arrow(_ARTICLE_READ.empty_table())
    assert isinstance(empty, pl.DataFrame)
    return empty.with_columns(
        pl.lit(None, pl.Int64).alias("_ord"),
        pl.lit(None, pl.String).alias("split"),
        pl.lit(None, pl.String).alias("text_policy"),
    ).select(NARROW)


def _texts(cfg: Config, ids: Sequence[str]) -> pl.DataFrame:
    """Title and text as stored of the articles ``ids`` (a pass over the article files).

    Filtered with Arrow, which copies the rows kept (a polars filter of strings would keep
    every batch's buffers alive).
    """
    wanted = pa.array(list(ids), pa.string())
    parts = [
        table.filter(pc.is_in(table.column("id"), value_set=wanted))
        for path in article_files(cfg)
        for table in grouped(iter_json(path, _TEXTS))
    ]
    frame = pl.from_arrow(pa.concat_tables(parts) if parts else _TEXTS.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


@dataclass
class _Lookup:
    """Article id -> store position (``_ord``); ids of no article get codes below -1."""

    ids: pl.Series  # sorted
    ords: pl.Series
    orphans: dict[str, int] = field(default_factory=dict)

    def codes(self, article_ids: pl.Series) -> np.ndarray:
        if not len(self.ids):
            pos = np.zeros(len(article_ids), dtype=np.int64)
            hit = np.zeros(len(article_ids), dtype=bool)
        else:
            pos = self.ids.search_sorted(article_ids.fill_null(""), side="left").to_numpy()
            pos = np.minimum(pos, len(self.ids) - 1)
            found = self.ids.gather(pos) == article_ids
            hit = found.fill_null(False).to_numpy()
        code = np.where(hit, self.ords.gather(pos).to_numpy() if len(self.ids) else 0, -1)
        missing = ~hit & article_ids.is_not_null().to_numpy()
        for i in np.flatnonzero(missing):
            aid = article_ids[int(i)]
            code[i] = self.orphans.setdefault(aid, -2 - len(self.orphans))
        return code.astype(np.int64)


_KEY_COLUMNS = [
    "kind",
    "article_id",
    "id",
    "annotator",
    "updated_at",
    "created_at",
    "pulled_at",
    "deleted",
    "cancelled",
]


def _keys(frame: pl.DataFrame, lines: pl.Series, code: pl.Series) -> pl.DataFrame:
    """What picks the current records (tables.record_keys), the article as its code ``_art``."""
    return record_keys(frame.select(_KEY_COLUMNS)).with_columns(lines.alias("_line"), code)


def _spill_annotations(
    cfg: Config, arts: pl.DataFrame, targets: list[str], layers: Layers, spill: Path
) -> tuple[list[Path | None], list[str]]:
    """Spill the records to one Arrow file per bucket of articles (their current ones are
    chosen per bucket: an article's records are all in its bucket); the ids of unknown
    articles that current records name (only those records' keys are held)."""
    schema = _annotation_read(targets, layers)
    spilled = schema.append(pa.field("_line", pa.int64())).append(pa.field("_ord", pa.int64()))
    by_id = arts.select("id", "_ord").sort("id")
    lookup = _Lookup(by_id.get_column("id"), by_id.get_column("_ord"))
    n_buckets = max(1, -(-arts.height // BUCKET_ARTICLES))
    paths = [spill / f"bucket-{b:05d}.arrow" for b in range(n_buckets)]
    sinks: dict[int, ipc.RecordBatchStreamWriter] = {}
    stray: list[pl.DataFrame] = []  # keys of the records of no known article
    line = 0

    def route(table: pa.Table) -> None:
        nonlocal line
        narrow = pl.from_arrow(table.select(_KEY_COLUMNS))
        assert isinstance(narrow, pl.DataFrame)
        code = lookup.codes(narrow.get_column("article_id"))
        lines = np.arange(line, line + table.num_rows, dtype=np.int64)
        unknown = np.flatnonzero(code < 0)
        if len(unknown):
            stray.append(
                _keys(
                    narrow[unknown],
                    pl.Series(lines[unknown]),
                    pl.Series("_art", code[unknown], dtype=pl.Int64),
                )
            )
        full = table.append_column("_line", pa.array(lines)).append_column("_ord", pa.array(code))
        bucket = np.where(code >= 0, code // BUCKET_ARTICLES, -1)
        for b in np.unique(bucket[bucket >= 0]):
            if b not in sinks:
                sinks[int(b)] = ipc.new_stream(paths[int(b)], spilled)
            sinks[int(b)].write_table(full.take(np.flatnonzero(bucket == b)))
        line += table.num_rows

    try:
        for path in annotation_files(cfg):
            for table in grouped(iter_json(path, schema)):
                route(table)
    finally:
        for sink in sinks.values():
            sink.close()
    names = {v: k for k, v in lookup.orphans.items()}
    orphans: set[str] = set()
    if stray:
        for c in chosen_lines(pl.concat(stray), "_art").values():
            orphans |= {names[a] for a in c.get_column("_art").to_list() if a <= -2}
    return [p if p.exists() else None for p in paths], sorted(orphans)


def _bucket_records(
    path: Path | None, targets: list[str], layers: Layers
) -> dict[str, pl.DataFrame]:
    """The current records of a bucket's articles, by kind (as tables.current_records picks
    them over the whole corpus: the keys name one article, and ``_line`` orders them)."""
    schema = _annotation_read(targets, layers)
    if path is None:
        table = schema.empty_table()
    else:
        with ipc.open_stream(path) as reader:
            table = reader.read_all()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if "_line" in frame.columns:
        keys = _keys(frame, frame.get_column("_line"), frame.get_column("_ord").alias("_art"))
        chosen = pl.concat([c.select("_line") for c in chosen_lines(keys, "_art").values()])
        frame = frame.filter(pl.col("_line").is_in(chosen.get_column("_line").implode()))
        frame = frame.drop("_line", "_ord")
    frame = frame.rechunk()
    return {kind: int_offsets(frame.filter(pl.col("kind") == kind)) for kind, _ in KINDS}


def _write_buckets(
    arts: pl.DataFrame,
    buckets: list[Path | None],
    writers: dict[str, ConfigWriter],
    targets: list[str],
    layers: Layers,
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame], pl.DataFrame, pl.DataFrame, list[int]]:
    """The stance, claims, annotations and choice configs, bucket after bucket; the narrow
    frames of stance, choices, annotations and claims, and the annotators per article."""
    keys = article_keys(arts)
    id_rank = arts.get_column("id").rank("dense").cast(pl.Int32).to_numpy()  # by _ord
    stance, annotations, claims, per_item = [], [], [], []
    choices: dict[str, list[pl.DataFrame]] = {c.name: [] for c in layers.choices}
    narrow_ann = ["article_id", "stance", *choices]
    spans = [f for f in layers.spans.fields if f not in ("id", "text")]
    for b, path in enumerate(buckets):
        lo, hi = b * BUCKET_ARTICLES, (b + 1) * BUCKET_ARTICLES
        mine = keys.filter(pl.col("_ord").is_between(lo, hi, closed="left"))
        current = _bucket_records(path, targets, layers)
        t = annotation_tables(pl.DataFrame(), mine, current, targets, layers)
        for name in config_names(layers)[1:]:
            writers[name].add(t.config(name))
        stance.append(_compact(t.stance.select("article_id", "target", "label", "split")))
        for name, frame in t.choices.items():
            choices[name].append(_compact(frame.select("article_id", "label", "split")))
        # for the agreement: articles as codes in the order of their ids (the same alpha),
        # targets and labels as categories (3,000,000 annotations: 0.2 GB, not 0.5)
        code = pl.Series("article_id", id_rank[t.annotations.get_column("_ord").to_numpy()])
        cats = [
            pl.col("stance").cast(pl.List(pl.Struct({"target": _CAT, "label": _CAT}))),
            *[pl.col(c).cast(_CAT) for c in choices],
        ]
        narrow = t.annotations.select(narrow_ann).with_columns(code, *cats)
        annotations.append(_compact(narrow))
        claims.append(_compact(t.claims.select("article_id", *spans)))
        per_item += t.annotations.group_by("_ord").len().get_column("len").to_list()
    return (
        pl.concat(stance),
        {n: pl.concat(f) for n, f in choices.items()},
        pl.concat(annotations),
        pl.concat(claims),
        per_item,
    )


def _compact(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy holding only its own values: a polars filter, gather or explode of strings keeps
    the buffers of the whole frame it came from (here: a bucket's records) alive."""
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression="uncompressed", compat_level=pl.CompatLevel.oldest())
    buffer.seek(0)
    return pl.read_ipc(buffer)
