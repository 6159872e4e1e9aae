"""manifest.json and changes/vX.Y.Z.json as frozen dataclasses; the previous release read back."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any

import orjson

from ..errors import ReleaseError
from ..store import MAX_DEPTH, too_deep
from .facts import Placement
from .version import is_version

ID_MAPS = ("articles", "labels", "claims")  # the per-article maps of the manifest
CHANGE_LISTS = ("added", "removed", "labels_changed", "claims_changed")


# JSON documents the release reads whole (agreement.json, a previous manifest.json) are a few
# levels deep; deeper ones (past store.MAX_DEPTH) are refused before json.dumps writes them again.
def parse_json_document(data: bytes | str, where: str, then: str = "nothing was released") -> Any:
    """A whole JSON document; ReleaseError naming ``where`` when malformed or too deep."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        why = str(exc).split(":")[0]
        raise ReleaseError(f"{where}: not valid JSON ({why}); {then}") from None
    if isinstance(obj, dict | list) and too_deep(obj):
        raise ReleaseError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels; {then}")
    return obj


@dataclass(frozen=True)
class SplitAssignment:
    """How many articles kept an earlier release's split, how many were placed anew."""

    kept: int
    new: int


@dataclass(frozen=True)
class Manifest:
    """manifest.json: what a release holds, in the order its keys are written."""

    name: str
    version: str
    tag: str
    date: str
    corpus_commit: str | None
    corpus_dirty: bool
    newscorpus_version: str
    split_shares: dict[str, float]
    counts: dict[str, dict[str, int]]
    split_assignment: SplitAssignment
    straddling_clusters: tuple[str, ...]
    annotations_per_item: str
    agreement: object  # reports/agreement.json as read (None when there is none)
    files: dict[str, str]  # relative path -> SHA-256, every file but manifest.json
    articles: dict[str, Placement]
    labels: dict[str, dict[str, str]]
    claims: dict[str, str]
    # config.column -> class names of its codes (layers.vocabularies), configs with rows only
    vocabularies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # config -> column -> datasets feature JSON (tables.features), configs with rows only: what
    # the next release compares with (compat.py)
    features: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self, maps: bool = True) -> dict[str, Any]:
        """The manifest as a JSON object (lists, not tuples: the release scan walks it);
        ``maps=False``: the per-article maps (ID_MAPS) empty."""
        if not maps:
            return replace(self, articles={}, labels={}, claims={}).to_dict()
        return {
            "name": self.name,
            "version": self.version,
            "tag": self.tag,
            "date": self.date,
            "corpus_commit": self.corpus_commit,
            "corpus_dirty": self.corpus_dirty,
            "newscorpus_version": self.newscorpus_version,
            "split_shares": self.split_shares,
            "counts": self.counts,
            "vocabularies": {k: list(v) for k, v in self.vocabularies.items()},
            "features": self.features,
            "split_assignment": {
                "kept": self.split_assignment.kept,
                "new": self.split_assignment.new,
            },
            "straddling_clusters": list(self.straddling_clusters),
            "annotations_per_item": self.annotations_per_item,
            "agreement": self.agreement,
            "files": self.files,
            "articles": {a: p.to_dict() for a, p in self.articles.items()},
            "labels": self.labels,
            "claims": self.claims,
        }

    def to_json(self) -> str:
        """One top-level key a line, values compact: readable, and small for 100,000 articles."""
        return "".join(self.json_parts())

    def json_parts(self) -> Iterator[str]:
        """:meth:`to_json` in pieces: a per-article map :data:`MAP_CHUNK` entries at a time."""
        yield "{\n"
        for i, (k, v) in enumerate(self.to_dict(maps=False).items()):
            yield (",\n" if i else "") + json.dumps(k) + ":"
            if k in ID_MAPS:
                yield from _map_parts(getattr(self, k))
            else:
                yield _compact(v)
        yield "\n}\n"


MAP_CHUNK = 10_000


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _map_parts(mapping: Mapping[str, Any]) -> Iterator[str]:
    """A map as compact JSON, a chunk of entries at a time (the bytes of one json.dumps)."""
    items = iter(mapping.items())
    yield "{"
    first = True
    while chunk := list(islice(items, MAP_CHUNK)):
        part = {a: v.to_dict() if isinstance(v, Placement) else v for a, v in chunk}
        yield ("" if first else ",") + _compact(part)[1:-1]
        first = False
    yield "}"


@dataclass(frozen=True)
class Previous:
    """What a new release needs of the one before it (read back from its manifest.json)."""

    version: str
    name: object  # the corpus name it was released from, as written (checked by the git target)
    counts: dict[str, dict[str, int]]
    articles: dict[str, Placement]
    labels: dict[str, dict[str, str]] | None  # None: a release made before this map existed
    claims: dict[str, str] | None  # None: a release made before this map existed
    files: frozenset[str]  # the files its manifest lists
    changelog: str = ""
    features: dict[str, Any] | None = None  # None: a release made before this key existed


