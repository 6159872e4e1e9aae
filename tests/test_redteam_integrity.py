"""Red-team of the integrity promises (docs/corpus-folder.md, "What is guaranteed"): one writer
per corpus, torn lines, stop signals, bounded JSON, tried the way users and the world break them.
Real processes, real files."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config
from newscorpus.corpus import add_articles
from newscorpus.gather.pipeline import gather
from newscorpus.lock import CorpusBusy, is_locked
from newscorpus.store import iter_lines
from tests.conftest import MINIMAL_TOML, make_article, snapshot, write_corpus
from tests.gather.conftest import LocalServer, marked_pids, source_toml
from tests.gather.test_processes import left_after, new_corpus, start, wait_mid_run
from tests.gather.test_resume import serve_many
from tests.test_lock import hold

Cli = Callable[..., Any]


@pytest.fixture
def holder(corpus_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the corpus lock as `newscorpus gather`."""
    add_articles(load_config(corpus_dir), [make_article(1)])
    proc = hold(corpus_dir, "gather")
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


# --- one writer per corpus -------------------------------------------------------------------


@pytest.mark.parametrize("how", ["rm -r .newscorpus", "lock file replaced"])
def test_a_lock_file_deleted_while_held_lets_no_second_writer_in(
    corpus_dir: Path, holder: subprocess.Popen[str], cli: Cli, how: str
) -> None:
    """`git clean -fdX` takes the ignored .newscorpus/ from under a running gather: the next
    writer used to lock a new file beside it and write the corpus at the same time."""
    state = corpus_dir / ".newscorpus"
    if how == "rm -r .newscorpus":
        shutil.rmtree(state)
    else:
        (state / "lock").unlink()
        (state / "lock").write_text("")
    assert is_locked(corpus_dir)
    before = snapshot(corpus_dir)
    res = cli("--corpus", corpus_dir, "aggregate")
    assert res.exit_code == 1, res.output
    line = res.stderr.strip()
    assert "\n" not in line and "in use by" in line, line
    assert snapshot(corpus_dir) == before  # no annotations/aggregate.jsonl


def test_the_same_corpus_by_another_path_is_the_same_lock(
    corpus_dir: Path, holder: subprocess.Popen[str], cli: Cli, tmp_path: Path
) -> None:
    link = tmp_path / "link"
    link.symlink_to(corpus_dir)
    for path in (link, f"{corpus_dir}/", f"{corpus_dir}/../{corpus_dir.name}"):
        res = cli("--corpus", path, "aggregate")
        assert res.exit_code == 1 and "in use by `newscorpus gather`" in res.stderr, res.output


def test_a_library_gather_beside_a_running_gather_is_refused(tmp_path: Path) -> None:
    """The Python API used to write beside the CLI: gather() took no lock of its own."""
    root = tmp_path / "lib-corpus"
    toml = MINIMAL_TOML + source_toml("feed", "feed", "http://127.0.0.1:9/feed.xml")
    write_corpus(root, toml)
    busy = hold(root, "gather")
    try:
        before = snapshot(root)
        with pytest.raises(CorpusBusy, match="in use by `newscorpus gather`"):
            gather(load_config(root))
        assert snapshot(root) == before
    finally:
        busy.kill()
        busy.wait()


@pytest.mark.parametrize("kind", ["file", "dangling link"])
def test_a_state_folder_that_is_not_a_folder_is_named(
    corpus_dir: Path, cli: Cli, kind: str
) -> None:
    state = corpus_dir / ".newscorpus"
    if kind == "file":
        state.write_text("not a folder\n")
    else:
        state.symlink_to(corpus_dir / "gone")
    before = snapshot(corpus_dir)
    res = cli("--corpus", corpus_dir, "aggregate")
    assert res.exit_code == 1
    line = res.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"error: {state}: is not a folder"), line
    assert snapshot(corpus_dir) == before


# --- torn lines ------------------------------------------------------------------------------


def test_a_torn_line_that_cannot_be_kept_aside_is_one_line_and_changes_nothing(
    corpus_dir: Path, cli: Cli
) -> None:
    """<file>.torn in the way (a folder here; read-only for a non-root user) used to end the
    writing command with an IsADirectoryError/PermissionError traceback."""
    add_articles(load_config(corpus_dir), [make_article(1)])
    path = corpus_dir / "annotations" / "aggregate.jsonl"  # aggregate rewrites this file
    path.write_bytes(b'{"id": "half a rec')
    (corpus_dir / "annotations" / "aggregate.jsonl.torn").mkdir()
    before = snapshot(corpus_dir)
    res = cli("--corpus", corpus_dir, "aggregate")
    assert res.exit_code == 1, res.output
    line = res.stderr.strip()
    assert "\n" not in line and "Traceback" not in res.output
    assert line.startswith(f"error: {path}.torn: cannot keep the torn last line"), line
    assert snapshot(corpus_dir) == before


