"""The dataset card as a researcher reads it: fields, labels, splits, sources, loading, citation."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from huggingface_hub import DatasetCard, DatasetCardData

from newscorpus.config import Config, load_config
from newscorpus.corpus import add_annotations, add_articles
from newscorpus.layers import STANCE
from newscorpus.records import Article
from newscorpus.release.card import render_card
from newscorpus.release.tables import schemas
from tests.conftest import write_corpus
from tests.release.helpers import TOML, build_corpus, labels_for, make_release, synthetic_articles


@pytest.fixture(scope="module")
def card(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, list[Article], Path, str]:
    base = tmp_path_factory.mktemp("card")
    cfg, arts = build_corpus(base / "corpus", n=24)
    make_release(cfg, version="1.0.0", to=base / "repo")
    return cfg, arts, base / "repo", (base / "repo" / "README.md").read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The body of a Markdown section, up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    start = text.index(heading + "\n") + len(heading) + 1
    nxt = re.compile(rf"^#{{1,{level}}} ", re.M).search(text, start)
    return text[start : nxt.start() if nxt else len(text)]


def table_rows(body: str) -> list[list[str]]:
    """The data rows of the first Markdown table in ``body``, cells stripped."""
    rows = [ln for ln in body.splitlines() if ln.startswith("| ")]
    return [[c.strip() for c in r.strip("|").split(" | ")] for r in rows[1:]]


def test_every_column_of_every_config_is_documented_with_its_loaded_type(
    card: Any, tmp_path: Path
) -> None:
    _, _, repo, text = card
    for config in schemas():
        rows = table_rows(section(text, f"### Data fields: `{config}`"))
        ds = datasets.load_dataset(str(repo), config, split="train", cache_dir=str(tmp_path))
        assert [r[0].strip("`") for r in rows] == list(ds.features), config
        for name, typ, meaning in rows:
            feature = ds.features[name.strip("`")]
            assert len(meaning) > 5, (config, name)
            dtype = getattr(feature, "dtype", None)
            if isinstance(feature, datasets.ClassLabel):  # a class code: its names are features
                assert typ == "`class_label`", (config, name, typ)
            elif dtype is not None and dtype != "list":
                assert typ == f"`{dtype}`", (config, name, typ, dtype)
            else:
                assert typ.startswith("`list["), (config, name, typ)


def test_labels_splits_and_annotation_process_are_explained(card: Any) -> None:
    cfg, _, _, text = card
    labels = section(text, "### Label values")
    for t in cfg.targets:
        assert f"| `{t.id}` | {t.text} |" in labels
    for value in (*STANCE.value_names, "unresolved"):
        assert re.search(rf"^- `{value}`: \w+", labels, re.M), value
    for span_label in ("`Claim`", "`Quote`", "`Speaker`"):
        assert span_label in labels
    splits = section(text, "### Splits")
    assert "train 0.8, validation 0.1, test 0.1" in splits
    assert "`dup_cluster`" in splits and "stable across versions" in splits
    process = section(text, "### Annotation process")
    assert "Label Studio" in process and "pseudonym" in process and "gold" in process
    assert "Label All Tasks" in process and "Label Studio Community cannot hide" in process
    arts = [
        r for p in card[2].glob("data/articles/*.parquet") for r in pq.read_table(p).to_pylist()
    ]
    n_synthetic = sum(bool(r["synthetic"]) for r in arts)
    assert f"**Synthetic articles: {n_synthetic} of {len(arts)}**" in text
    assert re.search(r"\d+ to \d+ annotators per annotated article", text)
    for heading in (
        "## Uses",
        "## Who are the annotators",
        "## Personal and sensitive information",
        "## Licensing",
        "## Agreement",
        "## Known limitations of this version",
    ):
        assert heading + "\n" in text, heading


def test_source_table_gives_policy_and_counts_per_source(card: Any) -> None:
    _, _, repo, text = card
    arts = [r for p in repo.glob("data/articles/*.parquet") for r in pq.read_table(p).to_pylist()]
    per_source = Counter(r["source"] for r in arts)
    rows = {r[0]: r[1:] for r in table_rows(section(text, "## Source data"))}
    assert rows["`open`"] == ["urls", "`full`", str(per_source["open"]), "yes"]
    assert rows["`paywalled`"][1:3] == ["`hydrate`", str(per_source["paywalled"])]
    assert rows["`paywalled`"][3].startswith("no")
    assert "`synthetic`" in section(text, "## Source data")


def test_local_load_recipe_gives_exactly_the_tagged_version(card: Any, tmp_path: Path) -> None:
    cfg, _, repo, text = card
    how = section(text, "## How to load this version")
    assert "git -C DIR checkout v1.0.0" in how and "newscorpus hydrate DIR" in how
    assert "ORG/NAME" not in how and 'revision="' not in how
    for config in schemas():
        assert f'{config} = load_dataset(DIR, "{config}")' in how
    first = sum(
        1 for p in repo.glob("data/articles/*.parquet") for _ in pq.read_table(p).to_pylist()
    )
    # a copy of the corpus and the release repository: the module's card stays v1.0.0
    shutil.copytree(cfg.root, tmp_path / "corpus")
    shutil.copytree(repo, tmp_path / "repo")
    cfg, repo = load_config(tmp_path / "corpus"), tmp_path / "repo"
    later = synthetic_articles(100, 6)
    add_articles(cfg, later, file="later")
    add_annotations(cfg, labels_for(later), "later")
    make_release(cfg, version="1.1.0", to=repo)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "v1.0.0"], check=True)
    ds = datasets.load_dataset(str(clone), "articles", cache_dir=str(tmp_path / "cache"))
    assert sum(ds[s].num_rows for s in ds) == first


def test_header_is_valid_hub_metadata_and_citation_names_the_version(card: Any) -> None:
    _, _, repo, text = card
    data = DatasetCard.load(repo / "README.md").data
    as_dict = data.to_dict()
    assert DatasetCardData(**as_dict).to_dict() == as_dict
    assert as_dict == yaml.safe_load(text.split("---\n")[1])
    assert [c["config_name"] for c in as_dict["configs"]] == list(schemas())
    cite = section(text, "## Citation")
    assert "@misc{release_test_v1_0_0," in cite and "version = {1.0.0}" in cite


def test_hub_id_synthetic_count_and_no_hydrate_note_when_all_text_is_released(card: Any) -> None:
    cfg = card[0]
    counts = {"articles": {"train": 4, "validation": 1, "test": 0}, "stance": {"train": 8}}
    facets = {
        "language": Counter({"en": 3, "es": 2}),
        "source": Counter({"open (full)": 5}),
        "synthetic": Counter({"true": 3, "false": 2}),
    }
    text = render_card(
        cfg,
        version="2.0.0",
        counts=counts,
        facets=facets,
        agreement_md=None,
        pngs=[],
        limitations=[],
        hub="some-org/some-data",
        per_item="2 to 3",
    )
    how = section(text, "## How to load this version")
    for config in ("articles", "stance"):
        assert f'load_dataset("some-org/some-data", "{config}", revision="v2.0.0")' in how
    assert 'snapshot_download("some-org/some-data", repo_type="dataset", revision="v2.0.0"' in how
    assert '"claims"' not in how and "newscorpus hydrate" not in how
    assert "**Synthetic articles: 3 of 5**" in text
    assert "Annotators per item in this version: 2 to 3." in text
    assert "\\url{https://huggingface.co/datasets/some-org/some-data}" in text


def test_authors_and_homepage_reach_the_citation_and_croissant(tmp_path: Path) -> None:
    import mlcroissant as mlc

    toml = TOML.replace(
        'license = "CC-BY-4.0"\n',
        'license = "CC-BY-4.0"\nauthors = ["Ada Lovelace", "Example Lab"]\n'
        'homepage = "https://example.org/corpus"\n',
    )
    write_corpus(tmp_path / "corpus", toml)
    cfg = load_config(tmp_path / "corpus")
    arts = synthetic_articles(0, 6)
    add_articles(cfg, arts, file="synthetic")
    add_annotations(cfg, labels_for(arts), "pulled")
    make_release(cfg, version="1.0.0", to=tmp_path / "repo")
    text = (tmp_path / "repo" / "README.md").read_text(encoding="utf-8")
    cite = section(text, "## Citation")
    assert "  author = {Ada Lovelace and Example Lab},\n" in cite
    assert "howpublished = {\\url{https://example.org/corpus}}" in cite
    assert "Corpus and card by Ada Lovelace, Example Lab." in cite
    md = mlc.Dataset(jsonld=str(tmp_path / "repo" / "croissant.json")).metadata
    assert md.url == "https://example.org/corpus"
    assert [c.name for c in md.creators] == ["Ada Lovelace", "Example Lab"]


def test_notice_creators_period_unlabelled_copies_and_changelog_rows(tmp_path: Path) -> None:
    extra = (
        '\n[release]\nnotice = "Demo: labels were submitted by scripts."\n'
        'annotations_creators = ["machine-generated"]\n'
        'language_creators = ["expert-generated", "found"]\n'
    )
    cfg, arts = build_corpus(tmp_path / "corpus", n=6, extra_toml=extra)
    more = synthetic_articles(50, 3)
    more[0].dup_cluster = arts[0].dup_cluster  # a near copy of an annotated story
    more[2].published = None
    add_articles(cfg, more, file="later")
    make_release(cfg, version="1.0.0", to=tmp_path / "repo")
    text = (tmp_path / "repo" / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["annotations_creators"] == ["machine-generated"]
    assert header["language_creators"] == ["expert-generated", "found"]
    assert "fact-checking" not in header["task_ids"]
    title = text.index(f"# {cfg.corpus.pretty_name}\n")
    assert text.index("> **Note:** Demo: labels were submitted by scripts.") > title
    dates = sorted(a.published[:10] for a in arts + more if a.published)
    assert (
        f"Articles published from {dates[0]} to {dates[-1]} (1 without a publication date)" in text
    )
    limits = section(text, "## Known limitations of this version")
    assert "3 of 9 articles have no stance label: 1 of them are near copies" in limits
    log = (tmp_path / "repo" / "CHANGELOG.md").read_text(encoding="utf-8")
    stance = sum(pq.read_metadata(p).num_rows for p in (tmp_path / "repo/data/stance").glob("*"))
    assert f"- Rows: 9 articles, {stance} stance labels," in log


def test_data_instances_show_the_first_row_of_each_config(card: Any, tmp_path: Path) -> None:
    import json

    _, _, repo, text = card
    body = section(text, "### Data instances")
    blocks = re.findall(r"`(\w+)`:\n\n```json\n(.*?)\n```", body, re.S)
    assert [c for c, _ in blocks] == list(schemas())
    shown = {c: json.loads(b) for c, b in blocks}
    ds = datasets.load_dataset(str(repo), "articles", split="train", cache_dir=str(tmp_path))
    first = ds[0]
    assert shown["articles"]["id"] == first["id"]
    assert set(shown["articles"]) == set(ds.features)
    if first["text"] and len(first["text"]) > 160:
        assert shown["articles"]["text"] == first["text"][:160] + "…"


def test_without_folder_leaves_longer_names_alone(tmp_path: Path) -> None:
    from newscorpus.release.card import without_folder

    root = tmp_path / "c"
    text = f"see {root}/reports/a.png, {root} and {tmp_path / 'c2'}/x, {root.as_uri()}/b"
    assert without_folder(text, root) == f"see reports/a.png, . and {tmp_path / 'c2'}/x, b"
