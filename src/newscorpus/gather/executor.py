"""Where gather's shard work runs: a process pool of forked workers, or the calling process.

``make_pool`` starts the pool (None: run in this process) and ``ordered_map`` maps a batch
function over items in it, results in input order. The full executor seam (serial, local pool,
Ray) is the archive-scale issue's; this module is the part of it the stages already use.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from ..workers import STOP_SIGNALS, blocked, init_worker
from .extract import extractor_name
from .language import detect
from .topic import fold

T = TypeVar("T")
R = TypeVar("R")
Pool = ProcessPoolExecutor  # the pool type the stages take (None: no pool, run here)
POOL_BATCH = 4


def _warm() -> None:
    extractor_name()
    detect("warm up")
    fold("warm up")


# --- worker processes: they end with their parent, and leave Ctrl-C to it (see workers.py) ---

STOP_GRACE = 2.0  # seconds a stopped run gives its workers to finish their batch and exit


def default_workers() -> int:
    """Worker processes when ``[gather] workers`` is not set: one per core, at most 8."""
    return min(os.cpu_count() or 1, 8)


def make_pool(workers: int | None = None) -> Pool | None:
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


def ordered_map(
    pool: ProcessPoolExecutor | None,
    fn: Callable[[list[T]], list[R]],
    items: Iterable[T],
    batch: int = POOL_BATCH,
) -> Iterator[R]:
    """``fn`` over batches of ``items`` in the pool, results in input order, a bounded window."""
    it = iter(items)

    def chunks() -> Iterator[list[T]]:
        while True:
            chunk = [x for _, x in zip(range(batch), it, strict=False)]
            if not chunk:
                return
            yield chunk

    if pool is None:
        for chunk in chunks():
            yield from fn(chunk)
        return
    window = (os.cpu_count() or 2) * 3
    pending: list[Future[list[R]]] = []
    source = chunks()
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
    finally:
        for f in pending:
            f.cancel()
