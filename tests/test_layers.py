"""Annotation layers as data: today's two layers render byte for byte as before, and a third
layer defined in a test reaches agreement, aggregation, the release, the card and Croissant."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets
import krippendorff
import pyarrow.parquet as pq
import pytest
import yaml

from newscorpus import layers as layers_module
from newscorpus.cardtext import render_template
from newscorpus.config import load_config
from newscorpus.corpus import add_annotations, add_articles
from newscorpus.layers import CHOICES, SPANS, STANCE, ChoiceLayer, Layers, Value
from newscorpus.records import Annotation, Article, utcnow
from newscorpus.store import read_jsonl
from tests.conftest import make_article, snapshot, write_corpus

GOLDEN = Path(__file__).parent / "golden" / "two_layers.json"
REGENERATE = "NEWSCORPUS_REGENERATE_GOLDEN"  # set to 1 to rewrite GOLDEN (then review the diff)

TOML = """\
[corpus]
name = "layers-test"
pretty_name = "Layers test corpus (synthetic)"
description = "Synthetic articles for the layer tests."
languages = ["es", "fr", "en"]
license = "CC-BY-4.0"

[[targets]]
id = "us_forces_in_mexico"
text = "US forces in Mexico"

[[targets]]
id = "cartels_as_terrorists"
text = "Cartels as terrorists"

[[sources]]
name = "open"
kind = "urls"
url = "http://news.test/list.txt"

