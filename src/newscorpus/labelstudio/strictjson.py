"""Strict JSON for what Label Studio sends or exports: no NaN or Infinity, nested at most
``store.MAX_DEPTH`` deep, so nothing downstream (repr, comparisons, schema checks) can overflow
the stack on a hostile answer or file."""

from __future__ import annotations

import codecs
from typing import Any

import orjson

from ..errors import NewscorpusError, StudioError
from ..store import MAX_DEPTH, too_deep

_NOT_JSON_LITERALS = (b"NaN", b"Infinity")


def parse_json(raw: bytes, where: str, error: type[NewscorpusError] = StudioError) -> Any:
    """Strict JSON (no NaN or Infinity), nested at most MAX_DEPTH deep; else ``error`` naming
    ``where`` and the line and column. Integers beyond 64 bits come back as floats (orjson)."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "UTF-8" in exc.msg:
            raise error(f"{where}: not UTF-8 text") from None
        msg = exc.msg
        if raw[exc.pos : exc.pos + 8].startswith(_NOT_JSON_LITERALS):  # after a sign too
            msg = "NaN and Infinity are not JSON numbers"
        elif msg == "depth limit exceeded":
            msg = f"nested deeper than {MAX_DEPTH} levels"
        raise error(f"{where}:{exc.lineno}:{exc.colno}: not JSON: {msg}") from None
    if isinstance(doc, (dict, list)) and too_deep(doc):
        raise error(f"{where}: not a Label Studio document: nested deeper than {MAX_DEPTH} levels")
    return doc
