"""`newscorpus aggregate`: one label per (article, target) and one span set per article.

Aggregate records go to annotations/aggregate.jsonl (derived data, rewritten atomically each
run; records of the other method are kept). Each is an Annotation with kind="aggregate",
id="agg-<method>-<article id>", annotator=<method>, stance={target: label or "unresolved"},
the majority spans, and the extra fields method, soft, n_annotators and unresolved_spans
(and, for per-article choice layers, choices, choices_soft and choices_n_annotators: see
layers.py). Which label a release publishes (gold, else aggregate, else the majority of the
raw labels) is decided by the release (release/tables.py), not here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..config import Config
from ..errors import DataError, UsageError
from ..layers import CHOICES, CHOICES_N, CHOICES_SOFT, UNRESOLVED, Layers, defined
from ..lock import writes_corpus
from ..records import Annotation
from ..store import atomic_write_text, check_record, read_jsonl, rewrite_jsonl
from .labels import Labels, Units, load_labels
from .spans import majority_spans

METHODS = ("majority", "dawid-skene")
AGGREGATE_FILE = "aggregate"
RELIABILITY_REPORT = "annotator_reliability.json"
SMOOTHING = 0.01
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AnnotatorReliability:
    """One annotator under Dawid–Skene: expected accuracy, items, confusion (truth -> given)."""

    reliability: float
    items: int
    confusion: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class QuestionReliability:
    """Dawid–Skene's fit of one question (a stance target, a choice layer)."""

    iterations: int
    priors: Mapping[str, float]
    annotators: Mapping[str, AnnotatorReliability]

    def to_json(self) -> dict[str, Any]:
        return {
            "iterations": self.iterations,
            "priors": dict(self.priors),
            "annotators": {
                who: {
                    "reliability": a.reliability,
                    "items": a.items,
                    "confusion": {t: dict(row) for t, row in a.confusion.items()},
                }
                for who, a in self.annotators.items()
            },
        }


@dataclass(frozen=True)
class Reliabilities:
    """Dawid–Skene's fits: per stance target and per per-article choice layer."""

    targets: Mapping[str, QuestionReliability] = field(default_factory=dict)
    choices: Mapping[str, QuestionReliability] = field(default_factory=dict)


@dataclass(frozen=True)
class AggregateResult:
    """What an aggregate run wrote."""

    method: str
    articles: int = 0
    labels: int = 0  # stance labels
    unresolved_labels: int = 0
    unresolved_spans: int = 0
    spans: int = 0
    path: str = ""
    reliability_path: str | None = None
    reliability: Reliabilities = field(default_factory=Reliabilities)
    choice_labels: int = 0  # labels of the per-article choice layers
    unresolved_choice_labels: int = 0


# --- Dawid–Skene -------------------------------------------------------------------------------
# Dawid–Skene (1979): EM over per-annotator confusion matrices, for one categorical question.
#
# Start from the majority's soft labels; the M-step estimates class priors and each annotator's
# confusion matrix (with a small Dirichlet smoothing so that nothing is exactly zero); the E-step
# recomputes each item's posterior over classes. Deterministic: no random start.


@dataclass
class DSResult:
    """Posteriors per item, class priors, confusion matrices (annotator x true x given)."""

    posterior: FloatArray
    priors: FloatArray
    confusion: FloatArray
    iterations: int

    def reliability(self) -> FloatArray:
        """Each annotator's expected accuracy: sum_k prior_k * P(says k | truth k)."""
        diag = np.diagonal(self.confusion, axis1=1, axis2=2)
        result: FloatArray = diag @ self.priors
        return result


