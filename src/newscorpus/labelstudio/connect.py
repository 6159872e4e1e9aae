"""Which Label Studio server a command talks to, and as whom: the backend factory."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from ..config import Config
from ..errors import ConfigError, StudioError
from ..urls import has_credentials, is_http_url
from .backend import LabelStudioBackend
from .server import load_credentials


def _query_or_fragment(url: str) -> bool:
    """True when the URL has a query or a fragment (``?api_key=...``): a server's base URL has
    neither, and the URL reaches errors, the ledger and every pulled record."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.query or parts.fragment) or url.rstrip().endswith(("?", "#"))


def connect(cfg: Config) -> LabelStudioBackend:
    """Connect: LABEL_STUDIO_URL + LABEL_STUDIO_API_KEY if set, else ``[studio] url`` with
    LABEL_STUDIO_API_KEY, else the server of ``newscorpus studio start`` (its saved login)."""
    url = os.environ.get("LABEL_STUDIO_URL")
    key = os.environ.get("LABEL_STUDIO_API_KEY")
    if url:
        if not key:
            raise ConfigError(
                "LABEL_STUDIO_URL is set but LABEL_STUDIO_API_KEY is not: set both "
                "(or neither, to use the server of `newscorpus studio start`)"
            )
        if has_credentials(url):  # the URL reaches errors and records: never its password
            raise ConfigError(
                "LABEL_STUDIO_URL carries a user name or password (user:pw@): give the token "
                "in LABEL_STUDIO_API_KEY and the URL without them"
            )
        if _query_or_fragment(url):  # never echoed: it may hold a token (?api_key=...)
            raise ConfigError(
                "LABEL_STUDIO_URL has a query or a fragment (?... or #...): give the server's "
                "base URL, and the token in LABEL_STUDIO_API_KEY"
            )
        if not is_http_url(url):
            raise ConfigError(f"LABEL_STUDIO_URL {url!r}: not an http(s) URL with a host")
        return LabelStudioBackend(url, key, cfg)
    if cfg.studio.url and _query_or_fragment(cfg.studio.url):
        raise ConfigError(
            f"{cfg.path}: [studio] url has a query or a fragment (?... or #...): give the "
            "server's base URL (tokens never go in corpus.toml)"
        )
    if cfg.studio.url and key:  # an existing server named in corpus.toml, its token from the env
        return LabelStudioBackend(cfg.studio.url, key, cfg)
    creds = load_credentials(cfg)
    if creds is None:
        if cfg.studio.url:
            raise ConfigError(
                f"{cfg.path}: [studio] url = {cfg.studio.url!r}: set LABEL_STUDIO_API_KEY to a "
                "token of that server (tokens never go in corpus.toml)"
            )
        raise StudioError(
            "no Label Studio server: run `newscorpus studio start`, "
            "or set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY"
        )
    return LabelStudioBackend(cfg.studio.url or creds.url, creds.token, cfg)
