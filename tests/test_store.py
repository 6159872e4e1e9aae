from __future__ import annotations

import json
from pathlib import Path

import pytest

from newscorpus.errors import DataError
from newscorpus.store import append_jsonl, read_jsonl, rewrite_jsonl


def test_append_keeps_existing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    append_jsonl(path, [{"n": 1}, {"n": "é"}])
    before = path.read_bytes()
    append_jsonl(path, [{"n": 3}])
    after = path.read_bytes()
    assert after.startswith(before)
    assert [r["n"] for r in read_jsonl(path)] == [1, "é", 3]
    assert "é" in path.read_text(encoding="utf-8")  # UTF-8, not \\u escapes


def test_append_nothing_creates_nothing(tmp_path: Path) -> None:
    assert append_jsonl(tmp_path / "a.jsonl", []) == 0
    assert not (tmp_path / "a.jsonl").exists()


def test_append_cuts_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"n": 1}\n{"n": 2, "te', encoding="utf-8")
    append_jsonl(path, [{"n": 3}])
    assert [r["n"] for r in read_jsonl(path)] == [1, 3]


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"n": 1}\n\n{"n": 2,}\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}:3: malformed JSON"):
        list(read_jsonl(path))


def test_non_object_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}:1: expected a JSON object"):
        list(read_jsonl(path))


def test_rewrite_is_atomic_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    rewrite_jsonl(path, [{"n": 1}])
    rewrite_jsonl(path, [{"n": 2}, {"n": 3}])
    assert [json.loads(x)["n"] for x in path.read_text().splitlines()] == [2, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["a.jsonl"]


def test_rewrite_failure_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    rewrite_jsonl(path, [{"n": 1}])

    def records():  # type: ignore[no-untyped-def]
        yield {"n": 2}
        raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError):
        rewrite_jsonl(path, records())
    assert list(read_jsonl(path)) == [{"n": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["a.jsonl"]
