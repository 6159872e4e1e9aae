"""The Hub release target: a dataset repository on the Hugging Face Hub, through huggingface_hub."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError, NewscorpusError, ReleaseError
from .manifest import Previous, read_manifest
from .target import Finished, Published

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


class HubTarget:
    """A dataset repository on the Hub: one commit with every file a version, then its tag.

    ``api``: an ``HfApi`` (default: one made at ``check`` from HF_TOKEN and HF_ENDPOINT).
    """

    undone = "what was published to the Hub stays"
    local_path = None

    def __init__(self, repo_id: str, api: Any = None) -> None:
        self.repo_id = repo_id
        self.api = api
        self._token: str | None = None
        self._tags: set[str] | None = None

    def __repr__(self) -> str:  # never the token
        return f"HubTarget({self.repo_id!r})"

    @property
    def name(self) -> str:
        return self.repo_id

    @property
    def load_id(self) -> str:
        return self.repo_id

    @property
    def endpoint(self) -> str:
        """The Hub's URL (HF_ENDPOINT or huggingface.co), without any user:password part."""
        from huggingface_hub import constants

        url = str(getattr(self.api, "endpoint", None) or constants.ENDPOINT).rstrip("/")
        parts = urlsplit(url)
        if "@" in parts.netloc:
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        return urlunsplit(parts)

    def check(self) -> None:
        """The repository id, HF_TOKEN, then one HEAD of the endpoint; nothing is written."""
        if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", self.repo_id, re.ASCII):
            raise ConfigError(f"--hub {self.repo_id!r}: expected ORG/NAME")
        if self.api is None:
            from huggingface_hub import HfApi

            token = os.environ.get("HF_TOKEN")
            if not token:
                raise ConfigError("--hub: set HF_TOKEN to a Hugging Face write token")
            self._token = token
            self.api = HfApi(token=token, endpoint=os.environ.get("HF_ENDPOINT") or None)
        self.check_reachable()

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
        if self._token:
            text = text.replace(self._token, "***")
        first = text[:300]
        end = f"; {then}" if then else ""
        return ReleaseError(f"{self.repo_id}: {what} ({type(exc).__name__}: {first}){end}")

    def _unreachable(self, exc: Exception) -> ReleaseError:
        """A one-line ReleaseError for a Hub that cannot be read (network, server, permissions)."""
        return self._failed(f"cannot read the Hub repository from {self.endpoint}", exc)

    def _refs(self) -> tuple[set[str], str | None]:
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
        return dataclasses.replace(previous, changelog=changelog)

    def check_version(self, version: str) -> None:
        tags, _ = self._refs()
        self._tags = tags
        if f"v{version}" in tags:
            raise ReleaseError(
                f"{self.repo_id}: tag v{version} exists on the Hub; nothing was changed"
            )

    def interrupted(self, previous: Previous, version: str) -> bool:
        """Main holds ``previous`` but its tag is missing (the tag failed after the commit)."""
        tags = self._tags if self._tags is not None else self._refs()[0]
        unfinished = previous.version
        if f"v{unfinished}" in tags:
            return False
        if version != unfinished:
            raise ReleaseError(
                f"{self.repo_id}: main holds the files of v{unfinished} but no tag "
                f"v{unfinished} (a release interrupted after its commit): run `newscorpus "
                f"release --version {unfinished} --hub {self.repo_id}` to finish it; "
                "nothing was changed"
            )
        return True

    def finish(self, version: str, *, dry_run: bool) -> Finished:
        """Tag main's commit as ``vX.Y.Z`` when its manifest says that version."""
        tag = f"v{version}"
        if dry_run:
            return Finished(f"dry run: would tag the Hub's main commit as {tag}", None)
        _, head = self._refs()
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
        note = (
            f"finished an interrupted release: the Hub's main commit, which holds {tag}, "
            f"is now tagged {tag} (nothing was rebuilt)"
        )
        return Finished(note, Published(self.repo_id, f"the Hub: {self.repo_id}", head))

    def publish(self, folder: Path, version: str, message: str) -> Published:
        """One commit with every file (and deletions of files no longer released), then the tag."""
        try:
            with _quiet_hub():
                commit = self._commit_and_tag(folder, version, message)
        except NewscorpusError:
            raise
        except Exception as exc:
            raise self._failed(
                f"publishing to the Hub failed at {self.endpoint}", exc, None
            ) from None
        return Published(self.repo_id, f"the Hub: {self.repo_id}", commit)

    def _commit_and_tag(self, folder: Path, version: str, message: str) -> str:
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

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
            self.repo_id, ops, commit_message=message, repo_type="dataset"
        )
        self.api.create_tag(
            self.repo_id,
            tag=f"v{version}",
            tag_message=message,
            revision=info.oid,
            repo_type="dataset",
        )
        return str(info.oid)

    def undo(self) -> None:
        """Nothing: a Hub commit is not taken back (a later release replaces it)."""
