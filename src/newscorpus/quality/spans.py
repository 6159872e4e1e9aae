"""Span agreement (exact and overlap F1 per label, per pair of annotators) and majority spans.

For a pair (a, b) over the tasks both annotated: P = share of a's spans that match one of b's
(in the same task), R = share of b's spans that match one of a's, F1 = 2PR/(P+R); F1 is 0 when
one side has no spans of the label. A pair where neither side has a span of the label says
nothing about that label and is left out of its mean (counted in ``pairs_without_spans``).

Beside F1, Krippendorff's unitizing alpha (``alpha_u``, unitizing.py) of each such pair: the
texts of the tasks both annotated laid end to end as one continuum (spans of the label are the
units, the rest gaps; an annotator's overlapping spans of the label are merged into their union),
averaged over the pairs where it is defined. It needs the articles' text lengths.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from ..errors import DataError
from ..layers import defined
from ..records import Annotation
from .unitizing import Document, alpha_u, concatenate

# A span as stored: id, start, end, label, text, speaker, and each of the span layer's attributes
# (layers.SpanLayer.attribute_names) as a key of its own.
Span = dict[str, Any]


def spans_match(a: Span, b: Span, mode: str) -> bool:
    """Same label and same offsets ('exact'), or same label and a character in common ('overlap')."""
    if a["label"] != b["label"]:
        return False
    if mode == "exact":
        return bool(a["start"] == b["start"] and a["end"] == b["end"])
    return bool(max(a["start"], b["start"]) < min(a["end"], b["end"]))


def _matched(ours: Sequence[Span], theirs: Sequence[Span], mode: str) -> int:
    return sum(1 for s in ours if any(spans_match(s, t, mode) for t in theirs))


def pair_f1(
    a_tasks: dict[str, list[Span]], b_tasks: dict[str, list[Span]], label: str, mode: str
) -> float | None:
    """F1 of two annotators' spans of one label over the tasks both annotated; None if neither has any."""
    shared = sorted(set(a_tasks) & set(b_tasks))
    n_a = n_b = hit_a = hit_b = 0
    for task in shared:
        sa = [s for s in a_tasks[task] if s["label"] == label]
        sb = [s for s in b_tasks[task] if s["label"] == label]
        n_a, n_b = n_a + len(sa), n_b + len(sb)
        hit_a += _matched(sa, sb, mode)
        hit_b += _matched(sb, sa, mode)
    if n_a == 0 and n_b == 0:
        return None
    if n_a == 0 or n_b == 0:
        return 0.0
    p, r = hit_a / n_a, hit_b / n_b
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def pair_alpha_u(
    a_tasks: dict[str, list[Span]],
    b_tasks: dict[str, list[Span]],
    label: str,
    lengths: Mapping[str, int],
) -> float | None:
    """Unitizing alpha of two annotators' spans of one label over the tasks both annotated, laid
    end to end (text lengths by article id); None when undefined (no span of the label)."""
    docs: list[Document] = []
    for task in sorted(set(a_tasks) & set(b_tasks)):
        if task not in lengths:
            raise DataError(f"article {task!r}: its text length is unknown (needed for alpha_u)")
        units = {
            who: [(s["start"], s["end"]) for s in spans if s["label"] == label]
            for who, spans in (("a", a_tasks[task]), ("b", b_tasks[task]))
        }
        docs.append(Document(task, lengths[task], units))
    return alpha_u(concatenate(docs, overlapping="merge")).alpha


@dataclass(frozen=True)
class SpanAgreement:
    """Mean F1 of one span label over the annotator pairs sharing a task, and mean alpha_u."""

    f1_exact: float | None
    f1_overlap: float | None
    pairs: int
    pairs_without_spans: int  # pairs where neither side has a span of the label: left out
    alpha_u: float | None = None  # mean over the pairs where it is defined (None: no text lengths)


