"""Fetching against a real loopback server: failures, retries, limits, robots, the host guard."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from newscorpus.config import load_config
from newscorpus.corpus import load_articles
from newscorpus.gather.guard import HostGuard, HostRefused
from newscorpus.gather.pipeline import gather
from newscorpus.store import read_jsonl
from tests.gather.conftest import FIXTURES, LocalServer, allowing


def urls_source(root_dir: Path, urls: list[str]) -> tuple[str, str, str]:
    path = root_dir / "urls.txt"
    path.write_text("# synthetic test URLs\n\n" + "\n".join(urls) + "\n", encoding="utf-8")
    return ("list", "urls", str(path))


def reasons(root: Path) -> dict[str, str]:
    return {r["url"]: r["reason"] for r in read_jsonl(root / "rejected.jsonl")}


def test_failures_are_rejected_with_their_reason(
    server: LocalServer, make_corpus: Callable[..., Path], tmp_path: Path
) -> None:
    ok = server.page("/articles/en.html", "en_fentanyl_labs.html")
    bad = {
        "http_404": server.url("/missing.html"),
        "not_html": server.add("/doc.pdf", body=b"%PDF-1.4 synthetic", ctype="application/pdf"),
        "too_large": server.add("/huge.html", body=b"<p>" + b"x" * 400_000 + b"</p>"),
        "robots": server.page("/private/secret.html", "en_fentanyl_labs.html"),
        "http_500": server.add("/always500.html", status=500, body=b"oops"),
        "timeout": server.page("/slow.html", "en_fentanyl_labs.html", delay=2.5),
        "too_many_redirects": server.add(
            "/loop.html", status=302, headers={"Location": "/loop.html"}
        ),
    }
    bad["extract_failed"] = server.add(
        "/random.html", body=os.urandom(3000), ctype="text/html; charset=utf-8"
    )
    bad["not_html "] = server.add(
        "/random.bin", body=os.urandom(3000), ctype="application/octet-stream"
    )
    root = make_corpus([urls_source(tmp_path, [ok, *bad.values()])], allow=[server.hostport])
    summary = gather(load_config(root))
    got = reasons(root)
    for reason, url in bad.items():
        if reason == "extract_failed":
            assert got[url] in ("extract_failed", "not_html", "bad_charset"), got[url]
        else:
            assert got[url] == reason.strip(), (url, got[url])
    assert [a.url for a in load_articles(load_config(root))] == [ok]
    assert summary.new == 1 and summary.fetched == 2
    assert server.requested("/private/secret.html") == 0  # robots: never requested
    assert server.requested("/always500.html") == 2  # one retry (retries = 1)


def test_streamed_response_over_max_bytes_is_abandoned(
    server: LocalServer, make_corpus: Callable[..., Path], tmp_path: Path
) -> None:
    url = server.add("/stream.html", stream=20_000_000)  # no Content-Length
    root = make_corpus([urls_source(tmp_path, [url])], allow=[server.hostport])
    gather(load_config(root))
    assert reasons(root)[url] == "too_large"
    deadline = time.monotonic() + 5
    while "/stream.html" not in server.streamed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.streamed["/stream.html"] < 20_000_000  # the client hung up early


def test_retries_honour_retry_after(
    server: LocalServer, make_corpus: Callable[..., Path], tmp_path: Path
) -> None:
    u429 = server.page(
        "/busy.html",
        "en_fentanyl_labs.html",
        fail_first=1,
        fail_status=429,
        fail_headers={"Retry-After": "1"},
    )
    u503 = server.page("/flaky.html", "es_operaciones.html", fail_first=1, fail_status=503)
    root = make_corpus([urls_source(tmp_path, [u429, u503])], allow=[server.hostport])
    t0 = time.monotonic()
    summary = gather(load_config(root))
    assert summary.new == 2 and not summary.rejected
    assert server.requested("/busy.html") == 2 and server.requested("/flaky.html") == 2
    assert time.monotonic() - t0 >= 1.0  # waited as told by Retry-After


def test_windows_1252_from_the_http_header(
    server: LocalServer, make_corpus: Callable[..., Path], tmp_path: Path
) -> None:
    body = (FIXTURES / "es_cp1252.html").read_bytes().replace(b'<meta charset="windows-1252">', b"")
    url = server.add("/latin.html", body=body, ctype="text/html; charset=ISO-8859-1")
    root = make_corpus([urls_source(tmp_path, [url])], allow=[server.hostport])
    gather(load_config(root))
    (art,) = load_articles(load_config(root))
    assert "José Núñez" in art.authors and "García Harfuch" in art.text


@pytest.fixture
def second_server() -> Iterator[LocalServer]:
    srv = LocalServer("127.0.0.2").start()
    srv.add("/robots.txt", body=b"User-agent: *\nAllow: /\n", ctype="text/plain")
    yield srv
    srv.stop()


def test_guard_refuses_unlisted_loopback_and_redirects_to_it(
    server: LocalServer,
    second_server: LocalServer,
    make_corpus: Callable[..., Path],
    tmp_path: Path,
) -> None:
    target = second_server.page("/articles/fr.html", "fr_souverainete.html")
    hop = server.add("/hop.html", status=302, headers={"Location": target})
    root = make_corpus([urls_source(tmp_path, [target, hop])], allow=[server.hostport])
    gather(load_config(root))
    got = reasons(root)
    assert got[target] == "host_refused" and got[hop] == "host_refused"
    assert second_server.log == []  # never connected to
    assert server.requested("/hop.html") == 1

    # allowed when listed (here as --allow-host adds it to [gather] allow_hosts), on a rerun
    summary = gather(allowing(load_config(root), second_server.hostport))
    assert summary.new == 1 and summary.duplicates == 1
    assert [a.url for a in load_articles(load_config(root))] == [target]
    assert second_server.requested("/articles/fr.html") >= 1


def test_guard_unit() -> None:
    guard = HostGuard(["127.0.0.1:8080", "localhost"])
    guard.check("http://127.0.0.1:8080/x")
    guard.check("http://localhost:9/x")
    for url in (
        "http://127.0.0.1:8081/x",
        "http://127.0.0.2/x",
        "http://[::1]/x",
        "file:///etc/passwd",
        "ftp://example.org/x",
        "http:///nohost",
        "http://[::1/x",  # urllib's ValueError must become a refusal, not a traceback
    ):
        with pytest.raises(HostRefused):
            guard.check(url)
    assert HostGuard(["[::1]:80"]).is_allowed("::1", 80)


def test_per_host_delay(
    server: LocalServer, make_corpus: Callable[..., Path], tmp_path: Path
) -> None:
    urls = [server.page(f"/d/{i}.html", "en_fentanyl_labs.html") for i in range(3)]
    root = make_corpus([urls_source(tmp_path, urls)], allow=[server.hostport], delay=0.4)
    t0 = time.monotonic()
    gather(load_config(root))
    # robots.txt and three pages, one host: at least three gaps of 0.4 s
    assert time.monotonic() - t0 >= 1.2
    assert [p for p, _ in server.log] == ["/robots.txt", "/d/0.html", "/d/1.html", "/d/2.html"]


def test_a_host_that_does_not_resolve_is_a_dns_error_not_a_refusal() -> None:
    """No lookup is made here (tests send no traffic off loopback): the guard's verdict on no address."""
    import pytest as _pytest

    from newscorpus.gather.fetch import TRANSIENT
    from newscorpus.gather.guard import HostGuard, HostRefused, HostUnresolved

    with _pytest.raises(HostUnresolved, match="does not resolve") as exc:
        HostGuard()._verdict("http://news.invalid/a", "news.invalid", 80, [])
    assert exc.value.reason == "dns_error" and "dns_error" in TRANSIENT
    with _pytest.raises(HostRefused) as refused:
        HostGuard()._verdict(
            "http://x.test/", "x.test", 80, [__import__("ipaddress").ip_address("127.0.0.2")]
        )
    assert refused.value.reason == "host_refused"
