"""Main text and metadata of an HTML page with trafilatura; charset from header, meta or detection."""

from __future__ import annotations

import codecs
import contextlib
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ..errors import DataError
from ..records import normalize_text

# dates from markup (meta tags, time elements, URL), not a regex scan of the whole page
DATE_PARAMS: dict[str, Any] = {"extensive_search": False, "original_date": True}
# The options of every trafilatura call, shared with the benchmark's bare loop.
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "include_tables": False,
    "favor_precision": True,
    "deduplicate": False,
    "with_metadata": True,
    "date_extraction_params": DATE_PARAMS,
}
# extract_html's own call: the text only; page_metadata reads the metadata that is kept
TEXT_OPTIONS: dict[str, Any] = {**TRAFILATURA_OPTIONS, "with_metadata": False}
HTML_TYPES = ("text/html", "application/xhtml+xml")
# Content-Type values that say nothing: the body is sniffed (WHATWG "unknown MIME type").
UNKNOWN_TYPES = frozenset({"", "unknown/unknown", "application/unknown", "*/*"})
SNIFF_BYTES = 1445  # WHATWG: the resource header sniffed
_SNIFF_HTML = tuple(
    t.encode()
    for t in (
        "<!doctype html",
        "<html",
        "<head",
        "<script",
        "<iframe",
        "<h1",
        "<div",
        "<font",
        "<table",
        "<a",
        "<style",
        "<title",
        "<b",
        "<body",
        "<br",
        "<p",
        "<!--",
    )
)

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$")
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)
# WHATWG: these labels mean windows-1252 in browsers.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "l1": "cp1252",
}


class ExtractFailed(DataError):
    """No main text could be extracted; ``reason`` goes to rejected.jsonl."""

    def __init__(self, message: str, reason: str = "extract_failed") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Extracted:
    """What extraction found in one page."""

    text: str
    title: str
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    site: str | None = None
    canonical: str | None = None
    charset: str = "utf-8"
    synthetic: bool = False


@cache
def extractor_name() -> str:
    """The extractor and its version, recorded in each article's ``extractor``."""
    import trafilatura

    return f"trafilatura {trafilatura.__version__}"


def is_html_type(content_type: str | None) -> bool:
    """True for an HTML media type (or a missing or unknown one, which is sniffed)."""
    return needs_sniff(content_type) or media_type(content_type) in HTML_TYPES


