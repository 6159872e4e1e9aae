"""JSONL reading, atomic appends and rewrites, and schema validation with file:line errors.

Writes go through ``jsonlines.Writer`` with the stdlib's compact ``dumps`` below (the bytes
written are those of earlier versions); `validate` reads through ``jsonlines.Reader`` with
``parse_record`` (orjson, then this module's checks) as its ``loads`` (jsonl_records). The bulk
reader of the stages, iter_lines, keeps a loop of its own: jsonlines.Reader measured 1.1x to
1.6x there
(docs/store-bench.md). Around them this module keeps its own promises: atomic writes, one write
per append, the torn-last-line rule, MAX_DEPTH, and errors that name the file and line.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

import jsonlines
import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .errors import DataError
from .resources import schemas_dir

SCHEMAS = {
    "article": "article.schema.json",
    "annotation": "annotation.schema.json",
    "rejected": "rejected.schema.json",
}


# --- atomic writes --------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write a whole file atomically: temp file in the same folder, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, mode: int | None = None) -> None:
    """Write a text file atomically (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def dumps(record: dict[str, Any]) -> str:
    """One JSONL line (no trailing newline): UTF-8, stable key order as given."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def jsonl_bytes(records: Iterable[dict[str, Any]]) -> bytes:
    """Records as JSONL (one ``dumps`` line each, a newline after every one), UTF-8."""
    buf = io.StringIO()
    with jsonlines.Writer(buf, dumps=dumps) as writer:
        writer.write_all(records)
    return buf.getvalue().encode("utf-8")


def rewrite_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace a JSONL file atomically with ``records`` (a torn last line is moved aside first)."""
    payload = jsonl_bytes(records)
    move_torn_tail(path)
    atomic_write_bytes(path, payload)


def append_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Append records as whole lines in one write, then fsync; earlier lines are never rewritten.

    A torn last line (no newline: a write killed half-way) was never a complete record; it is
    moved aside to ``<file>.torn`` first (see move_torn_tail), so the file stays valid JSONL.
    """
    payload = jsonl_bytes(records)
    if not payload:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    if not created:
        move_torn_tail(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as exc:
        raise DataError(f"{path}: cannot append to it: {exc.strerror}; nothing was added") from None
    try:
        view = memoryview(payload)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)
    return payload.count(b"\n")


# --- torn last lines -------------------------------------------------------------------------
#
# The one rule: a JSONL file's last line without a newline is a torn write (a crash or power
# loss in the middle of an append). It was never a complete record, so readers skip it; the
# next write to that file (an append or a rewrite) first moves its bytes to ``<file>.torn``
# beside it (kept, never deleted) and cuts the file at its last newline; `validate` reports it
# with that fix. A command refused on bad input writes nothing, so it moves nothing.

TORN_SUFFIX = ".torn"
# Torn tails this process moved aside, (file, bytes): the CLI reports them after a command.
repaired: list[tuple[Path, int]] = []


def torn_path(path: Path) -> Path:
    """Where the torn bytes of ``path`` are kept."""
    return path.with_name(path.name + TORN_SUFFIX)


def torn_tail(path: Path) -> int:
    """How many bytes follow the last newline of ``path`` (0: the file ends cleanly)."""
    try:
        with path.open("rb") as fh:
            return _tail_start_and_size(fh.fileno())[1]
    except FileNotFoundError:
        return 0


def _tail_start_and_size(fd: int) -> tuple[int, int]:
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size, 0
    pos, chunk = size, 65536
    while pos > 0:
        start = max(0, pos - chunk)
        i = os.pread(fd, pos - start, start).rfind(b"\n")
        if i >= 0:
            return start + i + 1, size - (start + i + 1)
        pos = start
    return 0, size


def move_torn_tail(path: Path) -> int:
    """Move a torn last line to ``<file>.torn`` (appended, fsynced), then cut it; bytes moved."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise DataError(
            f"{path}: cannot open to repair its torn last line: {exc.strerror}"
        ) from None
    try:
        start, n = _tail_start_and_size(fd)
        if not n:
            return 0
        tail = os.pread(fd, n, start)
        kept = torn_path(path)
        try:
            keep = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                view = memoryview(tail + b"\n")
                while view:
                    view = view[os.write(keep, view) :]
                os.fsync(keep)  # kept before it is cut: a crash here leaves a copy, never none
            finally:
                os.close(keep)
        except OSError as exc:
            raise DataError(
                f"{kept}: cannot keep the torn last line of {path.name} there "
                f"({exc.strerror}); nothing was changed: make it a writable file and run "
                "this again"
            ) from None
        os.ftruncate(fd, start)
        os.fsync(fd)
        repaired.append((path, n))
        return n
    finally:
        os.close(fd)


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    path: Path
    number: int
    record: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.path}:{self.number}"


