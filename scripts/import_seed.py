"""Add the seed article (../shared/seeds/seed-article.fr.txt) to corpus/articles/seed.jsonl.

The seed is a plain-text copy of a CiberCuba report (French translation of a Spanish-language
original); it has no URL here, so its id comes from its text. Lines that are page furniture
(photo caption, "Vidéos associées", tags, the newsroom blurb) are left out of the text, as an
extractor would. Idempotent: run it again and nothing changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from newscorpus.config import load_config
from newscorpus.corpus import add_articles, load_articles
from newscorpus.gather.topic import TopicMatcher
from newscorpus.records import Article, article_id, normalize_text, sha256_hex

BOILERPLATE_PREFIXES = (
    "Claudia Sheinbaum et Donald Trump à Washington",  # photo caption and credit
    "Vidéos associées",
    "Archivé dans",
    "Équipe éditoriale de CiberCuba",
    "Une équipe de journalistes engagés",
)


def seed_article(path: Path, topic: TopicMatcher) -> Article:
    raw = path.read_bytes()
    lines = [ln.strip() for ln in raw.decode("utf-8").splitlines() if ln.strip()]
    title, body = lines[0], lines[1:]
    body = [ln for ln in body if not ln.startswith(BOILERPLATE_PREFIXES)]
    text = normalize_text("\n".join(body))
    return Article(
        id=article_id(None, text),
        url=None,
        canonical_url=None,
        source="seed",
        site="CiberCuba",
        title=title,
        text=text,
        language="fr",
        authors=["Équipe éditoriale de CiberCuba"],
        published=None,
        sha256=sha256_hex(raw),
        extractor="newscorpus scripts/import_seed.py (plain text, boilerplate lines removed)",
        topic_terms=topic.matches(title, text),
        synthetic=False,
    )


def main() -> int:
    seed = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/seeds/seed-article.fr.txt")
    corpus = Path(sys.argv[2] if len(sys.argv) > 2 else "corpus")
    cfg = load_config(corpus)
    art = seed_article(seed, TopicMatcher(cfg.topic.any))
    if any(a.id == art.id for a in load_articles(cfg)):
        print(f"seed article {art.id} already in {cfg.articles_dir}")
        return 0
    add_articles(cfg, [art], file="seed")
    print(f"added seed article {art.id} to {cfg.articles_dir / 'seed.jsonl'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
