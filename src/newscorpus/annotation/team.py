"""`newscorpus annotators`: the team's accounts on the annotation server.

Passwords are generated here and written to one place only: the builder's credentials file
(CSV ``email,password``, mode 0600, appended), outside the corpus folder (which is committed).
What newscorpus remembers per annotator (languages read, active or removed) is kept in
``.newscorpus/team.json`` keyed by the server's URL and user id: never an e-mail, which stays on
the server. Listing shows e-mails as the server gives them, beside the pseudonym that pull writes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..config import Config
from ..errors import StudioError, UsageError
from ..lock import writes_corpus
from ..records import utcnow
from ..store import atomic_write_text
from .assign import load_state
from .backend import Account, AnnotationBackend
from .pseudonym import load_salt, pseudonym, save_salt

TEAM_FILE = "team.json"
HEADER = "email,password"
PASSWORD_BYTES = 18  # secrets.token_urlsafe: 24 characters, ~144 bits
# an address Label Studio's form takes and a CSV cell holds as it is: no space, comma or quote
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MAX_EMAIL = 254


@dataclass(frozen=True)
class MemberState:
    """What newscorpus keeps about one annotator (by server user id)."""

    languages: tuple[str, ...] = ()
    active: bool = True
    added_at: str = ""


@dataclass(frozen=True)
class Added:
    """One e-mail of an ``add``: ``created`` (password in the credentials file), ``joined`` (an
    account of the server made elsewhere, now on the team: no password), or ``already``."""

    email: str
    user_id: int
    pseudonym: str
    status: str


@dataclass(frozen=True)
class AddResult:
    """What ``add_annotators`` did."""

    added: tuple[Added, ...]
    credentials: Path

    @property
    def created(self) -> int:
        return sum(a.status == "created" for a in self.added)


@dataclass(frozen=True)
class TeamMember:
    """One row of ``annotators list``."""

    email: str
    pseudonym: str
    assigned: int
    submitted: int
    url: str

    def to_json(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "pseudonym": self.pseudonym,
            "assigned": self.assigned,
            "submitted": self.submitted,
            "url": self.url,
        }


@dataclass(frozen=True)
class ListResult:
    """The active team, in the order its members were added."""

    members: tuple[TeamMember, ...]

    def to_json(self) -> list[dict[str, Any]]:
        return [m.to_json() for m in self.members]


@dataclass(frozen=True)
class RemoveResult:
    """The account ``remove_annotator`` took off the team."""

    email: str
    user_id: int
    pseudonym: str


# --- checks before anything is changed --------------------------------------------------------


def check_email(value: str) -> str:
    """The e-mail in lower case (Label Studio logs in case-blind); UsageError when it is not one."""
    email = value.strip().lower()
    if len(email) > MAX_EMAIL or not EMAIL.fullmatch(email):
        raise UsageError(f"{value!r} is not an e-mail address (name@domain.tld)")
    return email


def check_emails(values: Sequence[str]) -> list[str]:
    """Every e-mail checked, none given twice (UsageError naming the first bad one)."""
    if not values:
        raise UsageError("annotators add: give at least one e-mail address")
    seen: set[str] = set()
    for value in values:
        email = check_email(value)
        if email in seen:
            raise UsageError(f"{value!r} is given twice")
        seen.add(email)
    return [check_email(v) for v in values]


def check_languages(cfg: Config, languages: Iterable[str]) -> tuple[str, ...]:
    """The languages, each one of the corpus's (UsageError naming the first that is not)."""
    chosen: list[str] = []
    for lang in (s.strip() for s in languages):
        if not lang:
            continue
        if lang not in cfg.corpus.languages:
            raise UsageError(
                f"--languages: {lang!r} is not one of the corpus's languages "
                f"({', '.join(cfg.corpus.languages)} in {cfg.path})"
            )
        if lang not in chosen:
            chosen.append(lang)
    return tuple(chosen)


def _work_tree(path: Path) -> Path | None:
    """The git work tree holding ``path``, if any."""
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    return None


