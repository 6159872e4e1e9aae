"""The annotation server, whatever it is: one interface, and the values that cross it.

Push, pull and adjudication speak only to an ``AnnotationBackend``; Label Studio is its one
implementation (``newscorpus.labelstudio.backend.connect(cfg)`` builds it). A backend is bound to
one corpus's config: it derives its labeling interface from the corpus's targets itself. What
crosses the interface is ours: articles and annotation fields (stance per target, spans with their
attributes and speaker), never the server's own JSON; the server's format stays inside the
backend (``PreparedTask.body`` is opaque to everyone else).

The generic parts sit outside: the push ledger (``annotation.push``), versions, deletion marks,
the watermark and the refusal of foreign articles (``annotation.pull``), pseudonyms
(``annotation.pseudonym``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..records import Annotation, Article


@dataclass(frozen=True)
class Project:
    """A project on the server, with its counters at the time it was read."""

    id: int
    title: str
    tasks: int = 0
    annotations: int = 0  # submitted and skipped (cancelled) ones; drafts are not counted
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the
    # server's own description of it (settings, labeling interface): read by the backend only


@dataclass(frozen=True, kw_only=True)
class ProjectSpec:
    """What a project should be: its title, description and annotations per task.

    ``review`` makes an adjudication project: one decision per task, created once and then
    left as it is. Otherwise the project's settings and labeling interface are kept in line
    with the corpus at every push, and the pre-annotations are shown.
    """

    title: str
    description: str
    overlap: int
    review: bool = False


@dataclass(frozen=True)
class NewTask:
    """An article to import as a task, with labels shown to the annotator up front.

    ``prelabel`` adds the backend's own heuristic pre-annotations; ``suggestions`` are
    annotation records shown as predictions named by their ``annotator`` (adjudication).
    """

    article: Article
    prelabel: bool = False
    suggestions: tuple[Annotation, ...] = ()


@dataclass(frozen=True)
class PreparedTask:
    """A ``NewTask`` checked and written in the server's own format (``body`` is opaque)."""

    article_id: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class TaskStamp:
    """A task and the time it last changed (as the server writes it: ISO 8601 text)."""

    id: int
    updated_at: str


@dataclass(frozen=True)
class ServerAnnotation:
    """One annotation of a task as the server has it, already in our fields (checked).

    ``user`` is the server's id of its author (pull turns it into a pseudonym); ``relations``
    are the relations that are not a speaker link, kept as they are; ``choices`` are the labels
    of the per-article choice layers (None when the layers define none: the record has no
    ``choices``).
    """

    id: int
    user: int | str
    stance: dict[str, str | None]
    spans: list[dict[str, Any]]
    relations: list[dict[str, Any]] = field(default_factory=list)
    choices: dict[str, str | None] | None = None
    created_at: str | None = None
    updated_at: str | None = None
    cancelled: bool = False


@dataclass(frozen=True)
class Submission:
    """One annotation of a task as the server's task list shows it, without its labels: its
    author, when it was made, whether it was skipped, and the seconds its author spent on it
    (Label Studio's ``lead_time``; None when the server did not measure it)."""

    task_id: int
    user: int | str
    created_at: str
    cancelled: bool = False
    lead_time: float | None = None


@dataclass(frozen=True)
class Task:
    """A task with its article id and its annotations; ``drafts`` are counted, never read."""

    id: int | None
    article_id: str | None
    annotations: tuple[ServerAnnotation, ...] = ()
    drafts: int = 0
    updated_at: str = ""


@dataclass(frozen=True)
class Account:
    """An account on the server: its id, e-mail and API token (never shown in ``repr``);
    ``active`` is False for an account removed from the organisation (its e-mail is not
    readable then: the server shows a placeholder)."""

    id: int
    email: str
    token: str = field(repr=False)
    active: bool = True


@dataclass(frozen=True)
class AccountRights:
    """What the backend's own account may do to other accounts (read, never tried out)."""

    user_id: int
    create: bool  # may make new accounts
    deactivate: bool  # may remove accounts from the organisation


