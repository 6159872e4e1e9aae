"""Damaged and hostile inputs: cut WARC files, dead sitemaps, binary listings, other schemes,
pages without Content-Type, URLs with credentials, bodies cut short. Real files, real servers."""

from __future__ import annotations

import gzip
import io
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newscorpus.config import GatherSettings, Source, load_config
from newscorpus.corpus import load_articles
from newscorpus.gather.fetch import TRANSIENT, FetchFailed, FetchService
from newscorpus.gather.guard import HostGuard
from newscorpus.gather.pipeline import gather
from newscorpus.gather.sources import list_items
from newscorpus.store import read_jsonl
from newscorpus.urls import strip_credentials
from tests.gather.conftest import FIXTURES, LocalServer, rss, sitemap

PAGES = [
    ("https://tribune.example/world/mexico-fentanyl-labs", "en_fentanyl_labs.html"),
    ("https://quotidien.example/x", "fr_souverainete.html"),
    ("https://diario.example/operaciones", "es_operaciones.html"),
]
SECRET = "s3cr3t-pw"


def rejected(root: Path) -> list[dict[str, str]]:
    return list(read_jsonl(root / "rejected.jsonl"))


def stored_urls(root: Path) -> list[str]:
    return sorted(a.url or "" for a in load_articles(load_config(root)))


def everything(root: Path) -> bytes:
    """Every byte the tool wrote in the corpus folder (articles, rejections, state), except the
    inputs: the WARC files, and the raw-response cache, which holds each listing as served."""
    return b"".join(
        p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and p.relative_to(root).parts[0] != "warcs"
        and p.relative_to(root).parts[:2] != (".newscorpus", "cache")
    )


# --- 1. WARC files cut short ----------------------------------------------------------------------


