"""One item to gather (a URL, or bytes in hand) and the refusals of listing, shared by every lister."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..urls import has_credentials, mask_credentials, strip_credentials
from .fetch import CREDENTIALS

MAX_REJECTED_URL = 300  # a refused data: or javascript: link is recorded cut to this length
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Item:
    """One article to gather: a URL to fetch, or bytes already in hand (a WARC record).

    An item with a ``reason`` was refused while listing (stage ``stage``): it is recorded in
    rejected.jsonl and never fetched. Its ``url`` carries no credentials.
    """

    url: str
    source: str
    body: bytes | None = None
    content_type: str | None = None
    path: Path | None = None
    reason: str = ""
    detail: str = ""
    stage: str = "source"


def refused(url: str, source: str, reason: str, detail: str, stage: str = "source") -> Item:
    """An item refused while listing; the URL recorded without credentials, cut if very long."""
    shown = strip_credentials(url)
    if len(shown) > MAX_REJECTED_URL:
        shown = shown[:MAX_REJECTED_URL] + "..."
    detail = mask_credentials(detail)  # a detail may quote the listing (a bad line, a URL)
    return Item(url=shown, source=source, reason=reason, detail=detail, stage=stage)


def shown_path(path: Path, root: Path | None) -> str:
    """``path`` as rejected.jsonl shows it: relative to the corpus folder (no local absolute path)."""
    if root is None:
        return path.name
    try:
        return os.path.relpath(path.resolve(), root.resolve())
    except ValueError:  # another drive (Windows)
        return path.name


def link_problem(url: str) -> tuple[str, str] | None:
    """(reason, detail) when a listed link is not fetched, or None for a good http(s) URL."""
    scheme = url.split(":", 1)[0].lower() if SCHEME.match(url) else ""
    if not scheme:
        return "bad_url", "not an absolute URL"
    if scheme not in ("http", "https"):
        return "bad_scheme", f"scheme {scheme!r} is not fetched (http and https only)"
    if has_credentials(url):
        return "url_credentials", CREDENTIALS
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        return "bad_url", f"not a valid URL ({exc})"
    if not parts.hostname:
        return "bad_url", "no host"
    return None
