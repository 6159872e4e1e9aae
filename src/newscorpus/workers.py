"""Worker processes that end with their parent and leave Ctrl-C to it.

Every forked pool worker (gather's extraction, release's validation) runs init_worker: the
kernel kills it when its parent dies (Linux prctl), a watch thread does where prctl is missing,
and it ignores SIGINT, since Ctrl-C signals the whole process group and the parent decides.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

# Ctrl-C, kill, and the terminal closing (SIGHUP): each ends a run the same clean way.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
PARENT_POLL = 0.5  # seconds between two looks of a worker's parent watch
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _death_signal() -> bool:
    """Linux: ask the kernel to SIGKILL this process when its parent dies (prctl)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent: int, interval: float = PARENT_POLL) -> threading.Thread:
    """Portable: a daemon thread that ends this process once ``parent`` is no longer its parent
    (a dead parent's children are re-parented, so getppid() changes)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    thread = threading.Thread(target=watch, name="newscorpus-parent-watch", daemon=True)
    thread.start()
    return thread


def init_worker(parent: int) -> None:
    """Initializer of every pool worker: it dies with ``parent`` however that ends (SIGKILL too),
    and ignores SIGINT (Ctrl-C signals the whole process group; the parent decides)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for s in STOP_SIGNALS[1:]:  # not the parent's handler, inherited by fork
        if signal.getsignal(s) is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored
            signal.signal(s, signal.SIG_DFL)
    _death_signal()
    if os.getppid() != parent:  # the parent died before the death signal was set
        os._exit(1)
    watch_parent(parent)  # the fallback where prctl is missing
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by make_pool


@contextlib.contextmanager
def blocked(signals: tuple[signal.Signals, ...]) -> Iterator[None]:
    """Signals blocked in this thread for the block (a fork inherits the mask)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
