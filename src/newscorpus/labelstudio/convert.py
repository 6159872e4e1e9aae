"""Label Studio's JSON <-> our fields, in both directions, in one place.

- ``task_body``: an article (and the labels to show with it) as a Label Studio task;
- ``annotation_result``: an annotation record as a Label Studio result (adjudication, the demo);
- ``convert_task``: a Label Studio task with its annotations as a ``Task`` whose annotations
  are in our fields (stance per target; spans with their attributes and speaker; the
  per-article choice layers), each checked against the project's labeling interface and the
  task's text. The fields are the annotation layers' (``newscorpus.layers``).

Offsets: Label Studio counts UTF-16 units, our records count Python characters.
"""

from __future__ import annotations

from typing import Any

from .. import layers
from ..annotation.backend import NewTask, ServerAnnotation, Task
from ..config import Config
from ..errors import DataError
from ..layers import SpanRelation
from ..records import Annotation, Article
from .labeling import Interface, js_offset, py_offset, stance_name
from .prelabel import prediction

MAX_ID = 2**63 - 1  # Label Studio's ids are 64-bit; the release tables store them as int64


# --- ours -> Label Studio --------------------------------------------------------------------


def task_data(art: Article) -> dict[str, Any]:
    """The article's fields as a task's ``data`` (``article_id`` ties the task to the article)."""
    return {
        "article_id": art.id,
        "title": art.title,
        "text": art.text,
        "url": art.url or art.canonical_url or "",
        "site": art.site or "",
        "published": art.published or "",
        "language": art.language,
    }


def task_body(task: NewTask, iface: Interface) -> dict[str, Any]:
    """One Label Studio task: the article as data, with checked predictions (the heuristic
    pre-annotations, or each suggested record named by its annotator's pseudonym)."""
    art = task.article
    body: dict[str, Any] = {"data": task_data(art)}
    preds: list[dict[str, Any]] = []
    if task.prelabel:
        pred = prediction(art, iface)
        if pred is not None:
            preds.append(pred)
    for ann in task.suggestions:
        result = annotation_result(ann, art.text)
        iface.check(result, art.text, f"annotation {ann.id} as a prediction")
        preds.append(
            {"model_version": ann.annotator or "(unknown)", "score": 0.0, "result": result}
        )
    if preds or task.suggestions:
        body["predictions"] = preds
    return body


def annotation_result(ann: Annotation, text: str) -> list[dict[str, Any]]:
    """An annotation record as a Label Studio result (the inverse of ``convert_annotation``)."""
    lay = layers.defined()
    sp = lay.spans
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
                "from_name": sp.name,
                "to_name": "text",
                "type": "labels",
                "value": {**region, "labels": [s["label"]]},
            }
        )
        for attr in sp.attribute_names:
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
        speaker = s.get(sp.relation.field)
        if speaker and str(speaker) in ids:
            result.append(
                {
                    "type": "relation",
                    "from_id": ids[str(speaker)],
                    "to_id": rid,
                    "direction": "right",
                    "labels": [sp.relation.name],
                }
            )
    chosen = layers.choice_labels(ann.extra)
    for c in lay.choices:
        label = chosen.get(c.name)
        if isinstance(label, str):
            result.append(
                {
                    "from_name": c.name,
                    "to_name": "text",
                    "type": "choices",
                    "value": {"choices": [label]},
                }
            )
    return result


# --- Label Studio -> ours --------------------------------------------------------------------


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


def convert_annotation(
    cfg: Config, task: dict[str, Any], ann: dict[str, Any], iface: Interface, where: str
) -> ServerAnnotation:
    """One Label Studio annotation of one task in our fields (checked; DataError naming
    ``where``)."""
    user = _user_id(ann, where)
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
    lay = layers.defined()
    sp = lay.spans
    attribute_names = sp.attribute_names
    choices: dict[str, str | None] = {c.name: None for c in lay.choices}
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
        elif kind == "choices" and name in attribute_names and item.get("id"):
            attrs.setdefault(str(item["id"]), {})[str(name)] = _choice(item)
        elif kind == "choices" and name in choices:
            choices[str(name)] = _choice(item)
        elif kind == "labels" and name == sp.name:
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
    kept = link_speakers(spans, relations, sp.relation)
    ann_id = ann.get("id")
    if not isinstance(ann_id, int) or isinstance(ann_id, bool):
        raise DataError(f"{where}: annotation without an integer id")
    if not 0 < ann_id <= MAX_ID:
        raise DataError(f"{where}: annotation id out of range (1 to 2^63-1)")
    task_id = task.get("id")
    if isinstance(task_id, int) and not 0 < task_id <= MAX_ID:
        raise DataError(f"{where}: task id {task_id} out of range (1 to 2^63-1)")
    if not isinstance(ann.get("was_cancelled") or False, bool):
        raise DataError(f"{where}: was_cancelled must be true or false")
    return ServerAnnotation(
        id=ann_id,
        user=user,
        stance=stance,
        spans=sorted(spans.values(), key=lambda s: (s["start"], s["end"], s["label"])),
        relations=kept,
        choices=choices if lay.choices else None,
        created_at=ann.get("created_at"),
        updated_at=ann.get("updated_at") or ann.get("created_at"),
        cancelled=bool(ann.get("was_cancelled")),
    )


def link_speakers(
    spans: dict[str, dict[str, Any]],
    relations: list[tuple[str, str, list[str]]],
    relation: SpanRelation,
) -> list[dict[str, Any]]:
    """Set each Claim's or Quote's ``speaker`` from a relation between it and a Speaker, drawn
    either way, labelled or not (the span relation of the layers: its source, targets and
    field); every other relation is returned, to be kept in the record."""
    kept = []
    for a, b, labels in relations:
        ends = {spans[x]["label"]: x for x in (a, b) if x in spans}
        said = next((ends[t] for t in relation.targets if t in ends), None)
        speaker = ends.get(relation.source)
        if len(ends) == 2 and said and speaker and relation.field not in spans[said]:
            spans[said][relation.field] = speaker
        else:  # a missing end, Speaker to Speaker, Claim to Quote, a second speaker
            kept.append({"from_id": a, "to_id": b, "labels": labels})
    return kept


def convert_task(cfg: Config, task: Any, index: int, iface: Interface, origin: str) -> Task:
    """One Label Studio task (of the task list or an export) as a ``Task``; DataError naming
    ``origin`` and the task for anything that is not one."""
    if not isinstance(task, dict):
        raise DataError(f"{origin}: task #{index}: expected an object")
    tid = task.get("id", f"#{index}")
    anns = task.get("annotations", [])
    if not isinstance(anns, list):
        raise DataError(f"{origin}: task {tid}: annotations must be a list")
    drafts = task.get("drafts") or []
    if not isinstance(drafts, list):
        raise DataError(f"{origin}: task {tid}: drafts must be a list")
    converted = []
    for ann in anns:
        if not isinstance(ann, dict):
            raise DataError(f"{origin}: task {tid}: annotation is not an object")
        where = f"{origin}: task {tid} annotation {ann.get('id')}"
        converted.append(convert_annotation(cfg, task, ann, iface, where))
    task_id = task.get("id")
    data = task.get("data")
    article_id = data.get("article_id") if isinstance(data, dict) else None
    return Task(
        id=task_id if isinstance(task_id, int) and not isinstance(task_id, bool) else None,
        article_id=article_id if isinstance(article_id, str) else None,
        annotations=tuple(converted),
        drafts=len(drafts),
        updated_at=str(task.get("updated_at") or ""),
    )
