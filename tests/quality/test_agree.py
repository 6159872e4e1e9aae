"""`newscorpus agree` on a synthetic corpus: JSON shape, edge cases, report files, --by."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config
from newscorpus.corpus import add_articles
from newscorpus.store import append_jsonl
from tests.conftest import make_article, snapshot
from tests.quality.helpers import LONG_TEXT, T1, T2, ann, articles, make_corpus, span, store


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = make_corpus(tmp_path / "corpus")
    a0, a1, a2, a3 = articles(root)
    claim = a0.text.index("fentanyl")
    records = [
        # article 0: three annotators, two agree
        ann(a0, "ann-a", {T1: "favor"}, [span("s1", claim, claim + 8)]),
        ann(a0, "ann-b", {T1: "favor"}, [span("s2", claim, claim + 8)]),
        ann(a0, "ann-c", {T1: "against"}, [span("s3", claim, claim + 20)]),
        # article 1: two annotators disagree; ann-b's older version agreed but was replaced
        ann(a1, "ann-a", {T1: "neutral"}),
        ann(a1, "ann-b", {T1: "neutral"}, n=1),
        ann(a1, "ann-b", {T1: "unrelated"}, n=2),
        # article 2: all three agree
        ann(a2, "ann-a", {T1: "against"}),
        ann(a2, "ann-b", {T1: "against"}),
        ann(a2, "ann-c", {T1: "against"}),
        # article 3: a single annotation (left out, counted); a cancelled one does not count
        ann(a3, "ann-a", {T1: "favor"}),
        ann(a3, "ann-c", {T1: "against"}, cancelled=True),
    ]
    store(root, records)
    return root


def test_json_has_the_promised_shape_and_values(corpus: Path, cli: Callable[..., Any]) -> None:
    res = cli("--corpus", corpus, "agree", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    s = data["stance"][T1]
    assert s["units"] == 3 and s["annotators"] == 3 and s["single_annotation_units"] == 1
    assert isinstance(s["alpha"], float) and len(s["ci95"]) == 2
    assert s["ci95"][0] <= s["alpha"] <= s["ci95"][1]
    # the same units as reliability data: coders a, b, c by articles 0, 1, 2
    import krippendorff

    n = float("nan")
    expected = krippendorff.alpha(
        reliability_data=[[0, 2, 1], [0, 3, 1], [1, n, 1]], level_of_measurement="nominal"
    )
    assert s["alpha"] == pytest.approx(expected, abs=1e-12)
    # a target nobody annotated reports null
    assert data["stance"][T2]["alpha"] is None and data["stance"][T2]["units"] == 0
    assert data["stance"][T2]["ci95"] is None
    pairs = {(k["a"], k["b"]): k for k in s["kappa"]}
    assert set(pairs) == {("ann-a", "ann-b"), ("ann-a", "ann-c"), ("ann-b", "ann-c")}
    assert pairs[("ann-a", "ann-b")]["n"] == 3
    assert set(data["spans"]) == {"Claim", "Quote", "Speaker"}
    claim = data["spans"]["Claim"]
    # pairs over article 0..3 sharing tasks: (a,b) exact 1; (a,c), (b,c) exact 0, overlap 1
    assert claim["f1_exact"] == pytest.approx(1 / 3) and claim["f1_overlap"] == pytest.approx(1.0)
    assert claim["pairs"] == 3
    people = data["annotators"]
    assert people["ann-a"]["items"] == 4 and people["ann-c"]["items"] == 2
    # ann-c: article 0 others say favor (c: against) -> 0; article 2 -> 1
    assert people["ann-c"]["agreement_with_majority"] == pytest.approx(0.5)
    # nothing is written with --json
    assert not (corpus / "reports").exists()


def test_report_is_written_without_json(corpus: Path, cli: Callable[..., Any]) -> None:
    res = cli("--corpus", corpus, "agree")
    assert res.exit_code == 0, res.output
    assert "alpha" in res.stdout and "Cohen's kappa" in res.stdout
    md = (corpus / "reports" / "agreement.md").read_text(encoding="utf-8")
    assert f"| {T1} |" in md and "(agreement_confusion_us_forces_in_mexico.png)" in md
    for name in (
        "agreement_confusion_us_forces_in_mexico.png",
        "agreement_languages_us_forces_in_mexico.png",
    ):
        assert (corpus / "reports" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (corpus / "reports" / f"agreement_confusion_{T2}.png").exists()
    before = snapshot(corpus / "reports")
    assert cli("--corpus", corpus, "agree").exit_code == 0
    assert snapshot(corpus / "reports") == before  # deterministic reruns


def test_by_language(corpus: Path, cli: Callable[..., Any]) -> None:
    res = cli("--corpus", corpus, "agree", "--json", "--by", "language")
    data = json.loads(res.stdout)
    groups = data["by"]["groups"]
    assert set(groups) == {"es", "en"}
    assert groups["es"]["stance"][T1]["units"] == 2 and groups["en"]["stance"][T1]["units"] == 1
    # article 2 (en) has perfect agreement on one value only: alpha undefined, null
    assert groups["en"]["stance"][T1]["alpha"] is None
    bad = cli("--corpus", corpus, "agree", "--by", "site")
    assert bad.exit_code == 2 and "--by site" in bad.stderr


def test_unknown_label_is_an_error_naming_the_task(corpus: Path, cli: Callable[..., Any]) -> None:
    a0 = articles(corpus)[0]
    bad = ann(a0, "ann-d", {T1: "strongly_favor"}, task_id=4242).to_dict()
    append_jsonl(corpus / "annotations" / "edited.jsonl", [bad])  # schema-invalid, by hand
    before = snapshot(corpus)
    res = cli("--corpus", corpus, "agree")
    assert res.exit_code == 1
    assert "task 4242" in res.stderr and "'strongly_favor'" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert snapshot(corpus) == before
    assert cli("--corpus", corpus, "aggregate").exit_code == 1
    assert snapshot(corpus) == before


def test_unresolved_in_a_human_annotation_is_an_error(
    corpus: Path, cli: Callable[..., Any]
) -> None:
    a0 = articles(corpus)[0]
    store(corpus, [ann(a0, "ann-d", {T1: "unresolved"}, task_id=31)], file="more")
    res = cli("--corpus", corpus, "agree", "--json")
    assert res.exit_code == 1 and "task 31" in res.stderr and "'unresolved'" in res.stderr


def test_unknown_target_is_an_error_naming_the_task(corpus: Path, cli: Callable[..., Any]) -> None:
    a0 = articles(corpus)[0]
    store(corpus, [ann(a0, "ann-d", {"no_such_target": "favor"}, task_id=77)], file="more")
    res = cli("--corpus", corpus, "agree", "--json")
    assert res.exit_code == 1 and "task 77" in res.stderr and "no_such_target" in res.stderr


def test_span_outside_the_text_is_an_error_naming_the_task(
    corpus: Path, cli: Callable[..., Any]
) -> None:
    a0 = articles(corpus)[0]
    n = len(a0.text)
    bad = ann(a0, "ann-d", {T1: "favor"}, [span("s9", n + 10, n + 20)], task_id=515).to_dict()
    append_jsonl(corpus / "annotations" / "edited.jsonl", [bad])  # schema-valid, by hand
    before = snapshot(corpus)
    for cmd in ("agree", "aggregate"):
        res = cli("--corpus", corpus, cmd)
        assert res.exit_code == 1, res.output
        lines = res.stderr.strip().splitlines()
        assert (
            len(lines) == 1 and "task 515" in lines[0] and "outside the article's text" in lines[0]
        )
        assert snapshot(corpus) == before


def test_annotations_of_missing_articles_are_left_out_and_reported(
    corpus: Path, cli: Callable[..., Any]
) -> None:
    base = cli("--corpus", corpus, "agree", "--json")
    assert base.exit_code == 0 and base.stderr == "", base.output
    baseline = json.loads(base.stdout)
    by_base = json.loads(cli("--corpus", corpus, "agree", "--json", "--by", "language").stdout)
    # an article annotated by three annotators who disagree, then removed from articles/
    gone = make_article(9, text=f"{LONG_TEXT} (9)", language="es")
    add_articles(load_config(corpus), [gone], file="removed")
    claim = gone.text.index("fentanyl")
    store(
        corpus,
        [
            ann(gone, "ann-a", {T1: "favor", T2: "favor"}, [span("o1", claim, claim + 8)]),
            ann(gone, "ann-b", {T1: "against", T2: "neutral"}, [span("o2", 0, 3)]),
            ann(gone, "ann-c", {T1: "neutral"}),
        ],
        file="more",
    )
    (corpus / "articles" / "removed.jsonl").unlink()
    res = cli("--corpus", corpus, "agree", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)  # stdout is JSON only: the warning is on stderr
    assert data["stance"][T1]["alpha"] == baseline["stance"][T1]["alpha"]
    assert data["stance"][T1]["units"] == 3 and data["stance"][T2]["units"] == 0
    assert data["annotations"] == baseline["annotations"]
    # reported: a count in the JSON (a new key; every other key is as without the orphans)
    assert data.pop("orphans") == {"annotations": 3, "articles": 1}
    assert baseline.pop("orphans") == {"annotations": 0, "articles": 0}
    assert data == baseline
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: 3 annotations of 1 article "), lines
    assert repr(gone.id) in lines[0] and "left out" in lines[0]
    by = json.loads(cli("--corpus", corpus, "agree", "--json", "--by", "language").stdout)
    assert by["by"] == by_base["by"]  # no "(unknown)" group of the missing article
    res = cli("--corpus", corpus, "agree")
    assert res.exit_code == 0 and "warning: 3 annotations" in res.stderr
    md = (corpus / "reports" / "agreement.md").read_text(encoding="utf-8")
    assert "left out of every figure below (annotations: 3, articles: 1)" in md
    report = json.loads((corpus / "reports" / "agreement.json").read_text(encoding="utf-8"))
    assert report["orphans"] == {"annotations": 3, "articles": 1}