[[sources]]
name = "paywalled"
kind = "urls"
url = "http://paywalled.test/list.txt"
text_policy = "hydrate"
"""

T1, T2 = "us_forces_in_mexico", "cartels_as_terrorists"
VALUES = ("favor", "against", "neutral", "unrelated")
TEXT = (
    "Report {i}: the minister said fentanyl seizures doubled last year. "
    "\u201cWe need information, not soldiers,\u201d said the governor.\n\nSecond paragraph {i}."
)


def _articles() -> list[Article]:
    arts = []
    for i in range(12):
        source = "paywalled" if i % 4 == 3 else "open"
        host = "paywalled" if source == "paywalled" else "news"
        art = make_article(
            i,
            text=TEXT.format(i=i),
            source=source,
            language=("es", "fr", "en")[i % 3],
            url=f"http://{host}.test/a/{i}",
            fetched_at=f"2026-01-1{i % 10}T08:00:00Z",
        )
        if i % 5 == 1:
            art.dup_cluster = arts[-1].dup_cluster
        arts.append(art)
    return arts


def _spans(art: Article, who: int, k: int) -> list[dict[str, Any]]:
    text = art.text
    claim_start = text.index("the minister")
    claim_end = text.index(" last year") + (10 if who != 1 else 0)
    quote_start = text.index("\u201c")
    quote_end = text.index("\u201d") + 1
    speaker_start = text.index("the governor")
    speaker_end = speaker_start + len("the governor")
    spans: list[dict[str, Any]] = [
        {
            "id": f"c{who}",
            "start": claim_start,
            "end": claim_end,
            "label": "Claim",
            "checkworthy": ("yes", "no")[(k + who) % 2 if who == 2 else 0],
            "claim_type": ("statistical", "event", "policy")[(k * who) % 3],
        }
    ]
    if (k + who) % 3:
        spans.append({"id": f"q{who}", "start": quote_start, "end": quote_end, "label": "Quote"})
        spans.append(
            {"id": f"s{who}", "start": speaker_start, "end": speaker_end, "label": "Speaker"}
        )
        spans[-2]["speaker"] = f"s{who}"
    return [dict(s, text=text[s["start"] : s["end"]]) for s in spans]


def _annotations(arts: list[Article]) -> list[Annotation]:
    out = []
    for k, art in enumerate(arts[:10]):
        for who in range(3 if k % 4 else 2):
            stance: dict[str, str | None] = {
                T1: VALUES[(k + (who == 2)) % 4],
                T2: VALUES[(k + who) % 4] if k % 3 else None,
            }
            out.append(
                Annotation(
                    id=f"ann-{k}-{who}",
                    kind="annotation",
                    article_id=art.id,
                    annotator=f"ann-{who:010d}",
                    stance=stance,
                    spans=_spans(art, who, k),
                    task_id=100 + k,
                    annotation_id=1000 + 10 * k + who,
                    created_at=f"2026-02-0{1 + who}T10:00:00Z",
                    updated_at=f"2026-02-0{1 + who}T10:00:00Z",
                    pulled_at="2026-02-05T00:00:00Z",
                )
            )
    return out


def _gold(arts: list[Article]) -> list[Annotation]:
    art = arts[2]
    start = art.text.index("the minister")
    end = art.text.index(" last year")
    return [
        Annotation(
            id=f"gold-{art.id}",
            kind="gold",
            article_id=art.id,
            annotator="adjudicator-01",
            stance={T1: "against"},
            spans=[
                {
                    "id": "g1",
                    "start": start,
                    "end": end,
                    "label": "Claim",
                    "text": art.text[start:end],
                    "checkworthy": "yes",
                    "claim_type": "statistical",
                    "speaker": None,
                }
            ],
            created_at="2026-02-06T10:00:00Z",
            updated_at="2026-02-06T10:00:00Z",
            pulled_at="2026-02-06T11:00:00Z",
        )
    ]


def build_layer_corpus(root: Path, toml: str = TOML) -> Path:
    """A corpus with two stance targets, claims, quotes, speakers, ties, gold, a hydrate source."""
    write_corpus(root, toml)
    cfg = load_config(root)
    card = render_template(cfg.corpus.pretty_name, cfg.corpus.description, cfg.targets)
    (root / "DATA_CARD.md").write_text(card, encoding="utf-8")
    arts = _articles()
    add_articles(cfg, arts, file="synthetic")
    add_annotations(cfg, _annotations(arts), "pulled")
    add_annotations(cfg, _gold(arts), "gold")
    return root


def _parquet(path: Path) -> dict[str, Any]:
    table = pq.read_table(path)
    return {"schema": str(table.schema.remove_metadata()), "rows": table.to_pylist()}


def _undated(text: str, today: str) -> str:
    """The release date (and its year, in the citation) replaced by placeholders."""
    text = re.sub(re.escape(today) + r"(T\d\d:\d\d:\d\dZ)?", "<DATE>", text)
    return re.sub(r"year = \{\d{4}\}", "year = {<YEAR>}", text)


def run_everything(root: Path, repo: Path, cli: Callable[..., Any]) -> dict[str, Any]:
    """What agree, aggregate and release print and write, as text or rows."""
    out: dict[str, Any] = {}
    for name, args in (
        ("agree --json", ("agree", "--json")),
        ("agree --json --by language", ("agree", "--json", "--by", "language")),
        ("agree", ("agree",)),
        ("aggregate", ("aggregate",)),
        ("aggregate --method dawid-skene", ("aggregate", "--method", "dawid-skene")),
    ):
        res = cli("--corpus", root, *args)
        assert res.exit_code == 0, res.output
        out[name] = res.stdout.replace(str(root), "<CORPUS>")
    for rel in (
        "reports/agreement.md",
        "reports/agreement.json",
        "reports/annotator_reliability.json",
        "annotations/aggregate.jsonl",
    ):
        out[rel] = (root / rel).read_text(encoding="utf-8")
    today = utcnow()[:10]
    res = cli("--corpus", root, "release", "--version", "1.0.0", "--to", repo)
    assert res.exit_code == 0, res.output
    for path in sorted(p for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts):
        rel = str(path.relative_to(repo))
        if path.suffix == ".parquet":
            out[rel] = _parquet(path)
        elif path.suffix in (".md", ".json", ".jsonl", ".txt", ".cff") or path.name == "CHANGELOG":
            text = path.read_text(encoding="utf-8")
            out[rel] = _undated(text, today).replace(str(root), "<CORPUS>")
    return out


def test_todays_two_layers_give_the_same_outputs_as_before(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """agree, aggregate and a full release of a corpus with both layers, against a stored copy
    made before the layers became data (`agree --json`, reports, aggregate records, every
    release file; parquet files as schema and rows)."""
    root = build_layer_corpus(tmp_path / "corpus")
    got = run_everything(root, tmp_path / "repo", cli)
    blob = json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True, default=str) + "\n"
    if os.environ.get(REGENERATE) == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(blob, encoding="utf-8")
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = json.loads(blob)
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key


# --- a third layer, defined here only --------------------------------------------------------

FRAME = ChoiceLayer(
    name="frame",
    title="Frame",
    values=(
        Value("economic", "the article treats the subject as a matter of trade, money or jobs"),
        Value("security", "the article treats it as a matter of crime, violence or defence"),
        Value("sovereignty", "the article treats it as a matter of national sovereignty"),
        Value("other", "another frame, or none"),
    ),
    question="Which frame does the article use",
)
FRAMES = ("economic", "security", "sovereignty", "other")


@pytest.fixture
def frame_layer(monkeypatch: pytest.MonkeyPatch) -> Layers:
    """The tool's layers with a per-article frame choice added (layers.LAYERS, as a new layer
    would be added there)."""
    layers = Layers(stance=STANCE, spans=SPANS, choices=(FRAME,))
    monkeypatch.setattr(layers_module, "LAYERS", layers)
    return layers


def _frame_labels(root: Path) -> tuple[list[Article], list[list[str | None]]]:
    """Frame labels for the corpus's annotations (in the records' ``choices``), and a gold one."""
    cfg = load_config(root)
    arts = _articles()
    table: list[list[str | None]] = []
    records = []
    for k, art in enumerate(arts[:10]):
        row: list[str | None] = [None, None, None]
        for who in range(3 if k % 4 else 2):
            value = FRAMES[(k + (who == 2 and k % 2)) % 4]
            row[who] = value
            records.append(
                Annotation(
                    id=f"ann-{k}-{who}-frame",
                    kind="annotation",
                    article_id=art.id,
                    annotator=f"ann-{who:010d}",
                    stance={T1: VALUES[k % 4]},
                    spans=[],
                    task_id=100 + k,
                    annotation_id=1000 + 10 * k + who,
                    created_at=f"2026-02-0{1 + who}T10:00:00Z",
                    updated_at=f"2026-02-0{1 + who}T11:00:00Z",  # later than the first version
                    pulled_at="2026-02-05T00:00:00Z",
                    extra={CHOICES: {"frame": value}},
                )
            )
        table.append(row)
    gold = Annotation(
        id=f"gold-frame-{arts[4].id}",
        kind="gold",
        article_id=arts[4].id,
        annotator="adjudicator-01",
        stance={},
        spans=[],
        created_at="2026-02-07T10:00:00Z",
        updated_at="2026-02-07T10:00:00Z",
        pulled_at="2026-02-07T11:00:00Z",
        extra={CHOICES: {"frame": "sovereignty"}},
    )
    add_annotations(cfg, records, "framed")
    add_annotations(cfg, [gold], "gold-frame")
    return arts, table


def test_a_frame_layer_reaches_agreement_aggregation_release_card_and_croissant(
    tmp_path: Path, cli: Callable[..., Any], frame_layer: Layers
) -> None:
    root = build_layer_corpus(tmp_path / "corpus")
    arts, table = _frame_labels(root)

    # agreement: alpha of the frame question, as the krippendorff package computes it
    res = cli("--corpus", root, "agree", "--json")
    assert res.exit_code == 0, res.output
    frame = json.loads(res.stdout)["choices"]["frame"]
    codes = [[FRAMES.index(v) if v else float("nan") for v in row] for row in table]
    want = krippendorff.alpha(
        reliability_data=list(zip(*codes, strict=True)), level_of_measurement="nominal"
    )
    assert frame["units"] == 10 and frame["annotators"] == 3
    assert frame["alpha"] == pytest.approx(want, abs=1e-12)
    assert frame["coincidences"]["labels"] == list(FRAMES)
    assert cli("--corpus", root, "agree").exit_code == 0
    report = (root / "reports" / "agreement.md").read_text(encoding="utf-8")
    assert "## Per-article choices" in report and "| frame |" in report
    assert (root / "reports" / "agreement_confusion_choice_frame.png").is_file()

    # aggregation: majority and Dawid-Skene over the frame values
    assert cli("--corpus", root, "aggregate").exit_code == 0
    res = cli("--corpus", root, "aggregate", "--method", "dawid-skene")
    assert res.exit_code == 0, res.output
    assert "per-article choice labels" in res.stdout
    aggs = {r["id"]: r for r in read_jsonl(root / "annotations" / "aggregate.jsonl")}
    majority = {r["article_id"]: r for r in aggs.values() if r["method"] == "majority"}
    for k, row in enumerate(table):
        votes = [v for v in row if v]
        top = max(set(votes), key=votes.count)
        tied = sum(1 for v in set(votes) if votes.count(v) == votes.count(top)) > 1
        rec = majority[arts[k].id]
        assert rec["choices"]["frame"] == ("unresolved" if tied else top)
        assert rec["choices_n_annotators"]["frame"] == len(votes)
        assert sum(rec["choices_soft"]["frame"].values()) == pytest.approx(1.0)
    rel = json.loads((root / "reports" / "annotator_reliability.json").read_text("utf-8"))
    assert set(rel["choices"]["frame"]["priors"]) == set(FRAMES)

    # the release: a `frame` config loaded with datasets, a frame column in annotations
    repo = tmp_path / "repo"
    res = cli("--corpus", root, "release", "--version", "1.0.0", "--to", repo)
    assert res.exit_code == 0, res.output
    cache = tmp_path / "cache"
    ds = datasets.load_dataset(str(repo), "frame", cache_dir=str(cache))
    assert isinstance(ds, datasets.DatasetDict)
    rows = {r["article_id"]: r for split in ds.values() for r in split}
    assert set(rows) == {a.id for a in arts[:10]}
    frame_label = ds["train"].features["label"]  # a ClassLabel of the layer's values
    assert frame_label.names == [*FRAMES, "unresolved"]
    assert frame_label.int2str(rows[arts[4].id]["label"]) == "sovereignty"
    assert rows[arts[4].id]["label_source"] == "gold" and rows[arts[4].id]["p_economic"] is None
    agg = rows[arts[0].id]
    assert agg["label_source"] == "aggregate" and agg["method"] == "majority"  # latest by id
    assert sum(agg[f"p_{v}"] for v in FRAMES) == pytest.approx(1.0, abs=1e-5)
    assert list(ds["train"].features) == [
        "article_id",
        "label",
        "label_source",
        "method",
        *[f"p_{v}" for v in FRAMES],
        "n_annotators",
        "language",
    ]
    anns = datasets.load_dataset(str(repo), "annotations", cache_dir=str(cache))
    assert isinstance(anns, datasets.DatasetDict)
    own = anns["train"].features["frame"]  # the annotator's own label: the same ClassLabel
    assert isinstance(own, datasets.ClassLabel) and own.names == frame_label.names
    given = {
        (r["article_id"], r["annotator"]): own.int2str(r["frame"]) if r["frame"] >= 0 else None
        for s in anns.values()
        for r in s
    }
    assert given[(arts[1].id, "ann-0000000002")] == table[1][2]
    # stance and claims as before: the frame layer took nothing away
    stance = datasets.load_dataset(str(repo), "stance", cache_dir=str(cache))
    assert isinstance(stance, datasets.DatasetDict) and sum(s.num_rows for s in stance.values())

    # the card: YAML configs, the config and its fields, the frame values and their meanings
    card = (repo / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(card.split("---\n")[1])
    assert "frame" in [c["config_name"] for c in header["configs"]]
    assert "### Data fields: `frame`" in card and "| `p_sovereignty` | `float32` |" in card
    assert "Frame labels (`frame.label`, `annotations.frame`)" in card
    assert f"- `sovereignty`: {FRAME.meaning('sovereignty')}." in card
    assert "`frame` | `class_label` | The annotator's frame label" in card

    # Croissant: a record set with the schema's fields, and the protocol names the layer
    doc = json.loads((repo / "croissant.json").read_text(encoding="utf-8"))
    sets = {r["@id"]: r for r in doc["recordSet"]}
    assert [f["name"] for f in sets["frame"]["field"]] == [*ds["train"].features, "split"]
    assert any(f["@id"] == "annotations/frame" for f in sets["annotations"]["field"])
    assert any(
        line.startswith("Frame (economic, security") for line in doc["rai:dataAnnotationProtocol"]
    )

    # the template of a new corpus's card asks annotators for the frame too
    cfg = load_config(root)
    template = render_template(cfg.corpus.pretty_name, cfg.corpus.description, cfg.targets)
    assert "### Frame" in template and f"- **other**: {FRAME.meaning('other')}." in template


def test_a_label_of_an_unknown_layer_is_an_error_naming_the_task(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """Without the frame layer defined, a record's frame label is refused, not ignored."""
    root = build_layer_corpus(tmp_path / "corpus")
    _frame_labels(root)
    before = snapshot(root)
    res = cli("--corpus", root, "agree")
    assert res.exit_code == 1
    assert "task 100 (annotation ann-0-0-frame" in res.stderr
    assert "choices: layer 'frame' is unknown (layers: none)" in res.stderr
    assert "Traceback" not in res.output and snapshot(root) == before


def test_bad_frame_label_is_an_error_naming_the_task(
    tmp_path: Path, cli: Callable[..., Any], frame_layer: Layers
) -> None:
    root = build_layer_corpus(tmp_path / "corpus")
    arts = _articles()
    bad = Annotation(
        id="ann-bad",
        kind="annotation",
        article_id=arts[0].id,
        annotator="ann-0000000009",
        task_id=7,
        pulled_at="2026-02-05T00:00:00Z",
        extra={CHOICES: {"frame": "cultural"}},
    )
    add_annotations(load_config(root), [bad], "bad")
    before = snapshot(root)
    for args in (("agree",), ("aggregate",)):
        res = cli("--corpus", root, *args)
        assert res.exit_code == 1, res.output
        assert "task 7 (annotation ann-bad" in res.stderr
        assert "frame label 'cultural' is not one of economic, security, sovereignty, other" in (
            res.stderr
        )
        assert snapshot(root) == before
