"""A release from a synthetic annotated corpus: configs load back, splits, card, croissant, secrets."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
import pytest
import yaml

from newscorpus.config import Config, load_config
from newscorpus.corpus import add_annotations, add_articles
from newscorpus.errors import ReleaseError
from newscorpus.records import Annotation, Article
from newscorpus.release import target_git
from newscorpus.release.scan import EMAIL
from newscorpus.store import iter_lines, rewrite_jsonl
from tests.conftest import snapshot
from tests.release.helpers import (
    aggregate_for,
    build_corpus,
    gold_for,
    labels_for,
    make_release,
    synthetic_articles,
)

CONFIGS = ("articles", "stance", "claims", "annotations")


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, list[Article], Path]:
    base = tmp_path_factory.mktemp("rel")
    cfg, arts = build_corpus(base / "corpus", n=40)
    reports = cfg.reports_dir
    reports.mkdir()
    (reports / "agreement.md").write_text(
        "# Agreement\n\n| target | alpha |\n|---|---|\n| us_forces_in_mexico | 0.61 |\n\n"
        "![alpha](alpha.png)\n",
        encoding="utf-8",
    )
    (reports / "alpha.png").write_bytes(b"\x89PNG\r\n\x1a\nsynthetic")
    (reports / "agreement.json").write_text(json.dumps({"alpha": {"us_forces_in_mexico": 0.61}}))
    make_release(cfg, version="1.0.0", to=base / "repo")
    return cfg, arts, base / "repo"


def load(repo: Path, config: str, cache: Path) -> datasets.DatasetDict:
    ds = datasets.load_dataset(str(repo), config, cache_dir=str(cache))
    assert isinstance(ds, datasets.DatasetDict)
    return ds


def manifest(repo: Path) -> dict[str, Any]:
    return json.loads((repo / "manifest.json").read_text(encoding="utf-8"))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def test_every_config_loads_back_with_the_manifest_counts(released: Any, tmp_path: Path) -> None:
    _, arts, repo = released
    m = manifest(repo)
    assert m["version"] == "1.0.0" and m["tag"] == "v1.0.0"
    for config in CONFIGS:
        ds = load(repo, config, tmp_path)
        assert {s: ds[s].num_rows for s in ds} == {
            s: n for s, n in m["counts"][config].items() if n
        }
        assert sum(ds[s].num_rows for s in ds) > 0
    rows = [r for s, d in load(repo, "articles", tmp_path).items() for r in d]
    assert sorted(r["id"] for r in rows) == sorted(a.id for a in arts)
    by_id = {a.id: a for a in arts}
    for r in rows:
        art = by_id[r["id"]]
        if art.source == "paywalled":
            assert r["text"] is None and r["text_policy"] == "hydrate"
            assert r["text_sha256"] == art.text_sha256 and r["url"] == art.url
        else:
            assert r["text"] == art.text
    assert "v1.0.0" in git(repo, "tag", "-n")
    assert git(repo, "cat-file", "-t", "v1.0.0").strip() == "tag"  # annotated
    assert len(git(repo, "log", "--oneline").splitlines()) == 1


def test_stance_prefers_gold_then_aggregate_then_majority(released: Any, tmp_path: Path) -> None:
    _, arts, repo = released
    ds = load(repo, "stance", tmp_path)
    label = next(iter(ds.values())).features["label"]  # a ClassLabel: the names by code
    rows = [dict(r, label=label.int2str(r["label"])) for d in ds.values() for r in d]
    got = {(r["article_id"], r["target"]): r for r in rows}
    t = "us_forces_in_mexico"
    assert got[(arts[0].id, t)]["label"] == "against"
    assert got[(arts[0].id, t)]["label_source"] == "gold"
    assert got[(arts[1].id, t)]["label"] == "favor"  # gold on an article without aggregate
    agg = got[(arts[2].id, t)]
    assert (agg["label"], agg["label_source"], agg["method"]) == (
        "neutral",
        "aggregate",
        "majority",
    )
    assert agg["p_neutral"] == pytest.approx(0.67) and agg["n_annotators"] == 3
    shares = [agg[f"p_{v}"] for v in ("favor", "against", "neutral", "unrelated")]
    assert None not in shares and sum(shares) == pytest.approx(1.0, abs=0.02)
    assert got[(arts[0].id, t)]["p_favor"] is None  # gold rows have no distribution
    assert got[(arts[2].id, "cartels_as_terrorists")]["label"] == "unresolved"
    maj = got[(arts[3].id, t)]  # no aggregate, no gold: majority of the 3 raw labels
    assert maj["label_source"] == "majority" and maj["n_annotators"] == 3
    labels = [x.stance[t] for x in labels_for(arts) if x.article_id == arts[3].id]
    top = max(set(labels), key=labels.count)
    assert maj["label"] == top and maj[f"p_{top}"] == pytest.approx(2 / 3)


def test_claims_and_annotations_keep_offsets_and_hide_hydrate_text(
    released: Any, tmp_path: Path
) -> None:
    _, arts, repo = released
    by_id = {a.id: a for a in arts}
    claims = [r for d in load(repo, "claims", tmp_path).values() for r in d]
    assert {r["article_id"] for r in claims} == {a.id for a in arts[::2]}
    for r in claims:
        art = by_id[r["article_id"]]
        assert art.text[r["start"] : r["end"]].startswith("\u201c")
        assert r["text"] == (None if art.source == "paywalled" else art.text[r["start"] : r["end"]])
    anns = [r for d in load(repo, "annotations", tmp_path).values() for r in d]
    assert len(anns) == 3 * len(arts)
    assert {r["annotator"] for r in anns} == {"annotator-00", "annotator-01", "annotator-02"}
    hidden = [r for r in anns if by_id[r["article_id"]].source == "paywalled"]
    assert hidden and all(s["text"] is None for r in hidden for s in r["spans"])


def test_real_articles_of_unlisted_sources_are_withheld(tmp_path: Path) -> None:
    """The seed (a real report, no [[sources]] entry, so no terms on record) ships no text."""
    from tests.conftest import make_article

    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    real = make_article(100, source="seed", synthetic=False, url=None)
    hand = make_article(101, source="handmade")  # synthetic: released in full
    add_articles(cfg, [real, hand], file="extra")
    make_release(cfg, version="1.0.0", to=tmp_path / "repo")
    rows = {
        r["id"]: r
        for p in (tmp_path / "repo" / "data" / "articles").glob("*.parquet")
        for r in pq.read_table(p).to_pylist()
    }
    assert (rows[real.id]["text_policy"], rows[real.id]["text"]) == ("hydrate", None)
    assert rows[real.id]["text_sha256"] == real.text_sha256
    assert (rows[hand.id]["text_policy"], rows[hand.id]["text"]) == ("full", hand.text)
    card = (tmp_path / "repo" / "README.md").read_text(encoding="utf-8")
    assert re.search(r"\| `seed` \| added by hand \| `hydrate` \| 1 \| no: withheld", card)


def test_near_duplicate_clusters_never_straddle_splits(released: Any) -> None:
    _, arts, repo = released
    m = manifest(repo)
    seen: dict[str, set[str]] = {}
    for v in m["articles"].values():
        seen.setdefault(v["dup_cluster"], set()).add(v["split"])
    assert any(sum(1 for a in arts if a.dup_cluster == c) > 1 for c in seen)
    assert all(len(s) == 1 for s in seen.values())
    assert {v["split"] for v in m["articles"].values()} == {"train", "validation", "test"}


def test_card_yaml_sections_and_agreement(released: Any) -> None:
    _, _, repo = released
    text = (repo / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["pretty_name"] == "Release test corpus (synthetic)"
    assert header["license"] == "cc-by-4.0" and header["multilinguality"] == "multilingual"
    assert sorted(header["language"]) == ["en", "es", "fr"]
    assert [c["config_name"] for c in header["configs"]] == list(CONFIGS)
    assert header["configs"][1]["data_files"][0] == {
        "split": "train",
        "path": "data/stance/train-v1.0.0-*.parquet",
    }
    for needle in (
        "## Annotation guidelines",
        "Articles per language",
        "Articles per source",
        "us_forces_in_mexico: against",
        "| us_forces_in_mexico | 0.61 |",
        "](reports/alpha.png)",
        "git -C DIR checkout v1.0.0",
        "## Known limitations",
    ):
        assert needle in text, needle
    assert "ORG/NAME" not in text and 'revision="' not in text  # no Hub id: no made-up Hub recipe
    assert (repo / "reports" / "alpha.png").read_bytes().startswith(b"\x89PNG")
    m = manifest(repo)
    assert m["agreement"] == {"alpha": {"us_forces_in_mexico": 0.61}}
    for rel, digest in m["files"].items():
        assert (
            subprocess.run(
                ["sha256sum", str(repo / rel)], capture_output=True, text=True
            ).stdout.split()[0]
            == digest
        )
    assert set(m["files"]) >= {"README.md", "CHANGELOG.md", "croissant.json", "changes/v1.0.0.json"}


def test_croissant_validates_with_mlcroissant(released: Any) -> None:
    import mlcroissant as mlc

    _, _, repo = released
    ds = mlc.Dataset(jsonld=str(repo / "croissant.json"))
    md = ds.metadata
    assert md.version == "1.0.0"
    assert "http://mlcommons.org/croissant/RAI/1.0" in (md.conforms_to or [])
    assert md.annotations_per_item and "3 to 3" in md.annotations_per_item
    assert md.data_annotation_protocol and md.personal_sensitive_information
    assert md.data_preprocessing_protocol and md.data_annotation_analysis
    assert any("synthetic" in x for x in md.data_limitations or [])
    assert md.url is None and (md.cite_as or "").startswith("@misc{release_test_v1_0_0,")
    for rs in md.record_sets:
        assert all(f.description for f in rs.fields), rs.name
    assert md.data_collection_timeframe and md.data_collection_timeframe[0].year >= 2026
    configs = [r.name for r in md.record_sets if not r.name.startswith("vocabulary/")]
    assert configs == list(CONFIGS)  # then one enumeration per class-coded column
    stance = list(ds.records("stance"))
    assert len(stance) == sum(manifest(repo)["counts"]["stance"].values())
    assert {r["stance/split"] for r in stance} <= {b"train", b"validation", b"test"}


def test_no_emails_or_tokens_in_the_release(released: Any) -> None:
    _, _, repo = released
    blobs = [p.read_text(encoding="utf-8") for p in repo.rglob("*") if p.suffix in (".md", ".json")]
    for p in repo.rglob("*.parquet"):
        blobs.append(json.dumps(pq.read_table(p).to_pylist(), ensure_ascii=False))
    everything = "\n".join(blobs)
    assert "synthetic" in everything.lower()
    assert not EMAIL.search(everything)
    assert not re.search(r"hf_[A-Za-z0-9]{20,}|eyJ[\w-]{8,}\.", everything)


def _add(cfg: Config, arts: list[Article], anns: list[Annotation]) -> None:
    add_articles(cfg, arts, file="later")
    add_annotations(cfg, anns, "later")


def test_splits_stable_and_changelog_when_articles_are_added(tmp_path: Path) -> None:
    cfg, arts = build_corpus(tmp_path / "corpus", n=30)
    repo = tmp_path / "repo"
    make_release(cfg, version="1.0.0", to=repo)
    first = manifest(repo)["articles"]
    cache = tmp_path / "hf-cache"  # one cache for both versions, as a researcher's default
    assert sum(load(repo, "articles", cache).num_rows.values()) == 30
    more = synthetic_articles(100, 30)
    for i, a in enumerate(more[:10]):  # near copies of stories already released
        a.dup_cluster = arts[i * 3].dup_cluster
    moved = aggregate_for(arts[2])  # a later aggregate: same labels, the claim shifted
    moved.created_at = "2026-05-01T00:00:00Z"
    moved.spans[0].update(start=moved.spans[0]["start"] + 1, text=moved.spans[0]["text"][1:])
    moved.spans[0]["text"] = arts[2].text[moved.spans[0]["start"] : moved.spans[0]["end"]]
    _add(cfg, more, [*labels_for(more), gold_for(arts[5], "unrelated"), moved])
    r = make_release(cfg, bump="minor", to=repo)
    assert r.version == "1.1.0"
    second = manifest(repo)["articles"]
    assert all(second[a]["split"] == v["split"] for a, v in first.items())
    for a in more[:10]:
        assert second[a.id]["split"] == first[a.dup_cluster]["split"]
    assert manifest(repo)["split_assignment"] == {"kept": 30, "new": 30}
    # the same clone, the same cache: v1.1.0's rows, not v1.0.0's cached ones
    assert sum(load(repo, "articles", cache).num_rows.values()) == 60
    assert not list(repo.rglob("*-v1.0.0-*.parquet"))  # files of v1.0.0 are gone from main
    diff = json.loads((repo / "changes" / "v1.1.0.json").read_text())
    assert diff["added"] == sorted(a.id for a in more) and diff["removed"] == []
    assert diff["labels_changed"] == [arts[5].id]
    assert diff["claims_changed"] == [arts[2].id]
    assert (repo / "changes" / "v1.0.0.json").is_file()
    log = (repo / "CHANGELOG.md").read_text()
    assert log.index("## v1.1.0") < log.index("## v1.0.0")
    assert (
        "30 articles added, 0 removed, 1 with changed stance labels, 1 with changed claims" in log
    )
    assert git(repo, "tag", "--list").split() == ["v1.0.0", "v1.1.0"]


def test_clusters_merged_after_a_release_keep_their_splits(tmp_path: Path) -> None:
    cfg, arts = build_corpus(tmp_path / "corpus", n=40)
    repo = tmp_path / "repo"
    make_release(cfg, version="1.0.0", to=repo)
    first = manifest(repo)["articles"]
    a = next(x for x in arts if first[x.id]["split"] == "train")
    b = next(x for x in arts if first[x.id]["split"] == "test")
    path = cfg.articles_dir / "synthetic.jsonl"
    recs = [r.record for r in iter_lines(path)]
    for r in recs:
        if r["id"] == b.id:
            r["dup_cluster"] = a.dup_cluster  # dedup merged the two stories later
    rewrite_jsonl(path, recs)
    make_release(cfg, version="1.0.1", to=repo)
    m = manifest(repo)
    assert m["articles"][a.id]["split"] == "train" and m["articles"][b.id]["split"] == "test"
    assert m["straddling_clusters"] == [a.dup_cluster]
    assert "span two splits" in (repo / "README.md").read_text()


def _worktree(repo: Path) -> dict[str, str]:
    return {k: v for k, v in snapshot(repo).items() if not k.startswith(".git/")}


def test_existing_version_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=12)
    repo = tmp_path / "repo"
    make_release(cfg, version="0.1.0", to=repo)
    before, head = _worktree(repo), git(repo, "rev-parse", "HEAD")
    for version in ("0.1.0", "0.0.9"):
        with pytest.raises(ReleaseError, match=r"v0\.1\.0"):
            make_release(cfg, version=version, to=repo)
    assert _worktree(repo) == before and git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "tag", "--list").split() == ["v0.1.0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "repo"]


@pytest.mark.parametrize(
    "planted",
    [
        "Write to jane.doe@example.org for details.",
        "token hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "key eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzeW50aGV0aWMifQ.c3ludGhldGljc2lnbmF0dXJl",
        "secret 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
        "the value of HF_TOKEN: plain-secret-value",
    ],
)
def test_planted_secret_stops_the_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: str
) -> None:
    monkeypatch.setenv("HF_TOKEN", "plain-secret-value")
    cfg, _ = build_corpus(tmp_path / "corpus", n=12)
    repo = tmp_path / "repo"
    make_release(cfg, version="1.0.0", to=repo)
    before = _worktree(repo)
    bad = synthetic_articles(500, 1)[0]
    bad.text = bad.text + "\n\n" + planted
    bad.text_sha256 = ""
    bad.__post_init__()
    _add(cfg, [bad], [])
    with pytest.raises(ReleaseError, match="e-mail addresses or token-like strings") as exc:
        make_release(cfg, version="1.1.0", to=repo)
    assert "jane.doe@example.org" not in str(exc.value)
    assert "plain-secret-value" not in str(exc.value)
    assert _worktree(repo) == before
    assert git(repo, "tag", "--list").split() == ["v1.0.0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "repo"]


def test_release_into_an_empty_git_repository_and_undo_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    real = target_git.run_git

    def failing_tag(r: Path, *args: str) -> str:
        if args[0] == "tag" and "-a" in args:
            raise ReleaseError("synthetic failure while tagging")
        return real(r, *args)

    monkeypatch.setattr(target_git, "run_git", failing_tag)
    with pytest.raises(ReleaseError, match="synthetic failure"):
        make_release(cfg, version="1.0.0", to=repo)
    assert sorted(p.name for p in repo.iterdir()) == [".git"]
    assert subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "HEAD"]).returncode
    monkeypatch.setattr(target_git, "run_git", real)
    make_release(cfg, version="1.0.0", to=repo)
    assert git(repo, "tag", "--list").split() == ["v1.0.0"]
    assert len(git(repo, "log", "--oneline").splitlines()) == 1
    before, head = _worktree(repo), git(repo, "rev-parse", "HEAD")
    monkeypatch.setattr(target_git, "run_git", failing_tag)
    with pytest.raises(ReleaseError, match="synthetic failure"):
        make_release(cfg, version="1.1.0", to=repo)
    assert _worktree(repo) == before and git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "tag", "--list").split() == ["v1.0.0"]


@pytest.mark.parametrize("threads", [1, 2], ids=["validate-in-forked-process", "validate-first"])
def test_invalid_corpus_stops_the_release(
    tmp_path: Path, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from newscorpus.release import build

    monkeypatch.setattr(build.threading, "active_count", lambda: threads)
    assert threading.active_count() == threads
    cfg, arts = build_corpus(tmp_path / "corpus", n=6)
    bad = labels_for(arts[:1])[0]
    bad.id, bad.annotator = "bad", "annotator-09"
    bad.spans = [{"id": "x", "start": 0, "end": 5, "label": "Quote", "text": "wrong"}]
    add_annotations(cfg, [bad], "bad")
    with pytest.raises(ReleaseError, match="validate found 1 errors"):
        make_release(cfg, version="1.0.0", to=tmp_path / "repo")
    assert not (tmp_path / "repo").exists()


def test_cli_release_dry_run_and_bad_version(tmp_path: Path, cli: Any) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=12)
    repo = tmp_path / "repo"
    r = cli("--corpus", cfg.root, "release", "--version", "1.0", "--to", repo)
    assert r.exit_code == 2 and "not a semantic version" in r.stderr
    r = cli("--corpus", cfg.root, "release", "--version", "1.0")  # no target either
    assert (
        r.exit_code == 2
        and r.stderr.strip() == "error: --version '1.0': not a semantic version X.Y.Z"
    )
    r = cli("--corpus", cfg.root, "release", "--bump", "patch", "--to", repo, "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert "dry run: v0.0.1" in r.stdout and not repo.exists()
    deep = tmp_path / "a" / "b" / "repo"  # folders above a dry run's target are not kept either
    r = cli("--corpus", cfg.root, "release", "--bump", "patch", "--to", deep, "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert not (tmp_path / "a").exists()
    r = cli("--corpus", cfg.root, "release", "--bump", "major", "--to", repo)
    assert r.exit_code == 0, r.stderr
    assert "released v1.0.0" in r.stdout and "articles: train" in r.stdout
    r = cli("--corpus", cfg.root, "release", "--version", "1.0.0", "--to", repo)
    assert r.exit_code == 1 and "exists" in r.stderr
    assert "No agreement report was found" in (repo / "README.md").read_text()
    assert manifest(repo)["agreement"] is None


def test_cli_release_of_a_corpus_without_articles_is_refused(tmp_path: Path, cli: Any) -> None:
    from tests.conftest import write_corpus

    root = write_corpus(tmp_path / "corpus")
    before = snapshot(tmp_path)
    for extra in (["--dry-run"], ["--to", str(tmp_path / "repo")]):
        r = cli("--corpus", root, "release", "--version", "0.1.0", *extra)
        assert r.exit_code == 1, r.output
        assert r.stderr.strip() == (
            f"error: {root / 'articles'}: no articles, nothing to release (run `newscorpus gather`)"
        )
        assert snapshot(tmp_path) == before and not (tmp_path / "repo").exists()


def test_cli_release_to_a_bad_target_is_one_line_and_builds_nothing(
    tmp_path: Path, cli: Any
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    afile = tmp_path / "afile"
    afile.write_text("x")
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    before = snapshot(tmp_path)
    for target, code, message in (
        (afile, 2, f"{afile}: release target exists and is not a folder"),
        (afile / "sub", 2, f"{afile / 'sub'}: cannot create the release folder"),
        (full, 1, f"{full}: exists, is not empty and is not a git repository"),
    ):
        r = cli("--corpus", cfg.root, "release", "--version", "0.1.0", "--to", target)
        assert r.exit_code == code, r.output
        assert r.stderr.startswith(f"error: {message}") and r.stderr.count("\n") == 1
        assert snapshot(tmp_path) == before


def test_empty_split_is_left_out_of_the_card_and_the_rest_loads(tmp_path: Path) -> None:
    extra = "\n[release]\nsplits = { train = 0.9, validation = 0.1, test = 0.0 }\n"
    cfg, arts = build_corpus(tmp_path / "corpus", n=40, extra_toml=extra)
    repo = tmp_path / "repo"
    make_release(cfg, version="1.0.0", to=repo)
    m = manifest(repo)
    assert all(m["counts"][c]["test"] == 0 for c in CONFIGS)
    header = yaml.safe_load((repo / "README.md").read_text().split("---\n")[1])
    for entry in header["configs"]:
        splits = [f["split"] for f in entry["data_files"]]
        want = [s for s in ("train", "validation") if m["counts"][entry["config_name"]][s]]
        assert splits == want and "test" not in splits
    assert re.search(
        r"`articles` has no rows in split\(s\) .*test", (repo / "README.md").read_text()
    )
    ds = load(repo, "articles", tmp_path / "cache")
    assert set(ds) == {s for s in ("train", "validation") if m["counts"]["articles"][s]}
    assert sum(d.num_rows for d in ds.values()) == len(arts)


def test_a_split_dropped_from_the_config_is_refused(tmp_path: Path) -> None:
    """Articles keep their split across versions: renaming a split away would lose them."""
    cfg, _ = build_corpus(tmp_path / "corpus", n=30)
    repo = tmp_path / "repo"
    make_release(cfg, version="1.0.0", to=repo)
    assert "validation" in {v["split"] for v in manifest(repo)["articles"].values()}
    toml = (
        cfg.path.read_text(encoding="utf-8") + "\n[release]\nsplits = { train = 0.9, test = 0.1 }\n"
    )
    cfg.path.write_text(toml, encoding="utf-8")
    with pytest.raises(ReleaseError, match=r"has articles in split\(s\) validation, which"):
        make_release(load_config(cfg.root), bump="minor", to=repo)
    assert git(repo, "tag", "--list").split() == ["v1.0.0"]


def test_changelog_says_when_claims_were_not_tracked_yet() -> None:
    from newscorpus.release.manifest import Changes, changelog, read_manifest

    diff = Changes("1.1.0", "1.0.0", (), (), (), ())
    before = read_manifest('{"version": "1.0.0", "labels": {}}', "manifest.json")
    old = changelog(before, diff, "2026-11-26")
    assert "claims changes are tracked from this version on" in old
    after = read_manifest('{"version": "1.0.0", "labels": {}, "claims": {}}', "manifest.json")
    new = changelog(after, diff, "2026-11-26")
    assert "0 with stance labels" not in new and "0 with changed claims" in new
