"""Scan a release before anything is published: e-mail addresses, token-like strings, the
values of secret environment variables, credentials in URLs and the builder's local paths."""

from __future__ import annotations

import itertools
import os
import re
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..urls import AT_SIGNS, CREDENTIALS_IN_TEXT

# The look-behinds make each pattern start only where a run of its characters starts: without
# them a 60 MB run of letters took minutes (every start position scanned the run again).
EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
TOKENS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{20,}")),
    (
        "JWT / Label Studio token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
    ("hex secret", re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])")),
    ("base64 secret", re.compile(r"(?<![A-Za-z0-9+_])[A-Za-z0-9+_]{40,}={0,2}(?![A-Za-z0-9+_])")),
)
# scheme://userinfo@host, also malformed (http:/u:p@h, //u:p@h, a full-width @): the user info
# (user, user:password, a token) is never released; the pattern is the gatherer's own.
USERINFO = CREDENTIALS_IN_TEXT
_HOST_AFTER = re.compile(r"[^\s/?#\"'<>\\]{0,60}")
# The builder's local paths: file: URLs, home folders, temporary folders (each standing alone,
# not a part of a longer path or URL: https://example.org/home/ is no local path).
_ALONE = r"(?<![\w.~:/%+-])"
LOCAL_PATHS: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("file: URL", re.compile(r"(?<![A-Za-z0-9+.-])file:/", re.I), ("file:", "File:", "FILE:")),
    (
        "home-folder path",
        re.compile(_ALONE + r"(?:/home/|/Users/)[^\s/\"'<>]+"),
        ("/home/", "/Users/"),
    ),
    ("home-folder path", re.compile(_ALONE + r"/root(?=/|[\s\"'<>)]|$)"), ("/root",)),
    (
        "home-folder path",
        re.compile(r"(?<![\w])[A-Za-z]:[\\/]+Users[\\/]+[^\s\\/\"'<>]+"),
        ("Users",),
    ),
    ("temporary-folder path", re.compile(_ALONE + r"(?:/var)?/tmp/"), ("/tmp/",)),
)
# A pattern runs over a text only when one of these substrings is in it (a pass of `in` costs
# far less than one of a regular expression over 60 MB).
_TOKEN_HINTS: dict[str, tuple[str, ...]] = {
    "Hugging Face token": ("hf_",),
    "JWT / Label Studio token": ("eyJ",),
}
# RE2 prefilter (no look-arounds): a value is looked at closely only when this matches.
PREFILTER = r"@|\x{ff20}|\x{fe6b}|hf_|eyJ|[A-Za-z0-9+_]{32}|(?i:file:)|/home/|/Users/|/root|/tmp/|:[\\/]+Users"
# Columns that hold hashes by design: their hex strings are not secrets (other checks apply).
HASH_PREFILTER = r"@|\x{ff20}|\x{fe6b}|hf_|eyJ|(?i:file:)|/home/|/Users/|/root|/tmp/|:[\\/]+Users"
SECRET_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "LABEL_STUDIO_API_KEY", "LABEL_STUDIO_TOKEN")
HASH_COLUMNS = frozenset({"text_sha256", "sha256"})
_MAX_FINDINGS = 20


_UPPER, _LOWER, _DIGIT = re.compile("[A-Z]"), re.compile("[a-z]"), re.compile("[0-9]")


def _looks_random(s: str) -> bool:
    """A base64-like run counts only with upper, lower and digits mixed (not a long word or path)."""
    four = sum(1 for _ in itertools.islice(_DIGIT.finditer(s), 4)) == 4
    return bool(_UPPER.search(s) and _LOWER.search(s) and four)


def _mask(value: str) -> str:
    return value[:3] + "…" + value[-2:] if len(value) > 6 else "…"


def _re2_literal(s: str) -> str:
    """A literal for RE2 (pyarrow's regex engine): ASCII punctuation escaped."""
    return "".join("\\" + c if c.isascii() and not c.isalnum() and c != " " else c for c in s)


