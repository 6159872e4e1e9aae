"""The bundled demo sources: pages parse, annotations match the pages, the mix is as promised."""

from __future__ import annotations

import json
import re
from collections import Counter
from html.parser import HTMLParser
from itertools import combinations
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import defusedxml.ElementTree as ET
import py3langid
import pytest
import trafilatura

from newscorpus.config import load_config
from newscorpus.demo.serve import serve_samples
from newscorpus.gather.sources import parse_feed, read_urls_file
from newscorpus.gather.topic import TopicMatcher
from newscorpus.records import normalize_text

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "src" / "newscorpus" / "demo" / "samples"
SITE = SAMPLES / "site"
SEED = "seed/seed-article.html"
BROKEN = "capitol-wire-daily/live-border-security-updates.html"
OFFTOPIC = "diario-del-norte/jornada-9-dorados-del-valle-golean.html"
COPIES = (
    "la-voz-fronteriza/mexico-envia-a-eu-26-presuntos-narcotraficantes.html",
    "el-observador-del-golfo/mexico-extradita-26-presuntos-integrantes-carteles.html",
)
NOTICE = "Synthetic article written for the newscorpus demo; not real news."
TARGETS = ("us_forces_in_mexico", "cartels_as_terrorists")
STANCES = {"favor", "against", "neutral", "unrelated"}
LABELS = {"Claim", "Quote", "Speaker"}
CLAIM_TYPES = {"statistical", "causal", "event", "prediction", "policy", "other"}
BASE = "http://127.0.0.1:8765"


