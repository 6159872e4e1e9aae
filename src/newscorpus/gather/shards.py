"""An archive source's shards (one WARC file each), how one is read, and which are done.

A ``kind = "warc"`` source is ``path`` (one file, a folder's ``*.warc*`` files, or a glob relative
to the corpus folder) or ``paths``: a listing in Common Crawl's format (``warc.paths.gz`` or plain
text, one relative path a line) of files under ``base_url`` (a local folder or an http(s) URL).
Each file is a shard: the unit of work, of failure (a shard cut short, unreadable or refused is
one rejection naming it, the other shards go on) and of resume (a shard whose records are all
appended gets a completion marker in ``<corpus>/.newscorpus/shards/<source>/``; a rerun skips it).

A remote file is fetched through the host guard (the URL before the request, the address the
connection reached after), without credentials, without following redirects, at most
``[gather] max_archive_bytes``, streamed to a temporary file in ``.newscorpus/tmp/`` (never held in
memory) and read there by the same damage-checking reader as a local file, then deleted.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import tempfile
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import httpx

from ..config import Config, Source
from ..errors import ConfigError
from ..store import atomic_write_text
from ..urls import has_credentials, strip_credentials
from .fetch import backoff
from .guard import HostGuard, HostRefused
from .items import Item, shown_path
from .sources import SourceError
from .warc import file_items

MAX_LISTING_BYTES = 100_000_000  # a listing of paths (CC-NEWS: a few hundred lines a month)
DOWNLOAD_CHUNK = 1 << 20
_GLOB = re.compile(r"[*?\[]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Shard:
    """One WARC file of a source: ``key`` stable across runs (the listing's relative path, or the
    file's path relative to the corpus), ``where`` as rejections show it (no local absolute
    path, no credentials)."""

    source: str
    key: str
    where: str


class ShardFailed(SourceError):
    """A shard could not be read to its end: one rejection (``url`` is what it names)."""

    def __init__(
        self,
        shard: Shard,
        reason: str,
        detail: str,
        url: str | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(f"{shard.where}: {detail}", reason)
        self.shard = shard
        self.url = url or shard.where
        self.detail = detail
        self.transient = transient  # a download that may pass when tried again (retried)


# --- listing ---------------------------------------------------------------------------------------


def list_shards(cfg: Config, source: Source) -> list[Shard]:
    """The shards of a warc source, sorted as listed; ConfigError (one line) when the ``path``
    matches nothing or the ``paths`` listing cannot be read or holds a path that is not a plain
    relative one (absolute, ``../``, a URL)."""
    if source.paths is not None:
        return [
            Shard(source.name, rel, _remote_where(source, rel) or rel)
            for rel in read_listing(cfg, source)
        ]
    assert source.path is not None
    return [
        Shard(source.name, shown_path(f, cfg.root), shown_path(f, cfg.root))
        for f in _local_files(cfg, source)
    ]


def _local_files(cfg: Config, source: Source) -> list[Path]:
    assert source.path is not None
    path = source.path
    if _GLOB.search(str(path.relative_to(cfg.root) if path.is_relative_to(cfg.root) else path)):
        base = cfg.root if path.is_relative_to(cfg.root) else Path(path.anchor)
        files = sorted(p for p in base.glob(str(path.relative_to(base))) if p.is_file())
        if not files:
            raise ConfigError(
                f"{cfg.path}: source {source.name!r}: {shown_path(path, cfg.root)} matches no file"
            )
        return files
    if path.is_dir():
        found = sorted(p for p in path.glob("*.warc*") if p.is_file())
        if not found:  # as a glob that matches nothing: a wrong folder is said, not gathered
            raise ConfigError(
                f"{cfg.path}: source {source.name!r}: {shown_path(path, cfg.root)} holds no "
                "*.warc* file"
            )
        return found
    if not path.exists():
        raise ConfigError(
            f"{cfg.path}: source {source.name!r}: {shown_path(path, cfg.root)} not found"
        )
    return [path]


def read_listing(cfg: Config, source: Source) -> list[str]:
    """The relative paths of a ``paths`` listing (gzip or plain text), without repeats."""
    assert source.paths is not None
    shown = shown_path(source.paths, cfg.root)
    head = f"{cfg.path}: source {source.name!r}: {shown}"
    try:
        with source.paths.open("rb") as fh:
            raw = fh.read(MAX_LISTING_BYTES + 1)
        if raw[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
                raw = gz.read(MAX_LISTING_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{head}: not found") from None
    except OSError as exc:
        raise ConfigError(f"{head}: cannot read: {exc.strerror or exc}") from None
    except (EOFError, zlib.error):
        raise ConfigError(f"{head}: corrupt gzip data") from None
    if len(raw) > MAX_LISTING_BYTES:
        raise ConfigError(f"{head}: larger than {MAX_LISTING_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{head}: not UTF-8 text (byte {exc.start})") from None
    out: dict[str, None] = {}
    for no, line in enumerate(text.splitlines(), start=1):
        rel = line.strip()
        if not rel or rel.startswith("#"):
            continue
        problem = _rel_problem(rel)
        if problem:
            raise ConfigError(f"{head}:{no}: {strip_credentials(rel)[:200]!r} {problem}")
        out[rel] = None
    return list(out)


def _rel_problem(rel: str) -> str:
    if any(c < " " or c == "\x7f" for c in rel) or "\\" in rel:
        return "holds a control character or a backslash"
    if _SCHEME.match(rel) or has_credentials(rel):
        return "is a URL, not a path relative to base_url"
    if rel.startswith("/") or PurePosixPath(rel).is_absolute():
        return "is absolute; the listing holds paths relative to base_url"
    if ".." in PurePosixPath(rel).parts:
        return "climbs out of base_url (..)"
    return ""


def _remote_where(source: Source, rel: str) -> str | None:
    """The URL of a listed file (None when base_url is a local folder)."""
    base = source.base_url or ""
    if not base.lower().startswith(("http://", "https://")):
        return None
    return strip_credentials(base.rstrip("/") + "/" + quote(rel, safe="/-_.~%"))


# --- reading ---------------------------------------------------------------------------------------


def read_shard(cfg: Config, shard: Shard, guard: HostGuard) -> Iterator[Item]:
    """The items of one shard (HTML responses, and records refused one by one: too_large,
    url_credentials); ShardFailed naming the shard when it is cut short, unreadable or refused.
    The complete records before a cut are given out first."""
    source = cfg.source(shard.source)
    url = _remote_where(source, shard.key) if source.paths is not None else None
    if url is None:
        if source.paths is not None:
            assert source.base_url is not None
            path = Path(source.base_url) / shard.key
        else:
            path = cfg.root / shard.key
        if not path.is_file():
            raise ShardFailed(shard, "source_unreadable", f"{shard.where}: not found")
        yield from _checked(file_items(path, source.name, cfg.gather.max_bytes, shard.where), shard)
        return
    tmp = _download(cfg, shard, url, guard)
    try:
        yield from _checked(file_items(tmp, source.name, cfg.gather.max_bytes, shard.where), shard)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _checked(items: Iterator[Item], shard: Shard) -> Iterator[Item]:
    """The reader's items; a refusal that ends the file (cut, unreadable) becomes ShardFailed."""
    for item in items:
        if item.reason in ("warc_truncated", "source_unreadable"):
            raise ShardFailed(shard, item.reason, item.detail, item.url)
        yield item


