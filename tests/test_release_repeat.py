"""A release is a function of the corpus: two releases of one corpus (at one date) are the same bytes,
and manifest.json keeps its one-key-a-line format through the typed Manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newscorpus.config import load_config
from newscorpus.corpus import add_articles
from newscorpus.gather.fetch import FetchFailed
from newscorpus.release import build, card
from newscorpus.release.facts import Placement
from newscorpus.release.hydrate import hydrate_release
from newscorpus.release.manifest import Manifest, SplitAssignment, read_manifest
from tests.release.helpers import build_corpus, make_release, synthetic_articles

DATE = "2026-03-04T05:06:07Z"


def tree(repo: Path) -> dict[str, bytes]:
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


def test_two_releases_of_one_corpus_are_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "utcnow", lambda: DATE)
    monkeypatch.setattr(card, "utcnow", lambda: DATE)
    cfg, _ = build_corpus(tmp_path / "corpus", n=12)
    a, b = tmp_path / "a", tmp_path / "b"
    make_release(cfg, version="1.0.0", to=a)
    make_release(cfg, version="1.0.0", to=b)
    first = tree(a)
    assert first == tree(b) and "manifest.json" in first and len(first) > 8
    add_articles(load_config(cfg.root), synthetic_articles(50, 4), file="more")
    make_release(cfg, bump="minor", to=a)
    make_release(cfg, bump="minor", to=b)
    assert tree(a) == tree(b) != first  # the second version, with its previous, alike too
    manifest = (a / "manifest.json").read_text(encoding="utf-8")
    previous = read_manifest(manifest, "manifest.json")
    assert previous.version == "1.1.0" and len(previous.articles) == 16
    assert manifest.count("\n") == len(json.loads(manifest)) + 2  # "{", a key a line, "}"


def test_the_manifest_is_written_one_key_a_line_in_a_fixed_order() -> None:
    m = Manifest(
        name="c",
        version="1.0.0",
        tag="v1.0.0",
        date=DATE,
        corpus_commit=None,
        corpus_dirty=False,
        newscorpus_version="0.1.0",
        split_shares={"train": 0.8, "test": 0.2},
        counts={"articles": {"train": 1, "test": 0}},
        split_assignment=SplitAssignment(kept=0, new=1),
        straddling_clusters=("c1",),
        annotations_per_item="No human annotations in this version.",
        agreement=None,
        files={"README.md": "ab"},
        articles={"a1": Placement("train", "a1")},
        labels={"a1": {"t": "favor"}},
        claims={},
        vocabularies={"stance.label": ("favor", "against")},
        features={"stance": {"label": {"names": ["favor", "against"], "_type": "ClassLabel"}}},
    )
    assert m.to_json() == (
        "{\n"
        '"name":"c",\n"version":"1.0.0",\n"tag":"v1.0.0",\n"date":"2026-03-04T05:06:07Z",\n'
        '"corpus_commit":null,\n"corpus_dirty":false,\n"newscorpus_version":"0.1.0",\n'
        '"split_shares":{"train":0.8,"test":0.2},\n"counts":{"articles":{"train":1,"test":0}},\n'
        '"vocabularies":{"stance.label":["favor","against"]},\n'
        '"features":{"stance":{"label":{"names":["favor","against"],"_type":"ClassLabel"}}},\n'
        '"split_assignment":{"kept":0,"new":1},\n"straddling_clusters":["c1"],\n'
        '"annotations_per_item":"No human annotations in this version.",\n"agreement":null,\n'
        '"files":{"README.md":"ab"},\n"articles":{"a1":{"split":"train","dup_cluster":"a1"}},\n'
        '"labels":{"a1":{"t":"favor"}},\n"claims":{}\n'
        "}\n"
    )
    back = read_manifest(m.to_json(), "manifest.json")
    assert back.articles == m.articles and back.labels == m.labels and back.claims == {}
    assert back.files == frozenset({"README.md"}) and back.counts == m.counts
    assert back.features == m.features


def test_hydrate_failures_are_typed_and_the_report_keeps_the_url_in_the_reason(
    tmp_path: Path,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = tmp_path / "data" / "articles" / "train-v1.0.0-00000-of-00001.parquet"
    table.parent.mkdir(parents=True)
    rows = {
        "id": ["a1", "a2", "a3"],
        "url": ["http://news.test/1", "http://news.test/2", None],
        "text": [None, None, None],
        "text_sha256": ["x", "y", "z"],
        "text_policy": ["hydrate"] * 3,
    }
    pq.write_table(pa.table(rows), table)

    def fetch(urls: list[str]) -> list[Exception]:
        assert urls == ["http://news.test/1", "http://news.test/2"]
        return [FetchFailed(urls[0], "http_404"), FetchFailed(urls[1], "too_large", "2 MB")]

    r = hydrate_release(tmp_path, fetch=lambda urls: iter(fetch(urls)))
    assert [f.message for f in r.failed] == [
        "a3 : no url",
        "a1 http://news.test/1: http_404",
        "a2 http://news.test/2: too_large: 2 MB",
    ]
    report = json.loads((tmp_path / "hydrate.json").read_text(encoding="utf-8"))
    assert report == {
        "filled": [],
        "mismatched": [],
        "failed": [
            {"id": "a3", "reason": "no url"},
            {"id": "a1", "url": "http://news.test/1", "reason": "http://news.test/1: http_404"},
            {
                "id": "a2",
                "url": "http://news.test/2",
                "reason": "http://news.test/2: too_large: 2 MB",
            },
        ],
        "already_filled": 0,
    }
