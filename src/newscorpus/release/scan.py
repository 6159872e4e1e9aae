"""Scan a release for e-mail addresses and token-like strings before anything is published."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
TOKENS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{20,}")),
    (
        "JWT / Label Studio token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
    ("hex secret", re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])")),
    ("base64 secret", re.compile(r"(?<![A-Za-z0-9+_])[A-Za-z0-9+_]{40,}={0,2}(?![A-Za-z0-9+_])")),
)
# RE2 prefilter (no look-arounds): a value is looked at closely only when this matches.
PREFILTER = r"@|hf_|eyJ|[A-Za-z0-9+_]{32}"
SECRET_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "LABEL_STUDIO_API_KEY", "LABEL_STUDIO_TOKEN")
# Columns that hold hashes by design: their hex strings are not secrets.
HASH_COLUMNS = frozenset({"text_sha256", "sha256"})
_MAX_FINDINGS = 20


def _looks_random(s: str) -> bool:
    """A base64-like run counts only with upper, lower and digits mixed (not a long word or path)."""
    return (
        any(c.isupper() for c in s)
        and any(c.islower() for c in s)
        and sum(c.isdigit() for c in s) >= 4
    )


@dataclass
class Scanner:
    """Collects findings as ``where: what: excerpt`` (the excerpt masked)."""

    allow: set[str] = field(default_factory=set)
    findings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env_secrets = [v for k in SECRET_ENV if len(v := os.environ.get(k, "")) >= 8]

    def _add(self, where: str, what: str, value: str) -> None:
        if len(self.findings) < _MAX_FINDINGS:
            masked = value[:3] + "…" + value[-2:] if len(value) > 6 else "…"
            self.findings.append(f"{where}: {what} ({masked})")

    def scan_text(self, where: str, text: str) -> None:
        """Look for e-mails, tokens and the values of secret environment variables."""
        for m in EMAIL.finditer(text):
            self._add(where, "e-mail address", m.group(0))
        for name, pattern in TOKENS:
            for m in pattern.finditer(text):
                value = m.group(0)
                if value in self.allow or value.lower() in self.allow:
                    continue
                if name == "base64 secret" and not _looks_random(value):
                    continue
                self._add(where, name, value)
        for secret in self.env_secrets:
            if secret in text:
                self._add(where, "value of a secret environment variable", secret)

    def scan_batch(self, where: str, batch: pa.RecordBatch) -> None:
        """Scan every string of an Arrow batch: vectorised prefilter, then the exact patterns."""
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            for leaf_name, leaf in _leaves(name, column):
                if leaf_name in HASH_COLUMNS or len(leaf) == 0:
                    continue
                values = [self.env_secrets_filter(leaf)]
                mask = pc.match_substring_regex(leaf, PREFILTER)
                if pc.any(mask).as_py():
                    values.append(pc.filter(leaf, mask))
                for arr in values:
                    hits = [v for v in arr.to_pylist() if v]
                    if hits:
                        self.scan_text(f"{where}: {leaf_name}", "\n".join(hits))

    def env_secrets_filter(self, leaf: pa.Array) -> pa.Array:
        """The values that contain the value of a secret environment variable."""
        if not self.env_secrets:
            return pa.array([], pa.string())
        mask = None
        for secret in self.env_secrets:
            m = pc.match_substring(leaf, secret)
            mask = m if mask is None else pc.or_(mask, m)
        return pc.filter(leaf, mask)

    def scan_file(self, path: Path, where: str) -> None:
        """Scan a text file (Markdown, JSON)."""
        self.scan_text(where, path.read_text(encoding="utf-8", errors="replace"))


def _leaves(name: str, arr: pa.Array) -> list[tuple[str, pa.Array]]:
    """The string arrays inside a column (lists and structs opened up)."""
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return [(name, arr)]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _leaves(name, arr.flatten())
    if pa.types.is_struct(t):
        out: list[tuple[str, pa.Array]] = []
        for i in range(t.num_fields):
            out += _leaves(t.field(i).name, arr.field(i))
        return out
    return []
