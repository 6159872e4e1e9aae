"""`newscorpus pull` against the real Label Studio server: several annotators, versions, deletes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.annotation.pull import pull
from newscorpus.annotation.push import push
from newscorpus.config import load_config
from newscorpus.corpus import current_annotations, iter_annotations
from newscorpus.errors import StudioError
from tests.conftest import snapshot
from tests.studio.helpers import QUOTE_TEXT, articles, full_result, studio_corpus, with_articles

pytestmark = pytest.mark.studio


def corpus_text(root: Path) -> str:
    """Every file of the corpus except the git-ignored working state."""
    return "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in root.rglob("*")
        if p.is_file() and ".newscorpus" not in p.parts
    )


def test_pull_several_annotators_versions_and_deletes(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(3))
    admin = studio_server.client()
    r = push(cfg, backend=studio_server.backend(cfg))
    quoted = r.task_ids[arts[0].id]
    team = [studio_server.create_annotator(n)[0] for n in ("ana", "ben", "chloe")]
    made = {}
    for person, stance in zip(team, ("neutral", "favor", "against"), strict=True):
        made[person.id] = person_client = admin.as_user(person.token)
        person_client.submit_annotation(quoted, full_result(QUOTE_TEXT, stance))
    skipped = admin.as_user(team[0].token).submit_annotation(
        r.task_ids[arts[1].id], [], cancelled=True
    )
    admin.as_user(team[1].token).post(
        f"/api/tasks/{r.task_ids[arts[2].id]}/drafts", {"result": full_result(QUOTE_TEXT)}
    )

    report = pull(cfg, backend=studio_server.backend(cfg))
    assert (report.annotations, report.new_versions, report.cancelled) == (4, 4, 1)
    recs = list(iter_annotations(cfg))
    people = {rec.annotator for rec in recs}
    assert len(people) == 3 and all(p and p.startswith("ann-") for p in people)
    by_stance = {
        rec.stance["us_forces_in_mexico"]: rec for rec in recs if rec.article_id == arts[0].id
    }
    assert set(by_stance) == {"neutral", "favor", "against"}
    rec = by_stance["favor"]
    assert rec.stance["cartels_as_terrorists"] == "unrelated" and rec.task_id == quoted
    spans = {s["label"]: s for s in rec.spans}
    assert spans["Speaker"]["text"] == "Sheinbaum"
    assert spans["Quote"]["speaker"] == spans["Speaker"]["id"]
    assert (spans["Claim"]["checkworthy"], spans["Claim"]["claim_type"]) == ("yes", "statistical")
    assert next(x for x in recs if x.annotation_id == skipped["id"]).cancelled

    # the same versions again: nothing new, and only changed tasks were fetched
    again = pull(cfg, backend=studio_server.backend(cfg))
    assert again.new_versions == 0 and again.incremental and again.tasks <= 1
    # an edited annotation: a new version, the old one kept
    ann_id = by_stance["favor"].annotation_id
    assert ann_id is not None
    made[team[1].id].update_annotation(ann_id, full_result(QUOTE_TEXT, "against"))
    edited = pull(cfg, backend=studio_server.backend(cfg))
    assert edited.new_versions == 1 and edited.incremental
    versions = [x for x in iter_annotations(cfg) if x.annotation_id == ann_id]
    assert [v.stance["us_forces_in_mexico"] for v in versions] == ["favor", "against"]
    # a deleted annotation: marked deleted, never dropped
    gone = by_stance["neutral"].annotation_id
    assert gone is not None
    admin.delete_annotation(gone)
    assert pull(cfg, backend=studio_server.backend(cfg)).deleted == 1
    assert pull(cfg, backend=studio_server.backend(cfg)).deleted == 0
    assert (
        pull(cfg, backend=studio_server.backend(cfg), full=True).new_versions == 0
    )  # a full pull agrees
    current = current_annotations(cfg)
    assert {a.stance["us_forces_in_mexico"] for a in current if a.article_id == arts[0].id} == {
        "against"
    }
    assert any(x.deleted and x.annotation_id == gone for x in iter_annotations(cfg))

    # a deleted task: its annotations are marked deleted too
    admin.delete_task(r.task_ids[arts[1].id])
    assert pull(cfg, backend=studio_server.backend(cfg)).deleted == 1

    # no e-mail, password or token anywhere in the corpus files or CLI output
    monkeypatch.setenv("LABEL_STUDIO_URL", studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", studio_server.token)
    out = cli("--corpus", cfg.root, "pull").output
    assert "0 new versions" in out
    text = corpus_text(cfg.root) + out
    assert "annotators.test" not in text and "@" not in corpus_text(cfg.annotations_dir)
    for secret in [studio_server.token, *(p.token for p in team)]:
        assert secret not in text


def test_pull_refuses_without_project(tmp_path: Path, studio_server: Any) -> None:
    cfg = studio_corpus(tmp_path / "c")
    with_articles(cfg, articles(1))
    before = snapshot(cfg.root)
    with pytest.raises(StudioError, match="no project titled"):
        pull(cfg, backend=studio_server.backend(cfg))
    assert snapshot(cfg.root) == before


def test_studio_status_and_credentials_file(studio_server: Any, cli: Callable[..., Any]) -> None:
    creds = studio_server.corpus / ".newscorpus" / "studio.json"
    assert creds.stat().st_mode & 0o777 == 0o600
    res = cli("--corpus", studio_server.corpus, "studio", "status")
    assert res.exit_code == 0 and studio_server.url in res.output
    res = cli("--corpus", studio_server.corpus, "studio", "start")
    assert "already running" in res.output and studio_server.token not in res.output
    log = (studio_server.corpus / ".newscorpus" / "studio" / "server.log").read_text()
    assert studio_server.token not in log


def test_pull_refuses_the_project_of_another_corpus_with_the_same_title(
    tmp_path: Path, studio_server: Any
) -> None:
    """Projects are found by title: a second corpus with the same pretty_name gets nothing."""
    cfg = studio_corpus(tmp_path / "a")
    arts = with_articles(cfg, articles(2))
    admin = studio_server.client()
    r = push(cfg, backend=studio_server.backend(cfg))
    person = studio_server.create_annotator("dora")[0]
    admin.as_user(person.token).submit_annotation(
        r.task_ids[arts[0].id], full_result(QUOTE_TEXT, "favor")
    )
    other = tmp_path / "b"
    shutil.copytree(cfg.root, other, ignore=shutil.ignore_patterns("articles", ".newscorpus"))
    (other / "articles").mkdir()
    twin = load_config(other)  # same corpus.toml, so the same title: different articles
    with_articles(twin, articles(2, start=50))
    before = snapshot(twin.root)
    with pytest.raises(StudioError, match=r"annotations of 1 articles not in .*same pretty_name"):
        pull(twin, backend=studio_server.backend(twin))
    assert snapshot(twin.root) == before
    assert (
        pull(cfg, backend=studio_server.backend(cfg)).new_versions == 1
    )  # its own corpus pulls as before