class AnnotationBackend(Protocol):
    """An annotation server, bound to one corpus. Every error is a ``StudioError`` (one line,
    naming the server's URL, never a token); a refused call changes nothing it was asked to."""

    url: str  # the server's URL, without credentials: it keys ledgers, states and pseudonyms
    source: str  # names the backend in annotation records ("labelstudio")
    record_prefix: str  # starts the id of every record pulled from it ("ls")

    def close(self) -> None:
        """Release the connection."""
        ...

    def find_project(self, title: str) -> Project | None:
        """The project with exactly this title, or None (read only)."""
        ...

    def project(self, project_id: int) -> Project:
        """A project with its current counters."""
        ...

    def ensure_project(self, spec: ProjectSpec, found: Project | None) -> tuple[Project, bool]:
        """Create the project of ``spec`` or bring ``found`` in line with it; True when its
        labeling interface changed."""
        ...

    def prepare(self, tasks: Sequence[NewTask]) -> list[PreparedTask]:
        """The tasks in the server's format, each checked (DataError naming the first bad one)."""
        ...

    def import_tasks(self, project_id: int, tasks: Sequence[PreparedTask]) -> list[int]:
        """Import tasks in one request; the new task ids, in order."""
        ...

    def task_articles(self, project_id: int) -> Iterator[tuple[int, str]]:
        """(task id, article id) of every task of the project that carries an article id."""
        ...

    def task_ids(self, project_id: int) -> list[int]:
        """Every task id of the project (ids of other projects may be among them: ``read_tasks``
        leaves those out)."""
        ...

    def changed_tasks(self, project_id: int, since: str) -> Iterator[TaskStamp]:
        """The tasks changed at or after ``since``, most recently changed first."""
        ...

    def read_tasks(self, project: Project, task_ids: Sequence[int]) -> Iterator[Task]:
        """The tasks of ``task_ids`` that have annotations, in id order, their annotations
        converted and checked; nothing is written on the server."""
        ...

    def accounts(self) -> list[Account]:
        """Every account of the organisation (tokens are not read: empty)."""
        ...

    def create_account(self, email: str, password: str) -> Account:
        """A new annotator account, with its API token."""
        ...

    def as_account(self, account: Account) -> AnnotationBackend:
        """The same server, acting as ``account`` (close it when done)."""
        ...

    def submit(
        self,
        task_id: int,
        record: Annotation,
        text: str,
        *,
        cancelled: bool,
        lead_time: float | None = None,
    ) -> int:
        """Submit ``record``'s labels on a task of ``text`` as this account (``lead_time``: the
        seconds it took, as the labeling interface reports them); the annotation id."""
        ...

    def rights(self) -> AccountRights:
        """What this account may do to other accounts (nothing is changed to find out)."""
        ...

    def create_member(self, email: str, password: str) -> Account:
        """A new account of the organisation with this password (its token is not read)."""
        ...

    def deactivate(self, account_id: int) -> None:
        """Remove an account from the organisation: it can no longer open any project; its
        annotations stay, under its id."""
        ...

    def submissions(
        self, project_id: int, task_ids: Sequence[int] | None = None
    ) -> list[Submission]:
        """Every annotation of a project (or of the tasks ``task_ids``), submitted or skipped
        (drafts are not), without its labels, in one listing of the tasks (no request per
        task; ``newscorpus progress``)."""
        ...

    def submitted(self, project_id: int) -> dict[int | str, int]:
        """Submitted (not skipped) annotations of a project, per author id."""
        ...

    def started_tasks(self, project_id: int) -> set[int]:
        """The tasks of a project that someone has begun: annotated, skipped or drafted."""
        ...

    def delete_tasks(self, project_id: int, task_ids: Sequence[int]) -> None:
        """Delete tasks of a project (push moves only tasks nobody has begun)."""
        ...

    def work_url(self, project_id: int | None) -> str:
        """The link an annotator works from: the project's labeling stream (the server's
        address when there is no project yet)."""
        ...
