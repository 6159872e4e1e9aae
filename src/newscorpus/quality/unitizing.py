"""Krippendorff's unitizing alpha (alpha_u) of one category over a continuum, any number of annotators.

The coefficient of Krippendorff (1995, "On the reliability of unitizing continuous data",
Sociological Methodology 25: 47-76) in the form of his Content Analysis (2nd ed., 2004,
pp. 251-256), per category, as DKPro Statistics' ``KrippendorffAlphaUnitizingAgreement``
computes it (``calculateCategoryAgreement``; INCEpTION reports that class). It is pinned in
tests/test_unitizing.py to the book's worked example (p. 254: c 0.7286, k 1.0) and to DKPro's
own tests of the 1995 example.

A continuum of ``length`` positions [0, length); each annotator marks units [start, end) of the
category; the rest of the continuum, for that annotator, is gaps. With m annotators, the units
of all of them (N), l a unit's length and L the continuum's length:

    D_o = sum over ordered pairs of annotators (i, j), i != j, of the squared distances between
          each section (unit or gap) of i and each overlapping section of j, / (m (m - 1) L^2)
    D_e = (2 / L) sum over units u [ (N - 1) l (l - 1) (2 l - 1) / 3
                                     + l^2 sum over all gaps g of length >= l of (g - l + 1) ]
          / (m L (m L - 1) - sum over units of l (l - 1))
    alpha_u = 1 - D_o / D_e

The distance of two units is (b_i - b_j)^2 + (e_i - e_j)^2 (begin and end offsets), of a unit
and a gap that contains it the unit's length squared, 0 otherwise. Sums are kept in exact
integers (``fractions``), so alpha_u does not depend on the order of the units.

Units of one annotator may not overlap (Krippendorff's and DKPro's premise): :func:`continuum`
refuses them by default, or merges them into their union (``overlapping="merge"``); units that
only touch stay two units. alpha_u is undefined (None) with fewer than two annotators or when
D_e is 0 (no unit at all).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations
from typing import Literal

from ..errors import DataError

Overlapping = Literal["refuse", "merge"]
Interval = tuple[int, int]  # [start, end)


@dataclass(frozen=True)
class Continuum:
    """One category's units by annotator over [0, length): each annotator's sorted, disjoint."""

    length: int
    units: Mapping[str, tuple[Interval, ...]]


@dataclass(frozen=True)
class Document:
    """One document of a continuum made of several: its length and its units by annotator."""

    name: str
    length: int
    units: Mapping[str, Sequence[Interval]]


@dataclass(frozen=True)
class UnitizingAlpha:
    """alpha_u of one category, with its observed and expected disagreement."""

    alpha: float | None  # None: undefined (fewer than two annotators, or D_e = 0)
    observed: float | None  # D_o (None with fewer than two annotators or an empty continuum)
    expected: float | None  # D_e (likewise)
    units: int  # N: the units of every annotator
    annotators: int
    length: int


def _whole(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"unitizing: {what} {value!r} is not a whole number")
    return value


def continuum(
    length: int,
    units: Mapping[str, Iterable[Interval]],
    *,
    overlapping: Overlapping = "refuse",
    where: str = "",
) -> Continuum:
    """A checked :class:`Continuum`: offsets whole numbers, 0 <= start < end <= length.

    ``units`` maps every annotator (one without units too: an annotator who marked nothing) to
    their (start, end) units of the category. Overlapping units of one annotator are refused
    (DataError) or, with ``overlapping="merge"``, replaced by their union.
    """
    at = f"{where}: " if where else ""
    size = _whole(length, f"{at}continuum length")
    if size < 0:
        raise DataError(f"unitizing: {at}continuum length {size} is negative")
    out: dict[str, tuple[Interval, ...]] = {}
    for who, marked in units.items():
        checked: list[Interval] = []
        for unit in marked:
            start = _whole(unit[0], f"{at}annotator {who!r}: unit start")
            end = _whole(unit[1], f"{at}annotator {who!r}: unit end")
            if not 0 <= start < end <= size:
                raise DataError(
                    f"unitizing: {at}annotator {who!r}: unit {start}..{end} is empty or outside "
                    f"the continuum 0..{size}"
                )
            checked.append((start, end))
        checked.sort()
        kept: list[Interval] = []
        for start, end in checked:
            if kept and start < kept[-1][1]:
                if overlapping == "refuse":
                    raise DataError(
                        f"unitizing: {at}annotator {who!r}: unit {start}..{end} overlaps unit "
                        f"{kept[-1][0]}..{kept[-1][1]} (units of one annotator may not overlap)"
                    )
                kept[-1] = (kept[-1][0], max(kept[-1][1], end))
            else:
                kept.append((start, end))
        out[who] = tuple(kept)
    return Continuum(length=size, units=out)


def concatenate(documents: Iterable[Document], *, overlapping: Overlapping = "refuse") -> Continuum:
    """One continuum of several documents laid end to end (each unit shifted by the lengths of
    the documents before it), annotated by the same annotators (each document must name them all;
    an annotator with no unit in a document maps to an empty list)."""
    total = 0
    who: set[str] | None = None
    shifted: dict[str, list[Interval]] = {}
    for doc in documents:
        part = continuum(
            doc.length, doc.units, overlapping=overlapping, where=f"document {doc.name!r}"
        )
        if who is None:
            who = set(part.units)
            shifted = {a: [] for a in sorted(who)}
        elif set(part.units) != who:
            raise DataError(
                f"unitizing: document {doc.name!r}: annotators {', '.join(sorted(part.units))} "
                f"differ from the first document's ({', '.join(sorted(who))})"
            )
        for a, marked in part.units.items():
            shifted[a].extend((s + total, e + total) for s, e in marked)
        total += part.length
    return Continuum(length=total, units={a: tuple(u) for a, u in shifted.items()})


def _sections(length: int, units: Sequence[Interval]) -> list[tuple[int, int, bool]]:
    """The annotator's units and the gaps between them, covering [0, length) in order."""
    out: list[tuple[int, int, bool]] = []
    pos = 0
    for start, end in units:
        if start > pos:
            out.append((pos, start, False))
        out.append((start, end, True))
        pos = end
    if pos < length:
        out.append((pos, length, False))
    return out


