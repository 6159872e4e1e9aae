"""`newscorpus adjudicate push | pull`: disputed items to a review project and back.

push: the articles whose aggregate has an unresolved stance or spans without a majority go to a
separate project titled "<pretty_name> — adjudication" on the annotation server (same labeling
interface as the main one), each annotator's labels shown as a suggestion named by the
annotator's pseudonym. Idempotent: an article already in the review project is not imported again.

pull: each adjudicator decision becomes a gold record (kind="gold",
id="gold-<annotation id>-<updated_at>", annotator = the adjudicator's pseudonym) appended to
annotations/gold.jsonl; pulling the same version again appends nothing. The release prefers gold
to the aggregate for an item that has both.

Both go through the annotation backend's interface (``annotation.backend``), which the caller
builds; nothing here knows which server it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..annotation.backend import AnnotationBackend, NewTask, ProjectSpec
from ..annotation.pseudonym import load_salt, save_salt
from ..annotation.pull import check_known_articles, server_origin, to_records
from ..annotation.push import reconcile
from ..config import Config
from ..corpus import add_annotations, iter_annotations
from ..errors import StudioError
from ..layers import UNRESOLVED
from ..lock import writes_corpus
from ..records import Annotation
from ..store import check_record
from .aggregate import build_aggregates
from .labels import Labels, load_labels

GOLD_FILE = "gold"
TITLE_SUFFIX = " — adjudication"


def project_title(cfg: Config) -> str:
    """The review project's title: "<pretty_name> — adjudication"."""
    return f"{cfg.corpus.pretty_name}{TITLE_SUFFIX}"


def review_spec(cfg: Config) -> ProjectSpec:
    """The review project: one decision per task."""
    return ProjectSpec(
        title=project_title(cfg),
        description=f"Adjudication of disputed items of {cfg.corpus.pretty_name}",
        overlap=1,
        review=True,
    )


@dataclass(frozen=True)
class AdjudicationPushResult:
    """What `adjudicate push` did (``project_id`` is None when nothing was disputed)."""

    project_id: int | None
    disputed: int = 0
    imported: int = 0
    already: int = 0
    task_ids: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AdjudicationPullResult:
    """What `adjudicate pull` did."""

    project_id: int
    decisions: int = 0
    new_gold: int = 0
    skipped: int = 0


def disputed(cfg: Config, method: str = "majority") -> tuple[list[str], Labels]:
    """Article ids whose aggregate is unresolved (stance tie or spans without a majority)."""
    labels = load_labels(cfg).in_corpus()
    records, _ = build_aggregates(labels, method)
    ids = [
        r.article_id
        for r in records
        if UNRESOLVED in r.stance.values() or int(r.extra.get("unresolved_spans", 0)) > 0
    ]
    return ids, labels


@writes_corpus("adjudicate push")
def push(
    cfg: Config, *, method: str = "majority", backend: AnnotationBackend
) -> AdjudicationPushResult:
    """Send the disputed articles, with every annotator's labels as suggestions; rerun-safe.

    Every task and suggestion is built and checked before the server is changed: a refused
    push leaves no review project behind.
    """
    ids, labels = disputed(cfg, method)
    spec = review_spec(cfg)
    found = backend.find_project(spec.title)  # read only
    if not ids and found is None:
        return AdjudicationPushResult(project_id=None)  # nothing disputed: no empty project
    present = reconcile(backend, found.id) if found is not None else {}
    by_article = labels.by_article()
    todo = [aid for aid in ids if aid not in present]
    tasks = [NewTask(labels.articles[aid], suggestions=tuple(by_article[aid])) for aid in todo]
    payload = backend.prepare(tasks)  # may refuse: before any change
    project, _ = backend.ensure_project(spec, found)
    imported = 0
    if payload:
        task_ids = backend.import_tasks(project.id, payload)
        present.update(dict(zip(todo, task_ids, strict=True)))
        imported = len(payload)
    return AdjudicationPushResult(
        project_id=project.id,
        disputed=len(ids),
        imported=imported,
        already=len(ids) - len(todo),
        task_ids={aid: present[aid] for aid in ids if aid in present},
    )


@writes_corpus("adjudicate pull")
def pull(cfg: Config, *, backend: AnnotationBackend) -> AdjudicationPullResult:
    """Turn the adjudicators' decisions into gold records (appended once per version)."""
    title = project_title(cfg)
    project = backend.find_project(title)
    if project is None:
        raise StudioError(
            f"{backend.url}: no project titled {title!r} (run `newscorpus adjudicate push`); "
            "nothing was changed"
        )
    pid = project.id
    salt, new_salt = load_salt(cfg)
    tasks = backend.read_tasks(project, backend.task_ids(pid))
    records = to_records(tasks, server_origin(backend, pid), salt)
    check_known_articles(cfg, records, f"{backend.url} project {pid} ({title!r})")
    known = {a.id for a in iter_annotations(cfg)}
    gold: list[Annotation] = []
    decisions = skipped = 0
    for rec in records:
        if rec.cancelled:
            skipped += 1
            continue
        decisions += 1
        rec.kind = "gold"
        rec.id = f"gold-{rec.annotation_id}-{rec.updated_at}"
        rec.extra["adjudication"] = True
        if rec.id not in known:
            known.add(rec.id)
            gold.append(rec)
    for rec in gold:  # checked before the salt is kept: a refused pull writes nothing
        check_record("annotation", rec.to_dict(), f"annotation {rec.id}")
    if gold:
        if new_salt:
            save_salt(cfg, salt)
        add_annotations(cfg, gold, GOLD_FILE)
    return AdjudicationPullResult(
        project_id=pid, decisions=decisions, new_gold=len(gold), skipped=skipped
    )
