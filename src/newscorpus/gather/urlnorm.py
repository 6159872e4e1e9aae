"""Canonical URL normalisation: lower-case host, no fragment, no tracking parameters, sorted query."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

from ..records import article_id

# Query parameters that only track the reader; dropped from canonical URLs.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "ref_src",
        "ref_url",
        "cmpid",
        "ocid",
        "smid",
        "rss",
        "ito",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking(name: str) -> bool:
    """True for a query parameter that only tracks the reader (utm_*, fbclid, gclid, ...)."""
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def normalize_url(url: str, base: str | None = None) -> str:
    """The canonical form of ``url`` (resolved against ``base`` when relative)."""
    if base:
        url = urljoin(base, url.strip())
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "file":
        return urlunsplit(
            ("file", "", quote(unquote(parts.path), safe="/:@!$&'()*+,;=-._~"), "", "")
        )
    host = (parts.hostname or "").lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=-._~%") or "/"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k)
    ]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query), doseq=True), ""))


def url_id(url: str) -> str:
    """The article id of a URL: ``records.article_id`` of its canonical form."""
    return article_id(normalize_url(url))


def host_of(url: str) -> str:
    """Lower-case host of a URL ('' for file: URLs)."""
    return (urlsplit(url).hostname or "").lower()


def host_port(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL, the port defaulting by scheme."""
    parts = urlsplit(url)
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 80)
    return (parts.hostname or "").lower(), port


# scheme "://" authority: enough to find user info even in a URL urllib cannot split
_AUTHORITY = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)")


def has_credentials(url: str) -> bool:
    """True when the URL carries user info (``user:password@``) before its host."""
    m = _AUTHORITY.match(url.strip())
    return m is not None and "@" in m.group(2)


def strip_credentials(url: str) -> str:
    """``url`` without its user info (``http://user:pw@host/a`` -> ``http://host/a``)."""
    m = _AUTHORITY.match(url.strip())
    if m is None or "@" not in m.group(2):
        head, at, rest = url.partition("@")
        if at and "/" not in head and not head.isspace():  # user:pw@host without a scheme,
            return "***@" + rest  # or mailto:someone@host: neither is kept
        return url
    return m.group(1) + m.group(2).rpartition("@")[2] + url.strip()[m.end() :]
