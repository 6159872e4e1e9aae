"""Typed labels (issue 16): closed-set columns are datasets ClassLabel features, and the card,
the manifest, Croissant and the parquet files' own metadata give the same vocabularies."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets
import orjson
import pyarrow.parquet as pq
import pytest

from newscorpus.config import Config
from newscorpus.layers import NO_LABEL, UNRESOLVED, defined, vocabularies
from newscorpus.release import build
from newscorpus.release.tables import config_vocabularies
from newscorpus.validate import Report
from tests.conftest import snapshot
from tests.release.helpers import (
    build_corpus,
    gold_for,
    make_release,
    quote_span,
    synthetic_articles,
)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, Path]:
    base = tmp_path_factory.mktemp("typed")
    cfg, _ = build_corpus(base / "corpus", n=24)
    make_release(cfg, version="1.0.0", to=base / "repo")
    return cfg, base / "repo"


def _load(repo: Path, config: str, cache: Path) -> datasets.DatasetDict:
    ds = datasets.load_dataset(str(repo), config, cache_dir=str(cache))
    assert isinstance(ds, datasets.DatasetDict)
    return ds


def _class_labels(features: Any, prefix: str = "") -> dict[str, list[str]]:
    """column (``spans.label`` for a field of a list of structs) -> ClassLabel names."""
    out: dict[str, list[str]] = {}
    for name, feature in features.items():
        if isinstance(feature, datasets.ClassLabel):
            out[f"{prefix}{name}"] = list(feature.names)
        elif isinstance(feature, datasets.List) and isinstance(feature.feature, dict):
            out.update(_class_labels(feature.feature, f"{prefix}{name}."))
    return out


def test_labels_load_as_class_labels_whose_names_give_back_the_labels(
    released: tuple[Config, Path], tmp_path: Path
) -> None:
    _, repo = released
    layers = defined()
    manifest = json.loads((repo / "manifest.json").read_text(encoding="utf-8"))
    stance = _load(repo, "stance", tmp_path)
    label = stance["train"].features["label"]
    assert isinstance(label, datasets.ClassLabel)
    assert label.names == [*layers.stance.value_names, UNRESOLVED]
    # the codes decode to the labels the manifest records as strings, row for row
    decoded = {
        (r["article_id"], r["target"]): label.int2str(r["label"])
        for split in stance.values()
        for r in split
    }
    recorded = {(a, t): v for a, by in manifest["labels"].items() for t, v in by.items()}
    assert decoded == recorded and UNRESOLVED in decoded.values()
    claims = _load(repo, "claims", tmp_path)["train"]
    assert claims.features["label"].names == list(layers.spans.label_names)
    row = claims[0]
    assert claims.features["label"].int2str(row["label"]) == "Quote"
    # aggregate_for: checkworthy "no", claim_type null -> -1 (ClassLabel has no null)
    assert claims.features["checkworthy"].int2str(row["checkworthy"]) == "no"
    assert row["claim_type"] == NO_LABEL
    anns = _load(repo, "annotations", tmp_path)["train"]
    spans = anns.features["spans"]
    assert isinstance(spans, datasets.List)
    assert spans.feature["label"].names == list(layers.spans.label_names)
    first = anns[0]["spans"][0]
    assert spans.feature["label"].int2str(first["label"]) == "Quote"
    assert (first["checkworthy"], first["claim_type"]) == (NO_LABEL, NO_LABEL)
    # an annotator's own stance and choice labels: the same ClassLabels as the decided ones
    own = anns.features["stance"].feature["label"]
    assert isinstance(own, datasets.ClassLabel) and own.names == label.names
    given = [own.int2str(s["label"]) for r in anns for s in r["stance"]]
    assert given and set(given) <= set(layers.stance.value_names)  # one annotator: no unresolved
    for c in layers.choices:
        feature = anns.features[c.name]
        assert isinstance(feature, datasets.ClassLabel)
        assert feature.names == [*c.value_names, UNRESOLVED]
        codes = [r[c.name] for r in anns]
        assert any(code != NO_LABEL for code in codes)
        assert {feature.int2str(code) for code in codes if code != NO_LABEL} <= set(c.value_names)


def _card_vocabularies(card: str) -> dict[str, list[str]]:
    section = card.split("### Label vocabularies\n", 1)[1].split("\n### ", 1)[0]
    out = {}
    for line in section.splitlines():
        m = re.fullmatch(r"\| `([\w.]+)` \| (.+) \|", line)
        if m:
            codes = [c.split(" ", 1) for c in m.group(2).split(", ")]
            assert [int(i) for i, _ in codes] == list(range(len(codes)))
            out[m.group(1)] = [name.strip("`") for _, name in codes]
    return out


def test_card_manifest_croissant_and_parquet_metadata_give_the_same_vocabularies(
    released: tuple[Config, Path], tmp_path: Path
) -> None:
    import mlcroissant as mlc

    _, repo = released
    want = {k: list(v) for k, v in vocabularies().items()}  # every config here has rows
    manifest = json.loads((repo / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["vocabularies"] == want
    card = (repo / "README.md").read_text(encoding="utf-8")
    assert _card_vocabularies(card) == want
    assert "int2str" in card and f"`{NO_LABEL}` means no label" in card
    assert "| `label` | `class_label` |" in card
    # every parquet file's huggingface metadata, read as datasets reads it
    parquet: dict[str, list[str]] = {}
    for path in sorted((repo / "data").rglob("*.parquet")):
        config = path.parent.name
        features = datasets.Features.from_arrow_schema(pq.read_schema(path))
        got = {f"{config}.{k}": v for k, v in _class_labels(features).items()}
        assert got == {f"{config}.{k}": list(v) for k, v in config_vocabularies(config).items()}
        parquet.update(got)
        loaded = _load(repo, config, tmp_path / config)
        assert {
            f"{config}.{k}": v for k, v in _class_labels(loaded["train"].features).items()
        } == got
    assert parquet == want
    # Croissant: coded fields are integers naming their codes and referencing an enumeration
    doc = orjson.loads((repo / "croissant.json").read_bytes())
    sets = {r["@id"]: r for r in doc["recordSet"]}
    enums = {
        rid.removeprefix("vocabulary/"): [row[f"{rid}/name"] for row in rs["data"]]
        for rid, rs in sets.items()
        if rs.get("dataType") == "sc:Enumeration"
    }
    assert enums == want
    for key, names in want.items():
        config, _, path = key.partition(".")
        column, _, sub = path.partition(".")
        field = next(f for f in sets[config]["field"] if f["name"] == column)
        if sub:
            field = next(f for f in field["subField"] if f["name"] == sub)
        assert field["dataType"] == "sc:Integer", key
        assert field["references"] == {"field": {"@id": f"vocabulary/{key}/code"}}, key
        codes = ", ".join(f"{i} = {n}" for i, n in enumerate(names))
        assert f"Class codes: {codes}; {NO_LABEL} = no label." in field["description"], key
    ds = mlc.Dataset(jsonld=str(repo / "croissant.json"))  # validates, or raises
    rows = list(ds.records("vocabulary/stance.label"))
    assert [r["vocabulary/stance.label/name"] for r in rows] == want["stance.label"]
    stance = list(ds.records("stance"))
    assert stance and all(0 <= int(r["stance/label"]) < len(want["stance.label"]) for r in stance)


def _bad_release(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, gold: dict[str, Any]
) -> tuple[Any, Path, dict[str, str], dict[str, str]]:
    """A release of a corpus with one gold record that validate would refuse, validate
    skipped: the vocabulary check is the release's own guard."""
    cfg, _ = build_corpus(tmp_path / "corpus", n=12)
    with (cfg.annotations_dir / "late.jsonl").open("ab") as fh:
        fh.write(orjson.dumps(gold) + b"\n")
    monkeypatch.setattr(build, "validate_loaded", lambda cfg: Report())
    before = snapshot(tmp_path)
    repo = tmp_path / "repo"
    res = cli("--corpus", cfg.root, "release", "--version", "1.0.0", "--to", repo)
    return res, repo, before, snapshot(tmp_path)


