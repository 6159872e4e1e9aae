"""The generated labeling config, the instructions, pre-annotations and article selection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree

from newscorpus.annotation.push import PushOptions, select_articles
from newscorpus.errors import DataError
from newscorpus.labelstudio.labeling import (
    expected_interface,
    instructions_html,
    js_offset,
    label_config,
    py_offset,
)
from newscorpus.labelstudio.prelabel import prediction, prelabel_result
from tests.conftest import make_article
from tests.studio.helpers import QUOTE_TEXT, studio_corpus


def test_config_has_the_fixed_names(tmp_path: Path) -> None:
    cfg = studio_corpus(tmp_path / "c")
    root = ElementTree.fromstring(label_config(cfg))
    text = [e for e in root.iter("Text") if e.get("name") == "text"]
    assert len(text) == 1 and text[0].get("value") == "$text"
    headers = [h.get("value") for h in root.iter("Header")]
    assert headers[:3] == ["$title", "$site", "$published"]
    for t in cfg.targets:
        ch = [c for c in root.iter("Choices") if c.get("name") == f"stance_{t.id}"]
        assert len(ch) == 1
        assert ch[0].get("toName") == "text" and ch[0].get("choice") == "single-radio"
        assert ch[0].get("required") == "true"
        assert [c.get("value") for c in ch[0].iter("Choice")] == [
            "favor",
            "against",
            "neutral",
            "unrelated",
        ]
        assert f"Stance towards: {t.text}" in headers
    labels = next(e for e in root.iter("Labels") if e.get("name") == "spans")
    assert [lab.get("value") for lab in labels.iter("Label")] == ["Claim", "Quote", "Speaker"]
    assert [r.get("value") for r in root.iter("Relation")] == ["said"]
    iface = expected_interface(cfg)
    assert iface.controls["checkworthy"].per_region and iface.controls["claim_type"].per_region
    assert set(iface.controls["claim_type"].values) == {
        "statistical",
        "causal",
        "event",
        "prediction",
        "policy",
        "other",
    }
    region_view = next(v for v in root.iter("View") if v.get("visibleWhen") == "region-selected")
    assert region_view.get("whenLabelValue") == "Claim"


def test_instructions_are_the_data_card_guidelines(tmp_path: Path) -> None:
    cfg = studio_corpus(tmp_path / "c")
    (tmp_path / "c" / "DATA_CARD.md").write_text(
        "## Intro\n\nnot this\n\n## Annotation guidelines\n\n### Stance\n\n- **favor**: for it\n\n"
        "## Known limitations\n\nnot this either\n",
        encoding="utf-8",
    )
    html = instructions_html(cfg)
    assert "<h3>Stance</h3>" in html and "<strong>favor</strong>" in html
    assert "not this" not in html


def test_prelabels_quotes_speakers_and_figures() -> None:
    result = prelabel_result(QUOTE_TEXT)
    by_label = {r["value"]["labels"][0]: r for r in result if r.get("type") == "labels"}
    assert (
        by_label["Quote"]["value"]["text"] == "Ce dont nous avons besoin, ce sont des informations"
    )
    assert by_label["Speaker"]["value"]["text"] == "Sheinbaum"
    assert by_label["Claim"]["value"]["text"].startswith("Selon le ministère, 97 %")
    rel = next(r for r in result if r.get("type") == "relation")
    assert (rel["from_id"], rel["to_id"], rel["labels"]) == (
        by_label["Speaker"]["id"],
        by_label["Quote"]["id"],
        ["said"],
    )
    for text, speaker in (
        ('"We will not accept foreign troops here," said John Smith.', "John Smith"),
        ("“No necesitamos soldados extranjeros en México”, dijo García Harfuch.", "García Harfuch"),
        (
            "Omar García Harfuch declaró: «La cooperación sigue siendo total».",
            "Omar García Harfuch",
        ),
    ):
        spans = {
            r["value"]["labels"][0]: r["value"]["text"]
            for r in prelabel_result(text)
            if "value" in r and "labels" in r["value"]
        }
        assert spans.get("Speaker") == speaker, text
    assert prelabel_result("Nothing quoted and no figures here at all.") == []


def test_predictions_are_checked_against_the_config(tmp_path: Path) -> None:
    cfg = studio_corpus(tmp_path / "c")
    iface = expected_interface(cfg)
    art = make_article(1, text=QUOTE_TEXT)
    pred = prediction(art, iface)
    assert pred is not None and pred["model_version"].startswith("newscorpus-heuristics")
    bad = [dict(r) for r in pred["result"]]
    bad[0] = {**bad[0], "value": {**bad[0]["value"], "labels": ["Opinion"]}}
    with pytest.raises(DataError, match="'Opinion' is not in the labeling config"):
        iface.check(bad, art.text, "here")
    outside = [{**bad[0], "value": {**pred["result"][0]["value"], "end": 10_000}}]
    with pytest.raises(DataError, match="outside the text"):
        iface.check(outside, art.text, "here")


def test_offsets_count_utf16_units_like_label_studio() -> None:
    text = "a😀b «quote here»"
    i = text.index("b")
    assert js_offset(text, i) == i + 1
    assert py_offset(text, js_offset(text, i)) == i
    assert py_offset("plain", 3) == 3


def test_selection_one_task_per_cluster_filters_and_sample() -> None:
    a = make_article(1, language="fr", source="s1")
    b = make_article(2, dup_cluster=a.id, language="fr", source="s1")  # near-duplicate of a
    c = make_article(3, language="es", source="s2", published="2026-03-01T00:00:00Z")
    d = make_article(4, language="en", source="s2", published="2025-01-01T00:00:00Z")
    arts = [a, b, c, d]
    assert [x.id for x in select_articles(arts, PushOptions())] == [a.id, c.id, d.id]
    assert [x.id for x in select_articles(arts, PushOptions(language="es"))] == [c.id]
    assert [x.id for x in select_articles(arts, PushOptions(source="s2"))] == [c.id, d.id]
    assert [x.id for x in select_articles(arts, PushOptions(since="2026-02-01"))] == [c.id]
    assert len(select_articles(arts, PushOptions(limit=2))) == 2
    s1 = select_articles(arts, PushOptions(sample=2, seed=7))
    assert [x.id for x in s1] == [
        x.id for x in select_articles(arts, PushOptions(sample=2, seed=7))
    ]
    assert len(s1) == 2 and b.id not in {x.id for x in s1}
    # a time-zone aware --since against a naive published date (and the reverse) compares
    e = make_article(5, published="2026-03-01")
    assert select_articles([e], PushOptions(since="2026-02-01T00:00:00Z")) == [e]
    assert select_articles([c], PushOptions(since="2026-04-01")) == []
    bad = make_article(6, published="2026-13-45")
    with pytest.raises(DataError, match=f"article {bad.id}: published: '2026-13-45'"):
        select_articles([bad], PushOptions(since="2026-01-01"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "0"], "--limit: must be an integer from 1 to 1,000,000,000 (articles), got 0"),
        (
            ["--sample", "0"],
            "--sample: must be an integer from 1 to 1,000,000,000 (articles), got 0",
        ),
        (
            ["--overlap", "0"],
            "--overlap: must be an integer from 1 to 100 (annotations per task), got 0",
        ),
        (["--since", "not-a-date"], "--since: 'not-a-date' is not an ISO date"),
        (["--language", "english"], "--language 'english': not one of the corpus's languages"),
    ],
)
def test_push_refuses_bad_options_before_contacting_the_server(
    tmp_path: Path, cli: Any, args: list[str], message: str
) -> None:
    from tests.conftest import snapshot

    cfg = studio_corpus(tmp_path / "c")
    before = snapshot(cfg.root)
    env = {"LABEL_STUDIO_URL": "http://127.0.0.1:9", "LABEL_STUDIO_API_KEY": "not-a-token"}
    res = cli("--corpus", cfg.root, "push", *args, env=env)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}")
    assert snapshot(cfg.root) == before


def test_start_refuses_a_busy_port(tmp_path: Path) -> None:
    import socket

    from newscorpus.errors import StudioError
    from newscorpus.labelstudio.server import start

    cfg = studio_corpus(tmp_path / "c")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(StudioError, match=f"port {port} on 127.0.0.1 is busy"):
            start(cfg, port=port)
    assert not (cfg.state_dir / "studio.json").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"LABEL_STUDIO_URL": "http://127.0.0.1:9", "LABEL_STUDIO_API_KEY": ""},
            "LABEL_STUDIO_URL is set but LABEL_STUDIO_API_KEY is not",
        ),
        (
            {"LABEL_STUDIO_URL": "http://[::1", "LABEL_STUDIO_API_KEY": "k"},
            "LABEL_STUDIO_URL 'http://[::1': not an http(s) URL with a host",
        ),
    ],
)
def test_bad_label_studio_environment_is_a_config_error(
    tmp_path: Path, cli: Any, env: dict[str, str], message: str
) -> None:
    from tests.conftest import snapshot

    cfg = studio_corpus(tmp_path / "c")
    before = snapshot(cfg.root)
    for cmd in ("push", "pull"):
        res = cli("--corpus", cfg.root, cmd, env=env)
        assert res.exit_code == 2, res.output
        assert res.stderr.startswith(f"error: {message}")
        assert len(res.stderr.strip().splitlines()) == 1
    assert snapshot(cfg.root) == before


@pytest.mark.parametrize("port", ["0", "70000"])
def test_studio_start_refuses_a_port_out_of_range(tmp_path: Path, cli: Any, port: str) -> None:
    cfg = studio_corpus(tmp_path / "c")
    res = cli("--corpus", cfg.root, "studio", "start", "--port", port)
    assert res.exit_code == 2, res.output
    assert res.stderr.strip() == f"error: --port: must be an integer from 1 to 65535, got {port}"
    assert not (cfg.root / ".newscorpus").exists()
