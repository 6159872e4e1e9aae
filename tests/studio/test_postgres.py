"""`studio start --database postgresql`: a real PostgreSQL beside the real Label Studio.

One PostgreSQL-backed server for the module (its first start runs Label Studio's migrations on
PostgreSQL); the SQLite side of the comparison is the session's server (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from newscorpus.annotation.pull import pull
from newscorpus.annotation.push import push
from newscorpus.cli import app
from newscorpus.config import Config, load_config
from newscorpus.corpus import iter_annotations
from newscorpus.errors import StudioError
from newscorpus.labelstudio import postgres, server
from newscorpus.labelstudio.backend import LabelStudioBackend
from newscorpus.records import Annotation, Article
from tests.conftest import REPO, _free_port, snapshot, write_corpus
from tests.studio.helpers import articles, studio_corpus, with_articles

pytestmark = pytest.mark.studio

STANCES = ("favor", "against", "neutral", "unrelated")
TEAM = 3
ARTICLES = 5


def run_cli(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def postgres_pids(cluster: Path) -> list[int]:
    """Live processes whose command line names the cluster folder (the postmaster)."""
    needle = str(cluster).encode()
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes()
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"postgres" in cmd and needle in cmd and state not in ("Z", "X"):
            found.append(int(d.name))
    return found


class PgStudio:
    def __init__(self, root: Path, start_output: str) -> None:
        self.root = root
        self.start_output = start_output
        self.cfg = load_config(root)
        creds = server.load_credentials(self.cfg)
        assert creds is not None
        self.url, self.token = creds.url, creds.token
        self.paths = server.postgres_paths(self.cfg)

    def backend(self, cfg: Config) -> LabelStudioBackend:
        return LabelStudioBackend(self.url, self.token, cfg)


@pytest.fixture(scope="module")
def pg_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgStudio]:
    os.environ.setdefault("NEWSCORPUS_STUDIO_ENV", str(REPO / ".venv-studio"))
    root = write_corpus(tmp_path_factory.mktemp("pg-studio") / "corpus")
    r = run_cli("--corpus", root, "studio", "start", "--database", "postgresql",
                "--port", _free_port())  # fmt: skip
    assert r.exit_code == 0, r.output
    studio = PgStudio(root, r.output)
    try:
        yield studio
    finally:
        server.stop(studio.cfg)


# --- a team on each database: the same annotations pulled ---------------------------------------


def _record(art: Article, who: int, n: int) -> tuple[Annotation, bool]:
    """Annotator ``who``'s labels of the n-th article (distinct per annotator and article)."""
    spans = []
    if (who + n) % 2 == 0:
        start = art.text.index("Synthetic") if "Synthetic" in art.text else 0
        spans.append(
            {"id": "s0", "start": start, "end": start + 9, "label": "Claim",
             "text": art.text[start:start + 9], "checkworthy": "yes",
             "claim_type": "statistical", "speaker": None}
        )  # fmt: skip
    stance: dict[str, str | None] = {
        "us_forces_in_mexico": STANCES[(who + n) % 4],
        "cartels_as_terrorists": STANCES[who % 4],
    }
    rec = Annotation(id="t", kind="annotation", article_id=art.id, annotator=None,
                     stance=stance, spans=spans)  # fmt: skip
    return rec, who == 0 and n == ARTICLES - 1  # one skipped task


def _team_run(cfg: Config, admin: LabelStudioBackend, arts: list[Article]) -> Counter[Any]:
    """Push, sign TEAM annotators up, let them submit at once (one thread each), pull."""
    result = push(cfg, backend=admin)
    team = []
    for i in range(TEAM):
        email = f"pg{i}-{secrets.token_hex(3)}@annotators.test"
        team.append(admin.create_account(email, "pw-" + secrets.token_urlsafe(12)))

    def annotate(who: int) -> int:
        me = admin.as_account(team[who])
        try:
            for n, art in enumerate(arts):
                rec, skip = _record(art, who, n)
                me.submit(result.task_ids[art.id], rec, art.text, cancelled=skip)
        finally:
            me.close()
        return who

    with ThreadPoolExecutor(TEAM) as pool:
        assert sorted(pool.map(annotate, range(TEAM))) == list(range(TEAM))
    report = pull(cfg, backend=admin)
    assert report.annotations == TEAM * len(arts)
    by_person: dict[str | None, list[Any]] = {}
    for rec in iter_annotations(cfg):
        spans = tuple(
            (s["start"], s["end"], s["label"], s["text"], s.get("checkworthy"), s.get("claim_type"))
            for s in rec.spans
        )
        key = (rec.article_id, tuple(sorted(rec.stance.items())), spans, rec.cancelled)
        by_person.setdefault(rec.annotator, []).append(key)
    assert len(by_person) == TEAM
    # equal up to ids, timestamps and pseudonyms (an HMAC of the server and the user id)
    return Counter(tuple(sorted(keys, key=repr)) for keys in by_person.values())


