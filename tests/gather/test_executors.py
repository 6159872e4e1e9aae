"""Where the shard work runs does not change the corpus: serial, the local process pool and Ray
(a real head and worker node on this machine, tests/gather/conftest.py) write the same files;
a worker node killed mid-run has its tasks retried; a driver killed mid-run and rerun ends with
the corpus of one uninterrupted run. Only `fetched_at` and a rejection's `at` (the clock) may
differ, as they differ between two local runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config, replace_gather
from newscorpus.gather.executor import ProcessExecutor, SerialExecutor
from newscorpus.gather.pipeline import gather, make_executor
from newscorpus.store import read_jsonl
from tests.conftest import REPO
from tests.gather.conftest import FIXTURES, RUN_MARKER, LocalServer, RayCluster, free_port
from tests.gather.test_archive import warc_bytes
from tests.gather.test_resume import kill_when, serve_many

IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
CLOCK = ("fetched_at", "at", "seconds")  # the only fields two runs write differently (clocks)
GATHER_RAY = ("gather", "--executor", "ray")
KILLED: dict[str, Any] = {"n_pages": 45, "delay": 0.1}  # a run that lasts a few seconds


def corpus_files(root: Path) -> dict[str, Any]:
    """Every article file and rejected.jsonl, record by record in file order, clock aside, and
    the archive shards' completion markers (with their stats)."""
    files = [*sorted((root / "articles").glob("*.jsonl")), root / "rejected.jsonl"]
    found: dict[str, Any] = {
        f.name: [{k: v for k, v in rec.items() if k not in CLOCK} for rec in read_jsonl(f)]
        for f in files
        if f.exists()
    }
    shards = root / ".newscorpus" / "shards"
    for f in sorted(shards.rglob("*.json")) if shards.exists() else []:
        marker = json.loads(f.read_text(encoding="utf-8"))
        found[str(f.relative_to(shards))] = {k: v for k, v in marker.items() if k not in CLOCK}
    return found


def mixed_corpus(
    tmp_path: Path, make_corpus: Callable[..., Path], server: LocalServer, name: str, **kw: Any
) -> Path:
    """A feed on the local server (near copies, off-topic pages, 404s), a folder holding every
    fixture page (languages, windows-1252, a menu page) and a folder of WARC shards (one cut)."""
    pages, archives = tmp_path / "pages", tmp_path / "archives"
    if not pages.exists():
        shutil.copytree(FIXTURES, pages)
        archives.mkdir()
        for shard in range(3):
            (archives / f"{shard}.warc.gz").write_bytes(warc_bytes(shard, pages=4))
        (archives / "3.warc.gz").write_bytes(warc_bytes(3, pages=4)[:-200])  # cut
    feed = serve_many(server, **kw)
    return make_corpus(
        [
            ("feed", "feed", feed),
            ("pages", "html_dir", str(pages)),
            ("cc", "warc", str(archives)),
        ],
        allow=[server.hostport],
        name=name,
    )


def serial_baseline(root: Path) -> dict[str, list[dict[str, Any]]]:
    gather(replace_gather(load_config(root), executor="serial"))
    return corpus_files(root)


def driver(root: Path, marker: str, address: str) -> subprocess.Popen[bytes]:
    """`newscorpus gather --executor ray` in its own process, on the cluster at ``address``."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "RAY_ADDRESS": address,
        "RAY_USAGE_STATS_ENABLED": "0",
        RUN_MARKER: marker,
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newscorpus.cli",
            "--corpus",
            str(root),
            "gather",
            "--executor",
            "ray",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def task_running(marker: str) -> bool:
    """A Ray worker of the node started under ``marker`` is running one of gather's tasks."""
    needle = f"{RUN_MARKER}={marker}".encode()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if b"ray::_call" in (d / "cmdline").read_bytes() and needle in (
                d / "environ"
            ).read_bytes().split(b"\0"):
                return True
        except OSError:
            continue
    return False


# --- without Ray --------------------------------------------------------------------------


def double(chunk: list[int]) -> list[int]:
    return [2 * x for x in chunk]


