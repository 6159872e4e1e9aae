"""Adjudication: records <-> Label Studio results, and the round trip on the real server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config
from newscorpus.corpus import current_annotations
from newscorpus.labelstudio.convert import annotation_result, convert_annotation
from newscorpus.labelstudio.labeling import expected_interface
from newscorpus.quality.adjudicate import project_title
from newscorpus.store import read_jsonl
from tests.quality.helpers import T1, T2, ann, articles, make_corpus, span, store


def _claims(text: str) -> tuple[int, int, int, int]:
    c = text.index("the fentanyl")
    s = text.index("The minister")
    return c, text.index(" last year"), s, s + len("The minister")


def test_annotation_result_is_the_inverse_of_pull(tmp_path: Path) -> None:
    root = make_corpus(tmp_path / "corpus", n_articles=1)
    cfg = load_config(root)
    (art,) = articles(root)
    c, ce, s, se = _claims(art.text)
    record = ann(
        art,
        "ann-x",
        {T1: "favor", T2: "neutral"},
        [
            span("claim", c, ce, checkworthy="yes", claim_type="statistical", speaker="who"),
            span("who", s, se, "Speaker"),
        ],
    )
    result = annotation_result(record, art.text)
    iface = expected_interface(cfg)
    iface.check(result, art.text, "test")
    task = {"id": 5, "data": {"text": art.text, "article_id": art.id}}
    back = convert_annotation(cfg, task, {"id": 1, "completed_by": 3, "result": result}, iface, "t")
    assert back.stance == record.stance
    strip = [{k: v for k, v in sp.items() if k != "id"} for sp in back.spans]
    by_label = {sp["label"]: sp for sp in back.spans}
    assert by_label["Claim"]["speaker"] == by_label["Speaker"]["id"]
    want = [{k: v for k, v in sp.items() if k != "id"} for sp in record.spans]
    for w in want:
        w.pop("speaker", None)
    for got in strip:
        got.pop("speaker", None)
    assert sorted(strip, key=lambda x: x["start"]) == sorted(want, key=lambda x: x["start"])


@pytest.mark.studio
def test_round_trip_on_the_real_label_studio(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import secrets

    from tests.quality.helpers import TWO_TARGETS

    title = f"Adjudication test {secrets.token_hex(4)}"
    root = make_corpus(
        tmp_path / "corpus", TWO_TARGETS.replace('"Test corpus"', f'"{title}"'), n_articles=3
    )
    a0, a1, a2 = articles(root)
    c, ce, s, se = _claims(a0.text)
    store(
        root,
        [
            # a0: stance tie on T1 and a claim only one of two annotators marked: disputed
            ann(a0, "ann-a", {T1: "favor", T2: "against"}, [span("a1", c, ce, checkworthy="yes")]),
            ann(a0, "ann-b", {T1: "against", T2: "against"}, [span("b1", s, se, "Speaker")]),
            # a1: full agreement, a2: a single annotation: neither is disputed
            ann(a1, "ann-a", {T1: "neutral"}),
            ann(a1, "ann-b", {T1: "neutral"}),
            ann(a2, "ann-a", {T1: "favor"}),
        ],
    )
    monkeypatch.setenv("LABEL_STUDIO_URL", studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", studio_server.token)

    res = cli("--corpus", root, "adjudicate", "push")
    assert res.exit_code == 0, res.output
    assert "1 disputed items, 1 imported" in res.stdout
    again = cli("--corpus", root, "adjudicate", "push")
    assert again.exit_code == 0 and "0 imported, 1 already there" in again.stdout

    admin = studio_server.client()
    project = admin.find_project(project_title(load_config(root)))
    assert project is not None and project["title"] == f"{title} — adjudication"
    (task,) = list(admin.iter_tasks(project["id"]))
    assert task["data"]["article_id"] == a0.id
    preds = {p["model_version"]: p["result"] for p in task["predictions"]}
    assert set(preds) == {"ann-a", "ann-b"}
    choices = {
        r["from_name"]: r["value"]["choices"] for r in preds["ann-b"] if r["type"] == "choices"
    }
    assert choices == {f"stance_{T1}": ["against"], f"stance_{T2}": ["against"]}
    assert [r["value"]["labels"] for r in preds["ann-a"] if r["type"] == "labels"] == [["Claim"]]

    adjudicator, _ = studio_server.create_annotator("adjudicator")
    decision = [
        {
            "from_name": f"stance_{T1}",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["favor"]},
        },
        {
            "from_name": f"stance_{T2}",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["against"]},
        },
        {
            "id": "d1",
            "from_name": "spans",
            "to_name": "text",
            "type": "labels",
            "value": {"start": c, "end": ce, "text": a0.text[c:ce], "labels": ["Claim"]},
        },
    ]
    admin.as_user(adjudicator.token).submit_annotation(task["id"], decision)

    pulled = cli("--corpus", root, "adjudicate", "pull")
    assert pulled.exit_code == 0, pulled.output
    assert "1 decisions, 1 new gold records" in pulled.stdout
    assert "0 new gold records" in cli("--corpus", root, "adjudicate", "pull").stdout

    (gold,) = list(read_jsonl(root / "annotations" / "gold.jsonl"))
    assert gold["kind"] == "gold" and gold["article_id"] == a0.id
    assert gold["id"] == f"gold-{gold['annotation_id']}-{gold['updated_at']}"
    assert gold["annotator"].startswith("ann-") and "@" not in gold["annotator"]
    assert gold["stance"] == {T1: "favor", T2: "against"}
    assert [(x["start"], x["end"], x["text"]) for x in gold["spans"]] == [(c, ce, a0.text[c:ce])]

    assert cli("--corpus", root, "aggregate").exit_code == 0
    cfg = load_config(root)
    gold_of = {r.article_id: r for r in current_annotations(cfg, "gold")}
    aggregate_of = {r.article_id: r for r in current_annotations(cfg, "aggregate")}
    assert list(gold_of) == [a0.id] and gold_of[a0.id].stance[T1] == "favor"
    assert a1.id in aggregate_of  # the release takes gold over the aggregate where both exist
    # no e-mail or token reaches the corpus files
    for path in (root / "annotations").glob("*.jsonl"):
        text = path.read_text(encoding="utf-8")
        assert adjudicator.email not in text and studio_server.token not in text
    assert json.loads(json.dumps(gold))  # plain JSON


def test_nothing_disputed_creates_no_review_project(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import secrets

    from newscorpus.config import load_config
    from newscorpus.quality.adjudicate import project_title
    from tests.quality.helpers import TWO_TARGETS

    title = f"Agreed corpus {secrets.token_hex(4)}"
    root = make_corpus(
        tmp_path / "corpus", TWO_TARGETS.replace('"Test corpus"', f'"{title}"'), n_articles=1
    )
    (a0,) = articles(root)
    store(root, [ann(a0, "ann-a", {T1: "neutral"}), ann(a0, "ann-b", {T1: "neutral"})])
    monkeypatch.setenv("LABEL_STUDIO_URL", studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", studio_server.token)
    res = cli("--corpus", root, "adjudicate", "push")
    assert res.exit_code == 0, res.output
    assert "nothing disputed" in res.stdout
    client = studio_server.client()
    try:
        assert client.find_project(project_title(load_config(root))) is None
    finally:
        client.close()
