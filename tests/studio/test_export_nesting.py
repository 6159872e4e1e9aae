"""Hostile JSON in an export file or a server's answer: one line naming it, nothing written.

Deep nesting (a RecursionError in the stdlib parser, or later in repr or comparisons), NaN and
Infinity literals, numbers too large for a 64-bit id, values of the wrong type.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from newscorpus.corpus import iter_annotations
from tests.conftest import snapshot
from tests.studio.test_export import export_corpus, export_tasks


def refused(cli: Callable[..., Any], root: Path, *args: Any) -> str:
    """Run the command, check it exits 1 with one line and wrote nothing; the line."""
    before = snapshot(root)
    result = cli("--corpus", root, *args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert snapshot(root) == before
    return str(lines[0])


def test_export_of_5000_open_brackets_is_one_line(tmp_path: Path, cli: Callable[..., Any]) -> None:
    cfg = export_corpus(tmp_path / "c")
    path = tmp_path / "export.json"
    path.write_text("[" * 5000, encoding="utf-8")
    line = refused(cli, cfg.root, "pull", "--from-export", path)
    assert line.startswith(f"error: {path}:1:") and "nested deeper than" in line, line


def nested(depth: int) -> Any:
    value: Any = "Claim"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [1_000, 1_100, 50_000])
def test_export_nested_deep_inside_a_task_is_one_line(
    tmp_path: Path, cli: Callable[..., Any], depth: int
) -> None:
    cfg = export_corpus(tmp_path / "c")
    tasks = export_tasks()
    tasks[0]["annotations"][0]["result"][2]["value"]["labels"] = ["__DEEP__"]
    text = json.dumps(tasks).replace('"__DEEP__"', "[" * depth + '"Claim"' + "]" * depth)
    path = tmp_path / "export.json"
    path.write_text(text, encoding="utf-8")
    line = refused(cli, cfg.root, "pull", "--from-export", path)
    assert line.startswith(f"error: {path}") and "nested deeper than" in line, line


def with_annotation_id(raw_id: str) -> str:
    tasks = export_tasks()
    tasks[0]["annotations"][0]["id"] = "__ID__"
    return json.dumps(tasks).replace('"__ID__"', raw_id)


@pytest.mark.parametrize(
    ("raw_id", "message"),
    [
        ("1" + "0" * 40, "annotation without an integer id"),  # 10^40
        (str(2**63), "annotation id out of range"),
        ("0", "annotation id out of range"),
        ("true", "annotation without an integer id"),
        ("NaN", ":1:"),
        ("-Infinity", "NaN and Infinity are not JSON numbers"),
        ("Infinity", "NaN and Infinity are not JSON numbers"),
        ("1e400", "number is infinity"),
    ],
)
def test_export_with_huge_or_non_finite_numbers_is_refused(
    tmp_path: Path, cli: Callable[..., Any], raw_id: str, message: str
) -> None:
    cfg = export_corpus(tmp_path / "c")
    path = tmp_path / "export.json"
    path.write_text(with_annotation_id(raw_id), encoding="utf-8")
    line = refused(cli, cfg.root, "pull", "--from-export", path)
    assert line.startswith(f"error: {path}") and message in line, line
    assert list(iter_annotations(cfg)) == []


def test_export_with_a_largest_64_bit_id_is_kept_and_read_back(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    cfg = export_corpus(tmp_path / "c")
    path = tmp_path / "export.json"
    path.write_text(with_annotation_id(str(2**63 - 1)), encoding="utf-8")
    result = cli("--corpus", cfg.root, "pull", "--from-export", path)
    assert result.exit_code == 0, result.output
    assert {a.annotation_id for a in iter_annotations(cfg)} == {2**63 - 1, 102}


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("labels", [["Claim"]], "spans: label ['Claim'] is not in the labeling config"),
        ("labels", [{"a": 1}], "spans: label {'a': 1} is not in the labeling config"),
        ("relation", 5, "relation labels must be a list"),
        ("relation", [["said"]], "relation label ['said'] is not in the config"),
    ],
)
def test_export_with_values_of_the_wrong_type_is_one_line(
    tmp_path: Path, cli: Callable[..., Any], where: str, value: Any, message: str
) -> None:
    cfg = export_corpus(tmp_path / "c")
    tasks = export_tasks()
    result = tasks[0]["annotations"][0]["result"]
    if where == "labels":
        result[2]["value"]["labels"] = value
    else:
        result[-1]["labels"] = value
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    line = refused(cli, cfg.root, "pull", "--from-export", path)
    assert "task 11 annotation 101" in line and message in line, line


# --- a server that is not Label Studio -------------------------------------------------------


ANSWERS = {
    "/deep": b"[" * 5000,
    "/nan": b'{"results": [NaN], "next": null}',
    "/html": b"<html><body>a router's login page</body></html>",
    "/list": b"[1, 2, 3]",
}


@pytest.fixture
def not_label_studio() -> Iterator[Callable[[str], str]]:
    """A local HTTP server (not Label Studio) answering every path with one fixed body."""
    state = {"body": b""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state["body"])))
            self.end_headers()
            self.wfile.write(state["body"])

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def serve(kind: str) -> str:
        state["body"] = ANSWERS[kind]
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    try:
        yield serve
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("kind", sorted(ANSWERS))
@pytest.mark.parametrize("command", [("pull",), ("push",), ("adjudicate", "pull")])
def test_answers_of_a_server_that_is_not_label_studio_are_one_line(
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    not_label_studio: Callable[[str], str],
    kind: str,
    command: tuple[str, ...],
) -> None:
    cfg = export_corpus(tmp_path / "c")
    url = not_label_studio(kind)
    monkeypatch.setenv("LABEL_STUDIO_URL", url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "synthetic-token-0123456789")
    line = refused(cli, cfg.root, *command)
    assert f"error: {url}/api/projects" in line, line
    assert "synthetic-token" not in line
