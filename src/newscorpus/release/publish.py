"""Versions and targets: a local git repository (commit + annotated tag) and the Hugging Face Hub."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..config import Config
from ..corpus import iter_articles
from ..errors import ConfigError, DataError, ReleaseError
from .build import CHANGE_LISTS, Built, Previous, build_release

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
PARTS = ("major", "minor", "patch")
KEEP = (".git", "changes")  # kept in the release repository between versions


def parse_version(v: str) -> tuple[int, int, int]:
    """X.Y.Z -> (X, Y, Z); a leading 'v' is accepted."""
    m = SEMVER.match(v.removeprefix("v"))
    if not m:
        raise ConfigError(f"--version {v!r}: not a semantic version X.Y.Z")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def bump_version(previous: str | None, part: str) -> str:
    """The next version after ``previous`` (0.0.0 when there is none)."""
    if part not in PARTS:
        raise ConfigError(f"--bump {part!r}: one of {', '.join(PARTS)}")
    x, y, z = parse_version(previous or "0.0.0")
    return {"major": f"{x + 1}.0.0", "minor": f"{x}.{y + 1}.0", "patch": f"{x}.{y}.{z + 1}"}[part]


# --- local git ---------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    ident: list[str] = []
    if subprocess.run(
        ["git", "-C", str(repo), "config", "user.name"], capture_output=True
    ).returncode:
        ident = ["-c", "user.name=newscorpus", "-c", "user.email=newscorpus@localhost"]
    proc = subprocess.run(
        [
            "git",
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
        raise ReleaseError(f"{repo}: git {' '.join(args[:2])}: {last}")
    return proc.stdout


def _is_repo(repo: Path) -> bool:
    return (repo / ".git").exists()


def local_tags(repo: Path) -> set[str]:
    """The tags of the release repository (none when it does not exist yet)."""
    return set(_git(repo, "tag", "--list").split()) if _is_repo(repo) else set()


def local_previous(repo: Path) -> Previous | None:
    """manifest.json and CHANGELOG.md of the last committed release."""
    if not _is_repo(repo):
        return None
    try:
        manifest = json.loads(_git(repo, "show", "HEAD:manifest.json"))
    except ReleaseError:
        return None
    try:
        log = _git(repo, "show", "HEAD:CHANGELOG.md")
    except ReleaseError:
        log = ""
    return Previous(version=str(manifest["version"]), manifest=manifest, changelog=log)


def publish_git(folder: Path, repo: Path, version: str) -> tuple[str, Callable[[], None]]:
    """Commit the release into ``repo`` and tag it; returns the commit and an undo function."""
    created = not _is_repo(repo)
    if created:
        if repo.exists() and any(repo.iterdir()):
            raise ReleaseError(f"{repo}: exists, is not empty and is not a git repository")
        repo.mkdir(parents=True, exist_ok=True)
        _git(repo, "init", "-q")
    elif _git(repo, "status", "--porcelain").strip():
        raise ReleaseError(f"{repo}: has uncommitted changes; commit or remove them first")
    head = None
    if not created:
        try:
            head = _git(repo, "rev-parse", "--verify", "HEAD").strip()
        except ReleaseError:
            head = None  # a repository without commits yet
    tag = f"v{version}"

    def undo() -> None:
        if created:
            shutil.rmtree(repo, ignore_errors=True)
            return
        run = ["git", "-C", str(repo)]
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
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", f"Release {tag}")
        _git(repo, "tag", "-a", tag, "-m", f"Release {tag}")
        commit = _git(repo, "rev-parse", "HEAD").strip()
    except BaseException:
        undo()
        raise
    return commit, undo


# --- the Hub -----------------------------------------------------------------------------------


REACH_TIMEOUT = 5.0  # seconds for the HEAD of the Hub endpoint that precedes every Hub call


@contextmanager
def _quiet_hub() -> Iterator[None]:
    """huggingface_hub's warnings off while we call it, unless HF_HUB_VERBOSITY asks for more.

    Its HTTP calls retry network errors and 5xx answers with backoff (``http_backoff`` in
    huggingface_hub/utils/_http.py) and log a warning at every try; our one-line error says
    what failed in the end.
    """
    from huggingface_hub.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    if level < logging.WARNING:  # HF_HUB_VERBOSITY=info or debug: the user wants to see them
        yield
        return
    hf_logging.set_verbosity(max(level, logging.ERROR))
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


@dataclass
class Hub:
    """A dataset repository on the Hugging Face Hub, through huggingface_hub.HfApi."""

    repo_id: str
    api: Any = None
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not re.match(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", self.repo_id):
            raise ConfigError(f"--hub {self.repo_id!r}: expected ORG/NAME")
        if self.api is None:
            from huggingface_hub import HfApi

            token = os.environ.get("HF_TOKEN")
            if not token:
                raise ConfigError("--hub: set HF_TOKEN to a Hugging Face write token")
            self.token = token
            self.api = HfApi(token=token, endpoint=os.environ.get("HF_ENDPOINT") or None)

    @property
    def endpoint(self) -> str:
        """The Hub's URL (HF_ENDPOINT or huggingface.co), without any user:password part."""
        from huggingface_hub import constants

        url = str(getattr(self.api, "endpoint", None) or constants.ENDPOINT).rstrip("/")
        parts = urlsplit(url)
        if "@" in parts.netloc:
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        return urlunsplit(parts)

    def check_reachable(self) -> None:
        """One HEAD of the endpoint, before any Hub call: a Hub that does not answer fails fast.

        huggingface_hub retries connection errors and timeouts 5 times over about 25 s and has no
        setting to lower that, so a Hub that cannot be reached is told apart here, through its own
        HTTP session (its proxies, certificates and HF_HUB_OFFLINE), with no retry and no token,
        in at most REACH_TIMEOUT seconds (or HF_HUB_ETAG_TIMEOUT when that is lower). Any HTTP
        answer, even an error status, counts as reachable.
        """
        if getattr(self.api, "endpoint", None) is None:
            return  # an api given by the caller that talks to no endpoint
        from huggingface_hub import constants, get_session

        timeout = min(float(constants.HF_HUB_ETAG_TIMEOUT), REACH_TIMEOUT)
        try:
            get_session().head(self.endpoint, timeout=timeout)
        except Exception as exc:
            raise self._failed(f"cannot reach the Hub at {self.endpoint}", exc) from None

    def _failed(
        self, what: str, exc: BaseException, then: str | None = "nothing was changed"
    ) -> ReleaseError:
        """One line: the repository, what failed, the first line of the error; never the token."""
        text = (str(exc).strip().splitlines() or [""])[0]
        server = getattr(exc, "server_message", None)  # HfHubHTTPError: what the Hub said
        if isinstance(server, str) and server.strip():
            text = f"{text} {' '.join(server.split())}"
        if self.token:
            text = text.replace(self.token, "***")
        first = text[:300]
        end = f"; {then}" if then else ""
        return ReleaseError(f"{self.repo_id}: {what} ({type(exc).__name__}: {first}){end}")

    def _unreachable(self, exc: Exception) -> ReleaseError:
        """A one-line ReleaseError for a Hub that cannot be read (network, server, permissions)."""
        return self._failed(f"cannot read the Hub repository from {self.endpoint}", exc)

    def refs(self) -> tuple[set[str], str | None]:
        """Tags of the Hub repository and the commit of its main branch (none when it does not exist)."""
        from huggingface_hub.errors import RepositoryNotFoundError

        try:
            with _quiet_hub():
                refs = self.api.list_repo_refs(self.repo_id, repo_type="dataset")
        except RepositoryNotFoundError:
            return set(), None
        except Exception as exc:
            raise self._unreachable(exc) from None
        main = next((b.target_commit for b in refs.branches if b.name == "main"), None)
        return {t.name for t in refs.tags}, main

    def tags(self) -> set[str]:
        """Tags of the Hub repository (none when it does not exist)."""
        return self.refs()[0]

    def finish(self, version: str) -> str:
        """Tag main's commit as ``vX.Y.Z`` when its manifest says that version (an interrupted release)."""
        tag = f"v{version}"
        _, head = self.refs()
        try:
            with tempfile.TemporaryDirectory(prefix="newscorpus-hub-") as tmp, _quiet_hub():
                path = self.api.hf_hub_download(
                    self.repo_id, "manifest.json", repo_type="dataset", revision=head, cache_dir=tmp
                )
                found = json.loads(Path(path).read_text(encoding="utf-8")).get("version")
        except Exception as exc:
            raise self._unreachable(exc) from None
        if head is None or found != version:
            raise ReleaseError(
                f"{self.repo_id}: main changed while finishing {tag} (its manifest says "
                f"{found!r}); nothing was changed"
            )
        try:
            with _quiet_hub():
                self.api.create_tag(
                    self.repo_id,
                    tag=tag,
                    tag_message=f"Release {tag}",
                    revision=head,
                    repo_type="dataset",
                )
        except Exception as exc:
            raise self._failed(f"tagging {tag} failed at {self.endpoint}", exc) from None
        return head

    def previous(self) -> Previous | None:
        """The manifest and changelog on the Hub's main branch, if any."""
        from huggingface_hub.errors import (
            RemoteEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        with tempfile.TemporaryDirectory(prefix="newscorpus-hub-") as tmp, _quiet_hub():
            try:
                path = self.api.hf_hub_download(
                    self.repo_id, "manifest.json", repo_type="dataset", cache_dir=tmp
                )
            except (RepositoryNotFoundError, RemoteEntryNotFoundError, RevisionNotFoundError):
                return None  # a new repository; any other error (network) stops the release
            except Exception as exc:
                raise self._unreachable(exc) from None
            manifest = json.loads(Path(path).read_text(encoding="utf-8"))
            try:
                log = self.api.hf_hub_download(
                    self.repo_id, "CHANGELOG.md", repo_type="dataset", cache_dir=tmp
                )
                changelog = Path(log).read_text(encoding="utf-8")
            except RemoteEntryNotFoundError:
                changelog = ""
            except Exception as exc:
                raise self._unreachable(exc) from None
        return Previous(version=str(manifest["version"]), manifest=manifest, changelog=changelog)

    def publish(self, folder: Path, version: str) -> str:
        """One commit with every file (and deletions of files no longer released), then the tag."""
        with _quiet_hub():
            return self._publish(folder, version)

    def _publish(self, folder: Path, version: str) -> str:
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        tag = f"v{version}"
        self.api.create_repo(self.repo_id, repo_type="dataset", exist_ok=True)
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        new = {p.relative_to(folder).as_posix() for p in files}
        remote = self.api.list_repo_files(self.repo_id, repo_type="dataset")
        ops: list[Any] = [
            CommitOperationDelete(path_in_repo=r)
            for r in remote
            if r not in new and r != ".gitattributes" and not r.startswith("changes/")
        ]
        ops += [
            CommitOperationAdd(
                path_in_repo=p.relative_to(folder).as_posix(), path_or_fileobj=str(p)
            )
            for p in files
        ]
        info = self.api.create_commit(
            self.repo_id, ops, commit_message=f"Release {tag}", repo_type="dataset"
        )
        self.api.create_tag(
            self.repo_id,
            tag=tag,
            tag_message=f"Release {tag}",
            revision=info.oid,
            repo_type="dataset",
        )
        return str(info.oid)


# --- the release -------------------------------------------------------------------------------


def _finish_on_hub(target: Hub, previous: Previous, dry_run: bool) -> ReleaseResult:
    """Tag the Hub's untagged main commit of ``previous.version``: the release is then complete."""
    version = previous.version
    result = ReleaseResult(
        version=version,
        dry_run=dry_run,
        counts=previous.manifest.get("counts", {}),
        changes={},
        hub=target.repo_id,
    )
    if dry_run:
        result.notes.append(f"dry run: would tag the Hub's main commit as v{version}")
        return result
    result.hub_commit = target.finish(version)
    result.notes.append(
        f"finished an interrupted release: the Hub's main commit, which holds v{version}, "
        f"is now tagged v{version} (nothing was rebuilt)"
    )
    return result


@dataclass
class ReleaseResult:
    """What `newscorpus release` did."""

    version: str
    dry_run: bool
    counts: dict[str, dict[str, int]]
    changes: dict[str, int]
    repo: Path | None = None
    commit: str | None = None
    hub: str | None = None
    hub_commit: str | None = None
    notes: list[str] = field(default_factory=list)


def make_release(
    cfg: Config,
    version: str | None = None,
    bump: str | None = None,
    to: Path | None = None,
    hub: str | None = None,
    dry_run: bool = False,
    hub_api: Any = None,
) -> ReleaseResult:
    """Build, check and publish one version; a refused or failed release leaves nothing behind."""
    if (version is None) == (bump is None):
        raise ConfigError("give exactly one of --version X.Y.Z or --bump major|minor|patch")
    if version is not None:
        parse_version(version)  # a malformed version is named before anything else
    repo = to or cfg.release.to
    hub_id = hub or cfg.release.hub
    if repo is None and hub_id is None and not dry_run:
        raise ConfigError(f"{cfg.path}: no release target: set [release].to or give --to / --hub")
    target = Hub(hub_id, hub_api) if hub_id else None
    if target is not None:
        target.check_reachable()  # before anything is read or written
    previous = local_previous(repo) if repo is not None else None
    from_hub = False
    if previous is None and target is not None:
        previous = target.previous()
        from_hub = previous is not None
    new = bump_version(previous.version if previous else None, bump) if bump else str(version)
    parse_version(new)
    new = new.removeprefix("v")
    tag = f"v{new}"
    if repo is not None and tag in local_tags(repo):
        raise ReleaseError(f"{repo}: version {tag} exists; nothing was changed")
    hub_tags = target.tags() if target is not None else set()
    if target is not None and tag in hub_tags:
        raise ReleaseError(f"{target.repo_id}: tag {tag} exists on the Hub; nothing was changed")
    if target is not None and previous is not None and from_hub:
        unfinished = previous.version
        if f"v{unfinished}" not in hub_tags:  # committed, then the tag failed
            if new != unfinished:
                raise ReleaseError(
                    f"{target.repo_id}: main holds the files of v{unfinished} but no tag "
                    f"v{unfinished} (a release interrupted after its commit): run `newscorpus "
                    f"release --version {unfinished} --hub {target.repo_id}` to finish it; "
                    "nothing was changed"
                )
            return _finish_on_hub(target, previous, dry_run)
    if previous is not None and parse_version(new) <= parse_version(previous.version):
        raise ReleaseError(f"version {tag} is not after the previous release v{previous.version}")
    if next(iter_articles(cfg), None) is None:
        raise DataError(
            f"{cfg.articles_dir}: no articles, nothing to release (run `newscorpus gather`)"
        )
    parent = repo.parent if repo is not None else None
    if repo is not None and not dry_run:
        if repo.exists() and not repo.is_dir():
            raise ConfigError(f"{repo}: release target exists and is not a folder")
        if repo.is_dir() and not _is_repo(repo) and any(repo.iterdir()):
            raise ReleaseError(f"{repo}: exists, is not empty and is not a git repository")
    if parent is not None:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{repo}: cannot create the release folder: {exc.strerror}") from None
    try:
        workdir = tempfile.TemporaryDirectory(prefix=".newscorpus-release-", dir=parent)
    except OSError as exc:
        raise ConfigError(
            f"{repo}: cannot write beside the release folder: {exc.strerror}"
        ) from None
    with workdir as tmp:
        built: Built = build_release(cfg, Path(tmp) / "release", new, previous, hub_id)
        result = ReleaseResult(
            version=new,
            dry_run=dry_run,
            counts=built.manifest["counts"],
            changes={k: len(built.changes[k]) for k in CHANGE_LISTS},
            repo=repo,
            hub=hub_id,
        )
        if dry_run:
            return result
        undo: Callable[[], None] | None = None
        if repo is not None:
            result.commit, undo = publish_git(built.folder, repo, new)
        if target is not None:
            try:
                result.hub_commit = target.publish(built.folder, new)
            except BaseException as exc:
                if undo is not None:
                    undo()
                if not isinstance(exc, Exception) or isinstance(exc, ReleaseError | ConfigError):
                    raise
                then = "the local release was undone" if undo is not None else None
                raise target._failed(
                    f"publishing to the Hub failed at {target.endpoint}", exc, then
                ) from None
    return result
