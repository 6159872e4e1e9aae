"""The Label Studio side of the annotation layers as data: today's two layers give Label Studio
the same interface and pull the same records as before (pinned in tests/golden/), and a third,
per-article "frame" layer defined in a test reaches the project's interface on the real server,
the pulled record, ``agree`` and a release loaded with ``datasets``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree

from newscorpus import layers as layers_module
from newscorpus.cardtext import render_template
from newscorpus.config import Config, load_config
from newscorpus.corpus import add_annotations, add_articles
from newscorpus.errors import DataError
from newscorpus.labelstudio.convert import annotation_result, convert_annotation
from newscorpus.labelstudio.labeling import (
    MAX_TARGETS_WITH_KEYS,
    expected_interface,
    hotkeys,
    instructions_html,
    label_config,
    normal_key,
    reserved_keys,
    targets_with_keys,
)
from newscorpus.layers import CHOICES, SPANS, STANCE, ChoiceLayer, Layers, Value
from newscorpus.records import Annotation
from tests.conftest import MINIMAL_TOML, make_article, write_corpus
from tests.studio.helpers import (
    QUOTE_TEXT,
    SECOND_TARGET,
    articles,
    choice,
    export_of,
    full_result,
    span,
    studio_corpus,
    with_articles,
)

GOLDEN = Path(__file__).parent.parent / "golden" / "labelstudio_two_layers.json"
REGENERATE = "NEWSCORPUS_REGENERATE_GOLDEN"  # set to 1 to rewrite GOLDEN (then review the diff)

LONG_TARGET = "Synthetic target {n}: a statement about joint operations & <sovereignty>"
ODD_TARGET = (
    '\n[[targets]]\nid = "odd"\ntext = "Braces {key:spans:Claim} & <tags> \\"stay\\" text"\n'
)


def _targets(n: int) -> str:
    extra = "".join(
        f'\n[[targets]]\nid = "target_{i}"\ntext = "{LONG_TARGET.format(n=i)}"\n'
        for i in range(3, n + 1)
    )
    return (SECOND_TARGET if n >= 2 else "") + extra


def _corpus(root: Path, targets: str) -> Config:
    """A corpus with a fixed title (the instructions name it) and its DATA_CARD.md."""
    write_corpus(root, MINIMAL_TOML + targets)
    cfg = load_config(root)
    card = render_template(cfg.corpus.pretty_name, cfg.corpus.description, cfg.targets)
    (root / "DATA_CARD.md").write_text(card, encoding="utf-8")
    return cfg


CASES = {
    "one target": _targets(1),
    "two targets": _targets(2),
    "past the keys": _targets(MAX_TARGETS_WITH_KEYS + 2),
    "odd target text": ODD_TARGET,
}


def _result(text: str) -> list[dict[str, Any]]:
    """Every kind of item pull converts: stances, attributes, a labelled and an unlabelled
    speaker link, a relation that is no speaker link (kept as it is)."""
    out = full_result(text)
    out.append(span(text, "s2", "le ministère", "Speaker"))
    out.append({"type": "relation", "from_id": "c1", "to_id": "s2", "direction": "right"})
    out.append({"type": "relation", "from_id": "q1", "to_id": "c1", "direction": "right"})
    return out


def _server_annotation(cfg: Config, text: str) -> dict[str, Any]:
    task = {"id": 7, "data": {"article_id": "a1", "text": text}}
    ann = {
        "id": 70,
        "completed_by": {"id": 3},
        "result": _result(text),
        "created_at": "2026-01-02T10:00:00Z",
        "updated_at": "2026-01-02T10:05:00Z",
    }
    converted = convert_annotation(cfg, task, ann, expected_interface(cfg), "test")
    fields = {k: getattr(converted, k) for k in converted.__dataclass_fields__}
    if fields.get("choices", 0) is None:  # a field added with the choice layers: none today
        del fields["choices"]
    return fields


def _pulled_records(root: Path, cli: Callable[..., Any]) -> list[str]:
    """The lines `pull --from-export` writes, as text (the pseudonym's salt and the pull time
    are the corpus's and the clock's: replaced by placeholders)."""
    cfg = load_config(root)
    art = make_article(1, text=QUOTE_TEXT)
    add_articles(cfg, [art])
    export = export_of(root.parent / "export.json", art, _result(QUOTE_TEXT))
    res = cli("--corpus", root, "pull", "--from-export", export)
    assert res.exit_code == 0, res.output
    lines = []
    for path in sorted((root / "annotations").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            for key, placeholder in (("pulled_at", "<PULLED_AT>"), ("annotator", "<PSEUDONYM>")):
                assert line.count(json.dumps(rec[key])) == 1, key
                line = line.replace(json.dumps(rec[key]), json.dumps(placeholder))
            lines.append(line)
    return lines


def test_two_layers_give_label_studio_and_pull_what_they_gave_before(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """The labeling config, the instructions, the result of an annotation record (adjudication's
    gold candidates) and the records pull writes, byte for byte as before layers were data."""
    got: dict[str, Any] = {}
    for i, (name, targets) in enumerate(CASES.items()):
        cfg = _corpus(tmp_path / f"c{i}", targets)
        got[f"label_config: {name}"] = label_config(cfg)
        got[f"instructions: {name}"] = instructions_html(cfg)
    cfg = _corpus(tmp_path / "two", _targets(2))
    converted = _server_annotation(cfg, QUOTE_TEXT)
    got["convert_annotation"] = converted
    rec = Annotation(
        id="x",
        kind="gold",
        article_id="a1",
        annotator="adj",
        stance=converted["stance"],
        spans=converted["spans"],
    )
    got["annotation_result"] = annotation_result(rec, QUOTE_TEXT)
    got["pull --from-export"] = _pulled_records(cfg.root, cli)
    blob = json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get(REGENERATE) == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(blob, encoding="utf-8")
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    for key in want:
        assert got[key] == want[key], key
    assert blob == GOLDEN.read_text(encoding="utf-8")


# --- a third layer: a per-article frame choice, defined here only -----------------------------

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
FRAMES = FRAME.value_names


@pytest.fixture
def frame_layer(monkeypatch: pytest.MonkeyPatch) -> Layers:
    """The tool's layers with a per-article frame choice added (as tests/test_layers.py does)."""
    lay = Layers(stance=STANCE, spans=SPANS, choices=(FRAME,))
    monkeypatch.setattr(layers_module, "LAYERS", lay)
    return lay


