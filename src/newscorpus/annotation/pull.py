"""`newscorpus pull`: annotations on the server -> annotation records, losslessly.

Every version pulled is kept (the record id holds the annotation id and its ``updated_at``, so
pulling the same version again appends nothing); an annotation gone from the server gets a new
record with ``deleted=True``; drafts are ignored; skipped (cancelled) annotations are kept as such.
Annotators are pseudonymised; nothing is written unless every task and annotation is valid, nor
when annotations are of articles the corpus does not have (the project of another corpus).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import orjson

from ..config import Config
from ..corpus import iter_annotations, iter_articles
from ..errors import StudioError
from ..layers import CHOICES
from ..lock import writes_corpus
from ..records import Annotation, utcnow
from ..store import append_jsonl, atomic_write_text, check_record
from .assign import load_state as load_assign_state
from .backend import AnnotationBackend, Project, Task
from .pseudonym import load_salt, pseudonym, save_salt, server_key

ANNOTATIONS_FILE = "annotations"
EXPORT_SERVER = "export"
FIRST_UNKNOWN = 3  # unknown articles named in the error of an export of another corpus


@dataclass(frozen=True)
class PullResult:
    """What a pull did."""

    tasks: int = 0
    annotations: int = 0
    new_versions: int = 0
    deleted: int = 0
    cancelled: int = 0
    drafts_ignored: int = 0
    relations_kept: int = 0  # relations that are not a speaker link, kept in their records
    project_id: int | None = None
    incremental: bool = False  # only tasks changed since the last pull were fetched


@dataclass(frozen=True, kw_only=True)
class Origin:
    """Where pulled tasks come from: names the records' ids, annotators and ``extra``."""

    source: str  # the backend ("labelstudio")
    prefix: str  # of the record ids ("ls")
    server_url: str  # keys the pseudonyms (EXPORT_SERVER for an export file)
    project_id: int | None
    where: str  # names the server's project or the export file in errors


@dataclass
class Counts:
    """What ``to_records`` saw, counted as it goes."""

    tasks: int = 0
    annotations: int = 0
    cancelled: int = 0
    drafts_ignored: int = 0
    relations_kept: int = 0


def to_records(
    tasks: Iterable[Task], origin: Origin, salt: bytes, counts: Counts | None = None
) -> list[Annotation]:
    """Every annotation of every task as a checked annotation record (DataError names the
    first bad one)."""
    counts = counts if counts is not None else Counts()
    url = origin.server_url
    server = EXPORT_SERVER if url == EXPORT_SERVER else server_key(url)
    pulled_at = utcnow()
    records: list[Annotation] = []
    for i, task in enumerate(tasks):
        counts.tasks += 1
        counts.drafts_ignored += task.drafts
        for ann in task.annotations:
            kept = ann.relations
            rec = Annotation(
                id=f"{origin.prefix}:{server}:{ann.id}:{ann.updated_at}",
                kind="annotation",
                article_id=str(task.article_id),
                annotator=pseudonym(salt, url, ann.user),
                stance=ann.stance,
                spans=ann.spans,
                task_id=task.id,
                annotation_id=ann.id,
                created_at=ann.created_at,
                updated_at=ann.updated_at,
                cancelled=ann.cancelled,
                extra={
                    "source": origin.source,
                    "server": server,
                    "project": origin.project_id,
                    **({"relations": kept} if kept else {}),
                    **({CHOICES: ann.choices} if ann.choices is not None else {}),
                },
            )
            rec.pulled_at = pulled_at
            tid = task.id if task.id is not None else f"#{i}"
            where = f"{origin.where}: task {tid} annotation {ann.id}"
            check_record("annotation", _as_dict(rec), where)  # while the next page downloads
            records.append(rec)
            counts.annotations += 1
            counts.cancelled += rec.cancelled
            counts.relations_kept += len(kept)
    return records


def _as_dict(rec: Annotation) -> dict[str, Any]:
    """``rec.to_dict()`` without the deep copy (the record is not changed afterwards)."""
    d = {f.name: getattr(rec, f.name) for f in fields(rec)}
    d.update(d.pop("extra"))
    return d


