"""The release target interface: the git target and the Hub target (against the local Hub server of
tests/release/test_hub_http.py), each on its own, and make_release over a list of targets."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from newscorpus.errors import ReleaseError
from newscorpus.release.manifest import Previous
from newscorpus.release.publish import ReleaseOptions, make_release
from newscorpus.release.target import Finished, Published, ReleaseTarget
from newscorpus.release.target_git import GitTarget
from newscorpus.release.target_hub import HubTarget
from tests.release.helpers import build_corpus
from tests.release.test_hub_http import TOKEN, HubServer, hub_server

__all__ = ["hub_server"]  # the fixture, used by name below

MANIFEST = {"name": "release-test", "version": "1.0.0", "articles": {}, "files": {}}


def git(repo: Path, *args: str) -> str:
    run = ["git", "-C", str(repo), *args]
    return subprocess.run(run, capture_output=True, text=True, check=True).stdout


def release_folder(root: Path, version: str, text: str = "hello\n") -> Path:
    """A folder with what a release holds at least: README.md and manifest.json."""
    root.mkdir(parents=True)
    (root / "README.md").write_text(text, encoding="utf-8")
    (root / "manifest.json").write_text(json.dumps(MANIFEST | {"version": version}))
    return root


def worktree(repo: Path) -> dict[str, bytes]:
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


def test_git_target_publishes_a_tagged_commit_and_undo_leaves_no_tag_or_commit(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    target = GitTarget(repo, tmp_path / "corpus", "release-test")
    target.check()
    assert target.previous() is None
    first = target.publish(release_folder(tmp_path / "v1", "1.0.0"), "1.0.0", "Release v1.0.0")
    assert first == Published(str(repo), str(repo), git(repo, "rev-parse", "HEAD").strip())
    assert git(repo, "tag", "--list").split() == ["v1.0.0"]
    previous = target.previous()
    assert previous is not None and previous.version == "1.0.0" and previous.name == "release-test"
    with pytest.raises(ReleaseError, match=r"version v1\.0\.0 exists; nothing was changed"):
        target.check_version("1.0.0")
    assert not target.interrupted(previous, "1.1.0")

    before = worktree(repo)
    target.publish(release_folder(tmp_path / "v2", "1.1.0", "changed\n"), "1.1.0", "Release v1.1.0")
    assert worktree(repo) != before and len(git(repo, "log", "--oneline").splitlines()) == 2
    target.undo()  # a later target failed
    assert git(repo, "rev-parse", "HEAD").strip() == first.commit
    assert git(repo, "tag", "--list").split() == ["v1.0.0"] and worktree(repo) == before
    assert git(repo, "status", "--porcelain", "--ignored") == ""

    fresh = GitTarget(tmp_path / "new", tmp_path / "corpus", "release-test")
    fresh.publish(release_folder(tmp_path / "v3", "1.0.0"), "1.0.0", "Release v1.0.0")
    fresh.undo()
    assert not (tmp_path / "new").exists()  # a repository it created is removed whole


def test_a_git_publish_that_fails_undoes_itself(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    target = GitTarget(repo, tmp_path / "corpus", "release-test")
    head = target.publish(release_folder(tmp_path / "v1", "1.0.0"), "1.0.0", "Release v1.0.0")
    git(repo, "tag", "v1.1.0/x")  # a ref cannot be a file and a folder: tag v1.1.0 fails
    before = worktree(repo)
    with pytest.raises(ReleaseError, match="git tag"):
        target.publish(release_folder(tmp_path / "v2", "1.1.0", "new\n"), "1.1.0", "Release v1.1.0")
    assert git(repo, "rev-parse", "HEAD").strip() == head.commit and worktree(repo) == before
    assert sorted(git(repo, "tag", "--list").split()) == ["v1.0.0", "v1.1.0/x"]


def test_hub_target_against_the_local_hub_server(hub_server: HubServer, tmp_path: Path) -> None:
    target = HubTarget("synthetic-org/news")
    target.check()  # HF_TOKEN, HF_ENDPOINT (127.0.0.1) and one HEAD of it
    assert target.previous() is None and target.local_path is None
    target.check_version("1.0.0")
    published = target.publish(release_folder(tmp_path / "v1", "1.0.0"), "1.0.0", "Release v1.0.0")
    repo = hub_server.repos["synthetic-org/news"]
    assert published == Published(
        "synthetic-org/news", "the Hub: synthetic-org/news", repo.commits[0]
    )
    assert repo.tags == {"v1.0.0": repo.commits[0]} and repo.files["README.md"] == b"hello\n"
    previous = target.previous()
    assert isinstance(previous, Previous) and previous.version == "1.0.0"
    with pytest.raises(ReleaseError, match=r"tag v1\.0\.0 exists on the Hub; nothing was changed"):
        target.check_version("1.0.0")

    hub_server.refuse_tags = True  # the commit lands, the tag does not: an interrupted release
    with pytest.raises(ReleaseError, match="publishing to the Hub failed") as exc:
        target.publish(release_folder(tmp_path / "v2", "1.1.0", "new\n"), "1.1.0", "Release v1.1.0")
    assert TOKEN not in str(exc.value) and not str(exc.value).endswith("nothing was changed")
    hub_server.refuse_tags = False
    previous = target.previous()
    assert previous is not None and previous.version == "1.1.0"
    target.check_version("1.2.0")
    with pytest.raises(ReleaseError, match=r"no tag v1\.1\.0 \(a release interrupted"):
        target.interrupted(previous, "1.2.0")
    assert target.interrupted(previous, "1.1.0")
    assert target.finish("1.1.0", dry_run=True) == Finished(
        "dry run: would tag the Hub's main commit as v1.1.0", None
    )
    assert "v1.1.0" not in repo.tags
    done = target.finish("1.1.0", dry_run=False)
    assert done.published is not None and done.published.commit == repo.commits[-1]
    assert repo.tags["v1.1.0"] == repo.commits[-1] and len(repo.commits) == 2


class RefusingTarget:
    """A third target (as a new kind would plug in): it refuses every publish."""

    name = "refusing"
    local_path = None
    undone = "nothing to undo"
    load_id = None

    def __init__(self) -> None:
        self.calls: list[str] = []

    def check(self) -> None:
        self.calls.append("check")

    def previous(self) -> Previous | None:
        self.calls.append("previous")
        return None

    def check_version(self, version: str) -> None:
        self.calls.append(f"check_version {version}")

    def interrupted(self, previous: Previous, version: str) -> bool:
        return False

    def finish(self, version: str, *, dry_run: bool) -> Finished:
        raise AssertionError("nothing to finish")

    def publish(self, folder: Path, version: str, message: str) -> Published:
        self.calls.append(f"publish {version} {message}")
        raise ReleaseError("refusing: synthetic refusal")

    def undo(self) -> None:
        self.calls.append("undo")


def test_a_later_target_that_fails_undoes_the_earlier_ones(tmp_path: Path) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    repo = tmp_path / "repo"
    refusing = RefusingTarget()
    targets: list[ReleaseTarget] = [GitTarget(repo, cfg.root, cfg.corpus.name), refusing]
    with pytest.raises(ReleaseError) as exc:
        make_release(cfg, options=ReleaseOptions(version="1.0.0"), targets=targets)
    assert str(exc.value) == "refusing: synthetic refusal; the local release was undone"
    assert refusing.calls == [
        "check",
        "previous",
        "check_version 1.0.0",
        "publish 1.0.0 Release v1.0.0",
    ]
    assert not repo.exists()  # the git target made it, and took it back
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]