def test_a_team_on_postgresql_pulls_what_it_pulls_on_sqlite(
    tmp_path: Path, pg_studio: PgStudio, studio_server: Any
) -> None:
    arts = articles(ARTICLES)
    pulled = {}
    for name, where in (("postgresql", pg_studio), ("sqlite", studio_server)):
        cfg = studio_corpus(tmp_path / name)
        cfg = replace(cfg, studio=replace(cfg.studio, overlap=TEAM))
        with_articles(cfg, arts)
        admin = where.backend(cfg)
        try:
            pulled[name] = _team_run(cfg, admin, arts)
        finally:
            admin.close()
    assert pulled["postgresql"] == pulled["sqlite"]
    assert sum(pulled["postgresql"].values()) == TEAM


def test_the_postgresql_studio_keeps_its_secrets_and_says_where_it_runs(
    pg_studio: PgStudio,
) -> None:
    pg = postgres.load_credentials(pg_studio.paths)
    assert pg is not None and pg.port != 5432
    out = pg_studio.start_output
    assert f"database: PostgreSQL on 127.0.0.1:{pg.port}" in out
    assert pg.password not in out and pg.password not in repr(pg)
    assert stat.S_IMODE(pg_studio.paths.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(pg_studio.paths.cluster.stat().st_mode) == 0o700
    assert stat.S_IMODE(pg_studio.paths.log.stat().st_mode) == 0o600
    assert pg.password not in pg_studio.paths.log.read_text(errors="replace")
    # Label Studio's data folder holds no SQLite database: everything is in PostgreSQL
    assert not (server.data_dir(pg_studio.cfg) / server.SQLITE_FILE).exists()
    r = run_cli("--corpus", pg_studio.root, "studio", "status")
    assert r.exit_code == 0, r.output
    assert f"PostgreSQL running on 127.0.0.1:{pg.port}" in r.output
    assert pg.password not in r.output


def test_a_killed_postgresql_is_started_again(pg_studio: PgStudio) -> None:
    pid = postgres.running_pid(pg_studio.paths)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # no clean shutdown: postmaster.pid stays behind
    deadline = time.monotonic() + 20
    while postgres.running_pid(pg_studio.paths) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (pg_studio.paths.cluster / "postmaster.pid").is_file()
    down = run_cli("--corpus", pg_studio.root, "studio", "status")
    assert down.exit_code == 1 and "PostgreSQL not running" in down.output
    again = run_cli("--corpus", pg_studio.root, "studio", "start")  # the studio's own database
    assert again.exit_code == 0, again.output
    assert "already running" in again.output
    assert postgres.running_pid(pg_studio.paths) not in (None, pid)
    up = run_cli("--corpus", pg_studio.root, "studio", "status")
    assert up.exit_code == 0, up.output
    admin = pg_studio.backend(pg_studio.cfg)
    try:
        assert admin.whoami().email == server.ADMIN_EMAIL  # the accounts survived the kill
    finally:
        admin.close()


def test_the_studio_is_not_switched_to_the_other_database(pg_studio: PgStudio) -> None:
    before = snapshot(pg_studio.root / ".newscorpus")
    r = run_cli("--corpus", pg_studio.root, "studio", "start", "--database", "sqlite")
    assert r.exit_code == 1
    line = r.output.strip()
    assert "\n" not in line and "keeps its data in postgresql" in line
    assert "--database postgresql" in line
    assert snapshot(pg_studio.root / ".newscorpus") == before


def test_a_sqlite_studio_is_not_started_on_postgresql(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "corpus")
    cfg = load_config(root)
    data = server.data_dir(cfg)
    data.mkdir(parents=True)
    (data / server.SQLITE_FILE).write_bytes(b"")  # a studio that ran on SQLite
    r = run_cli("--corpus", root, "studio", "start", "--database", "postgresql")
    assert r.exit_code == 1
    assert "keeps its data in sqlite" in r.output and r.output.count("\n") == 1
    paths = server.postgres_paths(cfg)
    assert not paths.cluster.exists() and not paths.credentials.exists()


def test_a_cluster_without_its_credentials_is_not_given_new_ones(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "corpus")
    paths = server.postgres_paths(load_config(root))
    paths.cluster.mkdir(parents=True)
    (paths.cluster / "PG_VERSION").write_text("15\n")  # a cluster whose postgres.json was lost
    before = snapshot(root)
    r = run_cli("--corpus", root, "studio", "start", "--database", "postgresql")
    assert r.exit_code == 1 and r.output.count("\n") == 1
    assert "postgres.json: missing" in r.output and "put it back" in r.output
    assert snapshot(root) == before and not paths.credentials.exists()


def test_a_bad_database_is_refused_in_one_line(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "corpus")
    toml = root / "corpus.toml"
    toml.write_text(toml.read_text() + '\n[studio]\ndatabase = "mysql"\n')
    r = run_cli("--corpus", root, "studio", "start")
    assert r.exit_code == 2
    assert "corpus.toml:" in r.output and "studio.database" in r.output
    assert "'mysql' is not one of sqlite, postgresql" in r.output
    toml.write_text(toml.read_text().replace('"mysql"', '"postgresql"'))
    r = run_cli("--corpus", root, "studio", "start", "--database", "mysql")
    assert r.exit_code == 2 and "--database mysql: must be one of" in r.output
    assert not (root / ".newscorpus" / "postgres.json").exists()


def test_stop_leaves_no_postgresql_process(pg_studio: PgStudio) -> None:
    assert postgres_pids(pg_studio.paths.cluster)
    r = run_cli("--corpus", pg_studio.root, "studio", "stop")
    assert r.exit_code == 0 and "stopped" in r.output
    assert postgres_pids(pg_studio.paths.cluster) == []
    assert not (pg_studio.paths.cluster / "postmaster.pid").exists()  # a clean shutdown
    r = run_cli("--corpus", pg_studio.root, "studio", "status")
    assert r.exit_code == 1 and "PostgreSQL not running" in r.output


# --- as root without user namespaces: an unprivileged account -----------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the fallback is for root only")


@needs_root
def test_root_without_user_namespaces_names_the_closed_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "_userns_works", lambda: False)
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    paths = postgres.PgPaths(closed / "pg", closed / "pg.log", closed / "pg.json")
    with pytest.raises(StudioError, match=r"closed to (newscorpus-pg|nobody).*chmod o\+x"):
        postgres.ensure_running(paths)
    assert not paths.cluster.exists()  # the half-made cluster is gone


