"""`newscorpus pull`: Label Studio annotations -> annotation records, losslessly.

Every version pulled is kept (the record id holds the annotation id and its ``updated_at``, so
pulling the same version again appends nothing); an annotation gone from the server gets a new
record with ``deleted=True``; drafts are ignored; skipped (cancelled) annotations are kept as such.
Annotators are pseudonymised; nothing is written unless every task and annotation is valid.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import Config
from ..corpus import iter_annotations
from ..errors import DataError, StudioError
from ..records import Annotation, utcnow
from ..store import atomic_write_text
from .client import StudioClient, connect
from .labeling import (
    RELATION,
    Interface,
    expected_interface,
    parse_interface,
    py_offset,
    stance_name,
)
from .pseudonym import load_salt, pseudonym, save_salt, server_key

ANNOTATIONS_FILE = "labelstudio"
PAGE = 500
EXPORT_SERVER = "export"


@dataclass
class PullReport:
    """What a pull did."""

    tasks: int = 0
    annotations: int = 0
    new_versions: int = 0
    deleted: int = 0
    cancelled: int = 0
    drafts_ignored: int = 0
    project_id: int | None = None


def _user_id(ann: dict[str, Any], where: str) -> int | str:
    who = ann.get("completed_by")
    if isinstance(who, dict):
        who = who.get("id")
    if not isinstance(who, (int, str)) or isinstance(who, bool) or who == "":
        raise DataError(f"{where}: completed_by: missing user id")
    return who


def _choice(item: dict[str, Any]) -> str | None:
    chosen = item["value"].get("choices") or []
    return str(chosen[0]) if chosen else None


def normalize(
    cfg: Config,
    task: dict[str, Any],
    ann: dict[str, Any],
    iface: Interface,
    annotator: str,
    server: str,
    project_id: int | None,
    where: str,
) -> Annotation:
    """One Label Studio annotation of one task as an annotation record (checked)."""
    data = task.get("data")
    if not isinstance(data, dict):
        raise DataError(f"{where}: task without a data object")
    text, article_id = data.get("text"), data.get("article_id")
    if not isinstance(text, str) or not isinstance(article_id, str):
        raise DataError(f"{where}: task data lacks text or article_id")
    result = ann.get("result") or []
    if not isinstance(result, list) or not all(isinstance(x, dict) for x in result):
        raise DataError(f"{where}: result must be a list of objects")
    iface.check(result, text, where)
    stance: dict[str, str | None] = {t.id: None for t in cfg.targets}
    by_name = {stance_name(t.id): t.id for t in cfg.targets}
    spans: dict[str, dict[str, Any]] = {}
    attrs: dict[str, dict[str, str | None]] = {}
    relations: list[tuple[str, str]] = []
    for item in result:
        kind, name = item.get("type"), item.get("from_name")
        if kind == "relation":
            if RELATION in (item.get("labels") or []):
                relations.append((str(item.get("from_id")), str(item.get("to_id"))))
            continue
        if kind == "choices" and name in by_name:
            stance[by_name[name]] = _choice(item)
        elif kind == "choices" and name in ("checkworthy", "claim_type") and item.get("id"):
            attrs.setdefault(str(item["id"]), {})[str(name)] = _choice(item)
        elif kind == "labels" and name == "spans":
            v = item["value"]
            start, end = py_offset(text, v["start"]), py_offset(text, v["end"])
            piece = text[start:end]
            if "text" in v and v["text"] != piece:
                raise DataError(
                    f"{where}: span {v['start']}-{v['end']}: text {v['text']!r} "
                    f"does not match the task text {piece!r}"
                )
            labels = v.get("labels") or []
            if len(labels) != 1:
                raise DataError(f"{where}: span {v['start']}-{v['end']}: expected one label")
            rid = str(item.get("id") or f"r{len(spans)}")
            spans[rid] = {"id": rid, "start": start, "end": end, "label": labels[0], "text": piece}
    for rid, extra in attrs.items():
        if rid in spans:
            spans[rid].update(extra)
    for a, b in relations:
        if a in spans and b in spans:
            speaker, said = (a, b) if spans[a]["label"] == "Speaker" else (b, a)
            if spans[speaker]["label"] == "Speaker":
                spans[said]["speaker"] = speaker
    ann_id = ann.get("id")
    if not isinstance(ann_id, int):
        raise DataError(f"{where}: annotation without an integer id")
    updated = ann.get("updated_at") or ann.get("created_at")
    return Annotation(
        id=f"ls:{server}:{ann_id}:{updated}",
        kind="annotation",
        article_id=article_id,
        annotator=annotator,
        stance=stance,
        spans=sorted(spans.values(), key=lambda s: (s["start"], s["end"], s["label"])),
        task_id=task.get("id") if isinstance(task.get("id"), int) else None,
        annotation_id=ann_id,
        created_at=ann.get("created_at"),
        updated_at=updated,
        cancelled=bool(ann.get("was_cancelled")),
        extra={"source": "labelstudio", "server": server, "project": project_id},
    )


def normalize_tasks(
    cfg: Config,
    tasks: Iterable[Any],
    iface: Interface,
    server_url: str,
    project_id: int | None,
    origin: str,
    report: PullReport,
    salt: bytes,
) -> list[Annotation]:
    """Every annotation of every task, normalised; DataError names the first bad one."""
    server = EXPORT_SERVER if server_url == EXPORT_SERVER else server_key(server_url)
    pulled_at = utcnow()
    records: list[Annotation] = []
    for i, task in enumerate(tasks):
        if not isinstance(task, dict):
            raise DataError(f"{origin}: task #{i}: expected an object")
        tid = task.get("id", f"#{i}")
        anns = task.get("annotations", [])
        if not isinstance(anns, list):
            raise DataError(f"{origin}: task {tid}: annotations must be a list")
        report.tasks += 1
        report.drafts_ignored += len(task.get("drafts") or [])
        for ann in anns:
            if not isinstance(ann, dict):
                raise DataError(f"{origin}: task {tid}: annotation is not an object")
            where = f"{origin}: task {tid} annotation {ann.get('id')}"
            user = _user_id(ann, where)
            rec = normalize(
                cfg, task, ann, iface, pseudonym(salt, server_url, user), server, project_id, where
            )
            rec.pulled_at = pulled_at
            records.append(rec)
            report.annotations += 1
            report.cancelled += rec.cancelled
    return records


def _known(
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


def _store(
    cfg: Config,
    records: list[Annotation],
    report: PullReport,
    deletions: list[Annotation],
    salt: tuple[bytes, bool],
) -> None:
    from ..corpus import add_annotations

    fresh = records + deletions
    report.new_versions = len(records)
    report.deleted = len(deletions)
    if fresh:
        if salt[1]:
            save_salt(cfg, salt[0])
        add_annotations(cfg, fresh, ANNOTATIONS_FILE)


def state_path(cfg: Config) -> Path:
    """What the last pull saw: task id -> updated_at, per server and project (a cache)."""
    return cfg.state_dir / "studio-pull.json"


def _load_state(cfg: Config, key: str) -> dict[str, str]:
    try:
        data = json.loads(state_path(cfg).read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in data.get(key, {}).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _save_state(cfg: Config, key: str, seen: dict[str, str]) -> None:
    path = state_path(cfg)
    data: dict[str, Any] = {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data[key] = seen
    atomic_write_text(path, json.dumps(data, separators=(",", ":")) + "\n")


def pull(cfg: Config, client: StudioClient | None = None, full: bool = False) -> PullReport:
    """Pull the annotations of the corpus's project; append new versions, mark deletions.

    Lists every task's id and updated_at (fast), then fetches only the tasks changed since the
    last pull (all of them with ``full``), a page of ids at a time, in the standard export format.
    """
    client = client or connect(cfg)
    title = cfg.corpus.pretty_name
    project = client.find_project(title)
    if project is None:
        raise StudioError(
            f"{client.url}: no project titled {title!r} (run `newscorpus push`); nothing was changed"
        )
    pid = int(project["id"])
    iface = parse_interface(project["label_config"])
    report = PullReport(project_id=pid)
    salt = load_salt(cfg)
    origin = f"{client.url} project {pid}"
    key = f"{client.url}#{pid}"
    before = {} if full else _load_state(cfg, key)
    listing = {
        str(t["id"]): str(t.get("updated_at"))
        for t in client.iter_tasks(pid, full=False, page_size=1000, include="id,updated_at")
    }
    changed = [int(t) for t, stamp in listing.items() if before.get(t) != stamp]
    tasks: list[dict[str, Any]] = []
    for i in range(0, len(changed), PAGE):
        tasks.extend(client.export_tasks(pid, changed[i : i + PAGE]))
    records = normalize_tasks(cfg, tasks, iface, client.url, pid, origin, report, salt[0])
    server = server_key(client.url)
    ids, latest = _known(cfg, server, pid)
    fetched = {int(t) for t in changed}
    present = {r.annotation_id for r in records}
    present |= {
        aid
        for aid, rec in latest.items()
        if rec.task_id is not None and str(rec.task_id) in listing and rec.task_id not in fetched
    }
    new = [r for r in records if r.id not in ids]
    now = utcnow()
    deletions = [
        replace(prev, id=f"{prev.id}:deleted", deleted=True, pulled_at=now, extra=dict(prev.extra))
        for aid, prev in latest.items()
        if aid not in present and not prev.deleted
    ]
    _store(cfg, new, report, deletions, salt)
    _save_state(cfg, key, listing)
    return report


def read_export(path: Path) -> list[Any]:
    """The task list of a Label Studio JSON export; DataError when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc.__class__.__name__}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: not a Label Studio JSON export (expected a list of tasks)")
    return data


def pull_export(cfg: Config, path: Path) -> PullReport:
    """Read a standard Label Studio JSON export file instead of the server."""
    tasks = read_export(path)
    report = PullReport()
    salt = load_salt(cfg)
    iface = expected_interface(cfg)
    records = normalize_tasks(cfg, tasks, iface, EXPORT_SERVER, None, str(path), report, salt[0])
    ids, _ = _known(cfg, EXPORT_SERVER, None)
    _store(cfg, [r for r in records if r.id not in ids], report, [], salt)
    return report
