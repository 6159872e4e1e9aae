"""`newscorpus agree`: stance alpha with a bootstrap CI, pairwise kappa, span F1, per annotator."""

from __future__ import annotations

import math
import sys
from collections import Counter, defaultdict
from itertools import combinations
from typing import Any

import numpy as np

from ..config import STANCE_VALUES, Config
from ..errors import UsageError
from ..records import Annotation
from ..wording import plural
from .labels import Labels, load_labels
from .reliability import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    alpha_from_coincidences,
    bootstrap_alpha,
    cohen_kappa,
    coincidences,
    confidence_interval,
    value_counts,
)
from .spans import span_agreement

BY_FIELDS = ("language", "source")
FIRST_ORPHANS = 3  # article ids named in the warning about annotations of missing articles


def _num(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def stance_counts(units: dict[str, dict[str, str]]) -> tuple[np.ndarray, list[str]]:
    """(pairable articles x stance values) counts, and the article ids in row order."""
    ids = sorted(a for a, labels in units.items() if len(labels) >= 2)
    index = {v: i for i, v in enumerate(STANCE_VALUES)}
    unit: list[int] = []
    code: list[int] = []
    for row, aid in enumerate(ids):
        for label in units[aid].values():
            unit.append(row)
            code.append(index[label])
    counts = value_counts(
        np.asarray(unit, dtype=np.int64), np.asarray(code, dtype=np.int64), len(ids), len(index)
    )
    return counts, ids


def target_agreement(
    units: dict[str, dict[str, str]], resamples: int = BOOTSTRAP_RESAMPLES
) -> dict[str, Any]:
    """Alpha (nominal), its 95% bootstrap CI over articles, units, annotators and pairwise kappa."""
    counts, ids = stance_counts(units)
    single = sum(1 for labels in units.values() if len(labels) == 1)
    annotators = sorted({who for aid in ids for who in units[aid]})
    values = np.arange(len(STANCE_VALUES), dtype=np.float64)
    result: dict[str, Any] = {
        "alpha": None,
        "ci95": None,
        "units": len(ids),
        "annotators": len(annotators),
        "single_annotation_units": single,
        "kappa": [],
        "coincidences": None,
    }
    if not ids:
        return result
    o = coincidences(counts)
    result["alpha"] = _num(alpha_from_coincidences(o, values, "nominal"))
    result["coincidences"] = {
        "labels": list(STANCE_VALUES),
        "matrix": [[round(float(x), 6) for x in row] for row in o],
    }
    if result["alpha"] is not None:
        ci = confidence_interval(
            bootstrap_alpha(counts, values, "nominal", resamples, BOOTSTRAP_SEED)
        )
        result["ci95"] = list(ci) if ci else None
    for a, b in combinations(annotators, 2):
        shared = [aid for aid in ids if a in units[aid] and b in units[aid]]
        if shared:
            k = cohen_kappa([units[x][a] for x in shared], [units[x][b] for x in shared])
            result["kappa"].append({"a": a, "b": b, "n": len(shared), "kappa": k})
    return result


def annotator_agreement(labels: Labels) -> dict[str, dict[str, Any]]:
    """Per annotator: items annotated, and how often they agree with the majority of the others."""
    out: dict[str, dict[str, Any]] = {}
    items: Counter[str] = Counter(a.annotator or "(unknown)" for a in labels.annotations)
    agree: Counter[str] = Counter()
    compared: Counter[str] = Counter()
    for target in labels.cfg.targets:
        for votes in labels.stance_units(target.id).values():
            for who, label in votes.items():
                others = Counter(v for w, v in votes.items() if w != who).most_common()
                if not others or (len(others) > 1 and others[0][1] == others[1][1]):
                    continue  # nobody else, or the others are tied: no majority to agree with
                compared[who] += 1
                agree[who] += int(label == others[0][0])
    for who in sorted(items):
        out[who] = {
            "items": items[who],
            "agreement_with_majority": agree[who] / compared[who] if compared[who] else None,
            "compared": compared[who],
        }
    return out


def _section(labels: Labels, resamples: int) -> dict[str, Any]:
    return {
        "stance": {
            t.id: target_agreement(labels.stance_units(t.id), resamples) for t in labels.cfg.targets
        },
        "spans": span_agreement(labels.annotations),
        "annotators": annotator_agreement(labels),
    }


def label_distribution(labels: Labels) -> dict[str, dict[str, dict[str, int]]]:
    """Target -> language -> stance label -> count, over current human labels."""
    dist: dict[str, dict[str, dict[str, int]]] = {}
    for target in labels.cfg.targets:
        per: dict[str, Counter[str]] = defaultdict(Counter)
        for aid, votes in labels.stance_units(target.id).items():
            for label in votes.values():
                per[labels.group_of(aid, "language")][label] += 1
        dist[target.id] = {lang: dict(c) for lang, c in sorted(per.items())}
    return dist


def compute_agreement(
    labels: Labels, by: str | None = None, resamples: int = BOOTSTRAP_RESAMPLES
) -> dict[str, Any]:
    """The whole agreement result (the `agree --json` shape, plus a few more keys).

    Annotations of articles that are not in the corpus (``orphans``) are left out of every
    number and counted in ``result["orphans"]``.
    """
    if by is not None and by not in BY_FIELDS:
        raise UsageError(f"--by {by}: must be one of {', '.join(BY_FIELDS)}")
    orphans = labels.orphans()
    if orphans:
        labels = labels.in_corpus()
    result = _section(labels, resamples)
    result["corpus"] = labels.cfg.corpus.name
    result["annotations"] = len(labels.annotations)
    result["bootstrap"] = {"resamples": resamples, "seed": BOOTSTRAP_SEED, "unit": "article"}
    result["label_distribution"] = label_distribution(labels)
    result["orphans"] = {
        "annotations": len(orphans),
        "articles": len({a.article_id for a in orphans}),
    }
    if by is not None:
        groups: dict[str, set[str]] = defaultdict(set)
        for ann in labels.annotations:
            groups[labels.group_of(ann.article_id, by)].add(ann.article_id)
        result["by"] = {
            "field": by,
            "groups": {
                g: _section(labels.subset(ids), resamples) for g, ids in sorted(groups.items())
            },
        }
    return result


def orphan_warning(cfg: Config, orphans: list[Annotation]) -> str | None:
    """One line on the annotations left out because their article is not in the corpus."""
    if not orphans:
        return None
    ids = sorted({a.article_id for a in orphans})
    first = ", ".join(repr(i) for i in ids[:FIRST_ORPHANS]) + (
        ", ..." if len(ids) > FIRST_ORPHANS else ""
    )
    return (
        f"warning: {plural(len(orphans), 'annotation')} of {plural(len(ids), 'article')} "
        f"not in {cfg.articles_dir} left out of the agreement (first: {first}); "
        "`newscorpus validate` lists them"
    )


def agree(cfg: Config, by: str | None = None, write_report: bool = True) -> dict[str, Any]:
    """Compute agreement over the current labels; write reports/agreement.md and plots if asked.

    Annotations of articles missing from ``articles/`` are left out, counted in ``orphans`` and
    reported by a warning line on stderr (stdout stays pure JSON with ``--json``).
    """
    labels = load_labels(cfg)
    result = compute_agreement(labels, by)
    warning = orphan_warning(cfg, labels.orphans())
    if warning is not None:
        sys.stderr.write(warning + "\n")
        sys.stderr.flush()
    if write_report:
        from .reports import write_agreement_report

        result["report"] = str(write_agreement_report(cfg, result))
    return result