class Page(HTMLParser):
    """Collects what the tests need: html lang, title, metas, links, and <article> <p> texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.title = ""
        self.metas: dict[str, str] = {}
        self.charset = False
        self.canonical: str | None = None
        self.hrefs: list[str] = []
        self.paragraphs: list[str] = []
        self.articles = 0
        self.closed_html = False
        self._in_title = False
        self._article_depth = 0
        self._p: list[str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "title":
            self._in_title = True
        elif tag == "meta":
            if "charset" in a:
                self.charset = a["charset"].lower() == "utf-8"
            key = a.get("name") or a.get("property")
            if key:
                self.metas[key] = a.get("content", "")
        elif tag == "link" and a.get("rel") == "canonical":
            self.canonical = a.get("href")
        elif tag == "a" and "href" in a:
            self.hrefs.append(a["href"])
        elif tag == "article":
            self.articles += 1
            self._article_depth += 1
        elif tag == "p" and self._article_depth:
            self._p = []
        self._text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "article":
            self._article_depth -= 1
        elif tag == "p" and self._p is not None:
            self.paragraphs.append(" ".join("".join(self._p).split()))
            self._p = None
        elif tag == "html":
            self.closed_html = True

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._p is not None:
            self._p.append(data)
        self._text.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self._text).split())


def parse(rel: str) -> Page:
    page = Page()
    page.feed((SITE / rel).read_text(encoding="utf-8"))
    page.close()
    return page


def body(rel: str) -> str:
    return "\n\n".join(parse(rel).paragraphs)


PAGES = sorted(str(p.relative_to(SITE)) for p in SITE.rglob("*.html"))
ARTICLES = [p for p in PAGES if p not in (SEED, BROKEN, OFFTOPIC)]
ANNOTATIONS: list[dict[str, Any]] = json.loads((SAMPLES / "annotations.json").read_text("utf-8"))


def nth(text: str, quote: str, n: int) -> int:
    """Start of the n-th (1-based) occurrence of quote in text, or -1."""
    i = -1
    for _ in range(n):
        i = text.find(quote, i + 1)
        if i < 0:
            return -1
    return i


def test_the_mix_of_pages() -> None:
    assert SEED in PAGES and BROKEN in PAGES and OFFTOPIC in PAGES
    assert all(c in ARTICLES for c in COPIES)
    assert len(ARTICLES) >= 30
    assert len(PAGES) == len(ARTICLES) + 3


@pytest.mark.parametrize("rel", [p for p in PAGES if p != BROKEN])
def test_page_parses_with_its_metadata(rel: str) -> None:
    page = parse(rel)
    outlet, slug = rel.split("/")
    assert page.closed_html and page.articles == 1
    assert page.lang in ("es", "fr", "en") and page.charset and page.title.strip()
    assert page.canonical == f"{{BASE}}/{outlet}/{slug}" == page.metas["og:url"]
    assert page.metas["og:site_name"] and page.metas["author"]
    assert all(h.startswith(("{BASE}/", "#")) for h in page.hrefs), "links must use {BASE}"
    raw_paragraphs = re.findall(r"<p>(.*?)</p>", (SITE / rel).read_text("utf-8"), flags=re.S)
    assert len(raw_paragraphs) == len(page.paragraphs), "plain <p> elements only"
    assert not any(c in p for p in raw_paragraphs for c in "&<>"), "no entities or tags in the text"
    if rel == SEED:
        assert page.metas["og:site_name"] == "CiberCuba"
        assert "newscorpus:synthetic" not in page.metas and "synthetic" not in page.metas
        assert NOTICE not in page.text
        assert "article:published_time" not in page.metas
        return
    assert page.metas["newscorpus:synthetic"] == page.metas["synthetic"] == "true"
    assert NOTICE in page.text and "(synthetic)" in page.metas["og:site_name"]
    assert page.metas["article:published_time"].startswith("2026-")
    assert ".example" in page.text, "invented outlets live on .example hosts"
    if rel != OFFTOPIC:
        assert 150 <= len(" ".join(page.paragraphs).split()) <= 350


def test_seed_page_is_the_real_seed_text() -> None:
    seed = json.loads(
        (REPO / "corpus" / "articles" / "seed.jsonl").read_text("utf-8").splitlines()[0]
    )
    assert body(SEED) == seed["text"]
    assert parse(SEED).title.startswith(seed["title"])


def test_broken_page_has_no_article_body() -> None:
    page = parse(BROKEN)
    assert page.articles == 0 and not page.paragraphs and not page.closed_html
    assert page.metas["newscorpus:synthetic"] == page.metas["synthetic"] == "true"
    html = (SITE / BROKEN).read_text("utf-8").replace("{BASE}", BASE)
    assert len(trafilatura.extract(html) or "") < 50, "an extractor finds no article in it"
    # on topic by its title: the prefilter lets it through, so the demo shows extract_failed
    from newscorpus.config import load_config
    from newscorpus.gather.prefilter import Prefilter
    from tests.conftest import REPO

    terms = load_config(REPO / "corpus").topic.any  # the demo's topic is the project's
    assert Prefilter(terms).text_may_match(html)


def test_languages_are_balanced() -> None:
    langs = Counter(parse(p).lang for p in ARTICLES)
    for rel in [*ARTICLES, SEED, OFFTOPIC]:
        assert py3langid.classify(body(rel))[0] == parse(rel).lang, rel
    assert set(langs) == {"es", "fr", "en"}
    assert max(langs.values()) - min(langs.values()) <= 2, langs


def test_topic_filter_keeps_articles_and_drops_the_off_topic_page() -> None:
    matcher = TopicMatcher(load_config(REPO / "corpus").topic.any)
    for rel in [*ARTICLES, SEED]:
        assert matcher.matches(parse(rel).title, body(rel)), rel
    off = parse(OFFTOPIC)
    assert matcher.matches(off.title, body(OFFTOPIC)) == []
    assert "fentanyl" in matcher.matches(off.text), "the word should be in its navigation only"


def shingles(text: str, k: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}


def test_syndicated_copies_are_near_duplicates() -> None:
    a, b = (body(c) for c in COPIES)
    assert a != b and parse(COPIES[0]).title != parse(COPIES[1]).title
    sa, sb = shingles(a), shingles(b)
    assert len(sa & sb) / len(sa | sb) >= 0.8
    others = [body(p) for p in ARTICLES if p not in COPIES]
    assert max(len(sa & shingles(o)) / len(sa | shingles(o)) for o in others) < 0.2


def test_feed_lists_every_page_but_the_seed() -> None:
    root = ET.fromstring((SAMPLES / "feed.xml").read_bytes())
    assert root.tag == "rss" and root.get("version") == "2.0"
    links = [item.findtext("link") or "" for item in root.iter("item")]
    assert all(link.startswith("{BASE}/") for link in links)
    assert sorted(link.removeprefix("{BASE}/") for link in links) == [p for p in PAGES if p != SEED]
    first, second = (links.index("{BASE}/" + c) for c in COPIES)
    assert first < second, "the annotated copy is the first of its cluster in gathering order"
    for item in root.iter("item"):
        assert item.findtext("title") and item.findtext("guid") == item.findtext("link")


def test_seed_is_listed_apart_and_served_with_its_base(tmp_path: Path) -> None:
    """The seed is the demo's `seed` source (a URL list), gathered once: not in the feed too."""
    with serve_samples(0) as base:
        with urlopen(f"{base}/seed/urls.txt") as resp:
            assert resp.headers["Content-Type"].startswith("text/plain")
            (tmp_path / "urls.txt").write_bytes(resp.read())
        with urlopen(f"{base}/feed.xml") as resp:
            feed = parse_feed(resp.read(), base)
    assert read_urls_file(tmp_path / "urls.txt") == [f"{base}/{SEED}"]
    assert len(feed) == len(PAGES) - 1 and f"{base}/{SEED}" not in feed


