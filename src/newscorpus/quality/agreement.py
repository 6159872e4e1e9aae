"""`newscorpus agree`: alpha with a bootstrap CI, pairwise kappa and span F1, per layer.

Krippendorff's alpha (nominal) for every choice question of the layers (stance per target, each
per-article choice layer), span F1 and unitizing alpha per span label, and each annotator's agreement with the
majority of the others on stance. The result is an :class:`AgreeResult` (agreement_result.py,
which reports.py renders); ``to_json()`` is the `agree --json` shape (and reports/agreement.json).
"""

from __future__ import annotations

import math
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from itertools import combinations

import numpy as np

from ..config import Config
from ..errors import UsageError
from ..layers import ChoiceLayer, Layers, defined
from ..records import Annotation
from ..wording import plural
from .agreement_result import AgreeResult as AgreeResult  # callers import it from here
from .agreement_result import (
    AnnotatorAgreement,
    Bootstrap,
    ByGroups,
    ChoiceAgreement,
    Coincidences,
    Kappa,
    Orphans,
    Section,
)
from .labels import Labels, Units, load_labels
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


def stance_counts(
    units: Units, values: tuple[str, ...] | None = None
) -> tuple[np.ndarray, list[str]]:
    """(pairable articles x values) counts, and the article ids in row order (values: stance's)."""
    values = defined().stance.value_names if values is None else values
    ids = sorted(a for a, labels in units.items() if len(labels) >= 2)
    index = {v: i for i, v in enumerate(values)}
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
    units: Units,
    resamples: int = BOOTSTRAP_RESAMPLES,
    values: tuple[str, ...] | None = None,
) -> ChoiceAgreement:
    """Alpha (nominal), its 95% bootstrap CI over articles, units, annotators and pairwise kappa."""
    values = defined().stance.value_names if values is None else values
    counts, ids = stance_counts(units, values)
    single = sum(1 for labels in units.values() if len(labels) == 1)
    annotators = sorted({who for aid in ids for who in units[aid]})
    codes = np.arange(len(values), dtype=np.float64)
    kappa: list[Kappa] = []
    alpha: float | None = None
    ci95: tuple[float, float] | None = None
    co: Coincidences | None = None
    if ids:
        o = coincidences(counts)
        alpha = _num(alpha_from_coincidences(o, codes, "nominal"))
        co = Coincidences(
            labels=tuple(values),
            matrix=tuple(tuple(round(float(x), 6) for x in row) for row in o),
        )
        if alpha is not None:
            ci95 = confidence_interval(
                bootstrap_alpha(counts, codes, "nominal", resamples, BOOTSTRAP_SEED)
            )
        for a, b in combinations(annotators, 2):
            shared = [aid for aid in ids if a in units[aid] and b in units[aid]]
            if shared:
                k = cohen_kappa([units[x][a] for x in shared], [units[x][b] for x in shared])
                kappa.append(Kappa(a=a, b=b, n=len(shared), kappa=k))
    return ChoiceAgreement(
        alpha=alpha,
        ci95=ci95 or None,
        units=len(ids),
        annotators=len(annotators),
        single_annotation_units=single,
        kappa=tuple(kappa),
        coincidences=co,
    )


def annotator_agreement(labels: Labels) -> dict[str, AnnotatorAgreement]:
    """Per annotator: items annotated, and how often they agree with the majority of the others."""
    out: dict[str, AnnotatorAgreement] = {}
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
        out[who] = AnnotatorAgreement(
            items=items[who],
            agreement_with_majority=agree[who] / compared[who] if compared[who] else None,
            compared=compared[who],
        )
    return out


def _choice_agreement(labels: Labels, layer: ChoiceLayer, resamples: int) -> ChoiceAgreement:
    return target_agreement(labels.choice_units(layer.name), resamples, layer.value_names)


def _section(labels: Labels, resamples: int, layers: Layers) -> Section:
    values = layers.stance.value_names
    return Section(
        stance={
            t.id: target_agreement(labels.stance_units(t.id), resamples, values)
            for t in labels.cfg.targets
        },
        spans=span_agreement(
            labels.annotations,
            layers.spans.label_names,
            {aid: len(art.text) for aid, art in labels.articles.items()},
        ),
        annotators=annotator_agreement(labels),
        choices={c.name: _choice_agreement(labels, c, resamples) for c in layers.choices},
    )


def _distribution(labels: Labels, units: Units) -> dict[str, dict[str, int]]:
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for aid, votes in units.items():
        for label in votes.values():
            per[labels.group_of(aid, "language")][label] += 1
    return {lang: dict(c) for lang, c in sorted(per.items())}


def label_distribution(labels: Labels) -> dict[str, dict[str, dict[str, int]]]:
    """Target -> language -> stance label -> count, over current human labels."""
    return {t.id: _distribution(labels, labels.stance_units(t.id)) for t in labels.cfg.targets}


def compute_agreement(
    labels: Labels, by: str | None = None, resamples: int = BOOTSTRAP_RESAMPLES
) -> AgreeResult:
    """The whole agreement result (the `agree --json` shape, plus a few more keys).

    Annotations of articles that are not in the corpus (``orphans``) are left out of every
    number and counted in ``result.orphans``.
    """
    if by is not None and by not in BY_FIELDS:
        raise UsageError(f"--by {by}: must be one of {', '.join(BY_FIELDS)}")
    layers = defined()
    orphans = labels.orphans()
    if orphans:
        labels = labels.in_corpus()
    groups: dict[str, set[str]] = defaultdict(set)
    if by is not None:
        for ann in labels.annotations:
            groups[labels.group_of(ann.article_id, by)].add(ann.article_id)
    return AgreeResult(
        overall=_section(labels, resamples, layers),
        corpus=labels.cfg.corpus.name,
        annotations=len(labels.annotations),
        bootstrap=Bootstrap(resamples=resamples, seed=BOOTSTRAP_SEED, unit="article"),
        label_distribution=label_distribution(labels),
        choice_distribution={
            c.name: _distribution(labels, labels.choice_units(c.name)) for c in layers.choices
        },
        orphans=Orphans(annotations=len(orphans), articles=len({a.article_id for a in orphans})),
        by=None
        if by is None
        else ByGroups(
            field=by,
            groups={
                g: _section(labels.subset(ids), resamples, layers)
                for g, ids in sorted(groups.items())
            },
        ),
    )


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


def agree(cfg: Config, *, by: str | None = None, write_report: bool = True) -> AgreeResult:
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

        result = replace(result, report=str(write_agreement_report(cfg, result)))
    return result
