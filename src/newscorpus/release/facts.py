"""What building a release learns of the corpus: where each article goes, its labels, the facets."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Placement:
    """An article's split and near-duplicate cluster in a release (the manifest's ``articles``)."""

    split: str
    dup_cluster: str

    def to_dict(self) -> dict[str, str]:
        """The manifest's JSON object for this article."""
        return {"split": self.split, "dup_cluster": self.dup_cluster}


@dataclass(frozen=True)
class PublicationDates:
    """The first and last publication dates (YYYY-MM-DD) and how many articles have none."""

    first: str | None
    last: str | None
    undated: int


@dataclass(frozen=True)
class ReleaseFacts:
    """The per-article maps of the manifest and the figures the card and its limitations cite."""

    articles: dict[str, Placement]
    labels: dict[str, dict[str, str]]  # article -> target -> released stance label
    claims: dict[str, str]  # article -> digest of its released claims
    facets: dict[str, Counter[str]]  # language, source, label, synthetic -> counts
    timeframe: tuple[str | None, str | None]  # first and last fetched_at
    published: PublicationDates
    unlabelled: int  # articles without a stance label
    unlabelled_copies: int  # ... of which near copies of a labelled article
    per_item: tuple[int, ...]  # annotators per annotated article
    withheld: int  # articles released without their text (text_policy other than full)
    kept: int  # articles that kept the split of an earlier release
    new: int  # articles placed for the first time
    straddling: tuple[str, ...]  # near-duplicate clusters found in two splits