def warc_bytes(
    gz: bool, pages: list[tuple[str, str]] = PAGES, pad: int = 0
) -> tuple[bytes, list[int]]:
    """A real multi-record WARC (warcio) and the byte offset where each record starts (+ the end)."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gz)
    offsets = []
    for url, fixture in pages:
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        body = io.BytesIO((FIXTURES / fixture).read_bytes() + b"<!-- pad -->" * pad)
        offsets.append(buf.tell())
        writer.write_record(
            writer.create_warc_record(url, "response", payload=body, http_headers=headers)
        )
    offsets.append(buf.tell())
    return buf.getvalue(), offsets


def _cut(kind: str, offsets: list[int]) -> int:
    start, end = offsets[1], offsets[2]  # the second record
    return {
        "middle": start + (end - start) // 2,
        "ninety": start + (end - start) * 9 // 10,
        "header": start + 30,  # inside its WARC header
        "trailer": end - 3,  # gzip: its member without the end of its trailer
        "boundary": end,
    }[kind]


@pytest.mark.parametrize(
    ("gz", "cut"),
    [
        (True, "middle"),
        (True, "ninety"),
        (True, "header"),
        (True, "trailer"),
        (True, "boundary"),
        (False, "middle"),
        (False, "ninety"),
        (False, "header"),
        (False, "boundary"),
    ],
)
def test_cut_warc_keeps_complete_records_and_rejects_the_cut_one(
    make_corpus: Callable[..., Path], tmp_path: Path, gz: bool, cut: str
) -> None:
    data, offsets = warc_bytes(gz)
    name = "pages.warc.gz" if gz else "pages.warc"
    root = make_corpus([], name="c")
    warc = root / "warcs" / name
    warc.parent.mkdir()
    at = _cut(cut, offsets)
    warc.write_bytes(data[:at])
    root = make_corpus([("archive", "warc", str(warc))], name="c")
    summary = gather(load_config(root))
    lines = rejected(root)
    if cut == "boundary":  # a file cut between two records is two complete records
        assert stored_urls(root) == sorted(u for u, _ in PAGES[:2])
        assert lines == []
        return
    assert stored_urls(root) == [PAGES[0][0]], "only the complete record before the cut"
    assert summary.new == 1
    assert [(r["reason"], r["stage"], r["source"]) for r in lines] == [
        ("warc_truncated", "source", "archive")
    ]
    line = lines[0]
    assert line["url"] in (PAGES[1][0], f"warcs/{name}")
    assert f"warcs/{name}: record at byte {offsets[1]} cut short" in line["detail"]
    assert str(tmp_path) not in json.dumps(line)
    # a rerun records nothing twice; the complete file, downloaded again, gives all its records
    gather(load_config(root))
    assert rejected(root) == lines
    warc.write_bytes(data)
    gather(load_config(root))
    assert stored_urls(root) == sorted(u for u, _ in PAGES)


def test_warc_folder_one_bad_file_does_not_stop_the_others(
    make_corpus: Callable[..., Path],
) -> None:
    root = make_corpus([], name="c")
    folder = root / "warcs"
    folder.mkdir()
    (folder / "a.warc").write_bytes(b"this is not a warc file\r\n\r\n")
    big, _ = warc_bytes(False, [("https://big.example/1", "en_fentanyl_labs.html")], pad=1000)
    (folder / "b.warc").write_bytes(big)
    cred, _ = warc_bytes(False, [(f"https://user:{SECRET}@cred.example/1", "fr_souverainete.html")])
    (folder / "c.warc").write_bytes(cred)
    ok, _ = warc_bytes(False, [PAGES[2]])
    (folder / "d.warc").write_bytes(ok)
    root = make_corpus([("archive", "warc", str(folder))], name="c", max_bytes=8_000)
    gather(load_config(root))
    assert stored_urls(root) == [PAGES[2][0]]
    assert {(r["url"], r["reason"]) for r in rejected(root)} == {
        ("warcs/a.warc", "source_unreadable"),
        ("https://big.example/1", "too_large"),  # not stored cut to max_bytes
        ("https://cred.example/1", "url_credentials"),
    }
    assert SECRET.encode() not in everything(root)


# --- 2. a sitemap index with dead children --------------------------------------------------------


def test_sitemap_index_reads_every_child_and_records_the_dead_ones(
    server: LocalServer, make_corpus: Callable[..., Path]
) -> None:
    server.page("/a/en.html", "en_fentanyl_labs.html")
    server.page("/a/fr.html", "fr_souverainete.html")
    server.add("/sm-good.xml", body=sitemap([server.url("/a/en.html")]), ctype="application/xml")
    server.add("/sm-bin.xml", body=bytes(range(256)) * 20, ctype="application/xml")
    refused = f"http://127.0.0.2:{server.port}/sm.xml"  # not allowed: never connected to
    # a chain of indexes deeper than MAX_SITEMAP_DEPTH: the one too deep is recorded
    server.add("/d1.xml", body=sitemap([server.url("/d2.xml")], index=True))
    server.add("/d2.xml", body=sitemap([server.url("/d3.xml")], index=True))
    server.add("/d3.xml", body=sitemap([server.url("/sm-fr.xml")], index=True))
    server.add("/sm-fr.xml", body=sitemap([server.url("/a/fr.html")]))
    children = [
        server.url("/missing.xml"),
        refused,
        server.url("/sm-bin.xml"),
        server.url("/sm-good.xml"),
        server.url("/d1.xml"),
    ]
    index = server.add("/index.xml", body=sitemap(children, index=True), ctype="application/xml")
    root = make_corpus([("sm", "sitemap", index)], allow=[server.hostport])
    summary = gather(load_config(root))
    assert stored_urls(root) == [server.url("/a/en.html")]
    assert summary.new == 1
    got = {r["url"]: (r["stage"], r["reason"]) for r in rejected(root)}
    assert got == {
        server.url("/missing.xml"): ("source", "http_404"),
        refused: ("source", "host_refused"),
        server.url("/sm-bin.xml"): ("source", "xml_malformed"),
        server.url("/sm-fr.xml"): ("source", "sitemap_too_deep"),
    }
    assert server.requested("/sm-fr.xml") == 0


# --- 3. binary or non-list bodies: one line, not one a garbage line -------------------------------


def test_binary_listings_are_one_source_unreadable_line(
    server: LocalServer, make_corpus: Callable[..., Path]
) -> None:
    noise = bytes(range(256)) * 40
    lists = {
        "bin": server.add("/urls.bin", body=noise, ctype="text/plain"),
        "html": server.add("/urls.html", body=(FIXTURES / "en_sports_menu.html").read_bytes()),
        "latin": server.add("/urls.latin", body="http://a.example/é\n".encode("latin-1")),
    }
    feed = server.add("/feed.bin", body=noise, ctype="application/rss+xml")
    sm = server.add("/sm.bin", body=gzip.compress(noise)[:-10], ctype="application/xml")
    sources = [(k, "urls", u) for k, u in lists.items()]
    sources += [("feedbin", "feed", feed), ("smbin", "sitemap", sm)]
    root = make_corpus(sources, allow=[server.hostport])
    gather(load_config(root))
    got = sorted((r["source"], r["url"], r["reason"]) for r in rejected(root))
    assert got == sorted(
        [(k, u, "source_unreadable") for k, u in lists.items()]
        + [("feedbin", feed, "xml_malformed"), ("smbin", sm, "xml_malformed")]
    )
    assert load_articles(load_config(root)) == []


# --- 4. links with other schemes are recorded, in every listing kind ------------------------------

OTHER = [
    "gopher://gopher.example/1/news",
    "ftp://files.example/a.html",
    "mailto:desk@news.example",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "data:text/html,<p>fentanyl</p>",
]


def test_other_schemes_are_recorded_as_bad_scheme(
    server: LocalServer, make_corpus: Callable[..., Path]
) -> None:
    good = server.page("/a/en.html", "en_fentanyl_labs.html")
    other = {k: [f"{u}#{k}" for u in OTHER] for k in "fsu"}  # one set of links per listing
    feed = server.add("/feed.xml", body=rss([*other["f"], good]), ctype="application/rss+xml")
    sm = server.add("/sm.xml", body=sitemap([*other["s"], good]), ctype="application/xml")
    lst = server.add("/urls.txt", body="\n".join([*other["u"], good]).encode(), ctype="text/plain")
    root = make_corpus(
        [("f", "feed", feed), ("s", "sitemap", sm), ("u", "urls", lst)], allow=[server.hostport]
    )
    gather(load_config(root))
    assert stored_urls(root) == [good]
    got = sorted((r["source"], r["url"], r["stage"], r["reason"]) for r in rejected(root))
    assert got == sorted(
        (k, strip_credentials(u), "source", "bad_scheme")
        for k, links in other.items()
        for u in links
    )


def test_scheme_less_credentials_and_mail_addresses_are_not_recorded(
    server: LocalServer, make_corpus: Callable[..., Path]
) -> None:
    good = server.page("/a/en.html", "en_fentanyl_labs.html")
    body = f"user:hunter2pw@news.example/a\nmailto:someone.private@news.example\n{good}\n"
    lst = server.add("/urls.txt", body=body.encode(), ctype="text/plain")
    root = make_corpus([("u", "urls", lst)], allow=[server.hostport])
    gather(load_config(root))
    assert stored_urls(root) == [good]
    lines = (root / "rejected.jsonl").read_text(encoding="utf-8")
    assert len(rejected(root)) == 2
    assert "hunter2pw" not in lines and "someone.private" not in lines
    assert {r["reason"] for r in rejected(root)} == {"bad_scheme"}


# --- 5. no Content-Type: sniffed -----------------------------------------------------------------


def test_missing_content_type_is_sniffed(
    server: LocalServer, make_corpus: Callable[..., Path], tmp_path: Path
) -> None:
    page = (FIXTURES / "en_fentanyl_labs.html").read_bytes()
    html = server.add("/bare.html", body=b"\xef\xbb\xbf\n  " + page, ctype=None)
    warc_page = (FIXTURES / "fr_souverainete.html").read_bytes()
    text = server.add(
        "/notes", body=b"Notes on fentanyl and the cartel.\n<p>not a page</p>\n", ctype=None
    )
    pdf = server.add("/doc", body=b"%PDF-1.4 fentanyl <html>", ctype=None)
    unknown = server.add("/unknown", body=b"plain words, fentanyl", ctype="unknown/unknown")
    lst = tmp_path / "urls.txt"
    lst.write_text("\n".join([html, text, pdf, unknown]) + "\n", encoding="utf-8")
    # a WARC record without Content-Type: the same rule
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    for url, body in (
        ("https://w.example/a", warc_page),
        ("https://w.example/b", b"fentanyl <p>x"),
    ):
        headers = StatusAndHeaders("200 OK", [], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=headers
            )
        )
    warc = tmp_path / "bare.warc"
    warc.write_bytes(buf.getvalue())
    root = make_corpus(
        [("list", "urls", str(lst)), ("archive", "warc", str(warc))], allow=[server.hostport]
    )
    gather(load_config(root))
    assert stored_urls(root) == sorted([html, "https://w.example/a"])
    got = {r["url"]: (r["stage"], r["reason"]) for r in rejected(root)}
    assert got == {u: ("fetch", "not_html") for u in (text, pdf, unknown, "https://w.example/b")}


# --- 6. credentials in URLs: never sent, never stored ---------------------------------------------


def test_credentials_are_never_sent_nor_stored(
    server: LocalServer, make_corpus: Callable[..., Path], cli: Callable[..., object]
) -> None:
    host = server.hostport
    good = server.page("/a/en.html", "en_fentanyl_labs.html")
    server.page("/a/fr.html", "fr_souverainete.html")
    cred = f"http://editor:{SECRET}@{host}/a/fr.html"
    moved = server.add("/moved", status=302, headers={"Location": cred})
    feed = server.add("/feed.xml", body=rss([cred, good, moved]), ctype="application/rss+xml")
    sm = server.add("/sm.xml", body=sitemap([cred + "?s"]), ctype="application/xml")
    index = server.add("/index.xml", body=sitemap([f"http://u:{SECRET}@{host}/sm.xml"], index=True))
    lst = server.add("/urls.txt", body=f"{cred}?u\n".encode(), ctype="text/plain")
    root = make_corpus(
        [("f", "feed", feed), ("s", "sitemap", sm), ("i", "sitemap", index), ("u", "urls", lst)],
        allow=[host],
    )
    result = cli("--corpus", root, "gather")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert SECRET not in result.output  # type: ignore[attr-defined]
    assert all("authorization" not in h for _, h in server.log), "no Basic auth sent"
    assert server.requested("/a/fr.html") == 0
    assert stored_urls(root) == [good]
    clean = f"http://{host}/a/fr.html"
    got = sorted((r["source"], r["url"], r["reason"]) for r in rejected(root))
    assert got == sorted(
        [
            ("f", clean, "url_credentials"),
            ("f", moved, "url_credentials"),
            ("s", clean + "?s", "url_credentials"),
            ("i", f"http://{host}/sm.xml", "url_credentials"),
            ("u", clean + "?u", "url_credentials"),
        ]
    )
    assert "url_credentials" in TRANSIENT  # a later listing of the clean URL is not skipped
    assert SECRET.encode() not in everything(root)


def test_a_source_url_with_credentials_is_refused_before_any_request(
    server: LocalServer,
) -> None:
    calls: list[str] = []

    def fetch_xml(url: str) -> bytes:
        calls.append(url)
        return rss([server.url("/a/en.html")])

    src = Source(name="f", kind="feed", url=f"http://u:{SECRET}@{server.hostport}/feed.xml")
    items = list(list_items(src, fetch_xml, 1000))
    assert calls == []
    assert [(i.url, i.reason) for i in items] == [
        (f"http://{server.hostport}/feed.xml", "url_credentials")
    ]
    # the fetcher refuses one on its own too, robots.txt included: no request at all
    service = FetchService(
        GatherSettings(per_host_delay=0, retries=0), HostGuard([server.hostport])
    )
    try:
        for kind in ("html", "xml", "robots"):
            with pytest.raises(FetchFailed) as exc:
                service.get(f"http://u:{SECRET}@{server.hostport}/robots.txt", kind)
            assert exc.value.reason == "url_credentials" and SECRET not in str(exc.value)
    finally:
        service.close()
    assert server.log == []


# --- neighbours: bodies cut short over HTTP, duplicates not fetched -------------------------------


def test_a_gzip_body_of_several_members_is_read_whole(
    server: LocalServer, make_corpus: Callable[..., Path], tmp_path: Path
) -> None:
    page = (FIXTURES / "en_fentanyl_labs.html").read_bytes()
    half = len(page) // 2
    packed = gzip.compress(page[:half]) + gzip.compress(page[half:])  # as `cat a.gz b.gz` makes
    gz = {"Content-Encoding": "gzip"}
    two = server.add("/two.html", body=packed, headers=gz)
    cut = server.add("/two-cut.html", body=packed[:-4], headers=gz)  # second member cut short
    lst = tmp_path / "urls.txt"
    lst.write_text(f"{two}\n{cut}\n", encoding="utf-8")
    root = make_corpus([("list", "urls", str(lst))], allow=[server.hostport], retries=0)
    gather(load_config(root))
    assert stored_urls(root) == [two]
    one = server.add("/one.html", body=gzip.compress(page), headers=gz)
    (tmp_path / "one.txt").write_text(f"{one}\n", encoding="utf-8")
    whole = make_corpus([("list", "urls", str(tmp_path / "one.txt"))], allow=[server.hostport])
    gather(load_config(whole))
    (got,) = load_articles(load_config(root))
    (want,) = load_articles(load_config(whole))
    assert got.text == want.text and got.sha256 == want.sha256
    assert {r["url"]: r["reason"] for r in rejected(root)} == {cut: "body_truncated"}


def test_compressed_body_cut_short_is_not_stored(
    server: LocalServer, make_corpus: Callable[..., Path], tmp_path: Path
) -> None:
    page = (FIXTURES / "en_fentanyl_labs.html").read_bytes()
    packed = gzip.compress(page)
    gz = {"Content-Encoding": "gzip"}
    whole = server.add("/whole.html", body=packed, headers=gz)
    cut = server.add("/cut.html", body=packed[: len(packed) * 6 // 10], headers=gz)
    notrailer = server.add("/notrailer.html", body=packed[:-4], headers=gz)
    corrupt = server.add("/corrupt.html", body=packed[:40] + b"\xff" * 200, headers=gz)
    lst = tmp_path / "urls.txt"
    lst.write_text("\n".join([whole, cut, notrailer, corrupt]) + "\n", encoding="utf-8")
    root = make_corpus([("list", "urls", str(lst))], allow=[server.hostport], retries=0)
    gather(load_config(root))
    assert stored_urls(root) == [whole]
    got = {r["url"]: r["reason"] for r in rejected(root)}
    assert got == {cut: "body_truncated", notrailer: "body_truncated", corrupt: "bad_encoding"}


@pytest.fixture
def short_server() -> Iterator[str]:
    """A raw HTTP server whose page sends half the bytes its Content-Length promises."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    page = (FIXTURES / "en_fentanyl_labs.html").read_bytes()

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                request = conn.recv(65536)
                if request.startswith(b"GET /robots.txt"):
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    continue
                head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(page)}"
                conn.sendall(
                    head.encode() + b"\r\nConnection: close\r\n\r\n" + page[: len(page) // 2]
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_body_shorter_than_content_length_is_not_stored(
    short_server: str, make_corpus: Callable[..., Path], tmp_path: Path
) -> None:
    lst = tmp_path / "urls.txt"
    lst.write_text(f"http://{short_server}/page.html\n", encoding="utf-8")
    root = make_corpus([("list", "urls", str(lst))], allow=[short_server], retries=0)
    gather(load_config(root))
    assert load_articles(load_config(root)) == []
    assert [r["reason"] for r in rejected(root)] == ["connect_error"]


def test_another_spelling_of_a_stored_url_is_not_fetched(
    server: LocalServer, make_corpus: Callable[..., Path], tmp_path: Path
) -> None:
    good = server.page("/a/en.html", "en_fentanyl_labs.html")
    lst = tmp_path / "urls.txt"
    lst.write_text(f"{good}\n", encoding="utf-8")
    root = make_corpus([("list", "urls", str(lst))], allow=[server.hostport])
    gather(load_config(root))
    lst.write_text(f"{good}\n{good}?utm_source=feed\n", encoding="utf-8")
    gather(load_config(root))
    assert [r["reason"] for r in rejected(root)] == ["duplicate_url"]
    assert server.requested("/a/en.html?utm_source=feed") == 0


def test_a_bad_line_of_a_local_url_file_is_reported_without_its_password(
    make_corpus: Callable[..., Path], tmp_path: Path, cli: Callable[..., object]
) -> None:
    lst = tmp_path / "urls.txt"
    lst.write_text(f"ftp://editor:{SECRET}@files.example/a.html\n", encoding="utf-8")
    root = make_corpus([("list", "urls", str(lst))])
    result = cli("--corpus", root, "gather")
    out = result.output  # type: ignore[attr-defined]
    assert result.exit_code != 0 and "urls.txt:1: not an http(s) URL" in out  # type: ignore[attr-defined]
    assert "ftp://files.example/a.html" in out and SECRET not in out
