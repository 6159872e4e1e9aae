"""Synthetic corpora with annotations, aggregates and gold labels for release tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from newscorpus.cardtext import render_template
from newscorpus.config import Config, load_config
from newscorpus.corpus import add_annotations, add_articles
from newscorpus.records import Annotation, Article
from newscorpus.release import publish
from newscorpus.release.publish import ReleaseOptions, ReleaseResult
from tests.conftest import make_article, write_corpus

TOML = """\
[corpus]
name = "release-test"
pretty_name = "Release test corpus (synthetic)"
description = "Synthetic articles for release tests."
languages = ["es", "fr", "en"]
license = "CC-BY-4.0"

[[targets]]
id = "us_forces_in_mexico"
text = "US forces in Mexico"

[[targets]]
id = "cartels_as_terrorists"
text = "Cartels as terrorists"

[[sources]]
name = "open"
kind = "urls"
url = "http://news.test/list.txt"

[[sources]]
name = "paywalled"
kind = "urls"
url = "http://paywalled.test/list.txt"
text_policy = "hydrate"
"""

LANGS = ("es", "fr", "en")
LABELS = ("favor", "against", "neutral", "unrelated")


def synthetic_articles(start: int, n: int, cluster_every: int = 3) -> list[Article]:
    """n synthetic articles; every ``cluster_every``-th one is a near copy of the one before."""
    arts: list[Article] = []
    for i in range(start, start + n):
        text = (
            f"Synthetic report {i} on fentanyl and the cártel. Officials said: "
            f"\u201cWe need information, not soldiers.\u201d\n\nSecond paragraph {i}."
        )
        source = "paywalled" if i % 4 == 3 else "open"
        art = make_article(
            i,
            text=text,
            source=source,
            language=LANGS[i % 3],
            url=f"http://{'paywalled' if source == 'paywalled' else 'news'}.test/a/{i}",
        )
        if i % cluster_every == 1 and arts:
            art.dup_cluster = arts[-1].dup_cluster
        arts.append(art)
    return arts


def quote_span(art: Article, sid: str = "s1") -> dict[str, Any]:
    """The quoted sentence of a synthetic article as a Quote span."""
    start = art.text.index("\u201c")
    end = art.text.index("\u201d") + 1
    return {"id": sid, "start": start, "end": end, "label": "Quote", "text": art.text[start:end]}


def labels_for(arts: list[Article], annotators: int = 3, shift: int = 0) -> list[Annotation]:
    """Raw annotations: ``annotators`` pseudonymous annotators per article."""
    out = []
    for k, art in enumerate(arts):
        for j in range(annotators):
            out.append(
                Annotation(
                    id=f"ann-{art.id}-{j}",
                    kind="annotation",
                    article_id=art.id,
                    annotator=f"annotator-{j:02d}",
                    stance={
                        "us_forces_in_mexico": LABELS[(k + shift + (j == 2)) % 4],
                        "cartels_as_terrorists": LABELS[(k + 1) % 4],
                    },
                    spans=[quote_span(art)],
                    created_at="2026-02-01T10:00:00Z",
                )
            )
    return out


def aggregate_for(art: Article, label: str = "neutral") -> Annotation:
    """An aggregate record in the format `newscorpus aggregate` writes."""
    span = dict(quote_span(art, "agg-1"), checkworthy="no", claim_type=None, speaker=None)
    return Annotation(
        id=f"agg-majority-{art.id}",
        kind="aggregate",
        article_id=art.id,
        annotator="majority",
        stance={"us_forces_in_mexico": label, "cartels_as_terrorists": "unresolved"},
        spans=[span],
        extra={
            "method": "majority",
            "soft": {
                "us_forces_in_mexico": {label: 0.67, "favor": 0.33},
                "cartels_as_terrorists": {"favor": 0.5, "against": 0.5},
            },
            "n_annotators": {"us_forces_in_mexico": 3, "cartels_as_terrorists": 2},
        },
    )


def gold_for(art: Article, label: str = "against") -> Annotation:
    """An adjudicated gold record deciding one target."""
    return Annotation(
        id=f"gold-{art.id}",
        kind="gold",
        article_id=art.id,
        annotator="adjudicator-01",
        stance={"us_forces_in_mexico": label},
        spans=[],
    )


def build_corpus(root: Path, n: int = 40, extra_toml: str = "") -> tuple[Config, list[Article]]:
    """A corpus of n synthetic articles, 3 annotators each, aggregates for half, gold for two."""
    write_corpus(root, TOML + extra_toml)
    cfg = load_config(root)
    card = render_template(cfg.corpus.pretty_name, cfg.corpus.description, cfg.targets)
    (root / "DATA_CARD.md").write_text(card, encoding="utf-8")  # as `newscorpus init` writes it
    arts = synthetic_articles(0, n)
    add_articles(cfg, arts, file="synthetic")
    add_annotations(cfg, labels_for(arts), "pulled")
    add_annotations(cfg, [aggregate_for(a) for a in arts[::2]], "aggregate")
    add_annotations(cfg, [gold_for(arts[0]), gold_for(arts[1], "favor")], "gold")
    return cfg, arts


def make_release(
    cfg: Config,
    *,
    version: str | None = None,
    bump: str | None = None,
    to: Path | None = None,
    hub: str | None = None,
    dry_run: bool = False,
    targets: Any = None,
) -> ReleaseResult:
    """publish.make_release with --to and --hub applied to cfg.release as the CLI applies them."""
    release = replace(cfg.release, to=to or cfg.release.to, hub=hub or cfg.release.hub)
    options = ReleaseOptions(version=version, bump=bump, dry_run=dry_run)
    return publish.make_release(replace(cfg, release=release), options=options, targets=targets)


def published_commits(r: ReleaseResult) -> dict[str, str]:
    """The commit of each target a release was published to, by the target's name."""
    return {p.target: p.commit for p in r.published}
