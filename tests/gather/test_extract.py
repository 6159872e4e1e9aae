"""Extraction quality pinned on the fixture pages; charsets; language; URL normalisation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newscorpus.gather.extract import (
    ExtractFailed,
    bare_extract_json,
    decode_html,
    extract_html,
    extractor_name,
)
from newscorpus.gather.language import accepted, detect
from newscorpus.gather.urlnorm import is_tracking, normalize_url
from newscorpus.records import normalize_text
from tests.gather.conftest import FIXTURES


def bare_extract(html: str, url: str | None = None) -> str:
    """The normalised main text of a bare trafilatura.extract call (the benchmark's baseline)."""
    out = bare_extract_json(html, url)
    return normalize_text(json.loads(out).get("text") or "") if out else ""


BOILERPLATE = [
    "cookie",  # cookie banner
    "Reader42",  # comments
    "Another reader",
    "All rights reserved",  # footer
    "Privacy",
    "Ten recipes",  # related articles
    "Markets close higher",
    "Related articles",
    "Opinion",  # navigation
    "Sports",
    "By Ana",  # byline is metadata, not text
]

PINNED = {
    "en_fentanyl_labs.html": (
        "Mexico rejects joint operations against fentanyl labs",
        6,
        "Mexican officials on Wednesday rejected a renewed proposal",
        "would resume next month.",
    ),
    "es_operaciones.html": (
        "México rechaza operaciones conjuntas contra laboratorios de fentanilo",
        5,
        "El gobierno de la presidenta Claudia Sheinbaum rechazó",
        "como organizaciones terroristas.",
    ),
    "fr_souverainete.html": (
        "Le Mexique défend sa souveraineté face aux pressions de Washington",
        5,
        "La présidente Claudia Sheinbaum a répété mardi",
        "nature du débat bilatéral.",
    ),
    "es_cp1252.html": (
        "Sheinbaum defiende la soberanía ante la presión por el fentanilo",
        5,
        "La presidenta Sheinbaum afirmó que México no aceptará",
        "una mayor colaboración.",
    ),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_extraction_quality_pinned(name: str) -> None:
    title, n_paragraphs, first_body, end = PINNED[name]
    ex = extract_html((FIXTURES / name).read_bytes(), None, f"http://s.example/{name}")
    assert ex.title == title
    paragraphs = ex.text.split("\n\n")
    assert len(paragraphs) == n_paragraphs
    assert paragraphs[0].startswith(("Synthetic", "Artículo sintético", "Article synthétique"))
    assert paragraphs[1].startswith(first_body) and ex.text.endswith(end)
    for junk in BOILERPLATE:
        assert junk.lower() not in ex.text.lower(), (name, junk)
    assert ex.synthetic and ex.authors and ex.published and ex.site
    # the pipeline's text is the bare trafilatura loop's text (the benchmark relies on it)
    html, _ = decode_html((FIXTURES / name).read_bytes())
    assert bare_extract(html, f"http://s.example/{name}") == ex.text


def test_charsets() -> None:
    raw = (FIXTURES / "es_cp1252.html").read_bytes()
    assert decode_html(raw)[1] == "cp1252"  # from <meta charset>
    assert decode_html(raw, "text/html; charset=latin-1")[1] == "cp1252"  # WHATWG alias
    no_meta = raw.replace(b'<meta charset="windows-1252">', b"")
    text, charset = decode_html(no_meta, "text/html")  # neither header nor meta: detection
    assert "soberanía" in text and "«más armas" in text, charset
    utf8 = (FIXTURES / "es_operaciones.html").read_bytes()
    assert "Pérez" in decode_html(utf8, "text/html; charset=utf-8")[0]
    assert decode_html(b"\xef\xbb\xbf<p>\xc3\xa9</p>")[0] == "<p>é</p>"


def test_extract_failures() -> None:
    with pytest.raises(ExtractFailed) as e:
        extract_html(b"just some words, no markup", "text/html", "http://s.example/")
    assert e.value.reason == "not_html"
    with pytest.raises(ExtractFailed) as e:
        extract_html(
            b"<html><head><title>t</title></head><body><div></div></body></html>", None, "u"
        )
    assert e.value.reason == "extract_failed"
    assert extractor_name().startswith("trafilatura ")


def test_language() -> None:
    assert detect("El cártel de Sinaloa trafica fentanilo hacia Estados Unidos.")[0] == "es"
    assert detect("Le gouvernement mexicain refuse des opérations conjointes.")[0] == "fr"
    assert detect("")[0] == "und"
    assert accepted("es", ("es", "fr")) and not accepted("de", ("es", "fr"))


def test_normalize_url() -> None:
    assert (
        normalize_url("HTTPS://News.Example:443/a/b?utm_source=x&b=2&a=1&fbclid=z&gclid=q#top")
        == "https://news.example/a/b?a=1&b=2"
    )
    assert normalize_url("http://news.example:8080") == "http://news.example:8080/"
    assert normalize_url("../c?mc_cid=1", "http://news.example/a/b/") == "http://news.example/a/c"
    assert normalize_url("http://news.example/caf%C3%A9") == normalize_url(
        "http://news.example/café"
    )
    assert is_tracking("UTM_campaign") and is_tracking("_ga") and not is_tracking("id")
    path = Path("/tmp/some dir/x.html")
    assert normalize_url(path.as_uri()) == path.as_uri()


def test_language_is_decided_on_the_first_max_chars() -> None:
    """langid reads a text byte by byte (about 1 us each): the decision is taken on the first
    MAX_CHARS characters, plenty for one language; what comes after does not change it."""
    from newscorpus.gather.language import MAX_CHARS

    es = "Las autoridades de ambos países revisaron el acuerdo de seguridad en la frontera. "
    en = "The committee reviewed the annual budget and the new plans for the city schools. "
    text = es * (MAX_CHARS // len(es) + 1) + en * 200
    assert detect(text)[0] == "es"
    assert detect(en * 200)[0] == "en"
    assert detect(text) == detect(text[:MAX_CHARS])
