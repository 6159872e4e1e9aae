"""Write a benchmark's figures into its block of a docs page (never typed by hand)."""

from __future__ import annotations

from pathlib import Path


def write_block(doc: Path, begin: str, end: str, block: str) -> None:
    """Replace the text from ``begin`` to ``end`` in ``doc`` with ``block`` (which holds both)."""
    text = doc.read_text(encoding="utf-8")
    head, sep, rest = text.partition(begin)
    if not sep or end not in rest:
        raise SystemExit(f"{doc}: no {begin} ... {end} block to fill")
    doc.write_text(head + block + rest.partition(end)[2], encoding="utf-8")