def check_credentials_path(cfg: Config, path: Path) -> Path:
    """The credentials file, refused inside the corpus folder or its git work tree (both are
    committed: a password file there would travel with the corpus) or when it is a folder."""
    target = path.expanduser().absolute()
    resolved = target.resolve()
    corpus = cfg.root.absolute().resolve()
    tree = _work_tree(corpus)
    for place, name in ((corpus, "the corpus folder"), (tree, "the corpus's git work tree")):
        if place is not None and resolved.is_relative_to(place):
            raise UsageError(
                f"--credentials {path}: inside {name} ({place}), which is committed; "
                "keep the passwords outside it"
            )
    if resolved.is_dir():
        raise UsageError(f"--credentials {path}: is a folder, not a file")
    if not resolved.parent.is_dir():
        raise UsageError(f"--credentials {path}: its folder {resolved.parent} does not exist")
    return target


# --- the credentials file and the team state ---------------------------------------------------


class CredentialsFile:
    """The builder's CSV of passwords: opened 0600 for appending before any account is made
    (so that a file that cannot be written refuses the command first); each line is written and
    synced as soon as its account exists."""

    def __init__(self, path: Path) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(path, flags, 0o600)
        try:
            info = os.fstat(self._fd)
            if not stat.S_ISREG(info.st_mode):
                raise UsageError(f"--credentials {path}: not a regular file")
            os.fchmod(self._fd, 0o600)  # an existing file readable by others is narrowed
            if info.st_size == 0:
                self._write(HEADER + "\n")
        except BaseException:
            os.close(self._fd)
            raise

    def _write(self, text: str) -> None:
        data = text.encode("utf-8")
        while data:
            n = os.write(self._fd, data)
            data = data[n:]
        os.fsync(self._fd)

    def append(self, email: str, password: str) -> None:
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow([email, password])
        self._write(line.getvalue())

    def close(self) -> None:
        os.close(self._fd)


def team_path(cfg: Config) -> Path:
    """What newscorpus keeps about the team, per server (git-ignored, no e-mail in it)."""
    return cfg.state_dir / TEAM_FILE


def _server(url: str) -> str:
    return url.rstrip("/")