def test_zero_filled_blocks_after_a_power_loss_are_a_torn_tail(corpus_dir: Path, cli: Cli) -> None:
    """Some file systems leave NUL bytes after the last newline: a torn tail, never an error."""
    cfg = load_config(corpus_dir)
    add_articles(cfg, [make_article(1), make_article(2)])
    path = corpus_dir / "articles" / "test.jsonl"
    with path.open("ab") as fh:
        fh.write(b"\x00" * 4096)
    assert [line.number for line in iter_lines(path)] == [1, 2]
    check = cli("--corpus", corpus_dir, "validate")
    assert check.exit_code == 0 and "torn last line (4096 bytes" in check.stderr, check.output
    add_articles(cfg, [make_article(3)])  # the next append to the file moves it aside
    assert (corpus_dir / "articles" / "test.jsonl.torn").read_bytes() == b"\x00" * 4096 + b"\n"
    assert "torn" not in cli("--corpus", corpus_dir, "validate").stderr


# --- bounded input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "named"),
    [
        (b'\xef\xbb\xbf{"id": "x"}\n', "byte order mark (BOM)"),  # Notepad, Excel's CSV export
        (b'{"id": "\\ud800"}\n', "surrogate"),  # a lone UTF-16 surrogate escape
    ],
    ids=["bom", "lone-surrogate"],
)
def test_json_the_stdlib_reads_but_orjson_refuses_is_named(
    corpus_dir: Path, cli: Cli, line: bytes, named: str
) -> None:
    """Both used to say only `malformed JSON: not valid JSON (column 1)`."""
    path = corpus_dir / "articles" / "hand.jsonl"
    path.write_bytes(line)
    res = cli("--corpus", corpus_dir, "validate")
    assert res.exit_code == 1
    assert f"{path}:1: (line): malformed JSON: " in res.stderr and named in res.stderr, res.stderr
    agg = cli("--corpus", corpus_dir, "stats")
    assert agg.exit_code == 1 and named in agg.stderr and "\n" not in agg.stderr.strip()


# --- processes -------------------------------------------------------------------------------


@pytest.fixture
def running() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_sighup_ends_gather_as_cleanly_as_sigterm(
    tmp_path: Path, run_marker: str, running: list[subprocess.Popen[bytes]], cli: Cli
) -> None:
    """The terminal closes: SIGHUP to the whole foreground group. It used to kill gather at once
    (exit -1, unflushed batch lost, no message) instead of the clean stop of SIGTERM."""
    server = LocalServer().start()
    try:
        feed = serve_many(server, 120, 0.15)
        root = new_corpus(tmp_path, feed, server.hostport)
        proc = start(root, run_marker)
        running.append(proc)
        wait_mid_run(root, proc)
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGHUP)
        assert proc.wait(timeout=10) == 128 + signal.SIGHUP
        assert left_after(run_marker, 5.0 - (time.monotonic() - t0)) == []
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        assert "Traceback" not in stderr, stderr
        assert "stopped by SIGHUP" in stderr and "run the command again" in stderr, stderr
        check = cli("--corpus", root, "validate")
        assert check.exit_code == 0 and "torn" not in check.stderr, check.output
    finally:
        server.stop()
    assert marked_pids(run_marker) == []


def test_every_reader_takes_a_complete_json_torn_line_for_no_record(corpus_dir: Path) -> None:
    """A last line that is a whole JSON object but has no newline is still a torn write: the
    release's Arrow reader used to count it as a record while store, validate and stats did not
    (a library make_release, or demo, reads without the CLI's repair first)."""
    from newscorpus.corpus import load_articles
    from newscorpus.release.tables import read_articles
    from newscorpus.store import dumps

    cfg = load_config(corpus_dir)
    add_articles(cfg, [make_article(1)])
    path = corpus_dir / "articles" / "test.jsonl"
    with path.open("ab") as fh:
        fh.write(dumps(make_article(2).to_dict()).encode())  # complete, no newline
    assert len(load_articles(cfg)) == 1
    assert read_articles(cfg).height == 1
