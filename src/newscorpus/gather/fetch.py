"""Polite, guarded, cached HTTP fetching with httpx (async).

Global and per-host concurrency, a delay between requests to one host, robots.txt per host,
retries with exponential backoff and jitter (honouring Retry-After) on connection errors, 429 and
5xx, redirects followed by hand (at most 5, the guard on every hop), the guard's rule applied again
to the address each connection actually reached (DNS rebinding) before the status or the body is
used, ``max_bytes`` enforced while streaming, non-HTML refused, and a raw-response cache so that a
rerun does not fetch again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import email.utils
import json
import os
import random
import threading
import time
import urllib.robotparser
import zlib
from collections import deque
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from ..config import GatherSettings
from ..errors import FetchError
from ..records import sha256_hex, utcnow
from ..urls import has_credentials, strip_credentials
from .extract import html_refusal, is_html_type
from .guard import HostGuard, HostRefused

T = TypeVar("T")
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 120.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
# Reasons a later run tries again (recorded in rejected.jsonl only once): transient failures;
# host_refused, since the allowed hosts may change between runs; a body or WARC record cut short,
# since a later fetch or a complete download may succeed; and url_credentials, since the URL
# recorded is the listed one without its credentials, which a later listing may give cleanly.
TRANSIENT = frozenset(
    {
        "timeout",
        "connect_error",
        "dns_error",
        "http_429",
        "robots_unavailable",
        "host_refused",
        "body_truncated",
        "bad_encoding",
        "warc_truncated",
        "url_credentials",
    }
)
CREDENTIALS = "user name or password in the URL: never sent, never stored"


class FetchFailed(FetchError):
    """A URL was not fetched; ``reason`` (http_404, too_large, robots, ...) goes to rejected.jsonl."""

    def __init__(self, url: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{url}: {reason}{': ' + detail if detail else ''}")
        self.url = url
        self.reason = reason
        self.detail = detail

    @property
    def transient(self) -> bool:
        """True when a later run may succeed (timeouts, connection errors, 429, 5xx)."""
        return self.reason in TRANSIENT or self.reason.startswith("http_5")


@dataclass
class Response:
    """A fetched (or cached) response."""

    url: str
    final_url: str
    status: int
    content_type: str | None
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: str = ""
    from_cache: bool = False


class ResponseCache:
    """Raw responses under ``<corpus>/.newscorpus/cache``: one file per URL, meta line + body."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, url: str) -> Path:
        h = sha256_hex(url)
        return self.root / h[:2] / f"{h}.bin"

    def get(self, url: str) -> Response | None:
        """The cached response of ``url``, or None (a torn or foreign file counts as absent)."""
        try:
            raw = self._path(url).read_bytes()
            head, _, body = raw.partition(b"\n")
            meta = json.loads(head)
        except (OSError, ValueError):
            return None
        if meta.get("url") != url or meta.pop("sha256", None) != sha256_hex(body):
            return None
        meta.pop("from_cache", None)
        return Response(body=body, from_cache=True, **meta)

    def put(self, resp: Response) -> None:
        """Store a response atomically (unchanged entries are not rewritten)."""
        path = self._path(resp.url)
        old = self.get(resp.url)
        if old is not None and old.body == resp.body and old.final_url == resp.final_url:
            return
        meta = {k: v for k, v in asdict(resp).items() if k not in ("body", "from_cache")}
        meta["sha256"] = sha256_hex(resp.body)
        data = json.dumps(meta, ensure_ascii=False).encode("utf-8") + b"\n" + resp.body
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: up to BACKOFF_BASE * 2**attempt, capped."""
    return float(random.uniform(0.5, 1.0) * min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempt))


def _host_port(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL, the port defaulting by scheme: one politeness slot each."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    return (parts.hostname or "").lower(), port


_UNAVAILABLE = urllib.robotparser.RobotFileParser()


def _refused(url: str, exc: HostRefused) -> FetchFailed:
    return FetchFailed(url, exc.reason, str(exc).split(": ", 1)[-1])


class _Inflater:
    """gzip / deflate decoding in bounded pieces, knowing whether the stream reached its end."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._d = zlib.decompressobj(31 if encoding != "deflate" else zlib.MAX_WBITS)
        self._started = False

    @property
    def ended(self) -> bool:
        """True once the compressed stream's end (gzip trailer, deflate final block) was read."""
        return self._d.eof

    def feed(self, data: bytes, room: int) -> Iterator[bytes]:
        """Decoded pieces of ``data``; the first at most ``room`` bytes (bomb-safe)."""
        if not self._started and data:
            self._started = True
            # "deflate" is zlib-wrapped, or (some servers) raw deflate without the zlib header
            zlib_header = len(data) < 2 or (
                data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            )
            if self.encoding == "deflate" and not zlib_header:
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        while True:
            if self._d.eof:  # a gzip body may hold several members, one after the other
                data = self._d.unused_data + data
                if self.encoding == "deflate" or not data.strip(b"\0"):
                    return  # NUL padding after the last member is no data
                self._d = zlib.decompressobj(31)
            if not data:
                return
            piece = self._d.decompress(data, max(room, 1))
            data = self._d.unconsumed_tail
            room -= len(piece)
            if piece:
                yield piece
            if not data and not self._d.eof:
                return


