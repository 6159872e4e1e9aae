"""`newscorpus pull --from-export FILE`: the standard Label Studio JSON export, and bad files."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import Config
from newscorpus.corpus import iter_annotations
from newscorpus.labelstudio.export import pull_export
from tests.conftest import make_article, snapshot
from tests.studio.helpers import QUOTE_TEXT, full_result, studio_corpus, with_articles


def exported_article() -> Any:
    """The article of the export's task (stored in the corpus by ``export_corpus``)."""
    return make_article(1, text=QUOTE_TEXT)


def export_corpus(root: Path) -> Config:
    """A corpus holding the article that ``export_tasks`` refers to."""
    cfg = studio_corpus(root)
    with_articles(cfg, [exported_article()])
    return cfg


def export_tasks() -> list[dict[str, Any]]:
    art = exported_article()
    data = {"article_id": art.id, "title": art.title, "text": art.text, "url": art.url}
    return [
        {
            "id": 11,
            "data": data,
            "annotations": [
                {
                    "id": 101,
                    "completed_by": {"id": 3, "email": "alice@annotators.test"},
                    "result": full_result(QUOTE_TEXT),
                    "was_cancelled": False,
                    "created_at": "2026-01-02T10:00:00Z",
                    "updated_at": "2026-01-02T10:05:00Z",
                },
                {
                    "id": 102,
                    "completed_by": 4,
                    "result": [],
                    "was_cancelled": True,
                    "created_at": "2026-01-02T11:00:00Z",
                    "updated_at": "2026-01-02T11:00:00Z",
                },
            ],
            "drafts": [{"id": 9, "result": full_result(QUOTE_TEXT, "favor")}],
            "predictions": [],
        }
    ]


def test_export_is_normalised_and_reread_appends_nothing(tmp_path: Path) -> None:
    cfg = export_corpus(tmp_path / "c")
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export_tasks()), encoding="utf-8")
    report = pull_export(cfg, path)
    assert (report.annotations, report.new_versions, report.cancelled) == (2, 2, 1)
    assert report.drafts_ignored == 1
    recs = {r.annotation_id: r for r in iter_annotations(cfg)}
    done, skipped = recs[101], recs[102]
    assert done.kind == "annotation" and done.stance == {
        "us_forces_in_mexico": "neutral",
        "cartels_as_terrorists": "unrelated",
    }
    spans = {s["label"]: s for s in done.spans}
    claim = spans["Claim"]
    assert QUOTE_TEXT[claim["start"] : claim["end"]] == claim["text"]
    assert (claim["checkworthy"], claim["claim_type"]) == ("yes", "statistical")
    assert spans["Quote"]["speaker"] == spans["Speaker"]["id"] == "s1"
    assert skipped.cancelled and skipped.stance["us_forces_in_mexico"] is None
    assert done.annotator != skipped.annotator and done.annotator.startswith("ann-")
    stored = "".join(p.read_text() for p in cfg.annotations_dir.glob("*.jsonl"))
    assert "alice" not in stored and "annotators.test" not in stored
    assert pull_export(cfg, path).new_versions == 0
    assert len(list(iter_annotations(cfg))) == 2


def test_export_listing_a_task_twice_stores_each_version_once(tmp_path: Path) -> None:
    cfg = export_corpus(tmp_path / "c")
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export_tasks() * 2), encoding="utf-8")
    assert pull_export(cfg, path).new_versions == 2
    ids = [a.id for a in iter_annotations(cfg)]
    assert len(ids) == 2 == len(set(ids))


def _broken(kind: str) -> tuple[str, str]:
    tasks = export_tasks()
    ann = tasks[0]["annotations"][0]
    if kind == "not-json":
        return "[{not json", "not JSON"
    if kind == "wrong-shape":
        return json.dumps({"tasks": tasks}), "expected a list of tasks"
    if kind == "outside":
        ann["result"][2]["value"].update(start=5, end=99_999)
        return json.dumps(tasks), "task 11 annotation 101: spans: span 5-99999 is outside the text"
    if kind == "unknown-label":
        ann["result"][2]["value"]["labels"] = ["Rumour"]
        return json.dumps(
            tasks
        ), "task 11 annotation 101: spans: label 'Rumour' is not in the labeling config"
    if kind == "unknown-target":
        ann["result"][0]["from_name"] = "stance_aliens"
        return json.dumps(
            tasks
        ), "task 11 annotation 101: control 'stance_aliens' is not in the labeling config"
    if kind == "text-mismatch":
        ann["result"][2]["value"]["text"] = "something else"
        return json.dumps(tasks), "task 11 annotation 101: span"
    if kind == "drafts-not-a-list":
        tasks[0]["drafts"] = 3
        return json.dumps(tasks), "task 11: drafts must be a list"
    if kind == "cancelled-not-a-bool":
        ann["was_cancelled"] = "no"
        return json.dumps(tasks), "task 11 annotation 101: was_cancelled must be true or false"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "not-json",
        "wrong-shape",
        "outside",
        "unknown-label",
        "unknown-target",
        "text-mismatch",
        "drafts-not-a-list",
        "cancelled-not-a-bool",
    ],
)
def test_bad_export_one_line_error_nothing_written(
    tmp_path: Path, kind: str, cli: Callable[..., Any]
) -> None:
    cfg = export_corpus(tmp_path / "c")
    content, message = _broken(kind)
    path = tmp_path / "export.json"
    path.write_text(content, encoding="utf-8")
    before = snapshot(cfg.root)
    result = cli("--corpus", cfg.root, "pull", "--from-export", path)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert snapshot(cfg.root) == before


def test_missing_export_file_says_so(tmp_path: Path, cli: Callable[..., Any]) -> None:
    cfg = export_corpus(tmp_path / "c")
    result = cli("--corpus", cfg.root, "pull", "--from-export", tmp_path / "nope.json")
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == f"error: {tmp_path / 'nope.json'}: cannot read: No such file or directory"
    )


def foreign_task(task_id: int, n: int) -> dict[str, Any]:
    """A task of another corpus's project: its article is not in this corpus's articles/."""
    task = copy.deepcopy(export_tasks()[0])
    other = make_article(n, text=QUOTE_TEXT, url=f"http://other-corpus.test/{n}")
    task["id"] = task_id
    task["data"].update(article_id=other.id, url=other.url)
    for k, ann in enumerate(task["annotations"]):
        ann["id"] = task_id * 10 + k
    return task


def test_export_of_another_corpus_is_refused_nothing_written(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    cfg = export_corpus(tmp_path / "c")
    foreign = [foreign_task(21, 7), foreign_task(22, 8)]
    path = tmp_path / "other-export.json"
    # one task of this corpus, two of another one: nothing at all is stored
    path.write_text(json.dumps(export_tasks() + foreign), encoding="utf-8")
    before = snapshot(cfg.root)
    result = cli("--corpus", cfg.root, "pull", "--from-export", path)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), lines
    assert "2 of 3 tasks refer to articles not in" in lines[0]
    first = foreign[0]["data"]["article_id"]
    assert f"task 21 article_id {first!r}" in lines[0], lines
    assert snapshot(cfg.root) == before
    assert list(iter_annotations(cfg)) == []
    # an empty corpus knows no article at all: this corpus's own export is refused too
    empty = studio_corpus(tmp_path / "empty")
    own = tmp_path / "export.json"
    own.write_text(json.dumps(export_tasks()), encoding="utf-8")
    before = snapshot(empty.root)
    result = cli("--corpus", empty.root, "pull", "--from-export", own)
    assert result.exit_code == 1 and "1 of 1 tasks refer to articles not in" in result.output
    assert snapshot(empty.root) == before
