"""Train/validation/test assignment by hashing ``dup_cluster``, stable across versions."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import ReleaseError

Shares = tuple[tuple[str, float], ...]


def check_shares(shares: Shares) -> None:
    """Refuse split shares that are empty, negative or do not add up to 1."""
    if not shares:
        raise ReleaseError("[release].splits: no splits")
    names = [n for n, _ in shares]
    if len(set(names)) != len(names):
        raise ReleaseError(f"[release].splits: duplicate split name in {names}")
    if any(s < 0 for _, s in shares) or abs(sum(s for _, s in shares) - 1.0) > 1e-6:
        raise ReleaseError(f"[release].splits: shares {dict(shares)} must be >= 0 and add up to 1")


def hash_unit(key: str) -> float:
    """A number in [0, 1) from SHA-256 of ``key``: the same on every machine and version."""
    digest = hashlib.sha256(f"newscorpus-split:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_of_cluster(cluster: str, shares: Shares) -> str:
    """The split a near-duplicate cluster falls into, by its hash and the cumulative shares."""
    u = hash_unit(cluster)
    total = 0.0
    for name, share in shares:
        total += share
        if u < total:
            return name
    return shares[-1][0]


@dataclass
class SplitAssigner:
    """Assigns each article a split: kept from the previous release, else by its cluster.

    A new article whose cluster already had members in the previous release joins the split
    most of them were in, so that clusters never straddle splits even when shares change.
    """

    shares: Shares
    previous: Mapping[str, str] = field(default_factory=dict)
    previous_clusters: Mapping[str, str] = field(default_factory=dict)
    kept: int = 0
    new: int = 0

    def __post_init__(self) -> None:
        check_shares(self.shares)

    def assign(self, article_id: str, cluster: str) -> str:
        """The split of one article (counted as kept or new)."""
        split = self.previous.get(article_id)
        if split is not None:
            self.kept += 1
        else:
            self.new += 1
            split = self.previous_clusters.get(cluster) or split_of_cluster(cluster, self.shares)
        return split


def previous_cluster_splits(
    previous_splits: Mapping[str, str], previous_clusters: Mapping[str, str]
) -> dict[str, str]:
    """cluster -> the split most of its articles had in the previous release."""
    votes: dict[str, Counter[str]] = {}
    for aid, split in previous_splits.items():
        cluster = previous_clusters.get(aid)
        if cluster:
            votes.setdefault(cluster, Counter())[split] += 1
    return {c: v.most_common(1)[0][0] for c, v in votes.items()}
