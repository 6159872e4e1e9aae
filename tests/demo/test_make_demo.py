"""`make demo` passes the ports on (the README says it can)."""

from __future__ import annotations

import subprocess

from tests.conftest import REPO


def test_make_demo_moves_its_ports() -> None:
    out = subprocess.run(
        ["make", "-n", "demo", "STUDIO_PORT=9181", "SAMPLE_PORT=9182"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    demo = [ln for ln in out.splitlines() if " demo --dir demo" in ln]
    assert demo and "--studio-port 9181" in demo[0] and "--sample-port 9182" in demo[0]
