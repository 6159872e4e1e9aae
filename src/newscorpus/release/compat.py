"""Whether a release's configs still load in code written for the previous version.

Researchers pin a version (``load_dataset(repo, config, revision="vX.Y.Z")``) and read its
features (``ds.features["label"].names``, ``row["label"]``). Semantic versioning promises them
that a minor or patch version keeps what they read: a config or column that goes away, or
whose feature changes (a string becoming a class code, a list becoming a value, class names
reordered or dropped), breaks their code, so it needs a new major version. What does not break:
new configs, new columns, and class names added at the end (the old codes keep their meaning).
Version 0.y.z is initial development (semver): anything may change there.

The manifest of each release records its configs' features (``manifest.json`` ``features``);
a previous release made before that key was recorded is not compared (nothing to compare with).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ReleaseError
from .version import parse_version


def _kind(feature: Any) -> str:
    """A feature as a researcher reads it: ClassLabel, list, struct, or the value's dtype."""
    if isinstance(feature, dict):
        kind = feature.get("_type")
        if kind == "Value":
            return str(feature.get("dtype"))
        if kind == "List":
            return f"list of {_kind(feature.get('feature'))}"
        if kind is None:
            return "struct"
        return str(kind)
    return type(feature).__name__


def _keeps(old: Any, new: Any) -> bool:
    """Whether code reading feature ``old`` still reads ``new``."""
    if old == new:
        return True
    if not (isinstance(old, dict) and isinstance(new, dict)) or old.get("_type") != new.get(
        "_type"
    ):
        return False
    kind = old.get("_type")
    if kind == "ClassLabel":
        before, after = list(old.get("names", [])), list(new.get("names", []))
        return after[: len(before)] == before  # names added at the end only
    if kind == "List":
        return _keeps(old.get("feature"), new.get("feature"))
    if kind is None:  # a struct: its fields by name; new fields are fine
        return all(k in new and _keeps(v, new[k]) for k, v in old.items())
    return False


def breaking_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What of ``before``'s features (config -> column -> feature JSON) ``after`` breaks."""
    out: list[str] = []
    for config, columns in before.items():
        now = after.get(config)
        if not isinstance(now, Mapping):
            out.append(f"config {config} is gone")
            continue
        for column, feature in columns.items():
            if column not in now:
                out.append(f"config {config}: column {column} is gone")
            elif not _keeps(feature, now[column]):
                was, becomes = _kind(feature), _kind(now[column])
                change = f"{was} -> {becomes}" if was != becomes else f"{was} changed"
                out.append(f"config {config}: column {column}: {change}")
    return out


def check_compatible(
    previous_version: str | None,
    previous_features: Mapping[str, Any] | None,
    features: Mapping[str, Any],
    version: str,
) -> None:
    """ReleaseError when ``version`` breaks the previous release's features without being a
    new major version (nothing is released)."""
    if previous_version is None or not previous_features:
        return
    old_major, new_major = parse_version(previous_version)[0], parse_version(version)[0]
    if old_major == 0 or new_major > old_major:
        return
    broken = breaking_changes(previous_features, features)
    if broken:
        more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
        raise ReleaseError(
            f"release v{version}: {broken[0]}{more} since v{previous_version}, which breaks code "
            f"written for it: release it as v{new_major + 1}.0.0 (--bump major); nothing was "
            "released"
        )
