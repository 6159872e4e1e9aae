"""Krippendorff's unitizing alpha, pinned to the published worked examples.

- Krippendorff, K. (2004). Content Analysis: An Introduction to Its Methodology, 2nd ed., p. 254:
  two observers, a continuum from 150 to 450, categories c and k. Published: uD_o(c) = .0144,
  uD_e(c) = .0532, u-alpha(c) = .7286; uD_o(k) = 0, uD_e(k) = .0490, u-alpha(k) = 1. The data
  and the values are those of DKPro Statistics' Krippendorff2004Test (dkpro-statistics-agreement,
  org.dkpro.statistics.agreement.unitizing), which tests its KrippendorffAlphaUnitizingAgreement.
- Krippendorff, K. (1995). On the reliability of unitizing continuous data. Sociological
  Methodology 25: 47-76, p. 57: four pairs of observers (A-D) on a continuum of 24. DKPro's
  Krippendorff1995Test pins D_o to 5 digits and alpha only within 0.02 of the paper's (the
  paper's D_e has a small error, DKPro notes), on the data stretched 50,000 times (the paper
  treats the continuum as continuous).
- DKPro's UnitizingAgreementTest: its own small example (-0.7003) and a lone unit among three
  annotators (0.0).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from itertools import permutations
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config
from newscorpus.corpus import add_articles
from newscorpus.errors import DataError
from newscorpus.quality.unitizing import Document, alpha_u, concatenate, continuum
from newscorpus.records import Article
from tests.conftest import make_article
from tests.quality.helpers import ann, make_corpus, span, store


def _from_150(units: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(offset, length) on Krippendorff's continuum 150..450 -> [start, end) on 0..300."""
    return [(o - 150, o - 150 + n) for o, n in units]


K2004_C = {
    "i": _from_150([(225, 70), (370, 30)]),
    "j": _from_150([(220, 80), (355, 20), (400, 20)]),
}
K2004_K = {"i": _from_150([(180, 60), (300, 50)]), "j": _from_150([(180, 60), (300, 50)])}


def test_krippendorff_2004_worked_example_to_the_published_digits() -> None:
    c = alpha_u(continuum(300, K2004_C))
    assert (round(c.observed or 0, 4), round(c.expected or 0, 4)) == (0.0144, 0.0532)
    assert c.alpha is not None and round(c.alpha, 4) == 0.7286
    k = alpha_u(continuum(300, K2004_K))
    assert (k.observed, round(k.expected or 0, 4), k.alpha) == (0.0, 0.0490, 1.0)
    assert (c.units, c.annotators, c.length) == (5, 2, 300)


# Krippendorff (1995: 57), as DKPro's Krippendorff1995Test writes it: (offset, length) per observer.
K1995 = {
    "A": ([(2, 8), (14, 6)], [(4, 4), (15, 2)]),
    "B": ([(0, 18)], [(0, 2), (2, 1), (3, 1), (4, 1), (5, 1), (6, 3), (9, 1)]),
    "C": ([(2, 6), (10, 2), (14, 4), (20, 2)], [(0, 2), (4, 4), (10, 4), (16, 2), (20, 2)]),
    "D": ([(0, 2), (2, 8), (10, 4), (14, 6), (20, 4)], [(0, 4), (4, 4), (8, 7), (15, 2), (17, 7)]),
}
K1995_OBSERVED = {"A": 0.03125, "B": 2.26736, "C": 0.02777, "D": 0.38715}
K1995_ALPHA = {"A": 0.553, "B": -0.926, "C": 0.679, "D": 0.066}


def _k1995(category: str, stretch: float) -> tuple[int, dict[str, list[tuple[int, int]]]]:
    def at(x: float) -> int:
        return int(x * stretch)

    units = {
        who: [(at(o), at(o) + at(n)) for o, n in marked]
        for who, marked in zip(("first", "second"), K1995[category], strict=True)
    }
    return at(24), units


