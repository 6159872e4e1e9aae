"""The demo pipeline end to end on the session's real Label Studio, then its release loaded back."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import datasets
import pytest

from newscorpus.config import load_config
from newscorpus.corpus import current_annotations, load_articles
from newscorpus.demo.run import run_demo
from tests.conftest import _free_port, snapshot

pytestmark = pytest.mark.studio


def test_demo_runs_end_to_end_and_again(
    tmp_path: Path, studio_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABEL_STUDIO_URL", studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", studio_server.token)
    steps: list[tuple[str, str]] = []
    port = _free_port()
    result = run_demo(tmp_path / "demo", lambda s, m: steps.append((s, m)), sample_port=port)

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
    ]
    cfg = load_config(result.corpus)
    arts = load_articles(cfg)
    # 32 synthetic pages + the seed, less the off-topic and the broken page
    assert len(arts) == 31
    assert sum(not a.synthetic for a in arts) == 1  # the seed, the only real article
    assert {a.language for a in arts} == {"es", "fr", "en"}
    clusters = {a.dup_cluster for a in arts}
    assert len(clusters) == 30  # the two syndicated copies share a cluster
    rejected = [json.loads(x) for x in cfg.rejected_path.read_text().splitlines()]
    assert sorted(r["reason"] for r in rejected) == ["extract_failed", "off_topic"]

    humans = current_annotations(cfg)
    assert len({a.annotator for a in humans}) == 3
    assert all(a.annotator and "@" not in a.annotator for a in humans)

    stance = result.agreement["stance"]["us_forces_in_mexico"]
    assert stance["units"] == 30 and stance["annotators"] == 3
    assert 0.3 < stance["alpha"] < 0.95  # realistic disagreement, not perfect agreement

    # the release is a git repository with the tag, loadable with datasets alone
    rel = result.release
    tags = subprocess.run(
        ["git", "-C", str(rel), "tag"], capture_output=True, text=True, check=True
    )
    assert tags.stdout.split() == ["v0.1.0"]
    manifest = json.loads((rel / "manifest.json").read_text())
    for config in ("articles", "stance", "claims", "annotations"):
        ds = datasets.load_dataset(str(rel), config)
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

    # running it again is safe: nothing new, the corpus and the release unchanged
    before_corpus = {
        k: v for k, v in snapshot(result.corpus).items() if not k.startswith(".newscorpus")
    }
    before_release = snapshot(rel)
    steps.clear()
    again = run_demo(tmp_path / "demo", lambda s, m: steps.append((s, m)), sample_port=port)
    said = dict(steps)
    assert "0 new articles" in said["gather"]
    assert "0 tasks imported" in said["push"]
    assert "0 annotations submitted" in said["annotate"]
    assert "reused" in said["release"]
    after_corpus = {
        k: v for k, v in snapshot(result.corpus).items() if not k.startswith(".newscorpus")
    }
    assert after_corpus == before_corpus
    assert snapshot(rel) == before_release
    assert again.loaded == result.loaded
