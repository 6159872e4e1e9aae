"""A minor or patch release must not break code written for the previous version: a config or
column gone, or a feature changed (a string becoming a class code, class names reordered),
needs a new major version (release/compat.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.errors import ReleaseError
from newscorpus.release import build
from newscorpus.release.compat import breaking_changes, check_compatible
from newscorpus.release.tables import features

from .helpers import build_corpus

STANCE = features("stance")
CLASS = {"names": ["favor", "against"], "_type": "ClassLabel"}
TEXT = {"dtype": "string", "_type": "Value"}


def test_what_breaks_and_what_does_not() -> None:
    before = {"stance": {"label": CLASS, "target": TEXT}, "claims": {"text": TEXT}}
    same = json.loads(json.dumps(before))
    assert breaking_changes(before, same) == []
    grown = {
        "stance": {
            "label": {**CLASS, "names": [*CLASS["names"], "neutral"]},
            "target": TEXT,
            "new": TEXT,
        },
        "claims": {"text": TEXT},
        "frame": {"label": CLASS},
    }
    assert breaking_changes(before, grown) == []  # names at the end, columns, configs: added
    assert breaking_changes(before, {"stance": before["stance"]}) == ["config claims is gone"]
    gone = {"stance": {"label": CLASS}, "claims": {"text": TEXT}}
    assert breaking_changes(before, gone) == ["config stance: column target is gone"]
    typed = {"stance": {"label": CLASS, "target": CLASS}, "claims": {"text": TEXT}}
    assert breaking_changes(before, typed) == ["config stance: column target: string -> ClassLabel"]
    reordered = {
        **before,
        "stance": {"label": {**CLASS, "names": ["against", "favor"]}, "target": TEXT},
    }
    assert breaking_changes(before, reordered) == [
        "config stance: column label: ClassLabel changed"
    ]
    nested_old = {
        "annotations": {"stance": {"feature": {"label": TEXT, "target": TEXT}, "_type": "List"}}
    }
    nested_new = {
        "annotations": {"stance": {"feature": {"label": CLASS, "target": TEXT}, "_type": "List"}}
    }
    assert breaking_changes(nested_old, nested_new) == [
        "config annotations: column stance: list of struct changed"
    ]


def test_only_a_new_major_version_may_break() -> None:
    before = {"stance": {"label": TEXT}}
    after = {"stance": {"label": CLASS}}
    with pytest.raises(
        ReleaseError,
        match=r"release v1\.3\.0: config stance: column label: string -> ClassLabel since v1\.2\.0, which breaks code written for it: release it as v2\.0\.0 \(--bump major\); nothing was released",
    ):
        check_compatible("1.2.0", before, after, "1.3.0")
    with pytest.raises(ReleaseError, match=r"v1\.2\.1"):
        check_compatible("1.2.0", before, after, "1.2.1")
    check_compatible("1.2.0", before, after, "2.0.0")  # a major version may
    check_compatible("0.3.0", before, after, "0.4.0")  # 0.y.z: initial development
    check_compatible("1.2.0", None, after, "1.3.0")  # a release before features were recorded
    check_compatible(None, None, after, "1.0.0")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def test_a_minor_release_that_breaks_the_schema_is_refused_and_leaves_nothing(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _ = build_corpus(tmp_path / "c")
    repo = tmp_path / "repo"
    first = cli("--corpus", cfg.root, "release", "--version", "1.0.0", "--to", repo)
    assert first.exit_code == 0, first.output
    manifest = json.loads((repo / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["features"]["stance"] == STANCE  # recorded for the next release
    assert set(manifest["features"]) == {
        c for c, n in manifest["counts"].items() if sum(n.values())
    }
    # as if v1.0.0 had released stance labels as strings (the releases before typed labels)
    manifest["features"]["stance"]["label"] = TEXT
    (repo / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    _git(repo, "commit", "-qam", "v1.0.0 as an older release wrote it")
    head, tags = _git(repo, "rev-parse", "HEAD"), _git(repo, "tag")

    built: list[object] = []  # the layers tell it: refused before the configs are written
    monkeypatch.setattr(build, "write_configs", lambda *a: built.append(a))
    refused = cli("--corpus", cfg.root, "release", "--bump", "minor", "--to", repo)
    monkeypatch.undo()
    assert not built
    assert refused.exit_code == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert "config stance: column label: string -> ClassLabel since v1.0.0" in lines[0]
    assert "release it as v2.0.0 (--bump major)" in lines[0]
    assert _git(repo, "rev-parse", "HEAD") == head and _git(repo, "tag") == tags  # nothing

    major = cli("--corpus", cfg.root, "release", "--bump", "major", "--to", repo)
    assert major.exit_code == 0, major.output
    assert "v2.0.0" in _git(repo, "tag").split()
    again = cli("--corpus", cfg.root, "release", "--bump", "minor", "--to", repo)
    assert again.exit_code == 0, again.output  # the same schema as v2.0.0: a minor is fine
