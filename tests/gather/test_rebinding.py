"""DNS rebinding: the host guard's rule applies to the address httpx actually connected to.

``rebind.test`` answers a public address to the guard's lookup and 127.0.0.1 to the lookup made when
httpx connects: the guard passes it, the connection reaches the loopback server. The public address
is only ever the guard's view (nothing connects to it); every lookup made at connect time is
answered locally, so no traffic leaves 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import GatherSettings, load_config
from newscorpus.corpus import load_articles
from newscorpus.gather import guard as guard_mod
from newscorpus.gather.fetch import Fetcher, FetchFailed, Response, ResponseCache
from newscorpus.gather.guard import HostGuard, HostRefused
from newscorpus.gather.pipeline import gather
from newscorpus.store import read_jsonl
from tests.gather.conftest import FIXTURES, LocalServer, allowing
from tests.gather.test_fetch import urls_source

REBIND = "rebind.test"
# A global unicast address, so the guard passes it (documentation ranges such as 203.0.113.0/24
# are not global and the guard would refuse them). Only the guard's resolver ever returns it.
GUARD_VIEW = ipaddress.ip_address("93.184.215.14")
LOCAL = ("127.0.0.1", "127.0.0.2", "localhost")


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> None:
    """REBIND is public for the guard and 127.0.0.1 at connect time; no other name resolves."""
    real_getaddrinfo = socket.getaddrinfo

    def at_connect(host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        name = host.decode("ascii") if isinstance(host, bytes) else str(host)
        if name == REBIND:
            return real_getaddrinfo("127.0.0.1", port, *args, **kw)
        if name in LOCAL:
            return real_getaddrinfo(name, port, *args, **kw)
        raise socket.gaierror(socket.EAI_NONAME, f"test resolver: {name!r} is not resolved")

    async def guard_aresolve(host: str, port: int) -> list[guard_mod.IPAddress]:
        return [GUARD_VIEW] if host == REBIND else []

    def guard_resolve(host: str, port: int) -> list[guard_mod.IPAddress]:
        return [GUARD_VIEW] if host == REBIND else []

    monkeypatch.setattr(socket, "getaddrinfo", at_connect)
    monkeypatch.setattr(guard_mod, "aresolve", guard_aresolve)
    monkeypatch.setattr(guard_mod, "resolve", guard_resolve)


def settings(max_bytes: int = 300_000) -> GatherSettings:
    return GatherSettings(
        max_bytes=max_bytes,
        concurrency=2,
        per_host_delay=0.0,
        timeout=2.0,
        retries=1,
        user_agent="newscorpus-test/0.1 (tests)",
    )


async def fetch_all(
    guard: HostGuard, cache: ResponseCache, urls: list[str]
) -> list[Response | FetchFailed]:
    out: list[Response | FetchFailed] = []
    async with Fetcher(settings(), guard, cache) as fetcher:
        for url in urls:
            try:
                out.append(await fetcher.fetch(url))
            except FetchFailed as exc:
                out.append(exc)
    return out


def test_the_guard_alone_passes_the_rebinding_name(rebinding: None) -> None:
    """The premise: the guard's lookup sees a public address, so only a later check can help."""
    HostGuard().check(f"http://{REBIND}/a.html")
    asyncio.run(HostGuard().acheck(f"http://{REBIND}/a.html"))


