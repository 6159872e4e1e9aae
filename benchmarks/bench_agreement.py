"""Krippendorff's alpha: ours (newscorpus.quality.reliability) vs the `krippendorff` package.

Goal: 100,000 items x 3 annotators, same value within 1e-9, and no slower, at every level.
Size override: BENCH_AGREEMENT_ITEMS=10000 python benchmarks/bench_agreement.py
At the default size it writes what it prints into docs/agreement-bench.md (`--no-write` only prints).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import krippendorff
import numpy as np

from docs_block import run_recorded
from newscorpus.quality.reliability import LEVELS, bootstrap_alpha, krippendorff_alpha, value_counts


def best_of(fn: Callable[[], float], repeat: int = 5) -> tuple[float, float]:
    """(value, best wall time in seconds) over ``repeat`` runs."""
    value = fn()  # warm-up: imports, caches
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return value, min(times)


def main() -> int:
    items = int(os.environ.get("BENCH_AGREEMENT_ITEMS", "100000"))
    rng = np.random.default_rng(42)
    truth = rng.integers(0, 4, items)
    data = np.stack(
        [np.where(rng.random(items) < 0.7, truth, rng.integers(0, 4, items)) for _ in range(3)]
    ).astype(float)
    data[rng.random(data.shape) < 0.1] = np.nan
    print(f"alpha over {items:,} items x 3 annotators (4 labels, 10% missing); best of 5 runs")
    print("goal: |ours - krippendorff| <= 1e-9 and ours no slower\n")
    print(
        f"{'level':<9} {'ours':>20} {'krippendorff':>20} {'ours s':>9} {'pkg s':>9} {'speed-up':>9}"
    )
    ok = True
    for level in LEVELS:
        ours, t_ours = best_of(lambda lv=level: krippendorff_alpha(data, lv))  # type: ignore[misc]
        theirs, t_pkg = best_of(
            lambda lv=level: float(
                krippendorff.alpha(reliability_data=data, level_of_measurement=lv)
            )
        )
        same = abs(ours - theirs) <= 1e-9
        faster = t_ours <= t_pkg
        ok = ok and same and faster
        print(
            f"{level:<9} {ours:>20.15f} {theirs:>20.15f} {t_ours:>9.4f} {t_pkg:>9.4f} "
            f"{t_pkg / t_ours:>8.1f}x {'ok' if same and faster else 'FAIL'}"
        )
    mask = ~np.isnan(data)
    unit = np.nonzero(mask)[1].astype(np.int64)
    code = data[mask].astype(np.int64)
    counts = value_counts(unit, code, items, 4)
    t = time.perf_counter()
    samples = bootstrap_alpha(counts, np.arange(4.0))
    print(
        f"\nbootstrap 95% CI (1,000 resamples of items, nominal): "
        f"{np.percentile(samples, 2.5):.4f}–{np.percentile(samples, 97.5):.4f} "
        f"in {time.perf_counter() - t:.2f} s"
    )
    print("\nresult:", "goal met" if ok else "GOAL NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    default = "BENCH_AGREEMENT_ITEMS" not in os.environ and "--no-write" not in sys.argv
    doc = Path(__file__).resolve().parent.parent / "docs" / "agreement-bench.md"
    sys.exit(run_recorded(main, doc, "bench_agreement", write=default))
