"""The corpus folder: create it, list its files, read and add articles and annotations."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from .config import CARD_FILE, CONFIG_NAME, Config
from .errors import ConfigError, DataError
from .records import Annotation, Article, Rejection
from .resources import schemas_dir
from .store import (
    Line,
    append_jsonl,
    atomic_write_text,
    check_record,
    iter_lines,
)

R = TypeVar("R")

GITIGNORE = "# working state: caches, ledgers, Label Studio data and secrets\n.newscorpus/\n"


def article_files(cfg: Config) -> list[Path]:
    """Every ``articles/*.jsonl`` file, sorted."""
    return sorted(cfg.articles_dir.glob("*.jsonl"))


def annotation_files(cfg: Config) -> list[Path]:
    """Every ``annotations/*.jsonl`` file, sorted."""
    return sorted(cfg.annotations_dir.glob("*.jsonl"))


_STR_FIELDS = {"article": ("id", "source", "title", "text", "language"), "annotation": ("id",)}


def _shape_ok(kind: str, rec: dict[str, Any]) -> bool:
    """Cheap check of the field types that readers rely on (the full schema is validate's job)."""
    if not all(isinstance(rec.get(f), str) for f in _STR_FIELDS[kind]):
        return False
    if kind == "article":
        return isinstance(rec.get("authors", []), list)
    spans = rec.get("spans", [])
    return (
        isinstance(rec.get("stance", {}), dict)
        and isinstance(spans, list)
        and all(isinstance(s, dict) for s in spans)
    )


def _parse(build: Callable[[dict[str, Any]], R], kind: str, line: Line) -> R:
    """Build a record; a record missing fields gets the schema's file:line: field: problem."""
    try:
        if _shape_ok(kind, line.record):
            return build(line.record)
    except TypeError:
        pass
    check_record(kind, line.record, line.where)
    raise DataError(f"{line.where}: (record): not a valid {kind}") from None


def iter_articles(cfg: Config, validate: bool = False) -> Iterator[Article]:
    """Every stored article, file by file in name order."""
    for path in article_files(cfg):
        for line in iter_lines(path):
            if validate:
                check_record("article", line.record, line.where)
            yield _parse(Article.from_dict, "article", line)


def load_articles(cfg: Config) -> list[Article]:
    """All stored articles (the whole store is read and checked before anything is returned)."""
    return list(iter_articles(cfg))


def iter_annotations(cfg: Config) -> Iterator[Annotation]:
    """Every stored annotation record (all kinds, all versions)."""
    for path in annotation_files(cfg):
        for line in iter_lines(path):
            yield _parse(Annotation.from_dict, "annotation", line)


def _version_key(ann: Annotation) -> tuple[str, str]:
    return (ann.updated_at or ann.created_at or "", ann.pulled_at)


def current_by_kind(
    cfg: Config, kinds: Iterable[str] = ("annotation", "aggregate", "gold")
) -> dict[str, list[Annotation]]:
    """The current records of several kinds in one pass over the files (see current_annotations)."""
    wanted = tuple(kinds)
    latest: dict[tuple[str, str, str | None], Annotation] = {}
    for ann in iter_annotations(cfg):
        if ann.kind not in wanted:
            continue
        key = (ann.kind, ann.article_id, None if ann.kind == "gold" else ann.annotator)
        prev = latest.get(key)
        if prev is None or _version_key(ann) >= _version_key(prev):
            latest[key] = ann
    out: dict[str, list[Annotation]] = {k: [] for k in wanted}
    for (kind, _, _), ann in latest.items():
        if not (ann.deleted or ann.cancelled):
            out[kind].append(ann)
    return out


def current_annotations(cfg: Config, kind: str = "annotation") -> list[Annotation]:
    """Each annotator's latest version per article, without deleted or cancelled ones.

    For ``kind="annotation"`` (human labels), versions are grouped by (article, annotator);
    for aggregates by (article, method); for gold by article (the latest decision wins).
    """
    return current_by_kind(cfg, (kind,))[kind]


def add_articles(cfg: Config, articles: Iterable[Article], file: str | None = None) -> int:
    """Append new articles to ``articles/<file or source>.jsonl``; schema-checked before writing."""
    by_file: dict[Path, list[dict[str, object]]] = {}
    for art in articles:
        rec = art.to_dict()
        check_record("article", rec, f"article {art.id} ({art.url or art.source})")
        by_file.setdefault(cfg.articles_dir / f"{file or art.source}.jsonl", []).append(rec)
    return sum(append_jsonl(path, recs) for path, recs in by_file.items())


def add_annotations(cfg: Config, annotations: Iterable[Annotation], file: str) -> int:
    """Append annotation records to ``annotations/<file>.jsonl``; schema-checked before writing."""
    recs = []
    for ann in annotations:
        rec = ann.to_dict()
        check_record("annotation", rec, f"annotation {ann.id}")
        recs.append(rec)
    return append_jsonl(cfg.annotations_dir / f"{file}.jsonl", recs)


def add_rejections(cfg: Config, rejections: Iterable[Rejection]) -> int:
    """Append dropped items, with their reason, to ``rejected.jsonl``."""
    return append_jsonl(cfg.rejected_path, (r.to_dict() for r in rejections))


def init_corpus(root: Path) -> Path:
    """Create a new corpus folder with a commented corpus.toml; refuse to overwrite one."""
    cfg_path = root / CONFIG_NAME
    if cfg_path.exists():
        raise ConfigError(f"{cfg_path}: already exists; nothing was changed")
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root}: exists and is not a folder")
    template = (schemas_dir() / "corpus.template.toml").read_text(encoding="utf-8")
    name = (
        "".join(
            c if c.isascii() and c.isalnum() else "-" for c in root.resolve().name.lower()
        ).strip("-")
        or "corpus"
    )
    for sub in ("articles", "annotations"):
        try:
            (root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{root}: cannot create the corpus folder: {exc.strerror}") from None
    atomic_write_text(root / ".gitignore", GITIGNORE)
    atomic_write_text(cfg_path, template.replace("{name}", name))
    card = root / CARD_FILE
    if not card.exists():
        from .cardtext import render_template
        from .config import load_config

        cfg = load_config(root)
        atomic_write_text(
            card, render_template(cfg.corpus.pretty_name, cfg.corpus.description, cfg.targets)
        )
    return cfg_path
