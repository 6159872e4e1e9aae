"""Release benchmark: `make_release` of a synthetic corpus vs Dataset.from_list(rows).to_parquet.

Sizes: NEWSCORPUS_BENCH_RELEASE_ARTICLES (default 100000) articles with 3 annotations each
and an aggregate for every fifth article. Each side runs in its own child process so that its
peak memory is its own: the release's is the peak, sampled every 100 ms, of its process's resident
size plus the private pages of the validation it forks (a forked child's resident size would
count the pages it shares with its parent twice); the others' is their VmHWM. Goals by size
(issue 16): the release (which also validates the corpus, scans for secrets, loads every config
back and commits to git) is no slower than the baseline; its peak memory stays under 2 GB at
100,000 articles, 1.5 GB at 300,000, and 2 GB at 1,000,000 (where it must take under 3 minutes
and the baseline, which needs about 20 GB, is skipped). At 100,000, 300,000 and 1,000,000
articles it writes what it prints into its block of docs/release-bench.md (`--no-write` only
prints). The generated corpus is kept under .bench-cache/release/ (1,000,000 articles take
about nine minutes to write).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# the allocator setting the `newscorpus` command makes before polars loads (src/newscorpus/cli.py)
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.release.helpers import TOML  # noqa: E402  (the release tests' synthetic corpus.toml)

from docs_block import markers  # noqa: E402

N = int(os.environ.get("NEWSCORPUS_BENCH_RELEASE_ARTICLES", "100000"))
GOALS_MB = {100_000: 2048, 300_000: 1536, 1_000_000: 2048}  # peak memory goal by size
GOAL_MB = GOALS_MB.get(N, 2048)
GOAL_1M_S = 180.0  # the release's wall time goal at 1,000,000 articles
SKIP_BASELINE = N >= 1_000_000  # Dataset.from_list needs about 20 GB there
RECORDED = (100_000, 300_000, 1_000_000)  # sizes whose figures go into docs/release-bench.md
WORDS = [
    "fentanyl",
    "cártel",
    "Sheinbaum",
    "security",
    "cooperation",
    "border",
    "officials",
    "said",
    "report",
    "seizure",
]
LABELS = ("favor", "against", "neutral", "unrelated")
CACHE = ROOT / ".bench-cache" / "release"
CORPUS_VERSION = "v1"  # bump when make_corpus writes something else


def make_corpus(root: Path, n: int) -> None:
    """Write n synthetic articles, 3n annotations and n/5 aggregates as JSONL (fast, no checks)."""
    from newscorpus.records import Annotation, Article, article_id, sha256_hex
    from newscorpus.store import dumps

    rng = random.Random(7)
    (root / "articles").mkdir(parents=True)
    (root / "annotations").mkdir()
    (root / "corpus.toml").write_text(TOML, encoding="utf-8")
    with (
        (root / "articles" / "bench.jsonl").open("w", encoding="utf-8") as fa,
        (root / "annotations" / "pulled.jsonl").open("w", encoding="utf-8") as fn,
        (root / "annotations" / "aggregate.jsonl").open("w", encoding="utf-8") as fg,
    ):
        prev = ""
        for i in range(n):
            body = " ".join(rng.choice(WORDS) for _ in range(200))
            text = f"Synthetic article {i}. {body}\n\nAn official said: \u201cNo soldiers.\u201d"
            url = f"http://news.test/{i}"
            aid = article_id(url)
            cluster = prev if i % 7 == 1 else aid
            prev = cluster
            art = Article(
                id=aid,
                url=url,
                canonical_url=url,
                source="paywalled" if i % 4 == 3 else "open",
                site="news.test",
                title=f"Synthetic {i}",
                text=text,
                language=("es", "fr", "en")[i % 3],
                published="2026-01-01T00:00:00Z",
                dup_cluster=cluster,
                sha256=sha256_hex(text),
                extractor="bench",
                synthetic=True,
            )
            fa.write(dumps(art.to_dict()) + "\n")
            s = text.index("\u201c")
            span = {
                "id": "s1",
                "start": s,
                "end": s + 14,
                "label": "Quote",
                "text": text[s : s + 14],
            }
            for j in range(3):
                ann = Annotation(
                    id=f"a-{aid}-{j}",
                    kind="annotation",
                    article_id=aid,
                    annotator=f"annotator-{j:02d}",
                    stance={
                        "us_forces_in_mexico": rng.choice(LABELS),
                        "cartels_as_terrorists": rng.choice(LABELS),
                    },
                    spans=[span],
                    created_at="2026-02-01T00:00:00Z",
                )
                fn.write(dumps(ann.to_dict()) + "\n")
            if i % 5 == 0:
                agg = Annotation(
                    id=f"agg-majority-{aid}",
                    kind="aggregate",
                    article_id=aid,
                    annotator="majority",
                    stance={
                        "us_forces_in_mexico": "neutral",
                        "cartels_as_terrorists": "unresolved",
                    },
                    spans=[span],
                    extra={
                        "method": "majority",
                        "soft": {"us_forces_in_mexico": {"neutral": 1.0}},
                        "n_annotators": {"us_forces_in_mexico": 3},
                    },
                )
                fg.write(dumps(agg.to_dict()) + "\n")


def cached_corpus(n: int) -> tuple[Path, float | None]:
    """The corpus of n articles, made once (atomically) under .bench-cache/release/; the
    seconds it took to write when it was made in this run."""
    path = CACHE / f"{n}-{CORPUS_VERSION}"
    if (path / "corpus.toml").is_file():
        return path, None
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{n}-", dir=CACHE))
    try:
        t0 = time.perf_counter()
        make_corpus(tmp / "corpus", n)
        took = time.perf_counter() - t0
        (tmp / "corpus").rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path, took


def _rss_kb(pid: int) -> int:
    """A process's resident size, from /proc/<pid>/statm (constant time)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, IndexError, ValueError):
        return 0


