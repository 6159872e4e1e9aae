"""The gather pipeline: sources -> fetch -> extract -> language -> topic -> dedup -> articles/*.jsonl.

Each stage is a generator over ``Work`` records, in input order, so a killed run resumes: the
state (stored ids, URLs, text hashes, near-duplicate index, recorded rejections) is rebuilt from
the corpus files, and every item's fate depends only on the items before it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TypeVar

from ..config import Config, GatherSettings, Source, check_allow_host
from ..corpus import add_articles, add_rejections, iter_articles
from ..errors import ConfigError, Interrupted, NewscorpusError, UsageError
from ..lock import corpus_lock
from ..records import Article, Rejection
from ..store import read_jsonl
from ..workers import STOP_SIGNALS, blocked, init_worker
from .dedup import NearDupIndex, Signature, load_signatures, save_signatures
from .extract import extractor_name
from .fetch import TRANSIENT, FetchFailed, FetchService, ResponseCache
from .guard import HostGuard
from .language import detect
from .sources import Item, SourceError, list_items, read_urls_file
from .stages import (
    Work,
    dedup_stage,
    extract_stage,
    fetch_stage,
    known_stage,
    language_stage,
    signature_batch,
    topic_stage,
)
from .topic import TopicMatcher, fold
from .urlnorm import normalize_url

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[str, int, int | None], None]
BATCH_SIZE = 64
SIGNATURE_CACHE = "minhash.npz"  # under .newscorpus/: MinHash signatures of stored articles
BATCH_SECONDS = 1.0
POOL_BATCH = 4


@dataclass
class Summary:
    """What one run did."""

    fetched: int = 0
    from_cache: int = 0
    new: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    skipped: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    new_by_source: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "fetched": self.fetched,
            "from_cache": self.from_cache,
            "new": self.new,
            "duplicates": self.duplicates,
            "near_duplicates": self.near_duplicates,
            "skipped": self.skipped,
            "rejected": dict(sorted(self.rejected.items())),
            "new_by_source": dict(sorted(self.new_by_source.items())),
        }


def _warm() -> None:
    extractor_name()
    detect("warm up")
    fold("warm up")


# --- worker processes: they end with their parent, and leave Ctrl-C to it (see workers.py) ---

STOP_GRACE = 2.0  # seconds a stopped run gives its workers to finish their batch and exit


def make_pool(workers: int | None = None) -> ProcessPoolExecutor | None:
    """A process pool for extraction, started now (before any thread); None on one core.

    The workers are forked with the stop signals (SIGINT, SIGTERM, SIGHUP) blocked, so none runs the parent's handlers
    before init_worker has set its own (a signal sent meanwhile waits, it is not lost)."""
    env = os.environ.get("NEWSCORPUS_WORKERS", "")
    n = (
        workers
        if workers is not None
        else int(env)
        if env.isdigit()
        else min(os.cpu_count() or 1, 8)
    )
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


class Stopped(KeyboardInterrupt):
    """SIGTERM asked the run to stop. A KeyboardInterrupt, like Ctrl-C's, so that no
    ``except Exception`` in a stage takes it for a broken page."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class StopSignals:
    """While installed (main thread only): SIGINT raises KeyboardInterrupt and SIGTERM raises
    Stopped, both in the main thread and never inside a ``held()`` block (a write to the corpus):
    a signal that arrives there is raised when the block ends. Handlers set to SIG_IGN before
    (``nohup``, a background job) stay ignored. uninstall() puts the old handlers back."""

    def __init__(self) -> None:
        self.old: dict[int, Any] = {}
        self.pending: int | None = None
        self.received: int | None = None
        self._holding = 0

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for s in STOP_SIGNALS:
            old = signal.getsignal(s)
            if old is not signal.SIG_IGN:
                self.old[s] = signal.signal(s, self._handle)

    def uninstall(self) -> None:
        for s, old in self.old.items():
            signal.signal(s, old if old is not None else signal.SIG_DFL)
        self.old = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
        if self._holding:
            self.pending = signum
            return
        raise stop_exception(signum)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """A block no stop signal interrupts."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
        if not self._holding and self.pending is not None:
            signum, self.pending = self.pending, None
            raise stop_exception(signum)


def stop_exception(signum: int) -> KeyboardInterrupt:
    """What a stop signal raises: KeyboardInterrupt for SIGINT, Stopped for the others."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Stopped(signum)


def stopped_error(signum: int) -> Interrupted:
    """The one-line error of a run stopped by ``signum`` (exit code 128 + signum)."""
    name = signal.Signals(signum).name
    return Interrupted(
        f"stopped by {name}: what was written so far is kept; run the command again to resume",
        128 + signum,
    )


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


# --- state rebuilt from the corpus ----------------------------------------------------------------


