"""Versions and targets: a local git repository (commit + annotated tag) and the Hugging Face Hub."""

from __future__ import annotations

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

from ..cardtext import card_path, placeholder_warnings
from ..config import Config, release_target_problem
from ..corpus import article_files
from ..errors import ConfigError, DataError, ReleaseError
from ..gather.urlnorm import mask_credentials
from ..lock import writes_corpus
from .build import CHANGE_LISTS, Built, Previous, build_release, parse_json_document

# fullmatch, ASCII digits: "$" let "1.0.0\n" through and \d took "١.٠.٠" (a tag and file names)
SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
PARTS = ("major", "minor", "patch")
KEEP = (".git", "changes")  # kept in the release repository between versions


def parse_version(v: str) -> tuple[int, int, int]:
    """X.Y.Z -> (X, Y, Z); a leading 'v' is accepted."""
    m = SEMVER.fullmatch(v.removeprefix("v"))
    if not m:
        raise ConfigError(f"--version {v!r}: not a semantic version X.Y.Z")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def bump_version(previous: str | None, part: str) -> str:
    """The next version after ``previous`` (0.0.0 when there is none)."""
    if part not in PARTS:
        raise ConfigError(f"--bump {part!r}: one of {', '.join(PARTS)}")
    x, y, z = parse_version(previous or "0.0.0")
    return {"major": f"{x + 1}.0.0", "minor": f"{x}.{y + 1}.0", "patch": f"{x}.{y}.{z + 1}"}[part]


def read_manifest(data: bytes | str, where: str) -> Previous:
    """A previous release's manifest.json as Previous; ReleaseError naming ``where`` if malformed."""
    m = parse_json_document(data, where, "nothing was changed")
    problem = None
    if not isinstance(m, dict):
        problem = "not a JSON object"
    elif not isinstance(m.get("version"), str) or not SEMVER.fullmatch(m["version"]):
        problem = "no version X.Y.Z"
    else:
        for key in ("articles", "labels", "claims", "counts"):
            if not isinstance(m.get(key, {}), dict):
                problem = f"{key} is not an object"
        articles = m.get("articles", {})
        if problem is None and not all(
            isinstance(v, dict)
            and isinstance(v.get("split"), str)
            and isinstance(v.get("dup_cluster"), str)
            for v in articles.values()
        ):
            problem = "an entry of articles has no split or dup_cluster"
        if problem is None and not all(isinstance(v, dict) for v in m.get("labels", {}).values()):
            problem = "an entry of labels is not an object"
    if problem is not None:
        raise ReleaseError(
            f"{where}: not a newscorpus release manifest ({problem}); nothing was changed"
        )
    return Previous(version=m["version"], manifest=m)


# --- local git ---------------------------------------------------------------------------------


