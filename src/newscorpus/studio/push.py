"""`newscorpus push`: articles -> Label Studio tasks, idempotently, one per near-duplicate cluster.

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
from ..errors import DataError, StudioError, UsageError
from ..lock import writes_corpus
from ..records import Article
from ..store import atomic_write_text
from .client import StudioClient, connect
from .labeling import Interface, instructions_html, label_config, parse_interface
from .prelabel import MODEL_VERSION, prediction


@dataclass(frozen=True)
class PushOptions:
    """Which articles to push, and how."""

    limit: int | None = None
    language: str | None = None
    source: str | None = None
    since: str | None = None
    sample: int | None = None
    seed: int = 0
    overlap: int | None = None
    prelabel: bool = True


@dataclass
class PushReport:
    """What a push did."""

    project_id: int
    url: str
    selected: int = 0
    imported: int = 0
    already: int = 0
    reconciled: bool = False
    config_updated: bool = False
    task_ids: dict[str, int] = field(default_factory=dict)


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
    if opts.overlap is not None and opts.overlap < 1:
        raise UsageError(f"--overlap must be at least 1, got {opts.overlap}")
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


def task_payload(art: Article, iface: Interface | None) -> dict[str, Any]:
    """One Label Studio task: the article's fields as data, with a checked prediction."""
    data = {
        "article_id": art.id,
        "title": art.title,
        "text": art.text,
        "url": art.url or art.canonical_url or "",
        "site": art.site or "",
        "published": art.published or "",
        "language": art.language,
    }
    task: dict[str, Any] = {"data": data}
    if iface is not None:
        pred = prediction(art, iface)
        if pred is not None:
            task["predictions"] = [pred]
    return task


def project_settings(cfg: Config, overlap: int) -> dict[str, Any]:
    """The project settings push keeps in line with the corpus (besides the labeling config)."""
    return {
        "expert_instruction": instructions_html(cfg),
        "show_instruction": True,
        "maximum_annotations": overlap,
        "overlap_cohort_percentage": 100,
        "show_collab_predictions": True,
        # independence, as far as Label Studio Community allows: no annotation history, no
        # ground-truth tasks first; it cannot hide others' annotations in the task list
        "show_annotation_history": False,
        "show_ground_truth_first": False,
        "model_version": MODEL_VERSION,  # annotators start from the pre-annotations
        "description": cfg.corpus.description,
    }


def ensure_project(
    client: StudioClient,
    cfg: Config,
    overlap: int,
    found: dict[str, Any] | None = None,
    xml: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Find (or take ``found``) or create the project; set the config, instructions and overlap."""
    xml = xml if xml is not None else label_config(cfg)
    settings = project_settings(cfg, overlap)
    title = cfg.corpus.pretty_name
    project = found if found is not None else client.find_project(title)
    if project is None:
        return client.create_project(title=title, label_config=xml, **settings), False
    changed = {k: v for k, v in settings.items() if project.get(k) != v}
    updated = False
    if project.get("label_config", "").strip() != xml.strip():
        try:
            client.patch(f"/api/projects/{project['id']}", {"label_config": xml})
        except StudioError as exc:
            raise StudioError(
                f"Label Studio refused the new labeling config of project {title!r} "
                f"(it would orphan existing labels; remove them or keep the old targets): {exc}"
            ) from None
        updated = True
    if changed:
        project = client.patch(f"/api/projects/{project['id']}", changed)
    return project, updated


def reconcile(client: StudioClient, project_id: int) -> dict[str, int]:
    """article_id -> task_id as the server has it (the lowest task id wins if doubled)."""
    found: dict[str, int] = {}
    for task in client.iter_tasks(project_id, full=False, page_size=1000, include="id,data"):
        aid = (task.get("data") or {}).get("article_id")
        if isinstance(aid, str) and (aid not in found or task["id"] < found[aid]):
            found[aid] = int(task["id"])
    return found


@writes_corpus("push")
def push(
    cfg: Config,
    opts: PushOptions | None = None,
    client: StudioClient | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> PushReport:
    """Push the selected articles that are not on the server yet; safe to rerun at any point.

    Everything that can be refused (options, every article line, the labeling config, every
    task and its prediction) is checked before the server is changed: a refused push leaves
    no project behind.
    """
    opts = opts or PushOptions()
    check_options(cfg, opts)
    overlap = opts.overlap if opts.overlap is not None else cfg.studio.overlap
    articles = select_articles(iter_articles(cfg), opts)
    xml = label_config(cfg)
    iface = parse_interface(xml) if opts.prelabel else None
    client = client or connect(cfg)
    found = client.find_project(cfg.corpus.pretty_name)  # read only
    ledger: dict[str, int] = {}
    reconciled = False
    if found is not None:
        pid = int(found["id"])
        ledger = load_ledger(cfg, client.url, pid)
        server_count = int(client.project(pid).get("task_number") or 0)
        if server_count != len(ledger):
            ledger = reconcile(client, pid)
            reconciled = True
    todo = [a for a in articles if a.id not in ledger]
    payload = [task_payload(a, iface) for a in todo]  # may refuse: before any change
    if reconciled and found is not None:
        save_ledger(cfg, client.url, int(found["id"]), ledger)  # a cache of the server's tasks
    project, updated = ensure_project(client, cfg, overlap, found=found, xml=xml)
    pid = int(project["id"])
    report = PushReport(project_id=pid, url=client.url, config_updated=updated)
    report.selected = len(articles)
    report.reconciled = reconciled
    report.already = len(articles) - len(todo)
    size = max(1, cfg.studio.batch_size)
    for n, start in enumerate(range(0, len(todo), size)):
        batch = todo[start : start + size]
        ids = client.import_tasks(pid, payload[start : start + size])
        ledger.update({a.id: tid for a, tid in zip(batch, ids, strict=True)})
        save_ledger(cfg, client.url, pid, ledger)
        report.imported += len(batch)
        if after_batch is not None:
            after_batch(n)
    report.task_ids = {a.id: ledger[a.id] for a in articles if a.id in ledger}
    return report
