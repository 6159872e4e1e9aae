"""`newscorpus push`: articles -> tasks on the annotation server, idempotently, one per
near-duplicate cluster.

A local ledger (``.newscorpus/studio-ledger.json``: article_id -> task_id per server and project)
makes a no-op push fast. When it disagrees with the server (a task deleted by hand; a push killed
after an import but before the ledger was saved), it is rebuilt from the server's tasks, each of
which carries its ``article_id``: a push run again leaves exactly one task per article.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ..config import Config
from ..corpus import iter_articles
from ..errors import DataError, UsageError
from ..lock import writes_corpus
from ..records import Article
from ..store import atomic_write_text
from .assign import AssignState, Item, load_state, plan, save_state
from .backend import AnnotationBackend, NewTask, PreparedTask, ProjectSpec
from .pseudonym import load_salt, pseudonym, save_salt
from .team import load_team


@dataclass(frozen=True, kw_only=True)
class PushOptions:
    """Which articles to push, and how (annotations per task: ``[studio] overlap``)."""

    limit: int | None = None
    language: str | None = None
    source: str | None = None
    since: str | None = None
    sample: int | None = None
    seed: int = 0
    prelabel: bool = True


@dataclass(frozen=True)
class PushResult:
    """What a push did."""

    project_id: int
    url: str
    selected: int = 0
    imported: int = 0
    already: int = 0
    reconciled: bool = False
    config_updated: bool = False
    task_ids: dict[str, int] = field(default_factory=dict)
    # with a team (``annotators add``): each annotator's project, their tasks, tasks moved
    projects: dict[int, int] = field(default_factory=dict)  # user id -> project id
    team_tasks: dict[int, dict[str, int]] = field(default_factory=dict)  # user -> article -> task
    moved: int = 0
    overlap: int = 0


def ledger_path(cfg: Config) -> Path:
    """The local ledger of pushed articles."""
    return cfg.state_dir / "studio-ledger.json"


def _ledger_key(url: str, project_id: int) -> str:
    return f"{url.rstrip('/')}#{project_id}"


def load_ledger(cfg: Config, url: str, project_id: int) -> dict[str, int]:
    """article_id -> task_id recorded for this server and project."""
    path = ledger_path(cfg)
    if not path.is_file():
        return {}
    try:
        tasks = orjson.loads(path.read_bytes()).get(_ledger_key(url, project_id), {})
        return {str(k): v for k, v in tasks.items() if isinstance(v, int)}
    except (OSError, ValueError, AttributeError):
        return {}  # a damaged ledger is only a cache: rebuilt from the server


def save_ledger(cfg: Config, url: str, project_id: int, tasks: dict[str, int]) -> None:
    """Write the ledger atomically (other projects' entries kept)."""
    path = ledger_path(cfg)
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
    data[_ledger_key(url, project_id)] = tasks
    atomic_write_text(path, json.dumps(data, separators=(",", ":")) + "\n")


def _date(value: str, what: str) -> datetime:
    """An ISO date or datetime; a naive one is taken as UTC so that any two compare."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{what}: {value!r} is not an ISO date (YYYY-MM-DD)") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def check_options(cfg: Config, opts: PushOptions) -> None:
    """UsageError for a bad option, before anything is sent to the server."""
    for flag, value in (("--limit", opts.limit), ("--sample", opts.sample)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be at least 1, got {value}")
    if opts.since:
        _date(opts.since, "--since")
    if opts.language and opts.language not in cfg.corpus.languages:
        raise UsageError(
            f"--language {opts.language!r}: not one of the corpus's languages "
            f"({', '.join(cfg.corpus.languages)} in {cfg.path})"
        )


def select_articles(articles: Iterable[Article], opts: PushOptions) -> list[Article]:
    """The articles to push: filtered, one per dup_cluster (its first member), sampled, limited."""
    since = _date(opts.since, "--since") if opts.since else None
    seen: set[str] = set()
    chosen: list[Article] = []
    for art in articles:
        if art.dup_cluster in seen:
            continue
        seen.add(art.dup_cluster)  # the cluster's first member stands for it, filtered or not
        if not art.text.strip():
            continue
        if opts.language and art.language != opts.language:
            continue
        if opts.source and art.source != opts.source:
            continue
        if since is not None:
            if not art.published:
                continue
            try:
                pub = _date(art.published, f"article {art.id}: published")
            except UsageError as exc:
                raise DataError(str(exc)) from None
            if pub < since:
                continue
        chosen.append(art)
    if opts.sample is not None:
        pool = sorted(chosen, key=lambda a: a.id)
        chosen = random.Random(opts.seed).sample(pool, min(opts.sample, len(pool)))
    if opts.limit is not None:
        chosen = chosen[: opts.limit]
    return chosen


def project_spec(cfg: Config) -> ProjectSpec:
    """The corpus's project: its title, description and annotations per task."""
    return ProjectSpec(
        title=cfg.corpus.pretty_name,
        description=cfg.corpus.description,
        overlap=cfg.studio.overlap,
    )


def reconcile(backend: AnnotationBackend, project_id: int) -> dict[str, int]:
    """article_id -> task_id as the server has it (the lowest task id wins if doubled)."""
    found: dict[str, int] = {}
    for task_id, aid in backend.task_articles(project_id):
        if aid not in found or task_id < found[aid]:
            found[aid] = task_id
    return found


@writes_corpus("push")
def push(
    cfg: Config,
    *,
    options: PushOptions | None = None,
    backend: AnnotationBackend,
    after_batch: Callable[[int], None] | None = None,
) -> PushResult:
    """Push the selected articles that are not on the server yet; safe to rerun at any point.

    Everything that can be refused (options, every article line, the labeling interface, every
    task and its pre-annotation) is checked before the server is changed: a refused push leaves
    no project behind.
    """
    opts = options or PushOptions()
    check_options(cfg, opts)
    articles = select_articles(iter_articles(cfg), opts)
    team = {u: m.languages for u, m in load_team(cfg, backend.url).items() if m.active}
    if team:
        return _push_team(cfg, opts, articles, team, backend, after_batch)
    spec = project_spec(cfg)
    found = backend.find_project(spec.title)  # read only
    ledger: dict[str, int] = {}
    reconciled = False
    if found is not None:
        ledger = load_ledger(cfg, backend.url, found.id)
        if backend.project(found.id).tasks != len(ledger):
            ledger = reconcile(backend, found.id)
            reconciled = True
    todo = [a for a in articles if a.id not in ledger]
    payload = backend.prepare([NewTask(a, prelabel=opts.prelabel) for a in todo])  # may refuse
    if reconciled and found is not None:
        save_ledger(cfg, backend.url, found.id, ledger)  # a cache of the server's tasks
    project, updated = backend.ensure_project(spec, found)
    pid = project.id
    imported = 0
    size = max(1, cfg.studio.batch_size)
    for n, start in enumerate(range(0, len(todo), size)):
        batch = todo[start : start + size]
        ids = backend.import_tasks(pid, payload[start : start + size])
        ledger.update({a.id: tid for a, tid in zip(batch, ids, strict=True)})
        save_ledger(cfg, backend.url, pid, ledger)
        imported += len(batch)
        if after_batch is not None:
            after_batch(n)
    return PushResult(
        project_id=pid,
        url=backend.url,
        selected=len(articles),
        imported=imported,
        already=len(articles) - len(todo),
        reconciled=reconciled,
        config_updated=updated,
        task_ids={a.id: ledger[a.id] for a in articles if a.id in ledger},
    )


def annotator_spec(cfg: Config, name: str) -> ProjectSpec:
    """The project of one annotator (``name``: their pseudonym): one annotation per task."""
    return ProjectSpec(
        title=f"{cfg.corpus.pretty_name} — {name}",
        description=f"The tasks of {cfg.corpus.pretty_name} assigned to {name}.",
        overlap=1,
    )


def _push_team(
    cfg: Config,
    opts: PushOptions,
    articles: list[Article],
    team: dict[int, tuple[str, ...]],
    backend: AnnotationBackend,
    after_batch: Callable[[int], None] | None,
) -> PushResult:
    """Each cluster to exactly K annotators of the team, each in a project of their own
    (``annotation.assign``); unstarted tasks move when the team changed. Everything that can be
    refused (the plan, every task) is checked before the server is changed."""
    k = cfg.studio.overlap
    url = backend.url
    if k > len(team):
        raise UsageError(
            f"push --overlap {k}: the team has {len(team)} active annotators "
            "(annotators add EMAIL...); nothing was changed"
        )
    state = load_state(cfg, url)
    projects = state.project_of()
    held: dict[int, dict[str, int]] = {}
    current: dict[str, set[int]] = {}
    started: dict[str, set[int]] = {}
    stale: list[int] = []
    for uid, pid in projects.items():
        ledger = load_ledger(cfg, url, pid)
        if backend.project(pid).tasks != len(ledger):
            ledger = reconcile(backend, pid)
            stale.append(uid)
        held[uid] = ledger
        begun = backend.started_tasks(pid)
        for aid, tid in ledger.items():
            current.setdefault(aid, set()).add(uid)
            if tid in begun:
                started.setdefault(aid, set()).add(uid)
    joined = bool(state.team) and bool(set(team) - set(state.team))
    items = [Item(a.id, a.language) for a in articles]
    target = plan(items, team, k=k, seed=opts.seed, current=current, started=started, joined=joined)
    by_id = {a.id: a for a in articles}
    wanted = sorted(
        {a for a, users in target.items() if any(a not in held.get(u, {}) for u in users)}
    )
    prepared = backend.prepare([NewTask(by_id[a], prelabel=opts.prelabel) for a in wanted])
    payload: dict[str, PreparedTask] = dict(zip(wanted, prepared, strict=True))
    salt, fresh = load_salt(cfg)
    if fresh:
        save_salt(cfg, salt)
    for uid in stale:
        save_ledger(cfg, url, projects[uid], held[uid])  # a cache of the server's tasks
    imported = 0
    n = 0
    size = max(1, cfg.studio.batch_size)
    for uid in sorted(team):
        spec = annotator_spec(cfg, pseudonym(salt, url, uid))
        known = projects.get(uid)
        found = backend.project(known) if known is not None else backend.find_project(spec.title)
        project, _ = backend.ensure_project(spec, found)
        if known != project.id:
            projects[uid] = project.id
            save_state(cfg, url, AssignState(team=state.team, projects=projects))
        if uid not in held:  # a new project, or one found by its title (the state was lost)
            held[uid] = reconcile(backend, project.id) if found is not None else {}
        ledger = held[uid]
        todo = [a for a in articles if uid in target[a.id] and a.id not in ledger]
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            ids = backend.import_tasks(project.id, [payload[a.id] for a in batch])
            ledger.update({a.id: tid for a, tid in zip(batch, ids, strict=True)})
            save_ledger(cfg, url, project.id, ledger)
            imported += len(batch)
            if after_batch is not None:
                after_batch(n)
            n += 1
    moved = 0
    for uid, ledger in held.items():  # after the imports: a cluster never has fewer than K
        gone = [a for a in ledger if a in target and uid not in target[a]]
        if gone:
            backend.delete_tasks(projects[uid], [ledger[a] for a in gone])
            for a in gone:
                del ledger[a]
            save_ledger(cfg, url, projects[uid], ledger)
            moved += len(gone)
    save_state(cfg, url, AssignState(team=tuple(sorted(team)), projects=projects))
    return PushResult(
        project_id=0,
        url=url,
        selected=len(articles),
        imported=imported,
        already=len(articles) - len(wanted),
        reconciled=bool(stale),
        projects=dict(projects),
        team_tasks={u: dict(t) for u, t in held.items()},
        moved=moved,
        overlap=k,
    )
