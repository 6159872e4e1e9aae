"""JSON nested thousands deep and very large values in corpus files: one line or it works,
never a traceback, in every reader."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config
from newscorpus.corpus import add_articles
from newscorpus.records import article_id, sha256_hex
from newscorpus.store import MAX_DEPTH
from tests.conftest import make_article, snapshot

Cli = Callable[..., Any]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 1024, 1025, 5000])
@pytest.mark.parametrize("where", ["articles", "annotations"])
def test_deeply_nested_lines_are_one_line_errors(
    corpus_dir: Path, cli: Cli, depth: int, where: str
) -> None:
    add_articles(load_config(corpus_dir), [make_article(1)])
    path = corpus_dir / where / "deep.jsonl"
    path.write_text('{"id": "x", "extra": ' + nested(depth) + "}\n")
    before = snapshot(corpus_dir)
    for command in (["validate"], ["stats"], ["agree", "--json"], ["aggregate"]):
        res = cli("--corpus", corpus_dir, *command)
        assert res.exit_code == 1, (command, res.output)
        assert "Traceback" not in res.output and "RecursionError" not in res.output
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert f"{path}:1: " in lines[0], (command, lines)
        assert "nested deeper than" in lines[0], (command, lines)
        if command != ["validate"]:
            assert len(lines) == 1, (command, lines)
    assert snapshot(corpus_dir) == before


def test_nesting_within_the_limit_is_read(corpus_dir: Path, cli: Cli) -> None:
    add_articles(load_config(corpus_dir), [make_article(1)])
    path = corpus_dir / "annotations" / "deep.jsonl"
    path.write_text('{"id": "x", "extra": ' + nested(MAX_DEPTH - 1) + "}\n")
    res = cli("--corpus", corpus_dir, "validate")
    assert "nested deeper" not in res.output
    assert f"{path}:1: " in res.stderr  # the schema's errors (extra field), not a crash


def test_a_60mb_article_line_works(corpus_dir: Path, cli: Cli) -> None:
    text = ("Synthetic paragraph about fentanyl and the cártel. " * 20 + "\n\n") * 60_000
    assert len(text) > 60_000_000
    url = "http://news.test/huge"
    art = make_article(1, url=url, canonical_url=url, text=text)
    assert art.id == article_id(url, text) and art.sha256 == sha256_hex(text)
    add_articles(load_config(corpus_dir), [art])
    res = cli("--corpus", corpus_dir, "validate")
    assert res.exit_code == 0, res.output
    res = cli("--corpus", corpus_dir, "stats", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["articles"]["total"] == 1


def test_huge_numbers_are_one_line_errors(corpus_dir: Path, cli: Cli) -> None:
    add_articles(load_config(corpus_dir), [make_article(1)])
    path = corpus_dir / "annotations" / "pulled.jsonl"
    for raw in (
        '{"id": ' + str(10**40) + "}",
        '{"id": 1e400}',
        '{"id": NaN}',
        '{"id": "' + "9" * 5000 + '", "n": ' + "9" * 5000 + "}",
    ):
        path.write_text(raw + "\n")
        for command in (["validate"], ["stats"], ["aggregate"]):
            res = cli("--corpus", corpus_dir, *command)
            assert res.exit_code == 1, (raw[:40], command, res.output)
            assert "Traceback" not in res.output
            assert f"{path}:1: " in res.stderr, (raw[:40], command, res.stderr)
