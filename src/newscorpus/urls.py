"""User info in URLs (``user:password@``), as a browser reads a URL: found, stripped, masked.

Below config and every stage: corpus.toml, the gatherer, the release scan and the annotation
server's URL all refuse or mask credentials with the same rules.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Looser, as browsers read a URL: tabs and newlines dropped, any number of slashes or
# backslashes after the scheme (http:/u:p@h, http:\\u:p@h, //u:p@h), and the forms of @ that NFKC folds
# to it (U+FF20, U+FE6B): a malformed link is refused, but its user info is never recorded.
_LOOSE = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?)([/\\]*)([^/?#\\]*)")
AT_SIGNS = _AT = ("@", "\uff20", "\ufe6b")  # @, and the full-width and small forms NFKC folds to it
_TAB_NEWLINE = re.compile(r"[\t\n\r]")


def _loose_authority(url: str) -> tuple[str, str, str] | None:
    """(scheme and slashes, authority, rest) of a URL as a browser splits it, or None."""
    clean = _TAB_NEWLINE.sub("", url).strip()
    m = _LOOSE.match(clean)
    if m is None:
        return None
    scheme, slashes = m.group(1).lower(), m.group(2)
    if not (scheme in ("http:", "https:") or (scheme and slashes) or len(slashes) >= 2):
        return None
    return m.group(1) + m.group(2), m.group(3), clean[m.end() :]


def _last_at(text: str) -> int:
    return max(text.rfind(a) for a in _AT)


def has_credentials(url: str) -> bool:
    """True when the URL carries user info (``user:password@``) before its host."""
    parts = _loose_authority(url)
    return parts is not None and _last_at(parts[1]) >= 0


def strip_credentials(url: str) -> str:
    """``url`` without its user info (``http://user:pw@host/a`` -> ``http://host/a``)."""
    parts = _loose_authority(url)
    if parts is not None:
        head, authority, rest = parts
        cut = _last_at(authority)
        return url if cut < 0 else head + authority[cut + 1 :] + rest
    cut = min((i for i in (url.find(a) for a in _AT) if i >= 0), default=-1)
    if cut >= 0:
        head = url[:cut]
        if "/" not in head and not head.isspace():  # user:pw@host without a scheme,
            return "***@" + url[cut + 1 :]  # or mailto:someone@host: neither is kept
    return url


# In free text (an error message, a detail): scheme and slashes (or // alone), then an
# authority with an @.
CREDENTIALS_IN_TEXT = _IN_TEXT = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]*:[/\\]+|(?<![^\s\"'(<=])//)[^\s/?#\\\"'<>]*[@\uff20\ufe6b]"
)


def mask_credentials(text: str) -> str:
    """``text`` with the user info of every URL in it dropped (``http://u:p@h`` -> ``http://h``)."""
    return _IN_TEXT.sub(r"\1", text) if any(a in text for a in _AT) else text


def is_http_url(url: str) -> bool:
    """True for an http(s) URL that urllib can split, with a host and a valid port."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
