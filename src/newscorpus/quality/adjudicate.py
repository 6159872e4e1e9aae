"""`newscorpus adjudicate push | pull`: disputed items to a Label Studio review project and back.

push: the articles whose aggregate has an unresolved stance or spans without a majority go to a
separate project titled "<pretty_name> — adjudication" (same labeling config as the main one),
each annotator's labels shown as a prediction whose model_version is the annotator's pseudonym.
Idempotent: an article already in the review project is not imported again.

pull: each adjudicator decision becomes a gold record (kind="gold",
id="gold-<annotation id>-<updated_at>", annotator = the adjudicator's pseudonym) appended to
annotations/gold.jsonl; pulling the same version again appends nothing. Gold overrides the
aggregate downstream (see ``aggregate.final_labels``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..corpus import add_annotations, iter_annotations
from ..errors import StudioError
from ..lock import writes_corpus
from ..records import Annotation
from ..store import check_record
from ..studio.client import StudioClient, connect
from ..studio.labeling import (
    RELATION,
    instructions_html,
    js_offset,
    label_config,
    parse_interface,
    stance_name,
)
from ..studio.pseudonym import load_salt, save_salt
from ..studio.pull import PullReport, check_known_articles, normalize_tasks
from ..studio.push import reconcile, task_payload
from .aggregate import UNRESOLVED, build_aggregates
from .labels import Labels, load_labels

GOLD_FILE = "gold"
TITLE_SUFFIX = " — adjudication"


def project_title(cfg: Config) -> str:
    """The review project's title: "<pretty_name> — adjudication"."""
    return f"{cfg.corpus.pretty_name}{TITLE_SUFFIX}"


@dataclass
class AdjudicationPush:
    """What `adjudicate push` did (``project_id`` is None when nothing was disputed)."""

    project_id: int | None
    disputed: int = 0
    imported: int = 0
    already: int = 0
    task_ids: dict[str, int] = field(default_factory=dict)


@dataclass
class AdjudicationPull:
    """What `adjudicate pull` did."""

    project_id: int
    decisions: int = 0
    new_gold: int = 0
    skipped: int = 0


def annotation_result(ann: Annotation, text: str) -> list[dict[str, Any]]:
    """An annotation record as a Label Studio result (the inverse of studio.pull.normalize)."""
    result: list[dict[str, Any]] = []
    for target, label in sorted(ann.stance.items()):
        if label is not None:
            result.append(
                {
                    "from_name": stance_name(target),
                    "to_name": "text",
                    "type": "choices",
                    "value": {"choices": [label]},
                }
            )
    ids = {str(s["id"]): f"r{i}" for i, s in enumerate(ann.spans)}
    for s in ann.spans:
        rid = ids[str(s["id"])]
        region = {
            "start": js_offset(text, s["start"]),
            "end": js_offset(text, s["end"]),
            "text": text[s["start"] : s["end"]],
        }
        result.append(
            {
                "id": rid,
                "from_name": "spans",
                "to_name": "text",
                "type": "labels",
                "value": {**region, "labels": [s["label"]]},
            }
        )
        for attr in ("checkworthy", "claim_type"):
            if s.get(attr):
                result.append(
                    {
                        "id": rid,
                        "from_name": attr,
                        "to_name": "text",
                        "type": "choices",
                        "value": {**region, "choices": [s[attr]]},
                    }
                )
        speaker = s.get("speaker")
        if speaker and str(speaker) in ids:
            result.append(
                {
                    "type": "relation",
                    "from_id": ids[str(speaker)],
                    "to_id": rid,
                    "direction": "right",
                    "labels": [RELATION],
                }
            )
    return result


def ensure_review_project(
    client: StudioClient, cfg: Config, found: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Find (or take ``found``) or create the adjudication project (one decision per task)."""
    title = project_title(cfg)
    project = found if found is not None else client.find_project(title)
    if project is not None:
        return project
    return client.create_project(
        title=title,
        label_config=label_config(cfg),
        expert_instruction=instructions_html(cfg),
        show_instruction=True,
        maximum_annotations=1,
        show_collab_predictions=True,
        description=f"Adjudication of disputed items of {cfg.corpus.pretty_name}",
    )


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
    cfg: Config, method: str = "majority", client: StudioClient | None = None
) -> AdjudicationPush:
    """Send the disputed articles, with every annotator's labels as predictions; rerun-safe.

    Every task and prediction is built and checked before the server is changed: a refused
    push leaves no review project behind.
    """
    ids, labels = disputed(cfg, method)
    iface = parse_interface(label_config(cfg))
    client = client or connect(cfg)
    found = client.find_project(project_title(cfg))  # read only
    if not ids and found is None:
        return AdjudicationPush(project_id=None)  # nothing disputed: no empty project
    present = reconcile(client, int(found["id"])) if found is not None else {}
    by_article = labels.by_article()
    todo = [aid for aid in ids if aid not in present]
    payload = []
    for aid in todo:
        art = labels.articles[aid]
        task = task_payload(art, None)
        preds = []
        for ann in by_article[aid]:
            result = annotation_result(ann, art.text)
            iface.check(result, art.text, f"annotation {ann.id} as a prediction")
            preds.append(
                {"model_version": ann.annotator or "(unknown)", "score": 0.0, "result": result}
            )
        task["predictions"] = preds
        payload.append(task)
    project = ensure_review_project(client, cfg, found)
    pid = int(project["id"])
    report = AdjudicationPush(project_id=pid, disputed=len(ids))
    report.already = len(ids) - len(todo)
    if payload:
        task_ids = client.import_tasks(pid, payload)
        present.update(dict(zip(todo, task_ids, strict=True)))
        report.imported = len(payload)
    report.task_ids = {aid: present[aid] for aid in ids if aid in present}
    return report


@writes_corpus("adjudicate pull")
def pull(cfg: Config, client: StudioClient | None = None) -> AdjudicationPull:
    """Turn the adjudicators' decisions into gold records (appended once per version)."""
    client = client or connect(cfg)
    title = project_title(cfg)
    project = client.find_project(title)
    if project is None:
        raise StudioError(
            f"{client.url}: no project titled {title!r} (run `newscorpus adjudicate push`); "
            "nothing was changed"
        )
    pid = int(project["id"])
    iface = parse_interface(project["label_config"])
    salt, new_salt = load_salt(cfg)
    records = normalize_tasks(
        cfg,
        client.iter_tasks(pid),
        iface,
        client.url,
        pid,
        f"{client.url} project {pid}",
        PullReport(project_id=pid),
        salt,
    )
    check_known_articles(cfg, records, f"{client.url} project {pid} ({title!r})")
    report = AdjudicationPull(project_id=pid)
    known = {a.id for a in iter_annotations(cfg)}
    gold: list[Annotation] = []
    for rec in records:
        if rec.cancelled:
            report.skipped += 1
            continue
        report.decisions += 1
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
    report.new_gold = len(gold)
    return report
