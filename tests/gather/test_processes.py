"""The worker processes of `newscorpus gather` end with their parent, however the parent ends.

Real processes: the installed `newscorpus` script gathers from a slow local server and is killed
mid-run; its processes are found by a marker in their environment (forked workers share it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config, replace_gather
from newscorpus.gather.pipeline import gather
from tests.conftest import MINIMAL_TOML, write_corpus
from tests.gather.conftest import (
    GATHER_TOML,
    RUN_MARKER,
    LocalServer,
    marked_pids,
    source_toml,
)
from tests.gather.test_resume import corpus_state, serve_many

SCRIPT = Path(sys.executable).parent / "newscorpus"  # the venv's console script
N_PAGES = 120
DELAY = 0.15  # per page: with 4 fetches at a time the run takes several seconds


def start(root: Path, marker: str) -> subprocess.Popen[bytes]:
    """`newscorpus --corpus ROOT gather` in its own session (its pid is its process group)."""
    env = {**os.environ, RUN_MARKER: marker, "NEWSCORPUS_WORKERS": "2"}
    return subprocess.Popen(
        [str(SCRIPT), "--corpus", str(root), "gather"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                found.append(int(d.name))
    return found


def wait_mid_run(root: Path, proc: subprocess.Popen[bytes]) -> list[int]:
    """Wait until the run has written its first articles; return its worker pids."""
    target = root / "articles" / "feed.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        workers = children(proc.pid)
        if len(workers) >= 2 and target.exists() and target.read_bytes().count(b"\n") >= 1:
            return workers
        time.sleep(0.02)
    raise AssertionError("the run never got going")


def left_after(marker: str, seconds: float) -> list[int]:
    """The processes of the run still alive after waiting up to ``seconds`` for them to end."""
    deadline = time.monotonic() + seconds
    while (left := marked_pids(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@dataclass(frozen=True)
class SlowFeed:
    server: LocalServer
    feed: str
    expected: dict[str, Any]  # the corpus of one uninterrupted run


@pytest.fixture(scope="module")
def slow_feed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlowFeed]:
    """One slow server for the module, and the corpus an uninterrupted run gathers from it."""
    server = LocalServer().start()
    try:
        feed = serve_many(server, N_PAGES, DELAY)
        whole = new_corpus(tmp_path_factory.mktemp("whole"), feed, server.hostport)
        gather(replace_gather(load_config(whole), workers=2))
        yield SlowFeed(server, feed, corpus_state(whole))
    finally:
        server.stop()


def new_corpus(root: Path, feed: str, hostport: str) -> Path:
    toml = MINIMAL_TOML + source_toml("feed", "feed", feed)
    toml += GATHER_TOML.format(
        allow=f'"{hostport}"', max_bytes=300_000, timeout=1.0, retries=1, delay=0.0
    )
    return write_corpus(root / "corpus", toml)


@pytest.fixture
def running(run_marker: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Started runs are ended at teardown whatever happened (with run_marker for their workers)."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_sigkill_of_gather_ends_its_workers(
    slow_feed: SlowFeed, tmp_path: Path, run_marker: str, running: list[subprocess.Popen[bytes]]
) -> None:
    root = new_corpus(tmp_path, slow_feed.feed, slow_feed.server.hostport)
    proc = start(root, run_marker)
    running.append(proc)
    workers = wait_mid_run(root, proc)
    assert set(workers) <= set(marked_pids(run_marker))  # the marker finds them
    proc.kill()
    assert proc.wait() == -signal.SIGKILL
    assert left_after(run_marker, 5.0) == []


@pytest.mark.parametrize(
    ("sig", "whole_group", "code"),
    [
        (signal.SIGTERM, False, 143),  # `kill PID`
        (signal.SIGINT, True, 130),  # Ctrl-C in a terminal: the whole foreground group
        (signal.SIGTERM, True, 143),  # `kill -- -PGID`, a service manager stopping the group
    ],
    ids=["sigterm", "ctrl-c", "sigterm-group"],
)
def test_stopped_gather_ends_cleanly_and_resumes(
    slow_feed: SlowFeed,
    tmp_path: Path,
    run_marker: str,
    running: list[subprocess.Popen[bytes]],
    cli: Callable[..., Any],
    sig: signal.Signals,
    whole_group: bool,
    code: int,
) -> None:
    expected = slow_feed.expected
    n_articles = len(expected["articles"]["feed.jsonl"])
    root = new_corpus(tmp_path, slow_feed.feed, slow_feed.server.hostport)
    proc = start(root, run_marker)
    running.append(proc)
    wait_mid_run(root, proc)
    t0 = time.monotonic()
    if whole_group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    assert proc.wait(timeout=5) == code
    assert left_after(run_marker, 5.0 - (time.monotonic() - t0)) == []
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in stderr, stderr
    assert "run the command again to resume" in stderr, stderr
    partial = corpus_state(root)
    assert 0 < len(partial["articles"]["feed.jsonl"]) < n_articles  # it was stopped mid-run

    check = cli("--corpus", root, "validate")
    assert check.exit_code == 0, check.output
    rerun = start(root, run_marker)
    running.append(rerun)
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read() if rerun.stderr else b""
    assert corpus_state(root) == expected


def test_a_worker_killed_mid_run_is_a_one_line_error(
    slow_feed: SlowFeed,
    tmp_path: Path,
    run_marker: str,
    running: list[subprocess.Popen[bytes]],
    cli: Callable[..., Any],
) -> None:
    """The out-of-memory killer takes one worker: one line, exit 1, what was written is kept."""
    root = new_corpus(tmp_path, slow_feed.feed, slow_feed.server.hostport)
    proc = start(root, run_marker)
    running.append(proc)
    workers = wait_mid_run(root, proc)
    os.kill(workers[0], signal.SIGKILL)
    assert proc.wait(timeout=10) == 1
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("error: gather: an extraction worker died")
    assert left_after(run_marker, 5.0) == []
    assert cli("--corpus", root, "validate").exit_code == 0


ORPHAN = """
import os, sys, time
from newscorpus.workers import {setup}
if os.fork() == 0:
    {setup}(os.getppid())
    print(os.getpid(), flush=True)  # set up
    time.sleep(60)
    os._exit(0)
time.sleep(60)
"""


@pytest.mark.parametrize("setup", ["watch_parent", "init_worker"])
def test_a_worker_whose_parent_is_killed_ends(setup: str, run_marker: str) -> None:
    """watch_parent alone (the fallback where prctl is missing) and init_worker (prctl first)."""
    env = {**os.environ, RUN_MARKER: run_marker}
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN.format(setup=setup)], env=env, stdout=subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert child in marked_pids(run_marker)
        parent.kill()
        parent.wait()
        assert left_after(run_marker, 3.0) == []
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait()


def test_a_worker_forked_after_its_parent_died_exits_at_once() -> None:
    """The race: the parent dies before the initializer has set the death signal."""
    import multiprocessing

    from newscorpus.workers import init_worker

    proc = multiprocessing.get_context("fork").Process(target=init_worker, args=(os.getpid() + 1,))
    proc.start()
    proc.join(timeout=10)
    assert proc.exitcode == 1
