"""The Ray executor: gather's shard work as Ray tasks (imported only for ``executor = "ray"``).

``RayExecutor(address)`` joins the cluster at ``address`` (``[gather] ray_address``, or
``RAY_ADDRESS`` through the CLI) or, with None, starts a local Ray instance that ends with the
run. Batches are Ray tasks; a task whose worker or node died is retried by Ray (``MAX_RETRIES``)
on another node. Results come back in input order, so the driver, the single writer, sees the
same sequence as with any other executor. The command line turns Ray's usage statistics off
(RAY_USAGE_STATS_ENABLED=0, unless set); a Python caller sets it before choosing "ray".

The cluster's nodes must run the same newscorpus (and Python) as the driver: the functions are
sent by reference (module and name), not by value.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import ray
import ray.exceptions

from ..errors import NewscorpusError
from .executor import POOL_BATCH, WorkerLost, _Closing, chunked

T = TypeVar("T")
R = TypeVar("R")
MAX_RETRIES = 3  # a task whose worker or node died is run again, at most this many times
WINDOW_PER_CPU = 3  # batches in flight per CPU of the cluster
CONNECT_TIMEOUT = 5.0  # seconds to reach the cluster's address before ray.init


def reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> str | None:
    """Why the cluster at ``address`` (HOST:PORT or ray://HOST:PORT) cannot be reached, or None.
    Checked before ray.init, which otherwise retries for minutes, logging as it goes."""
    hostport = address.removeprefix("ray://")
    if hostport == "auto" or ":" not in hostport:
        return None
    host, port = hostport.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _loopback_host(address: str | None) -> str | None:
    """The loopback address the driver should announce: for a local instance, 127.0.0.1; for a
    cluster at a loopback HOST:PORT, that host; else None (Ray picks the node's address)."""
    if not address:
        return "127.0.0.1"
    host = address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    try:
        return host if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return "127.0.0.1" if host == "localhost" else None


@contextlib.contextmanager
def _local_only(local: bool) -> Iterator[None]:
    """While a local instance starts, or a driver joins a cluster on loopback: on loopback. Ray
    2.60 turns a "localhost" ``_node_ip_address`` (127.0.0.1, ::1) into the default route's
    address (services.resolve_ip_for_localhost) unless ``ray_constants.ENABLE_RAY_CLUSTER`` is
    off (its RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER switch, read once at import): off while ray.init
    runs, then put back."""
    if not local:
        yield
        return
    from ray._private import ray_constants

    old = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = old


def _call(fn: Callable[[list[Any]], list[Any]], chunk: list[Any]) -> list[Any]:
    return fn(chunk)


class RayExecutor(_Closing):
    """Batches as Ray tasks on the cluster at ``address`` (None: a local Ray instance with
    ``workers`` CPUs, all of this machine's when None), results in input order."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self.address = address
        self._owned = not ray.is_initialized()
        if self._owned:
            problem = reachable(address) if address else None
            if problem is not None:
                raise NewscorpusError(
                    f"gather: cannot reach the Ray cluster at {address}: {problem}"
                )
            where = address if address else "local"
            kwargs: dict[str, Any] = {
                "address": where,
                "log_to_driver": False,
                "logging_level": logging.WARNING,
            }
            if not address:
                kwargs["include_dashboard"] = False
                if workers is not None:
                    kwargs["num_cpus"] = workers
            loopback = _loopback_host(address)
            if loopback is not None:
                # Ray would announce this driver at the address of the machine's default route
                # (ray 2.60): a local instance, or a cluster on loopback, stays on loopback
                kwargs["_node_ip_address"] = loopback
            try:
                with _local_only(loopback is not None):
                    ray.init(**kwargs)
            except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise NewscorpusError(
                    f"gather: cannot reach the Ray cluster at {address or 'a local instance'}: {first}"
                ) from None
        self._task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(_call)
        self._pending: deque[Any] = deque()
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        cpus = int(resources.get("CPU", 1))
        self.window = max(2, cpus * WINDOW_PER_CPU)

    def map(
        self, fn: Callable[[list[T]], list[R]], items: Iterable[T], batch: int = POOL_BATCH
    ) -> Iterator[R]:
        fn_ref = ray.put(fn)
        pending: deque[Any] = deque()
        self._pending = pending
        source = chunked(items, batch)
        try:
            for chunk in source:
                pending.append(self._task.remote(fn_ref, chunk))
                if len(pending) >= self.window:
                    break
            while pending:
                try:
                    results: list[R] = ray.get(pending[0])
                except ray.exceptions.RayError as exc:
                    raise WorkerLost(
                        f"a Ray task failed after {MAX_RETRIES} retries ({type(exc).__name__})"
                    ) from None
                pending.popleft()
                nxt = next(source, None)
                if nxt is not None:
                    pending.append(self._task.remote(fn_ref, nxt))
                yield from results
        except KeyboardInterrupt:
            pending.clear()  # a stop: the tasks end with this driver (see close)
            raise
        finally:
            self._cancel(pending)

    def _cancel(self, pending: deque[Any]) -> None:
        """Tasks not wanted any more (an early end: --limit): not started, never started;
        running, interrupted. Not forced: a forced cancel that meets the task's reply makes
        Ray's core fail a check and abort the driver (ray 2.60, seen under load)."""
        while pending:
            with contextlib.suppress(Exception):
                ray.cancel(pending.popleft(), force=False)

    def close(self, stopped: bool = False) -> None:
        """A stopped run cancels nothing (the same race): Ray ends the tasks of a driver that
        leaves, and a local instance of ours is shut down here."""
        if stopped:
            self._pending.clear()
        self._cancel(self._pending)
        if self._owned and ray.is_initialized():
            ray.shutdown()
            self._owned = False
