"""Krippendorff's alpha (coincidence matrix, vectorised with numpy), its bootstrap, Cohen's kappa.

Follows Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": values are pairable
within a unit when the unit has at least two of them; each unit adds
``(n_uc * n_uk - [c == k] * n_uc) / (m_u - 1)`` to the coincidence matrix ``o``; then
``alpha = 1 - (n - 1) * sum(o * d) / sum(n_c * n_k * d)`` with ``d`` the squared difference
function of the level of measurement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")
BOOTSTRAP_SEED = 20110101
BOOTSTRAP_RESAMPLES = 1000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def value_counts(unit: IntArray, value: IntArray, n_units: int, n_values: int) -> FloatArray:
    """(units x values) matrix: how many coders gave each value to each unit."""
    flat = np.bincount(unit * n_values + value, minlength=n_units * n_values)
    return flat.reshape(n_units, n_values).astype(np.float64)


def unit_coincidences(counts: FloatArray) -> FloatArray:
    """Per pairable unit, its coincidence matrix flattened: (pairable units x V*V)."""
    m = counts.sum(axis=1)
    c = counts[m >= 2]
    w = 1.0 / (c.sum(axis=1) - 1.0)
    v = c.shape[1]
    per = (c[:, :, None] * c[:, None, :]).reshape(len(c), v * v)
    per[:, :: v + 1] -= c
    result: FloatArray = per * w[:, None]
    return result


def coincidences(counts: FloatArray) -> FloatArray:
    """The (V x V) coincidence matrix of a (units x values) count matrix."""
    m = counts.sum(axis=1)
    keep = m >= 2
    c = counts[keep] if not keep.all() else counts
    w = 1.0 / (m[keep] - 1.0)
    o: FloatArray = (c * w[:, None]).T @ c
    o[np.diag_indices_from(o)] -= w @ c
    return o


def distances(values: FloatArray, level: Level, n_c: FloatArray) -> FloatArray:
    """Squared difference function delta^2(c, k) of a level of measurement (V x V)."""
    if level == "nominal":
        return 1.0 - np.eye(len(values))
    if level == "interval":
        return np.asarray((values[:, None] - values[None, :]) ** 2, dtype=np.float64)
    if level == "ratio":
        s = values[:, None] + values[None, :]
        diff = values[:, None] - values[None, :]
        out = np.divide(diff, s, out=np.zeros_like(diff, dtype=np.float64), where=s != 0)
        return np.asarray(out**2, dtype=np.float64)
    if level == "ordinal":
        cum = np.concatenate([[0.0], np.cumsum(n_c)])
        i = np.arange(len(values))
        lo, hi = np.minimum.outer(i, i), np.maximum.outer(i, i)
        between = cum[hi + 1] - cum[lo]
        return np.asarray((between - (n_c[lo] + n_c[hi]) / 2.0) ** 2, dtype=np.float64)
    raise ValueError(f"unknown level of measurement {level!r} (one of {', '.join(LEVELS)})")


def alpha_from_coincidences(o: FloatArray, values: FloatArray, level: Level = "nominal") -> float:
    """Alpha from a coincidence matrix; NaN when undefined (no pairable value, or no variation)."""
    n_c = o.sum(axis=0)
    n = n_c.sum()
    if n <= 1:
        return float("nan")
    d = distances(values, level, n_c)
    expected = float(n_c @ d @ n_c)
    if expected == 0.0:
        return float("nan")
    return float(1.0 - (n - 1.0) * float((o * d).sum()) / expected)


def _encode(data: npt.ArrayLike) -> tuple[IntArray, IntArray, int, FloatArray]:
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError("reliability data must be a 2-D array (coders x units)")
    mask = ~np.isnan(arr)
    coder_unit = np.nonzero(mask)
    vals = arr[mask]
    units = coder_unit[1].astype(np.int64)
    if vals.size:
        ints = vals.astype(np.int64)
        lo = int(ints.min())
        if np.array_equal(ints, vals) and int(ints.max()) - lo < 1_000_000:
            # small integer codes (the usual case): a bincount instead of a sort
            present = np.flatnonzero(np.bincount(ints - lo))
            remap = np.zeros(int(present[-1]) + 1, dtype=np.int64)
            remap[present] = np.arange(len(present))
            return units, remap[ints - lo], arr.shape[1], (present + lo).astype(np.float64)
    domain, codes = np.unique(vals, return_inverse=True)
    return units, codes.astype(np.int64).ravel(), arr.shape[1], domain


def krippendorff_alpha(data: npt.ArrayLike, level: Level = "nominal") -> float:
    """Alpha of a (coders x units) array, NaN marking a missing value; NaN when undefined."""
    unit, code, n_units, domain = _encode(data)
    if len(domain) == 0:
        return float("nan")
    counts = value_counts(unit, code, n_units, len(domain))
    return alpha_from_coincidences(coincidences(counts), domain, level)


def bootstrap_alpha(
    counts: FloatArray,
    values: FloatArray,
    level: Level = "nominal",
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    chunk: int = 100,
) -> FloatArray:
    """Alpha over ``resamples`` resamples (with replacement) of the pairable units."""
    per = unit_coincidences(counts)
    n_units, v = per.shape[0], len(values)
    if n_units == 0:
        return np.full(resamples, np.nan)
    rng = np.random.default_rng(seed)
    out = np.empty(resamples, dtype=np.float64)
    pvals = np.full(n_units, 1.0 / n_units)
    fixed_d = None if level == "ordinal" else distances(values, level, np.ones(v))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        weights = rng.multinomial(n_units, pvals, size=size).astype(np.float64)
        o_all = (weights @ per).reshape(size, v, v)
        n_c = o_all.sum(axis=1)
        n = n_c.sum(axis=1)
        if fixed_d is not None:
            expected = np.einsum("sc,cd,sd->s", n_c, fixed_d, n_c)
            observed = np.einsum("scd,cd->s", o_all, fixed_d)
            with np.errstate(divide="ignore", invalid="ignore"):
                alphas = np.where(expected > 0, 1.0 - (n - 1.0) * observed / expected, np.nan)
            out[start : start + size] = alphas
        else:
            for i in range(size):
                out[start + i] = alpha_from_coincidences(o_all[i], values, level)
    return out


def confidence_interval(samples: FloatArray, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile interval of bootstrap samples (undefined resamples left out); None if none."""
    ok = samples[~np.isnan(samples)]
    if ok.size == 0:
        return None
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(ok, [tail, 100.0 - tail])
    return float(lo), float(hi)


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two coders' labels of the same units; None when undefined."""
    if len(a) != len(b):
        raise ValueError("both coders must label the same units")
    if not a:
        return None
    labels = sorted(set(a) | set(b))
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    table = np.zeros((k, k))
    np.add.at(table, ([index[x] for x in a], [index[y] for y in b]), 1.0)
    total = table.sum()
    observed = np.trace(table) / total
    expected = float(table.sum(axis=1) @ table.sum(axis=0)) / total**2
    if expected >= 1.0:
        return None
    return float((observed - expected) / (1.0 - expected))
