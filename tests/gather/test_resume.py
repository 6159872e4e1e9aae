"""Never lose, never repeat: `newscorpus gather` killed mid-run, then rerun, equals one whole run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from newscorpus.config import load_config
from newscorpus.gather.pipeline import gather
from newscorpus.store import read_jsonl
from tests.conftest import REPO
from tests.gather.conftest import FIXTURES, RUN_MARKER, LocalServer, marked_pids, rss

N_PAGES = 90


def serve_many(server: LocalServer, n_pages: int = N_PAGES, delay: float = 0.1) -> str:
    """``n_pages`` synthetic pages (near copies, off-topic pages, 404s) behind one feed, each
    answered after ``delay`` seconds."""
    en = (FIXTURES / "en_fentanyl_labs.html").read_text(encoding="utf-8")
    es = (FIXTURES / "es_operaciones.html").read_text(encoding="utf-8")
    sports = (FIXTURES / "en_sports_menu.html").read_text(encoding="utf-8")
    links = []
    for i in range(n_pages):
        template = (en, es, sports)[i % 3]
        body = template.replace(
            'rel="canonical" href="',
            f'rel="canonical" href="https://s.example/{i}?x=',
        ).replace(
            "</div></article>", f"<p>Synthetic update number {i} for the test.</p></div></article>"
        )
        path = f"/n/{i}.html"
        if i % 10 == 7:
            links.append(server.url(f"/gone/{i}.html"))  # 404
            continue
        server.add(path, body=body.encode("utf-8"), delay=delay)
        links.append(server.url(path))
    server.add("/feed.rss", body=rss(links), ctype="application/rss+xml")
    return server.url("/feed.rss")


def corpus_state(root: Path) -> dict[str, Any]:
    arts = {}
    for f in sorted((root / "articles").glob("*.jsonl")):
        arts[f.name] = [
            {k: v for k, v in rec.items() if k != "fetched_at"} for rec in read_jsonl(f)
        ]
    rej = [(r["url"], r["stage"], r["reason"]) for r in read_jsonl(root / "rejected.jsonl")]
    return {"articles": arts, "rejected": sorted(rej), "n_rejected": len(rej)}


def run_cli(root: Path, marker: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "NEWSCORPUS_WORKERS": "2",
        RUN_MARKER: marker,  # its workers are found, and killed at teardown if still alive
    }
    return subprocess.Popen(
        [sys.executable, "-m", "newscorpus.cli", "--corpus", str(root), "gather"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_when(root: Path, min_lines: int, proc: subprocess.Popen[bytes], marker: str) -> None:
    target = root / "articles" / "feed.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if target.exists() and target.read_bytes().count(b"\n") >= min_lines:
            break
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while (left := marked_pids(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == [], "the killed run's workers are still alive"


def test_killed_and_rerun_equals_one_run(
    server: LocalServer, make_corpus: Callable[..., Path], run_marker: str
) -> None:
    feed = serve_many(server)
    whole = make_corpus([("feed", "feed", feed)], allow=[server.hostport], name="whole")
    gather(load_config(whole))
    expected = corpus_state(whole)
    n_articles = len(expected["articles"]["feed.jsonl"])
    assert n_articles == 54 and expected["n_rejected"] == 36
    clusters = {a["dup_cluster"] for a in expected["articles"]["feed.jsonl"]}
    assert len(clusters) == 2  # the English copies and the Spanish copies

    killed = make_corpus([("feed", "feed", feed)], allow=[server.hostport], name="killed")
    procs = []
    try:
        procs.append(first := run_cli(killed, run_marker))
        kill_when(killed, 1, first, run_marker)
        partial = corpus_state(killed)
        assert 0 < len(partial["articles"]["feed.jsonl"]) < n_articles
        procs.append(second := run_cli(killed, run_marker))
        kill_when(killed, len(partial["articles"]["feed.jsonl"]) + 1, second, run_marker)
        procs.append(last := run_cli(killed, run_marker))
        assert last.wait(timeout=120) == 0, last.stderr.read() if last.stderr else b""
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert corpus_state(killed) == expected