@needs_root
def test_root_without_user_namespaces_runs_postgresql_as_an_unprivileged_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(postgres, "_userns_works", lambda: False)
    top = Path(tempfile.mkdtemp(prefix="h15-pg-", dir="/tmp"))
    try:
        os.chmod(top, 0o711)  # passable, not listable: the account must reach its folder
        paths = postgres.PgPaths(top / "pg", top / "pg.log", top / "pg.json")
        pg = postgres.ensure_running(paths)
        try:
            owner = paths.cluster.stat().st_uid
            assert owner != 0 and stat.S_IMODE(paths.cluster.stat().st_mode) == 0o700
            pid = postgres.running_pid(paths)
            assert pid is not None and Path(f"/proc/{pid}").stat().st_uid == owner
            psql = postgres.find_bindir() / "psql"
            q = subprocess.run(
                [str(psql), "-h", "127.0.0.1", "-p", str(pg.port), "-U", pg.user, "-d",
                 pg.database, "-Atc", "select current_user"],
                env={"PGPASSWORD": pg.password, "PATH": "/usr/bin:/bin"},
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert q.stdout.strip() == pg.user, q.stderr
            assert json.loads(paths.credentials.read_text())["port"] == pg.port
        finally:
            assert postgres.stop(paths)
        assert postgres_pids(paths.cluster) == []
    finally:
        shutil.rmtree(top, ignore_errors=True)