def _keys(xml: str) -> list[tuple[str, str, str | None]]:
    """(control name, value, hotkey) of every Label and Choice of a config, in order."""
    return [
        (ctl.get("name", ""), item.get("value", ""), item.get("hotkey"))
        for ctl in ElementTree.fromstring(xml).iter()
        if ctl.tag in ("Labels", "Choices")
        for item in ctl
        if item.tag in ("Label", "Choice")
    ]


def test_a_frame_layer_gets_its_choices_block_with_keys_clear_of_label_studio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _corpus(tmp_path / "c", _targets(2))
    before = label_config(cfg)
    monkeypatch.setattr(
        layers_module, "LAYERS", Layers(stance=STANCE, spans=SPANS, choices=(FRAME,))
    )
    xml = label_config(cfg)
    root = ElementTree.fromstring(xml)
    (block,) = [c for c in root.iter("Choices") if c.get("name") == "frame"]
    assert (block.get("toName"), block.get("choice"), block.get("perRegion")) == (
        "text",
        "single-radio",
        None,
    )
    assert [c.get("value") for c in block.iter("Choice")] == list(FRAMES)
    assert FRAME.question in [h.get("value") for h in root.iter("Header")]
    # every other control keeps its keys; the frame's are its own and none of Label Studio's
    items = _keys(xml)
    assert [i for i in items if i[0] != "frame"] == _keys(before)
    keys = [normal_key(k or "") for _, _, k in items]
    assert "" not in keys and len(set(keys)) == len(keys)
    assert not set(keys) & reserved_keys()
    assert {(h.control, h.value, h.key) for h in hotkeys(cfg)} == set(items)
    assert targets_with_keys() == MAX_TARGETS_WITH_KEYS - 1  # the frame took four keys
    page = instructions_html(cfg)
    assert f"<td>{FRAME.question}</td>" in page
    # the interface's check takes a frame answer and refuses a value it does not offer
    iface = expected_interface(cfg)
    item = {"from_name": "frame", "to_name": "text", "type": "choices"}
    iface.check([{**item, "value": {"choices": ["security"]}}], "text", "here")
    with pytest.raises(DataError, match="here: frame: label 'trade' is not in the labeling"):
        iface.check([{**item, "value": {"choices": ["trade"]}}], "text", "here")


