"""Stable annotator pseudonyms: HMAC of (server URL, user id) with a secret salt in .newscorpus/.

E-mails and user names never reach corpus files; only these pseudonyms do.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from ..config import Config
from ..store import atomic_write_text


def salt_path(cfg: Config) -> Path:
    """The 0600 file of the corpus's pseudonym salt (never committed, never released)."""
    return cfg.state_dir / "pseudonym-salt"


def load_salt(cfg: Config) -> tuple[bytes, bool]:
    """The corpus's secret salt, and True when it is new (not saved yet: see ``save_salt``)."""
    path = salt_path(cfg)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip().encode("utf-8"), False
    return secrets.token_hex(32).encode("utf-8"), True


def save_salt(cfg: Config, salt: bytes) -> None:
    """Keep a new salt (0600), once records that use it are about to be written."""
    path = salt_path(cfg)
    if not path.is_file():
        atomic_write_text(path, salt.decode("utf-8") + "\n", mode=0o600)


def server_key(url: str) -> str:
    """A short, stable id of a server URL (not secret) used in record ids."""
    return hashlib.sha256(url.rstrip("/").encode("utf-8")).hexdigest()[:8]


def pseudonym(salt: bytes, server_url: str, user_id: int | str) -> str:
    """The pseudonym of one user of one server, e.g. ``ann-3f9c1a2b7d``."""
    msg = f"{server_url.rstrip('/')}|{user_id}".encode()
    return "ann-" + hmac.new(salt, msg, hashlib.sha256).hexdigest()[:10]