def _private_kb(pid: int) -> int:
    """A process's private pages (Private_Clean + Private_Dirty of smaps_rollup): for a
    forked child, what it does not share with its parent."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except OSError:
        pass
    return total


def _tree(pid: int) -> list[int]:
    """pid and its descendants (from /proc/<pid>/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return out


class TreeSampler(threading.Thread):
    """Samples the memory of a process tree every 100 ms: the root's resident size plus each
    descendant's private pages, so that a page a forked child shares with the root counts once
    (smaps_rollup costs ~17 ms on a 1.5 GB process: the root is read from statm, and the
    interval is long enough not to slow what it measures); ``peak_mb`` the largest sum."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            kids = _tree(self.pid)[1:]
            now = _rss_kb(self.pid) + sum(_private_kb(p) for p in kids)
            self.peak_kb = max(self.peak_kb, now)

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


def child_release(corpus: Path, out: Path) -> None:
    from dataclasses import replace

    from newscorpus.config import load_config
    from newscorpus.release.publish import ReleaseOptions, make_release

    cfg = load_config(corpus)
    cfg = replace(cfg, release=replace(cfg.release, to=out))
    r = make_release(cfg, options=ReleaseOptions(version="1.0.0"))
    rows = sum(sum(s.values()) for s in r.counts.values())
    print(json.dumps({"rows": rows, "counts": r.counts}))


def child_baseline(corpus: Path, out: Path) -> None:
    """The obvious way: read records with the library, build row dicts, Dataset.from_list."""
    import datasets

    from newscorpus.config import load_config, text_policy
    from newscorpus.corpus import current_annotations, iter_articles

    datasets.disable_progress_bars()
    cfg = load_config(corpus)
    lang = {}
    arts = []
    for a in iter_articles(cfg):
        lang[a.id] = a.language
        policy = text_policy(cfg, a.source, a.synthetic)
        arts.append(
            {
                "id": a.id,
                "url": a.url,
                "canonical_url": a.canonical_url,
                "source": a.source,
                "site": a.site,
                "title": a.title,
                "text": a.text if policy == "full" else None,
                "text_sha256": a.text_sha256,
                "text_policy": policy,
                "language": a.language,
                "authors": a.authors,
                "published": a.published,
                "dup_cluster": a.dup_cluster,
                "topic_terms": a.topic_terms,
                "fetched_at": a.fetched_at,
                "extractor": a.extractor,
                "synthetic": a.synthetic,
            }
        )
    anns = [
        {
            "article_id": x.article_id,
            "annotator": x.annotator,
            "stance": [{"target": t, "label": v} for t, v in sorted(x.stance.items())],
            "spans": x.spans,
            "created_at": x.created_at,
            "updated_at": x.updated_at,
            "language": lang[x.article_id],
        }
        for x in current_annotations(cfg)
    ]
    out.mkdir(parents=True)
    datasets.Dataset.from_list(arts).to_parquet(str(out / "articles.parquet"))
    datasets.Dataset.from_list(anns).to_parquet(str(out / "annotations.parquet"))
    print(json.dumps({"rows": len(arts) + len(anns)}))


def child_validate(corpus: Path, out: Path) -> None:
    from newscorpus.config import load_config
    from newscorpus.validate import validate_loaded

    report = validate_loaded(load_config(corpus))
    print(json.dumps({"rows": sum(report.records.values()), "errors": len(report.errors)}))


def _vmhwm_mb() -> float:
    """This process's own peak resident memory (ru_maxrss would carry the parent's over exec)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


CHILDREN = {"release": child_release, "baseline": child_baseline, "validate": child_validate}


