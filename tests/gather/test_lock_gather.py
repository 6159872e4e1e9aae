"""Two `gather` runs on one corpus: one gathers, the other is refused at once; nothing twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from newscorpus.store import read_jsonl
from tests.conftest import REPO
from tests.gather.conftest import LocalServer
from tests.gather.test_resume import serve_many


def test_two_gathers_at_once_store_each_article_once(
    server: LocalServer, make_corpus: Callable[..., Path]
) -> None:
    feed = serve_many(server, n_pages=30, delay=0.5)  # the first run lasts several seconds
    root = make_corpus([("feed", "feed", feed)], allow=[server.hostport])
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NEWSCORPUS_WORKERS": "1"}
    cmd = [sys.executable, "-m", "newscorpus.cli", "--corpus", str(root), "gather"]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while len(server.hits) < 3 and time.monotonic() < deadline:  # first is gathering
            time.sleep(0.02)
        assert first.poll() is None
        started = time.monotonic()
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert time.monotonic() - started < 10
        assert second.returncode == 1, (first.poll(), second.stderr)
        assert second.stderr.strip().startswith(
            f"error: {root}: in use by `newscorpus gather` (pid {first.pid}, since "
        )
        assert first.wait(timeout=120) == 0
    finally:
        first.kill()
        first.wait()
    ids = [r["id"] for f in (root / "articles").glob("*.jsonl") for r in read_jsonl(f)]
    assert ids and max(Counter(ids).values()) == 1
    rejected = [(r["url"], r["reason"]) for r in read_jsonl(root / "rejected.jsonl")]
    assert max(Counter(rejected).values()) == 1
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert len([r for f in (root / "articles").glob("*.jsonl") for r in read_jsonl(f)]) == len(ids)
