"""`newscorpus pull`: Label Studio annotations -> annotation records, losslessly.

Every version pulled is kept (the record id holds the annotation id and its ``updated_at``, so
pulling the same version again appends nothing); an annotation gone from the server gets a new
record with ``deleted=True``; drafts are ignored; skipped (cancelled) annotations are kept as such.
Annotators are pseudonymised; nothing is written unless every task and annotation is valid.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import orjson

from ..config import Config
from ..corpus import iter_annotations, iter_articles
from ..errors import DataError, StudioError
from ..lock import writes_corpus
from ..records import Annotation, utcnow
from ..store import append_jsonl, atomic_write_text, check_record
from .client import StudioClient, connect, parse_json
from .labeling import (
    Interface,
    expected_interface,
    parse_interface,
    py_offset,
    stance_name,
)
from .pseudonym import load_salt, pseudonym, save_salt, server_key

ANNOTATIONS_FILE = "annotations"
PAGE = 500  # consecutive task ids per request (asked as a range)
LIST_PAGE = 200  # scattered task ids per request (listed in the URL: kept short for proxies)
EXPORT_SERVER = "export"
FIRST_UNKNOWN = 3  # unknown articles named in the error of an export of another corpus
MAX_ID = 2**63 - 1  # Label Studio's ids are 64-bit; the release tables store them as int64


@dataclass
class PullReport:
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
    relations: list[tuple[str, str, list[str]]] = []
    for item in result:
        kind, name = item.get("type"), item.get("from_name")
        if kind == "relation":  # labelled `said` or not: the labels are checked by iface.check
            labels = [str(x) for x in item.get("labels") or []]
            relations.append((str(item.get("from_id")), str(item.get("to_id")), labels))
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
    kept = _link_speakers(spans, relations)
    ann_id = ann.get("id")
    if not isinstance(ann_id, int) or isinstance(ann_id, bool):
        raise DataError(f"{where}: annotation without an integer id")
    if not 0 < ann_id <= MAX_ID:
        raise DataError(f"{where}: annotation id out of range (1 to 2^63-1)")
    task_id = task.get("id")
    if isinstance(task_id, int) and not 0 < task_id <= MAX_ID:
        raise DataError(f"{where}: task id {task_id} out of range (1 to 2^63-1)")
    updated = ann.get("updated_at") or ann.get("created_at")
    if not isinstance(ann.get("was_cancelled") or False, bool):
        raise DataError(f"{where}: was_cancelled must be true or false")
    return Annotation(
        id=f"ls:{server}:{ann_id}:{updated}",
        kind="annotation",
        article_id=article_id,
        annotator=annotator,
        stance=stance,
        spans=sorted(spans.values(), key=lambda s: (s["start"], s["end"], s["label"])),
        task_id=task_id if isinstance(task_id, int) and not isinstance(task_id, bool) else None,
        annotation_id=ann_id,
        created_at=ann.get("created_at"),
        updated_at=updated,
        cancelled=bool(ann.get("was_cancelled")),
        extra={
            "source": "labelstudio",
            "server": server,
            "project": project_id,
            **({"relations": kept} if kept else {}),
        },
    )


def _link_speakers(
    spans: dict[str, dict[str, Any]], relations: list[tuple[str, str, list[str]]]
) -> list[dict[str, Any]]:
    """Set each Claim's or Quote's ``speaker`` from a relation between it and a Speaker, drawn
    either way, labelled or not; every other relation is returned, to be kept in the record."""
    kept = []
    for a, b, labels in relations:
        ends = {spans[x]["label"]: x for x in (a, b) if x in spans}
        said = ends.get("Claim") or ends.get("Quote")
        speaker = ends.get("Speaker")
        if len(ends) == 2 and said and speaker and "speaker" not in spans[said]:
            spans[said]["speaker"] = speaker
        else:  # a missing end, Speaker to Speaker, Claim to Quote, a second speaker
            kept.append({"from_id": a, "to_id": b, "labels": labels})
    return kept


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
        drafts = task.get("drafts") or []
        if not isinstance(drafts, list):
            raise DataError(f"{origin}: task {tid}: drafts must be a list")
        report.drafts_ignored += len(drafts)
        for ann in anns:
            if not isinstance(ann, dict):
                raise DataError(f"{origin}: task {tid}: annotation is not an object")
            where = f"{origin}: task {tid} annotation {ann.get('id')}"
            user = _user_id(ann, where)
            rec = normalize(
                cfg, task, ann, iface, pseudonym(salt, server_url, user), server, project_id, where
            )
            rec.pulled_at = pulled_at
            check_record("annotation", _as_dict(rec), where)  # here, while the next page downloads
            records.append(rec)
            report.annotations += 1
            report.cancelled += rec.cancelled
            report.relations_kept += len(rec.extra.get("relations", ()))
    return records


def _as_dict(rec: Annotation) -> dict[str, Any]:
    """``rec.to_dict()`` without the deep copy (the record is not changed afterwards)."""
    d = {f.name: getattr(rec, f.name) for f in fields(rec)}
    d.update(d.pop("extra"))
    return d


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
    """Append the new versions (checked by normalize_tasks) and deletion marks in one write."""
    for rec in deletions:
        check_record("annotation", _as_dict(rec), f"annotation {rec.id}")
    fresh = records + deletions
    report.new_versions = len(records)
    report.deleted = len(deletions)
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


def _chunks(ids: list[int]) -> list[list[int]]:
    """Pages of task ids, in order: a run of consecutive ids (up to PAGE), else up to LIST_PAGE."""
    ids = sorted(set(ids))
    chunks = []
    i = 0
    while i < len(ids):
        j = i + 1
        while j < len(ids) and j - i < PAGE and ids[j] == ids[j - 1] + 1:
            j += 1
        if j - i < LIST_PAGE:  # not a long run: a list of scattered ids
            j = min(i + LIST_PAGE, len(ids))
        chunks.append(ids[i:j])
        i = j
    return chunks


def _annotated(client: StudioClient, pid: int, ids: list[int]) -> list[dict[str, Any]]:
    """The tasks of ``ids`` that have annotations, each with its list of drafts (all authors)."""
    tasks = [t for t in client.read_tasks(pid, ids) if t.get("annotations")]
    for task in tasks:
        task["drafts"] = client.task_drafts(int(task["id"])) if task.get("draft_exists") else []
    return tasks


def _prefetched(
    client: StudioClient, pid: int, ids: list[int], stamps: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """The annotated tasks of ``ids``, a page at a time; the next page downloads while this one
    is read. Nothing is written on the server (the export would leave files there)."""
    chunks = _chunks(ids)
    if not chunks:
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_annotated, client, pid, chunks[0])
        for nxt in [*chunks[1:], None]:
            page = pending.result()
            if nxt is not None:
                pending = pool.submit(_annotated, client, pid, nxt)
            for task in page:
                if stamps is not None:
                    stamps.append(str(task.get("updated_at") or ""))
                yield task


def _all_task_ids(client: StudioClient, pid: int) -> list[int]:
    """Every task id of the project: consecutive id ranges when dense (no listing), else listed."""
    span = client.task_id_range(pid)
    if span is None:
        return []
    total, low, high = span
    if high - low + 1 <= 2 * total + PAGE:
        return list(range(low, high + 1))  # ids of other projects in the range are ignored
    return [int(t["id"]) for t in client.iter_tasks(pid, full=False, page_size=1000, include="id")]


def _changed_task_ids(client: StudioClient, pid: int, watermark: str) -> tuple[list[int], str]:
    """Tasks changed since ``watermark`` (their updated_at), newest first; the new watermark."""
    changed: list[int] = []
    newest = watermark
    for task in client.iter_recent_tasks(pid):
        stamp = str(task.get("updated_at") or "")
        if stamp < watermark:
            break
        changed.append(int(task["id"]))
        newest = max(newest, stamp)
    return changed, newest


@writes_corpus("pull")
def pull(cfg: Config, client: StudioClient | None = None, full: bool = False) -> PullReport:
    """Pull the annotations of the corpus's project; append new versions, mark deletions.

    Reads tasks a page of ids at a time from the Data Manager's task list (never the export,
    which leaves files on the server): only the tasks changed since the last pull when the
    server's counts agree with what is known, else all of them.
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
    server = server_key(client.url)
    ids, latest = _known(cfg, server, pid)
    live_known = {aid: rec for aid, rec in latest.items() if not rec.deleted}
    state = {} if full else _load_state(cfg, key)
    records: list[Annotation] = []
    present: set[int | None] = set()
    incremental = False
    if state.get("watermark"):
        counts = client.project(pid)
        on_server = int(counts.get("total_annotations_number") or 0) + int(
            counts.get("skipped_annotations_number") or 0
        )
        changed, watermark = _changed_task_ids(client, pid, str(state["watermark"]))
        records = normalize_tasks(
            cfg, _prefetched(client, pid, changed), iface, client.url, pid, origin, report, salt[0]
        )
        fetched = set(changed)
        present = {r.annotation_id for r in records}
        present |= {a for a, rec in live_known.items() if rec.task_id not in fetched}
        incremental = len(present) == on_server  # else a task was deleted: look at all of them
    if not incremental:
        report = PullReport(project_id=pid)
        stamps: list[str] = []
        tasks = _prefetched(client, pid, _all_task_ids(client, pid), stamps)
        records = normalize_tasks(cfg, tasks, iface, client.url, pid, origin, report, salt[0])
        present = {r.annotation_id for r in records}
        watermark = max([str(state.get("watermark") or ""), *stamps])
    check_known_articles(cfg, records, f"{client.url} project {pid} ({title!r})")
    new = [r for r in records if r.id not in ids]
    now = utcnow()
    deletions = [
        replace(prev, id=f"{prev.id}:deleted", deleted=True, pulled_at=now, extra=dict(prev.extra))
        for aid, prev in live_known.items()
        if aid not in present
    ]
    report.incremental = incremental
    _store(cfg, new, report, deletions, salt)
    _save_state(cfg, key, {"watermark": watermark})
    return report