class _Redirect(Exception):
    def __init__(self, location: str) -> None:
        self.location = location


class Fetcher:
    """Fetches URLs politely; use as ``async with Fetcher(...) as f: await f.fetch(url)``."""

    def __init__(
        self,
        settings: GatherSettings,
        guard: HostGuard,
        cache: ResponseCache | None = None,
        refresh: bool = False,
    ) -> None:
        self.s = settings
        self.guard = guard
        self.cache = cache
        self.refresh = refresh
        self._global = asyncio.Semaphore(settings.concurrency)
        self._host_sems: dict[str, asyncio.Semaphore] = {}
        self._host_locks: dict[str, asyncio.Lock] = {}
        self._next_time: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | FetchFailed | None] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self.agent_token = settings.user_agent.split("/", 1)[0].split()[0] or "*"
        self.requests = 0
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Fetcher:
        limits = httpx.Limits(
            max_connections=self.s.concurrency, max_keepalive_connections=self.s.concurrency
        )
        self._client = httpx.AsyncClient(
            headers={"User-Agent": self.s.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(self.s.timeout),
            follow_redirects=False,
            limits=limits,
            trust_env=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    @contextlib.asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        sem = self._host_sems.setdefault(host, asyncio.Semaphore(self.s.per_host_concurrency))
        lock = self._host_locks.setdefault(host, asyncio.Lock())
        async with sem, self._global:
            if self.s.per_host_delay > 0:
                async with lock:
                    wait = self._next_time.get(host, 0.0) - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    self._next_time[host] = time.monotonic() + self.s.per_host_delay
            yield

    async def fetch(self, url: str, kind: str = "html") -> Response:
        """Fetch ``url`` (kind html, xml or robots); FetchFailed with a reason otherwise.

        A URL with user info (``user:pw@``) is refused, never requested: no credentials are sent
        (httpx would turn them into Basic auth), and none reach rejected.jsonl.
        """
        if has_credentials(url):
            raise FetchFailed(strip_credentials(url), "url_credentials", CREDENTIALS)
        cached = self.cache.get(url) if self.cache is not None and kind != "robots" else None
        if cached is not None and kind == "html" and not self.refresh:
            self._check_html(cached)
            return cached
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                await self.guard.acheck(current)
            except HostRefused as exc:
                raise _refused(current, exc) from None
            if kind != "robots" and not await self._robots_allow(current):
                raise FetchFailed(current, "robots", "disallowed by robots.txt")
            conditional = cached if cached is not None and cached.final_url == current else None
            try:
                resp = await self._request(current, kind, conditional)
            except _Redirect as r:
                if has_credentials(r.location):
                    raise FetchFailed(
                        url,
                        "url_credentials",
                        f"redirect to {strip_credentials(r.location)} not followed: {CREDENTIALS}",
                    ) from None
                current = r.location
                continue
            resp.url = url
            if kind == "html":
                self._check_html(resp)
            if self.cache is not None and kind != "robots":
                self.cache.put(resp)
            return resp
        raise FetchFailed(url, "too_many_redirects", f"more than {MAX_REDIRECTS}")

    @staticmethod
    def _check_html(resp: Response) -> None:
        """FetchFailed not_html unless the response is HTML (a missing Content-Type is sniffed)."""
        refusal = html_refusal(resp.content_type, resp.body)
        if refusal is not None:
            raise FetchFailed(resp.url, "not_html", refusal)

    async def _request(self, url: str, kind: str, cached: Response | None) -> Response:
        assert self._client is not None
        hostname, port = _host_port(url)
        host = f"{hostname}:{port}"
        headers: dict[str, str] = {}
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        if kind == "html":
            headers["Accept"] = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
        attempt = 0
        while True:
            wait: float | None = None
            failure: FetchFailed | None = None
            async with self._slot(host):
                self.requests += 1
                try:
                    async with self._client.stream("GET", url, headers=headers) as r:
                        self._check_peer(url, r)
                        status = r.status_code
                        if status in (301, 302, 303, 307, 308):
                            loc = r.headers.get("location")
                            if not loc:
                                raise FetchFailed(
                                    url, f"http_{status}", "redirect without Location"
                                )
                            raise _Redirect(urljoin(url, loc.strip()))
                        if status == 304 and cached is not None:
                            return Response(**{**asdict(cached), "from_cache": True})
                        if status == 429 or status >= 500:
                            failure = FetchFailed(url, f"http_{status}")
                            wait = retry_after(r.headers.get("retry-after"))
                        elif status != 200:
                            raise FetchFailed(url, f"http_{status}")
                        else:
                            return await self._read(url, kind, r)
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    timeout = isinstance(exc, httpx.TimeoutException)
                    failure = FetchFailed(
                        url, "timeout" if timeout else "connect_error", type(exc).__name__
                    )
            assert failure is not None
            if attempt >= self.s.retries:
                raise failure
            delay = backoff(attempt) if wait is None else min(wait, MAX_RETRY_AFTER)
            attempt += 1
            await asyncio.sleep(delay)

    def _check_peer(self, url: str, r: httpx.Response) -> None:
        """Refuse a response whose connection reached an address the guard refuses.

        The guard resolved the host before the request; the connection resolved it again, and a
        rebinding name may have answered differently. Checked before the status, a redirect or
        the body is used: a refused response is never read, followed, retried or cached.
        """
        stream = r.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        try:
            self.guard.check_peer(url, peer)
        except HostRefused as exc:
            raise _refused(url, exc) from None

    async def _read(self, url: str, kind: str, r: httpx.Response) -> Response:
        ctype = r.headers.get("content-type")
        if kind == "html" and not is_html_type(ctype):
            raise FetchFailed(url, "not_html", (ctype or "").split(";")[0])
        length = r.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.s.max_bytes:
            raise FetchFailed(url, "too_large", f"Content-Length {length} > {self.s.max_bytes}")
        body = await self._body(url, r)
        return Response(
            url=url,
            final_url=str(r.url),
            status=r.status_code,
            content_type=ctype,
            body=body,
            etag=r.headers.get("etag"),
            last_modified=r.headers.get("last-modified"),
            fetched_at=utcnow(),
        )

    async def _body(self, url: str, r: httpx.Response) -> bytes:
        """The decoded body, at most ``max_bytes``; FetchFailed when it is cut short or corrupt.

        gzip and deflate are decoded here, not by httpx, which accepts a compressed stream that
        stops before its end (a body cut short would be kept as if complete). A body shorter than
        its Content-Length is a transport error (h11), retried.
        """
        limit = self.s.max_bytes
        encoding = r.headers.get("content-encoding", "").strip().lower()
        chunks: list[bytes] = []
        size = 0
        if encoding in ("gzip", "x-gzip", "deflate"):
            inflate = _Inflater(encoding)
            try:
                async for raw in r.aiter_raw():
                    for piece in inflate.feed(raw, limit + 1 - size):
                        size += len(piece)
                        if size > limit:
                            raise FetchFailed(url, "too_large", f"more than {limit} bytes")
                        chunks.append(piece)
            except zlib.error as exc:
                raise FetchFailed(url, "bad_encoding", f"corrupt {encoding} data: {exc}") from None
            if not inflate.ended:
                raise FetchFailed(
                    url, "body_truncated", f"the {encoding} stream stops before its end"
                )
            return b"".join(chunks)
        try:
            stream = r.aiter_raw() if encoding in ("", "identity") else r.aiter_bytes()
            async for chunk in stream:
                size += len(chunk)
                if size > limit:
                    raise FetchFailed(url, "too_large", f"more than {limit} bytes")
                chunks.append(chunk)
        except httpx.DecodingError as exc:
            raise FetchFailed(url, "bad_encoding", f"{encoding}: {exc}") from None
        return b"".join(chunks)

    async def _robots_allow(self, url: str) -> bool:
        parts = urlsplit(url)
        key = strip_credentials(f"{parts.scheme}://{parts.netloc}".lower())
        lock = self._robots_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._robots:
                self._robots[key] = await self._load_robots(key)
        parser = self._robots[key]
        if parser is None:
            return True
        if isinstance(parser, FetchFailed):  # the origin itself was refused
            raise FetchFailed(url, parser.reason, parser.detail)
        if parser is _UNAVAILABLE:
            raise FetchFailed(url, "robots_unavailable", "robots.txt could not be fetched")
        return parser.can_fetch(self.agent_token, url)

    async def _load_robots(
        self, origin: str
    ) -> urllib.robotparser.RobotFileParser | FetchFailed | None:
        robots_url = origin + "/robots.txt"
        rp = urllib.robotparser.RobotFileParser(robots_url)
        try:
            resp = await self.fetch(robots_url, kind="robots")
        except FetchFailed as exc:
            if exc.reason.startswith("http_4"):
                return None  # no robots.txt: everything allowed
            if exc.reason == "host_refused" and exc.url == robots_url:
                # the origin's own connection reached a refused address (DNS rebinding): its
                # pages are refused for the same reason, not reported as robots_unavailable
                return exc
            return _UNAVAILABLE  # unreachable: nothing fetched from this host now (RFC 9309)
        rp.parse(resp.body.decode("utf-8", "replace").splitlines())
        return rp


class FetchService:
    """A Fetcher on an event loop in a background thread, for synchronous pipeline stages."""

    def __init__(
        self,
        settings: GatherSettings,
        guard: HostGuard,
        cache: ResponseCache | None = None,
        refresh: bool = False,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.fetcher = Fetcher(settings, guard, cache, refresh)
        self._call(self.fetcher.__aenter__())
        self.window = max(4, settings.concurrency * 4)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def get(self, url: str, kind: str = "html") -> Response:
        """Fetch one URL, blocking; FetchFailed on failure."""
        return self._call(self.fetcher.fetch(url, kind))

    async def _safe(self, url: str) -> Response | FetchFailed:
        try:
            return await self.fetcher.fetch(url)
        except FetchFailed as exc:
            return exc

    def map_ordered(self, urls: Iterable[str]) -> Iterator[Response | FetchFailed]:
        """Fetch many URLs concurrently; results come back in input order."""
        pending: deque[concurrent.futures.Future[Response | FetchFailed]] = deque()
        it = iter(urls)
        try:
            for url in it:
                pending.append(asyncio.run_coroutine_threadsafe(self._safe(url), self._loop))
                if len(pending) >= self.window:
                    break
            while pending:
                result = pending.popleft().result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(asyncio.run_coroutine_threadsafe(self._safe(nxt), self._loop))
                yield result
        finally:
            for fut in pending:
                fut.cancel()

    def close(self) -> None:
        """Close the client and stop the loop."""
        with contextlib.suppress(Exception):
            self._call(self.fetcher.__aexit__(None, None, None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