def dawid_skene(
    labels: npt.NDArray[np.int64], n_classes: int, max_iter: int = 200, tol: float = 1e-8
) -> DSResult:
    """EM on an (items x annotators) matrix of class indices, -1 where an annotator gave none."""
    n_items, n_ann = labels.shape
    onehot = np.zeros((n_ann, n_items, n_classes))
    i, j = np.nonzero(labels >= 0)
    onehot[j, i, labels[i, j]] = 1.0
    counts = onehot.sum(axis=0)
    totals = counts.sum(axis=1, keepdims=True)
    post: FloatArray = np.divide(
        counts, totals, out=np.full_like(counts, 1.0 / n_classes), where=totals > 0
    )
    priors = np.full(n_classes, 1.0 / n_classes)
    confusion = np.zeros((n_ann, n_classes, n_classes))
    it = 0
    while it < max_iter:
        it += 1
        priors = (post.sum(axis=0) + SMOOTHING) / (n_items + SMOOTHING * n_classes)
        confusion = np.einsum("ik,jil->jkl", post, onehot) + SMOOTHING
        confusion /= confusion.sum(axis=2, keepdims=True)
        log_post = np.log(priors)[None, :] + np.einsum("jil,jkl->ik", onehot, np.log(confusion))
        log_post -= log_post.max(axis=1, keepdims=True)
        new = np.exp(log_post)
        new /= new.sum(axis=1, keepdims=True)
        delta = float(np.abs(new - post).max()) if n_items else 0.0
        post = new
        if delta < tol:
            break
    return DSResult(posterior=post, priors=priors, confusion=confusion, iterations=it)


def majority_vote(votes: list[str]) -> tuple[str, dict[str, float]]:
    """Hard label by plurality ('unresolved' on a tie) and the label distribution."""
    counts = Counter(votes).most_common()
    soft = {label: round(n / len(votes), 6) for label, n in sorted(counts)}
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return UNRESOLVED, soft
    return counts[0][0], soft


def _dawid_skene_question(
    units: Units, values: tuple[str, ...], annotators: list[str]
) -> tuple[dict[str, tuple[str, dict[str, float]]], QuestionReliability]:
    """Dawid–Skene over one question's units: per article (label, shares), and the fit."""
    items = sorted(units)
    col = {who: j for j, who in enumerate(annotators)}
    idx = {v: i for i, v in enumerate(values)}
    matrix = np.full((len(items), len(annotators)), -1, dtype=np.int64)
    for i, aid in enumerate(items):
        for who, label in units[aid].items():
            matrix[i, col[who]] = idx[label]
    res = dawid_skene(matrix, len(values))
    out: dict[str, tuple[str, dict[str, float]]] = {}
    for i, aid in enumerate(items):
        p = res.posterior[i]
        order = np.argsort(-p, kind="stable")
        hard = values[order[0]]
        if len(order) > 1 and abs(p[order[0]] - p[order[1]]) < 1e-9:
            hard = UNRESOLVED
        soft = {values[k]: round(float(p[k]), 6) for k in range(len(values))}
        out[aid] = (hard, soft)
    given = (matrix >= 0).sum(axis=0)
    rel = res.reliability()
    report = QuestionReliability(
        iterations=res.iterations,
        priors={v: round(float(res.priors[k]), 6) for k, v in enumerate(values)},
        annotators={
            who: AnnotatorReliability(
                reliability=round(float(rel[j]), 6),
                items=int(given[j]),
                confusion={
                    t: {g: round(float(res.confusion[j, a, b]), 6) for b, g in enumerate(values)}
                    for a, t in enumerate(values)
                },
            )
            for j, who in enumerate(annotators)
            if given[j] > 0
        },
    )
    return out, report


def _latest(values: list[str | None]) -> str | None:
    present = [v for v in values if v]
    return max(present) if present else None


def _decide(
    votes: list[str], method: str, fitted: dict[str, tuple[str, dict[str, float]]], aid: str
) -> tuple[str, dict[str, float]]:
    return fitted[aid] if method == "dawid-skene" else majority_vote(votes)