def local_roots(*paths: Path | None) -> list[str]:
    """Absolute forms of folders whose paths must not be released (given ones, home, temp)."""
    # home and temp as short as /root or /tmp are covered by LOCAL_PATHS' patterns
    found = [p for p in (Path.home(), Path(tempfile.gettempdir())) if len(p.parts) > 2]
    for p in paths:
        if p is not None:
            found += [p.absolute(), p.resolve()]
    out = []
    for p in found:
        s = str(p).rstrip("/")
        if len(p.parts) > 1 and s not in out:
            out.append(s)
    return sorted(out, key=len, reverse=True)


@dataclass
class Scanner:
    """Collects findings as ``where: what (masked excerpt)``.

    ``roots``: absolute folder paths (the corpus folder, the release target) refused wherever
    they appear, besides the patterns of LOCAL_PATHS.
    """

    allow: set[str] = field(default_factory=set)
    roots: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env_secrets = [v for k in SECRET_ENV if len(v := os.environ.get(k, "")) >= 8]
        self._roots = (
            re.compile(
                r"(?<![\w.-])(?:" + "|".join(re.escape(r) for r in self.roots) + r")(?![\w.-])"
            )
            if self.roots
            else None
        )
        literals = "|".join(_re2_literal(r) for r in self.roots)
        self.prefilter = PREFILTER + ("|" + literals if literals else "")
        self.hash_prefilter = HASH_PREFILTER + ("|" + literals if literals else "")
        self._seen: set[tuple[str, str]] = set()

    def _add(self, where: str, what: str, shown: str | None = None) -> None:
        """One finding per place and kind; ``shown``: an excerpt already masked."""
        if (where, what) in self._seen:
            return
        self._seen.add((where, what))
        if len(self.findings) < _MAX_FINDINGS:
            self.findings.append(f"{where}: {what}" + (f" ({shown})" if shown else ""))

    def extend(self, findings: Iterable[str]) -> None:
        """The findings of another scanner (of other files), as many as the cap leaves room for."""
        room = max(_MAX_FINDINGS - len(self.findings), 0)
        self.findings.extend(itertools.islice(findings, room))

    def scan_text(self, where: str, text: str, hashes: bool = False, lines: bool = False) -> None:
        """Look for secrets and local paths; ``lines``: name the line of each finding."""

        def at(pos: int) -> str:
            return f"{where}:{text.count(chr(10), 0, pos) + 1}" if lines else where

        userinfo = []
        at_sign = any(a in text for a in AT_SIGNS)
        for m in USERINFO.finditer(text) if at_sign else ():
            userinfo.append(m.span())
            host = _HOST_AFTER.match(text, m.end())
            shown = f"{m.group(1)}***@{host.group(0) if host else ''}"
            self._add(at(m.start()), "credentials in a URL", shown)
        for m in EMAIL.finditer(text) if at_sign else ():
            if not any(a <= m.start() < b for a, b in userinfo):
                self._add(at(m.start()), "e-mail address", _mask(m.group(0)))
        for name, pattern in TOKENS:
            if hashes and name == "hex secret":
                continue
            hints = _TOKEN_HINTS.get(name)
            if hints is not None and not any(h in text for h in hints):
                continue
            for m in pattern.finditer(text):
                value = m.group(0)
                if value in self.allow or value.lower() in self.allow:
                    continue
                if name == "base64 secret" and not _looks_random(value):
                    continue
                self._add(at(m.start()), name, _mask(value))
        for name, pattern, hints in LOCAL_PATHS:
            if not any(h in text for h in hints):
                continue
            for m in pattern.finditer(text):
                self._add(at(m.start()), f"local {name}", m.group(0)[:6] + "…")
        if self._roots is not None and any(r in text for r in self.roots):
            for m in self._roots.finditer(text):
                self._add(at(m.start()), "a local folder's absolute path", None)
        for secret in self.env_secrets:
            if secret in text:
                self._add(where, "value of a secret environment variable", _mask(secret))

    def scan_batch(self, where: str, batch: pa.RecordBatch) -> None:
        """Scan every string of an Arrow batch: vectorised prefilter, then the exact patterns."""
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            for leaf_name, leaf in _leaves(name, column):
                if len(leaf) == 0:
                    continue
                hashes = leaf_name in HASH_COLUMNS
                values = [self.env_secrets_filter(leaf)]
                mask = pc.match_substring_regex(
                    leaf, self.hash_prefilter if hashes else self.prefilter
                )
                if pc.any(mask).as_py():
                    values.append(pc.filter(leaf, mask))
                for arr in values:
                    hits = [v for v in arr.to_pylist() if v]
                    if hits:
                        self.scan_text(f"{where}: {leaf_name}", "\n".join(hits), hashes=hashes)

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
        """Scan a text file (Markdown); findings name the line."""
        self.scan_text(where, path.read_text(encoding="utf-8", errors="replace"), lines=True)

    def scan_png(self, path: Path, where: str) -> None:
        """Scan the text a PNG carries (tEXt, zTXt, iTXt chunks: a tool's comment, a path)."""
        self.scan_text(where, png_text(path.read_bytes()))

    def scan_json(self, where: str, data: Any, skip: Iterable[str] = ()) -> None:
        """Scan every key and string of a JSON document (top-level keys in ``skip`` left out)."""
        skipped = set(skip)
        top = (
            {k: v for k, v in data.items() if k not in skipped} if isinstance(data, dict) else data
        )
        for path, text in _strings(top, ""):
            self.scan_text(f"{where}: {path or '(top)'}", text)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT_MAX = 10_000_000  # characters of text read out of one PNG (a zTXt bomb stops there)