def _read_all(cfg: Config) -> dict[str, Any]:
    try:
        data = orjson.loads(team_path(cfg).read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        raise StudioError(f"{team_path(cfg)}: not a JSON object (damaged?)") from None
    if not isinstance(data, dict):
        raise StudioError(f"{team_path(cfg)}: not a JSON object (damaged?)")
    return data


def load_team(cfg: Config, url: str) -> dict[int, MemberState]:
    """user id -> what is kept about them, for one server, in the order they were added."""
    team: dict[int, MemberState] = {}
    members = _read_all(cfg).get(_server(url), {})
    if not isinstance(members, dict):
        return team
    for key, value in members.items():
        if not key.isdigit() or not isinstance(value, dict):
            continue
        langs = value.get("languages")
        team[int(key)] = MemberState(
            languages=tuple(str(x) for x in langs) if isinstance(langs, list) else (),
            active=value.get("active") is not False,
            added_at=str(value.get("added_at") or ""),
        )
    return team


def save_team(cfg: Config, url: str, team: dict[int, MemberState]) -> None:
    """Write the team of one server atomically (other servers' teams kept)."""
    data = _read_all(cfg)
    data[_server(url)] = {
        str(uid): {"languages": list(m.languages), "active": m.active, "added_at": m.added_at}
        for uid, m in team.items()
    }
    atomic_write_text(team_path(cfg), json.dumps(data, indent=1, sort_keys=False) + "\n")


def _by_email(accounts: Iterable[Account]) -> dict[str, Account]:
    return {a.email.lower(): a for a in accounts if a.active and a.email}


def _refused(backend: AnnotationBackend, what: str, why: str) -> StudioError:
    return StudioError(f"{backend.url}: the API token may not {what} ({why}); nothing was changed")


# --- the commands ------------------------------------------------------------------------------


@writes_corpus("annotators add")
def add_annotators(
    cfg: Config,
    *,
    emails: Sequence[str],
    credentials: Path,
    languages: Sequence[str] = (),
    backend: AnnotationBackend,
) -> AddResult:
    """Make an account for each new e-mail (its generated password appended to
    ``credentials``), take existing accounts onto the team, keep each one's languages.

    Everything that can be refused (e-mails, languages, the file's place, the token's rights)
    is checked before the server is changed. Should the server fail half-way, every account made
    so far has its password in the file and its place on the team: run the command again.
    """
    wanted = check_emails(emails)
    langs = check_languages(cfg, languages)
    target = check_credentials_path(cfg, credentials)
    rights = backend.rights()
    existing = _by_email(backend.accounts())
    if not rights.create and any(e not in existing for e in wanted):
        raise _refused(backend, "create accounts", "the server refused to show its invite link")
    team = load_team(cfg, backend.url)
    salt, fresh = load_salt(cfg)
    if fresh:
        save_salt(cfg, salt)  # the pseudonyms listed now are those pull will write
    added: list[Added] = []
    file: CredentialsFile | None = None
    try:
        for email in wanted:
            account = existing.get(email)
            known = team.get(account.id) if account is not None else None
            if account is not None and known is not None and known.active:
                status = "already"
                state = MemberState(langs or known.languages, True, known.added_at)
            else:
                if account is None:
                    if file is None:
                        file = CredentialsFile(target)
                    password = secrets.token_urlsafe(PASSWORD_BYTES)
                    account = backend.create_member(email, password)
                    file.append(email, password)
                    status = "created"
                else:
                    status = "joined"
                state = MemberState(langs, True, utcnow())
            team[account.id] = state
            save_team(cfg, backend.url, team)
            added.append(Added(email, account.id, pseudonym(salt, backend.url, account.id), status))
    finally:
        if file is not None:
            file.close()
    return AddResult(added=tuple(added), credentials=target)


def list_annotators(cfg: Config, *, backend: AnnotationBackend) -> ListResult:
    """The active team: e-mail, pseudonym, tasks assigned and submitted, and the link each one
    works from (read only). Once ``push`` has assigned tasks, each annotator has a project of
    their own; before that, every member can open every task of the corpus's project (Label
    Studio Community has no assignment): each is assigned all of them."""
    team = {uid: m for uid, m in load_team(cfg, backend.url).items() if m.active}
    if not team:
        return ListResult(members=())
    accounts = {a.id: a for a in backend.accounts()}
    own = load_state(cfg, backend.url).project_of()
    shared = None
    if any(uid not in own for uid in team):
        shared = backend.find_project(cfg.corpus.pretty_name)
    counts: dict[int, dict[int | str, int]] = {}
    salt, fresh = load_salt(cfg)
    rows = []
    for uid in team:
        account = accounts.get(uid)
        if account is None or not account.active:
            continue  # removed on the server by hand: not on the team any more
        project = backend.project(own[uid]) if uid in own else shared
        if project is not None and project.id not in counts:
            counts[project.id] = backend.submitted(project.id)
        rows.append(
            TeamMember(
                email=account.email,
                pseudonym="" if fresh else pseudonym(salt, backend.url, uid),
                assigned=project.tasks if project is not None else 0,
                submitted=counts[project.id].get(uid, 0) if project is not None else 0,
                url=backend.work_url(project.id if project is not None else None),
            )
        )
    return ListResult(members=tuple(rows))


@writes_corpus("annotators remove")
def remove_annotator(cfg: Config, *, email: str, backend: AnnotationBackend) -> RemoveResult:
    """Remove an account from the organisation (its annotations stay, and keep their
    pseudonym); refused before any change when the token may not."""
    wanted = check_email(email)
    account = _by_email(backend.accounts()).get(wanted)
    if account is None:
        raise StudioError(f"{backend.url}: no active account {wanted}; nothing was changed")
    rights = backend.rights()
    if account.id == rights.user_id:
        raise UsageError(f"{wanted} is the account of the API token itself: not removed")
    if not rights.deactivate:
        raise _refused(
            backend, "deactivate accounts", "only the organisation's owner may remove members"
        )
    team = load_team(cfg, backend.url)
    backend.deactivate(account.id)
    known = team.get(account.id, MemberState(added_at=utcnow()))
    team[account.id] = MemberState(known.languages, False, known.added_at)
    save_team(cfg, backend.url, team)
    salt, fresh = load_salt(cfg)
    name = "" if fresh else pseudonym(salt, backend.url, account.id)
    return RemoveResult(email=wanted, user_id=account.id, pseudonym=name)