def media_type(content_type: str | None) -> str:
    """The lower-case media type of a Content-Type value ('' when there is none)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def needs_sniff(content_type: str | None) -> bool:
    """True when a Content-Type says nothing (missing, or unknown/unknown, */* ...): sniff."""
    return media_type(content_type) in UNKNOWN_TYPES


def sniff_html(body: bytes) -> bool:
    """WHATWG mime sniffing, HTML only: after a BOM and whitespace, one of the HTML openings
    (``<!doctype html``, ``<html``, ``<head``, ``<body``, ``<p``, ``<!--``, ...) then a space or
    ``>``."""
    head = body[:SNIFF_BYTES]
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            head = head[len(bom) :].decode(codec, "ignore").encode("latin-1", "replace")
            break
    head = head.lstrip(b"\t\n\x0c\r ").lower()
    return any(
        head.startswith(tag) and head[len(tag) : len(tag) + 1] in (b" ", b">")
        for tag in _SNIFF_HTML
    )


def html_refusal(content_type: str | None, body: bytes) -> str | None:
    """Why a response is not taken as HTML (the ``not_html`` detail), or None when it is."""
    if not is_html_type(content_type):
        return media_type(content_type)
    if needs_sniff(content_type) and not sniff_html(body):
        return "no Content-Type, and the body does not start like HTML"
    return None


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, charset): charset from the HTTP header, else the meta tag, else UTF-8, else detection."""
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace"), "utf-8"
    m = _HEADER_CHARSET.search(content_type or "")
    codec = _codec(m.group(1)) if m else None
    if codec is None:
        mm = _META_CHARSET.search(body[:8192])
        codec = _codec(mm.group(1).decode("ascii", "ignore")) if mm else None
    if codec is not None:
        try:
            return body.decode(codec), codec
        except UnicodeDecodeError:
            pass
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(body[:200_000]).best()
    if best is None or best.encoding is None:
        raise ExtractFailed("cannot determine the character set", "bad_charset")
    return body.decode(best.encoding, "replace"), best.encoding


def looks_like_html(text: str) -> bool:
    """A cheap sniff: the first kilobyte holds an HTML tag."""
    head = text[:2048].lower()
    return any(t in head for t in ("<html", "<!doctype html", "<head", "<body", "<p", "<div"))


def _canonical(tree: Any) -> str | None:
    for xpath in (
        '//link[translate(@rel,"CANONICAL","canonical")="canonical"]/@href',
        '//meta[@property="og:url"]/@content',
    ):
        found = tree.xpath(xpath)
        for value in found:
            value = str(value).strip()
            if value:
                return value
    return None


def page_metadata(tree: Any, url: str) -> Any:
    """The title, author, date and site name that ``trafilatura.extract_metadata`` finds, and
    nothing else: its steps for these fields, in its order, without the categories, tags and
    license it also looks for (a fifth of its time; we keep none of them). A trafilatura
    Document; tests compare the four fields with extract_metadata's on every fixture page."""
    from htmldate import find_date
    from trafilatura import metadata as tm

    doc = tm.examine_meta(tree)
    if doc.author and " " not in doc.author:
        doc.author = None
    with contextlib.suppress(
        Exception
    ):  # bugs in trafilatura's json_metadata.py: it skips them too
        doc = tm.extract_meta_json(tree, doc)
    doc.title = doc.title or tm.extract_title(tree)
    doc.author = doc.author or tm.extract_author(tree)
    doc.url = doc.url or tm.extract_url(tree, url)
    doc.date = find_date(tree, **{**DATE_PARAMS, "url": doc.url})
    doc.sitename = doc.sitename or tm.extract_sitename(tree)
    if doc.sitename:
        doc.sitename = doc.sitename.lstrip("@")
        if doc.sitename and "." not in doc.sitename and not doc.sitename[0].isupper():
            doc.sitename = doc.sitename.title()
    elif doc.url and (m := tm.META_URL.match(doc.url)):
        doc.sitename = m[1]
    doc.clean_and_trim()
    return doc


def extract_html(body: bytes, content_type: str | None, url: str) -> Extracted:
    """Decode and extract one page; ExtractFailed when there is no main text."""
    import trafilatura
    from trafilatura.utils import load_html

    html, charset = decode_html(body, content_type)
    if not looks_like_html(html):
        raise ExtractFailed(f"{url}: not an HTML document", "not_html")
    tree = load_html(html)
    if tree is None:
        raise ExtractFailed(f"{url}: unparsable HTML")
    canonical = _canonical(tree)
    synthetic = bool(tree.xpath('//meta[@name="synthetic"][@content="true"]'))
    found = trafilatura.bare_extraction(tree, url=url, **TEXT_OPTIONS)
    if found is None or isinstance(found, dict) or not (found.text or "").strip():
        raise ExtractFailed(f"{url}: no main text found")
    text = normalize_text(found.text or "")
    doc = page_metadata(tree, url)
    authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    return Extracted(
        text=text,
        title=normalize_text(doc.title or "").replace("\n\n", " "),
        authors=authors,
        published=doc.date if doc.date and _DATE.match(doc.date) else None,
        site=doc.sitename or None,
        canonical=canonical,
        charset=charset,
        synthetic=synthetic,
    )


def bare_extract_json(html: str, url: str | None = None) -> str | None:
    """One trafilatura.extract call with the pipeline's options (text and metadata as JSON)."""
    import trafilatura

    return trafilatura.extract(html, url=url, output_format="json", **TRAFILATURA_OPTIONS)