# Records are a few levels deep; a line nested deeper is refused before any recursive code
# (jsonschema, json.dumps) sees it. orjson itself refuses past 1,024 levels.
MAX_DEPTH = 100


class LineProblem(ValueError):
    """Why one JSONL line is not a record (the caller adds file and line)."""


def too_deep(obj: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether a parsed JSON value is nested deeper than ``limit`` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def parse_record(raw: bytes | str) -> dict[str, Any]:
    """One JSONL line as a JSON object; LineProblem says why it is not one."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise LineProblem(f"JSON nested deeper than {MAX_DEPTH} levels") from None
        why = json_error(raw)
        if why.msg == _STDLIB_ACCEPTS:  # a lone surrogate, a byte order mark: orjson says which
            msg = str(exc).split(": line ")[0]
            raise LineProblem(f"malformed JSON: {msg} (column {exc.colno})") from None
        raise LineProblem(f"malformed JSON: {why.msg} (column {why.colno})") from None
    if not isinstance(obj, dict):
        raise LineProblem(f"expected a JSON object, got {type(obj).__name__}")
    if isinstance(raw, bytes):
        opened = raw.count(b"[") + raw.count(b"{")
    else:
        opened = raw.count("[") + raw.count("{")
    if opened > MAX_DEPTH and too_deep(obj):
        raise LineProblem(f"JSON nested deeper than {MAX_DEPTH} levels")
    return obj


# jsonlines.Reader drops one of these before a line; in a corpus file such a line is not JSON
_MARKS_JSONLINES_DROPS = (b"\x1e", codecs.BOM_UTF8)


class _BadLine(Exception):
    def __init__(self, number: int, problem: str) -> None:
        super().__init__(problem)
        self.number, self.problem = number, problem


class _WholeLines:
    """The complete lines of an open JSONL file, for jsonlines.Reader: ``number`` is the line
    last handed out; a last line without a newline ends them (its size is kept in ``torn``)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._lines = iter(fh)
        self.number = 0
        self.torn = 0

    def __iter__(self) -> _WholeLines:
        return self

    def __next__(self) -> bytes:
        raw = next(self._lines)
        self.number += 1
        if not raw.endswith(b"\n"):
            self.torn = len(raw)
            raise StopIteration
        if raw.startswith(_MARKS_JSONLINES_DROPS):
            try:
                parse_record(raw)
            except LineProblem as exc:
                raise _BadLine(self.number, str(exc)) from None
        return raw


def jsonl_records(
    fh: BinaryIO, on_torn: Callable[[int, int], None] | None = None
) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, record) for each line of an open JSONL file, or (line number, why the line
    is not a record). Blank lines are skipped; a torn last line is no record: ``on_torn`` is
    told its line number and size."""
    lines = _WholeLines(fh)
    reader = jsonlines.Reader(lines, loads=parse_record)
    while True:
        try:
            record = reader.read(type=dict, skip_empty=True)
        except EOFError:
            if lines.torn and on_torn is not None:
                on_torn(lines.number, lines.torn)
            return
        except _BadLine as exc:
            yield exc.number, exc.problem
            continue
        except jsonlines.InvalidLineError as exc:
            cause = exc.__cause__
            if isinstance(cause, UnicodeDecodeError):
                yield exc.lineno, f"not UTF-8: {cause.reason}"
            else:
                yield exc.lineno, str(cause) if isinstance(cause, LineProblem) else str(exc)
            continue
        yield lines.number, record


def iter_lines(path: Path) -> Iterator[Line]:
    """Yield each record of a JSONL file with its line number; DataError on a malformed line.

    A last line without a newline is a torn write, not a record: it is skipped (see
    move_torn_tail for what becomes of it). The bulk reader of every stage: a loop of its own
    rather than jsonlines.Reader, which measured 1.1x to 1.6x on 100,000 articles (docs/store-bench.md);
    it takes lines as jsonl_records does (the same parse_record, blank lines, torn tail).
    """
    if not path.exists():
        return
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    with fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.endswith(b"\n"):
                return  # torn last line
            if not raw.strip():
                continue
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}:{number}: not UTF-8: {exc.reason}") from None
            try:
                record = parse_record(raw)
            except LineProblem as exc:
                raise DataError(f"{path}:{number}: {exc}") from None
            yield Line(path, number, record)


def json_error(raw: str | bytes) -> json.JSONDecodeError:
    """The stdlib's wording of why a line is not JSON (orjson parses; json explains)."""
    try:
        json.loads(raw)
    except json.JSONDecodeError as exc:
        return exc
    except RecursionError:
        return json.JSONDecodeError(f"nested deeper than {MAX_DEPTH} levels", str(raw)[:80], 0)
    except ValueError as exc:  # e.g. an integer too long to convert
        return json.JSONDecodeError(str(exc).split(";")[0], str(raw)[:80], 0)
    return json.JSONDecodeError(_STDLIB_ACCEPTS, str(raw)[:80], 0)


