"""`newscorpus pull` reads through the Data Manager's task list: no export file left on the server
(Label Studio 1.23 writes two at every export call and never removes them), the same records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from newscorpus.annotation.pseudonym import load_salt
from newscorpus.annotation.pull import Counts, Origin, pull, to_records
from newscorpus.annotation.push import push
from newscorpus.config import Config
from newscorpus.corpus import iter_annotations
from newscorpus.labelstudio.convert import convert_task
from newscorpus.labelstudio.labeling import parse_interface
from tests.studio.helpers import (
    QUOTE_TEXT,
    articles,
    choice,
    full_result,
    studio_corpus,
    with_articles,
)

pytestmark = pytest.mark.studio

COUNTS = ("tasks", "annotations", "cancelled", "drafts_ignored", "relations_kept")


def export_files(studio_server: Any) -> set[Path]:
    """Every file in an ``export`` folder of the session server's data (export/, media/export/)."""
    data = studio_server.corpus / ".newscorpus" / "studio" / "data"
    assert data.is_dir()
    return {p for p in data.rglob("*") if p.is_file() and "export" in p.relative_to(data).parts}


def stored(cfg: Config) -> dict[str, dict[str, Any]]:
    """The corpus's annotation records by id, without the time they were pulled."""
    return {r.id: {**r.to_dict(), "pulled_at": None} for r in iter_annotations(cfg)}


def from_export(cfg: Config, admin: Any, pid: int, ids: list[int]) -> tuple[dict[str, Any], Any]:
    """The records and counts pull made before: the same tasks through the standard export."""
    project = admin.project(pid)
    counts = Counts()
    salt, _ = load_salt(cfg)
    tasks = admin.export_tasks(pid, ids)
    iface = parse_interface(project["label_config"])
    converted = (convert_task(cfg, t, i, iface, "export") for i, t in enumerate(tasks))
    origin = Origin(
        source="labelstudio", prefix="ls", server_url=admin.url, project_id=pid, where="export"
    )
    recs = to_records(converted, origin, salt, counts)
    return {r.id: {**r.to_dict(), "pulled_at": None} for r in recs}, counts


def test_three_pulls_leave_no_export_file_on_the_server(tmp_path: Path, studio_server: Any) -> None:
    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(3))
    admin = studio_server.client()
    r = push(cfg, backend=studio_server.backend(cfg))
    person = admin.as_user(studio_server.create_annotator("eve")[0].token)
    ann = person.submit_annotation(r.task_ids[arts[0].id], full_result(QUOTE_TEXT, "favor"))
    before = export_files(studio_server)

    assert pull(cfg, backend=studio_server.backend(cfg)).new_versions == 1
    person.update_annotation(ann["id"], full_result(QUOTE_TEXT, "against"))
    again = pull(cfg, backend=studio_server.backend(cfg))
    assert again.incremental and again.new_versions == 1
    assert pull(cfg, backend=studio_server.backend(cfg), full=True).new_versions == 0

    assert export_files(studio_server) - before == set()


def test_pull_stores_the_records_the_export_gave(tmp_path: Path, studio_server: Any) -> None:
    """Several annotators, a new version, a skipped annotation and drafts: field by field the
    same records, and the same counts, as normalising the export of the same tasks."""
    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(3))
    admin = studio_server.client()
    r = push(cfg, backend=studio_server.backend(cfg))
    ids = list(r.task_ids.values())
    quoted, untouched = r.task_ids[arts[0].id], r.task_ids[arts[2].id]
    names = ("fay", "gus", "hal", "ivy")
    team = [admin.as_user(studio_server.create_annotator(n)[0].token) for n in names]
    made = [
        p.submit_annotation(quoted, full_result(QUOTE_TEXT, s))
        for p, s in zip(team, ("neutral", "favor", "against"), strict=False)
    ]
    team[3].submit_annotation(quoted, [], cancelled=True)
    team[2].update_annotation(made[2]["id"], full_result(QUOTE_TEXT, "neutral"))  # a 2nd version
    team[3].post(f"/api/tasks/{quoted}/drafts", {"result": full_result(QUOTE_TEXT)})
    team[2].post(
        f"/api/tasks/{untouched}/drafts", {"result": full_result(QUOTE_TEXT)}
    )  # no annotation

    report = pull(cfg, backend=studio_server.backend(cfg))
    pid = report.project_id
    assert pid is not None
    first = stored(cfg)
    expected, old = from_export(cfg, admin, pid, ids)
    assert first == expected
    assert [getattr(report, c) for c in COUNTS] == [getattr(old, c) for c in COUNTS]
    assert [getattr(report, c) for c in COUNTS[:4]] == [1, 4, 1, 1]
    assert len({rec["annotator"] for rec in first.values()}) == 4

    # a later version and a first annotation, in two tasks apart (so asked by a list of ids),
    # read by an incremental pull: the export's records of them, the rest kept
    team[1].update_annotation(made[1]["id"], full_result(QUOTE_TEXT, "against"))
    stances = [
        choice("stance_us_forces_in_mexico", "favor"),
        choice("stance_cartels_as_terrorists", "against"),
    ]
    team[0].submit_annotation(untouched, stances)
    again = pull(cfg, backend=studio_server.backend(cfg))
    assert again.incremental and (again.tasks, again.new_versions, again.drafts_ignored) == (
        2,
        2,
        2,
    )
    now, _ = from_export(cfg, admin, pid, ids)
    assert stored(cfg) == {**first, **now}
