"""The gather pipeline: sources -> fetch -> extract -> language -> topic -> dedup -> articles/*.jsonl.

Each stage is a generator over ``Work`` records, in input order, so a killed run resumes: what
the corpus holds (stored ids, URLs, text hashes, near-duplicate index, recorded rejections) is
rebuilt from the corpus files (known.py), and every item's fate depends only on the items before
it. Settings come from ``cfg.gather`` alone: the CLI puts its flags there (``--allow-host``,
``NEWSCORPUS_WORKERS``) with ``dataclasses.replace``; GatherOptions says what to gather this run.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from types import FrameType
from typing import Any

from ..config import EXECUTORS, Config, GatherSettings, Source
from ..corpus import add_articles, add_rejections
from ..errors import ConfigError, Interrupted, NewscorpusError, UsageError
from ..lock import corpus_lock
from ..records import Article, Rejection
from ..workers import STOP_SIGNALS
from .executor import Executor, ProcessExecutor, SerialExecutor, WorkerLost
from .fetch import FetchFailed, FetchService, ResponseCache
from .guard import HostGuard
from .items import Item
from .known import CorpusIndex, Seen
from .prefilter import Prefilter
from .shards import clear_downloads, list_shards, mark_done, shard_stats, write_stats
from .shards import done as shard_done
from .shardwork import ShardTask, work_shards
from .sources import SourceError, list_items, read_urls_file
from .stages import (
    Counts,
    Work,
    dedup_stage,
    extract_stage,
    fetch_stage,
    known_stage,
    language_stage,
    topic_stage,
)
from .topic import TopicMatcher

Progress = Callable[[str, int, int | None], None]
BATCH_SIZE = 64
BATCH_SECONDS = 1.0


@dataclass(frozen=True)
class GatherResult:
    """What one run did: counts, rejections by reason, new articles by source (both sorted)."""

    fetched: int = 0
    from_cache: int = 0
    new: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    skipped: int = 0
    rejected: Mapping[str, int] = field(default_factory=dict)
    new_by_source: Mapping[str, int] = field(default_factory=dict)
    extracted: int = 0
    shards: int = 0
    shards_done_before: int = 0
    shards_total: int = 0
    records: int = 0
    prefiltered: int = 0
    seconds: float = 0.0

    @classmethod
    def of(cls, counts: Counts, seconds: float = 0.0) -> GatherResult:
        """The frozen result of a run's counts (``seconds``: its wall time)."""
        return cls(
            fetched=counts.fetched,
            from_cache=counts.from_cache,
            new=counts.new,
            duplicates=counts.duplicates,
            near_duplicates=counts.near_duplicates,
            skipped=counts.skipped,
            rejected=dict(sorted(counts.rejected.items())),
            new_by_source=dict(sorted(counts.new_by_source.items())),
            extracted=counts.extracted,
            shards=counts.shards,
            shards_done_before=counts.shards_done_before,
            shards_total=counts.shards_total,
            records=counts.records,
            prefiltered=counts.prefiltered,
            seconds=round(seconds, 3),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class GatherOptions:
    """What one run gathers: the named [[sources]] (all when empty), at most ``limit`` new
    articles, cached responses revalidated (``refresh``)."""

    sources: tuple[str, ...] = ()
    limit: int | None = None
    refresh: bool = False


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

    def reclaim(self) -> None:
        """Take the stop signals back from a library that set its own handlers meanwhile
        (ray.init sets SIGTERM to ``sys.exit(15)``): ours again, the first old ones kept."""
        for s in self.old:
            if signal.getsignal(s) != self._handle:
                signal.signal(s, self._handle)

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


# --- sink and entry point -------------------------------------------------------------------------


class Writer:
    """Appends articles and rejections in batches (every BATCH_SIZE items or BATCH_SECONDS), and
    counts each finished record (Counts.add)."""

    def __init__(self, cfg: Config, seen: Seen, summary: Counts) -> None:
        self.cfg, self.seen, self.summary = cfg, seen, summary
        self.articles: list[Article] = []
        self.rejections: list[Rejection] = []
        self.last = time.monotonic()
        self.hold: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext

    def reject(self, rej: Rejection) -> None:
        """Record a drop once: a rejection already in rejected.jsonl is not appended again."""
        self.summary.rejected[rej.reason] += 1
        self._record(rej)

    def _record(self, rej: Rejection) -> None:
        if self.seen.add_rejection(rej.url, rej.stage, rej.reason):
            self.rejections.append(rej)
        self._maybe_flush()

    def add(self, w: Work) -> None:
        """Take one finished item: count it, and keep its article or record its rejection."""
        self.summary.add(w)
        if w.skipped:
            return
        if w.rejection is not None:
            self._record(w.rejection)
        elif w.article is not None:
            self.articles.append(w.article)
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


def make_executor(
    kind: str = "local", *, workers: int | None = None, ray_address: str | None = None
) -> Executor:
    """The executor named by ``[gather] executor``, started now: "local" (a process pool of
    ``workers``), "serial", or "ray" (on the cluster at ``ray_address``; a local Ray instance
    when None). Ray is imported only here, only when chosen."""
    if kind == "serial":
        return SerialExecutor()
    if kind == "ray":
        try:
            from .executor_ray import RayExecutor
        except ImportError as exc:
            raise NewscorpusError(
                f"gather: executor 'ray' needs Ray ({exc}): pip install 'newscorpus[ray]'"
            ) from None
        return RayExecutor(address=ray_address, workers=workers)
    if kind != "local":
        raise UsageError(f"executor {kind!r}: one of {', '.join(EXECUTORS)}")
    return ProcessExecutor(workers)


def preflight(cfg: Config, chosen: list[Source]) -> None:
    """Check local inputs before anything is written: paths exist, URL files parse."""
    for src in chosen:
        if src.kind == "warc":
            list_shards(cfg, src)  # a path that matches nothing, a bad listing: ConfigError
            continue
        if src.path is None:
            continue
        if not src.path.exists():
            raise ConfigError(f"{cfg.path}: source {src.name!r}: {src.path} not found")
        if src.kind == "html_dir" and not src.path.is_dir():
            raise ConfigError(f"{cfg.path}: source {src.name!r}: {src.path} is not a folder")
        if src.kind == "urls":
            read_urls_file(src.path)


def gather(
    cfg: Config, *, options: GatherOptions | None = None, progress: Progress | None = None
) -> GatherResult:
    """Fill articles/<source>.jsonl from the chosen [[sources]] (all when none named).

    Holds the corpus's write lock (free when the caller, the CLI, holds it already), so a
    library caller is refused beside a running `newscorpus gather` as a second command is.
    """
    with corpus_lock(cfg.root, "gather"):
        start = time.monotonic()
        counts = _gather(cfg, options or GatherOptions(), progress)
        return GatherResult.of(counts, time.monotonic() - start)


def _gather(cfg: Config, options: GatherOptions, progress: Progress | None) -> Counts:
    names = list(options.sources)
    chosen = [cfg.source(n) for n in names] if names else list(cfg.sources)
    if not chosen:
        raise UsageError(f"{cfg.path}: no [[sources]] to gather from")
    limit, refresh = options.limit, options.refresh
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be positive, got {limit}")
    settings = cfg.gather
    preflight(cfg, chosen)
    guard = HostGuard(settings.allow_hosts)
    stops = StopSignals()
    executor: Executor | None = None
    service: FetchService | None = None
    state: CorpusIndex | None = None
    writer: Writer | None = None
    opened: list[Iterator[Work]] = []  # fetch stages, closed before the fetch service
    summary = Counts()
    try:
        stops.install()
        executor = make_executor(
            settings.executor, workers=settings.workers, ray_address=settings.ray_address
        )
        stops.reclaim()
        state = CorpusIndex(cfg, executor)
        writer = Writer(cfg, state.seen, summary)
        writer.hold = stops.held
        if any(s.kind in ("feed", "sitemap", "urls") for s in chosen):
            cache = ResponseCache(cfg.state_dir / "cache")
            service = FetchService(settings, guard, cache, refresh)
        matcher = TopicMatcher(cfg.topic.any)
        prefilter = Prefilter(cfg.topic.any) if settings.prefilter else None
        for src in chosen:
            if limit is not None and summary.new >= limit:
                break
            if src.kind == "warc":  # archive shards: one task each, appended and marked in order
                _gather_shards(
                    cfg, src, _Run(executor, state, writer, summary, limit, progress, refresh)
                )
                continue
            items = list(_list(src, service, settings, writer))
            total = len(items)
            done = 0
            if progress:
                progress(src.name, 0, total)
            works: Iterable[Work] = (Work(item) for item in items)
            works = known_stage(works, state.seen, refresh)
            works = fetch_stage(works, service)
            opened.append(works)
            works = extract_stage(works, executor, prefilter)
            works = language_stage(works, cfg.corpus.languages)
            works = topic_stage(works, matcher)
            for w in dedup_stage(works, state.seen, state.near):
                writer.add(w)
                done += 1
                if progress:
                    progress(src.name, done, total)
                if limit is not None and summary.new >= limit:
                    break
            if progress:
                progress(src.name, done, total)
            writer.flush()
        writer.flush()
        with stops.held():
            state.save()
    except KeyboardInterrupt as exc:  # Ctrl-C, or Stopped by SIGTERM or SIGHUP
        _keep(writer, state, stops)
        # Stopped raised inside Ray's wait comes out of it as a plain KeyboardInterrupt
        signum = exc.signum if isinstance(exc, Stopped) else stops.received
        if signum is not None and signum != signal.SIGINT:
            raise stopped_error(signum) from None
        raise
    except WorkerLost as exc:
        _keep(writer, state, stops)
        if stops.received is not None:  # the signal killed the workers first (a process group)
            raise stopped_error(stops.received) from None
        raise NewscorpusError(
            f"gather: {exc}; what was written so far is kept; run the command again to resume"
        ) from None
    except Exception:
        if stops.received is None:
            raise
        # a library made its own error of the stop (Ray's wait, a pool's shutdown): stopped
        _keep(writer, state, stops)
        raise stopped_error(stops.received) from None
    finally:
        try:
            for stage in opened:  # a stopped run's in-flight fetches: cancelled while the
                if isinstance(stage, Generator):  # service's event loop still runs
                    stage.close()
            if service is not None:
                service.close()
            if executor is not None:
                executor.close(stopped=stops.received is not None)
        finally:
            stops.uninstall()
    return summary


@dataclass
class _Run:
    """What the shards of a warc source share with the rest of the run."""

    executor: Executor
    state: CorpusIndex
    writer: Writer
    summary: Counts
    limit: int | None
    progress: Progress | None
    refresh: bool


def _gather_shards(cfg: Config, src: Source, run: _Run) -> None:
    """The shards of a warc source, one executor task each (read, prefilter, extract, language,
    topic and signatures on a worker: shardwork.py), given back in the listing's order whatever
    order they finish in. A shard done before is not read again (with ``refresh`` every shard is).
    Here, the single writer: each record is checked against the corpus (known, dedup; a URL
    rejected before is checked again, as the worker read it anyway: the prefilter on or off keep
    the same records) and appended, then the shard's marker is written with its stats (``kept``:
    its records in the corpus, those stored before it included, so a shard read again after a
    stop or with ``refresh`` gets the marker of one uninterrupted run); a shard that fails is one
    rejection, not marked (a rerun retries)."""
    shards = list_shards(cfg, src)
    clear_downloads(cfg)  # a killed run's partial downloads
    todo = [s for s in shards if run.refresh or not shard_done(cfg, s)]
    keys = {s.key for s in shards}
    done_before = {str(m.get("key")): m for m in shard_stats(cfg, src.name) if m.get("key") in keys}
    if done_before:  # a run killed between a marker and the stats (or a listing that grew)
        with run.writer.hold():
            write_stats(cfg, src.name, len(shards), done_before)
    summary, writer, seen = run.summary, run.writer, run.state.seen
    summary.shards_total += len(shards)
    summary.shards_done_before += len(shards) - len(todo)
    finished = len(shards) - len(todo)
    label = f"{src.name} (shards)"
    if run.progress:
        run.progress(label, finished, len(shards))
    tasks = (ShardTask(cfg, shard) for shard in todo)
    for out in run.executor.map(work_shards, tasks, batch=1):
        if run.limit is not None and summary.new >= run.limit:
            return
        before = (summary.new, summary.rejected.total(), Counter(summary.rejected))
        summary.records += out.counts.records
        summary.prefiltered += out.counts.prefiltered
        extracted = summary.extracted + out.counts.extracted  # the records the worker extracted
        stored = 0  # records skipped as their URL is stored: by this shard's cut pass, or before
        # Records rejected before are checked again (as with refresh): the worker has read and
        # extracted them anyway, and a rejection is never written twice; so a URL off topic in
        # one record and on topic in a later one is kept with the prefilter on or off alike.
        works = dedup_stage(known_stage(out.works, seen, True), seen, run.state.near)
        for n, w in enumerate(works, start=1):
            writer.add(w)
            stored += w.skipped
            if run.limit is not None and summary.new >= run.limit and n < len(out.works):
                summary.extracted = extracted
                writer.flush()
                return  # the shard is not finished: not marked
        summary.extracted = extracted  # with those the driver skipped (their URL stored)
        if out.failure is not None:
            f = out.failure
            writer.reject(Rejection(f.url, "source", f.reason, src.name, f.detail))
        writer.flush()
        finished += 1
        if out.failure is None:
            summary.shards += 1
            rejected = summary.rejected - before[2]
            with writer.hold():
                done_before[out.shard.key] = mark_done(
                    cfg,
                    out.shard,
                    {
                        "records": out.counts.records,
                        "prefiltered": out.counts.prefiltered,
                        "extracted": out.counts.extracted,
                        "kept": summary.new - before[0] + stored,
                        "rejected": summary.rejected.total() - before[1],
                        "rejected_by_reason": dict(sorted(rejected.items())),
                        "seconds": out.counts.seconds,
                    },
                    out.size,
                )
                write_stats(cfg, src.name, len(shards), done_before)
        if run.progress:
            run.progress(label, finished, len(shards))
            run.progress(f"{src.name} (records read)", summary.records, None)


def _keep(writer: Writer | None, state: CorpusIndex | None, stops: StopSignals) -> None:
    """Keep what a stopped run has done; a rerun resumes after it."""
    if writer is not None:
        writer.flush()
    if state is not None:
        with stops.held():
            state.save()
