"""Every --help is honest about what a flag takes."""

from __future__ import annotations

import click
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from newscorpus.cli import app


def _paths(group: click.Command, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, cmd in getattr(group, "commands", {}).items():
        out += _paths(cmd, (*prefix, name))
    return out


COMMANDS = _paths(get_command(app))


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "newscorpus")
def test_plain_flags_show_no_value_type(path: tuple[str, ...]) -> None:
    res = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "<bool>" not in res.output
    assert "--help" in res.output


def test_a_flag_given_a_value_is_one_line(tmp_path: object) -> None:
    res = CliRunner().invoke(app, ["pull", "--full", "true"])
    assert res.exit_code == 2
    assert "true" in res.output
