"""Small helpers for the words the tool prints."""

from __future__ import annotations


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 task``, ``2 tasks`` (``words`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (words or word + 's')}"
