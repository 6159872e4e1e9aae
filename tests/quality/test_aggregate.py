"""`newscorpus aggregate`: majority with ties unresolved, majority spans, Dawid–Skene, gold override."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from newscorpus.config import load_config
from newscorpus.corpus import current_annotations
from newscorpus.quality.aggregate import dawid_skene
from newscorpus.store import check_record, read_jsonl
from tests.conftest import snapshot
from tests.quality.helpers import T1, T2, ann, articles, final_labels, make_corpus, span, store


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = make_corpus(tmp_path / "corpus", n_articles=3)
    a0, a1, a2 = articles(root)
    c = a0.text.index("the fentanyl")
    end = a0.text.index(" last year")
    store(
        root,
        [
            ann(a0, "ann-a", {T1: "favor", T2: "against"}, [span("x1", c, end, checkworthy="yes")]),
            ann(a0, "ann-b", {T1: "favor", T2: None}, [span("y1", c, end, checkworthy="yes")]),
            ann(a0, "ann-c", {T1: "against", T2: "neutral"}, [span("z1", c + 4, end + 5)]),
            ann(a1, "ann-a", {T1: "neutral"}, [span("x2", 0, 12, "Speaker")]),
            ann(a1, "ann-b", {T1: "against"}),
            ann(a2, "ann-c", {T1: "unrelated"}),
        ],
    )
    return root


def _records(root: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in read_jsonl(root / "annotations" / "aggregate.jsonl")}


def test_majority_records(corpus: Path, cli: Callable[..., Any]) -> None:
    res = cli("--corpus", corpus, "aggregate")
    assert res.exit_code == 0, res.output
    a0, a1, a2 = articles(corpus)
    recs = _records(corpus)
    assert set(recs) == {f"agg-majority-{a.id}" for a in (a0, a1, a2)}
    r0 = recs[f"agg-majority-{a0.id}"]
    assert (
        r0["kind"] == "aggregate" and r0["annotator"] == "majority" and r0["method"] == "majority"
    )
    assert r0["stance"] == {T1: "favor", T2: "unresolved"}  # T2: neutral vs against, a tie
    assert r0["soft"][T1] == {"favor": pytest.approx(2 / 3), "against": pytest.approx(1 / 3)}
    assert r0["n_annotators"] == {T1: 3, T2: 2}
    (claim,) = r0["spans"]
    c, end = a0.text.index("the fentanyl"), a0.text.index(" last year")
    assert (claim["start"], claim["end"]) == (c, end) and claim["text"] == a0.text[c:end]
    assert claim["checkworthy"] == "yes" and r0["unresolved_spans"] == 0
    r1 = recs[f"agg-majority-{a1.id}"]
    assert r1["stance"] == {T1: "unresolved"} and r1["spans"] == [] and r1["unresolved_spans"] == 1
    assert recs[f"agg-majority-{a2.id}"]["stance"] == {T1: "unrelated"}
    for rec in recs.values():
        check_record("annotation", rec, rec["id"])
    cfg = load_config(corpus)
    assert len(current_annotations(cfg, "aggregate")) == 3


def test_rerun_is_idempotent_and_keeps_the_other_method(
    corpus: Path, cli: Callable[..., Any]
) -> None:
    assert cli("--corpus", corpus, "aggregate").exit_code == 0
    first = snapshot(corpus)
    assert cli("--corpus", corpus, "aggregate").exit_code == 0
    assert snapshot(corpus) == first
    res = cli("--corpus", corpus, "aggregate", "--method", "dawid-skene")
    assert res.exit_code == 0, res.output
    methods = sorted({r["method"] for r in _records(corpus).values()})
    assert methods == ["dawid-skene", "majority"] and len(_records(corpus)) == 6
    rel = json.loads((corpus / "reports" / "annotator_reliability.json").read_text())
    assert rel["method"] == "dawid-skene"
    assert set(rel["targets"][T1]["annotators"]) == {"ann-a", "ann-b", "ann-c"}
    bad = cli("--corpus", corpus, "aggregate", "--method", "vote")
    assert bad.exit_code == 2 and "--method vote" in bad.stderr


def test_dawid_skene_finds_the_unreliable_annotator() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 4, 300)
    good = [np.where(rng.random(300) < 0.9, truth, rng.integers(0, 4, 300)) for _ in range(3)]
    noisy = rng.integers(0, 4, 300)
    labels = np.stack([*good, noisy], axis=1).astype(np.int64)
    labels[rng.random(labels.shape) < 0.2] = -1
    res = dawid_skene(labels, 4)
    rel = res.reliability()
    assert rel[3] < 0.4 and min(rel[:3]) > 0.8
    hard = res.posterior.argmax(axis=1)
    counts = np.stack([(labels == k).sum(axis=1) for k in range(4)], axis=1)
    majority = counts.argmax(axis=1)
    assert (hard == truth).mean() > 0.9
    assert (hard == truth).mean() > (majority == truth).mean()  # it learnt to ignore the noise
    assert np.allclose(res.posterior.sum(axis=1), 1.0)


def test_gold_overrides_the_aggregate(corpus: Path, cli: Callable[..., Any]) -> None:
    assert cli("--corpus", corpus, "aggregate").exit_code == 0
    a0, a1, _ = articles(corpus)
    gold = ann(a1, "adjudicator-1", {T1: "neutral"}, kind="gold", id="gold-9-2026")
    store(corpus, [gold], file="gold")
    final = final_labels(load_config(corpus))  # the release's gold > aggregate rule
    assert final[a1.id].kind == "gold" and final[a1.id].stance == {T1: "neutral"}
    assert final[a0.id].kind == "aggregate"


def test_annotations_of_missing_articles_get_no_aggregate(
    corpus: Path, cli: Callable[..., Any]
) -> None:
    """An article removed after annotation: no aggregate (it would refer to nothing)."""
    from newscorpus.corpus import add_articles
    from tests.conftest import make_article
    from tests.quality.helpers import LONG_TEXT

    gone = make_article(9, text=f"{LONG_TEXT} (9)", language="es")
    add_articles(load_config(corpus), [gone], file="removed")
    store(corpus, [ann(gone, "ann-a", {T1: "favor"}), ann(gone, "ann-b", {T1: "against"})], "more")
    (corpus / "articles" / "removed.jsonl").unlink()
    res = cli("--corpus", corpus, "aggregate")
    assert res.exit_code == 0, res.output
    assert {r["article_id"] for r in _records(corpus).values()} == {a.id for a in articles(corpus)}
    from newscorpus.quality.adjudicate import disputed

    ids, _ = disputed(load_config(corpus))  # the orphans' tie would be disputed
    assert ids and gone.id not in ids
