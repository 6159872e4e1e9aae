"""End to end: feeds and sitemaps on a local server -> articles, rejections, clusters, reruns."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from newscorpus.config import load_config
from newscorpus.corpus import load_articles
from newscorpus.gather.pipeline import GatherOptions, gather
from newscorpus.gather.urlnorm import normalize_url
from newscorpus.records import article_id
from newscorpus.store import read_jsonl
from tests.conftest import snapshot
from tests.gather.conftest import LocalServer, atom, rss, sitemap


def serve_news(server: LocalServer) -> dict[str, str]:
    """The fixture articles and a feed listing them (plus a redirect and a tracking-param copy)."""
    u = {
        "en": server.page("/articles/en.html", "en_fentanyl_labs.html", headers={"ETag": '"en1"'}),
        "es": server.page("/articles/es.html", "es_operaciones.html"),
        "fr": server.page("/articles/fr.html", "fr_souverainete.html"),
        "syn": server.page("/articles/en-syn.html", "en_fentanyl_labs_syndicated.html"),
        "sports": server.page(
            "/articles/sports.html", "en_sports_menu.html", headers={"ETag": '"sp1"'}
        ),
        "de": server.page("/articles/de.html", "de_fentanyl.html"),
        "cp": server.page("/articles/cp1252.html", "es_cp1252.html", ctype="text/html"),
    }
    u["redirect"] = server.add(
        "/go/en", status=301, headers={"Location": "/articles/en.html"}, body=b""
    )
    u["tracking"] = server.url("/articles/es.html?utm_source=feed&fbclid=abc")
    links = [u[k] for k in ("en", "es", "fr", "syn", "sports", "de", "cp", "redirect", "tracking")]
    server.add(
        "/feed.rss", body=rss(links), ctype="application/rss+xml", headers={"ETag": '"feed1"'}
    )
    return u


def test_feed_end_to_end(server: LocalServer, make_corpus: Callable[..., Path]) -> None:
    u = serve_news(server)
    root = make_corpus([("wire", "feed", server.url("/feed.rss"))], allow=[server.hostport])
    cfg = load_config(root)
    summary = gather(cfg)

    arts = {a.url: a for a in load_articles(cfg)}
    assert set(arts) == {u["en"], u["es"], u["fr"], u["syn"], u["cp"]}
    en, syn, es = arts[u["en"]], arts[u["syn"]], arts[u["es"]]
    # canonical URL from <link rel=canonical>, normalised (tracking parameter dropped, sorted)
    assert es.canonical_url == "https://diario.example/politica/operaciones-conjuntas?id=7"
    assert es.id == article_id(es.canonical_url)
    assert arts[u["fr"]].canonical_url == "https://quotidien.example/ameriques/souverainete-mexique"
    # near duplicate kept, in the cluster of the first member
    assert syn.dup_cluster == en.id and en.dup_cluster == en.id and es.dup_cluster == es.id
    # languages, topic terms, metadata, synthetic marker
    assert {a.language for a in arts.values()} == {"en", "es", "fr"}
    assert en.topic_terms == ["fentanyl", "Sheinbaum"]
    assert "cártel" in es.topic_terms and "fentanilo" in es.topic_terms
    assert es.authors == ["Ana Pérez"] and es.published == "2026-03-02"
    assert es.site == "Diario Sintético" and es.extractor.startswith("trafilatura ")
    assert all(a.synthetic for a in arts.values())
    # the windows-1252 page decoded (meta charset, no charset in the header)
    cp = arts[u["cp"]]
    assert "soberanía" in cp.title and "«más armas, más violencia»" in cp.text
    assert "Ã" not in cp.text

    rejected = {(r["url"], r["reason"]) for r in read_jsonl(cfg.rejected_path)}
    assert (u["sports"], "off_topic") in rejected  # "Fentanyl" only in the menu
    assert (u["de"], "language") in rejected
    assert (u["redirect"], "duplicate_url") in rejected  # same canonical via a redirect
    assert (u["tracking"], "duplicate_url") in rejected  # same URL with tracking parameters
    assert summary.new == 5 and summary.duplicates == 2 and summary.near_duplicates == 1
    assert summary.rejected["off_topic"] == 1 and summary.rejected["language"] == 1
    for rec in read_jsonl(cfg.rejected_path):
        assert rec["stage"] and rec["source"] == "wire"
    assert server.requested("/robots.txt") == 1  # fetched once per host and run
    agents = {h.get("user-agent") for _, h in server.log}
    assert agents == {"newscorpus-test/0.1 (tests)"}

    # a rerun with nothing new changes no file and fetches no article again
    before = snapshot(root)
    hits = dict(server.hits)
    again = gather(cfg)
    assert again.new == 0 and not again.rejected
    assert snapshot(root) == before
    for path in ("/articles/en.html", "/articles/sports.html", "/articles/de.html", "/go/en"):
        assert server.hits[path] == hits[path], path
    # the feed was revalidated with its ETag
    feed_requests = [h for p, h in server.log if p == "/feed.rss"]
    assert feed_requests[-1].get("if-none-match") == '"feed1"'

    # --refresh revalidates what was rejected (conditional request), and still changes nothing
    gather(cfg, options=GatherOptions(refresh=True))
    sports = [h for p, h in server.log if p == "/articles/sports.html"]
    assert len(sports) == 2 and sports[-1].get("if-none-match") == '"sp1"'
    assert snapshot(root) == before


def test_atom_and_sitemap_index(server: LocalServer, make_corpus: Callable[..., Path]) -> None:
    u = serve_news(server)
    server.add("/atom.xml", body=atom([u["fr"]]), ctype="application/atom+xml")
    server.add("/sitemap-news.xml", body=sitemap([u["es"], u["cp"]], news=True), ctype="text/xml")
    server.add("/sitemap-2.xml", body=sitemap([u["en"]]), ctype="application/xml")
    server.add(
        "/sitemap.xml",
        body=sitemap([server.url("/sitemap-news.xml"), server.url("/sitemap-2.xml")], index=True),
        ctype="application/xml",
    )
    root = make_corpus(
        [
            ("atom", "feed", server.url("/atom.xml")),
            ("maps", "sitemap", server.url("/sitemap.xml")),
        ],
        allow=[server.hostport],
    )
    cfg = load_config(root)
    summary = gather(cfg)
    by_source = {(a.source, a.url) for a in load_articles(cfg)}
    assert by_source == {("atom", u["fr"]), ("maps", u["es"]), ("maps", u["cp"]), ("maps", u["en"])}
    assert (root / "articles" / "atom.jsonl").exists() and (
        root / "articles" / "maps.jsonl"
    ).exists()
    assert summary.new_by_source == {"atom": 1, "maps": 3}
    # --source limits the run; --limit stops after N new articles
    root2 = make_corpus([("maps", "sitemap", server.url("/sitemap.xml"))], allow=[server.hostport])
    cfg2 = load_config(root2)
    assert gather(cfg2, options=GatherOptions(sources=("maps",), limit=2)).new == 2
    assert len(load_articles(cfg2)) == 2
    assert gather(cfg2, options=GatherOptions(sources=("maps",))).new == 1


def test_billion_laughs_and_external_entities_refused(
    server: LocalServer, make_corpus: Callable[..., Path]
) -> None:
    from tests.gather.conftest import BOMB, EXTERNAL

    server.add("/bomb.xml", body=BOMB, ctype="application/rss+xml")
    server.add("/xxe.xml", body=EXTERNAL, ctype="application/rss+xml")
    root = make_corpus(
        [("bomb", "feed", server.url("/bomb.xml")), ("xxe", "feed", server.url("/xxe.xml"))],
        allow=[server.hostport],
    )
    cfg = load_config(root)
    summary = gather(cfg)
    recs = list(read_jsonl(cfg.rejected_path))
    assert {(r["url"], r["stage"], r["reason"]) for r in recs} == {
        (server.url("/bomb.xml"), "source", "xml_unsafe"),
        (server.url("/xxe.xml"), "source", "xml_unsafe"),
    }
    assert summary.new == 0 and not list((root / "articles").glob("*.jsonl"))
    # a rerun records nothing twice
    before = snapshot(root)
    gather(cfg)
    assert snapshot(root) == before


def test_html_dir_gives_file_urls(make_corpus: Callable[..., Path]) -> None:
    fixtures = Path(__file__).parent / "fixtures"
    root = make_corpus([("local", "html_dir", str(fixtures))])
    cfg = load_config(root)
    summary = gather(cfg)
    arts = load_articles(cfg)
    names = sorted(a.url.rsplit("/", 1)[-1] for a in arts if a.url)
    assert names == [
        "en_fentanyl_labs.html",
        "en_fentanyl_labs_syndicated.html",
        "es_cp1252.html",
        "es_operaciones.html",
        "fr_souverainete.html",
    ]
    assert all((a.url or "").startswith("file:///") for a in arts)
    assert summary.rejected == {"off_topic": 1, "language": 1}
    lines = (root / "articles" / "local.jsonl").read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line)["source"] == "local" for line in lines)
    assert normalize_url(arts[0].url or "") == arts[0].url
