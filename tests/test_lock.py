"""One writer per corpus: a second writing command is refused at once, readers run beside it,
a dead holder's lock is taken over, and forked children never keep it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config
from newscorpus.corpus import add_articles
from newscorpus.lock import CorpusBusy, corpus_lock, is_locked
from tests.conftest import REPO, make_article, snapshot

Cli = Callable[..., Any]

WRITERS = [
    ["gather"],
    ["push"],
    ["pull"],
    ["agree"],
    ["aggregate"],
    ["adjudicate", "push"],
    ["adjudicate", "pull"],
    ["release", "--version", "1.0.0"],
    ["studio", "start"],
    ["studio", "stop"],
]

HOLD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from newscorpus.lock import corpus_lock
    with corpus_lock(Path(sys.argv[1]), sys.argv[2]):
        if len(sys.argv) > 3:  # a forked child that outlives its parent
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
        print("held", flush=True)
        if len(sys.argv) > 3:
            os._exit(0)  # the parent dies holding the lock; the child lives on
        time.sleep(60)
    """
)


def hold(root: Path, command: str = "gather", fork_child: bool = False) -> subprocess.Popen[str]:
    """Another process holding the corpus lock (started, lock taken, when this returns)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    args = [sys.executable, "-c", HOLD, str(root), command] + (["fork"] if fork_child else [])
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture
def holder(corpus_dir: Path) -> Iterator[subprocess.Popen[str]]:
    add_articles(load_config(corpus_dir), [make_article(1), make_article(2)])
    proc = hold(corpus_dir)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("command", WRITERS, ids=" ".join)
def test_a_second_writer_is_refused_at_once_and_changes_nothing(
    corpus_dir: Path, holder: subprocess.Popen[str], cli: Cli, command: list[str]
) -> None:
    before = snapshot(corpus_dir)
    started = time.monotonic()
    res = cli("--corpus", corpus_dir, *command)
    assert time.monotonic() - started < 5
    assert res.exit_code == 1, res.output
    line = res.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"error: {corpus_dir}: in use by `newscorpus gather` (pid {holder.pid}")
    assert "since 20" in line and "UTC" in line
    assert snapshot(corpus_dir) == before


def test_readers_run_beside_a_writer(
    corpus_dir: Path, holder: subprocess.Popen[str], cli: Cli
) -> None:
    for command in (["validate"], ["stats"], ["stats", "--json"], ["agree", "--json"]):
        res = cli("--corpus", corpus_dir, *command)
        assert res.exit_code in (0, 1), res.output
        assert "in use by" not in res.output, command
    assert cli("--corpus", corpus_dir, "stats").exit_code == 0
    assert cli("--corpus", corpus_dir, "validate").exit_code == 0


def test_a_dead_holders_lock_is_taken_over(corpus_dir: Path, cli: Cli) -> None:
    proc = hold(corpus_dir, "push")
    assert is_locked(corpus_dir)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not is_locked(corpus_dir)
    res = cli("--corpus", corpus_dir, "aggregate")
    assert "in use by" not in res.output
    with corpus_lock(corpus_dir, "gather") as me:
        assert me.pid == os.getpid()


def test_a_child_that_outlives_its_parent_does_not_keep_the_lock(corpus_dir: Path) -> None:
    proc = hold(corpus_dir, "gather", fork_child=True)
    proc.wait()
    children = [
        int(d.name)
        for d in Path("/proc").iterdir()
        if d.name.isdigit() and f"{corpus_dir}".encode() in (d / "cmdline").read_bytes()
    ]
    try:
        assert children, "the forked child should still be alive"
        deadline = time.monotonic() + 5  # the child closes its copy right after the fork
        while is_locked(corpus_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not is_locked(corpus_dir)
        with corpus_lock(corpus_dir, "gather"):
            pass
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)


def test_the_lock_is_reentrant_in_one_process_and_exclusive_across(corpus_dir: Path) -> None:
    with corpus_lock(corpus_dir, "demo"):
        with corpus_lock(corpus_dir, "gather"):
            assert is_locked(corpus_dir)
        assert is_locked(corpus_dir)
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from newscorpus.lock import corpus_lock\n"
                "with corpus_lock(Path(sys.argv[1]), 'push'): pass",
                str(corpus_dir),
            ],
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
            capture_output=True,
            text=True,
        )
        assert probe.returncode != 0
        assert CorpusBusy.__name__ in probe.stderr
        assert "`newscorpus demo`" in probe.stderr
    assert not is_locked(corpus_dir)


def test_hydrate_holds_a_lock_on_its_release_folder(tmp_path: Path, cli: Cli) -> None:
    release = tmp_path / "rel"
    (release / "data" / "articles").mkdir(parents=True)
    (release / "data" / "articles" / "train-v1.0.0-00000-of-00001.parquet").write_bytes(b"")
    lock = release / ".newscorpus-hydrate.lock"
    with corpus_lock(release, "hydrate", lock):
        proc = subprocess.run(
            [sys.executable, "-m", "newscorpus.cli", "hydrate", str(release)],
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
            capture_output=True,
            text=True,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith(f"error: {release}: in use by `newscorpus hydrate`")


def test_library_writers_take_the_lock_too(corpus_dir: Path, holder: subprocess.Popen[str]) -> None:
    """Python callers of the library, not only the CLI, are refused beside a writer."""
    from newscorpus.annotation.pull import pull
    from newscorpus.annotation.push import PushOptions, push
    from newscorpus.labelstudio import server
    from newscorpus.labelstudio.backend import LabelStudioBackend
    from newscorpus.labelstudio.export import pull_export
    from newscorpus.quality.adjudicate import pull as adjudicate_pull
    from newscorpus.quality.aggregate import aggregate
    from tests.release.helpers import make_release

    cfg = load_config(corpus_dir)
    backend = LabelStudioBackend("http://127.0.0.1:9", "never-sent-token", cfg)  # not contacted
    before = snapshot(corpus_dir)
    calls: list[Callable[[], Any]] = [
        lambda: aggregate(cfg),
        lambda: make_release(cfg, version="1.0.0", to=corpus_dir.parent / "rel"),
        lambda: push(cfg, options=PushOptions(), backend=backend),
        lambda: adjudicate_pull(cfg, backend=backend),
        lambda: pull(cfg, backend=backend),
        lambda: pull_export(cfg, corpus_dir / "export.json"),
        lambda: server.start(cfg),
        lambda: server.stop(cfg),
    ]
    for call in calls:
        with pytest.raises(CorpusBusy, match=f"pid {holder.pid}"):
            call()
    assert snapshot(corpus_dir) == before
    assert not (corpus_dir.parent / "rel").exists()
