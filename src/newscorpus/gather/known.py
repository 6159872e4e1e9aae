"""What the corpus already holds, rebuilt from its files at the start of a run (so a killed run
resumes), in two parts: what is seen (``Seen``: article ids, URLs, text hashes, rejections
recorded for good) and the near-duplicate index (``dedup.NearDuplicates``, signatures cached)."""

from __future__ import annotations

import contextlib

from ..config import Config
from ..corpus import iter_articles
from ..store import read_jsonl
from .dedup import NearDuplicates, load_signatures, signature_batch
from .executor import Executor, SerialExecutor
from .fetch import TRANSIENT
from .urlnorm import normalize_url

SIGNATURE_CACHE = "minhash.npz"  # under .newscorpus/: MinHash signatures of stored articles


class Seen:
    """What the corpus holds and what was refused for good: ids, URLs, text hashes, rejections."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.text_hashes: set[str] = set()
        self.exact: set[str] = set()
        self.normal: set[str] = set()
        self.rejected_keys: set[tuple[str | None, str, str]] = set()
        self.rejected_urls: set[str] = set()

    def add_article(self, aid: str, text_sha256: str, *urls: str | None) -> None:
        """A stored article: its id, text hash and URLs (as listed, final, canonical)."""
        self.ids.add(aid)
        self.text_hashes.add(text_sha256)
        self.remember(*urls)

    def add_rejection(self, url: str | None, stage: str, reason: str) -> bool:
        """A rejection; False when the same one is recorded already (it is not appended again)."""
        key = (url, stage, reason)
        if url and not is_transient(reason):
            self.rejected_urls.add(url)
        if key in self.rejected_keys:
            return False
        self.rejected_keys.add(key)
        return True

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


class CorpusIndex:
    """The corpus read back: ``seen`` and ``near``; signatures missing from the cache are
    computed by ``executor`` (None: in this process)."""

    def __init__(self, cfg: Config, executor: Executor | None) -> None:
        run = executor if executor is not None else SerialExecutor()
        self.seen = Seen()
        cache_path = cfg.state_dir / SIGNATURE_CACHE
        self.near = NearDuplicates(cfg.gather.near_dup_threshold, cache_path)
        cached = load_signatures(cache_path)
        stored: list[tuple[str, str]] = []  # (text_sha256, dup_cluster) in store order
        todo: dict[str, str] = {}  # text_sha256 -> text, for signatures not in the cache
        for art in iter_articles(cfg):
            listed = art.extra.get("listed_url")
            self.seen.add_article(
                art.id,
                art.text_sha256,
                art.url,
                art.canonical_url,
                listed if isinstance(listed, str) else None,
            )
            stored.append((art.text_sha256, art.dup_cluster))
            if art.text_sha256 not in cached:
                todo[art.text_sha256] = art.text
        fresh = dict(zip(todo, run.map(signature_batch, todo.values(), 64), strict=True))
        for digest, cluster in stored:
            self.near.add_stored(
                digest, cached[digest] if digest in cached else fresh[digest], cluster
            )
        self.signatures_computed = len(fresh)
        # rewritten by save() when articles were added or removed since the cache was written
        self.near.stale = bool(fresh) or len(cached) != len(self.near.signatures)
        for rec in read_jsonl(cfg.rejected_path):
            url, stage, reason = rec.get("url"), str(rec.get("stage")), str(rec.get("reason"))
            self.seen.add_rejection(url, stage, reason)

    def save(self) -> None:
        """Write the signature cache when it changed (a rerun with nothing new writes nothing)."""
        self.near.save()


def is_transient(reason: str) -> bool:
    """A failure worth retrying on the next run (timeouts, 5xx): not a rejection for good."""
    return reason in TRANSIENT or reason.startswith("http_5")