_STDLIB_ACCEPTS = "not valid JSON"  # json.loads reads a line orjson refused


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield each record of a JSONL file."""
    for line in iter_lines(path):
        yield line.record


# --- schema validation -----------------------------------------------------------------------


def _schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((schemas_dir() / SCHEMAS[kind]).read_text(encoding="utf-8"))
    return schema


@cache
def validator(kind: str) -> Draft202012Validator:
    """The JSON Schema validator of a record kind (article, annotation, rejected)."""
    schema = _schema(kind)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@cache
def _fast_validator(kind: str) -> Any:
    """jsonschema-rs (Rust, ~50x faster) answers "valid?"; jsonschema words the errors."""
    return jsonschema_rs.validator_for(_schema(kind))


def _field(err: ValidationError) -> str:
    parts = [str(p) for p in err.absolute_path]
    if err.validator == "required" and isinstance(err.instance, dict):
        required: Any = err.validator_value
        missing = [k for k in required if k not in err.instance]
        # jsonschema reports each missing property as its own error: "'name' is a required ..."
        named = [k for k in missing if err.message.startswith(f"{k!r} ")]
        if named or missing:
            parts.append(str((named or missing)[0]))
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        schema = err.schema if isinstance(err.schema, dict) else {}
        allowed = set(schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            parts.append(extra[0])
    return ".".join(parts) or "(record)"


def _order(err: ValidationError) -> tuple[list[str], int, str]:
    """Errors by place; missing fields in the schema's order of ``required`` (id first)."""
    rank = 0
    if err.validator == "required" and isinstance(err.validator_value, list):
        names = [k for k in err.validator_value if err.message.startswith(f"{k!r} ")]
        rank = err.validator_value.index(names[0]) if names else 0
    return list(map(str, err.absolute_path)), rank, err.message


def _problem(err: ValidationError) -> str:
    if err.validator == "required":
        return "required field is missing"
    if err.validator == "additionalProperties":
        return "unknown field"
    return err.message if len(err.message) < 160 else err.message[:157] + "..."


def record_errors(kind: str, record: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, problem) for every way ``record`` breaks its schema, in a stable order."""
    if _fast_validator(kind).is_valid(record):
        return []
    errs = sorted(validator(kind).iter_errors(record), key=_order)
    return [(_field(e), _problem(e)) for e in errs]


def check_record(kind: str, record: dict[str, Any], where: str) -> None:
    """Raise DataError ``where: field: problem`` for the first schema violation."""
    errs = record_errors(kind, record)
    if errs:
        f, p = errs[0]
        raise DataError(f"{where}: {f}: {p}")
