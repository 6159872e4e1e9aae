"""Where article URLs come from: feeds (RSS, Atom, RDF), sitemaps, URL files, HTML folders, WARC files.

XML is parsed with defusedxml: entity declarations (billion laughs) and external entities are
refused, never expanded.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ..config import Source
from ..errors import DataError

MAX_SITEMAP_DEPTH = 3
MAX_XML_BYTES = 50_000_000


class SourceError(DataError):
    """A feed, sitemap or file could not be read; ``reason`` goes to rejected.jsonl."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Item:
    """One article to gather: a URL to fetch, or bytes already in hand (a WARC record)."""

    url: str
    source: str
    body: bytes | None = None
    content_type: str | None = None
    path: Path | None = None


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def parse_xml(data: bytes, where: str) -> Element:
    """Parse XML safely; SourceError (xml_unsafe / xml_malformed) otherwise."""
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                data = gz.read(MAX_XML_BYTES + 1)
        except (OSError, EOFError, zlib.error):
            raise SourceError(f"{where}: corrupt gzip data", "xml_malformed") from None
        if len(data) > MAX_XML_BYTES:
            raise SourceError(f"{where}: XML larger than {MAX_XML_BYTES} bytes", "too_large")
    try:
        root: Element = SafeET.fromstring(data, forbid_dtd=False)
    except DefusedXmlException as exc:
        raise SourceError(
            f"{where}: unsafe XML refused ({type(exc).__name__})", "xml_unsafe"
        ) from None
    except (ParseError, ValueError) as exc:
        raise SourceError(f"{where}: malformed XML: {exc}", "xml_malformed") from None
    return root


def _text(el: Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def _child(el: Element, name: str) -> Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def parse_feed(data: bytes, base: str, where: str | None = None) -> list[str]:
    """Article URLs of an RSS 2.0, Atom or RDF (RSS 1.0) feed, in feed order, without repeats."""
    where = where or base
    root = parse_xml(data, where)
    kind = _local(root.tag)
    urls: list[str] = []
    if kind == "feed":  # Atom
        for entry in root:
            if _local(entry.tag) != "entry":
                continue
            href = ""
            for ln in entry:
                if _local(ln.tag) == "link" and ln.get("rel", "alternate") == "alternate":
                    href = (ln.get("href") or "").strip()
                    break
            if href:
                urls.append(href)
    elif kind in ("rss", "rdf"):
        items = [e for e in root.iter() if _local(e.tag) == "item"]
        for item in items:
            link = _text(_child(item, "link"))
            if not link:
                guid = _child(item, "guid")
                if guid is not None and guid.get("isPermaLink", "true") == "true":
                    link = _text(guid)
            if not link:
                link = next((v for k, v in item.attrib.items() if _local(k) == "about"), "")
            if link:
                urls.append(link)
    else:
        raise SourceError(f"{where}: not an RSS, Atom or RDF feed (root <{kind}>)", "not_a_feed")
    return _absolute(urls, base)


def parse_sitemap(data: bytes, base: str, where: str | None = None) -> tuple[list[str], list[str]]:
    """(page URLs, child sitemap URLs) of a sitemap, sitemap index or Google News sitemap."""
    where = where or base
    root = parse_xml(data, where)
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise SourceError(f"{where}: not a sitemap (root <{kind}>)", "not_a_sitemap")
    locs = []
    for entry in root:
        if _local(entry.tag) in ("url", "sitemap"):
            loc = _text(_child(entry, "loc"))
            if loc:
                locs.append(loc)
    locs = _absolute(locs, base)
    return (locs, []) if kind == "urlset" else ([], locs)


def _absolute(urls: list[str], base: str) -> list[str]:
    out: dict[str, None] = {}
    for u in urls:
        try:
            out[urljoin(base, u.strip()) if base else u.strip()] = None
        except ValueError:
            continue
    return [u for u in out if u.startswith(("http://", "https://", "file:"))]


def _well_formed(url: str) -> bool:
    """True when urllib can split the URL and find its host and port."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return False
    return bool(parts.hostname)


def read_urls_file(path: Path) -> list[str]:
    """URLs of a text file, one a line; blank lines and ``#`` comments skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror}", "source_unreadable") from None
    except UnicodeDecodeError:
        raise SourceError(f"{path}: not UTF-8", "source_unreadable") from None
    urls = []
    for no, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.split(" #", 1)[0].strip()
        if not line.startswith(("http://", "https://")) or not _well_formed(line):
            raise SourceError(f"{path}:{no}: not an http(s) URL: {line!r}", "bad_url")
        urls.append(line)
    return list(dict.fromkeys(urls))


def html_dir_items(path: Path, source: str) -> list[Item]:
    """One item per ``.html`` / ``.htm`` file under ``path`` (sorted), its URL the file:// URL."""
    if not path.is_dir():
        raise SourceError(f"{path}: not a folder", "source_unreadable")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".html", ".htm"))
    return [Item(url=p.resolve().as_uri(), source=source, path=p) for p in files if p.is_file()]