def _distance(a: tuple[int, int, bool], b: tuple[int, int, bool]) -> int:
    """Squared distance of two overlapping sections of two annotators."""
    (sa, ea, ua), (sb, eb, ub) = a, b
    if ua and ub:
        return (sa - sb) ** 2 + (ea - eb) ** 2
    if ua and sb <= sa and ea <= eb:  # a unit inside the other's gap
        return (ea - sa) ** 2
    if ub and sa <= sb and eb <= ea:
        return (eb - sb) ** 2
    return 0


def _pair_disagreement(a: list[tuple[int, int, bool]], b: list[tuple[int, int, bool]]) -> int:
    """Sum of the distances of every overlapping pair of sections (a's, b's)."""
    total = i = j = 0
    while i < len(a) and j < len(b):
        total += _distance(a[i], b[j])
        ea, eb = a[i][1], b[j][1]
        i += ea <= eb
        j += eb <= ea
    return total


def alpha_u(data: Continuum) -> UnitizingAlpha:
    """Krippendorff's alpha_u of one category (see the module's docstring for the formula)."""
    m, big_l = len(data.units), data.length
    lengths = [e - s for marked in data.units.values() for s, e in marked]
    n = len(lengths)
    if m < 2 or big_l == 0:
        return UnitizingAlpha(None, None, None, n, m, big_l)
    sections = {who: _sections(big_l, marked) for who, marked in data.units.items()}
    observed = 2 * sum(
        _pair_disagreement(sections[a], sections[b]) for a, b in combinations(sorted(sections), 2)
    )
    gaps = sorted(e - s for secs in sections.values() for s, e, unit in secs if not unit)
    suffix = [0] * (len(gaps) + 1)  # suffix[k] = sum of gaps[k:]
    for k in range(len(gaps) - 1, -1, -1):
        suffix[k] = suffix[k + 1] + gaps[k]
    expected = 0
    for length in lengths:
        k = bisect.bisect_left(gaps, length)  # gaps[k:] are the gaps at least this long
        within = suffix[k] - (length - 1) * (len(gaps) - k)
        expected += (n - 1) * length * (length - 1) * (2 * length - 1) // 3 + length**2 * within
    d_o = Fraction(observed, m * (m - 1) * big_l**2)
    denominator = big_l * (m * big_l * (m * big_l - 1) - sum(x * (x - 1) for x in lengths))
    d_e = Fraction(2 * expected, denominator)
    alpha = None if d_e == 0 else float(1 - d_o / d_e)
    return UnitizingAlpha(alpha, float(d_o), float(d_e), n, m, big_l)


__all__ = [
    "Continuum",
    "Document",
    "UnitizingAlpha",
    "alpha_u",
    "concatenate",
    "continuum",
]