def build_aggregates(
    labels: Labels, method: str, layers: Layers | None = None
) -> tuple[list[Annotation], Reliabilities]:
    """Aggregate records for every annotated article, and (Dawid–Skene) the reliabilities."""
    if method not in METHODS:
        raise UsageError(f"--method {method}: must be one of {', '.join(METHODS)}")
    layers = defined() if layers is None else layers
    targets = [t.id for t in labels.cfg.targets]
    ds: dict[str, dict[str, tuple[str, dict[str, float]]]] = {}
    ds_choices: dict[str, dict[str, tuple[str, dict[str, float]]]] = {}
    reliability = Reliabilities()
    if method == "dawid-skene":
        per_target, per_choice = {}, {}
        values = layers.stance.value_names
        for t in targets:
            units = labels.stance_units(t)
            ds[t], per_target[t] = _dawid_skene_question(units, values, labels.annotators)
        for c in layers.choices:
            units = labels.choice_units(c.name)
            ds_choices[c.name], per_choice[c.name] = _dawid_skene_question(
                units, c.value_names, labels.annotators
            )
        reliability = Reliabilities(targets=per_target, choices=per_choice)
    choice_units = {c.name: labels.choice_units(c.name) for c in layers.choices}
    records: list[Annotation] = []
    for aid, anns in sorted(labels.by_article().items()):
        stance: dict[str, str | None] = {}
        soft: dict[str, dict[str, float]] = {}
        n_ann: dict[str, int] = {}
        for t in targets:
            votes = [v for a in anns if (v := a.stance.get(t)) is not None]
            if not votes:
                continue
            hard, dist = _decide(votes, method, ds.get(t, {}), aid)
            stance[t], soft[t], n_ann[t] = hard, dist, len(votes)
        choices: dict[str, str] = {}
        choices_soft: dict[str, dict[str, float]] = {}
        choices_n: dict[str, int] = {}
        for name, units in choice_units.items():
            votes = list(units.get(aid, {}).values())
            if votes:
                hard, dist = _decide(votes, method, ds_choices.get(name, {}), aid)
                choices[name], choices_soft[name], choices_n[name] = hard, dist, len(votes)
        article = labels.articles.get(aid)
        if article is None:
            raise DataError(
                f"task {anns[0].task_id} (annotation {anns[0].id}): article {aid} is not in "
                f"{labels.cfg.articles_dir}; cannot cut span text"
            )
        per_annotator = {a.annotator or "(unknown)": list(a.spans) for a in anns}
        spans, unresolved = majority_spans(per_annotator, len(anns), article.text)
        task_ids = {a.task_id for a in anns}
        extra: dict[str, Any] = {
            "method": method,
            "soft": soft,
            "n_annotators": n_ann,
            "unresolved_spans": unresolved,
        }
        if choices:  # only with a per-article layer: records of today's layers are as before
            extra.update({CHOICES: choices, CHOICES_SOFT: choices_soft, CHOICES_N: choices_n})
        rec = Annotation(
            id=f"agg-{method}-{aid}",
            kind="aggregate",
            article_id=aid,
            annotator=method,
            stance=stance,
            spans=spans,
            task_id=task_ids.pop() if len(task_ids) == 1 else None,
            created_at=_latest([a.updated_at or a.created_at for a in anns]),
            updated_at=_latest([a.updated_at or a.created_at for a in anns]),
            pulled_at=max(a.pulled_at for a in anns),
            extra=extra,
        )
        records.append(rec)
    return records, reliability


@writes_corpus("aggregate")
def aggregate(cfg: Config, *, method: str = "majority") -> AggregateResult:
    """Write aggregate records (and, for Dawid–Skene, reports/annotator_reliability.json).

    Annotations of articles no longer in ``articles/`` are left out, as in ``agree``.
    """
    labels = load_labels(cfg).in_corpus()
    records, reliability = build_aggregates(labels, method)
    path = cfg.annotations_dir / f"{AGGREGATE_FILE}.jsonl"
    keep = [r for r in read_jsonl(path) if r.get("annotator") != method]
    new = []
    for rec in records:
        d = rec.to_dict()
        check_record("annotation", d, f"aggregate {rec.id}")
        new.append(d)
    rewrite_jsonl(path, sorted(keep + new, key=lambda r: str(r.get("id"))))
    choice_values = [v for rec in records for v in rec.extra.get(CHOICES, {}).values()]
    rpath = None
    if method == "dawid-skene":
        rpath = cfg.reports_dir / RELIABILITY_REPORT
        doc: dict[str, Any] = {
            "method": method,
            "targets": {t: q.to_json() for t, q in reliability.targets.items()},
        }
        if reliability.choices:
            doc["choices"] = {c: q.to_json() for c, q in reliability.choices.items()}
        atomic_write_text(rpath, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    return AggregateResult(
        method=method,
        articles=len(records),
        labels=sum(len(rec.stance) for rec in records),
        unresolved_labels=sum(1 for rec in records for v in rec.stance.values() if v == UNRESOLVED),
        unresolved_spans=sum(int(rec.extra["unresolved_spans"]) for rec in records),
        spans=sum(len(rec.spans) for rec in records),
        path=str(path),
        reliability_path=str(rpath) if rpath is not None else None,
        reliability=reliability,
        choice_labels=len(choice_values),
        unresolved_choice_labels=sum(1 for v in choice_values if v == UNRESOLVED),
    )