def test_annotation_rows_are_valid() -> None:
    on_topic = {p for p in ARTICLES if p != COPIES[1]} | {SEED}
    assert {r["page"] for r in ANNOTATIONS} == on_topic, "one cluster: only the first copy"
    keys = Counter((r["page"], r["annotator"]) for r in ANNOTATIONS)
    assert set(keys.values()) == {1} and len(keys) == 3 * len(on_topic)
    assert {r["annotator"] for r in ANNOTATIONS} == {f"demo-annotator-{i}" for i in (1, 2, 3)}
    for r in ANNOTATIONS:
        assert set(r) == {"page", "annotator", "cancelled", "stance", "spans"}
        assert set(r["stance"]) == set(TARGETS)
        if r["cancelled"]:
            assert r["spans"] == [] and set(r["stance"].values()) == {None}
            continue
        assert set(r["stance"].values()) <= STANCES
        for s in r["spans"]:
            assert s["label"] in LABELS and s["occurrence"] >= 1
            if s["label"] == "Claim":
                assert s["checkworthy"] in ("yes", "no", None)
                assert s["claim_type"] in CLAIM_TYPES
            else:
                assert s["checkworthy"] is None and s["claim_type"] is None
            if s["label"] == "Speaker" and s["speaker_of"] is not None:
                assert r["spans"][s["speaker_of"]]["label"] in ("Claim", "Quote")
            else:
                assert s["speaker_of"] is None


def test_every_quote_is_in_the_article_text() -> None:
    texts = {p: body(p) for p in {r["page"] for r in ANNOTATIONS}}
    titles = {p: parse(p).title for p in texts}
    for r in ANNOTATIONS:
        for s in r["spans"]:
            where = f"{r['page']} {r['annotator']}: {s['quote']!r}"
            text = texts[r["page"]]
            assert s["quote"] == s["quote"].strip() and "\n" not in s["quote"], where
            assert nth(text, s["quote"], s["occurrence"]) >= 0, where
            assert s["quote"] not in titles[r["page"]], where


@pytest.mark.parametrize("precision", [False, True])
def test_quotes_survive_extraction(precision: bool) -> None:
    """trafilatura's text holds each quote as often as the <p> text does, so occurrences agree."""
    for rel in {r["page"] for r in ANNOTATIONS}:
        html = (SITE / rel).read_text("utf-8").replace("{BASE}", BASE)
        out = trafilatura.extract(html, include_comments=False, favor_precision=precision)
        extracted = normalize_text(out or "")
        text = body(rel)
        for s in {s["quote"] for r in ANNOTATIONS if r["page"] == rel for s in r["spans"]}:
            assert extracted.count(s) == text.count(s) >= 1, (rel, s)


def test_all_stances_occur_and_annotators_disagree_realistically() -> None:
    done = [r for r in ANNOTATIONS if not r["cancelled"]]
    for target in TARGETS:
        assert {r["stance"][target] for r in done} == STANCES, target
    assert 1 <= len(ANNOTATIONS) - len(done) <= 5
    by_page: dict[str, list[dict[str, Any]]] = {}
    for r in done:
        by_page.setdefault(r["page"], []).append(r)
    pairs = [(x, y) for rows in by_page.values() for x, y in combinations(rows, 2)]
    agree = sum(x["stance"][t] == y["stance"][t] for x, y in pairs for t in TARGETS)
    assert 0.65 <= agree / (2 * len(pairs)) <= 0.85
    spans = [{(s["label"], s["quote"]) for s in x["spans"]} for x, _ in pairs]
    others = [{(s["label"], s["quote"]) for s in y["spans"]} for _, y in pairs]
    exact = [a == b for a, b in zip(spans, others, strict=True)]
    assert any(exact) and not all(exact), "span sets should agree often but not always"
