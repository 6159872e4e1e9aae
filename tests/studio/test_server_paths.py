"""`studio start` hands Label Studio absolute paths, keeps its data private, adopts nested data.

Earlier versions passed ``--data-dir corpus/.newscorpus/studio/data`` as given (``--corpus
corpus``) to a server running in the studio folder: the database nested in
``.newscorpus/studio/corpus/.newscorpus/studio/data/``, 0644, where a later start with an
absolute ``--corpus`` did not look.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config
from newscorpus.labelstudio import server
from tests.conftest import REPO, _free_port, snapshot, write_corpus
from tests.studio.helpers import StudioAPI

pytestmark = pytest.mark.studio

DB = "label_studio.sqlite3"
NESTED = Path(".newscorpus/studio/corpus/.newscorpus/studio/data")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def loose(root: Path) -> list[str]:
    """Files and folders under root that group or others may read, write or enter."""
    return [
        f"{p.relative_to(root)} {oct(mode(p))}"
        for p in root.rglob("*")
        if not p.is_symlink() and mode(p) & 0o077
    ]


def old_nested_layout(root: Path) -> Path:
    """What an earlier `--corpus corpus studio start` left: a database and media, nested."""
    nested = root / NESTED
    (nested / "media" / "upload").mkdir(parents=True)
    (nested / "media" / "upload" / "kept.txt").write_text("an upload\n", encoding="utf-8")
    with sqlite3.connect(nested / DB) as db:
        db.execute("CREATE TABLE newscorpus_marker (note TEXT)")
        db.execute("INSERT INTO newscorpus_marker VALUES ('from the nested folder')")
    db.close()
    for p in [nested, *nested.rglob("*"), *nested.parents]:
        if root in p.parents:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
    (root / ".newscorpus" / "studio" / "data").mkdir()  # the old start made the right one, empty
    return nested


def tables(db: Path) -> set[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    con.close()
    return {r[0] for r in rows}


def test_start_with_relative_paths_adopts_nested_data_and_keeps_it_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Any]
) -> None:
    work = tmp_path / "work"
    root = write_corpus(work / "corpus")
    nested = old_nested_layout(root)
    monkeypatch.chdir(work)
    # a relative Label Studio environment too: the server runs in another folder
    monkeypatch.setenv("NEWSCORPUS_STUDIO_ENV", os.path.relpath(REPO / ".venv-studio", work))
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    port = _free_port()
    try:
        result = cli("--corpus", "corpus", "studio", "start", "--port", port)
        assert result.exit_code == 0, result.output
        assert f"running at http://127.0.0.1:{port}" in result.output
        studio = root / ".newscorpus" / "studio"
        data = studio / "data"
        assert not nested.exists() and not (studio / "corpus").exists()
        assert (data / "media" / "upload" / "kept.txt").read_text() == "an upload\n"
        # the moved database is the one Label Studio uses: its tables beside our marker
        assert {"newscorpus_marker", "project"} <= tables(data / DB)
        creds = server.load_credentials(load_config(root))
        assert creds is not None
        client = StudioAPI(creds.url, creds.token)
        client.create_project(title="made after a relative start", label_config="<View/>")
        client.close()
        with sqlite3.connect(f"file:{data / DB}?mode=ro", uri=True) as con:
            titles = {r[0] for r in con.execute("SELECT title FROM project")}
        con.close()
        assert "made after a relative start" in titles
        # the same server and data, seen through an absolute --corpus
        status = cli("--corpus", root.absolute(), "studio", "status")
        assert status.exit_code == 0 and f"running at {creds.url}" in status.output
        assert mode(studio) == mode(data) == 0o700
        assert mode(data / DB) == mode(studio / "server.log") == 0o600
        assert mode(root / ".newscorpus" / "studio.json") == 0o600
        assert loose(studio) == []  # what Label Studio wrote itself (umask 077) included
        assert creds.token not in result.output and creds.password not in result.output
    finally:
        server.stop(load_config(root))


def test_data_in_both_places_is_refused_nothing_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Any]
) -> None:
    work = tmp_path / "work"
    root = write_corpus(work / "corpus")
    nested = old_nested_layout(root)
    (root / ".newscorpus" / "studio" / "data" / DB).write_bytes(b"")  # a database here too
    monkeypatch.chdir(work)
    before = snapshot(root)
    result = cli("--corpus", "corpus", "studio", "start", "--port", _free_port())
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Label Studio data in 2 places"), lines
    assert str(nested.absolute()) in lines[0] and "nothing was changed" in lines[0]
    assert snapshot(root) == before
    assert not (root / ".newscorpus" / "studio.json").exists()


def test_nested_data_is_moved_when_the_right_folder_holds_only_empty_folders(
    tmp_path: Path,
) -> None:
    root = write_corpus(tmp_path / "corpus")
    nested = old_nested_layout(root)
    (root / ".newscorpus" / "studio" / "data" / "media" / "export").mkdir(parents=True)
    cfg = load_config(root)
    assert server.adopt_nested_data(cfg) == nested
    data = root / ".newscorpus" / "studio" / "data"
    assert (data / DB).is_file() and (data / "media" / "upload" / "kept.txt").is_file()
    assert sorted(p.name for p in (root / ".newscorpus" / "studio").iterdir()) == ["data"]
    assert server.adopt_nested_data(cfg) is None  # nothing left to move


def test_session_server_files_are_private(studio_server: Any) -> None:
    studio = Path(studio_server.corpus) / ".newscorpus" / "studio"
    assert (studio / "data" / DB).is_file()
    assert loose(studio) == []
    assert mode(Path(studio_server.corpus) / ".newscorpus" / "studio.json") == 0o600


@pytest.mark.parametrize("recorded", ["another", "0", "-1"])
def test_stop_leaves_a_pid_reused_by_another_program_alone(tmp_path: Path, recorded: str) -> None:
    cfg = load_config(write_corpus(tmp_path / "corpus"))
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        pid_file = server.studio_dir(cfg) / "server.pid"
        pid_file.parent.mkdir(parents=True)
        pid_file.write_text(f"{other.pid if recorded == 'another' else recorded}\n")
        assert server.status(cfg).running is False
        assert server.stop(cfg) is False
        assert other.poll() is None  # still running: not signalled
    finally:
        other.kill()
        other.wait()
