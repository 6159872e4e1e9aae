"""Which Label Studio `studio start` runs: named by the caller (the CLI reads the environment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from newscorpus import cli
from newscorpus.labelstudio import server


def _fake_env(env: Path) -> Path:
    exe = env / "bin" / "label-studio"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    return exe


def test_the_named_environment_is_used(tmp_path: Path) -> None:
    exe = _fake_env(tmp_path / "ls-env")
    assert server.label_studio_executable(tmp_path / "ls-env") == exe


def test_without_a_name_the_data_home_holds_the_per_user_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no label-studio on PATH
    home = tmp_path / "share"
    exe = _fake_env(server.default_env_dir(home))
    assert exe.is_relative_to(home / "newscorpus")
    assert server.label_studio_executable(None, home) == exe


def test_the_cli_reads_the_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSCORPUS_STUDIO_ENV", "rel/env")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert cli.studio_env() == (Path("rel/env"), tmp_path)
    monkeypatch.delenv("NEWSCORPUS_STUDIO_ENV")
    monkeypatch.delenv("XDG_DATA_HOME")
    assert cli.studio_env() == (None, None)
