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


# --- JSONL through the jsonlines library: the same bytes, the same refusals -------------------

SAMPLE = {
    "id": "a1",
    "text": 'fentanilo, fentanyl \u2028 \u00e9\u00e8 \u4e2d \U0001f600 "q" \\ \t',
    "n": [1, -0, 2.5, 1e16, 1e-7, 9007199254740993, True, None],
    "nested": {"z": {}, "a": []},
}
# what every earlier version wrote (json.dumps, ensure_ascii=False, compact separators)
SAMPLE_LINE = (
    '{"id":"a1","text":"fentanilo, fentanyl \u2028 \u00e9\u00e8 \u4e2d \U0001f600 \\"q\\" \\\\ \\t",'
    '"n":[1,0,2.5,1e+16,1e-07,9007199254740993,true,null],"nested":{"z":{},"a":[]}}\n'
).encode("utf-8")


def test_writes_are_byte_identical_to_earlier_versions(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    assert append_jsonl(path, [SAMPLE, {"k": 1}]) == 2
    assert path.read_bytes() == SAMPLE_LINE + b'{"k":1}\n'
    rewrite_jsonl(path, [{"k": 2}, SAMPLE])
    assert path.read_bytes() == b'{"k":2}\n' + SAMPLE_LINE
    assert list(read_jsonl(path)) == [{"k": 2}, json.loads(SAMPLE_LINE)]


@pytest.mark.parametrize("mark", ["\ufeff", "\x1e"])
def test_a_line_opened_by_a_mark_jsonlines_drops_is_refused(tmp_path: Path, mark: str) -> None:
    """jsonlines.Reader drops a leading BOM or RS; a corpus line holding one is not JSON."""
    path = tmp_path / "a.jsonl"
    path.write_text(f'{{"n": 1}}\n\n{mark}{{"n": 2}}\n{{"n": 3}}\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}:3: malformed JSON"):
        list(read_jsonl(path))


def test_line_numbers_count_blank_and_bad_lines(tmp_path: Path) -> None:
    """jsonl_records: numbers of records and problems as in the file; the torn tail is reported."""
    import io

    from newscorpus.store import jsonl_records

    data = b'{"n":1}\n\n  \n[1]\n\xff\n{"n":2}\n{"n":3'
    torn: list[tuple[int, int]] = []
    got = list(jsonl_records(io.BytesIO(data), on_torn=lambda n, size: torn.append((n, size))))
    assert got == [
        (1, {"n": 1}),
        (4, "expected a JSON object, got list"),
        (5, "not UTF-8: invalid start byte"),
        (6, {"n": 2}),
    ]
    assert torn == [(7, 6)]
