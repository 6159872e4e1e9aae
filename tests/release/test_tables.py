"""The column-wise build agrees with the record-wise definitions in newscorpus.corpus.

current_records (polars) must pick the same versions as corpus.current_by_kind (plain Python),
and the stance rows must follow gold > aggregate > majority, on random annotation histories.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newscorpus.config import load_config
from newscorpus.corpus import add_annotations, add_articles, current_by_kind
from newscorpus.layers import STANCE
from newscorpus.records import Annotation, sha256_hex
from newscorpus.release.tables import build_tables, current_records, label_lists, read_articles
from newscorpus.store import rewrite_jsonl
from tests.conftest import write_corpus
from tests.release.helpers import TOML, quote_span, synthetic_articles

TARGETS = ["us_forces_in_mexico", "cartels_as_terrorists"]
STANCE_VALUES = STANCE.value_names
LABEL = st.sampled_from([*STANCE_VALUES, "unresolved", None])
TIME = st.sampled_from([None, "", "2026-02-01T10:00:00Z", "2026-02-02T10:00:00Z"])
SOFT = st.sampled_from([{"favor": 0.5, "against": 0.5}, {"unresolved": 1.0}, {"neutral": 1}])


@st.composite
def histories(draw: Any) -> list[dict[str, Any]]:
    """Versions of annotations, aggregates and gold records over 4 articles (ties included)."""
    out = []
    for n in range(draw(st.integers(0, 30))):
        kind = draw(st.sampled_from(["annotation"] * 6 + ["aggregate", "gold"]))
        stance = {t: draw(LABEL) for t in TARGETS if draw(st.booleans())}
        soft = {t: draw(SOFT) for t in stance if draw(st.booleans())}
        out.append(
            {
                "kind": kind,
                "article": draw(st.integers(0, 3)),
                "annotator": draw(st.sampled_from(["a1", "a2", "a3", None]))
                if kind == "annotation"
                else draw(st.sampled_from(["majority", "dawid-skene", "adjudicator-01"])),
                "stance": stance,
                "spans": draw(st.integers(0, 2)),
                "created_at": draw(TIME),
                "updated_at": draw(TIME),
                "pulled_at": draw(
                    st.sampled_from(["2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"])
                ),
                "deleted": draw(st.booleans()) and draw(st.booleans()),
                "cancelled": draw(st.booleans()) and draw(st.booleans()),
                "extra": {"method": "majority", "soft": soft} if kind == "aggregate" else {},
                "n": n,
            }
        )
    return out


def _corpus(root: Path, history: list[dict[str, Any]]) -> Any:
    write_corpus(root, TOML)
    cfg = load_config(root)
    arts = synthetic_articles(0, 4, cluster_every=99)
    add_articles(cfg, arts, file="synthetic")
    anns = [
        Annotation(
            id=f"r{h['n']}",
            kind=h["kind"],
            article_id=arts[h["article"]].id,
            annotator=h["annotator"],
            stance=h["stance"],
            spans=[quote_span(arts[h["article"]], f"s{k}") for k in range(h["spans"])],
            created_at=h["created_at"],
            updated_at=h["updated_at"],
            pulled_at=h["pulled_at"],
            deleted=h["deleted"],
            cancelled=h["cancelled"],
            extra=h["extra"],
        )
        for h in history
    ]
    if anns:  # two files: the order of lines across files matters for ties
        half = len(anns) // 2
        add_annotations(cfg, anns[:half], "first")
        add_annotations(cfg, anns[half:], "second")
    return cfg, arts


def _latest(anns: list[Annotation]) -> Annotation:
    return max(anns, key=lambda a: (a.updated_at or a.created_at or "", a.pulled_at, a.id))


def expected_stance(cfg: Any, arts: list[Any]) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(article, target) -> (label, source, n, p_*): the rule written out record by record."""
    cur = current_by_kind(cfg)
    out: dict[tuple[str, str], tuple[Any, ...]] = {}
    for art in arts:
        raw = [a for a in cur["annotation"] if a.article_id == art.id]
        aggs = [a for a in cur["aggregate"] if a.article_id == art.id]
        golds = [a for a in cur["gold"] if a.article_id == art.id]
        agg = _latest(aggs) if aggs else None
        gold = _latest(golds) if golds else None
        for t in TARGETS:
            if gold is not None and gold.stance.get(t):
                out[(art.id, t)] = (gold.stance[t], "gold", None, None)
            elif agg is not None and agg.stance.get(t):
                soft = agg.extra.get("soft", {}).get(t)
                shares = tuple(soft.get(v, 0.0) for v in STANCE_VALUES) if soft else None
                out[(art.id, t)] = (agg.stance[t], "aggregate", None, shares)
            else:
                votes = Counter(v for a in raw if (v := a.stance.get(t)))
                if votes:
                    top = votes.most_common()
                    tie = len(top) > 1 and top[0][1] == top[1][1]
                    label = "unresolved" if tie else top[0][0]
                    n = sum(votes.values())
                    shares = tuple(votes[v] / n for v in STANCE_VALUES)
                    out[(art.id, t)] = (label, "majority", n, shares)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_columnwise_build_matches_the_record_wise_rules(history: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg, arts = _corpus(Path(tmp) / "corpus", history)
        # the same current versions as corpus.current_by_kind
        cur = current_records(cfg, TARGETS)
        ref = current_by_kind(cfg)
        got_ids = {k: set(f.get_column("id").to_list()) for k, f in cur.items()}
        assert got_ids["annotation"] == {a.id for a in ref["annotation"]}
        for kind in ("aggregate", "gold"):
            by_article: dict[str, list[Annotation]] = {}
            for a in ref[kind]:
                by_article.setdefault(a.article_id, []).append(a)
            assert got_ids[kind] == {_latest(v).id for v in by_article.values()}
        # stance: gold, else aggregate, else majority (ties unresolved)
        tables = build_tables(cfg, read_articles(cfg), ["train"] * len(arts))
        rows = tables.stance.to_dicts()
        got = {
            (r["article_id"], r["target"]): (
                r["label"],
                r["label_source"],
                r["n_annotators"] if r["label_source"] == "majority" else None,
                None if r["p_favor"] is None else tuple(r[f"p_{v}"] for v in STANCE_VALUES),
            )
            for r in rows
        }
        assert got == expected_stance(cfg, arts)
        # claims: the gold spans where gold has any, else the aggregate's
        claims = Counter(tables.claims.get_column("article_id").to_list())
        for art in arts:
            gold = [a for a in ref["gold"] if a.article_id == art.id]
            aggs = [a for a in ref["aggregate"] if a.article_id == art.id]
            spans = (
                _latest(gold).spans
                if gold and _latest(gold).spans
                else _latest(aggs).spans
                if aggs
                else []
            )
            assert claims.get(art.id, 0) == len(spans)
        # annotations: one row per current raw annotation, in article order
        order = {a.id: i for i, a in enumerate(arts)}
        ann_articles = tables.annotations.get_column("article_id").to_list()
        assert ann_articles == sorted(ann_articles, key=order.__getitem__)
        assert len(ann_articles) == len(ref["annotation"])


def test_label_lists_keep_labelled_targets_sorted() -> None:
    import polars as pl

    stance = pl.Series(
        [
            {"b": "favor", "a": None},
            {"b": None, "a": None},
            None,
            {"b": "against", "a": "neutral"},
        ],
        dtype=pl.Struct({"b": pl.String, "a": pl.String}),
    )
    assert label_lists(stance, ["b", "a"]).to_list() == [
        [{"target": "b", "label": "favor"}],
        [],
        [],
        [{"target": "a", "label": "neutral"}, {"target": "b", "label": "against"}],
    ]


def test_long_lines_and_empty_files_are_read(tmp_path: Path, monkeypatch: Any) -> None:
    """A line longer than the JSON reader's block retries with larger blocks; empty files count 0."""
    from newscorpus.release import tables

    monkeypatch.setattr(tables, "BLOCK_BYTES", 1024)
    write_corpus(tmp_path / "c", TOML)
    cfg = load_config(tmp_path / "c")
    arts = synthetic_articles(0, 3)
    arts[1].text = "fentanyl " * 2000  # ~18 KB: longer than a block
    arts[1].text_sha256 = sha256_hex(arts[1].text)
    records = [a.to_dict() for a in arts]
    del records[2]["text_sha256"]  # optional in the schema: computed when missing
    rewrite_jsonl(cfg.articles_dir / "a.jsonl", records)
    (cfg.articles_dir / "b.jsonl").write_text("", encoding="utf-8")
    (cfg.annotations_dir / "empty.jsonl").write_text("\n", encoding="utf-8")
    got = read_articles(cfg)
    assert got.get_column("text").to_list() == [a.text for a in arts]
    assert got.get_column("text_sha256").to_list() == [a.text_sha256 for a in arts]
    assert all(f.height == 0 for f in current_records(cfg, TARGETS).values())


def test_odd_target_ids_float_offsets_and_counts(tmp_path: Path) -> None:
    """Targets named like internal columns, and integers written as 63.0 (valid JSON Schema)."""
    toml = TOML.replace('id = "us_forces_in_mexico"', 'id = "label"').replace(
        'id = "cartels_as_terrorists"', 'id = "article_id"'
    )
    write_corpus(tmp_path / "c", toml)
    cfg = load_config(tmp_path / "c")
    arts = synthetic_articles(0, 2)
    add_articles(cfg, arts, file="a")
    span = quote_span(arts[0])
    rows = []
    for j, label in enumerate(["favor", "favor", "against"]):
        rows.append(
            Annotation(
                id=f"r{j}",
                kind="annotation",
                article_id=arts[0].id,
                annotator=f"a{j}",
                stance={"label": label, "article_id": "neutral"},
                spans=[dict(span, start=float(span["start"]), end=float(span["end"]))],
            ).to_dict()
        )
    agg = Annotation(
        id="g",
        kind="aggregate",
        article_id=arts[1].id,
        annotator="majority",
        stance={"label": "neutral"},
        extra={"n_annotators": {"label": 3.0}},
    ).to_dict()
    rewrite_jsonl(cfg.annotations_dir / "x.jsonl", [*rows, agg])
    tables = build_tables(cfg, read_articles(cfg), ["train", "train"])
    got = {(r["article_id"], r["target"]): r for r in tables.stance.to_dicts()}
    assert got[(arts[0].id, "label")]["label"] == "favor"
    assert got[(arts[0].id, "article_id")]["n_annotators"] == 3
    assert got[(arts[1].id, "label")]["n_annotators"] == 3
    spans = tables.annotations.get_column("spans").to_list()
    assert {(s["start"], s["end"]) for x in spans for s in x} == {(span["start"], span["end"])}
    assert isinstance(spans[0][0]["start"], int)


def test_a_record_the_reader_refuses_is_named_by_file_and_line(tmp_path: Path) -> None:
    """orjson keeps the last of two equal keys; Arrow refuses the line: name it."""
    from newscorpus.errors import ReleaseError

    write_corpus(tmp_path / "c", TOML)
    cfg = load_config(tmp_path / "c")
    arts = synthetic_articles(0, 1)
    add_articles(cfg, arts, file="a")
    ann = Annotation(id="r", kind="annotation", article_id=arts[0].id, annotator="a").to_dict()
    line = json.dumps(ann)[:-1] + ', "deleted": true}'
    path = cfg.annotations_dir / "x.jsonl"
    path.write_text(json.dumps(ann) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ReleaseError, match=rf"{path}:2: .*key 'deleted' appears twice"):
        current_records(cfg, TARGETS)
