"""The dataset card: generated YAML header, the prose of DATA_CARD.md, generated sections."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..config import Config
from ..resources import repo_root

CARD_FILE = "DATA_CARD.md"
_FALLBACK_PROSE = "## Dataset description\n\nSee the generated sections below.\n"
_COMMENT = re.compile(r"\A\s*<!--.*?-->\s*", re.S)


def size_category(n: int) -> str:
    """The Hub's size bucket for n rows."""
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < limit:
            return name
    return "10M<n<100M"


def card_prose(cfg: Config) -> str:
    """DATA_CARD.md from the corpus folder, the wheel or the source checkout (comment cut)."""
    packaged = Path(__file__).resolve().parent.parent / "_DATA_CARD.md"  # wheel force-include
    candidates = [cfg.root / CARD_FILE, packaged]
    root = repo_root()
    if root is not None:
        candidates.append(root / CARD_FILE)
    for path in candidates:
        if path.is_file():
            return _COMMENT.sub("", path.read_text(encoding="utf-8")).strip() + "\n"
    return _FALLBACK_PROSE


def card_yaml(
    cfg: Config, counts: Mapping[str, Mapping[str, int]], languages: list[str]
) -> dict[str, Any]:
    """The card's YAML metadata; configs list only the splits that have rows."""
    configs = []
    for config, splits in counts.items():
        files = [
            {"split": s, "path": f"data/{config}/{s}-*.parquet"} for s, n in splits.items() if n
        ]
        if files:
            entry: dict[str, Any] = {"config_name": config, "data_files": files}
            if config == "articles":
                entry["default"] = True
            configs.append(entry)
    langs = languages or list(cfg.corpus.languages)
    n_articles = sum(counts.get("articles", {}).values())
    return {
        "pretty_name": cfg.corpus.pretty_name,
        "license": cfg.corpus.license.lower(),
        "language": langs,
        "multilinguality": "multilingual" if len(langs) > 1 else "monolingual",
        "task_categories": ["text-classification", "token-classification"],
        "task_ids": ["multi-class-classification", "fact-checking"],
        "size_categories": [size_category(n_articles)],
        "annotations_creators": ["expert-generated"],
        "language_creators": ["found"],
        "source_datasets": ["original"],
        "tags": ["stance-detection", "claim-detection", "news"],
        "configs": configs,
    }


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def agreement_section(report_md: str | None, pngs: list[str]) -> str:
    """The agreement report of `newscorpus agree`, with its plot links pointing into reports/."""
    if report_md is None:
        return (
            "No agreement report was found when this version was built (run `newscorpus agree`).\n"
        )
    text = re.sub(r"^#\s+.*\n", "", report_md.strip() + "\n", count=1)
    text = re.sub(r"^(#+)", r"#\1", text, flags=re.M)  # nest its headings under ours
    for name in pngs:
        text = re.sub(rf"\]\((?:\./)?(?:reports/)?{re.escape(name)}\)", f"](reports/{name})", text)
    missing = [n for n in pngs if f"reports/{n}" not in text]
    text += "".join(f"\n![{n}](reports/{n})\n" for n in missing)
    return text


def render_card(
    cfg: Config,
    version: str,
    counts: Mapping[str, Mapping[str, int]],
    facets: Mapping[str, Counter[str]],
    agreement_md: str | None,
    pngs: list[str],
    limitations: list[str],
    hub: str | None,
) -> str:
    """The whole README.md of a release."""
    languages = sorted(facets.get("language", Counter()))
    header = yaml.safe_dump(
        card_yaml(cfg, counts, languages), sort_keys=False, allow_unicode=True, width=1000
    )
    parts = [f"---\n{header}---\n", f"# {cfg.corpus.pretty_name}\n", f"{cfg.corpus.description}\n"]
    parts.append(f"Version **v{version}**. Configs: articles, stance, claims, annotations.\n")
    parts.append(card_prose(cfg))
    parts.append("## Counts in this version\n")
    split_rows = [
        (c, *(counts[c].get(s, 0) for s, _ in cfg.release.splits), sum(counts[c].values()))
        for c in counts
    ]
    parts.append(_table(("config", *(s for s, _ in cfg.release.splits), "total"), split_rows))
    for facet, title in (
        ("language", "Articles per language"),
        ("source", "Articles per source"),
        ("label", "Stance labels (target: label)"),
    ):
        rows = sorted(facets.get(facet, Counter()).items())
        parts.append(f"### {title}\n")
        parts.append(_table((facet, "count"), rows) if rows else "None in this version.\n")
    parts.append("## Agreement\n")
    parts.append(agreement_section(agreement_md, pngs))
    parts.append("## Known limitations of this version\n")
    parts.append("".join(f"- {line}\n" for line in limitations) or "- None recorded.\n")
    repo = hub or "ORG/NAME"
    first = next((c for c in counts if sum(counts[c].values())), "articles")
    parts.append(
        "## How to load this version\n\n"
        "```python\nfrom datasets import load_dataset\n\n"
        f'ds = load_dataset("{repo}", "{first}", revision="v{version}")\n'
        "```\n\n"
        "From a local copy of this folder: `load_dataset(PATH, CONFIG)`. Articles from sources "
        "with `text_policy = hydrate` have no text: run `newscorpus hydrate PATH` to fetch and "
        "check them against `text_sha256`.\n"
    )
    return "\n".join(parts)


def load_agreement(cfg: Config) -> tuple[str | None, list[Path]]:
    """reports/agreement.md (or None) and the PNG plots beside it."""
    md = cfg.reports_dir / "agreement.md"
    text = md.read_text(encoding="utf-8") if md.is_file() else None
    pngs = sorted(cfg.reports_dir.glob("*.png")) if cfg.reports_dir.is_dir() else []
    return text, pngs
