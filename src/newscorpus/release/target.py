"""Where a release is published: one interface, a local git repository and the Hugging Face Hub."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .manifest import Previous


@dataclass(frozen=True)
class Published:
    """One version published to one target: the commit that holds it (tagged vX.Y.Z)."""

    target: str  # the target's name: a folder or ORG/NAME
    place: str  # how a message names it: "../release" or "the Hub: ORG/NAME"
    commit: str


@dataclass(frozen=True)
class Finished:
    """An interrupted release completed (or, on a dry run, what would complete it)."""

    note: str  # one line for the user
    published: Published | None  # None on a dry run


class ReleaseTarget(Protocol):
    """A place a release goes to; make_release calls these in this order.

    ``check`` and ``previous`` read only; ``check_version`` refuses a version the target holds;
    ``interrupted`` and ``finish`` complete a release cut off between its commit and its tag;
    ``publish`` writes one commit with every file and tags it, or leaves the target as it was;
    ``undo`` takes back the last ``publish`` when a later target fails.
    """

    @property
    def name(self) -> str:
        """The folder or repository id that messages name."""
        ...

    @property
    def local_path(self) -> Path | None:
        """A folder on this machine the release is copied to (the build is made beside it)."""
        ...

    @property
    def undone(self) -> str:
        """What an error says after ``undo`` (e.g. "the local release was undone")."""
        ...

    @property
    def load_id(self) -> str | None:
        """The id researchers give load_dataset (the card's snippets), if the target has one."""
        ...

    def check(self) -> None:
        """Refuse a target that cannot take a release of this corpus; changes nothing."""
        ...

    def previous(self) -> Previous | None:
        """The last release the target holds (None: none yet)."""
        ...

    def check_version(self, version: str) -> None:
        """ReleaseError when the target already holds ``version``."""
        ...

    def interrupted(self, previous: Previous, version: str) -> bool:
        """True when ``previous`` (read from here) was published but never tagged and ``version``
        is it: finish it; ReleaseError when another version is asked for first."""
        ...

    def finish(self, version: str, *, dry_run: bool) -> Finished:
        """Tag the untagged commit of ``version``: the interrupted release is then complete."""
        ...

    def publish(self, folder: Path, version: str, message: str) -> Published:
        """One commit with every file of ``folder`` (and nothing else), tagged v``version``."""
        ...

    def undo(self) -> None:
        """Take back the last ``publish`` (a later target failed)."""
        ...
