"""The torn-line rule: a last line without a newline is not a record; readers skip it,
`validate` reports it with the fix, the next write to that file moves it to <file>.torn."""

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
        "not a record): the next write to this file moves it to test.jsonl.torn"
    ) in res.stderr
    assert snapshot(corpus_dir) == before  # read-only commands change nothing


def test_the_next_write_to_a_file_moves_it_aside(corpus_dir: Path, cli: Cli) -> None:
    cfg = load_config(corpus_dir)
    art = make_article(1)
    add_articles(cfg, [art])
    path = corpus_dir / "articles" / "test.jsonl"
    good = path.read_bytes()
    torn = tear(path, 0.9)
    agg = corpus_dir / "annotations" / "aggregate.jsonl"
    agg.write_bytes(b'{"id": "x", "kind"')  # aggregate rewrites this file
    # a command refused on bad input writes nothing, so it moves nothing
    before = snapshot(corpus_dir)
    res = cli("--corpus", corpus_dir, "aggregate", "--method", "nope")
    assert res.exit_code != 0 and "repaired" not in res.stderr
    assert snapshot(corpus_dir) == before
    res = cli("--corpus", corpus_dir, "aggregate")
    assert res.exit_code == 0, res.output
    assert (
        "repaired: annotations/aggregate.jsonl: torn last line (18 bytes, an interrupted write) "
        "moved to annotations/aggregate.jsonl.torn"
    ) in res.stderr
    assert (corpus_dir / "annotations" / "aggregate.jsonl.torn").read_bytes() == (
        b'{"id": "x", "kind"\n'
    )
    assert "articles/test.jsonl" not in res.stderr  # not written by aggregate: left as it was
    assert path.read_bytes() == good + torn
    res = cli("--corpus", corpus_dir, "validate")
    assert res.exit_code == 0 and "articles/test.jsonl:2: (line): torn last line" in res.stderr
    # the next append to it moves it aside, and a second tear is kept too: .torn only grows
    add_articles(cfg, [make_article(2)])
    assert (corpus_dir / "articles" / "test.jsonl.torn").read_bytes() == torn + b"\n"
    torn2 = tear(path, 0.3)
    assert move_torn_tail(path) == len(torn2)
    assert (corpus_dir / "articles" / "test.jsonl.torn").read_bytes() == (
        torn + b"\n" + torn2 + b"\n"
    )
    assert [a.id for a in iter_articles(cfg)] == [art.id, make_article(2).id]


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
