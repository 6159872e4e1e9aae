"""Hostile JSON on the release path: deep nesting, huge numbers, a 60 MB line; one line, never a
traceback, or a release that works."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from newscorpus.corpus import add_articles
from newscorpus.errors import ReleaseError
from newscorpus.release.tables import read_articles
from tests.conftest import make_article
from tests.release.helpers import build_corpus


def _release(cli: Any, root: Path, repo: Path) -> Any:
    return cli("--corpus", root, "release", "--version", "1.0.0", "--to", repo)


def _one_line(r: Any, *needles: str) -> None:
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)


def _edit_line(path: Path, number: int, edit: Any) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = edit(lines[number - 1])
    path.write_text("\n".join(lines) + "\n")


def _nest(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [1000, 1100, 50_000])
@pytest.mark.parametrize("where", ["articles/synthetic.jsonl", "annotations/pulled.jsonl"])
def test_deeply_nested_lines_are_one_line_naming_file_and_line(
    tmp_path: Path, cli: Any, where: str, depth: int
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    path = cfg.root / where
    _edit_line(path, 2, lambda line: line[:-1] + f',"deep":{_nest(depth)}}}')
    r = _release(cli, cfg.root, tmp_path / "repo")
    _one_line(r, f"{path}:2", "nested")
    assert not (tmp_path / "repo").exists()


def test_the_column_wise_reader_names_a_deep_line_itself(tmp_path: Path) -> None:
    """Arrow refuses the line (a list where a string belongs); locating it must not recurse."""
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    path = cfg.articles_dir / "synthetic.jsonl"
    _edit_line(path, 3, lambda line: line.replace('"title":"', f'"title":{_nest(990)},"x":"'))
    with pytest.raises(ReleaseError, match=rf"{path}:3: cannot be read column-wise: .*nested"):
        read_articles(cfg)


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", "1" + "0" * 40), ("article_id", "1" + "0" * 40), ("zzz", "1" + "0" * 40)],
)
def test_an_annotation_number_of_10_to_the_40_works_or_is_one_line(
    tmp_path: Path, cli: Any, field: str, value: str
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    path = cfg.annotations_dir / "pulled.jsonl"
    _edit_line(path, 2, lambda line: line[:-1] + f',"{field}":{value}}}')
    r = _release(cli, cfg.root, tmp_path / "repo")
    if field == "zzz":  # a field the release does not read: released as before
        assert r.exit_code == 0, r.output
    else:
        _one_line(r, f"{path}:2", field)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda r: r["n_annotators"].update(us_forces_in_mexico=10**40), "n_annotators"),
        (lambda r: r["n_annotators"].update(us_forces_in_mexico=3e9), "n_annotators"),
        (lambda r: r["soft"]["us_forces_in_mexico"].update(favor=1e40), "soft"),
    ],
)
def test_aggregate_numbers_out_of_range_are_one_line(
    tmp_path: Path, cli: Any, edit: Any, field: str
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    path = cfg.annotations_dir / "aggregate.jsonl"

    def change(line: str) -> str:
        rec = json.loads(line)
        edit(rec)
        return json.dumps(rec)

    _edit_line(path, 1, change)
    r = _release(cli, cfg.root, tmp_path / "repo")
    _one_line(r, f"{path}:1: {field}.")


def test_deeply_nested_agreement_json_is_one_line(tmp_path: Path, cli: Any) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    cfg.reports_dir.mkdir()
    for bad in (_nest(1000), _nest(5000), "{nope"):
        (cfg.reports_dir / "agreement.json").write_text(bad)
        r = _release(cli, cfg.root, tmp_path / "repo")
        _one_line(r, str(cfg.reports_dir / "agreement.json"))
        assert not (tmp_path / "repo").exists()


def test_a_60_mb_article_line_is_released(tmp_path: Path, cli: Any) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    sentence = "Officials discussed fentanyl and the cartels at length on Monday. "
    text = sentence * (60_000_000 // len(sentence))
    add_articles(cfg, [make_article(99, source="open", text=text)], file="big")
    repo = tmp_path / "repo"
    r = _release(cli, cfg.root, repo)
    assert r.exit_code == 0, r.output
    rows = pq.read_table(next((repo / "data" / "articles").glob("*.parquet"))).to_pylist()
    assert max(len(row["text"] or "") for row in rows) == len(text)
    assert (repo / "README.md").stat().st_size < 200_000  # the card's example is shortened
