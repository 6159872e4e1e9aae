"""Near duplicates: MinHash signatures over word shingles, an LSH index, the signature cache.

Exact duplicates (same canonical URL, same normalised-text hash) are rejected elsewhere: by the
dedup stage (stages.py), against what the corpus holds (known.py). Near duplicates are kept and
marked: an article's ``dup_cluster`` is the smallest of the cluster ids of the stored articles
it is near (its own id when it is near none). Signatures are computed with numpy (a whole page
in one vectorised step), so they can run in the extraction worker processes; the LSH index
itself is a dict of band keys. Syndicated news copies differ by a dateline, a byline or an
edited sentence, so the default Jaccard threshold is 0.5, well below the 0.8 used for web-scale
dedup; candidates are confirmed by their estimated Jaccard similarity before they join a cluster.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zlib
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..store import atomic_write_bytes

NUM_PERM = 128
SHINGLE = 3
_SEED = 20260101
_WORD = re.compile(r"\w+")
_COMBINING = re.compile("[\u0300-\u036f]")
_MASK32 = np.uint64(0xFFFFFFFF)

Signature = npt.NDArray[np.uint32]


@cache
def _perms(num_perm: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    rng = np.random.default_rng(_SEED)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


_word_cache: dict[str, int] = {}


def _word_hash(word: str) -> int:
    h = _word_cache.get(word)
    if h is None:
        h = zlib.crc32(word.encode("utf-8"))
        if len(_word_cache) < 2_000_000:
            _word_cache[word] = h
    return h


def fold_fast(text: str) -> str:
    """Lower-case and strip combining accents (a fast stand-in for topic.fold, for shingles)."""
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold()))


def shingle_hashes(text: str, k: int = SHINGLE) -> npt.NDArray[np.uint64]:
    """Deterministic 32-bit hashes of the word k-shingles of ``text`` (folded, accent-free)."""
    words = _WORD.findall(fold_fast(text))
    if not words:
        return np.zeros(1, dtype=np.uint64)
    w = np.fromiter((_word_hash(x) for x in words), dtype=np.uint64, count=len(words))
    if len(w) < k:
        k = len(w)
    h = np.zeros(len(w) - k + 1, dtype=np.uint64)
    mult = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        for i in range(k):
            h = h * mult + w[i : len(w) - k + 1 + i]
        h ^= h >> np.uint64(29)
    return np.unique(h & _MASK32)


def signature(text: str, num_perm: int = NUM_PERM, k: int = SHINGLE) -> Signature:
    """MinHash signature of ``text``: ``num_perm`` 32-bit minima of universal hashes of its shingles."""
    a, b = _perms(num_perm)
    hs = shingle_hashes(text, k)
    with np.errstate(over="ignore"):
        vals = (hs[:, None] * a[None, :] + b[None, :]) >> np.uint64(32)
    out: Signature = vals.min(axis=0).astype(np.uint32)
    return out


def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) minimising false positives + false negatives around ``threshold``."""
    xs = np.linspace(0.0, 1.0, 1001)
    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        r = num_perm // b
        if r < 1:
            continue
        p = 1.0 - (1.0 - xs**r) ** b
        fp = float(np.trapezoid(p[xs <= threshold], xs[xs <= threshold]))
        fn = float(np.trapezoid(1.0 - p[xs >= threshold], xs[xs >= threshold]))
        err = 0.3 * fp + 0.7 * fn
        if err < best_err:
            best, best_err = (b, r), err
    return best