def read_manifest(data: bytes | str, where: str, changelog: str = "") -> Previous:
    """A previous release's manifest.json as Previous; ReleaseError naming ``where`` if malformed."""
    m = parse_json_document(data, where, "nothing was changed")
    problem = None
    if not isinstance(m, dict):
        problem = "not a JSON object"
    elif not is_version(m.get("version")):
        problem = "no version X.Y.Z"
    else:
        for key in ("articles", "labels", "claims", "counts"):
            if not isinstance(m.get(key, {}), dict):
                problem = f"{key} is not an object"
        articles = m.get("articles", {})
        if problem is None and not all(
            isinstance(v, dict)
            and isinstance(v.get("split"), str)
            and isinstance(v.get("dup_cluster"), str)
            for v in articles.values()
        ):
            problem = "an entry of articles has no split or dup_cluster"
        if problem is None and not all(isinstance(v, dict) for v in m.get("labels", {}).values()):
            problem = "an entry of labels is not an object"
    if problem is not None:
        raise ReleaseError(
            f"{where}: not a newscorpus release manifest ({problem}); nothing was changed"
        )
    files = m.get("files")
    return Previous(
        version=m["version"],
        name=m.get("name"),
        counts=m.get("counts", {}),
        articles={
            a: Placement(v["split"], v["dup_cluster"]) for a, v in m.get("articles", {}).items()
        },
        labels=m.get("labels"),
        claims=m.get("claims"),
        files=frozenset(files) if isinstance(files, dict) else frozenset(),
        changelog=changelog,
        features=_features(m.get("features")),
    )


def _features(value: object) -> dict[str, Any] | None:
    """A manifest's ``features`` (config -> column -> feature) if it has that shape, else None
    (a release before the key, or a hand-edited one: not compared)."""
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        return None
    return value


@dataclass(frozen=True)
class ChangeCounts:
    """How many articles were added, removed, or had their labels or claims changed."""

    added: int
    removed: int
    labels_changed: int
    claims_changed: int


@dataclass(frozen=True)
class Changes:
    """changes/vX.Y.Z.json: the ids added, removed and changed since the previous release."""

    version: str
    previous: str | None
    added: tuple[str, ...]
    removed: tuple[str, ...]
    labels_changed: tuple[str, ...]
    claims_changed: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, in the order its keys are written."""
        return {
            "version": self.version,
            "previous": self.previous,
            "added": list(self.added),
            "removed": list(self.removed),
            "labels_changed": list(self.labels_changed),
            "claims_changed": list(self.claims_changed),
        }

    def counts(self) -> ChangeCounts:
        """The number of ids in each list."""
        return ChangeCounts(
            added=len(self.added),
            removed=len(self.removed),
            labels_changed=len(self.labels_changed),
            claims_changed=len(self.claims_changed),
        )


def changes(
    previous: Previous | None,
    version: str,
    articles: dict[str, Placement],
    labels: dict[str, dict[str, str]],
    claims: dict[str, str],
) -> Changes:
    """Articles added and removed and labels changed since the previous release."""
    if previous is None:
        return Changes(version, None, tuple(sorted(articles)), (), (), ())
    before = previous.articles
    both = set(articles) & set(before)

    def changed(old: dict[str, Any] | None, new: dict[str, Any]) -> tuple[str, ...]:
        if old is None:  # a release made before this map existed
            return ()
        return tuple(sorted(a for a in both if old.get(a) != new.get(a)))

    return Changes(
        version=version,
        previous=previous.version,
        added=tuple(sorted(set(articles) - set(before))),
        removed=tuple(sorted(set(before) - set(articles))),
        labels_changed=changed(previous.labels, labels),
        claims_changed=changed(previous.claims, claims),
    )


def changelog(
    previous: Previous | None,
    diff: Changes,
    date: str,
    counts: dict[str, dict[str, int]] | None = None,
) -> str:
    """CHANGELOG.md: this version's section on top of the previous ones."""
    v = diff.version
    head = f"## v{v} ({date[:10]})\n\n"
    rows = ""
    if counts:
        total = {c: sum(n.values()) for c, n in counts.items()}
        rows = (
            f"- Rows: {total.get('articles', 0)} articles, {total.get('stance', 0)} stance "
            f"labels, {total.get('claims', 0)} claims, {total.get('annotations', 0)} "
            "annotations.\n"
        )
    if diff.previous is None:
        head += f"- First release: {len(diff.added)} articles.\n"
    else:
        tracked = previous is not None and previous.claims is not None
        claims = (
            f", {len(diff.claims_changed)} with changed claims"
            if tracked
            else " (claims changes are tracked from this version on)"
        )
        head += (
            f"- Against v{diff.previous}: {len(diff.added)} articles added, "
            f"{len(diff.removed)} removed, {len(diff.labels_changed)} with changed stance "
            f"labels{claims}.\n"
        )
    head += rows + f"- The ids are listed in `changes/v{v}.json`.\n"
    older = (
        previous.changelog.split("\n", 1)[1].lstrip("\n")
        if previous and previous.changelog.startswith("# ")
        else ""
    )
    return f"# Changelog\n\n{head}\n{older}".rstrip("\n") + "\n"
