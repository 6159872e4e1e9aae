"""Where packaged files (schemas, templates) live, installed or in a source tree."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def schemas_dir() -> Path:
    """The folder of JSON Schemas and the labeling template."""
    packaged = _HERE / "_schemas"
    if packaged.is_dir():
        return packaged
    return _HERE.parent.parent / "schemas"


def repo_root() -> Path | None:
    """The source checkout this package runs from, if any (for DATA_CARD.md and samples)."""
    root = _HERE.parent.parent
    return root if (root / "pyproject.toml").is_file() else None
