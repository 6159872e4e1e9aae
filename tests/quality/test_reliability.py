"""Krippendorff's alpha against Krippendorff's published examples, the package, and properties."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newscorpus.quality.reliability import (
    LEVELS,
    bootstrap_alpha,
    cohen_kappa,
    confidence_interval,
    krippendorff_alpha,
    value_counts,
)

N = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C (nominal data,
# any number of observers, missing data): observers A-D by units 1-12. The same reliability
# data is used there for the ordinal, interval and ratio metrics.
PAPER_4x12 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]
PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}
# Binary data, two observers, no missing data: Krippendorff (2004), Content Analysis, section
# 11.3.1 (as transcribed in jucor/krippendorff's data-raw); published alpha = 0.095.
BINARY_2x10 = [[1, 1, 0, 0, 0, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 1, 0, 1, 0, 0]]


@pytest.mark.parametrize("level", LEVELS)
def test_published_four_observer_example(level: str) -> None:
    assert round(krippendorff_alpha(PAPER_4x12, level), 3) == PUBLISHED[level]  # type: ignore[arg-type]


def test_published_binary_two_observer_example() -> None:
    assert round(krippendorff_alpha(BINARY_2x10), 3) == 0.095
    # by hand: n=20, n_0=14, n_1=6, 4 disagreeing units -> 1 - 19 * 8 / (2 * 14 * 6)
    assert krippendorff_alpha(BINARY_2x10) == pytest.approx(1 - 19 * 8 / (2 * 14 * 6), abs=1e-12)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_the_krippendorff_package(level: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = rng.integers(1, 6, size=(4, 300)).astype(float)
    data[rng.random(data.shape) < 0.3] = np.nan
    ours = krippendorff_alpha(data, level)  # type: ignore[arg-type]
    theirs = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_undefined_alpha_is_nan_not_an_error() -> None:
    assert np.isnan(krippendorff_alpha([[1, N], [N, 2]]))  # no unit with two values
    assert np.isnan(krippendorff_alpha([[1, 1], [1, 1]]))  # no variation at all


def test_bootstrap_is_seeded_and_brackets_alpha() -> None:
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 4, 200)
    data = np.stack([truth, truth, rng.integers(0, 4, 200)]).astype(float)
    data[2, :100] = truth[:100]
    unit = np.tile(np.arange(200), 3)
    code = data.astype(np.int64).ravel()
    counts = value_counts(unit, code, 200, 4)
    values = np.arange(4, dtype=float)
    a = bootstrap_alpha(counts, values)
    b = bootstrap_alpha(counts, values)
    assert np.array_equal(a, b) and len(a) == 1000
    lo, hi = confidence_interval(a)  # type: ignore[misc]
    alpha = krippendorff_alpha(data)
    assert lo < alpha < hi and hi - lo < 0.2
    # the nominal fast path equals the general path
    c = bootstrap_alpha(counts, values, "interval")
    assert not np.allclose(a, c)


def test_cohen_kappa_by_hand() -> None:
    # observed 3/4; expected 1/2*1/4 + 1/2*3/4 = 1/2; kappa = (3/4 - 1/2) / (1 - 1/2)
    assert cohen_kappa(list("aabb"), list("abbb")) == pytest.approx(0.5)
    assert cohen_kappa(list("aaaa"), list("aaaa")) is None
    assert cohen_kappa([], []) is None


matrices = st.integers(2, 5).flatmap(
    lambda m: st.lists(
        st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=m, max_size=m),
        min_size=2,
        max_size=25,
    )
)


def _array(units: list[list[int | None]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in u] for u in units], dtype=float).T


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=2, max_size=30), st.integers(2, 5))
def test_perfect_agreement_gives_one(truth: list[int], coders: int) -> None:
    if len(set(truth)) < 2:
        return
    data = np.array([truth] * coders, dtype=float)
    for level in LEVELS:
        assert krippendorff_alpha(data, level) == pytest.approx(1.0)


@settings(max_examples=80, deadline=None)
@given(matrices, st.permutations(range(5)), st.randoms(use_true_random=False))
def test_invariant_under_relabelling_and_coder_order(units, perm, rnd) -> None:  # type: ignore[no-untyped-def]
    data = _array(units)
    base = krippendorff_alpha(data)
    relabelled = np.where(np.isnan(data), np.nan, np.take(perm, np.nan_to_num(data).astype(int)))
    order = list(range(data.shape[0]))
    rnd.shuffle(order)
    for other in (krippendorff_alpha(relabelled), krippendorff_alpha(data[order])):
        if np.isnan(base):
            assert np.isnan(other)
        else:
            assert other == pytest.approx(base, abs=1e-12)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
@pytest.mark.parametrize("shift", [-3.0, 0.5])
def test_negative_and_fractional_values_match_the_package(level: str, shift: float) -> None:
    rng = np.random.default_rng(9)
    data = rng.integers(0, 5, size=(3, 200)).astype(float) + shift
    data[rng.random(data.shape) < 0.2] = np.nan
    theirs = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert krippendorff_alpha(data, level) == pytest.approx(theirs, abs=1e-9)  # type: ignore[arg-type]
