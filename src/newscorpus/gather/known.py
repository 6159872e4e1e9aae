"""What the corpus already holds, rebuilt from its files at the start of a run (so a killed run
resumes): article ids, URLs, text hashes, the near-duplicate index and recorded rejections."""

from __future__ import annotations

import contextlib

from ..config import Config
from ..corpus import iter_articles
from ..store import read_jsonl
from .dedup import NearDupIndex, Signature, load_signatures, save_signatures, signature_batch
from .executor import Executor, SerialExecutor
from .fetch import TRANSIENT
from .urlnorm import normalize_url

SIGNATURE_CACHE = "minhash.npz"  # under .newscorpus/: MinHash signatures of stored articles


class CorpusIndex:
    """What the corpus already holds: ids, URLs, text hashes, near-duplicate index, rejections."""

    def __init__(self, cfg: Config, executor: Executor | None) -> None:
        """Read the corpus; signatures missing from the cache computed by ``executor`` (None:
        in this process)."""
        g = cfg.gather
        run = executor if executor is not None else SerialExecutor()
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
        fresh = dict(zip(todo, run.map(signature_batch, todo.values(), 64), strict=True))
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
            if url and not is_transient(reason):
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


def is_transient(reason: str) -> bool:
    """A failure worth retrying on the next run (timeouts, 5xx): not a rejection for good."""
    return reason in TRANSIENT or reason.startswith("http_5")