def known_records(
    cfg: Config, server: str, project_id: int | None
) -> tuple[set[str], dict[int, Annotation]]:
    """Record ids already stored, and the latest stored version of each annotation of a project."""
    ids: set[str] = set()
    latest: dict[int, Annotation] = {}
    for rec in iter_annotations(cfg):
        ids.add(rec.id)
        if rec.extra.get("server") != server or rec.extra.get("project") != project_id:
            continue
        if rec.annotation_id is None:
            continue
        prev = latest.get(rec.annotation_id)
        if prev is None or (rec.deleted, rec.pulled_at) >= (prev.deleted, prev.pulled_at):
            latest[rec.annotation_id] = rec
    return ids, latest


def store_records(
    cfg: Config, records: list[Annotation], deletions: list[Annotation], salt: tuple[bytes, bool]
) -> None:
    """Append the new versions (checked by to_records) and deletion marks in one write."""
    for rec in deletions:
        check_record("annotation", _as_dict(rec), f"annotation {rec.id}")
    fresh = records + deletions
    if fresh:
        if salt[1]:
            save_salt(cfg, salt[0])
        append_jsonl(cfg.annotations_dir / f"{ANNOTATIONS_FILE}.jsonl", map(_as_dict, fresh))


def state_path(cfg: Config) -> Path:
    """What the last pull saw, per server and project: a cache that only makes pulls faster."""
    return cfg.state_dir / "studio-pull.json"


def _load_state(cfg: Config, key: str) -> dict[str, Any]:
    try:
        data = orjson.loads(state_path(cfg).read_bytes())
        state = data.get(key, {})
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}


def _save_state(cfg: Config, key: str, state: dict[str, Any]) -> None:
    path = state_path(cfg)
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    data[key] = state
    atomic_write_text(path, json.dumps(data, separators=(",", ":")) + "\n")


def result_of(counts: Counts, **kw: Any) -> PullResult:
    return PullResult(
        tasks=counts.tasks,
        annotations=counts.annotations,
        cancelled=counts.cancelled,
        drafts_ignored=counts.drafts_ignored,
        relations_kept=counts.relations_kept,
        **kw,
    )


def _stamped(tasks: Iterable[Task], stamps: list[str]) -> Iterator[Task]:
    """The tasks, each one's ``updated_at`` noted in ``stamps`` as it goes by."""
    for task in tasks:
        stamps.append(task.updated_at)
        yield task


def server_origin(backend: AnnotationBackend, project_id: int) -> Origin:
    """The origin of the records pulled from one project of a backend."""
    return Origin(
        source=backend.source,
        prefix=backend.record_prefix,
        server_url=backend.url,
        project_id=project_id,
        where=f"{backend.url} project {project_id}",
    )


def known_by_project(
    cfg: Config, server: str
) -> tuple[set[str], dict[int | None, dict[int, Annotation]]]:
    """Record ids already stored, and per project of a server the latest stored version of
    each annotation (one read of the annotation files for every project)."""
    ids: set[str] = set()
    latest: dict[int | None, dict[int, Annotation]] = {}
    for rec in iter_annotations(cfg):
        ids.add(rec.id)
        if rec.extra.get("server") != server or rec.annotation_id is None:
            continue
        project = rec.extra.get("project")
        mine = latest.setdefault(project if isinstance(project, int) else None, {})
        prev = mine.get(rec.annotation_id)
        if prev is None or (rec.deleted, rec.pulled_at) >= (prev.deleted, prev.pulled_at):
            mine[rec.annotation_id] = rec
    return ids, latest


@dataclass
class _Pulled:
    """What one project gave: new records, deletion marks, its watermark and its counts."""

    records: list[Annotation]
    deletions: list[Annotation]
    watermark: str
    counts: Counts
    incremental: bool


