"""Check every corpus file against the schemas and against each other; collect all errors."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cardtext import placeholder_warnings
from .config import Config, load_config
from .corpus import annotation_files, article_files
from .layers import CHOICES, UNRESOLVED, choice_labels, defined
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
    """Validate the data files of a loaded corpus."""
    report = Report(writer_active=is_locked(cfg.root))
    report.files["config"] = 1
    report.warnings.extend(placeholder_warnings(cfg))
    languages = set(cfg.corpus.languages)
    targets = {t.id for t in cfg.targets}
    layers = defined()
    texts: dict[str, str] = {}
    first_seen: dict[str, str] = {}
    for path in article_files(cfg):
        for number, rec in _check("article", path, report):
            where = f"{path}:{number}"
            aid = rec["id"]
            if aid in first_seen:
                report.errors.append(f"{where}: id: duplicate of {first_seen[aid]}")
                continue
            first_seen[aid] = where
            texts[aid] = rec["text"]
            if rec["language"] not in languages:
                report.errors.append(
                    f"{where}: language: {rec['language']!r} is not in [corpus].languages {sorted(languages)}"
                )
    for path in annotation_files(cfg):
        for number, rec in _check("annotation", path, report):
            where = f"{path}:{number}"
            text = texts.get(rec["article_id"])
            if text is None:
                report.errors.append(
                    f"{where}: article_id: no article {rec['article_id']!r} in articles/"
                )
                continue
            for tid in rec["stance"]:
                if tid not in targets:
                    report.errors.append(
                        f"{where}: stance.{tid}: unknown target (not in [[targets]])"
                    )
            for name, label in choice_labels(rec).items():
                layer = layers.choice(name)
                if layer is None:
                    known = ", ".join(c.name for c in layers.choices) or "none"
                    report.errors.append(
                        f"{where}: {CHOICES}.{name}: unknown layer (layers: {known})"
                    )
                elif (
                    label is not None
                    and label not in layer.value_names
                    and not (
                        label == UNRESOLVED and rec["kind"] == "aggregate"  # annotators tied
                    )
                ):
                    report.errors.append(
                        f"{where}: {CHOICES}.{name}: {label!r} is not one of "
                        f"{', '.join(layer.value_names)}"
                    )
            for i, span in enumerate(rec["spans"]):
                s, e = int(span["start"]), int(span["end"])  # the schema admits 63.0
                if not 0 <= s < e <= len(text):
                    report.errors.append(
                        f"{where}: spans.{i}: offsets {s}-{e} outside the text (length {len(text)})"
                    )
                elif text[s:e] != span["text"]:
                    report.errors.append(
                        f"{where}: spans.{i}.text: does not match the article text at {s}-{e}"
                    )
    if cfg.rejected_path.exists():
        for _ in _check("rejected", cfg.rejected_path, report):
            pass
    return report
