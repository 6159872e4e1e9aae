"""The archive benchmark's generator makes what docs/archive-bench.md says: valid gzip WARC shards
of distinct synthetic pages of 50-100 KB of HTML, exactly the promised number on topic, the
others holding no topic term anywhere (not even where the prefilter looks). The benchmark itself
is never run by the suite."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from newscorpus.gather.extract import extract_html
from newscorpus.gather.prefilter import Prefilter
from newscorpus.gather.topic import TopicMatcher
from newscorpus.gather.warc import file_items

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_archive", BENCH / "bench_archive.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_archive"] = module  # dataclasses and the generator's pool look it up
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    yield module
    sys.modules.pop("bench_archive", None)


def test_the_generated_shards_hold_distinct_synthetic_pages_exactly_one_percent_on_topic(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    ds = bench.DataSet("1%", 200, 100, 2)
    folder = bench.ensure_data(ds)
    shards = sorted(folder.glob("*.warc.gz"))
    assert len(shards) == 2
    assert bench.ensure_data(ds) == folder  # cached: not made again
    assert sorted(folder.glob("*.warc.gz")) == shards

    items = [i for f in shards for i in file_items(f, "archive", 10_000_000, f.name)]
    assert all(not i.reason for i in items)  # every record complete (gzip members ended)
    assert len(items) == 200
    bodies = [i.body or b"" for i in items]
    assert len({i.url for i in items}) == 200 and len(set(bodies)) == 200
    assert all(50_000 <= len(b) <= 100_000 for b in bodies), sorted(len(b) for b in bodies)[:3]
    assert all(b'<meta name="synthetic" content="true">' in b for b in bodies)

    prefilter = Prefilter(bench.TERMS)
    passed = [n for n, b in enumerate(bodies) if prefilter.may_match(b, None)]
    assert len(passed) == 2  # off-topic pages have no term, not even in scripts or meta

    matcher = TopicMatcher(bench.TERMS)
    for n in [*passed, 0 if 0 not in passed else 1]:
        ex = extract_html(bodies[n], "text/html; charset=utf-8", items[n].url)
        assert ex.synthetic
        assert bool(matcher.matches(ex.title, ex.text)) == (n in passed)
        # the meta tags news sites write (docs/archive-bench.md): read as the article's metadata
        assert ex.authors and len(ex.authors[0].split()) == 2
        assert ex.published is not None and ex.published.startswith("2024-05-")
        assert ex.site is not None and ex.site.endswith(".news.example")
