"""`release` killed while its forked validation worker runs: the worker ends with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO, RUN_MARKER, marked_pids
from tests.release.helpers import build_corpus

SLOW_RELEASE = """
import sys, time
from pathlib import Path
from newscorpus.config import load_config
from newscorpus.release import build, publish

def slow(cfg):
    print("validating", flush=True)
    time.sleep(60)
    return 0, ""

build.validation_errors = slow
from dataclasses import replace
cfg = load_config(Path(sys.argv[1]))
cfg = replace(cfg, release=replace(cfg.release, to=Path(sys.argv[2])))
publish.make_release(cfg, options=publish.ReleaseOptions(version="1.0.0", dry_run=True))
"""


def test_a_killed_release_leaves_no_validation_worker(tmp_path: Path, run_marker: str) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), RUN_MARKER: run_marker}
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_RELEASE, str(cfg.root), str(tmp_path / "rel")],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "validating"  # printed by the forked worker
        assert len(marked_pids(run_marker)) == 2
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while marked_pids(run_marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marked_pids(run_marker) == []
    finally:
        proc.kill()
        proc.wait()