def test_a_frame_answer_converts_both_ways(tmp_path: Path, frame_layer: Layers) -> None:
    cfg = _corpus(tmp_path / "c", _targets(2))
    iface = expected_interface(cfg)
    task = {"id": 7, "data": {"article_id": "a1", "text": QUOTE_TEXT}}
    frame = choice("frame", "sovereignty")
    ann = {"id": 70, "completed_by": 3, "result": [*full_result(QUOTE_TEXT), frame]}
    got = convert_annotation(cfg, task, ann, iface, "test")
    assert got.choices == {"frame": "sovereignty"}
    assert got.stance == {"us_forces_in_mexico": "neutral", "cartels_as_terrorists": "unrelated"}
    unanswered = convert_annotation(cfg, task, {**ann, "result": []}, iface, "test")
    assert unanswered.choices == {"frame": None}
    rec = Annotation(
        id="x",
        kind="gold",
        article_id="a1",
        annotator="adj",
        stance=got.stance,
        spans=got.spans,
        extra={CHOICES: got.choices},
    )
    result = annotation_result(rec, QUOTE_TEXT)
    assert frame in result
    iface.check(result, QUOTE_TEXT, "gold")
    back = convert_annotation(cfg, task, {**ann, "result": result}, iface, "test")
    assert (back.choices, back.stance) == (got.choices, got.stance)
    assert len(back.spans) == len(got.spans)  # (the regions renumbered r0, r1, ...)


def test_stats_count_the_frame_labels(
    tmp_path: Path, cli: Callable[..., Any], frame_layer: Layers
) -> None:
    cfg = _corpus(tmp_path / "c", _targets(1))
    art = make_article(1)
    add_articles(cfg, [art])
    recs = [
        Annotation(
            id=f"a{i}",
            kind="annotation",
            article_id=art.id,
            annotator=f"ann-{i:010d}",
            stance={"us_forces_in_mexico": "favor"},
            extra={CHOICES: {"frame": value}},
        )
        for i, value in enumerate(("security", "security", None))
    ]
    add_annotations(cfg, recs, "pulled")
    res = cli("--corpus", cfg.root, "stats", "--json")
    assert res.exit_code == 0, res.output
    by_label = json.loads(res.stdout)["annotations"]["by_label"]
    assert {"layer": "frame", "label": "security", "count": 2} in by_label
    assert [r for r in by_label if r["layer"] == "frame"] == [
        {"layer": "frame", "label": "security", "count": 2}
    ]


# --- the frame layer on the real Label Studio -------------------------------------------------


def _frame_result(text: str, first: bool, stance: str, frame: str) -> list[dict[str, Any]]:
    """Stance for both targets (full spans on the quoted article) and a frame."""
    if first:
        result = full_result(text, stance)
    else:
        result = [
            choice("stance_us_forces_in_mexico", stance),
            choice("stance_cartels_as_terrorists", "unrelated"),
        ]
    return [*result, choice("frame", frame)]