def png_text(data: bytes) -> str:
    """The keywords and texts of a PNG's text chunks, one a line; all of ``data`` (as Latin-1)
    when it is no PNG or its chunks run past its end, so that nothing goes out unread."""
    if not data.startswith(_PNG_SIGNATURE):
        return data.decode("latin-1")
    out: list[str] = []
    pos, size = len(_PNG_SIGNATURE), 0
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            return data.decode("latin-1")
        pos += 12 + length
        if kind not in (b"tEXt", b"zTXt", b"iTXt"):
            continue
        keyword, _, rest = body.partition(b"\0")
        text = keyword.decode("latin-1") + " "
        try:
            if kind == b"tEXt":
                text += rest.decode("latin-1")
            elif kind == b"zTXt":
                text += _inflate(rest[1:]).decode("latin-1")
            else:  # iTXt: compression flag, method, language\0, translated keyword\0, text
                flag, rest = rest[:1], rest[2:]
                lang, _, rest = rest.partition(b"\0")
                translated, _, rest = rest.partition(b"\0")
                raw = _inflate(rest) if flag == b"\x01" else rest
                text += " ".join(x.decode("utf-8", "replace") for x in (lang, translated, raw))
        except zlib.error:
            text += body.decode("latin-1")
        size += len(text)
        out.append(text)
        if size > _PNG_TEXT_MAX:
            break
    return "\n".join(out)


def _inflate(data: bytes) -> bytes:
    d = zlib.decompressobj()
    return d.decompress(data, _PNG_TEXT_MAX)


def _strings(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """(dotted path, string) of every key and string value of a JSON document, iteratively."""
    stack: list[tuple[Any, str]] = [(node, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            yield where, value
        elif isinstance(value, dict):
            for k, v in value.items():
                sub = f"{where}.{k}" if where else str(k)
                yield sub, str(k)
                stack.append((v, sub))
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(value))


def _leaves(name: str, arr: pa.Array) -> list[tuple[str, pa.Array]]:
    """The string arrays inside a column (lists and structs opened up), by dotted name."""
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return [(name, arr)]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _leaves(name, arr.flatten())
    if pa.types.is_struct(t):
        out: list[tuple[str, pa.Array]] = []
        for i in range(t.num_fields):
            out += _leaves(f"{name}.{t.field(i).name}", arr.field(i))
        return out
    return []
