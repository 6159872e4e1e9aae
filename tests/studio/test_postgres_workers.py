"""`studio start --database postgresql` serves Label Studio with gunicorn worker processes.

One PostgreSQL-backed server for the module, started through the CLI with two workers: the
workers under one master, several accounts annotating at once, the labeling view in headless
Chromium, a killed master whose orphaned workers the next start clears, a stop that leaves no
process behind. SQLite keeps the one-process development server (refused with --workers).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from newscorpus.annotation.pull import pull
from newscorpus.annotation.push import push
from newscorpus.cli import app
from newscorpus.config import load_config
from newscorpus.labelstudio import postgres, server
from newscorpus.records import Annotation, Article
from tests.conftest import REPO, StudioServer, _free_port, snapshot, write_corpus
from tests.studio.helpers import articles, studio_corpus, with_articles

pytestmark = pytest.mark.studio

WORKERS = 2
TEAM = 4
ARTICLES = 3


def run_cli(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def master_of(root: Path) -> int:
    return int((server.studio_dir(load_config(root)) / "server.pid").read_text())


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def serving(data: Path) -> list[int]:
    """Live processes whose command line names the Label Studio data folder (master, workers)."""
    needle = str(data).encode()
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and alive(int(d.name)):
            try:
                if needle in (d / "cmdline").read_bytes():
                    found.append(int(d.name))
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def pg_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioServer]:
    os.environ.setdefault("NEWSCORPUS_STUDIO_ENV", str(REPO / ".venv-studio"))
    root = write_corpus(tmp_path_factory.mktemp("pg-workers") / "corpus")
    r = run_cli("--corpus", root, "studio", "start", "--database", "postgresql",
                "--workers", WORKERS, "--port", _free_port())  # fmt: skip
    assert r.exit_code == 0, r.output
    cfg = load_config(root)
    creds = server.load_credentials(cfg)
    assert creds is not None
    try:
        yield StudioServer(creds.url, creds.token, root)
    finally:
        server.stop(cfg)


def test_the_server_runs_its_workers_under_one_master(pg_workers: StudioServer) -> None:
    master = master_of(pg_workers.corpus)
    workers = [p for p in server.group_pids(master) if p != master]
    assert len(workers) == WORKERS
    assert all(parent_of(p) == master for p in workers)
    r = run_cli("--corpus", pg_workers.corpus, "studio", "status")
    assert r.exit_code == 0, r.output
    assert f"running at {pg_workers.url} (pid {master}, {WORKERS} worker processes)" in r.output


def _labels(art: Article, who: int) -> Annotation:
    stance: dict[str, str | None] = {
        "us_forces_in_mexico": ("favor", "against", "neutral", "unrelated")[who % 4],
        "cartels_as_terrorists": "neutral",
    }
    return Annotation(id="t", kind="annotation", article_id=art.id, annotator=None,
                      stance=stance, spans=[])  # fmt: skip


def test_several_accounts_annotate_at_once(tmp_path: Path, pg_workers: StudioServer) -> None:
    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(ARTICLES))
    admin = pg_workers.backend(cfg)
    try:
        pushed = push(cfg, backend=admin)
        team = [pg_workers.create_annotator("w")[0] for _ in range(TEAM)]

        def annotate(who: int) -> int:
            me = admin.as_account(team[who])
            try:
                for art in arts:
                    me.submit(pushed.task_ids[art.id], _labels(art, who), art.text, cancelled=False)
            finally:
                me.close()
            return who

        with ThreadPoolExecutor(TEAM) as pool:
            assert sorted(pool.map(annotate, range(TEAM))) == list(range(TEAM))
        report = pull(cfg, backend=admin)
    finally:
        admin.close()
    assert report.annotations == TEAM * ARTICLES
    log = (server.studio_dir(load_config(pg_workers.corpus)) / "server.log").read_text()
    assert "[ERROR]" not in log and "Traceback" not in log


@pytest.mark.browser
def test_the_labeling_view_opens_on_the_workers(tmp_path: Path, pg_workers: StudioServer) -> None:
    from tests.studio.test_browser import annotator_page, open_task

    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(1))
    admin = pg_workers.backend(cfg)
    try:
        pushed = push(cfg, backend=admin)
    finally:
        admin.close()
    with annotator_page(pg_workers) as page:  # the login form and its static files
        task = pushed.task_ids[arts[0].id]
        editor = open_task(page, pg_workers, pushed.project_id, task, "Ce dont nous avons besoin")
        assert editor.get_by_text("Claim", exact=True).first.is_visible()


def test_a_killed_master_is_replaced_and_its_workers_cleared(pg_workers: StudioServer) -> None:
    master = master_of(pg_workers.corpus)
    orphans = [p for p in server.group_pids(master) if p != master]
    assert orphans
    os.kill(master, signal.SIGKILL)  # its workers keep the port until they notice
    deadline = time.monotonic() + 10
    while alive(master) and time.monotonic() < deadline:
        time.sleep(0.1)
    r = run_cli("--corpus", pg_workers.corpus, "studio", "start")
    assert r.exit_code == 0, r.output
    assert f"Label Studio running at {pg_workers.url}" in r.output
    assert not any(alive(p) for p in orphans)
    again = master_of(pg_workers.corpus)
    assert again != master
    assert len([p for p in server.group_pids(again) if p != again]) == server.WORKERS
    cfg = load_config(pg_workers.corpus)
    admin = pg_workers.backend(cfg)
    try:
        assert admin.whoami().email == server.ADMIN_EMAIL
    finally:
        admin.close()


def test_stop_leaves_no_label_studio_process(pg_workers: StudioServer) -> None:
    cfg = load_config(pg_workers.corpus)
    data = server.data_dir(cfg)
    before = serving(data)
    assert len(before) == server.WORKERS + 1
    r = run_cli("--corpus", pg_workers.corpus, "studio", "stop")
    assert r.exit_code == 0 and "stopped" in r.output
    assert serving(data) == []
    assert postgres.running_pid(server.postgres_paths(cfg)) is None
    r = run_cli("--corpus", pg_workers.corpus, "studio", "status")
    assert r.exit_code == 1


def test_workers_are_refused_on_sqlite(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "corpus")
    before = snapshot(root)
    r = run_cli("--corpus", root, "studio", "start", "--workers", "2")
    assert r.exit_code == 2 and r.output.count("\n") == 1
    assert "--workers 2: only with --database postgresql" in r.output
    r = run_cli("--corpus", root, "studio", "start", "--database", "postgresql", "--workers", "0")
    assert r.exit_code == 2 and r.output.count("\n") == 1
    assert "--workers 0: must be between 1 and" in r.output
    assert snapshot(root) == before


def test_an_environment_without_gunicorn_is_refused_in_one_line(tmp_path: Path) -> None:
    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    exe = env / "bin" / "label-studio"
    exe.write_text(f"#!{REPO / '.venv' / 'bin' / 'python'}\nraise SystemExit(3)\n")  # no gunicorn
    exe.chmod(0o755)
    root = write_corpus(tmp_path / "corpus")
    old = os.environ.get("NEWSCORPUS_STUDIO_ENV")
    os.environ["NEWSCORPUS_STUDIO_ENV"] = str(env)
    try:
        r = run_cli("--corpus", root, "studio", "start", "--database", "postgresql",
                    "--port", _free_port())  # fmt: skip
    finally:
        if old is None:
            del os.environ["NEWSCORPUS_STUDIO_ENV"]
        else:
            os.environ["NEWSCORPUS_STUDIO_ENV"] = old
    assert r.exit_code == 1 and r.output.count("\n") == 1, r.output
    assert f"{env}: gunicorn is not installed there" in r.output
    assert "make studio-env" in r.output
    cfg = load_config(root)
    assert postgres.running_pid(server.postgres_paths(cfg)) is None  # started for it, stopped