def test_a_stance_label_outside_the_vocabulary_stops_the_release_in_one_line(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    art = synthetic_articles(0, 12)[5]
    gold = gold_for(art, "maybe").to_dict()
    gold["id"] = "gold-late"
    gold["created_at"] = "2027-01-01T00:00:00Z"
    res, repo, before, after = _bad_release(tmp_path, cli, monkeypatch, gold)
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.output
    assert f"config stance, column label: 'maybe' (article {art.id})" in lines[0]
    assert "favor, against, neutral, unrelated, unresolved" in lines[0]
    assert "nothing was released" in lines[0]
    assert not repo.exists() and after == before  # no release folder, nothing else written


def test_a_span_attribute_outside_the_vocabulary_names_config_column_value_and_article(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    art = synthetic_articles(0, 12)[3]
    gold = gold_for(art).to_dict()
    span = dict(quote_span(art), label="Claim", checkworthy="yes", claim_type="rumour")
    gold.update(id="gold-late", created_at="2027-01-01T00:00:00Z", spans=[span])
    res, repo, before, after = _bad_release(tmp_path, cli, monkeypatch, gold)
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    assert f"config claims, column claim_type: 'rumour' (article {art.id})" in lines[0]
    assert not repo.exists() and after == before


def _plain(value: Any, prefix: str) -> Any:
    """An mlcroissant value as datasets gives it: bytes decoded, field ids without prefix."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, dict):
        return {k.removeprefix(prefix).split("/")[-1]: _plain(v, prefix) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, prefix) for v in value]
    return value


def test_croissant_1_1_records_are_the_rows_of_load_dataset(
    released: tuple[Config, Path], tmp_path: Path
) -> None:
    import mlcroissant as mlc

    _, repo = released
    doc = orjson.loads((repo / "croissant.json").read_bytes())
    assert "http://mlcommons.org/croissant/1.1" in doc["conformsTo"]
    ds = mlc.Dataset(jsonld=str(repo / "croissant.json"))
    assert ds.metadata.conforms_to is not None and "1.1" in str(ds.metadata.conforms_to)
    assert ds.metadata.data_annotation_protocol and ds.metadata.personal_sensitive_information
    counts = json.loads((repo / "manifest.json").read_text(encoding="utf-8"))["counts"]
    for config in counts:
        loaded = _load(repo, config, tmp_path / config)
        want = sorted(
            orjson.dumps({**row, "split": split}, option=orjson.OPT_SORT_KEYS)
            for split, rows in loaded.items()
            for row in rows
        )
        got = sorted(
            orjson.dumps(_plain(r, f"{config}/"), option=orjson.OPT_SORT_KEYS)
            for r in ds.records(config)
        )
        assert got == want, config
