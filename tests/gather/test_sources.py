"""Source listings: RSS, Atom, RDF, sitemaps, URL files, WARC files written with warcio."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newscorpus.config import load_config
from newscorpus.corpus import load_articles
from newscorpus.errors import NewscorpusError
from newscorpus.gather.pipeline import gather
from newscorpus.gather.sources import (
    SourceError,
    parse_feed,
    parse_sitemap,
    read_urls_file,
)
from newscorpus.store import read_jsonl
from tests.conftest import snapshot
from tests.gather.conftest import BOMB, EXTERNAL, FIXTURES, atom, rss, sitemap

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="http://s.example/"><title>Synthetic</title></channel>
<item rdf:about="http://s.example/a1"><title>a</title><link>http://s.example/a1</link></item>
<item rdf:about="http://s.example/a2"><title>b</title></item>
</rdf:RDF>"""


def test_parse_feeds() -> None:
    links = ["http://s.example/a?x=1&y=2", "/relative/b"]
    assert parse_feed(rss(links), "http://s.example/feed") == [
        "http://s.example/a?x=1&y=2",
        "http://s.example/relative/b",
    ]
    assert parse_feed(atom(links), "http://s.example/feed") == parse_feed(
        rss(links), "http://s.example/feed"
    )
    assert parse_feed(RDF, "http://s.example/rdf") == ["http://s.example/a1", "http://s.example/a2"]
    with pytest.raises(SourceError) as e:
        parse_feed(b"<html><body>not a feed</body></html>", "http://s.example/x")
    assert e.value.reason == "not_a_feed"
    with pytest.raises(SourceError) as e:
        parse_feed(b"<rss><channel>", "http://s.example/x")
    assert e.value.reason == "xml_malformed"
    for bomb in (BOMB, EXTERNAL):
        with pytest.raises(SourceError) as e:
            parse_feed(bomb, "http://s.example/bomb")
        assert e.value.reason == "xml_unsafe"


def test_parse_sitemaps() -> None:
    pages, children = parse_sitemap(sitemap(["http://s.example/1"], news=True), "http://s.example/")
    assert pages == ["http://s.example/1"] and children == []
    pages, children = parse_sitemap(
        sitemap(["http://s.example/sm1.xml"], index=True), "http://s.example/"
    )
    assert pages == [] and children == ["http://s.example/sm1.xml"]
    import gzip

    assert parse_sitemap(gzip.compress(sitemap(["http://s.example/2"])), "http://s.example/")[
        0
    ] == ["http://s.example/2"]


def test_urls_file(tmp_path: Path) -> None:
    p = tmp_path / "u.txt"
    p.write_text(
        "# comment\nhttp://a.example/1\n\nhttps://a.example/2#frag # note\nhttp://a.example/1\n",
        encoding="utf-8",
    )
    assert read_urls_file(p) == ["http://a.example/1", "https://a.example/2#frag"]
    p.write_text("http://a.example/1\nnot a url\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"u\.txt:2: not an http\(s\) URL"):
        read_urls_file(p)
    for bad in ("http://[::1/a", "http://a.example:99999/", "http:///nohost"):
        p.write_text(f"http://a.example/1\n{bad}\n", encoding="utf-8")
        with pytest.raises(SourceError, match=r"u\.txt:2: not an http\(s\) URL"):
            read_urls_file(p)


def write_warc(path: Path, gz: bool) -> None:
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=gz)
        pages = [
            (
                "https://tribune.example/world/mexico-fentanyl-labs",
                "en_fentanyl_labs.html",
                "200 OK",
                "text/html",
            ),
            (
                "https://quotidien.example/x",
                "fr_souverainete.html",
                "200 OK",
                "text/html; charset=utf-8",
            ),
            ("https://s.example/report.pdf", None, "200 OK", "application/pdf"),
            ("https://s.example/gone", None, "404 Not Found", "text/html"),
            ("https://tribune.example/sports/cup", "en_sports_menu.html", "200 OK", "text/html"),
        ]
        for url, fixture, status, ctype in pages:
            body = (FIXTURES / fixture).read_bytes() if fixture else b"%PDF-1.4 synthetic"
            headers = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            rec = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=headers
            )
            writer.write_record(rec)


@pytest.mark.parametrize("gz", [False, True])
def test_warc_source(tmp_path: Path, make_corpus: Callable[..., Path], gz: bool) -> None:
    warc = tmp_path / ("pages.warc.gz" if gz else "pages.warc")
    write_warc(warc, gz)
    root = make_corpus([("archive", "warc", str(warc))])
    cfg = load_config(root)
    summary = gather(cfg)
    arts = load_articles(cfg)
    assert sorted(a.url or "" for a in arts) == [
        "https://quotidien.example/x",
        "https://tribune.example/world/mexico-fentanyl-labs",
    ]
    fr = next(a for a in arts if a.language == "fr")
    assert fr.canonical_url == "https://quotidien.example/ameriques/souverainete-mexique"
    got = {r["url"]: r["reason"] for r in read_jsonl(cfg.rejected_path)}
    assert got == {
        "https://s.example/report.pdf": "not_html",
        "https://s.example/gone": "http_404",
        "https://tribune.example/sports/cup": "off_topic",
    }
    assert summary.new == 2
    # a second run changes nothing
    before = (root / "articles" / "archive.jsonl").read_bytes(), cfg.rejected_path.read_bytes()
    assert gather(cfg).new == 0
    assert before == (
        (root / "articles" / "archive.jsonl").read_bytes(),
        cfg.rejected_path.read_bytes(),
    )


def test_unreadable_sources(tmp_path: Path, make_corpus: Callable[..., Path]) -> None:
    bad = tmp_path / "bad.warc"
    bad.write_bytes(b"this is not a warc file at all\r\n\r\n")
    root = make_corpus([("archive", "warc", str(bad))])
    cfg = load_config(root)
    assert gather(cfg).new == 0  # found broken while reading: recorded, the run goes on
    assert [(r["url"], r["reason"]) for r in read_jsonl(cfg.rejected_path)] == [
        ("../bad.warc", "source_unreadable")  # relative to the corpus folder: no local path
    ]
    # local inputs that are missing or malformed stop the run before anything is written
    listing = tmp_path / "urls.txt"
    listing.write_text("http://a.example/1\nnot a url\n", encoding="utf-8")
    for sources, message in (
        ([("nolist", "urls", str(tmp_path / "none.txt"))], "none.txt not found"),
        ([("badlist", "urls", str(listing))], "urls.txt:2: not an http(s) URL"),
    ):
        root = make_corpus([("archive", "warc", str(bad)), *sources])
        before = snapshot(root)
        with pytest.raises(NewscorpusError, match=re.escape(message)):
            gather(load_config(root))
        assert snapshot(root) == before
