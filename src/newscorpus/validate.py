"""Check every corpus file against the schemas and against each other; collect all errors."""

from __future__ import annotations

import functools
import hashlib
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .cardtext import placeholder_warnings
from .config import Config, load_config
from .corpus import annotation_files, article_files
from .layers import CHOICES, UNRESOLVED, Layers, choice_labels, defined
from .lock import is_locked
from .store import jsonl_records, record_errors, torn_path


@dataclass
class Report:
    """What validate found: counts per file kind and every error as ``file:line: field: problem``."""

    files: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    writer_active: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def _records(path: Path, report: Report) -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream (line number, record); malformed lines become errors, not exceptions."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        report.errors.append(f"{path}: (file): cannot read: {exc.strerror}")
        return
    with fh:
        torn = functools.partial(_torn, path, report=report)
        for number, rec in jsonl_records(fh, on_torn=torn):
            if isinstance(rec, str):
                report.errors.append(f"{path}:{number}: (line): {rec}")
                continue
            yield number, rec


def _torn(path: Path, number: int, size: int, *, report: Report) -> None:
    """A last line without a newline: being written now, or torn by a crash (a warning)."""
    if report.writer_active:
        return  # an append in progress, not damage
    report.warnings.append(
        f"{path}:{number}: (line): torn last line ({size} bytes, no newline; an interrupted "
        f"write, not a record): the next write to this file moves it to {torn_path(path).name}"
    )


def _check(kind: str, path: Path, report: Report) -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream the records of ``path`` that pass their schema; count and report the others."""
    report.files[kind] += 1
    for number, rec in _records(path, report):
        report.records[kind] += 1
        errs = record_errors(kind, rec)
        for fld, problem in errs:
            report.errors.append(f"{path}:{number}: {fld}: {problem}")
        if not errs:
            yield number, rec


def validate_corpus(root: Path) -> Report:
    """Validate corpus.toml (raises ConfigError) and every data file (errors collected)."""
    cfg = load_config(root)
    return validate_loaded(cfg)


def validate_loaded(cfg: Config) -> Report:
    """Validate the data files of a loaded corpus.

    Memory does not grow with the texts: the annotations are read first and their span checks
    kept as compact columns (_Annotations); the articles then stream by once, each checked against the
    spans that point into it and dropped. The report is the same as reading the articles first
    and keeping their texts: article errors, then annotation errors in file and line order.
    """
    report = Report(writer_active=is_locked(cfg.root))
    report.files["config"] = 1
    report.warnings.extend(placeholder_warnings(cfg))
    pulled = Report(writer_active=report.writer_active)  # the annotation files' own findings
    anns = _read_annotations(cfg, pulled)
    _check_articles(cfg, report, anns)
    report.files.update(pulled.files)
    report.records.update(pulled.records)
    report.warnings.extend(pulled.warnings)
    report.errors.extend(anns.errors(pulled.errors))
    if cfg.rejected_path.exists():
        for _ in _check("rejected", cfg.rejected_path, report):
            pass
    return report


_BIG = 1 << 62  # offsets are kept as int64, clamped here (past any text); the originals aside
_ABSENT = -1  # no article has this id (yet)


def _digest(text: str) -> int:
    """64-bit blake2b of the UTF-8 text: equal digests stand for equal texts (a collision only
    hides a mismatching span text, with odds of 2^-64). surrogatepass: a lone surrogate, which
    a str may hold, still hashes (and to its own bytes)."""
    data = text.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


@dataclass
class _Annotations:
    """What the checks of the schema-valid annotation records need once the articles are read:
    one row per record (the article's code, where it is, where its errors go among the file
    errors) and one per span (its record, index, offsets and the digest of its text)."""

    codes: dict[str, int] = field(default_factory=dict)  # article id -> code
    paths: list[Path] = field(default_factory=list)
    rec_code: array[int] = field(default_factory=lambda: array("i"))
    rec_path: array[int] = field(default_factory=lambda: array("i"))
    rec_line: array[int] = field(default_factory=lambda: array("q"))
    rec_at: array[int] = field(default_factory=lambda: array("q"))  # len(file errors) then
    other: dict[int, list[str]] = field(default_factory=dict)  # record -> stance/choices errors
    span_rec: array[int] = field(default_factory=lambda: array("q"))
    span_index: array[int] = field(default_factory=lambda: array("i"))
    span_start: array[int] = field(default_factory=lambda: array("q"))
    span_end: array[int] = field(default_factory=lambda: array("q"))
    span_digest: array[int] = field(default_factory=lambda: array("Q"))
    big: dict[int, tuple[int, int]] = field(default_factory=dict)  # span -> offsets past _BIG
    failed: dict[int, int] = field(default_factory=dict)  # span -> text length, -1: mismatch
    found: array[int] = field(default_factory=lambda: array("q"))  # code -> article path or -1
    found_line: array[int] = field(default_factory=lambda: array("q"))
    by_code: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    first: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(1, np.int64))

    def code(self, aid: str) -> int:
        code = self.codes.get(aid)
        if code is None:
            code = self.codes[aid] = len(self.codes)
            self.found.append(_ABSENT)
            self.found_line.append(0)
        return code

    def index_spans(self) -> None:
        """Group the spans by article code (stable: in annotation order within a code)."""
        rec_code = np.array(self.rec_code, dtype=np.int64)
        span_code = rec_code[np.array(self.span_rec, dtype=np.int64)]
        self.by_code = np.argsort(span_code, kind="stable")
        self.first = np.searchsorted(
            span_code[self.by_code], np.arange(len(self.codes) + 1, dtype=np.int64)
        )

    def check(self, code: int, text: str) -> None:
        """Check the spans that point into article ``code``, whose text is ``text``."""
        if code + 1 >= len(self.first):
            return  # an id no annotation names
        lo, hi = int(self.first[code]), int(self.first[code + 1])
        if lo == hi:
            return
        n = len(text)
        for j in self.by_code[lo:hi].tolist():
            s, e = self.span_start[j], self.span_end[j]
            if not 0 <= s < e <= n:
                self.failed[j] = n
            elif _digest(text[s:e]) != self.span_digest[j]:
                self.failed[j] = -1

    def errors(self, file_errors: list[str]) -> list[str]:
        """The annotation files' errors in the order of their lines: ``file_errors`` (unreadable
        files and lines, schema errors) with each record's own errors where it came."""
        rec_code = np.array(self.rec_code, dtype=np.int64)
        found = np.array(self.found, dtype=np.int64)
        missing: list[int] = np.flatnonzero(found[rec_code] == _ABSENT).tolist()
        spans_of: dict[int, list[int]] = {}
        for j in sorted(self.failed):
            spans_of.setdefault(self.span_rec[j], []).append(j)
        names = list(self.codes) if missing else []
        own: dict[int, list[str]] = {}
        for k in missing:
            aid = names[self.rec_code[k]]
            own[k] = [f"{self.where(k)}: article_id: no article {aid!r} in articles/"]
        for k in sorted(set(self.other) | set(spans_of)):
            if k not in own:
                own[k] = self.other.get(k, []) + [self.span_error(j) for j in spans_of.get(k, [])]
        out: list[str] = []
        done = 0
        for k in sorted(own):
            at = self.rec_at[k]
            out.extend(file_errors[done:at])
            done = at
            out.extend(own[k])
        out.extend(file_errors[done:])
        return out

    def where(self, k: int) -> str:
        return f"{self.paths[self.rec_path[k]]}:{self.rec_line[k]}"

    def span_error(self, j: int) -> str:
        where, i = self.where(self.span_rec[j]), self.span_index[j]
        s, e = self.big.get(j, (self.span_start[j], self.span_end[j]))
        n = self.failed[j]
        if n >= 0:
            return f"{where}: spans.{i}: offsets {s}-{e} outside the text (length {n})"
        return f"{where}: spans.{i}.text: does not match the article text at {s}-{e}"