def _pull_project(
    cfg: Config,
    backend: AnnotationBackend,
    project: Project,
    salt: bytes,
    latest: dict[int, Annotation],
    full: bool,
) -> _Pulled:
    """Every annotation of one project as records; the deletion marks of those gone."""
    pid = project.id
    origin = server_origin(backend, pid)
    live_known = {aid: rec for aid, rec in latest.items() if not rec.deleted}
    state = {} if full else _load_state(cfg, f"{backend.url}#{pid}")
    records: list[Annotation] = []
    present: set[int | None] = set()
    counts = Counts()
    incremental = False
    watermark = ""
    if state.get("watermark"):
        on_server = backend.project(pid).annotations
        watermark = str(state["watermark"])
        changed: list[int] = []
        for stamp in backend.changed_tasks(pid, watermark):
            changed.append(stamp.id)
            watermark = max(watermark, stamp.updated_at)
        records = to_records(backend.read_tasks(project, changed), origin, salt, counts)
        fetched = set(changed)
        present = {r.annotation_id for r in records}
        present |= {a for a, rec in live_known.items() if rec.task_id not in fetched}
        incremental = len(present) == on_server  # else a task was deleted: look at all of them
    if not incremental:
        counts = Counts()
        stamps: list[str] = []
        tasks = _stamped(backend.read_tasks(project, backend.task_ids(pid)), stamps)
        records = to_records(tasks, origin, salt, counts)
        present = {r.annotation_id for r in records}
        watermark = max([str(state.get("watermark") or ""), *stamps])
    now = utcnow()
    deletions = [
        replace(prev, id=f"{prev.id}:deleted", deleted=True, pulled_at=now, extra=dict(prev.extra))
        for aid, prev in live_known.items()
        if aid not in present
    ]
    return _Pulled(records, deletions, watermark, counts, incremental)


def corpus_projects(cfg: Config, backend: AnnotationBackend) -> list[Project]:
    """The corpus's projects on the server: the one titled by its pretty_name, and the
    annotators' own projects that push made for its team (``annotation.assign``)."""
    found = backend.find_project(cfg.corpus.pretty_name)
    projects = [found] if found is not None else []
    for pid in sorted(set(load_assign_state(cfg, backend.url).project_of().values())):
        if found is None or pid != found.id:
            projects.append(backend.project(pid))
    return projects


@writes_corpus("pull")
def pull(cfg: Config, *, backend: AnnotationBackend, full: bool = False) -> PullResult:
    """Pull the annotations of the corpus's projects; append new versions, mark deletions.

    Per project, only the tasks changed since the last pull are read when the server's count
    of annotations agrees with what is known, else all of them; nothing is written on the
    server, and nothing on disk unless every project was read.
    """
    title = cfg.corpus.pretty_name
    projects = corpus_projects(cfg, backend)
    if not projects:
        raise StudioError(
            f"{backend.url}: no project titled {title!r} (run `newscorpus push`); nothing was changed"
        )
    salt = load_salt(cfg)
    ids, latest = known_by_project(cfg, server_key(backend.url))
    pulled = [_pull_project(cfg, backend, p, salt[0], latest.get(p.id, {}), full) for p in projects]
    records = [r for one in pulled for r in one.records]
    names = ", ".join(str(p.id) for p in projects)
    check_known_articles(cfg, records, f"{backend.url} project {names} ({title!r})")
    new = [r for r in records if r.id not in ids]
    deletions = [d for one in pulled for d in one.deletions]
    store_records(cfg, new, deletions, salt)
    for p, one in zip(projects, pulled, strict=True):
        _save_state(cfg, f"{backend.url}#{p.id}", {"watermark": one.watermark})
    total = Counts()
    for one in pulled:
        for f in fields(Counts):
            setattr(total, f.name, getattr(total, f.name) + getattr(one.counts, f.name))
    return result_of(
        total,
        new_versions=len(new),
        deleted=len(deletions),
        project_id=projects[0].id,
        incremental=all(one.incremental for one in pulled),
    )


def article_ids(cfg: Config) -> set[str]:
    return {art.id for art in iter_articles(cfg)}


def first_few(items: list[str]) -> str:
    """The first few of a list, for a one-line error."""
    return ", ".join(items[:FIRST_UNKNOWN]) + (", ..." if len(items) > FIRST_UNKNOWN else "")


def check_known_articles(cfg: Config, records: list[Annotation], where: str) -> None:
    """StudioError when pulled annotations are of articles this corpus does not have.

    The project is found by its title: another corpus with the same pretty_name on the same
    server would otherwise pour its annotations into this one.
    """
    known = article_ids(cfg)
    unknown = sorted({r.article_id for r in records if r.article_id not in known})
    if unknown:
        raise StudioError(
            f"{where}: annotations of {len(unknown)} articles not in {cfg.articles_dir} "
            f"(first: {first_few([repr(a) for a in unknown])}); the project of another corpus "
            "with the same pretty_name? nothing was changed"
        )
