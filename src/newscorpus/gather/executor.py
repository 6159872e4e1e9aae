"""Where gather's shard work runs: one small interface, three ways to run it.

An ``Executor`` maps a batch function over items, results in input order (``map``), and is
closed when the run ends (``close``; a context manager too). The stages hand it their work
(extraction, language, signatures: pure functions of their input) and never know how it runs:

- ``ProcessExecutor`` ("local", the default): a pool of forked worker processes that end with
  their parent and leave Ctrl-C to it (workers.py); one worker runs the work in this process;
- ``SerialExecutor`` ("serial"): everything in this process, in order (debugging, tests);
- ``RayExecutor`` ("ray", executor_ray.py, imported only when chosen): Ray tasks on a cluster.

pipeline.make_executor makes the one that ``[gather] executor`` names.

The driver stays the single writer (dedup, appends, rejections happen in the caller, in input
order), so every executor gives the same corpus.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, Protocol, TypeVar

from ..errors import NewscorpusError
from ..workers import STOP_SIGNALS, blocked, init_worker
from .extract import extractor_name
from .language import detect
from .topic import fold

T = TypeVar("T")
R = TypeVar("R")
POOL_BATCH = 4


class WorkerLost(NewscorpusError):
    """A worker running shard work died (killed, out of memory) and its work was not redone."""


class Executor(Protocol):
    """Runs batch functions over items, results in input order (see the module's header)."""

    def map(
        self, fn: Callable[[list[T]], list[R]], items: Iterable[T], batch: int = POOL_BATCH
    ) -> Iterator[R]:
        """``fn`` over batches of ``items`` (at most ``batch`` each), results in input order."""
        ...

    def close(self, stopped: bool = False) -> None:
        """Release the workers; a ``stopped`` run does not wait for work in flight."""
        ...

    def __enter__(self) -> Executor: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def chunked(items: Iterable[T], batch: int) -> Iterator[list[T]]:
    """``items`` in lists of ``batch`` (the last one shorter)."""
    it = iter(items)
    while True:
        chunk = [x for _, x in zip(range(batch), it, strict=False)]
        if not chunk:
            return
        yield chunk


class _Closing:
    """The context manager part of an executor: close() on the way out (stopped on an error)."""

    def close(self, stopped: bool = False) -> None:
        raise NotImplementedError

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(stopped=exc is not None)


class SerialExecutor(_Closing):
    """Everything in this process, in order."""

    def map(
        self, fn: Callable[[list[T]], list[R]], items: Iterable[T], batch: int = POOL_BATCH
    ) -> Iterator[R]:
        for chunk in chunked(items, batch):
            yield from fn(chunk)

    def close(self, stopped: bool = False) -> None:
        pass


def _warm() -> None:
    extractor_name()
    detect("warm up")
    fold("warm up")


# --- the local process pool: workers end with their parent, and leave Ctrl-C to it (workers.py) ---

STOP_GRACE = 2.0  # seconds a stopped run gives its workers to finish their batch and exit


def default_workers() -> int:
    """Worker processes when ``[gather] workers`` is not set: one per core, at most 8."""
    return min(os.cpu_count() or 1, 8)


def make_pool(workers: int | None = None) -> ProcessPoolExecutor | None:
    """A process pool of ``workers`` processes (default_workers() when None), started now
    (before any thread); None for one worker (the work then runs in this process).

    The workers are forked with the stop signals (SIGINT, SIGTERM, SIGHUP) blocked, so none runs the parent's handlers
    before init_worker has set its own (a signal sent meanwhile waits, it is not lost)."""
    n = workers if workers is not None else default_workers()
    if n <= 1:
        return None
    _warm()  # imported and loaded once, then shared with the forked workers
    pool = ProcessPoolExecutor(
        n,
        mp_context=multiprocessing.get_context("fork"),
        initializer=init_worker,
        initargs=(os.getpid(),),
    )
    try:
        with blocked(STOP_SIGNALS):
            warm = [pool.submit(_warm) for _ in range(n)]  # the first submit forks them all
        for f in warm:
            f.result()
    except BaseException:
        close_pool(pool, stopped=True)
        raise
    return pool


def close_pool(pool: ProcessPoolExecutor, stopped: bool = False) -> None:
    """Shut the pool down, queued batches cancelled. A stopped run does not wait for its
    workers: they get STOP_GRACE seconds to finish the batch at hand, then are killed (their
    results would be thrown away anyway)."""
    if not stopped:
        pool.shutdown(wait=True, cancel_futures=True)
        return
    procs = list((pool._processes or {}).values())  # the workers, all forked by make_pool
    pool.shutdown(wait=False, cancel_futures=True)
    multiprocessing.connection.wait([p.sentinel for p in procs], timeout=STOP_GRACE)
    for p in procs:
        if p.is_alive():
            p.kill()
    for p in procs:
        p.join(timeout=STOP_GRACE)


class ProcessExecutor(_Closing):
    """A pool of ``workers`` forked processes (make_pool), started when made; with one worker
    the work runs in this process. A worker that dies is a WorkerLost."""

    def __init__(self, workers: int | None = None) -> None:
        self.pool = make_pool(workers)

    def map(
        self, fn: Callable[[list[T]], list[R]], items: Iterable[T], batch: int = POOL_BATCH
    ) -> Iterator[R]:
        pool = self.pool
        if pool is None:
            for chunk in chunked(items, batch):
                yield from fn(chunk)
            return
        window = (os.cpu_count() or 2) * 3
        pending: list[Future[list[R]]] = []
        source = chunked(items, batch)
        try:
            for chunk in source:
                pending.append(pool.submit(fn, chunk))
                if len(pending) >= window:
                    break
            while pending:
                results = pending.pop(0).result()
                nxt = next(source, None)
                if nxt is not None:
                    pending.append(pool.submit(fn, nxt))
                yield from results
        except BrokenProcessPool:
            raise WorkerLost("an extraction worker died (killed, or out of memory?)") from None
        finally:
            for f in pending:
                f.cancel()

    def close(self, stopped: bool = False) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            close_pool(pool, stopped=stopped)
