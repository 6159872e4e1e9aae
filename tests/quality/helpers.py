"""Builders of synthetic annotation records for the quality tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newscorpus.config import Config, load_config
from newscorpus.corpus import add_annotations, add_articles
from newscorpus.records import Annotation, Article
from tests.conftest import make_article, write_corpus

TWO_TARGETS = """\
[corpus]
name = "test-corpus"
pretty_name = "Test corpus"
description = "A corpus for tests."
languages = ["es", "fr", "en"]
license = "CC-BY-4.0"

[[targets]]
id = "us_forces_in_mexico"
text = "US personnel in anti-cartel operations on Mexican soil"

[[targets]]
id = "cartels_as_terrorists"
text = "Cartels should be designated as terrorist organisations"
"""

T1, T2 = "us_forces_in_mexico", "cartels_as_terrorists"


def span(sid: str, start: int, end: int, label: str = "Claim", **attrs: Any) -> dict[str, Any]:
    """A span record (text is filled in by ``ann`` from the article)."""
    return {"id": sid, "start": start, "end": end, "label": label, "text": "", **attrs}


def ann(
    article: Article,
    annotator: str,
    stance: dict[str, str | None] | None = None,
    spans: list[dict[str, Any]] | None = None,
    n: int = 1,
    **over: Any,
) -> Annotation:
    """One synthetic human annotation version of an article."""
    spans = [dict(s, text=article.text[s["start"] : s["end"]]) for s in (spans or [])]
    fields: dict[str, Any] = {
        "id": f"ann-{article.id}-{annotator}-{n}",
        "kind": "annotation",
        "article_id": article.id,
        "annotator": annotator,
        "stance": stance or {},
        "spans": spans,
        "task_id": abs(hash(article.id)) % 10_000,
        "annotation_id": n,
        "created_at": f"2026-01-01T00:00:0{n}Z",
        "updated_at": f"2026-01-01T00:00:0{n}Z",
        "pulled_at": "2026-01-02T00:00:00Z",
    }
    fields.update(over)
    return Annotation(**fields)


LONG_TEXT = (
    "The minister said the fentanyl seizures doubled last year. "
    "Officials claimed the cártel moved its labs. "
    "A spokesperson denied any joint operation on Mexican soil, according to the report."
)


def make_corpus(root: Path, toml: str = TWO_TARGETS, n_articles: int = 4, **art: Any) -> Path:
    """A corpus folder with ``n_articles`` synthetic articles (the first two in Spanish)."""
    write_corpus(root, toml)
    cfg = load_config(root)
    arts = [
        make_article(i, text=f"{LONG_TEXT} ({i})", language="es" if i < 2 else "en", **art)
        for i in range(n_articles)
    ]
    add_articles(cfg, arts, file="test")
    return root


def articles(root: Path) -> list[Article]:
    """The corpus's articles in store order."""
    from newscorpus.corpus import load_articles

    return load_articles(load_config(root))


def store(root: Path, records: list[Annotation], file: str = "pulled") -> None:
    """Append annotation records to annotations/<file>.jsonl."""
    add_annotations(load_config(root), records, file)


@dataclass(frozen=True)
class Final:
    """What a release publishes for one article: where its labels come from, and the labels."""

    kind: str  # gold | aggregate | majority (mixed when targets differ)
    stance: dict[str, str]


def final_labels(cfg: Config) -> dict[str, Final]:
    """Article id -> its published stance labels, by the release's own rule (release/tables.py:
    gold, else aggregate, else the majority of the raw labels)."""
    from newscorpus.release.tables import current_records, stance_frame

    targets = [t.id for t in cfg.targets]
    frame = stance_frame(current_records(cfg, targets), targets)
    sources: dict[str, set[str]] = {}
    stance: dict[str, dict[str, str]] = {}
    for aid, target, label, source in frame.select(
        "article_id", "target", "label", "label_source"
    ).iter_rows():
        sources.setdefault(aid, set()).add(source)
        stance.setdefault(aid, {})[target] = label
    return {
        aid: Final(kind=s.pop() if len(s) == 1 else "mixed", stance=stance[aid])
        for aid, s in sources.items()
    }
