"""Language of the main text, with py3langid (its model ships inside the package)."""

from __future__ import annotations

from functools import cache
from typing import Any

MAX_CHARS = 1_500  # plenty for a reliable decision (langid reads bytes one by one: 1 us each)


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of ``text``; ("und", 0.0) when there is no text."""
    if not text.strip():
        return "und", 0.0
    lang, prob = _identifier().classify(text[:MAX_CHARS])
    return str(lang), float(prob)


def accepted(language: str, languages: tuple[str, ...] | list[str]) -> bool:
    """True when ``language`` is one of the corpus languages (every language when none listed)."""
    return not languages or language in languages
