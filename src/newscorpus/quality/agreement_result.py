"""What `newscorpus agree` finds, as frozen dataclasses: the :class:`AgreeResult` of a corpus,
its sections and questions; ``to_json()`` is the `agree --json` shape.

Its own module so that both the computation (agreement.py) and the reports that render it
(reports.py) import it, and neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .spans import SpanAgreement


@dataclass(frozen=True)
class Kappa:
    """Cohen's kappa of two annotators over the items both labelled."""

    a: str
    b: str
    n: int
    kappa: float | None


@dataclass(frozen=True)
class Coincidences:
    """The coincidence matrix of a question: pairs of labels given to one item."""

    labels: tuple[str, ...]
    matrix: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class ChoiceAgreement:
    """Agreement on one choice question (a stance target, a per-article layer)."""

    alpha: float | None
    ci95: tuple[float, float] | None
    units: int
    annotators: int
    single_annotation_units: int
    kappa: tuple[Kappa, ...]
    coincidences: Coincidences | None

    def to_json(self) -> dict[str, Any]:
        co = self.coincidences
        return {
            "alpha": self.alpha,
            "ci95": list(self.ci95) if self.ci95 else None,
            "units": self.units,
            "annotators": self.annotators,
            "single_annotation_units": self.single_annotation_units,
            "kappa": [{"a": k.a, "b": k.b, "n": k.n, "kappa": k.kappa} for k in self.kappa],
            "coincidences": None
            if co is None
            else {"labels": list(co.labels), "matrix": [list(row) for row in co.matrix]},
        }


@dataclass(frozen=True)
class AnnotatorAgreement:
    """One annotator's items and agreement with the majority of the others (stance)."""

    items: int
    agreement_with_majority: float | None
    compared: int


@dataclass(frozen=True)
class Section:
    """Agreement over a set of articles: all of them, or one group of ``--by``."""

    stance: Mapping[str, ChoiceAgreement]  # by target id
    spans: Mapping[str, SpanAgreement]  # by span label
    annotators: Mapping[str, AnnotatorAgreement]
    choices: Mapping[str, ChoiceAgreement]  # by per-article choice layer

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stance": {t: s.to_json() for t, s in self.stance.items()}}
        if self.choices:  # only when a per-article layer is defined: today's shape otherwise
            out["choices"] = {n: s.to_json() for n, s in self.choices.items()}
        out["spans"] = {label: vars(s).copy() for label, s in self.spans.items()}
        out["annotators"] = {who: vars(a).copy() for who, a in self.annotators.items()}
        return out


@dataclass(frozen=True)
class Bootstrap:
    resamples: int
    seed: int
    unit: str


@dataclass(frozen=True)
class Orphans:
    """Annotations left out because their article is not in the corpus."""

    annotations: int
    articles: int


@dataclass(frozen=True)
class ByGroups:
    field: str
    groups: Mapping[str, Section]


# question -> language -> label -> count
Distribution = Mapping[str, Mapping[str, Mapping[str, int]]]


@dataclass(frozen=True)
class AgreeResult:
    """The whole agreement of a corpus (``to_json()``: the `agree --json` document)."""

    overall: Section
    corpus: str
    annotations: int
    bootstrap: Bootstrap
    label_distribution: Distribution  # by stance target
    choice_distribution: Distribution  # by per-article choice layer
    orphans: Orphans
    by: ByGroups | None = None
    report: str | None = None  # reports/agreement.md, when it was written

    @property
    def stance(self) -> Mapping[str, ChoiceAgreement]:
        return self.overall.stance

    @property
    def choices(self) -> Mapping[str, ChoiceAgreement]:
        return self.overall.choices

    @property
    def spans(self) -> Mapping[str, SpanAgreement]:
        return self.overall.spans

    @property
    def annotators(self) -> Mapping[str, AnnotatorAgreement]:
        return self.overall.annotators

    def to_json(self, with_report: bool = True) -> dict[str, Any]:
        """The `agree --json` document (``with_report=False``: reports/agreement.json)."""
        out = self.overall.to_json()
        out["corpus"] = self.corpus
        out["annotations"] = self.annotations
        out["bootstrap"] = vars(self.bootstrap).copy()
        out["label_distribution"] = _plain(self.label_distribution)
        if self.choice_distribution:
            out["choice_distribution"] = _plain(self.choice_distribution)
        out["orphans"] = vars(self.orphans).copy()
        if self.by is not None:
            out["by"] = {
                "field": self.by.field,
                "groups": {g: sec.to_json() for g, sec in self.by.groups.items()},
            }
        if with_report and self.report is not None:
            out["report"] = self.report
        return out


def _plain(dist: Distribution) -> dict[str, dict[str, dict[str, int]]]:
    return {q: {lang: dict(c) for lang, c in per.items()} for q, per in dist.items()}
