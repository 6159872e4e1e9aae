"""One writer per corpus: an exclusive flock on ``<corpus>/.newscorpus/lock``.

The kernel holds the lock for the open file, so a holder that dies (kill -9, power loss)
releases it without a manual step; the file only carries who holds it (command, pid,
since when) for the refusal message. The corpus folder itself is locked too: a lock file
deleted while held (``git clean -X`` takes the ignored ``.newscorpus/``, a user cleans up)
would otherwise let the next command lock a new file beside the running writer. Forked children (gather's extraction workers) close
their copy of the descriptor, so a child that outlives its parent never keeps the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from .errors import NewscorpusError

LOCK_NAME = "lock"
# How long a writer waits for a reader's momentary peek (see is_locked) before it refuses.
_GRACE_S = 0.5


class CorpusBusy(NewscorpusError):
    """Another command holds the corpus's write lock (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class Holder:
    """Who holds a corpus lock."""

    command: str
    pid: int
    since: str

    def describe(self) -> str:
        return f"`newscorpus {self.command}` (pid {self.pid}, since {self.since})"


# Locks this process holds: resolved lock path -> [file fd, folder fd, depth]. Nested takes
# are free.
_held: dict[Path, list[int]] = {}


def _close_in_child() -> None:
    for fd, dir_fd, _depth in _held.values():
        for d in (fd, dir_fd):
            with contextlib.suppress(OSError):
                os.close(d)  # drops the child's reference only; the parent keeps the lock
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


def lock_path(root: Path) -> Path:
    """Where a corpus's lock file lives."""
    return root / ".newscorpus" / LOCK_NAME


def read_holder(path: Path) -> Holder | None:
    """The holder recorded in a lock file, or None when unreadable or empty."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Holder(str(data["command"]), int(data["pid"]), str(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_locked(root: Path) -> bool:
    """True while some command holds the corpus's write lock (a momentary shared peek)."""
    path = lock_path(root)
    if Path(path.resolve()) in _held:
        return True
    return any(_peek(p) for p in (root, path))


def _peek(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _try_both(dir_fd: int, fd: int) -> bool:
    """Both locks or neither: the folder's first (it cannot be deleted under a holder)."""
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        fcntl.flock(dir_fd, fcntl.LOCK_UN)
        return False


def _acquire(dir_fd: int, fd: int) -> bool:
    deadline = time.monotonic() + _GRACE_S
    while True:
        if _try_both(dir_fd, fd):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _open_lock(path: Path, root: Path) -> tuple[int, int]:
    """(lock file fd, corpus folder fd); CorpusBusy with one line when either cannot be opened."""
    state = path.parent
    if (state.is_symlink() or state.exists()) and not state.is_dir():
        raise CorpusBusy(
            f"{state}: is not a folder (a file or a broken link); move it aside and run "
            "this again (newscorpus keeps its lock, caches and ledgers there)"
        )
    try:
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise CorpusBusy(f"{path}: cannot open the lock file: {exc.strerror}") from None
    try:
        dir_fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        os.close(fd)
        raise CorpusBusy(f"{root}: cannot open the folder to lock it: {exc.strerror}") from None
    return fd, dir_fd


@contextlib.contextmanager
def corpus_lock(root: Path, command: str, lock_file: Path | None = None) -> Iterator[Holder]:
    """Hold the corpus's exclusive write lock for the block; CorpusBusy if another holds it.

    ``lock_file`` replaces ``<root>/.newscorpus/lock`` for folders that are not corpora
    (a release folder that hydrate fills in).
    """
    path = lock_file or lock_path(root)
    key = Path(path.resolve())
    if key in _held:  # this process holds it already (a command calling another)
        _held[key][2] += 1
        try:
            yield Holder(command, os.getpid(), "")
        finally:
            _held[key][2] -= 1
        return
    fd, dir_fd = _open_lock(path, root)
    try:
        if not _acquire(dir_fd, fd):
            holder = read_holder(path)
            who = holder.describe() if holder else "another newscorpus command"
            raise CorpusBusy(
                f"{root}: in use by {who}; nothing was changed, run this again when it has finished"
            )
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        me = Holder(command, os.getpid(), since)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me.__dict__).encode("utf-8"), 0)
        _held[key] = [fd, dir_fd, 1]
        try:
            yield me
        finally:
            del _held[key]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            fcntl.flock(dir_fd, fcntl.LOCK_UN)
    finally:
        for d in (fd, dir_fd):
            with contextlib.suppress(OSError):
                os.close(d)


class _Corpus(Protocol):
    @property
    def root(self) -> Path: ...


P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=_Corpus)


def writes_corpus(
    command: str,
) -> Callable[[Callable[Concatenate[C, P], R]], Callable[Concatenate[C, P], R]]:
    """Make a library entry point (first argument: the Config) hold the corpus lock while it runs."""

    def decorate(fn: Callable[Concatenate[C, P], R]) -> Callable[Concatenate[C, P], R]:
        @functools.wraps(fn)
        def locked(cfg: C, /, *args: P.args, **kwargs: P.kwargs) -> R:
            with corpus_lock(cfg.root, command):
                return fn(cfg, *args, **kwargs)

        return locked

    return decorate