def test_executor_maps_in_input_order_in_batches() -> None:
    for ex in (SerialExecutor(), ProcessExecutor(2)):
        with ex:
            assert list(ex.map(double, range(23), batch=4)) == [2 * x for x in range(23)]
    with make_executor("serial") as ex:
        assert list(ex.map(double, [], batch=4)) == []


def test_default_executor_never_imports_ray(
    tmp_path: Path, make_corpus: Callable[..., Path]
) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(FIXTURES, pages)
    root = make_corpus([("pages", "html_dir", str(pages))])
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from newscorpus.cli import app\n"
        f"r = CliRunner().invoke(app, ['--corpus', {str(root)!r}, 'gather'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('ray' in sys.modules, any(m.startswith('ray.') for m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NEWSCORPUS_WORKERS": "2"}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False False"
    assert (root / "articles" / "pages.jsonl").read_text(encoding="utf-8").count("\n") >= 3


def test_executor_settings_are_checked(
    tmp_path: Path,
    make_corpus: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(FIXTURES, pages)
    root = make_corpus([("pages", "html_dir", str(pages))])
    toml = root / "corpus.toml"
    base = toml.read_text(encoding="utf-8")
    assert load_config(root).gather.executor == "local"

    toml.write_text(base + 'executor = "threads"\n', encoding="utf-8")  # appended to [gather]
    r = cli("--corpus", root, "gather")
    assert r.exit_code == 2
    line = len(base.splitlines()) + 1
    assert r.output.strip().splitlines() == [
        f"error: {toml}:{line}: gather.executor: 'threads' is not one of local, serial, ray"
    ]
    toml.write_text(base + 'executor = "ray"\nray_address = "http://10.1.2.3"\n', encoding="utf-8")
    r = cli("--corpus", root, "gather")
    assert r.exit_code == 2 and "gather.ray_address: 'http://10.1.2.3' is not HOST:PORT" in r.output
    assert len(r.output.strip().splitlines()) == 1

    toml.write_text(
        base + 'executor = "serial"\nray_address = "127.0.0.1:6379"\n', encoding="utf-8"
    )
    cfg = load_config(root)
    assert (cfg.gather.executor, cfg.gather.ray_address) == ("serial", "127.0.0.1:6379")
    r = cli("--corpus", root, "gather", "--executor", "pool")
    assert r.exit_code == 2
    assert r.output.strip() == "error: --executor: 'pool' is not one of local, serial, ray"
    monkeypatch.setenv("RAY_ADDRESS", "not an address")
    r = cli("--corpus", root, "gather", "--executor", "ray")
    assert r.exit_code == 2
    assert r.output.strip() == (
        "error: RAY_ADDRESS: 'not an address' is not HOST:PORT, ray://HOST:PORT or auto"
    )
    assert not (root / "articles").exists() or not any((root / "articles").iterdir())
    assert not (root / "rejected.jsonl").exists()


def test_an_unreachable_ray_cluster_is_one_line_and_nothing_is_written(
    tmp_path: Path,
    make_corpus: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(FIXTURES, pages)
    root = make_corpus([("pages", "html_dir", str(pages))])
    closed, other = free_port(), free_port()  # nothing listens there
    toml = root / "corpus.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8")
        + f'executor = "ray"\nray_address = "127.0.0.1:{closed}"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    t0 = time.monotonic()
    r = cli("--corpus", root, "gather")
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [
        f"error: gather: cannot reach the Ray cluster at 127.0.0.1:{closed}: Connection refused"
    ]
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{other}")  # the environment wins over the file
    r = cli("--corpus", root, "gather")
    assert r.exit_code == 1 and f"cluster at 127.0.0.1:{other}: " in r.output
    assert time.monotonic() - t0 < 30  # not Ray's minutes of retries
    assert not (root / "rejected.jsonl").exists()
    assert not list((root / "articles").glob("*.jsonl"))


def test_serial_and_local_give_the_same_corpus(
    tmp_path: Path, make_corpus: Callable[..., Path], server: LocalServer, cli: Callable[..., Any]
) -> None:
    kw = {"n_pages": 45, "delay": 0.0}
    expected = serial_baseline(mixed_corpus(tmp_path, make_corpus, server, "serial", **kw))
    assert len(expected["feed.jsonl"]) == 27 and len(expected["pages.jsonl"]) >= 3
    assert len({a["dup_cluster"] for a in expected["feed.jsonl"]}) == 2
    assert len(expected["cc.jsonl"]) == 11  # 3 shards marked done, the cut one rejected
    assert sum(1 for k in expected if k.startswith("cc/")) == 3
    local = mixed_corpus(tmp_path, make_corpus, server, "local", **kw)
    r = cli("--corpus", local, "gather", "--executor", "local")
    assert r.exit_code == 0, r.output
    assert corpus_files(local) == expected


# --- on a real Ray cluster (a head and a worker node on loopback) --------------------------


def addresses_in_logs(folder: Path) -> set[str]:
    """Every IPv4 address Ray's node processes wrote in their logs under ``folder`` (their own,
    their peers', the driver's); asserted non-empty, so a moved log folder does not pass."""
    logs = [
        f
        for name in ("raylet.out", "gcs_server.out", "python-core-driver-*.log")
        for f in folder.rglob(name)
    ]
    found = {a for f in logs for a in IPV4.findall(f.read_text(errors="replace"))}
    assert logs and found, f"no Ray logs with addresses under {folder}"
    return found - {"0.0.0.0"}


def assert_loopback_only(folder: Path) -> None:
    found = addresses_in_logs(folder)
    assert all(a.startswith("127.") for a in found), found


def test_ray_gives_the_corpus_of_the_local_executor(
    tmp_path: Path,
    make_corpus: Callable[..., Path],
    server: LocalServer,
    cli: Callable[..., Any],
    ray_cluster: RayCluster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kw = {"n_pages": 45, "delay": 0.0}
    local = mixed_corpus(tmp_path, make_corpus, server, "local", **kw)
    assert cli("--corpus", local, "gather").exit_code == 0
    expected = corpus_files(local)
    assert len(expected["feed.jsonl"]) == 27

    monkeypatch.setenv("RAY_ADDRESS", ray_cluster.address)
    on_ray = mixed_corpus(tmp_path, make_corpus, server, "ray", **kw)
    r = cli("--corpus", on_ray, "gather", "--executor", "ray")
    assert r.exit_code == 0, r.output
    assert corpus_files(on_ray) == expected
    import ray

    assert not ray.is_initialized()  # the run let go of the cluster
    assert_loopback_only(ray_cluster.temp)  # nodes and driver: nothing off loopback
    # a rerun on Ray finds everything stored: nothing new, nothing appended
    before = {f.name: f.read_bytes() for f in (on_ray / "articles").glob("*.jsonl")}
    assert cli("--corpus", on_ray, "gather", "--executor", "ray").exit_code == 0
    assert {f.name: f.read_bytes() for f in (on_ray / "articles").glob("*.jsonl")} == before


def test_ray_without_an_address_starts_a_local_instance_for_the_run(
    tmp_path: Path, make_corpus: Callable[..., Path], run_marker: str
) -> None:
    """No RAY_ADDRESS, no ray_address: the run starts its own Ray instance, gives the corpus of
    the serial executor, and its Ray processes end with it (Ray's files kept out of HOME)."""
    import tempfile

    pages = tmp_path / "pages"
    shutil.copytree(FIXTURES, pages)
    expected = serial_baseline(make_corpus([("pages", "html_dir", str(pages))], name="serial"))
    root = make_corpus([("pages", "html_dir", str(pages))], name="ray")
    temp = Path(tempfile.mkdtemp(prefix="nc-ray-"))  # short: Ray's socket paths have a limit
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update({"HOME": str(tmp_path), "RAY_TMPDIR": str(temp), "RAY_USAGE_STATS_ENABLED": "0"})
    env.update({"PYTHONPATH": str(REPO / "src"), "NEWSCORPUS_WORKERS": "2", RUN_MARKER: run_marker})
    try:
        done = subprocess.run(
            [sys.executable, "-m", "newscorpus.cli", "--corpus", str(root), *GATHER_RAY],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert corpus_files(root) == expected
        assert_loopback_only(temp)  # the instance the run started: on 127.0.0.1
        local = RayCluster(address="", temp=temp.parent, markers={temp.name: run_marker})
        deadline = time.monotonic() + 10
        while local.pids(temp.name) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not local.pids(temp.name), "the run's Ray instance outlived it"
    finally:
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_ray_driver_stopped_mid_run_and_rerun_equals_one_run(
    tmp_path: Path,
    make_corpus: Callable[..., Path],
    server: LocalServer,
    ray_cluster: RayCluster,
    run_marker: str,
    sig: signal.Signals,
) -> None:
    """The driver killed (SIGKILL) or stopped (SIGTERM, a scheduler's stop: one line, exit 143,
    what was written kept) mid-run on Ray; the rerun gives the corpus of one uninterrupted run."""
    expected = serial_baseline(mixed_corpus(tmp_path, make_corpus, server, "whole", **KILLED))
    stopped = mixed_corpus(tmp_path, make_corpus, server, "stopped", **KILLED)
    first = driver(stopped, run_marker, ray_cluster.address)
    try:
        if sig == signal.SIGKILL:
            kill_when(stopped, 1, first, run_marker)
        else:
            target = stopped / "articles" / "feed.jsonl"
            deadline = time.monotonic() + 60
            while not (target.exists() and target.read_bytes().count(b"\n") >= 1):
                assert first.poll() is None, first.stderr.read() if first.stderr else b""
                assert time.monotonic() < deadline, "nothing written"
                time.sleep(0.02)
            first.send_signal(sig)
            code = first.wait(timeout=60)
            err = (first.stderr.read() if first.stderr else b"").decode().strip()
            assert code == 128 + sig, err[:3000]
            assert err.splitlines()[-1].startswith("error: stopped by SIGTERM"), err[-500:]
            assert "Traceback" not in err
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert 0 < len(corpus_files(stopped)["feed.jsonl"]) < len(expected["feed.jsonl"])
    again = driver(stopped, run_marker, ray_cluster.address)
    assert again.wait(timeout=120) == 0, again.stderr.read() if again.stderr else b""
    assert corpus_files(stopped) == expected


def test_ray_worker_node_killed_mid_run_its_tasks_are_retried(
    tmp_path: Path,
    make_corpus: Callable[..., Path],
    server: LocalServer,
    ray_cluster: RayCluster,
    run_marker: str,
) -> None:
    """The worker node stays down (the ray_cluster fixture starts it again for a later test)."""
    expected = serial_baseline(mixed_corpus(tmp_path, make_corpus, server, "whole", **KILLED))
    root = mixed_corpus(tmp_path, make_corpus, server, "lost", **KILLED)
    proc = driver(root, run_marker, ray_cluster.address)
    try:
        deadline = time.monotonic() + 60
        while not task_running(ray_cluster.worker_marker):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            assert time.monotonic() < deadline, "no task ever ran on the worker node"
            time.sleep(0.01)
        ray_cluster.kill("worker")  # the whole node: raylet, workers, agents
        assert proc.wait(timeout=180) == 0, proc.stderr.read() if proc.stderr else b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert corpus_files(root) == expected


def test_the_driver_announces_a_loopback_address_for_a_loopback_cluster() -> None:
    """Ray would announce the driver at the default route's address (192.0.2.2 here): a local
    instance or a cluster on loopback keeps every connection on loopback."""
    pytest.importorskip("ray")
    from newscorpus.gather.executor_ray import _loopback_host

    assert _loopback_host(None) == "127.0.0.1"
    assert _loopback_host("127.0.0.1:6379") == "127.0.0.1"
    assert _loopback_host("ray://127.0.0.3:10001") == "127.0.0.3"
    assert _loopback_host("localhost:6379") == "127.0.0.1"
    assert _loopback_host("[::1]:6379") == "::1"
    assert _loopback_host("10.0.0.5:6379") is None
    assert _loopback_host("head.example:6379") is None
    assert _loopback_host("auto") is None