def _article_ids(cfg: Config) -> set[str]:
    return {art.id for art in iter_articles(cfg)}


def _first(items: list[str]) -> str:
    """The first few of a list, for a one-line error."""
    return ", ".join(items[:FIRST_UNKNOWN]) + (", ..." if len(items) > FIRST_UNKNOWN else "")


def check_known_articles(cfg: Config, records: list[Annotation], where: str) -> None:
    """StudioError when pulled annotations are of articles this corpus does not have.

    The project is found by its title: another corpus with the same pretty_name on the same
    server would otherwise pour its annotations into this one.
    """
    known = _article_ids(cfg)
    unknown = sorted({r.article_id for r in records if r.article_id not in known})
    if unknown:
        raise StudioError(
            f"{where}: annotations of {len(unknown)} articles not in {cfg.articles_dir} "
            f"(first: {_first([repr(a) for a in unknown])}); the project of another corpus "
            "with the same pretty_name? nothing was changed"
        )


def read_export(path: Path) -> list[Any]:
    """The task list of a Label Studio JSON export; DataError when it is not one.

    Strict JSON: NaN, Infinity and lists or objects nested deeper than an export ever is are
    refused (with the line and column), never a traceback.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    data = parse_json(raw, str(path), DataError)
    if not isinstance(data, list):
        raise DataError(f"{path}: not a Label Studio JSON export (expected a list of tasks)")
    return data


def check_export_articles(cfg: Config, tasks: list[Any], path: Path) -> None:
    """DataError when tasks of the export refer to articles that are not in this corpus.

    An export of another corpus's project (or of articles since removed from ``articles/``)
    would store annotations of articles the corpus does not have. Tasks without a string
    ``data.article_id`` are left to ``normalize_tasks``, which names them.
    """
    known = _article_ids(cfg)
    unknown: list[str] = []
    for i, task in enumerate(tasks):
        data = task.get("data") if isinstance(task, dict) else None
        aid = data.get("article_id") if isinstance(data, dict) else None
        if isinstance(aid, str) and aid not in known:
            unknown.append(f"task {task.get('id', f'#{i}')} article_id {aid!r}")
    if unknown:
        raise DataError(
            f"{path}: {len(unknown)} of {len(tasks)} tasks refer to articles not in "
            f"{cfg.articles_dir} (first: {_first(unknown)}); an export of another corpus's "
            "project? nothing was changed"
        )


@writes_corpus("pull")
def pull_export(cfg: Config, path: Path) -> PullReport:
    """Read a standard Label Studio JSON export file instead of the server.

    Refused (DataError, nothing written) when any task refers to an article not in the corpus.
    """
    tasks = read_export(path)
    check_export_articles(cfg, tasks, path)
    report = PullReport()
    salt = load_salt(cfg)
    iface = expected_interface(cfg)
    records = normalize_tasks(cfg, tasks, iface, EXPORT_SERVER, None, str(path), report, salt[0])
    ids, _ = _known(cfg, EXPORT_SERVER, None)
    new = {r.id: r for r in records if r.id not in ids}  # a task listed twice is stored once
    _store(cfg, list(new.values()), report, [], salt)
    return report
