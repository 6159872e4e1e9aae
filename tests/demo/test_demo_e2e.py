"""The demo pipeline end to end on the session's real Label Studio, then its release loaded back."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import datasets
import pytest
import yaml

from newscorpus.config import load_config
from newscorpus.corpus import current_annotations, load_articles
from newscorpus.demo.run import NOTICE, DemoOptions, run_demo
from tests.conftest import _free_port, snapshot

pytestmark = pytest.mark.studio


def test_demo_runs_end_to_end_and_again(
    tmp_path: Path, studio_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABEL_STUDIO_URL", studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", studio_server.token)
    steps: list[tuple[str, str]] = []
    port = _free_port()
    opts = DemoOptions(sample_port=port)
    result = run_demo(tmp_path / "demo", lambda s, m: steps.append((s, m)), options=opts)

    names = [s for s, _ in steps]
    assert names == [
        "serve",
        "init",
        "gather",
        "push",
        "annotate",
        "pull",
        "agree",
        "aggregate",
        "release",
        "load",
        "hydrate",
    ]
    cfg = load_config(result.corpus)
    arts = load_articles(cfg)
    # 32 synthetic pages + the seed, less the off-topic and the broken page
    assert len(arts) == 31
    # the seed, the only real article, gathered once: under its own source, not the feed's
    (seed,) = [a for a in arts if not a.synthetic]
    assert seed.source == "seed" and seed.url.endswith("/seed/seed-article.html")
    assert {a.source for a in arts if a.synthetic} == {"demo-feed"}
    assert "31 new articles (demo-feed 30, seed 1)" in dict(steps)["gather"]
    # each step's result, typed: the same results the CLI's commands print
    assert result.steps.gather.new == 31
    assert result.steps.gather.new_by_source == {"demo-feed": 30, "seed": 1}
    assert result.steps.push.imported > 0 and result.steps.annotate.submitted > 0
    assert result.steps.release is not None and result.steps.release.version == "0.1.0"
    assert {s.name: s.text_policy for s in cfg.sources} == {"demo-feed": "full", "seed": "hydrate"}
    assert {a.language for a in arts} == {"es", "fr", "en"}
    clusters = {a.dup_cluster for a in arts}
    assert len(clusters) == 30  # the two syndicated copies share a cluster
    rejected = [json.loads(x) for x in cfg.rejected_path.read_text().splitlines()]
    assert sorted(r["reason"] for r in rejected) == ["extract_failed", "off_topic"]

    humans = current_annotations(cfg)
    assert len({a.annotator for a in humans}) == 3
    assert all(a.annotator and "@" not in a.annotator for a in humans)

    assert result.agreement is not None
    stance = result.agreement.stance["us_forces_in_mexico"]
    assert stance.units == 30 and stance.annotators == 3
    assert stance.alpha is not None and 0.3 < stance.alpha < 0.95  # realistic disagreement

    # the release is a git repository with the tag, loadable with datasets alone
    rel = result.release
    tags = subprocess.run(
        ["git", "-C", str(rel), "tag"], capture_output=True, text=True, check=True
    )
    assert tags.stdout.split() == ["v0.1.0"]
    manifest = json.loads((rel / "manifest.json").read_text())
    for config in ("articles", "stance", "claims", "annotations"):
        ds = datasets.load_dataset(str(rel), config, cache_dir=str(tmp_path / "hf-cache"))
        assert sum(len(s) for s in ds.values()) == result.loaded[config]
        assert result.loaded[config] > 0
    assert result.loaded["articles"] == 31
    assert result.loaded["stance"] == 30 * 2  # one row per cluster and target
    assert manifest["version"] == "0.1.0"
    text = "\n".join(
        p.read_text(errors="ignore")
        for p in rel.rglob("*")
        if p.is_file() and ".git" not in p.parts
    )
    assert "@demo.newscorpus.invalid" not in text and studio_server.token not in text

    # the seed is released without its text: url, title, hash and span offsets only
    released = _rows(rel, tmp_path / "hf-cache")
    (row,) = [r for r in released["articles"] if r["id"] == seed.id]
    assert row["text_policy"] == "hydrate" and row["text"] is None
    assert (row["url"], row["title"], row["text_sha256"]) == (
        seed.url,
        seed.title,
        seed.text_sha256,
    )
    texts = {a.id: a.text for a in arts}
    assert all(r["text"] == texts[r["id"]] for r in released["articles"] if r["id"] != seed.id)
    seed_claims, seed_spans = _seed_spans(released, seed.id)
    assert seed_claims and seed_spans, "the seed has annotated spans"
    assert all(s["text"] is None for s in [*seed_claims, *seed_spans])
    assert all(s["start"] < s["end"] <= len(seed.text) for s in [*seed_claims, *seed_spans])

    # the dataset card: the demo notice on top, the creators in its YAML header
    card = (rel / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["annotations_creators"] == ["machine-generated"]
    assert header["language_creators"] == ["expert-generated", "found"]
    assert f"> **Note:** {NOTICE}\n" in card
    assert "scripted demo accounts" in NOTICE and "not people" in NOTICE

    # hydrate on a copy of the release, against the sample server: the seed's text is back
    hydrated = result.hydrated
    assert hydrated == tmp_path / "demo" / "release-hydrated" and not (hydrated / ".git").exists()
    assert result.hydrate["filled"] == [seed.id]
    assert result.hydrate["mismatched"] == result.hydrate["failed"] == []
    assert dict(steps)["hydrate"] == (
        f"1 withheld text restored in {hydrated}, each matching its text_sha256"
        " (0 mismatched, 0 failed)"
    )
    assert json.loads((hydrated / "hydrate.json").read_text())["filled"] == [seed.id]
    full = _rows(hydrated, tmp_path / "hf-cache")
    (row,) = [r for r in full["articles"] if r["id"] == seed.id]
    assert row["text"] == seed.text and row["text_policy"] == "hydrate"
    seed_claims, seed_spans = _seed_spans(full, seed.id)
    assert seed_claims and seed_spans
    assert all(s["text"] == seed.text[s["start"] : s["end"]] for s in [*seed_claims, *seed_spans])
    assert _without(full, seed.id) == _without(released, seed.id), "only the seed's rows change"

    # running it again is safe: nothing new, the corpus and the release unchanged
    before_corpus = {
        k: v for k, v in snapshot(result.corpus).items() if not k.startswith(".newscorpus")
    }
    before_release = snapshot(rel)
    before_hydrated = snapshot(hydrated)
    steps.clear()
    again = run_demo(tmp_path / "demo", lambda s, m: steps.append((s, m)), options=opts)
    said = dict(steps)
    assert "0 new articles" in said["gather"]
    assert "0 tasks imported" in said["push"]
    assert "0 annotations submitted" in said["annotate"]
    assert "reused" in said["release"]
    assert again.steps.release is None and again.steps.gather.new == 0
    assert again.steps.annotate.already == result.steps.annotate.submitted
    assert said["hydrate"] == (
        f"{hydrated} reused: 1 withheld text restored, each matching its text_sha256"
    )
    assert [s for s, _ in steps] == [n for n in names if n != "init"]
    after_corpus = {
        k: v for k, v in snapshot(result.corpus).items() if not k.startswith(".newscorpus")
    }
    assert after_corpus == before_corpus
    assert snapshot(rel) == before_release
    assert snapshot(hydrated) == before_hydrated
    assert again.loaded == result.loaded
    assert again.hydrate == result.hydrate


def _rows(release: Path, cache: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of each config of a release folder, loaded with datasets (splits in order).

    With a cache of its own: datasets keys a local folder's cache by the folder's name and its
    card's YAML, not by its files, so ~/.cache may hold an earlier run's rows for "release".
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for config in ("articles", "claims", "annotations"):
        ds = datasets.load_dataset(str(release), config, cache_dir=str(cache))
        out[config] = [row for name in sorted(ds) for row in ds[name]]
    return out


def _without(
    rows: dict[str, list[dict[str, Any]]], article_id: str
) -> dict[str, list[dict[str, Any]]]:
    return {
        config: [r for r in rs if r.get("article_id", r.get("id")) != article_id]
        for config, rs in rows.items()
    }


def _seed_spans(
    rows: dict[str, list[dict[str, Any]]], seed_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The seed's rows of the claims config, and its spans in the annotations config."""
    claims = [r for r in rows["claims"] if r["article_id"] == seed_id]
    spans = [s for r in rows["annotations"] if r["article_id"] == seed_id for s in r["spans"]]
    return claims, spans