class State:
    """What the corpus already holds: ids, URLs, text hashes, near-duplicate index, rejections."""

    def __init__(self, cfg: Config, pool: ProcessPoolExecutor | None) -> None:
        g = cfg.gather
        self.index = NearDupIndex(g.near_dup_threshold)
        self.ids: set[str] = set()
        self.text_hashes: set[str] = set()
        self.exact: set[str] = set()
        self.normal: set[str] = set()
        # signatures of stored articles: from the cache of earlier runs, computed when missing
        cache_path = cfg.state_dir / SIGNATURE_CACHE
        cached = load_signatures(cache_path)
        stored: list[tuple[str, str]] = []  # (text_sha256, dup_cluster) in store order
        todo: dict[str, str] = {}  # text_sha256 -> text, for signatures not in the cache
        for art in iter_articles(cfg):
            self.ids.add(art.id)
            self.text_hashes.add(art.text_sha256)
            listed = art.extra.get("listed_url")
            self.remember(art.url, art.canonical_url, listed if isinstance(listed, str) else None)
            stored.append((art.text_sha256, art.dup_cluster))
            if art.text_sha256 not in cached:
                todo[art.text_sha256] = art.text
        fresh = dict(zip(todo, ordered_map(pool, signature_batch, todo.values(), 64), strict=True))
        self.signatures = {d: cached[d] if d in cached else fresh[d] for d, _ in stored}
        for digest, cluster in stored:
            self.index.add(self.signatures[digest], cluster)
        self.signatures_computed = len(fresh)
        self._cache_path = cache_path
        # rewritten by save() when articles were added or removed since the cache was written
        self._cache_stale = bool(fresh) or len(cached) != len(self.signatures)
        self.rejected_keys: set[tuple[str | None, str, str]] = set()
        self.rejected_urls: set[str] = set()
        for rec in read_jsonl(cfg.rejected_path):
            url, stage, reason = rec.get("url"), str(rec.get("stage")), str(rec.get("reason"))
            self.rejected_keys.add((url, stage, reason))
            if url and not _transient(reason):
                self.rejected_urls.add(url)

    def add_signature(self, text_sha256: str, sig: Signature) -> None:
        """The signature of an article accepted in this run (cached by save())."""
        self.signatures[text_sha256] = sig
        self._cache_stale = True

    def save(self) -> None:
        """Write the signature cache when it changed (a rerun with nothing new writes nothing)."""
        if self._cache_stale:
            save_signatures(self._cache_path, self.signatures)
            self._cache_stale = False

    def remember(self, *urls: str | None) -> None:
        """Note the URLs (as listed, final, canonical) of a stored article."""
        for u in urls:
            if u:
                self.exact.add(u)
                with contextlib.suppress(ValueError):
                    self.normal.add(normalize_url(u))

    def known(self, url: str, refresh: bool) -> str:
        """'skip' for a URL stored (or, without --refresh, rejected for good) before; 'duplicate'
        for another spelling of a stored URL (tracking parameters, case); '' for a new one."""
        if url in self.exact or (not refresh and url in self.rejected_urls):
            return "skip"
        try:
            return "duplicate" if normalize_url(url) in self.normal else ""
        except ValueError:
            return ""


def _transient(reason: str) -> bool:
    return reason in TRANSIENT or reason.startswith("http_5")


# --- sink and entry point -------------------------------------------------------------------------