@pytest.mark.parametrize("category", sorted(K1995))
def test_krippendorff_1995_example_as_dkpro_pins_it(category: str) -> None:
    result = alpha_u(continuum(*_k1995(category, 1)))
    assert result.observed == pytest.approx(K1995_OBSERVED[category], abs=1e-5)
    stretched = alpha_u(continuum(*_k1995(category, 1_200_000 / 24)))
    assert stretched.observed == pytest.approx(K1995_OBSERVED[category], abs=1e-5)
    assert stretched.alpha == pytest.approx(K1995_ALPHA[category], abs=0.02)


def test_dkpro_expected_disagreement_of_the_1995_example_halved() -> None:
    result = alpha_u(continuum(*_k1995("C", 12 / 24)))
    assert result.observed == pytest.approx(0.02777, abs=1e-5)
    assert result.expected == pytest.approx(0.05494, abs=1e-5)


def test_dkpro_own_examples() -> None:
    # r0: -11111111-   r1: --1-1-1---
    result = alpha_u(continuum(10, {"r0": [(1, 9)], "r1": [(2, 3), (4, 5), (6, 7)]}))
    assert result.observed == pytest.approx(0.9100, abs=1e-4)
    assert result.expected == pytest.approx(0.5351, abs=1e-4)
    assert result.alpha == pytest.approx(-0.7003, abs=1e-4)
    lone = alpha_u(continuum(20, {"a": [(0, 1)], "b": [], "c": []}))
    assert lone.alpha == 0.0  # D_o = D_e = 1/600, exactly


def test_perfect_agreement_is_one() -> None:
    units = [(3, 9), (20, 21), (30, 48)]
    assert alpha_u(continuum(50, {"a": units, "b": units, "c": units})).alpha == 1.0
    whole = alpha_u(continuum(40, {"a": [(0, 40)], "b": [(0, 40)]}))
    assert whole.alpha == 1.0


def test_undefined_without_units_or_without_a_second_annotator() -> None:
    none = alpha_u(continuum(100, {"a": [], "b": []}))
    assert (none.alpha, none.observed, none.expected, none.units) == (None, 0.0, 0.0, 0)
    single = alpha_u(continuum(100, {"a": [(0, 10)]}))
    assert (single.alpha, single.observed, single.annotators) == (None, None, 1)
    empty = alpha_u(continuum(0, {"a": [], "b": []}))
    assert (empty.alpha, empty.length) == (None, 0)
    # one position, both mark it: D_o = D_e = 0, undefined
    assert alpha_u(continuum(1, {"a": [(0, 1)], "b": [(0, 1)]})).alpha is None


@pytest.mark.parametrize(
    ("unit", "message"),
    [
        ((5, 5), "unit 5..5 is empty or outside the continuum 0..10"),
        ((6, 4), "unit 6..4 is empty or outside"),
        ((-1, 4), "unit -1..4 is empty or outside"),
        ((8, 11), "unit 8..11 is empty or outside the continuum 0..10"),
        ((float("nan"), 4), "unit start nan is not a whole number"),
        ((2, float("inf")), "unit end inf is not a whole number"),
        ((2.0, 4), "unit start 2.0 is not a whole number"),
        ((True, 4), "unit start True is not a whole number"),
    ],
)
def test_bad_units_are_refused(unit: tuple[float, float], message: str) -> None:
    with pytest.raises(DataError, match=f"annotator 'a': {message}"):
        continuum(10, {"a": [unit], "b": []})  # type: ignore[list-item]


def test_bad_length_is_refused() -> None:
    with pytest.raises(DataError, match="continuum length nan is not a whole number"):
        continuum(float("nan"), {"a": []})  # type: ignore[arg-type]
    with pytest.raises(DataError, match="continuum length -1 is negative"):
        continuum(-1, {"a": []})


def test_overlapping_units_of_one_annotator_are_refused_or_merged() -> None:
    units = {"a": [(0, 5), (3, 8), (8, 10)], "b": [(0, 10)]}
    with pytest.raises(DataError, match=r"annotator 'a': unit 3\.\.8 overlaps unit 0\.\.5"):
        continuum(20, units)
    with pytest.raises(DataError, match="overlaps"):
        continuum(20, {"a": [(2, 4), (2, 4)], "b": []})  # the same unit twice
    merged = continuum(20, units, overlapping="merge")
    assert merged.units["a"] == ((0, 8), (8, 10))  # touching units stay two
    assert alpha_u(merged) == alpha_u(continuum(20, {"a": [(0, 8), (8, 10)], "b": [(0, 10)]}))


