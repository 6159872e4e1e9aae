"""Near-duplicate benchmark: newscorpus NearDupIndex vs a plain datasketch MinHashLSH loop.

100,000 synthetic articles (random words, not news) with planted near copies (a dateline, a
trailer and 4% of the words edited, as in syndicated wire copies). Each variant runs in its own
process, on the same articles, and reports time, peak memory and the recall of planted pairs.
Goal: recall >= 0.95 and no slower than the baseline. Size: BENCH_DEDUP_N (default 100000).
At the default size it writes what it prints into docs/gather-bench.md (`--no-write` only prints).
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from docs_block import run_recorded

N = int(os.environ.get("BENCH_DEDUP_N", "100000"))
PLANTED_SHARE = 0.05
THRESHOLD = 0.5
NUM_PERM = 128
_WORD = re.compile(r"\w+")


def make_articles(n: int) -> tuple[list[str], list[tuple[int, int]]]:
    """n texts; the last n * PLANTED_SHARE are near copies of earlier ones: (original, copy)."""
    rng = random.Random(42)
    vocab = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        for _ in range(20000)
    ]
    n_copies = int(n * PLANTED_SHARE)
    texts = [" ".join(rng.choices(vocab, k=rng.randint(150, 300))) for _ in range(n - n_copies)]
    pairs = []
    for _ in range(n_copies):
        orig = rng.randrange(n - n_copies)
        words = texts[orig].split()
        for _ in range(len(words) // 25):
            words[rng.randrange(len(words))] = rng.choice(vocab)
        copy = "MEXICO CITY (Synthetic Wire) — " + " ".join(words) + " Reporting by the wire desk."
        pairs.append((orig, len(texts)))
        texts.append(copy)
    return texts, pairs


def peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + kids) / 1024


def run_baseline(texts: list[str], pairs: list[tuple[int, int]]) -> dict[str, float]:
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    found: dict[int, set[int]] = {}
    for i, text in enumerate(texts):
        words = _WORD.findall(text.lower())
        shingles = {" ".join(words[j : j + 3]).encode() for j in range(max(1, len(words) - 2))}
        m = MinHash(num_perm=NUM_PERM)
        m.update_batch(list(shingles))
        found[i] = set(lsh.query(m))
        lsh.insert(i, m)
    elapsed = time.perf_counter() - t0
    recall = sum(o in found[c] for o, c in pairs) / len(pairs)
    return {"seconds": elapsed, "recall": recall}


def _sigs(texts: list[str]) -> list[object]:
    from newscorpus.gather.dedup import signature

    return [signature(t) for t in texts]


def run_newscorpus(
    texts: list[str], pairs: list[tuple[int, int]], workers: int
) -> dict[str, float]:
    import multiprocessing

    from newscorpus.gather.dedup import NearDupIndex, signature

    t0 = time.perf_counter()
    idx = NearDupIndex(THRESHOLD, NUM_PERM)
    clusters: list[str] = []
    if workers > 1:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            batch = 500
            chunks = (texts[i : i + batch] for i in range(0, len(texts), batch))
            for sigs in pool.map(_sigs, chunks):
                for sig in sigs:
                    clusters.append(idx.add_new(sig, f"{len(clusters):016x}"))  # type: ignore[arg-type]
    else:
        for text in texts:
            clusters.append(idx.add_new(signature(text), f"{len(clusters):016x}"))
    elapsed = time.perf_counter() - t0
    recall = sum(clusters[c] == clusters[o] for o, c in pairs) / len(pairs)
    singles = sum(1 for i, c in enumerate(clusters) if c != f"{i:016x}")
    return {"seconds": elapsed, "recall": recall, "clustered": singles}


def child(variant: str) -> None:
    t0 = time.perf_counter()
    texts, pairs = make_articles(N)
    gen = time.perf_counter() - t0
    base_mb = peak_mb()
    if variant == "baseline":
        res = run_baseline(texts, pairs)
    else:
        res = run_newscorpus(texts, pairs, int(variant.split("-")[1]))
    res.update({"peak_mb": peak_mb(), "data_mb": base_mb, "gen_seconds": gen, "pairs": len(pairs)})
    print(json.dumps(res))


def main() -> int:
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[0]
    print(
        f"near duplicates: {N:,} synthetic articles, {int(N * PLANTED_SHARE):,} planted near copies "
        f"({os.cpu_count()} cores, load average {load})"
    )
    results = {}
    for variant in ("baseline", "newscorpus-1", f"newscorpus-{min(os.cpu_count() or 1, 8)}"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", variant],
            capture_output=True,
            text=True,
            check=True,
        )
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
        r = results[variant]
        print(
            f"  {variant:<14} {r['seconds']:7.1f} s  {N / r['seconds']:8.0f} articles/s  "
            f"peak {r['peak_mb']:6.0f} MB (data alone {r['data_mb']:.0f} MB)  recall {r['recall']:.3f}"
            + (
                f"  ({r['clustered']:,} articles put in another's cluster)"
                if "clustered" in r
                else ""
            ),
            flush=True,
        )
    base = results["baseline"]["seconds"]
    best_key = max((k for k in results if k != "baseline"), key=lambda k: k.split("-")[1])
    best = results[best_key]
    ratio = base / best["seconds"]
    ok = best["recall"] >= 0.95 and best["seconds"] <= base
    print(
        f"  goal: recall >= 0.95 and no slower than the datasketch loop -> {best_key}: "
        f"{ratio:.2f}x the baseline's speed, recall {best['recall']:.3f}: {'MET' if ok else 'NOT MET'}"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        default = "BENCH_DEDUP_N" not in os.environ and "--no-write" not in sys.argv
        doc = Path(__file__).resolve().parent.parent / "docs" / "gather-bench.md"
        raise SystemExit(run_recorded(main, doc, "bench_dedup", write=default))
