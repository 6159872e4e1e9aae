"""Helpers for the Label Studio tests: corpora with their own project, annotation results."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from newscorpus.cardtext import render_template
from newscorpus.config import Config, load_config
from newscorpus.corpus import add_articles
from newscorpus.records import Article
from tests.conftest import MINIMAL_TOML, make_article, write_corpus

SECOND_TARGET = """
[[targets]]
id = "cartels_as_terrorists"
text = "Mexican drug cartels should be designated as foreign terrorist organisations"
"""

QUOTE_TEXT = (
    "« Ce dont nous avons besoin, ce sont des informations », a déclaré Sheinbaum.\n\n"
    "Selon le ministère, 97 % des drogues qui entrent par mer ont été stoppées en 2025."
)


def studio_corpus(root: Path, extra_toml: str = "", targets: str = SECOND_TARGET) -> Config:
    """A corpus whose pretty_name (so its Label Studio project) is unique to the test."""
    title = f"Test corpus {secrets.token_hex(4)}"
    toml = MINIMAL_TOML.replace('pretty_name = "Test corpus"', f'pretty_name = "{title}"')
    write_corpus(root, toml + targets + extra_toml)
    cfg = load_config(root)
    card = render_template(cfg.corpus.pretty_name, cfg.corpus.description, cfg.targets)
    (root / "DATA_CARD.md").write_text(card, encoding="utf-8")  # as `newscorpus init` writes it
    return cfg


def articles(n: int, start: int = 0) -> list[Article]:
    """n synthetic articles (marked synthetic=True); article 0 of each set has a quote."""
    out = []
    for i in range(start, start + n):
        if i == start:
            out.append(make_article(i, text=QUOTE_TEXT, url=f"http://news.test/q{i}"))
        else:
            out.append(make_article(i))
    return out


def with_articles(cfg: Config, arts: list[Article]) -> list[Article]:
    """Store the articles in the corpus and return them."""
    add_articles(cfg, arts)
    return arts


def span(text: str, rid: str, needle: str, label: str) -> dict[str, Any]:
    """A `spans` region over the first occurrence of needle."""
    start = text.index(needle)
    return {
        "id": rid,
        "from_name": "spans",
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": start + len(needle), "text": needle, "labels": [label]},
    }


def choice(name: str, value: str, region: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Choices result, per-region when region is given."""
    item: dict[str, Any] = {
        "from_name": name,
        "to_name": "text",
        "type": "choices",
        "value": {"choices": [value]},
    }
    if region is not None:
        item["id"] = region["id"]
        v = region["value"]
        item["value"].update(start=v["start"], end=v["end"], text=v["text"])
    return item


def full_result(text: str, stance: str = "neutral") -> list[dict[str, Any]]:
    """Stance for both targets, a check-worthy statistical Claim, a Quote said by a Speaker."""
    claim = span(text, "c1", "97 % des drogues qui entrent par mer ont été stoppées", "Claim")
    quote = span(text, "q1", "Ce dont nous avons besoin, ce sont des informations", "Quote")
    speaker = span(text, "s1", "Sheinbaum", "Speaker")
    return [
        choice("stance_us_forces_in_mexico", stance),
        choice("stance_cartels_as_terrorists", "unrelated"),
        claim,
        choice("checkworthy", "yes", claim),
        choice("claim_type", "statistical", claim),
        quote,
        speaker,
        {
            "type": "relation",
            "from_id": "s1",
            "to_id": "q1",
            "direction": "right",
            "labels": ["said"],
        },
    ]


def export_of(path: Path, art: Article, result: list[dict[str, Any]]) -> Path:
    """A Label Studio JSON export at ``path``: one task of ``art`` with one annotation."""
    task = {
        "id": 11,
        "data": {"article_id": art.id, "title": art.title, "text": art.text},
        "annotations": [
            {
                "id": 101,
                "completed_by": 3,
                "result": result,
                "was_cancelled": False,
                "created_at": "2026-01-02T10:00:00Z",
                "updated_at": "2026-01-02T10:05:00Z",
            }
        ],
    }
    path.write_text(json.dumps([task]), encoding="utf-8")
    return path
