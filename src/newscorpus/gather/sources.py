"""Where article URLs come from: feeds (RSS, Atom, RDF), sitemaps, URL files, HTML folders, WARC files.

XML is parsed with defusedxml: entity declarations (billion laughs) and external entities are
refused, never expanded. Listing never stops at one bad entry: each link not taken (another
scheme, credentials, malformed) and each sitemap, feed or file that cannot be read becomes an
``Item`` carrying its refusal, recorded in rejected.jsonl; the others are read.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ..config import Source
from ..errors import DataError
from ..urls import has_credentials, strip_credentials
from .fetch import FetchFailed
from .items import SCHEME, Item, link_problem, refused, shown_path

MAX_SITEMAP_DEPTH = 3
MAX_XML_BYTES = 50_000_000
# a remote URL list: text, one URL (scheme:...) a line; C0 controls other than tab/CR/LF: binary
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class SourceError(DataError):
    """A feed, sitemap or file could not be read; ``reason`` goes to rejected.jsonl."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


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
    """Links resolved against ``base`` (when given), without repeats; none dropped here: the
    listing stage records each one it does not take (bad_scheme, bad_url, url_credentials)."""
    out: dict[str, None] = {}
    for u in urls:
        u = u.strip()
        try:
            resolved = urljoin(base, u) if base else u
        except ValueError:
            resolved = u
        # urljoin reads http:/u:pw@h as a path on the listing's host: the user info would be
        # fetched and recorded there; such a link stays as written, refused as url_credentials
        if has_credentials(u) and not has_credentials(resolved):
            resolved = u
        out[resolved] = None
    return list(out)


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
            shown = strip_credentials(line)
            raise SourceError(f"{path}:{no}: not an http(s) URL: {shown!r}", "bad_url")
        urls.append(line)
    return list(dict.fromkeys(urls))


def parse_url_list(data: bytes, where: str) -> list[str]:
    """The URLs of a fetched URL list (text, one a line, ``#`` comments), without repeats.

    SourceError source_unreadable when the body is not such a list (binary data, not UTF-8, a
    line that is not a URL): the list is refused as one, not read as lines of garbage.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{where}: not a list of URLs (not UTF-8 text, byte {exc.start})", "source_unreadable"
        ) from None
    m = _BINARY.search(text)
    if m is not None:
        raise SourceError(
            f"{where}: not a list of URLs (binary data: control character {m.group()!r})",
            "source_unreadable",
        )
    urls = []
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.split(" #", 1)[0].strip()
        if not SCHEME.match(line) or any(c.isspace() for c in line):
            raise SourceError(
                f"{where}: not a list of URLs (line {no} is not a URL: {line[:80]!r})",
                "source_unreadable",
            )
        urls.append(line)
    return list(dict.fromkeys(urls))


def html_dir_items(path: Path, source: str) -> list[Item]:
    """One item per ``.html`` / ``.htm`` file under ``path`` (sorted), its URL the file:// URL."""
    if not path.is_dir():
        raise SourceError(f"{path}: not a folder", "source_unreadable")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".html", ".htm"))
    return [Item(url=p.resolve().as_uri(), source=source, path=p) for p in files if p.is_file()]


FetchXML = Callable[[str], bytes]


def _links(urls: list[str], source: str) -> Iterator[Item]:
    """One item per listed link: to fetch, or refused (bad_scheme, bad_url, url_credentials)."""
    for u in urls:
        problem = link_problem(u)
        yield Item(url=u, source=source) if problem is None else refused(u, source, *problem)


def _failure(exc: FetchFailed | SourceError, url: str, where: str, source: str) -> Item:
    """The refused item of a listing (feed, sitemap, URL list) that could not be read."""
    if isinstance(exc, FetchFailed):
        detail = exc.detail
        if exc.url != url:  # failed at a redirect hop
            detail = f"{strip_credentials(exc.url)}: {detail}" if detail else exc.url
        return refused(url, source, exc.reason, detail)
    message = str(exc)
    if message.startswith(where + ":"):
        message = message[len(where) + 1 :].strip()
    return refused(url, source, exc.reason, message)


def list_items(
    source: Source, fetch_xml: FetchXML, max_bytes: int, root: Path | None = None
) -> Iterator[Item]:
    """Every item of one ``[[sources]]`` entry, in a stable order, refusals included.

    ``root`` is the corpus folder: local paths are shown relative to it in rejected.jsonl.
    A source URL with credentials is refused before anything is fetched.
    """
    from .warc import warc_items

    name = source.name
    if source.url is not None:
        problem = link_problem(source.url)
        if problem is not None:
            yield refused(source.url, name, *problem)
            return
    loc = source.url or ""
    where = source.url or (shown_path(source.path, root) if source.path else name)
    if source.kind in ("feed", "sitemap", "urls") and source.path is not None:
        try:
            local: bytes | None = source.path.read_bytes()
        except OSError as exc:
            yield refused(where, name, "source_unreadable", f"cannot read: {exc.strerror}")
            return
    else:
        local = None

    def load(url: str) -> bytes:
        return local if local is not None and url == loc else fetch_xml(url)

    # a local listing's links are taken as written: relative ones resolve to nothing fetchable
    if source.kind == "feed":
        try:
            links = parse_feed(load(loc), loc, where)
        except (FetchFailed, SourceError) as exc:
            yield _failure(exc, where, where, name)
            return
        yield from _links(links, name)
    elif source.kind == "sitemap":
        seen: set[str] = set()
        queue: deque[tuple[str, int]] = deque([(loc, 0)])
        while queue:
            url, depth = queue.popleft()
            if url in seen:
                continue
            seen.add(url)
            shown = where if depth == 0 else url
            try:
                pages, children = parse_sitemap(load(url), url, shown)
            except (FetchFailed, SourceError) as exc:  # one dead sitemap: the others are read
                yield _failure(exc, shown, shown, name)
                continue
            yield from _links(pages, name)
            for child in children:
                problem = link_problem(child)
                if problem is not None:
                    yield refused(child, name, *problem)
                elif depth >= MAX_SITEMAP_DEPTH:
                    yield refused(
                        child, name, "sitemap_too_deep", f"nested deeper than {MAX_SITEMAP_DEPTH}"
                    )
                else:
                    queue.append((child, depth + 1))
    elif source.kind == "urls":
        try:
            if source.path is not None:
                urls = read_urls_file(source.path)
            else:
                urls = parse_url_list(load(loc), where)
        except (FetchFailed, SourceError) as exc:
            yield _failure(exc, where, where, name)
            return
        yield from _links(urls, name)
    elif source.kind == "html_dir":
        assert source.path is not None
        if not source.path.is_dir():
            yield refused(where, name, "source_unreadable", "not a folder")
            return
        yield from html_dir_items(source.path, name)
    elif source.kind == "warc":
        if source.path is None:
            yield refused(where, name, "source_unreadable", "a warc source takes 'path'")
            return
        yield from warc_items(source.path, name, max_bytes, root)
    else:  # pragma: no cover - config.py refuses other kinds
        raise SourceError(f"source {name}: unknown kind {source.kind!r}", "source_unreadable")