def _read_annotations(cfg: Config, report: Report) -> _Annotations:
    """Check the annotation records that need no article text; keep the rest (_Annotations)."""
    targets = {t.id for t in cfg.targets}
    layers = defined()
    anns = _Annotations()
    code, big = anns.code, anns.big
    rec_code, rec_path, rec_line, rec_at = anns.rec_code, anns.rec_path, anns.rec_line, anns.rec_at
    span_rec, span_index, span_digest = anns.span_rec, anns.span_index, anns.span_digest
    span_start, span_end = anns.span_start, anns.span_end
    for path in annotation_files(cfg):
        p = len(anns.paths)
        anns.paths.append(path)
        for number, rec in _check("annotation", path, report):
            k = len(rec_code)
            rec_code.append(code(rec["article_id"]))
            rec_path.append(p)
            rec_line.append(number)
            rec_at.append(len(report.errors))
            if rec["stance"].keys() - targets or choice_labels(rec):  # else nothing to report
                errors = _label_errors(f"{path}:{number}", rec, targets, layers)
                if errors:
                    anns.other[k] = errors
            for i, span in enumerate(rec["spans"]):
                s, e = int(span["start"]), int(span["end"])  # the schema admits 63.0
                if s > _BIG or e > _BIG:
                    big[len(span_rec)] = (s, e)
                    s, e = min(s, _BIG), min(e, _BIG)  # outside any text either way
                span_rec.append(k)
                span_index.append(i)
                span_start.append(s)
                span_end.append(e)
                span_digest.append(_digest(span["text"]))
    anns.index_spans()
    return anns


def _label_errors(where: str, rec: dict[str, Any], targets: set[str], layers: Layers) -> list[str]:
    """Stance targets and choice layers and labels of one annotation record."""
    errors: list[str] = []
    for tid in rec["stance"]:
        if tid not in targets:
            errors.append(f"{where}: stance.{tid}: unknown target (not in [[targets]])")
    for name, label in choice_labels(rec).items():
        layer = layers.choice(name)
        if layer is None:
            known = ", ".join(c.name for c in layers.choices) or "none"
            errors.append(f"{where}: {CHOICES}.{name}: unknown layer (layers: {known})")
        elif (
            label is not None
            and label not in layer.value_names
            and not (
                label == UNRESOLVED and rec["kind"] == "aggregate"  # annotators tied
            )
        ):
            errors.append(
                f"{where}: {CHOICES}.{name}: {label!r} is not one of {', '.join(layer.value_names)}"
            )
    return errors


def _check_articles(cfg: Config, report: Report, anns: _Annotations) -> None:
    """Check each article record (duplicate id, language) and the spans that point into it;
    only ids, codes and where each id was first seen stay."""
    languages = set(cfg.corpus.languages)
    paths: list[Path] = []
    for path in article_files(cfg):
        p = len(paths)
        paths.append(path)
        for number, rec in _check("article", path, report):
            code = anns.code(rec["id"])
            seen = anns.found[code]
            if seen != _ABSENT:
                report.errors.append(
                    f"{path}:{number}: id: duplicate of {paths[seen]}:{anns.found_line[code]}"
                )
                continue
            anns.found[code] = p
            anns.found_line[code] = number
            anns.check(code, rec["text"])
            if rec["language"] not in languages:
                report.errors.append(
                    f"{path}:{number}: language: {rec['language']!r} is not in "
                    f"[corpus].languages {sorted(languages)}"
                )