@pytest.mark.studio
def test_a_frame_layer_goes_through_label_studio_pull_agree_and_the_release(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], frame_layer: Layers
) -> None:
    import datasets

    from newscorpus.annotation.pull import pull
    from newscorpus.annotation.push import push
    from newscorpus.corpus import current_annotations

    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(3))
    r = push(cfg, backend=studio_server.backend(cfg))
    admin = studio_server.client()
    # the project's interface, as the server keeps it, has the frame question
    xml = admin.project(r.project_id)["label_config"]
    (block,) = [c for c in ElementTree.fromstring(xml).iter("Choices") if c.get("name") == "frame"]
    assert [c.get("value") for c in block.iter("Choice")] == list(FRAMES)
    assert xml.strip() == label_config(cfg).strip()  # as push compares them
    # two annotators answer it through the API; pull writes their frames
    frames = {0: ("security", "security"), 1: ("economic", "economic"), 2: ("security", "other")}
    team = [studio_server.create_annotator(n)[0] for n in ("fran", "gil")]
    for i, art in enumerate(arts):
        for who, person in enumerate(team):
            stance = ("favor", "against", "neutral")[i]
            result = _frame_result(art.text, i == 0, stance, frames[i][who])
            admin.as_user(person.token).submit_annotation(r.task_ids[art.id], result)
    report = pull(cfg, backend=studio_server.backend(cfg))
    assert report.annotations == 6
    recs = list(current_annotations(cfg))
    got = {(rec.article_id, rec.annotator): rec.extra[CHOICES]["frame"] for rec in recs}
    people = sorted({rec.annotator for rec in recs}, key=lambda p: str(p))
    assert sorted(v for (aid, _), v in got.items() if aid == arts[2].id) == ["other", "security"]
    assert len(people) == 2 and len(got) == 6
    lines = "".join(p.read_text(encoding="utf-8") for p in cfg.annotations_dir.glob("*.jsonl"))
    assert lines.count('"choices":{"frame":"security"}') == 3
    # agree reports the frame layer
    res = cli("--corpus", cfg.root, "agree", "--json")
    assert res.exit_code == 0, res.output
    frame = json.loads(res.stdout)["choices"]["frame"]
    assert (frame["units"], frame["annotators"]) == (3, 2)
    assert frame["coincidences"]["labels"] == list(FRAMES)
    # a release has the frame config, loaded with datasets
    res = cli("--corpus", cfg.root, "aggregate")
    assert res.exit_code == 0, res.output
    repo = tmp_path / "repo"
    res = cli("--corpus", cfg.root, "release", "--version", "1.0.0", "--to", repo)
    assert res.exit_code == 0, res.output
    ds = datasets.load_dataset(str(repo), "frame", cache_dir=str(tmp_path / "cache"))
    assert isinstance(ds, datasets.DatasetDict)
    rows = {row["article_id"]: row for split in ds.values() for row in split}
    label = next(iter(ds.values())).features["label"]  # a ClassLabel: codes -> names
    assert {aid: label.int2str(row["label"]) for aid, row in rows.items()} == {
        arts[0].id: "security",
        arts[1].id: "economic",
        arts[2].id: "unresolved",
    }
    assert all(row["n_annotators"] == 2 for row in rows.values())


@pytest.mark.studio
@pytest.mark.browser
def test_the_annotator_sees_and_answers_the_frame_question(
    tmp_path: Path, studio_server: Any, frame_layer: Layers
) -> None:
    """The frame block below the stance questions, on screen at 1400x900; its key picks a
    frame. The screenshot is left in /tmp (look at it: it is not a docs picture)."""
    from newscorpus.annotation.push import push
    from tests.studio.test_browser import annotator_page, checked, open_task
    from tests.studio.test_layout import HEIGHT, WIDTH, on_screen, page_fits

    cfg = studio_corpus(tmp_path / "c")
    art = with_articles(cfg, [make_article(0, text=QUOTE_TEXT, url="http://news.test/frame")])[0]
    r = push(cfg, backend=studio_server.backend(cfg))
    key = {(h.control, h.value): h.key for h in hotkeys(cfg)}
    shot = Path("/tmp/labelstudio-frame-layer.png")
    with annotator_page(studio_server, WIDTH, HEIGHT) as page:
        editor = open_task(page, studio_server, r.project_id, r.task_ids[art.id], "Sheinbaum")
        header = editor.get_by_text(FRAME.question, exact=True).first
        block = header.locator("xpath=following::*[contains(@class, 'lsf-choices')][1]")
        labels = [block.locator("label", has_text=v).first for v in FRAMES]
        header.wait_for(state="visible", timeout=10_000)
        for _ in range(50):  # the panes are laid out after the text shows
            if all(on_screen(x) for x in (header, *labels)):
                break
            page.wait_for_timeout(100)
        assert all(on_screen(x) for x in (header, *labels)) and page_fits(page)
        press = key[("frame", "sovereignty")]
        page.keyboard.press(press.replace("shift+", "Shift+"))
        assert checked(block, ["sovereignty"]) == ["sovereignty"]
        page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