def clear_downloads(cfg: Config) -> None:
    """Delete the downloads a killed run left in .newscorpus/tmp/ (the corpus lock is held: no
    other run is reading them)."""
    folder = cfg.state_dir / "tmp"
    for p in folder.glob("shard.*.warc") if folder.is_dir() else []:
        with contextlib.suppress(OSError):
            p.unlink()


def _download(cfg: Config, shard: Shard, url: str, guard: HostGuard) -> Path:
    """Stream ``url`` to a temporary file in .newscorpus/tmp/ (guarded, size-limited); a timeout,
    a connection error, a cut, 429 or 5xx is tried again up to ``[gather] retries`` times."""
    try:
        guard.check(url)
    except HostRefused as exc:
        raise ShardFailed(shard, exc.reason, str(exc).split(": ", 1)[-1]) from None
    retries = cfg.gather.retries
    for attempt in range(retries + 1):
        try:
            return _download_once(cfg, shard, url, guard)
        except ShardFailed as exc:
            if not exc.transient or attempt >= retries:
                raise
        time.sleep(backoff(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _download_once(cfg: Config, shard: Shard, url: str, guard: HostGuard) -> Path:
    settings = cfg.gather
    limit = settings.max_archive_bytes
    folder = cfg.state_dir / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="shard.", suffix=".warc", dir=folder)
    tmp = Path(name)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            httpx.Client(
                timeout=settings.timeout,
                follow_redirects=False,
                trust_env=False,
                headers={"User-Agent": settings.user_agent, "Accept-Encoding": "identity"},
            ) as client,
            client.stream("GET", url) as r,
        ):
            stream = r.extensions.get("network_stream")
            peer = stream.get_extra_info("server_addr") if stream is not None else None
            try:
                guard.check_peer(url, peer)
            except HostRefused as exc:
                raise ShardFailed(shard, exc.reason, str(exc).split(": ", 1)[-1]) from None
            if r.status_code != 200:
                why = f"HTTP {r.status_code}" + (
                    " (redirects are not followed)" if r.is_redirect else ""
                )
                busy = r.status_code == 429 or r.status_code >= 500
                raise ShardFailed(shard, "source_unreadable", why, transient=busy)
            length = r.headers.get("content-length")
            if length and length.isdigit() and int(length) > limit:
                raise ShardFailed(shard, "too_large", f"Content-Length {length} > {limit}")
            got = 0
            for chunk in r.iter_raw(DOWNLOAD_CHUNK):
                got += len(chunk)
                if got > limit:
                    raise ShardFailed(shard, "too_large", f"more than {limit} bytes")
                out.write(chunk)
    except httpx.RemoteProtocolError as exc:  # the connection closed before Content-Length
        tmp.unlink(missing_ok=True)
        raise ShardFailed(
            shard, "warc_truncated", f"cut short while fetched: {str(exc)[:160]}", transient=True
        ) from None
    except httpx.HTTPError as exc:
        tmp.unlink(missing_ok=True)
        what = type(exc).__name__
        busy = isinstance(exc, httpx.TimeoutException | httpx.NetworkError)
        raise ShardFailed(
            shard, "source_unreadable", f"not fetched: {what}", transient=busy
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


# --- completion markers ----------------------------------------------------------------------------


def marker_path(cfg: Config, shard: Shard) -> Path:
    """Where the completion marker of ``shard`` is (one small JSON file per shard)."""
    digest = hashlib.sha256(shard.key.encode("utf-8")).hexdigest()[:32]
    return cfg.state_dir / "shards" / shard.source / f"{digest}.json"


def local_size(cfg: Config, shard: Shard) -> int | None:
    """The size of a local shard's file (None for a remote one, or one not found)."""
    source = cfg.source(shard.source)
    if source.paths is not None:
        if _remote_where(source, shard.key) is not None or source.base_url is None:
            return None
        path = Path(source.base_url) / shard.key
    else:
        path = cfg.root / shard.key
    try:
        return path.stat().st_size
    except OSError:
        return None


def done(cfg: Config, shard: Shard) -> bool:
    """True when every record of ``shard`` was appended by an earlier run (its marker says so;
    a local file whose size changed since, records appended to it, is read again)."""
    try:
        data = json.loads(marker_path(cfg, shard).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    size = local_size(cfg, shard)  # None: remote, or gone (not read again: it could not be)
    return (
        isinstance(data, dict)
        and data.get("key") == shard.key
        and (size is None or data.get("bytes") == size)
    )


def mark_done(
    cfg: Config, shard: Shard, stats: Mapping[str, object], size: int | None
) -> dict[str, object]:
    """Record ``shard`` done with its stats (records read, kept, rejected), atomically: call it
    only after the shard's articles and rejections are appended. ``size``: the local file's size
    when it was read (``local_size`` before reading; records appended since are read again by a
    later run). Gives the marker written."""
    record = {
        "source": shard.source,
        "key": shard.key,
        "where": shard.where,
        "bytes": size,
        **stats,
    }
    atomic_write_text(marker_path(cfg, shard), json.dumps(record, sort_keys=True) + "\n")
    return record


SUMMED = ("records", "prefiltered", "extracted", "kept", "rejected")


def stats_path(cfg: Config, source: str) -> Path:
    """The file of a source's totals over its shards done: ``.newscorpus/stats/<source>.json``."""
    return cfg.state_dir / "stats" / f"{source}.json"


def write_stats(
    cfg: Config, source: str, total: int, done: Mapping[str, Mapping[str, object]]
) -> None:
    """Write a source's totals (what datatrove's merged stats give): shards done of ``total``,
    and the sums of their markers' counts (``done``: marker by shard key); a file already
    holding them is not written again."""
    sums: dict[str, Any] = {k: 0 for k in SUMMED}
    by_reason: dict[str, int] = {}
    seconds = 0.0
    for marker in done.values():
        for k in SUMMED:
            v = marker.get(k)
            sums[k] += v if isinstance(v, int) else 0
        reasons = marker.get("rejected_by_reason")
        for reason, n in reasons.items() if isinstance(reasons, dict) else ():
            by_reason[reason] = by_reason.get(reason, 0) + (n if isinstance(n, int) else 0)
        t = marker.get("seconds")
        seconds += t if isinstance(t, int | float) else 0.0
    record = {
        "source": source,
        "shards_total": total,
        "shards_done": len(done),
        **sums,
        "rejected_by_reason": dict(sorted(by_reason.items())),
        "seconds": round(seconds, 3),
    }
    text = json.dumps(record, sort_keys=True, indent=1) + "\n"
    path = stats_path(cfg, source)
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8") == text:
            return  # up to date: nothing written
    atomic_write_text(path, text)


def shard_stats(cfg: Config, source: str) -> list[dict[str, object]]:
    """The markers of a source's done shards (sorted by key): what each shard gave."""
    folder = cfg.state_dir / "shards" / source
    out: list[dict[str, object]] = []
    for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(p.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                out.append(data)
    return sorted(out, key=lambda d: str(d.get("key", "")))