class Writer:
    """Appends articles and rejections in batches (every BATCH_SIZE items or BATCH_SECONDS)."""

    def __init__(self, cfg: Config, state: State, summary: Summary) -> None:
        self.cfg, self.state, self.summary = cfg, state, summary
        self.articles: list[Article] = []
        self.rejections: list[Rejection] = []
        self.last = time.monotonic()
        self.hold: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext

    def reject(self, rej: Rejection) -> None:
        """Record a drop once: a rejection already in rejected.jsonl is not appended again."""
        self.summary.rejected[rej.reason] += 1
        key = (rej.url, rej.stage, rej.reason)
        if key not in self.state.rejected_keys:
            self.state.rejected_keys.add(key)
            self.rejections.append(rej)
        if rej.url and not _transient(rej.reason):
            self.state.rejected_urls.add(rej.url)
        self._maybe_flush()

    def add(self, w: Work) -> None:
        """Take one finished item: its article, or its rejection."""
        if w.rejection is not None:
            self.reject(w.rejection)
        elif w.article is not None:
            self.articles.append(w.article)
            self.summary.new += 1
            self.summary.new_by_source[w.article.source] += 1
            self._maybe_flush()

    def _maybe_flush(self) -> None:
        if (
            len(self.articles) + len(self.rejections) >= BATCH_SIZE
            or time.monotonic() - self.last >= BATCH_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        """Append what is pending: articles first, then rejections (not cut by a stop signal)."""
        with self.hold():
            if self.articles:
                add_articles(self.cfg, self.articles)
                self.articles = []
            if self.rejections:
                add_rejections(self.cfg, self.rejections)
                self.rejections = []
        self.last = time.monotonic()


def _list(
    src: Source, service: FetchService | None, settings: GatherSettings, writer: Writer
) -> Iterator[Item]:
    """The items of one source; a source that cannot be read is recorded, not fatal."""

    def fetch_xml(url: str) -> bytes:
        if service is None:
            raise SourceError(f"{url}: no fetcher", "source_unreadable")
        return service.get(url, "xml").body

    where = src.url or (str(src.path) if src.path else src.name)
    try:
        yield from list_items(src, fetch_xml, settings.max_bytes, writer.cfg.root)
    except FetchFailed as exc:
        writer.reject(Rejection(exc.url, "source", exc.reason, src.name, exc.detail or None))
    except SourceError as exc:
        writer.reject(Rejection(where, "source", exc.reason, src.name, str(exc)))


def preflight(cfg: Config, chosen: list[Source]) -> None:
    """Check local inputs before anything is written: paths exist, URL files parse."""
    for src in chosen:
        if src.path is None:
            continue
        if not src.path.exists():
            raise ConfigError(f"{cfg.path}: source {src.name!r}: {src.path} not found")
        if src.kind == "html_dir" and not src.path.is_dir():
            raise ConfigError(f"{cfg.path}: source {src.name!r}: {src.path} is not a folder")
        if src.kind == "urls":
            read_urls_file(src.path)


def gather(
    cfg: Config,
    sources: Iterable[str] = (),
    allow_hosts: Iterable[str] = (),
    limit: int | None = None,
    refresh: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Summary:
    """Fill articles/<source>.jsonl from the chosen [[sources]] (all when none named).

    Holds the corpus's write lock (free when the caller, the CLI, holds it already), so a
    library caller is refused beside a running `newscorpus gather` as a second command is.
    """
    with corpus_lock(cfg.root, "gather"):
        return _gather(cfg, sources, allow_hosts, limit, refresh, progress, workers)


def _gather(
    cfg: Config,
    sources: Iterable[str],
    allow_hosts: Iterable[str],
    limit: int | None,
    refresh: bool,
    progress: Progress | None,
    workers: int | None,
) -> Summary:
    names = list(sources)
    chosen = [cfg.source(n) for n in names] if names else list(cfg.sources)
    if not chosen:
        raise UsageError(f"{cfg.path}: no [[sources]] to gather from")
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be positive, got {limit}")
    settings = cfg.gather
    extra_hosts = list(allow_hosts)
    for h in extra_hosts:
        check_allow_host(h)
    preflight(cfg, chosen)
    guard = HostGuard((*settings.allow_hosts, *extra_hosts))
    stops = StopSignals()
    pool: ProcessPoolExecutor | None = None
    service: FetchService | None = None
    state: State | None = None
    writer: Writer | None = None
    opened: list[Iterator[Work]] = []  # fetch stages, closed before the fetch service
    summary = Summary()
    try:
        stops.install()
        pool = make_pool(workers)
        state = State(cfg, pool)
        writer = Writer(cfg, state, summary)
        writer.hold = stops.held
        if any(s.kind in ("feed", "sitemap", "urls") for s in chosen):
            cache = ResponseCache(cfg.state_dir / "cache")
            service = FetchService(settings, guard, cache, refresh)
        matcher = TopicMatcher(cfg.topic.any)
        for src in chosen:
            if limit is not None and summary.new >= limit:
                break
            listed = _list(src, service, settings, writer)
            items: Iterable[Item] = listed if src.kind == "warc" else list(listed)
            total = len(items) if isinstance(items, list) else None
            skipped0 = summary.skipped
            done = 0
            if progress:
                progress(src.name, 0, total)
            works: Iterable[Work] = (Work(item) for item in items)
            works = known_stage(works, state, refresh, summary)
            works = fetch_stage(works, service, summary)
            opened.append(works)
            works = extract_stage(works, pool)
            works = language_stage(works, cfg.corpus.languages)
            works = topic_stage(works, matcher)
            for w in dedup_stage(works, state, summary):
                writer.add(w)
                done += 1
                if progress:
                    progress(src.name, done + summary.skipped - skipped0, total)
                if limit is not None and summary.new >= limit:
                    break
            if progress:
                progress(src.name, done + summary.skipped - skipped0, total)
            writer.flush()
        writer.flush()
        with stops.held():
            state.save()
    except KeyboardInterrupt as exc:  # Ctrl-C, or Stopped by SIGTERM or SIGHUP
        _keep(writer, state, stops)
        if isinstance(exc, Stopped):
            raise stopped_error(exc.signum) from None
        raise
    except BrokenProcessPool:
        _keep(writer, state, stops)
        if stops.received is not None:  # the signal killed the workers first (a process group)
            raise stopped_error(stops.received) from None
        raise NewscorpusError(
            "gather: an extraction worker died (killed, or out of memory?); what was written "
            "so far is kept; run the command again to resume"
        ) from None
    finally:
        try:
            for stage in opened:  # a stopped run's in-flight fetches: cancelled while the
                if isinstance(stage, Generator):  # service's event loop still runs
                    stage.close()
            if service is not None:
                service.close()
            if pool is not None:
                close_pool(pool, stopped=stops.received is not None)
        finally:
            stops.uninstall()
    return summary


def _keep(writer: Writer | None, state: State | None, stops: StopSignals) -> None:
    """Keep what a stopped run has done; a rerun resumes after it."""
    if writer is not None:
        writer.flush()
    if state is not None:
        with stops.held():
            state.save()
