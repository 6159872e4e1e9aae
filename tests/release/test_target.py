"""`release --to` publishes only into a new or empty folder or a release repository of this corpus;
every refusal is one line and changes nothing (.git/ included)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from newscorpus.corpus import add_articles
from tests.conftest import make_article
from tests.release.helpers import build_corpus

GIT = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Contents and mtime of every file under root, .git/ included."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *GIT, *args], capture_output=True, text=True, check=True
    ).stdout


def _release(cli: Any, root: Path, repo: Path, version: str = "1.0.0", *extra: str) -> Any:
    return cli("--corpus", root, "release", "--version", version, "--to", repo, *extra)


def _refused(r: Any, *needles: str) -> None:
    assert r.exit_code == 1, r.output
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)


def test_an_unrelated_git_repository_is_refused_and_left_as_it_was(
    tmp_path: Path, cli: Any
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "main.py").write_text("print('hello')\n")
    git(repo, "add", "main.py")
    git(repo, "commit", "-qm", "code")
    before = snapshot(repo)
    for extra in ((), ("--dry-run",)):
        r = _release(cli, cfg.root, repo, "1.0.0", *extra)
        _refused(r, str(repo), "holds no newscorpus release", "nothing was changed")
        assert snapshot(repo) == before
    assert git(repo, "log", "--format=%s") == "code\n" and git(repo, "tag") == ""


def test_a_release_repository_of_another_corpus_is_refused(tmp_path: Path, cli: Any) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    repo = tmp_path / "repo"
    assert _release(cli, cfg.root, repo).exit_code == 0
    other, _ = build_corpus(tmp_path / "other", n=4)
    toml = other.path.read_text().replace('name = "release-test"', 'name = "other-corpus"')
    other.path.write_text(toml)
    before = snapshot(repo)
    r = _release(cli, other.root, repo, "2.0.0")
    _refused(r, "release of corpus 'release-test', not 'other-corpus'", "nothing was changed")
    assert snapshot(repo) == before


def test_a_malformed_manifest_in_the_target_is_one_line(tmp_path: Path, cli: Any) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    repo = tmp_path / "repo"
    assert _release(cli, cfg.root, repo).exit_code == 0
    for bad in ("{not json", "[" * 5000 + "]" * 5000, json.dumps({"name": "release-test"})):
        (repo / "manifest.json").write_text(bad)
        git(repo, "commit", "-qam", "edit")
        before = snapshot(repo)
        r = _release(cli, cfg.root, repo, "2.0.0")
        _refused(r, f"{repo}: manifest.json (at HEAD)", "nothing was changed")
        assert "Traceback" not in r.output
        assert snapshot(repo) == before


def test_a_dirty_release_repository_is_refused_before_staging(tmp_path: Path, cli: Any) -> None:
    """git status would refresh .git/index: the check must not write it (nor stage anything)."""
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    repo = tmp_path / "repo"
    assert _release(cli, cfg.root, repo).exit_code == 0
    readme = repo / "README.md"
    st = readme.stat()
    os.utime(readme, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # stale stat info
    (repo / "notes.txt").write_text("mine\n")
    before = snapshot(repo)
    r = _release(cli, cfg.root, repo, "1.1.0")
    _refused(r, "uncommitted, untracked or ignored files (notes.txt)", "nothing was changed")
    assert snapshot(repo) == before  # .git/index byte for byte and its mtime


def test_ignored_files_in_the_release_repository_are_refused_not_deleted(
    tmp_path: Path, cli: Any
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    repo = tmp_path / "repo"
    assert _release(cli, cfg.root, repo).exit_code == 0
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text("scratch/\n")
    (repo / "scratch").mkdir()
    (repo / "scratch" / "keep.txt").write_text("precious\n")
    before = snapshot(repo)
    _refused(_release(cli, cfg.root, repo, "1.1.0"), "scratch/", "nothing was changed")
    assert snapshot(repo) == before


def test_a_fresh_empty_git_repository_is_a_target(tmp_path: Path, cli: Any) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    r = _release(cli, cfg.root, repo)
    assert r.exit_code == 0, r.output
    assert git(repo, "tag").split() == ["v1.0.0"]
    r = _release(cli, cfg.root, repo, "1.1.0")
    assert r.exit_code == 0, r.output  # its own release repository: accepted
    assert git(repo, "tag").split() == ["v1.0.0", "v1.1.0"]


def test_folders_made_for_a_refused_release_are_removed(tmp_path: Path, cli: Any) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    add_articles(cfg, [make_article(50, source="open", url="https://u:pw@h.test/")], "more")
    r = _release(cli, cfg.root, tmp_path / "new" / "deeper" / "repo")
    _refused(r, "credentials in a URL")
    assert not (tmp_path / "new").exists()
