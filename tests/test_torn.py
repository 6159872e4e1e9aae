"""The torn-line rule: a last line without a newline is not a record; readers skip it,
`validate` reports it with the fix, the next writing command moves it to <file>.torn."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from newscorpus.config import load_config
from newscorpus.corpus import add_articles, iter_articles
from newscorpus.lock import corpus_lock
from newscorpus.store import append_jsonl, move_torn_tail, read_jsonl, torn_tail
from tests.conftest import make_article, snapshot

Cli = Callable[..., Any]


def tear(path: Path, fraction: float = 0.5) -> bytes:
    """Append half of one more record, as a write killed half-way would leave it."""
    line = (json.dumps(make_article(99).to_dict()) + "\n").encode()
    torn = line[: int(len(line) * fraction)]
    with path.open("ab") as fh:
        fh.write(torn)
    return torn


def test_readers_skip_a_torn_line_and_validate_reports_the_fix(corpus_dir: Path, cli: Cli) -> None:
    cfg = load_config(corpus_dir)
    add_articles(cfg, [make_article(1), make_article(2)])
    path = corpus_dir / "articles" / "test.jsonl"
    torn = tear(path)
    before = snapshot(corpus_dir)
    assert [a.id for a in iter_articles(cfg)] == [make_article(1).id, make_article(2).id]
    res = cli("--corpus", corpus_dir, "stats", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["articles"]["total"] == 2
    res = cli("--corpus", corpus_dir, "validate")
    assert res.exit_code == 0, res.output
    assert (
        f"warning: {path}:3: (line): torn last line ({len(torn)} bytes, no newline; an interrupted write, "
        "not a record): the next writing command moves it to test.jsonl.torn"
    ) in res.stderr
    assert snapshot(corpus_dir) == before  # read-only commands change nothing


def test_the_next_writing_command_moves_it_aside(corpus_dir: Path, cli: Cli) -> None:
    cfg = load_config(corpus_dir)
    add_articles(cfg, [make_article(1)])
    path = corpus_dir / "articles" / "test.jsonl"
    good = path.read_bytes()
    torn = tear(path, 0.9)
    ann = corpus_dir / "annotations" / "pulled.jsonl"
    ann.write_bytes(b'{"id": "x", "kind"')
    res = cli("--corpus", corpus_dir, "aggregate")
    assert (
        "repaired: articles/test.jsonl: torn last line "
        f"({len(torn)} bytes, an interrupted write) moved to articles/test.jsonl.torn"
    ) in res.stderr
    assert "repaired: annotations/pulled.jsonl" in res.stderr
    assert path.read_bytes() == good
    assert (corpus_dir / "articles" / "test.jsonl.torn").read_bytes() == torn + b"\n"
    assert ann.read_bytes() == b""
    assert (
        corpus_dir / "annotations" / "pulled.jsonl.torn"
    ).read_bytes() == b'{"id": "x", "kind"\n'
    res = cli("--corpus", corpus_dir, "validate")
    assert res.exit_code == 0 and "torn" not in res.output
    # a second tear is kept too: the .torn file only grows
    torn2 = tear(path, 0.3)
    assert move_torn_tail(path) == len(torn2)
    assert (corpus_dir / "articles" / "test.jsonl.torn").read_bytes() == (
        torn + b"\n" + torn2 + b"\n"
    )


def test_append_moves_the_torn_bytes_aside_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    append_jsonl(path, [{"a": 1}])
    with path.open("ab") as fh:
        fh.write(b'{"a": 2, "b"')
    assert torn_tail(path) == len(b'{"a": 2, "b"')
    append_jsonl(path, [{"a": 3}])
    assert list(read_jsonl(path)) == [{"a": 1}, {"a": 3}]
    assert (tmp_path / "x.jsonl.torn").read_bytes() == b'{"a": 2, "b"\n'
    # a file that is all torn bytes (no newline at all)
    whole = tmp_path / "y.jsonl"
    whole.write_bytes(b'{"a"')
    assert move_torn_tail(whole) == 4 and whole.read_bytes() == b""


def test_validate_does_not_call_an_append_in_progress_torn(corpus_dir: Path, cli: Cli) -> None:
    cfg = load_config(corpus_dir)
    add_articles(cfg, [make_article(1)])
    tear(corpus_dir / "articles" / "test.jsonl")
    with corpus_lock(corpus_dir, "gather"):  # a writer is appending right now
        res = cli("--corpus", corpus_dir, "validate")
    assert res.exit_code == 0
    assert "torn" not in res.output