def test_rebound_connection_is_refused_before_the_body_is_read(
    server: LocalServer, rebinding: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def robots_allow_all(self: Fetcher, url: str) -> bool:
        return True  # robots.txt aside: the page request itself must be refused

    monkeypatch.setattr(Fetcher, "_robots_allow", robots_allow_all)
    server.page("/a.html", "en_fentanyl_labs.html")
    server.add("/stream.html", stream=20_000_000)  # no Content-Length: read only if not refused
    server.add("/hop.html", status=302, headers={"Location": "/a.html"})
    page, stream, hop = (
        f"http://{REBIND}:{server.port}{p}" for p in ("/a.html", "/stream.html", "/hop.html")
    )
    cache = ResponseCache(tmp_path / "cache")

    results = asyncio.run(fetch_all(HostGuard(), cache, [page, stream, hop]))

    for url, result in zip((page, stream, hop), results, strict=True):
        assert isinstance(result, FetchFailed), (url, result)
        assert result.reason == "host_refused" and result.transient
        assert result.url == url and "127.0.0.1" in result.detail, result
        assert cache.get(url) is None
    assert not (tmp_path / "cache").exists()  # nothing of a refused response was stored
    # the guard let the name through and the connection really went to the loopback server;
    # the refusal came after connecting, before the status (no redirect followed, no retry)
    assert server.requested("/a.html") == 1 and server.requested("/hop.html") == 1
    assert server.requested("/stream.html") == 1
    deadline = time.monotonic() + 5
    while "/stream.html" not in server.streamed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.streamed["/stream.html"] < 20_000_000  # body not read: the client hung up


def test_allowed_hosts_still_fetch(server: LocalServer, rebinding: None, tmp_path: Path) -> None:
    body = (FIXTURES / "en_fentanyl_labs.html").read_bytes()
    server.page("/a.html", "en_fentanyl_labs.html")
    local = server.url("/a.html")
    listed = f"http://{REBIND}:{server.port}/a.html"
    guard = HostGuard([server.hostport, f"{REBIND}:{server.port}"])
    cache = ResponseCache(tmp_path / "cache")

    results = asyncio.run(fetch_all(guard, cache, [local, listed]))

    for url, result in zip((local, listed), results, strict=True):
        assert isinstance(result, Response), (url, result)
        assert result.status == 200 and result.body == body and not result.from_cache
        cached = cache.get(url)
        assert cached is not None and cached.body == body


def test_check_peer_rule() -> None:
    guard = HostGuard(["127.0.0.1:8080", "localhost"])
    guard.check_peer("http://127.0.0.1:8080/x", ("127.0.0.1", 8080))
    guard.check_peer("http://localhost:9/x", ("127.0.0.1", 9))
    guard.check_peer("http://news.test/x", (str(GUARD_VIEW), 80))
    guard.check_peer("http://news.test/x", ("2606:4700:4700::1111", 80, 0, 0))
    for peer in (
        ("127.0.0.1", 80),
        ("10.1.2.3", 80),
        ("169.254.169.254", 80),
        ("203.0.113.7", 80),
        ("::1", 80, 0, 0),
        ("fe80::1%eth0", 80, 0, 2),
        ("::ffff:192.168.0.1", 80),
        None,  # address unknown: refused, not assumed public
        ("not-an-address", 80),
    ):
        with pytest.raises(HostRefused) as exc:
            guard.check_peer("http://news.test/x", peer)
        assert exc.value.reason == "host_refused"
        assert str(exc.value).startswith("http://news.test/x: news.test ")


def test_gather_records_a_rebound_host_as_refused(
    server: LocalServer,
    rebinding: None,
    make_corpus: Callable[..., Path],
    tmp_path: Path,
) -> None:
    local = server.page("/local.html", "en_fentanyl_labs.html")
    server.page("/rebound.html", "fr_souverainete.html")
    rebound = f"http://{REBIND}:{server.port}/rebound.html"
    root = make_corpus([urls_source(tmp_path, [local, rebound])], allow=[server.hostport])

    summary = gather(load_config(root))

    rejected = {r["url"]: r for r in read_jsonl(root / "rejected.jsonl")}
    assert rejected[rebound]["reason"] == "host_refused", rejected[rebound]
    assert "127.0.0.1" in rejected[rebound]["detail"] and REBIND in rejected[rebound]["detail"]
    assert [a.url for a in load_articles(load_config(root))] == [local]  # allowed host fetched
    assert summary.new == 1
    assert server.requested("/rebound.html") == 0  # its robots.txt was refused first
    assert ResponseCache(load_config(root).state_dir / "cache").get(rebound) is None

    # listed with --allow-host, the same name is fetched on a rerun
    summary = gather(allowing(load_config(root), f"{REBIND}:{server.port}"))
    assert summary.new == 1
    assert {a.url for a in load_articles(load_config(root))} == {local, rebound}