def span_agreement(
    annotations: Iterable[Annotation],
    labels: Sequence[str] | None = None,
    lengths: Mapping[str, int] | None = None,
) -> dict[str, SpanAgreement]:
    """Per span label (the span layer's, by default): mean exact and overlap F1 over the
    annotator pairs sharing a task, and mean alpha_u when the articles' text ``lengths`` are given."""
    tasks: dict[str, dict[str, list[Span]]] = defaultdict(dict)
    for ann in annotations:
        tasks[ann.annotator or "(unknown)"][ann.article_id] = list(ann.spans)
    pairs = [(a, b) for a, b in combinations(sorted(tasks), 2) if set(tasks[a]) & set(tasks[b])]
    out: dict[str, SpanAgreement] = {}
    for label in defined().spans.label_names if labels is None else labels:
        exact: list[float] = []
        overlap: list[float] = []
        unitizing: list[float] = []
        for a, b in pairs:
            fe = pair_f1(tasks[a], tasks[b], label, "exact")
            fo = pair_f1(tasks[a], tasks[b], label, "overlap")
            if fe is not None and fo is not None:
                exact.append(fe)
                overlap.append(fo)
                au = None if lengths is None else pair_alpha_u(tasks[a], tasks[b], label, lengths)
                if au is not None:
                    unitizing.append(au)
        out[label] = SpanAgreement(
            f1_exact=statistics.fmean(exact) if exact else None,
            f1_overlap=statistics.fmean(overlap) if overlap else None,
            pairs=len(exact),
            pairs_without_spans=len(pairs) - len(exact),
            alpha_u=statistics.fmean(unitizing) if unitizing else None,
        )
    return out


# --- majority spans ----------------------------------------------------------------------------


@dataclass
class SpanCluster:
    """Spans of one label, from several annotators, linked by overlap."""

    label: str
    members: list[tuple[str, Span]]  # (annotator, span)

    @property
    def annotators(self) -> set[str]:
        return {who for who, _ in self.members}

    def boundaries(self) -> tuple[int, int]:
        """The majority's boundaries: median start and end over the annotators' extents."""
        extent: dict[str, tuple[int, int]] = {}
        for who, s in self.members:
            lo, hi = extent.get(who, (s["start"], s["end"]))
            extent[who] = (min(lo, s["start"]), max(hi, s["end"]))
        starts = sorted(e[0] for e in extent.values())
        ends = sorted(e[1] for e in extent.values())
        start, end = int(statistics.median_low(starts)), int(statistics.median_high(ends))
        if end <= start:  # disjoint extents chained together: fall back to the most common pair
            start, end = Counter(extent.values()).most_common(1)[0][0]
        return start, end


def cluster_spans(per_annotator: dict[str, list[Span]]) -> list[SpanCluster]:
    """Connected groups of same-label spans that overlap, across annotators, in text order."""
    items = [
        (who, s)
        for who in sorted(per_annotator)
        for s in sorted(per_annotator[who], key=lambda x: (x["start"], x["end"]))
    ]
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in combinations(range(len(items)), 2):
        if spans_match(items[i][1], items[j][1], "overlap"):
            parent[find(i)] = find(j)
    groups: dict[int, list[tuple[str, Span]]] = defaultdict(list)
    for i, item in enumerate(items):
        groups[find(i)].append(item)
    clusters = [SpanCluster(m[0][1]["label"], m) for m in groups.values()]
    clusters.sort(key=lambda c: (min(s["start"] for _, s in c.members), c.label))
    return clusters


def vote(values: Iterable[Any]) -> Any:
    """The most common non-null value, or None on a tie or when there is none."""
    counts = Counter(v for v in values if v is not None).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def majority_spans(
    per_annotator: dict[str, list[Span]], n_annotators: int, text: str
) -> tuple[list[Span], int]:
    """Spans that a strict majority of the article's annotators marked (overlap), and the rest.

    Returns (aggregate spans with the majority's boundaries and attributes, number of clusters
    without a majority). Span text is cut from the article text so that it always matches.
    """
    clusters = cluster_spans(per_annotator)
    kept: list[tuple[SpanCluster, Span]] = []
    unresolved = 0
    new_id: dict[str, str] = {}
    for cluster in clusters:
        if len(cluster.annotators) * 2 <= n_annotators:
            unresolved += 1
            continue
        start, end = cluster.boundaries()
        sid = f"agg-{cluster.label.lower()}-{start}-{end}"
        for who, s in cluster.members:
            new_id[f"{who}\x00{s['id']}"] = sid
        kept.append(
            (
                cluster,
                {
                    "id": sid,
                    "start": start,
                    "end": end,
                    "label": cluster.label,
                    "text": text[start:end],
                    "n_annotators": len(cluster.annotators),
                },
            )
        )
    layer = defined().spans
    link = layer.relation.field
    out: list[Span] = []
    for cluster, span in kept:
        for attr in layer.attribute_names:
            span[attr] = vote(s.get(attr) for _, s in cluster.members)
        span[link] = vote(
            new_id.get(f"{who}\x00{s[link]}") if s.get(link) else None for who, s in cluster.members
        )
        out.append(span)
    return out, unresolved
