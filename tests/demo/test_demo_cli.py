"""`newscorpus demo` refuses bad options in one line, and honours --studio-port on a rerun."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import snapshot


def _busy() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def test_busy_studio_port_names_the_port_given_on_each_run(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    with _busy() as a, _busy() as b:
        for s in (a, b):
            port = s.getsockname()[1]
            res = cli(
                "demo", "--dir", tmp_path / "demo", "--sample-port", "0", "--studio-port", port
            )
            assert res.exit_code == 1, res.output
            assert res.stderr.strip().splitlines() == [
                f"error: port {port} on 127.0.0.1 is busy: stop what uses it or pass --port "
                "(Label Studio would silently move to another port)"
            ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--sample-port", "70000"],
            "--sample-port: must be an integer from 0 to 65535 (0 picks a free port), got 70000",
        ),
        (["--studio-port", "0"], "--studio-port: must be an integer from 1 to 65535, got 0"),
    ],
)
def test_bad_ports_are_usage_errors(
    tmp_path: Path, cli: Any, args: list[str], message: str
) -> None:
    res = cli("demo", "--dir", tmp_path / "demo", *args)
    assert res.exit_code == 2, res.output
    assert res.stderr.strip() == f"error: {message}"
    assert not (tmp_path / "demo").exists()


def test_dir_that_is_a_file_is_a_usage_error(tmp_path: Path, cli: Any) -> None:
    (tmp_path / "afile").write_text("x")
    before = snapshot(tmp_path)
    res = cli("demo", "--dir", tmp_path / "afile", "--sample-port", "0")
    assert res.exit_code == 2, res.output
    assert res.stderr.strip() == f"error: {tmp_path / 'afile'}: exists and is not a folder (--dir)"
    assert snapshot(tmp_path) == before
