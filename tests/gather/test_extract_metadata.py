"""page_metadata finds what trafilatura.extract_metadata finds for the fields kept, and
extract_html gives what the single trafilatura call with metadata gave (the old way)."""

from __future__ import annotations

from pathlib import Path

import pytest

from newscorpus.gather.extract import (
    DATE_PARAMS,
    TRAFILATURA_OPTIONS,
    decode_html,
    extract_html,
    page_metadata,
)
from newscorpus.records import normalize_text

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [*(ROOT / "tests").rglob("*.html"), *(ROOT / "src" / "newscorpus" / "demo").rglob("*.html")]
)
BODY = "<p>" + "Las autoridades revisaron el informe anual del consejo con detalle. " * 12 + "</p>"
# metadata in the forms trafilatura reads: meta tags, JSON-LD, bylines, time elements, none
VARIANTS = {
    "meta": (
        '<meta name="author" content="Ana Ruiz"><meta property="og:site_name" content="@diario">'
        '<meta property="article:published_time" content="2025-03-04T10:00:00Z">'
    ),
    "jsonld": (
        '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Titular",'
        ' "datePublished": "2024-11-02", "author": {"@type": "Person", "name": "Luis Pardo"},'
        ' "publisher": {"@type": "Organization", "name": "El Diario"}}</script>'
    ),
    "byline": "",
    "one-word author": '<meta name="author" content="redaccion">',
    "nothing": "",
}


def _variant(name: str) -> str:
    body = BODY
    if name == "byline":
        body = '<div class="byline">Marta Gil</div><time datetime="2023-05-06">6 mayo</time>'
        body += BODY
    return (
        f"<!doctype html><html><head><title>Titular | El Diario</title>{VARIANTS[name]}</head>"
        f"<body><article><h1>Titular</h1>{body}</article></body></html>"
    )


CASES = [(p.relative_to(ROOT).as_posix(), p.read_bytes()) for p in PAGES]
CASES += [(f"variant:{n}", _variant(n).encode()) for n in VARIANTS]


def _tree(body: bytes) -> object:
    from trafilatura.utils import load_html

    return load_html(decode_html(body, None)[0])


@pytest.mark.parametrize(("name", "body"), CASES, ids=[c[0] for c in CASES])
def test_page_metadata_is_extract_metadata_for_the_fields_kept(name: str, body: bytes) -> None:
    from trafilatura.metadata import extract_metadata

    url = "https://127.0.0.1/n/1.html"
    ours = page_metadata(_tree(body), url)
    theirs = extract_metadata(_tree(body), url, dict(DATE_PARAMS))
    for field in ("title", "author", "date", "sitename", "url"):
        assert getattr(ours, field) == getattr(theirs, field), (name, field)


@pytest.mark.parametrize(("name", "body"), CASES, ids=[c[0] for c in CASES])
def test_extract_html_gives_what_one_call_with_metadata_gave(name: str, body: bytes) -> None:
    import trafilatura

    url = "https://127.0.0.1/n/1.html"
    try:
        ours = extract_html(body, None, url)
    except Exception as exc:  # then the one call found no text either
        doc = trafilatura.bare_extraction(_tree(body), url=url, **TRAFILATURA_OPTIONS)
        assert doc is None or not (doc.text or "").strip(), (name, exc)
        return
    doc = trafilatura.bare_extraction(_tree(body), url=url, **TRAFILATURA_OPTIONS)
    assert ours.text == normalize_text(doc.text or "")
    assert ours.title == normalize_text(doc.title or "").replace("\n\n", " ")
    assert ours.authors == [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    assert ours.site == (doc.sitename or None)
    assert (ours.published or None) == (doc.date if ours.published else None)


def test_the_variants_find_their_metadata() -> None:
    """The comparison above is not vacuous: the pages do carry author, date and site name."""
    url = "https://127.0.0.1/n/1.html"
    meta = page_metadata(_tree(_variant("meta").encode()), url)
    assert (meta.author, meta.date, meta.sitename) == ("Ana Ruiz", "2025-03-04", "Diario")
    ld = page_metadata(_tree(_variant("jsonld").encode()), url)
    assert (ld.author, ld.date, ld.sitename) == ("Luis Pardo", "2024-11-02", "El Diario")
    by = page_metadata(_tree(_variant("byline").encode()), url)
    assert by.author == "Marta Gil" and by.date == "2023-05-06"
