"""init, validate and stats through the CLI, on real files, read back through the library."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from newscorpus.config import load_config
from newscorpus.corpus import add_annotations, add_articles, load_articles
from newscorpus.records import Annotation

from .conftest import MINIMAL_TOML, make_article, snapshot, write_corpus

Cli = Callable[..., Any]


def test_init_creates_a_valid_corpus(tmp_path: Path, cli: Cli) -> None:
    root = tmp_path / "My Corpus"
    res = cli("init", root)
    assert res.exit_code == 0, res.output
    text = (root / "corpus.toml").read_text()
    assert text.count("#") > 10  # commented template
    cfg = load_config(root)
    assert cfg.corpus.name == "my-corpus"
    assert (root / "articles").is_dir() and (root / "annotations").is_dir()
    assert ".newscorpus/" in (root / ".gitignore").read_text()
    res = cli("--corpus", root, "validate")
    assert res.exit_code == 0, res.output


def test_init_refuses_existing(tmp_path: Path, cli: Cli) -> None:
    root = write_corpus(tmp_path / "c")
    before = snapshot(root)
    res = cli("init", root)
    assert res.exit_code == 2
    assert "already exists" in res.stderr
    assert snapshot(root) == before


def test_init_under_a_file_is_one_line_config_error(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "afile").write_text("x")
    before = snapshot(tmp_path)
    res = cli("init", tmp_path / "afile" / "sub")
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "afile/sub" in lines[0] and "cannot create" in lines[0]
    assert snapshot(tmp_path) == before


def test_init_non_ascii_folder_name_gives_a_valid_slug(tmp_path: Path, cli: Cli) -> None:
    root = tmp_path / "Café Corpus"
    assert cli("init", root).exit_code == 0
    res = cli("--corpus", root, "validate")
    assert res.exit_code == 0, res.output
    assert load_config(root).corpus.name == "caf--corpus"


def test_validate_ok_and_summary(corpus_dir: Path, cli: Cli) -> None:
    cfg = load_config(corpus_dir)
    add_articles(cfg, [make_article(1), make_article(2)])
    res = cli("--corpus", corpus_dir, "validate")
    assert res.exit_code == 0, res.output
    assert "2 article records in 1 files" in res.stdout


def test_validate_reports_every_error_as_file_line_field(corpus_dir: Path, cli: Cli) -> None:
    cfg = load_config(corpus_dir)
    add_articles(cfg, [make_article(1)])
    path = corpus_dir / "articles" / "test.jsonl"
    good = json.loads(path.read_text())
    bad = dict(good, id="0" * 16, language="english")
    del bad["title"], bad["site"]
    with path.open("a") as fh:
        fh.write(json.dumps(bad) + "\n")
        fh.write("{not json}\n")
        fh.write(json.dumps(good) + "\n")  # duplicate id
    before = snapshot(corpus_dir)
    res = cli("--corpus", corpus_dir, "validate")
    assert res.exit_code == 1
    lines = res.stderr.splitlines()
    assert f"{path}:2: language: 'english' does not match '^[a-z]{{2}}$'" in lines
    assert f"{path}:2: title: required field is missing" in lines
    assert f"{path}:2: site: required field is missing" in lines  # each missing field named
    assert any(line.startswith(f"{path}:3: (line): malformed JSON") for line in lines)
    assert f"{path}:4: id: duplicate of {path}:1" in lines
    assert "Traceback" not in res.output
    assert snapshot(corpus_dir) == before


def test_validate_checks_annotations_against_articles(corpus_dir: Path, cli: Cli) -> None:
    cfg = load_config(corpus_dir)
    art = make_article(1)
    add_articles(cfg, [art])
    good_span = {"id": "s1", "start": 0, "end": 9, "label": "Claim", "text": art.text[0:9]}
    add_annotations(
        cfg,
        [
            Annotation(
                id="a1",
                kind="annotation",
                article_id=art.id,
                annotator="ann-1",
                stance={"us_forces_in_mexico": "favor"},
                spans=[good_span],
            ),
            Annotation(
                id="a2",
                kind="annotation",
                article_id=art.id,
                annotator="ann-2",
                stance={"other_target": "against"},
                spans=[dict(good_span, text="wrong"), dict(good_span, end=10_000)],
            ),
            Annotation(id="a3", kind="annotation", article_id="f" * 16, annotator="ann-2"),
        ],
        file="annotations",
    )
    res = cli("--corpus", corpus_dir, "validate")
    assert res.exit_code == 1
    path = corpus_dir / "annotations" / "annotations.jsonl"
    assert f"{path}:2: stance.other_target: unknown target (not in [[targets]])" in res.stderr
    assert f"{path}:2: spans.0.text: does not match the article text at 0-9" in res.stderr
    assert f"{path}:2: spans.1: offsets 0-10000 outside the text" in res.stderr
    assert f"{path}:3: article_id: no article 'ffffffffffffffff' in articles/" in res.stderr
    assert f"{path}:1:" not in res.stderr


def test_missing_corpus_is_a_config_error(tmp_path: Path, cli: Cli) -> None:
    res = cli("--corpus", tmp_path / "none", "validate")
    assert res.exit_code == 2
    assert res.stderr.strip().count("\n") == 0
    assert "corpus folder not found" in res.stderr


def test_toml_error_exit_2_one_line(tmp_path: Path, cli: Cli) -> None:
    root = write_corpus(
        tmp_path / "c", MINIMAL_TOML.replace('license = "CC-BY-4.0"', "license = CC-BY")
    )
    res = cli("--corpus", root, "stats")
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {root / 'corpus.toml'}:6: TOML syntax error")
    assert res.stderr.strip().count("\n") == 0


def test_malformed_jsonl_is_data_error_for_stats(corpus_dir: Path, cli: Cli) -> None:
    (corpus_dir / "articles" / "x.jsonl").write_text("{}\n{oops\n")
    res = cli("--corpus", corpus_dir, "stats")
    assert res.exit_code == 1
    assert f"{corpus_dir / 'articles' / 'x.jsonl'}:1: id: required field is missing" in res.stderr
    (corpus_dir / "articles" / "x.jsonl").write_text("{oops\n")
    res = cli("--corpus", corpus_dir, "stats")
    assert res.exit_code == 1
    assert f"{corpus_dir / 'articles' / 'x.jsonl'}:1: malformed JSON" in res.stderr
    assert "Traceback" not in res.output


def test_wrongly_typed_fields_are_one_line_data_errors(corpus_dir: Path, cli: Cli) -> None:
    cfg = load_config(corpus_dir)
    art = make_article(1)
    add_articles(cfg, [art])
    good = Annotation(
        id="a1", kind="annotation", article_id=art.id, annotator="x", stance={}, spans=[]
    ).to_dict()
    apath = corpus_dir / "annotations" / "pulled.jsonl"
    for field, value, problem in (
        ("stance", ["favor"], "stance: ['favor'] is not of type 'object'"),
        ("spans", ["x"], "spans.0: 'x' is not of type 'object'"),
    ):
        apath.write_text(json.dumps(dict(good, **{field: value})) + "\n")
        before = snapshot(corpus_dir)
        for cmd in ("stats", "agree", "aggregate"):
            res = cli("--corpus", corpus_dir, cmd)
            assert res.exit_code == 1, res.output
            assert res.stderr.strip() == f"error: {apath}:1: {problem}", cmd
            assert snapshot(corpus_dir) == before
    apath.unlink()
    path = corpus_dir / "articles" / "test.jsonl"
    path.write_text(json.dumps(dict(json.loads(path.read_text()), language=["en"])) + "\n")
    res = cli("--corpus", corpus_dir, "stats")
    assert res.exit_code == 1
    assert res.stderr.strip() == f"error: {path}:1: language: ['en'] is not of type 'string'"


def test_unreadable_files_are_one_line_errors(corpus_dir: Path, cli: Cli) -> None:
    (corpus_dir / "articles" / "dir.jsonl").mkdir()
    before = snapshot(corpus_dir)
    res = cli("--corpus", corpus_dir, "stats")
    assert res.exit_code == 1, res.output
    assert (
        res.stderr.strip()
        == f"error: {corpus_dir / 'articles' / 'dir.jsonl'}: cannot read: Is a directory"
    )
    res = cli("--corpus", corpus_dir, "validate")
    assert res.exit_code == 1, res.output
    assert f"{corpus_dir / 'articles' / 'dir.jsonl'}: (file): cannot read" in res.stderr
    assert snapshot(corpus_dir) == before
    (corpus_dir / "articles" / "dir.jsonl").rmdir()
    (corpus_dir / "corpus.toml").write_bytes(b"\xff\xfe[corpus]\n")
    before = snapshot(corpus_dir)
    res = cli("--corpus", corpus_dir, "validate")
    assert res.exit_code == 2, res.output
    assert (
        res.stderr.strip()
        == f"error: {corpus_dir / 'corpus.toml'}: not UTF-8: invalid start byte at byte 0"
    )
    assert snapshot(corpus_dir) == before


def test_corpus_from_environment(corpus_dir: Path, cli: Cli) -> None:
    res = cli("stats", "--json", env={"NEWSCORPUS_CORPUS": str(corpus_dir)})
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["corpus"] == "test-corpus"


def test_stats_json_counts(corpus_dir: Path, cli: Cli) -> None:
    cfg = load_config(corpus_dir)
    arts = [
        make_article(1),
        make_article(2, language="es", source="wire", site="Diario"),
        make_article(3, language="es", published=None),
    ]
    add_articles(cfg, arts)
    add_annotations(
        cfg,
        [
            Annotation(
                id="x1",
                kind="annotation",
                article_id=arts[0].id,
                annotator="ann-1",
                stance={"us_forces_in_mexico": "favor"},
                spans=[
                    {"id": "s", "start": 0, "end": 9, "label": "Claim", "text": arts[0].text[:9]}
                ],
                updated_at="2026-01-01T00:00:00Z",
            ),
            # an older version of the same annotation does not count twice
            Annotation(
                id="x0",
                kind="annotation",
                article_id=arts[0].id,
                annotator="ann-1",
                stance={"us_forces_in_mexico": "against"},
                updated_at="2025-01-01T00:00:00Z",
            ),
            Annotation(
                id="x2",
                kind="annotation",
                article_id=arts[0].id,
                annotator="ann-2",
                stance={"us_forces_in_mexico": "against"},
            ),
        ],
        file="annotations",
    )
    res = cli("--corpus", corpus_dir, "stats", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    a = data["articles"]
    assert a["total"] == 3
    assert a["by_language"] == [{"language": "es", "count": 2}, {"language": "en", "count": 1}]
    assert {"source": "wire", "count": 1} in a["by_source"]
    assert {"month": "(undated)", "count": 1} in a["by_month"]
    n = data["annotations"]
    assert n["labels"] == 3
    assert {"layer": "stance_us_forces_in_mexico", "label": "favor", "count": 1} in n["by_label"]
    assert {"layer": "stance_us_forces_in_mexico", "label": "against", "count": 1} in n["by_label"]
    assert {"layer": "spans", "count": 1} in n["by_layer"]
    assert {"annotator": "ann-1", "count": 2} in n["by_annotator"]
    res = cli("--corpus", corpus_dir, "stats")
    assert "articles by language" in res.stdout


def test_add_articles_refuses_schema_breaks_before_writing(corpus_dir: Path) -> None:
    import pytest

    from newscorpus.errors import DataError

    cfg = load_config(corpus_dir)
    with pytest.raises(DataError, match="language"):
        add_articles(cfg, [make_article(1), make_article(2, language="xx-bad")])
    assert load_articles(cfg) == []


def test_shipped_corpus_validates_and_holds_the_seed(cli: Cli) -> None:
    root = Path(__file__).resolve().parent.parent / "corpus"
    res = cli("--corpus", root, "validate")
    assert res.exit_code == 0, res.output
    arts = load_articles(load_config(root))
    seed = [a for a in arts if a.source == "seed"]
    assert len(seed) == 1 and seed[0].synthetic is False and seed[0].language == "fr"
    assert "fentanil" in seed[0].title
    assert "Vidéos associées" not in seed[0].text
    assert {"fentanyl", "fentanilo", "fentanil", "Sheinbaum"} <= set(seed[0].topic_terms)


def test_usage_errors_of_the_real_entry_point_are_one_line() -> None:
    """Through `python -m newscorpus.cli` (the script's main), not CliRunner."""
    import subprocess
    import sys

    for args, words in (
        (["stats", "--json", "--nope"], "No such option"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["push", "--limit", "abc"], "Invalid value for '--limit'"),
    ):
        r = subprocess.run(
            [sys.executable, "-m", "newscorpus.cli", *args], capture_output=True, text=True
        )
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], r.stderr
        assert "Traceback" not in r.stderr