def test_concatenation_shifts_offsets_by_the_documents_before() -> None:
    docs = [
        Document("d1", 100, {"a": [(10, 20)], "b": [(12, 20)]}),
        Document("d2", 50, {"a": [], "b": [(0, 5)]}),
        Document("d3", 80, {"a": [(70, 80)], "b": [(70, 80)]}),
    ]
    joined = concatenate(docs)
    assert joined.length == 230
    assert joined.units == {"a": ((10, 20), (220, 230)), "b": ((12, 20), (100, 105), (220, 230))}
    direct = continuum(230, {"a": [(10, 20), (220, 230)], "b": [(12, 20), (100, 105), (220, 230)]})
    assert alpha_u(joined) == alpha_u(direct)
    # Krippendorff's example split in two documents at 150 (no unit crosses it) is the same study
    split = concatenate(
        [
            Document("x", 150, {w: [u for u in K2004_C[w] if u[1] <= 150] for w in K2004_C}),
            Document(
                "y",
                150,
                {w: [(s - 150, e - 150) for s, e in K2004_C[w] if s >= 150] for w in K2004_C},
            ),
        ]
    )
    assert alpha_u(split) == alpha_u(continuum(300, K2004_C))


def test_concatenation_refuses_units_outside_a_document_or_other_annotators() -> None:
    with pytest.raises(
        DataError, match=r"document 'd2': annotator 'a': unit 40\.\.60 is empty or outside"
    ):
        concatenate(
            [
                Document("d1", 100, {"a": [], "b": []}),
                Document("d2", 50, {"a": [(40, 60)], "b": []}),
            ]
        )
    with pytest.raises(
        DataError, match="document 'd2': annotators a, c differ from the first document's"
    ):
        concatenate(
            [Document("d1", 100, {"a": [], "b": []}), Document("d2", 50, {"a": [], "c": []})]
        )
    assert concatenate([]).length == 0


def _naive(length: int, units: dict[str, list[tuple[int, int]]]) -> float | None:
    """Krippendorff's sums written out over every pair of sections: a check of the sweep."""

    def sections(marked: list[tuple[int, int]]) -> list[tuple[int, int, bool]]:
        out, pos = [], 0
        for s, e in sorted(marked):
            if s > pos:
                out.append((pos, s, False))
            out.append((s, e, True))
            pos = e
        if pos < length:
            out.append((pos, length, False))
        return out

    secs = {w: sections(u) for w, u in units.items()}
    m, n = len(units), sum(len(u) for u in units.values())
    d_o = 0
    for a, b in permutations(secs, 2):
        for sa, ea, ua in secs[a]:
            for sb, eb, ub in secs[b]:
                if max(sa, sb) >= min(ea, eb):
                    continue
                if ua and ub:
                    d_o += (sa - sb) ** 2 + (ea - eb) ** 2
                elif ua and sb <= sa and ea <= eb:
                    d_o += (ea - sa) ** 2
                elif ub and sa <= sb and eb <= ea:
                    d_o += (eb - sb) ** 2
    gaps = [e - s for w in secs for s, e, u in secs[w] if not u]
    lengths = [e - s for u in units.values() for s, e in u]
    d_e = sum(
        (n - 1) * (2 * x**3 - 3 * x**2 + x) / 3 + x * x * sum(g - x + 1 for g in gaps if g >= x)
        for x in lengths
    )
    d_e = 2 / length * d_e / (m * length * (m * length - 1) - sum(x * (x - 1) for x in lengths))
    return None if d_e == 0 else 1 - d_o / (m * (m - 1) * length**2) / d_e