def _is_warc(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(2)
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as gz:
                return gz.read(5) == b"WARC/"
        with path.open("rb") as fh:
            return fh.read(5) == b"WARC/"
    except (OSError, EOFError, zlib.error):
        return False


def warc_items(path: Path, source: str, max_bytes: int) -> Iterator[Item]:
    """HTML responses of a WARC file (plain or gzip), with their bodies."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    files = sorted(path.glob("*.warc*")) if path.is_dir() else [path]
    for f in files:
        if not _is_warc(f):
            raise SourceError(f"{f}: not a WARC file (no WARC/ header)", "source_unreadable")
        try:
            with f.open("rb") as fh:
                for rec in ArchiveIterator(fh):
                    if rec.rec_type != "response":
                        continue
                    url = rec.rec_headers.get_header("WARC-Target-URI")
                    if not url or rec.http_headers is None:
                        continue
                    ctype = rec.http_headers.get_header("Content-Type") or ""
                    status = rec.http_headers.get_statuscode() or ""
                    body = rec.content_stream().read(max_bytes + 1)
                    if status != "200":
                        yield Item(
                            url=url, source=source, body=b"", content_type=f"status/{status}"
                        )
                        continue
                    yield Item(url=url, source=source, body=body, content_type=ctype)
        except (OSError, ArchiveLoadFailed) as exc:
            raise SourceError(
                f"{f}: not a readable WARC file: {exc}", "source_unreadable"
            ) from None


FetchXML = Callable[[str], bytes]


def list_items(source: Source, fetch_xml: FetchXML, max_bytes: int) -> Iterator[Item]:
    """Every item of one ``[[sources]]`` entry, in a stable order."""
    name = source.name
    loc: str = source.url or (source.path.resolve().as_uri() if source.path else "")

    def load(url: str) -> bytes:
        if url.startswith("file:") and source.path is not None and url == loc:
            try:
                return source.path.read_bytes()
            except OSError as exc:
                raise SourceError(
                    f"{source.path}: cannot read: {exc.strerror}", "source_unreadable"
                ) from None
        return fetch_xml(url)

    if source.kind == "feed":
        for u in parse_feed(load(loc), loc):
            yield Item(url=u, source=name)
    elif source.kind == "sitemap":
        seen: set[str] = set()
        stack: list[tuple[str, int]] = [(loc, 0)]
        while stack:
            url, depth = stack.pop(0)
            if url in seen:
                continue
            seen.add(url)
            pages, children = parse_sitemap(load(url), url)
            for u in pages:
                yield Item(url=u, source=name)
            if depth < MAX_SITEMAP_DEPTH:
                stack.extend((c, depth + 1) for c in children)
    elif source.kind == "urls":
        if source.path is not None:
            urls = read_urls_file(source.path)
        else:
            urls = [
                line.strip()
                for line in load(loc).decode("utf-8", "replace").splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
        for u in urls:
            yield Item(url=u, source=name)
    elif source.kind == "html_dir":
        assert source.path is not None
        yield from html_dir_items(source.path, name)
    elif source.kind == "warc":
        if source.path is None:
            raise SourceError(f"source {name}: a warc source takes 'path'", "source_unreadable")
        yield from warc_items(source.path, name, max_bytes)
    else:  # pragma: no cover - config.py refuses other kinds
        raise SourceError(f"source {name}: unknown kind {source.kind!r}", "source_unreadable")
