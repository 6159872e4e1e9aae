"""The topic filter: [topic].any terms on word boundaries, case- and accent-insensitive."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache


@cache
def _combining_table() -> dict[int, None]:
    """str.translate table deleting every combining character (built once, on first use)."""
    return {i: None for i in range(0x110000) if unicodedata.combining(chr(i))}


def fold(text: str) -> str:
    """Lower-case and strip accents (é -> e, ñ -> n), keeping every other character in place."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return unicodedata.normalize("NFC", decomposed.translate(_combining_table()))


class TopicMatcher:
    """Finds which topic terms occur in a title or text; no terms means everything is on topic."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms = tuple(dict.fromkeys(t for t in terms if t.strip()))
        folded = {fold(t).strip(): t for t in self.terms}
        if folded:
            alternation = "|".join(
                r"\s+".join(re.escape(w) for w in f.split())
                for f in sorted(folded, key=len, reverse=True)
            )
            self._pattern: re.Pattern[str] | None = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")
        else:
            self._pattern = None
        self._original = folded

    @property
    def accepts_all(self) -> bool:
        return self._pattern is None

    def matches(self, *texts: str) -> list[str]:
        """The terms (as written in corpus.toml) found in any of ``texts``, in config order."""
        if self._pattern is None:
            return []
        found: set[str] = set()
        for text in texts:
            for m in self._pattern.finditer(fold(text)):
                key = " ".join(m.group(0).split())
                found.add(self._original.get(key, key))
        return [t for t in self.terms if t in found]