def test_random_studies_match_the_sums_written_out() -> None:
    rng = random.Random(16)
    for _ in range(200):
        length = rng.randint(1, 60)
        units: dict[str, list[tuple[int, int]]] = {}
        for who in range(rng.randint(2, 4)):
            marked, pos = [], 0
            while pos < length and rng.random() < 0.8:
                start = rng.randint(pos, length - 1)
                end = rng.randint(start + 1, min(length, start + 15))
                marked.append((start, end))
                pos = end
            units[f"r{who}"] = marked
        expected = _naive(length, units)
        got = alpha_u(continuum(length, units)).alpha
        if expected is None:
            assert got is None
        else:
            assert got is not None and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12)
        shuffled = {w: rng.sample(u, len(u)) for w, u in reversed(units.items())}
        assert alpha_u(continuum(length, shuffled)).alpha == got  # order of units and annotators


# --- `newscorpus agree`: alpha_u per span label next to span F1 ---------------------------------


def _agree_corpus(root: Path) -> tuple[Path, list[Article]]:
    """Two articles of 150 characters that, laid end to end, are Krippendorff's 2004 continuum
    (Claim = his category c, Quote = k), and a third that only ann-a annotated."""
    make_corpus(root, n_articles=0)
    text = ("Synthetic words about fentanyl and the cartel, repeated. " * 3)[:150]
    arts = [make_article(i, text=f"{text[:-1]}{i}") for i in range(3)]
    add_articles(load_config(root), arts, file="test")
    first, second, third = [*sorted(arts[:2], key=lambda a: a.id), arts[2]]

    def spans(label: str, units: list[tuple[int, int]], article: int) -> list[dict[str, Any]]:
        lo = 150 * article
        inside = [(s - lo, e - lo) for s, e in units if lo <= s and e <= lo + 150]
        return [span(f"{label}-{s}", s, e, label) for s, e in inside]

    records = []
    for who in ("i", "j"):
        for n, art in enumerate((first, second)):
            marked = spans("Claim", K2004_C[who], n) + spans("Quote", K2004_K[who], n)
            records.append(ann(art, f"ann-{who}", spans=marked))
    records.append(ann(third, "ann-i", spans=[span("x", 0, 150)]))  # nobody else: not shared
    store(root, records)
    return root, [first, second]


def test_agree_reports_alpha_u_per_span_label(tmp_path: Path, cli: Callable[..., Any]) -> None:
    root, _ = _agree_corpus(tmp_path / "corpus")
    res = cli("--corpus", root, "agree", "--json")
    assert res.exit_code == 0, res.output
    spans = json.loads(res.stdout)["spans"]
    assert round(spans["Claim"]["alpha_u"], 4) == 0.7286  # Krippendorff (2004: 254), category c
    assert spans["Quote"]["alpha_u"] == 1.0  # category k
    assert spans["Speaker"]["alpha_u"] is None and spans["Speaker"]["pairs"] == 0
    assert (spans["Claim"]["f1_exact"], spans["Claim"]["pairs"]) == (0.0, 1)
    table = cli("--corpus", root, "agree")
    assert table.exit_code == 0 and "alpha_u" in table.stdout
    report = (root / "reports" / "agreement.md").read_text(encoding="utf-8")
    assert "| label | exact F1 | overlap F1 | alpha_u | pairs |" in report
    assert "| Claim | 0.000 | 0.800 | 0.729 | 1 |" in report


def test_agree_merges_an_annotators_overlapping_spans_and_averages_pairs(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    root, (first, second) = _agree_corpus(tmp_path / "corpus")
    # ann-k marks ann-i's claims, the first one as two overlapping spans: merged, the same units
    store(
        root,
        [
            ann(first, "ann-k", spans=[span("k1", 75, 100), span("k2", 90, 145)]),
            ann(second, "ann-k", spans=[span("k3", 70, 100)]),
        ],
    )
    res = cli("--corpus", root, "agree", "--json")
    assert res.exit_code == 0, res.output
    claim = json.loads(res.stdout)["spans"]["Claim"]
    published = alpha_u(continuum(300, K2004_C)).alpha
    assert published is not None and claim["pairs"] == 3
    # pairs (i, j) and (j, k): Krippendorff's c; (i, k): identical units, 1
    assert claim["alpha_u"] == pytest.approx((1 + 2 * published) / 3, abs=1e-12)
