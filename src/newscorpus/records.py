"""The records passed between stages: Article, then Annotation (and Rejection for drops)."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


def utcnow() -> str:
    """The current time as ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def sha256_hex(data: bytes | str) -> str:
    """SHA-256 of bytes, or of a string encoded as UTF-8."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def normalize_text(text: str) -> str:
    """NFC, one space inside lines, paragraphs separated by exactly one blank line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    paragraphs: list[str] = []
    for block in text.split("\n"):
        line = " ".join(block.replace("\u00a0", " ").split())
        if line:
            paragraphs.append(line)
    return "\n\n".join(paragraphs)


def article_id(canonical_url: str | None, text: str = "") -> str:
    """Stable id: from the canonical URL, or from the normalised text where there is no URL."""
    basis = f"url:{canonical_url}" if canonical_url else f"text:{normalize_text(text)}"
    return sha256_hex(basis)[:16]


@cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


def _from_dict(cls: type[T], data: dict[str, Any]) -> T:
    names = _field_names(cls)  # type: ignore[arg-type]
    if names.issuperset(data):  # the common case: no extra fields
        return cls(**data)
    known = {k: v for k, v in data.items() if k in names}
    extra = {k: v for k, v in data.items() if k not in names}
    obj = cls(**known)
    if extra and hasattr(obj, "extra"):
        obj.extra.update(extra)
    return obj


@dataclass
class Article:
    """One news article; ``articles/*.jsonl`` stores one per line."""

    id: str
    url: str | None
    canonical_url: str | None
    source: str
    site: str | None
    title: str
    text: str
    language: str
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    dup_cluster: str = ""
    topic_terms: list[str] = field(default_factory=list)
    fetched_at: str = field(default_factory=utcnow)
    sha256: str = ""
    text_sha256: str = ""
    extractor: str = ""
    synthetic: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.dup_cluster:
            self.dup_cluster = self.id
        if not self.text_sha256:
            self.text_sha256 = sha256_hex(self.text)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(d.pop("extra"))
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        return _from_dict(cls, data)


@dataclass
class Annotation:
    """One version of one annotator's (or an aggregate's, or a gold) labels of one article."""

    id: str
    kind: str  # annotation | aggregate | gold
    article_id: str
    annotator: str | None
    stance: dict[str, str | None] = field(default_factory=dict)
    spans: list[dict[str, Any]] = field(default_factory=list)
    task_id: int | None = None
    annotation_id: int | None = None
    created_at: str | None = None
    updated_at: str | None = None
    pulled_at: str = field(default_factory=utcnow)
    cancelled: bool = False
    deleted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(d.pop("extra"))
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Annotation:
        ann = _from_dict(cls, data)
        for span in ann.spans:  # JSON Schema's integer admits 63.0: offsets index strings
            for k in ("start", "end"):
                if isinstance(span.get(k), float) and span[k].is_integer():
                    span[k] = int(span[k])
        return ann


@dataclass
class Rejection:
    """An item a stage dropped or refused, with the reason; ``rejected.jsonl``."""

    url: str | None
    stage: str
    reason: str
    source: str | None = None
    detail: str | None = None
    at: str = field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
