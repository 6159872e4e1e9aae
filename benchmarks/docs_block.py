"""Write a benchmark's figures into its block of a docs page (never typed by hand)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def write_block(doc: Path, begin: str, end: str, block: str) -> None:
    """Replace the text from ``begin`` to ``end`` in ``doc`` with ``block`` (which holds both)."""
    text = doc.read_text(encoding="utf-8")
    head, sep, rest = text.partition(begin)
    if not sep or end not in rest:
        raise SystemExit(f"{doc}: no {begin} ... {end} block to fill")
    doc.write_text(head + block + rest.partition(end)[2], encoding="utf-8")


def markers(name: str) -> tuple[str, str]:
    """The begin and end markers of the block named ``name`` (the benchmark's stem)."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


class _Tee(io.TextIOBase):
    """Writes to ``out`` and keeps a copy."""

    def __init__(self, out: io.TextIOBase) -> None:
        self.out = out
        self.copy = io.StringIO()

    def write(self, s: str) -> int:
        self.out.write(s)
        self.copy.write(s)
        return len(s)

    def flush(self) -> None:
        self.out.flush()


def printed_block(name: str, printed: str) -> str:
    """The block of ``name`` holding what the benchmark printed, in a text fence."""
    begin, end = markers(name)
    return "\n".join(
        [
            begin,
            "",
            f"Printed by `benchmarks/{name}.py` on {time.strftime('%Y-%m-%d')}"
            f" ({os.cpu_count()} cores) at its default sizes:",
            "",
            "```text",
            printed.strip("\n"),
            "```",
            "",
            end,
        ]
    )


def run_recorded(main: Callable[[], int], doc: Path, name: str, *, write: bool) -> int:
    """Run ``main``; when ``write``, put what it printed into the ``name`` block of ``doc``."""
    tee = _Tee(sys.stdout)  # type: ignore[arg-type]
    with contextlib.redirect_stdout(tee):
        code = main()
    if write:
        write_block(doc, *markers(name), printed_block(name, tee.copy.getvalue()))
        print(f"\nwritten to {doc.relative_to(REPO) if doc.is_relative_to(REPO) else doc}")
    return code