# No hook or fsmonitor of the target repository runs (a pre-commit hook could add an unscanned
# file to the commit); reading commands (status) do not rewrite .git/index.
SAFE_GIT = ("--no-optional-locks", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")


def _git(repo: Path, *args: str) -> str:
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
    return set(_git(repo, "tag", "--list").split()) if _is_repo(repo) else set()


def _head_manifest(repo: Path) -> str | None:
    """manifest.json at HEAD of ``repo`` (None: no commit, or no such file)."""
    if not _is_repo(repo):
        return None
    try:
        return _git(repo, "show", "HEAD:manifest.json")
    except ReleaseError:
        return None


def local_previous(repo: Path) -> Previous | None:
    """manifest.json and CHANGELOG.md of the last committed release."""
    text = _head_manifest(repo)
    if text is None:
        return None
    previous = read_manifest(text, f"{repo}: manifest.json (at HEAD)")
    try:
        previous.changelog = _git(repo, "show", "HEAD:CHANGELOG.md")
    except ReleaseError:
        previous.changelog = ""
    return previous


def _unsafe_files(repo: Path) -> str | None:
    """The first file that is changed, untracked or ignored in ``repo`` (None: all committed).

    Ignored files count: publishing replaces the work tree, and must not delete a file that
    git does not keep.
    """
    out = _git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all")
    first = next((line for line in out.splitlines() if line.strip()), None)
    return first[3:] if first else None


def _unlisted_file(repo: Path, manifest: dict[str, Any]) -> str | None:
    """The first file at HEAD that a release did not write (None: all are the release's)."""
    files = manifest.get("files")
    listed = set(files) if isinstance(files, dict) else set()
    for path in _git(repo, "ls-tree", "-r", "-z", "--name-only", "HEAD").split("\0"):
        kept = path.startswith("changes/v") and path.endswith(".json")  # earlier versions'
        if path and path != "manifest.json" and path not in listed and not kept:
            return path
    return None


def check_target(repo: Path, name: str) -> None:
    """Refuse a release target that is not a new or empty folder or a release repository of ``name``.

    Read-only: nothing in the folder (.git/index included) is written before a refusal.
    """
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
        has_commit = (
            subprocess.run(
                [
                    "git",
                    *SAFE_GIT,
                    "-C",
                    str(repo),
                    "rev-parse",
                    "--verify",
                    "-q",
                    "HEAD",
                ],
                capture_output=True,
            ).returncode
            == 0
        )
        if has_commit or any(c.name != ".git" for c in repo.iterdir()):
            raise ReleaseError(
                f"{repo}: a git repository that holds no newscorpus release (no manifest.json "
                "at HEAD): release into a new or empty folder, or into the repository of an "
                "earlier release; nothing was changed"
            )
    else:
        where = f"{repo}: manifest.json (at HEAD)"
        manifest = read_manifest(text, where).manifest
        found = manifest.get("name")
        if found != name:
            raise ReleaseError(
                f"{where} is a release of corpus {found!r}, not {name!r}: release into a new "
                "or empty folder; nothing was changed"
            )
        stray = _unlisted_file(repo, manifest)
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


def publish_git(folder: Path, repo: Path, version: str) -> tuple[str, Callable[[], None]]:
    """Commit the release into ``repo`` and tag it; returns the commit and an undo function."""
    created = not _is_repo(repo)
    if created:
        if repo.exists() and any(repo.iterdir()):
            raise ReleaseError(f"{repo}: exists, is not empty and is not a git repository")
        repo.mkdir(parents=True, exist_ok=True)
        _git(repo, "init", "-q")
    elif (dirty := _unsafe_files(repo)) is not None:  # checked again: the build took a while
        raise ReleaseError(
            f"{repo}: has uncommitted, untracked or ignored files ({dirty}); commit or remove "
            "them first; nothing was changed"
        )
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
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "--no-verify", "-m", f"Release {tag}")
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
        if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", self.repo_id, re.ASCII):
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
                data = Path(path).read_bytes()
        except Exception as exc:
            raise self._unreachable(exc) from None
        found = read_manifest(data, f"{self.repo_id}: manifest.json on main").version
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
            previous = read_manifest(
                Path(path).read_bytes(), f"{self.repo_id}: manifest.json on main"
            )
            try:
                log = self.api.hf_hub_download(
                    self.repo_id, "CHANGELOG.md", repo_type="dataset", cache_dir=tmp
                )
                changelog = Path(log).read_text(encoding="utf-8")
            except RemoteEntryNotFoundError:
                changelog = ""
            except Exception as exc:
                raise self._unreachable(exc) from None
        previous.changelog = changelog
        return previous

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
    warnings: list[str] = field(default_factory=list)


@writes_corpus("release")
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
    if repo is not None:
        problem = release_target_problem(cfg.root, repo) if to is not None else None
        if problem is not None:  # [release].to was checked when corpus.toml was read
            raise ConfigError(f"--to {repo}: {problem}; nothing was changed")
        check_target(repo, cfg.corpus.name)  # before anything is read or written
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
    if not _has_articles(cfg):
        raise DataError(
            f"{cfg.articles_dir}: no articles, nothing to release (run `newscorpus gather`)"
        )
    parent = repo.parent if repo is not None else None
    made = _missing_folders(parent)
    if parent is not None:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{repo}: cannot create the release folder: {exc.strerror}") from None
    published = False
    try:
        result = _build_and_publish(cfg, repo, target, new, previous, hub_id, dry_run, parent)
        published = not dry_run
    finally:
        if not published:  # the folders made above the target: a failed or dry run keeps none
            for folder in made:
                try:
                    folder.rmdir()
                except OSError:
                    break
    left = placeholder_warnings(cfg)
    if left:
        result.warnings.append(
            f"{card_path(cfg)}: the card's prose is unfinished ({len(left)} warnings; "
            "`newscorpus validate` lists them); the card says so on top"
        )
    return result


def _has_articles(cfg: Config) -> bool:
    """Whether some article file has a line that is not blank (validation reads them later)."""
    for path in article_files(cfg):
        try:
            with path.open("rb") as fh:
                if any(line.strip() for line in fh):
                    return True
        except OSError as exc:
            raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    return False


def _missing_folders(folder: Path | None) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    out: list[Path] = []
    while folder is not None and not folder.exists() and folder != folder.parent:
        out.append(folder)
        folder = folder.parent
    return out


def _build_and_publish(
    cfg: Config,
    repo: Path | None,
    target: Hub | None,
    new: str,
    previous: Previous | None,
    hub_id: str | None,
    dry_run: bool,
    parent: Path | None,
) -> ReleaseResult:
    """Build in a temporary folder beside the target, check, then publish (git, then the Hub)."""
    try:
        workdir = tempfile.TemporaryDirectory(prefix=".newscorpus-release-", dir=parent)
    except OSError as exc:
        raise ConfigError(
            f"{repo}: cannot write beside the release folder: {exc.strerror}"
        ) from None
    with workdir as tmp:
        built: Built = build_release(cfg, Path(tmp) / "release", new, previous, hub_id, target=repo)
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
