"""The default release target: a local git repository, one commit and an annotated tag a version."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from ..config import release_target_problem
from ..errors import ConfigError, ReleaseError
from ..urls import mask_credentials
from .manifest import Previous, read_manifest
from .target import Finished, Published

KEEP = (".git", "changes")  # kept in the release repository between versions

# No hook or fsmonitor of the target repository runs (a pre-commit hook could add an unscanned
# file to the commit); reading commands (status) do not rewrite .git/index.
SAFE_GIT = ("--no-optional-locks", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")


def run_git(repo: Path, *args: str) -> str:
    """Run git in ``repo``; ReleaseError with git's last line of output (URL credentials masked).

    ``--no-optional-locks``: reading commands (status) do not rewrite .git/index.
    """
    ident: list[str] = []
    if subprocess.run(
        ["git", *SAFE_GIT, "-C", str(repo), "config", "user.name"],
        capture_output=True,
    ).returncode:
        ident = ["-c", "user.name=newscorpus", "-c", "user.email=newscorpus@localhost"]
    proc = subprocess.run(
        [
            "git",
            *SAFE_GIT,
            "-C",
            str(repo),
            *ident,
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
            *args,
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise ReleaseError(mask_credentials(f"{repo}: git {' '.join(args[:2])}: {last[:300]}"))
    return proc.stdout


def _is_repo(repo: Path) -> bool:
    return (repo / ".git").exists()


def local_tags(repo: Path) -> set[str]:
    """The tags of the release repository (none when it does not exist yet)."""
    return set(run_git(repo, "tag", "--list").split()) if _is_repo(repo) else set()


def _head_manifest(repo: Path) -> str | None:
    """manifest.json at HEAD of ``repo`` (None: no commit, or no such file)."""
    if not _is_repo(repo):
        return None
    try:
        return run_git(repo, "show", "HEAD:manifest.json")
    except ReleaseError:
        return None


def _unsafe_files(repo: Path) -> str | None:
    """The first file that is changed, untracked or ignored in ``repo`` (None: all committed).

    Ignored files count: publishing replaces the work tree, and must not delete a file that
    git does not keep.
    """
    out = run_git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all")
    first = next((line for line in out.splitlines() if line.strip()), None)
    return first[3:] if first else None


def _unlisted_file(repo: Path, listed: frozenset[str]) -> str | None:
    """The first file at HEAD that a release did not write (None: all are the release's)."""
    for path in run_git(repo, "ls-tree", "-r", "-z", "--name-only", "HEAD").split("\0"):
        kept = path.startswith("changes/v") and path.endswith(".json")  # earlier versions'
        if path and path != "manifest.json" and path not in listed and not kept:
            return path
    return None


def _has_commit(repo: Path) -> bool:
    run = ["git", *SAFE_GIT, "-C", str(repo), "rev-parse", "--verify", "-q", "HEAD"]
    return subprocess.run(run, capture_output=True).returncode == 0


class GitTarget:
    """A local git repository that holds one corpus's releases: a commit and a tag vX.Y.Z each."""

    undone = "the local release was undone"
    load_id = None  # researchers load it by its path

    def __init__(self, repo: Path, corpus_root: Path, corpus_name: str) -> None:
        self.repo = repo
        self.corpus_root = corpus_root
        self.corpus_name = corpus_name
        self._undo: Callable[[], None] | None = None

    @property
    def name(self) -> str:
        return str(self.repo)

    @property
    def local_path(self) -> Path:
        return self.repo

    def check(self) -> None:
        """Refuse a target that is not a new or empty folder or a release repository of the corpus.

        Read-only: nothing in the folder (.git/index included) is written before a refusal.
        """
        repo, name = self.repo, self.corpus_name
        problem = release_target_problem(self.corpus_root, repo)
        if problem is not None:  # [release].to was checked when corpus.toml was read: --to here
            raise ConfigError(f"--to {repo}: {problem}; nothing was changed")
        if not repo.exists():
            return
        if not repo.is_dir():
            raise ConfigError(f"{repo}: release target exists and is not a folder")
        if not _is_repo(repo):
            if any(repo.iterdir()):
                raise ReleaseError(f"{repo}: exists, is not empty and is not a git repository")
            return
        text = _head_manifest(repo)
        if text is None:
            if _has_commit(repo) or any(c.name != ".git" for c in repo.iterdir()):
                raise ReleaseError(
                    f"{repo}: a git repository that holds no newscorpus release (no manifest.json "
                    "at HEAD): release into a new or empty folder, or into the repository of an "
                    "earlier release; nothing was changed"
                )
        else:
            where = f"{repo}: manifest.json (at HEAD)"
            head = read_manifest(text, where)
            if head.name != name:
                raise ReleaseError(
                    f"{where} is a release of corpus {head.name!r}, not {name!r}: release into a "
                    "new or empty folder; nothing was changed"
                )
            stray = _unlisted_file(repo, head.files)
            if stray is not None:  # publishing replaces the work tree: only a release's own files
                raise ReleaseError(
                    f"{repo}: {stray} (at HEAD) is not listed in its manifest.json, so this is no "
                    "newscorpus release repository: release into a new or empty folder; nothing "
                    "was changed"
                )
        dirty = _unsafe_files(repo)
        if dirty is not None:
            raise ReleaseError(
                f"{repo}: has uncommitted, untracked or ignored files ({dirty}); commit or remove "
                "them first; nothing was changed"
            )

    def previous(self) -> Previous | None:
        """manifest.json and CHANGELOG.md of the last committed release."""
        repo = self.repo
        text = _head_manifest(repo)
        if text is None:
            return None
        previous = read_manifest(text, f"{repo}: manifest.json (at HEAD)")
        try:
            log = run_git(repo, "show", "HEAD:CHANGELOG.md")
        except ReleaseError:
            log = ""
        return dataclasses.replace(previous, changelog=log)

    def check_version(self, version: str) -> None:
        if f"v{version}" in local_tags(self.repo):
            raise ReleaseError(f"{self.repo}: version v{version} exists; nothing was changed")

    def interrupted(self, previous: Previous, version: str) -> bool:
        """Never: a failed publish is undone, so every commit here is tagged."""
        return False

    def finish(self, version: str, *, dry_run: bool) -> Finished:
        raise ReleaseError(f"{self.repo}: no interrupted release to finish")

    def publish(self, folder: Path, version: str, message: str) -> Published:
        """Commit the release into the repository and tag it; on failure, undo and raise."""
        repo = self.repo
        created = not _is_repo(repo)
        if created:
            if repo.exists() and any(repo.iterdir()):
                raise ReleaseError(f"{repo}: exists, is not empty and is not a git repository")
            repo.mkdir(parents=True, exist_ok=True)
            run_git(repo, "init", "-q")
        elif (dirty := _unsafe_files(repo)) is not None:  # checked again: the build took a while
            raise ReleaseError(
                f"{repo}: has uncommitted, untracked or ignored files ({dirty}); commit or remove "
                "them first; nothing was changed"
            )
        head = None
        if not created:
            try:
                head = run_git(repo, "rev-parse", "--verify", "HEAD").strip()
            except ReleaseError:
                head = None  # a repository without commits yet
        tag = f"v{version}"

        def undo() -> None:
            if created:
                shutil.rmtree(repo, ignore_errors=True)
                return
            run = ["git", *SAFE_GIT, "-C", str(repo)]
            subprocess.run([*run, "tag", "-d", tag], capture_output=True)
            if head is None:
                subprocess.run([*run, "update-ref", "-d", "HEAD"], capture_output=True)
                subprocess.run(
                    [*run, "rm", "-rq", "--cached", "--ignore-unmatch", "."], capture_output=True
                )
            else:
                subprocess.run([*run, "reset", "-q", "--hard", head], capture_output=True)
            subprocess.run([*run, "clean", "-qfdx"], capture_output=True)

        try:
            for child in repo.iterdir():
                if child.name in KEEP:
                    continue
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            shutil.copytree(folder, repo, dirs_exist_ok=True)
            # the parquet files are compressed already: zlib over them took 16 s of a
            # 1,000,000-article release (295 MB) and saved 4%; stored as they are, 5 s
            run_git(repo, "-c", "core.looseCompression=0", "add", "-A")
            run_git(repo, "commit", "-q", "--no-verify", "-m", message)
            run_git(repo, "tag", "-a", tag, "-m", message)
            commit = run_git(repo, "rev-parse", "HEAD").strip()
        except BaseException:
            undo()
            raise
        self._undo = undo
        return Published(target=self.name, place=self.name, commit=commit)

    def undo(self) -> None:
        """Put the repository back as it was before the last publish (a created one is removed)."""
        if self._undo is not None:
            self._undo()
            self._undo = None
