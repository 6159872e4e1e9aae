"""Counts of a corpus with polars: articles by language, source, site and month; annotations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from . import layers
from .config import Config
from .corpus import current_annotations, iter_articles

ARTICLE_DIMENSIONS = ("language", "source", "site", "month")
ANNOTATION_DIMENSIONS = ("layer", "label", "annotator")


def article_frame(cfg: Config) -> pl.DataFrame:
    """One row per article with the columns that stats group by."""
    rows = [
        {
            "id": a.id,
            "language": a.language,
            "source": a.source,
            "site": a.site or "(unknown)",
            "month": (a.published or "")[:7] or "(undated)",
            "dup_cluster": a.dup_cluster,
            "synthetic": a.synthetic,
        }
        for a in iter_articles(cfg)
    ]
    schema = {
        "id": pl.Utf8,
        "language": pl.Utf8,
        "source": pl.Utf8,
        "site": pl.Utf8,
        "month": pl.Utf8,
        "dup_cluster": pl.Utf8,
        "synthetic": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema)


def label_frame(cfg: Config) -> pl.DataFrame:
    """One row per label given in a current human annotation: stance per target
    (``stance_<target id>``), spans, and each per-article choice layer (by its name)."""
    lay = layers.defined()
    rows: list[dict[str, str]] = []
    for ann in current_annotations(cfg):
        who = ann.annotator or "(unknown)"
        for target, label in ann.stance.items():
            if label is not None:
                rows.append({"layer": f"stance_{target}", "label": label, "annotator": who})
        for span in ann.spans:
            rows.append({"layer": lay.spans.name, "label": str(span["label"]), "annotator": who})
        chosen = layers.choice_labels(ann.extra)
        for c in lay.choices:
            value = chosen.get(c.name)
            if isinstance(value, str):
                rows.append({"layer": c.name, "label": value, "annotator": who})
    return pl.DataFrame(rows, schema={"layer": pl.Utf8, "label": pl.Utf8, "annotator": pl.Utf8})


def _counts(df: pl.DataFrame, cols: list[str]) -> list[dict[str, Any]]:
    if df.is_empty():
        return []
    return (
        df.group_by(cols)
        .len(name="count")
        .sort(["count", *cols], descending=[True] + [False] * len(cols))
        .to_dicts()
    )


Counts = list[dict[str, Any]]  # rows of {<dimension>: value, ..., "count": n}, largest first


@dataclass(frozen=True, kw_only=True)
class ArticleCounts:
    total: int
    clusters: int
    synthetic: int
    by: dict[str, Counts]  # dimension (ARTICLE_DIMENSIONS) -> counts


@dataclass(frozen=True, kw_only=True)
class LabelCounts:
    labels: int
    by_layer: Counts
    by_label: Counts
    by_annotator: Counts


@dataclass(frozen=True, kw_only=True)
class StatsResult:
    """What `newscorpus stats` shows; ``to_json`` is what `stats --json` prints."""

    corpus: str
    articles: ArticleCounts
    annotations: LabelCounts

    def to_json(self) -> dict[str, Any]:
        a, n = self.articles, self.annotations
        return {
            "corpus": self.corpus,
            "articles": {
                "total": a.total,
                "clusters": a.clusters,
                "synthetic": a.synthetic,
                **{f"by_{d}": rows for d, rows in a.by.items()},
            },
            "annotations": {
                "labels": n.labels,
                "by_layer": n.by_layer,
                "by_label": n.by_label,
                "by_annotator": n.by_annotator,
            },
        }


def corpus_stats(cfg: Config) -> StatsResult:
    """Counts of articles and annotation labels."""
    arts = article_frame(cfg)
    labels = label_frame(cfg)
    return StatsResult(
        corpus=cfg.corpus.name,
        articles=ArticleCounts(
            total=arts.height,
            clusters=arts["dup_cluster"].n_unique() if arts.height else 0,
            synthetic=int(arts["synthetic"].sum()) if arts.height else 0,
            by={d: _counts(arts, [d]) for d in ARTICLE_DIMENSIONS},
        ),
        annotations=LabelCounts(
            labels=labels.height,
            by_layer=_counts(labels, ["layer"]),
            by_label=_counts(labels, ["layer", "label"]),
            by_annotator=_counts(labels, ["annotator"]),
        ),
    )
