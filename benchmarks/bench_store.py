"""Store benchmark: JSONL append and read of BENCH_STORE_N (100000) articles against the
hand-rolled loops store.py had before jsonlines (kept here as the baseline: join the json.dumps
lines and write once; iterate the file, check each line, orjson).

Measured: store.append_jsonl (jsonlines.Writer), store.jsonl_records (jsonlines.Reader: the
reader of `validate`) and store.iter_lines (the bulk reader of the stages, a loop of its own
because jsonlines.Reader costs more than the goal allows). Each runs BENCH_STORE_ROUNDS (5)
times, alternating, on the same synthetic articles of about 1,500 characters; the best time
counts, in CPU seconds. Goal: append_jsonl and iter_lines within 10% of the baseline; the bytes are identical.
At the default sizes it writes what it prints into docs/store-bench.md (`--no-write` only prints).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from docs_block import run_recorded

N = int(os.environ.get("BENCH_STORE_N", "100000"))
ROUNDS = int(os.environ.get("BENCH_STORE_ROUNDS", "5"))
GOAL = 1.10


def articles(n: int) -> list[dict[str, Any]]:
    """Article-shaped records (the fields gather writes), with accented multilingual words."""
    rng = random.Random(13)
    words = [
        "fentanilo",
        "cártel",
        "sécurité",
        "frontière",
        "Sheinbaum",
        "operación",
        "DEA",
        "soberanía",
        "the",
        "of",
    ]
    out = []
    for i in range(n):
        text = " ".join(rng.choices(words, k=160))
        out.append(
            {
                "id": f"{i:016x}",
                "url": f"https://news.example/{i}.html",
                "canonical_url": f"https://news.example/{i}.html",
                "source": "feed",
                "site": "news.example",
                "title": f"Artículo {i}",
                "text": text,
                "language": "es",
                "authors": ["A. Autor"],
                "published": "2026-01-02",
                "dup_cluster": f"{i:016x}",
                "topic_terms": ["fentanilo"],
                "fetched_at": "2026-01-02T03:04:05Z",
                "sha256": "0" * 64,
                "text_sha256": "1" * 64,
                "extractor": "trafilatura 2.0.0",
                "synthetic": True,
            }
        )
    return out


# --- the baseline: store.py's loops before jsonlines ------------------------------------------


def baseline_read(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    from newscorpus.store import LineProblem, parse_record

    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.endswith(b"\n"):
                return
            if not raw.strip():
                continue
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SystemExit(f"{path}:{number}: not UTF-8: {exc.reason}") from None
            try:
                record = parse_record(raw)
            except LineProblem as exc:
                raise SystemExit(f"{path}:{number}: {exc}") from None
            yield number, record


def baseline_append(path: Path, records: Iterable[dict[str, Any]]) -> int:
    from newscorpus.store import dumps

    payload = "".join(dumps(r) + "\n" for r in records).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return payload.count(b"\n")


# --- runs ----------------------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    """CPU seconds of this process (the work itself: a shared machine's load and the disk's
    fsync latency would drown the difference in wall time)."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main() -> int:
    from newscorpus.store import append_jsonl, iter_lines, jsonl_records

    def reader(path: Path) -> int:
        with path.open("rb") as fh:
            return sum(1 for _ in jsonl_records(fh))

    records = articles(N)
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        folder = Path(tmp)
        base_file, new_file = folder / "baseline.jsonl", folder / "jsonlines.jsonl"
        for r in range(ROUNDS):
            for f in (base_file, new_file):
                f.unlink(missing_ok=True)
            runs = {
                "append baseline": lambda: baseline_append(base_file, records),
                "append jsonlines": lambda: append_jsonl(new_file, records),
            }
            for name in sorted(runs, reverse=r % 2 == 1):  # alternate which goes first
                best[name] = min(best.get(name, float("inf")), timed(runs[name]))
            if base_file.read_bytes() != new_file.read_bytes():
                print("FAIL: the two appends wrote different bytes")
                return 1
            size = new_file.stat().st_size
            reads = {
                "read baseline": lambda: sum(1 for _ in baseline_read(base_file)),
                "read jsonlines": lambda: reader(new_file),
                "read iter_lines": lambda: sum(1 for _ in iter_lines(new_file)),
            }
            for name in sorted(reads, reverse=r % 2 == 1):
                best[name] = min(best.get(name, float("inf")), timed(reads[name]))
    print(f"{N:,} articles, {size / 1e6:.0f} MB of JSONL; best of {ROUNDS} rounds")
    rows = {
        "append baseline": "the loop before jsonlines",
        "append jsonlines": "store.append_jsonl",
        "read baseline": "the loop before jsonlines",
        "read jsonlines": "store.jsonl_records (validate)",
        "read iter_lines": "store.iter_lines (the stages)",
    }
    print(f"{'':18} {'CPU s':>8} {'articles/s':>11}")
    for name, what in rows.items():
        print(f"{name:18} {best[name]:8.3f} {N / best[name]:11,.0f}  {what}")
    ok = True
    for name, base, goal in (
        ("append jsonlines", "append baseline", GOAL),
        ("read iter_lines", "read baseline", GOAL),
        ("read jsonlines", "read baseline", None),
    ):
        ratio = best[name] / best[base]
        met = goal is None or ratio <= goal
        ok &= met
        verdict = "no goal" if goal is None else f"goal <= {goal:.2f}: {'met' if met else 'MISSED'}"
        print(f"{name} / {base} = {ratio:.2f} ({verdict})")
    print("bytes written: identical")
    return 0 if ok else 1


if __name__ == "__main__":
    default = not any(k in os.environ for k in ("BENCH_STORE_N", "BENCH_STORE_ROUNDS"))
    default = default and "--no-write" not in sys.argv
    doc = Path(__file__).resolve().parent.parent / "docs" / "store-bench.md"
    raise SystemExit(run_recorded(main, doc, "bench_store", write=default))