def run_child(kind: str, corpus: Path, out: Path) -> dict[str, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, kind, str(corpus), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = TreeSampler(proc.pid)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    if proc.returncode:
        print(stderr[-3000:])
        raise SystemExit(f"{kind} failed")
    lines = stdout.strip().splitlines()
    data = json.loads(lines[-2])
    peaks = json.loads(lines[-1])
    return {
        "wall": wall,
        "peak_mb": sampler.peak_mb if kind == "release" else peaks["self_mb"],
        "tree_mb": sampler.peak_mb,
        "self_mb": peaks["self_mb"],
        "children_mb": peaks["children_mb"],
        "rows": data["rows"],
    }


def main() -> int:
    if len(sys.argv) == 4:
        kind, corpus, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
        CHILDREN[kind](corpus, out)
        usage = resource.getrusage
        peaks = {
            "self_mb": _vmhwm_mb(),
            "children_mb": usage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        }
        print(json.dumps(peaks))
        return 0
    corpus, took = cached_corpus(N)
    load = os.getloadavg()[0]
    made = f"written in {took:.1f} s" if took is not None else "cached in .bench-cache/release/"
    print(
        f"corpus: {N} articles, {3 * N} annotations, {N // 5 + (N % 5 > 0)} aggregates "
        f"{made} (load average {load:.1f} before the release)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-release-") as tmp:
        rel = run_child("release", corpus, Path(tmp) / "release")
        base = None if SKIP_BASELINE else run_child("baseline", corpus, Path(tmp) / "baseline")
        val = run_child("validate", corpus, Path(tmp) / "validate")
    print(
        f"release  (validate, build, scan, load back, git commit + tag): {rel['wall']:7.1f} s, "
        f"peak {rel['peak_mb']:6.0f} MB (the build process and its forked validation together; "
        f"the build process alone peaked at {rel['self_mb']:.0f} MB resident), "
        f"{rel['rows']:.0f} rows in 4 configs"
    )
    print(f"release wall time per 100,000 articles: {rel['wall'] / N * 1e5:.1f} s")
    if base is None:
        print("baseline (Dataset.from_list(rows).to_parquet): skipped at this size (about 20 GB)")
    else:
        print(
            f"baseline (Dataset.from_list(rows).to_parquet, articles + annotations): "
            f"{base['wall']:7.1f} s, peak {base['peak_mb']:6.0f} MB, {base['rows']:.0f} rows"
        )
    print(
        f"validate.validate_loaded alone (the release runs it in a forked process beside the "
        f"build): {val['wall']:7.1f} s, peak {val['peak_mb']:6.0f} MB ({val['rows']:.0f} records)"
    )
    ok = rel["peak_mb"] < GOAL_MB
    if base is not None:
        ratio = rel["wall"] / base["wall"]
        ok = ok and ratio <= 1.0
        print(
            f"release / baseline wall time: {ratio:.2f} (goal <= 1.00); "
            f"release peak {rel['peak_mb']:.0f} MB (goal < {GOAL_MB} MB)"
        )
    else:
        ok = ok and rel["wall"] < GOAL_1M_S
        print(
            f"release {rel['wall']:.0f} s (goal < {GOAL_1M_S:.0f} s); "
            f"release peak {rel['peak_mb']:.0f} MB (goal < {GOAL_MB} MB)"
        )
    print("goal met" if ok else "GOAL NOT MET")
    return 0


SECTION = re.compile(r"<!-- articles=(\d+) -->\n(.*?)(?=<!-- articles=\d+ -->|\Z)", re.S)


def record(doc: Path, printed: str) -> None:
    """Put this size's printout into its section of the bench_release block of ``doc`` (the
    other sizes' sections are kept; text of the block from before sections counts as 100,000's)."""
    begin, end = markers("bench_release")
    text = doc.read_text(encoding="utf-8")
    head, _, rest = text.partition(begin)
    body, _, tail = rest.partition(end)
    sections = {int(n): t.strip("\n") for n, t in SECTION.findall(body)}
    if not sections and body.strip():
        sections[100_000] = body.strip("\n")
    sections[N] = "\n".join(
        [
            f"Printed by `benchmarks/bench_release.py` on {time.strftime('%Y-%m-%d')}"
            f" ({os.cpu_count()} cores) at {N:,} articles:",
            "",
            "```text",
            printed.strip("\n"),
            "```",
        ]
    )
    parts = [f"<!-- articles={n} -->\n{sections[n]}" for n in sorted(sections)]
    block = begin + "\n\n" + "\n\n".join(parts) + "\n\n" + end
    doc.write_text(head + block + tail, encoding="utf-8")
    print(f"\nwritten to {doc.relative_to(ROOT) if doc.is_relative_to(ROOT) else doc}")


if __name__ == "__main__":
    if len(sys.argv) == 4:  # a child: prints JSON for the parent
        raise SystemExit(main())
    buffer = io.StringIO()

    class _Tee(io.TextIOBase):
        def write(self, s: str) -> int:
            sys.__stdout__.write(s)
            return buffer.write(s)

    with contextlib.redirect_stdout(_Tee()):
        code = main()
    if N in RECORDED and "--no-write" not in sys.argv:
        record(ROOT / "docs" / "release-bench.md", buffer.getvalue())
    raise SystemExit(code)