class NearDupIndex:
    """MinHash LSH: assigns each added article the smallest cluster id among its near duplicates."""

    def __init__(self, threshold: float = 0.5, num_perm: int = NUM_PERM) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        self.bands, self.rows = optimal_bands(threshold, num_perm)
        rng = np.random.default_rng(_SEED + 1)
        self._mix = rng.integers(1, 2**63, size=(self.rows,), dtype=np.uint64) | np.uint64(1)
        self._salt = np.arange(self.bands, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93)
        self._buckets: dict[int, int | list[int]] = {}
        self._sigs: list[Signature] = []
        self.clusters: list[str] = []

    def __len__(self) -> int:
        return len(self.clusters)

    def _keys(self, sig: Signature) -> list[int]:
        used = sig[: self.bands * self.rows].astype(np.uint64).reshape(self.bands, self.rows)
        with np.errstate(over="ignore"):
            keys = (used * self._mix[None, :]).sum(axis=1) ^ self._salt
        return [int(x) for x in keys]

    def candidates(self, sig: Signature) -> list[int]:
        """Indexes of stored signatures sharing a band with ``sig``."""
        out: set[int] = set()
        for key in self._keys(sig):
            hit = self._buckets.get(key)
            if hit is None:
                continue
            if isinstance(hit, int):
                out.add(hit)
            else:
                out.update(hit)
        return sorted(out)

    def similarity(self, sig: Signature, index: int) -> float:
        """Estimated Jaccard similarity of ``sig`` and a stored signature."""
        return float(np.count_nonzero(self._sigs[index] == sig)) / self.num_perm

    def assign(self, sig: Signature, own_id: str) -> str:
        """The cluster of ``sig`` among stored signatures (``own_id`` when none is near)."""
        near = {
            self.clusters[i]
            for i in self.candidates(sig)
            if self.similarity(sig, i) >= self.threshold
        }
        return min(near) if near else own_id

    def add(self, sig: Signature, cluster: str) -> None:
        """Store a signature under its (already assigned) cluster."""
        idx = len(self.clusters)
        self.clusters.append(cluster)
        self._sigs.append(sig)
        for key in self._keys(sig):
            hit = self._buckets.get(key)
            if hit is None:
                self._buckets[key] = idx
            elif isinstance(hit, int):
                self._buckets[key] = [hit, idx]
            else:
                hit.append(idx)

    def add_new(self, sig: Signature, own_id: str) -> str:
        """Assign a cluster to a new article and store it; returns the cluster id."""
        cluster = self.assign(sig, own_id)
        self.add(sig, cluster)
        return cluster


class NearDuplicates:
    """The corpus's near-duplicate index and the signatures behind it, cached between runs in
    ``cache_path`` (save() writes it when it changed). Apart from what is seen (known.py)."""

    def __init__(self, threshold: float, cache_path: Path, num_perm: int = NUM_PERM) -> None:
        self.index = NearDupIndex(threshold, num_perm)
        self.signatures: dict[str, Signature] = {}
        self.cache_path = cache_path
        self.stale = False  # save() rewrites the cache

    def add_stored(self, text_sha256: str, sig: Signature, cluster: str) -> None:
        """A stored article, read back at the start of a run, in its cluster."""
        self.signatures.setdefault(text_sha256, sig)
        self.index.add(sig, cluster)

    def add_new(self, text_sha256: str, sig: Signature, own_id: str) -> str:
        """An article accepted in this run: its dup_cluster (``own_id`` when near none)."""
        cluster = self.index.add_new(sig, own_id)
        self.signatures[text_sha256] = sig
        self.stale = True
        return cluster

    def save(self) -> None:
        """Write the signature cache when it changed (a rerun with nothing new writes nothing)."""
        if self.stale:
            save_signatures(self.cache_path, self.signatures)
            self.stale = False


def signature_batch(texts: list[str]) -> list[Signature]:
    """Signatures of a batch of texts (one round trip to a worker process)."""
    return [signature(t) for t in texts]


# --- signatures of stored articles, kept between runs ------------------------------------------

CACHE_FORMAT = 1


def load_signatures(path: Path, num_perm: int = NUM_PERM) -> dict[str, Signature]:
    """Signatures by text SHA-256 from an earlier run; empty when missing, stale or unreadable.

    The cache is working state (under .newscorpus/): any doubt means recomputing, never a guess.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = data["meta"]
            if meta.tolist() != [CACHE_FORMAT, num_perm, SHINGLE]:
                return {}
            keys = [k.decode("ascii") for k in data["keys"].tolist()]
            sigs = data["sigs"]
    except (OSError, KeyError, ValueError, UnicodeDecodeError):
        return {}
    if sigs.shape != (len(keys), num_perm) or sigs.dtype != np.uint32:
        return {}
    return dict(zip(keys, sigs, strict=True))


def save_signatures(path: Path, sigs: dict[str, Signature], num_perm: int = NUM_PERM) -> None:
    """Write the cache atomically (store.atomic_write_bytes)."""
    keys = np.array([k.encode("ascii") for k in sigs], dtype="S64")
    matrix = (
        np.stack(list(sigs.values())).astype(np.uint32)
        if sigs
        else np.zeros((0, num_perm), dtype=np.uint32)
    )
    buf = io.BytesIO()
    np.savez(buf, meta=np.array([CACHE_FORMAT, num_perm, SHINGLE]), keys=keys, sigs=matrix)
    atomic_write_bytes(path, buf.getvalue())
