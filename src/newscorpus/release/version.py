"""Release versions: parse X.Y.Z, the next version after a previous one, order."""

from __future__ import annotations

import re

from ..errors import ConfigError

# fullmatch, ASCII digits: "$" let "1.0.0\n" through and \d took "١.٠.٠" (a tag and file names)
SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
PARTS = ("major", "minor", "patch")


def is_version(v: object) -> bool:
    """Whether ``v`` is a string X.Y.Z (no leading 'v')."""
    return isinstance(v, str) and SEMVER.fullmatch(v) is not None


def parse_version(v: str) -> tuple[int, int, int]:
    """X.Y.Z -> (X, Y, Z); a leading 'v' is accepted."""
    m = SEMVER.fullmatch(v.removeprefix("v"))
    if not m:
        raise ConfigError(f"--version {v!r}: not a semantic version X.Y.Z")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def bump_version(previous: str | None, part: str) -> str:
    """The next version after ``previous`` (0.0.0 when there is none)."""
    if part not in PARTS:
        raise ConfigError(f"--bump {part!r}: one of {', '.join(PARTS)}")
    x, y, z = parse_version(previous or "0.0.0")
    return {"major": f"{x + 1}.0.0", "minor": f"{x}.{y + 1}.0", "patch": f"{x}.{y}.{z + 1}"}[part]


def check_choice(version: str | None, bump: str | None) -> None:
    """ConfigError unless exactly one of a version and a bump is given (a version is parsed)."""
    if (version is None) == (bump is None):
        raise ConfigError("give exactly one of --version X.Y.Z or --bump major|minor|patch")
    if version is not None:
        parse_version(version)


def next_version(previous: str | None, *, version: str | None, bump: str | None) -> str:
    """The version to release, X.Y.Z without 'v': ``version`` itself, or ``previous`` bumped."""
    new = bump_version(previous, bump) if bump else str(version)
    parse_version(new)
    return new.removeprefix("v")


def is_after(new: str, old: str) -> bool:
    """Whether version ``new`` comes after ``old``."""
    return parse_version(new) > parse_version(old)
