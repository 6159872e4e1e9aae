"""One archive shard's work, as a task of the executor: read, prefilter, extract, language,
topic, signatures; run on a worker (a local process, a Ray node) and given back whole.

The worker sends back only what the driver needs: each record the prefilter let through, with
its verdict (rejected with a reason, or an article to dedup) and without its page bytes, and the
shard's counts. Records the prefilter dropped travel as a number, so what comes back from a
shard grows with what it keeps, not with the archive. The driver (pipeline.py) then checks each
record against the corpus (known, dedup) in the shard's order and writes: the single writer.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ..config import Config
from .executor import SerialExecutor
from .guard import HostGuard
from .prefilter import Prefilter
from .shards import Shard, ShardFailed, local_size, read_shard
from .stages import Work, extract_stage, fetch_stage, language_stage, listed_stage, topic_stage
from .topic import TopicMatcher


@dataclass(frozen=True)
class ShardTask:
    """What a worker needs to do one shard: the corpus's settings and the shard."""

    cfg: Config
    shard: Shard


@dataclass(frozen=True)
class ShardFailure:
    """Why a shard could not be read to its end (its records before the failure are kept)."""

    url: str
    reason: str
    detail: str


@dataclass(frozen=True)
class ShardCounts:
    """What one shard gave: records read, dropped by the prefilter, extracted; seconds of work."""

    records: int = 0
    prefiltered: int = 0
    extracted: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class ShardOutput:
    """A shard's records that passed the prefilter (in file order), its counts, its failure,
    and its local file's size before it was read (None: remote)."""

    shard: Shard
    works: tuple[Work, ...]
    counts: ShardCounts
    failure: ShardFailure | None
    size: int | None = None


def work_shards(tasks: list[ShardTask]) -> list[ShardOutput]:
    """``work_shard`` over a batch of tasks (the executor's batch function)."""
    return [work_shard(t) for t in tasks]


def work_shard(task: ShardTask) -> ShardOutput:
    """Read one shard and take each record as far as the driver's dedup (runs on a worker)."""
    cfg, shard = task.cfg, task.shard
    start = time.perf_counter()
    guard = HostGuard(cfg.gather.allow_hosts)
    prefilter = Prefilter(cfg.topic.any) if cfg.gather.prefilter else None
    size = local_size(cfg, shard)  # before reading: records appended later are read again
    read = [0]
    failure: list[ShardFailure] = []

    def records() -> Iterator[Work]:
        try:
            for item in read_shard(cfg, shard, guard):
                read[0] += 1
                yield Work(item)
        except ShardFailed as exc:
            failure.append(ShardFailure(exc.url, exc.reason, exc.detail))
        except Exception as exc:  # a reader's bug on odd input: this shard fails, not the run
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else ""
            detail = (
                f"{shard.where}: not readable ({type(exc).__name__}{': ' + why if why else ''})"
            )
            failure.append(ShardFailure(shard.where, "source_unreadable", detail))

    works = listed_stage(records())
    works = fetch_stage(works, None)
    works = extract_stage(works, SerialExecutor(), prefilter)
    works = language_stage(works, cfg.corpus.languages)
    works = topic_stage(works, TopicMatcher(cfg.topic.any))
    kept: list[Work] = []
    prefiltered = extracted = 0
    for w in works:
        if w.prefiltered:
            prefiltered += 1
            continue
        extracted += w.extracted
        kept.append(_slim(w))
    counts = ShardCounts(read[0], prefiltered, extracted, round(time.perf_counter() - start, 3))
    return ShardOutput(shard, tuple(kept), counts, failure[0] if failure else None, size)


def _slim(w: Work) -> Work:
    """``w`` without what the driver does not read: page bytes, and a rejected page's findings."""
    w.item = dataclasses.replace(w.item, body=None)
    w.body = b""
    if w.rejection is not None:
        w.analysed = None
    return w
