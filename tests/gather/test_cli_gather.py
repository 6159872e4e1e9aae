"""`newscorpus gather` through the CLI: options, summary table, one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from newscorpus.config import load_config
from newscorpus.corpus import load_articles
from tests.conftest import snapshot
from tests.gather.conftest import LocalServer, rss


def test_cli_gather(
    server: LocalServer, make_corpus: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    en = server.page("/articles/en.html", "en_fentanyl_labs.html")
    fr = server.page("/articles/fr.html", "fr_souverainete.html")
    sports = server.page("/articles/sports.html", "en_sports_menu.html")
    server.add("/a.rss", body=rss([en, sports]), ctype="application/rss+xml")
    server.add("/b.rss", body=rss([fr]), ctype="application/rss+xml")
    # the server is not in allow_hosts: --allow-host lets it through
    root = make_corpus([("a", "feed", server.url("/a.rss")), ("b", "feed", server.url("/b.rss"))])

    refused = cli("--corpus", root, "gather", "--source", "a")
    assert refused.exit_code == 0
    assert "rejected: host_refused" in refused.output
    assert load_articles(load_config(root)) == []

    res = cli("--corpus", root, "gather", "--source", "a", "--allow-host", server.hostport)
    assert res.exit_code == 0, res.output
    assert "new" in res.output and "rejected: off_topic" in res.output
    assert [a.url for a in load_articles(load_config(root))] == [en]
    assert server.requested("/b.rss") == 0

    res = cli("--corpus", root, "gather", "--allow-host", server.hostport, "--limit", "5")
    assert res.exit_code == 0, res.output
    assert {a.url for a in load_articles(load_config(root))} == {en, fr}


def test_cli_gather_errors(make_corpus: Callable[..., Path], cli: Callable[..., Any]) -> None:
    root = make_corpus([("a", "feed", "http://127.0.0.1:9/feed.rss")])
    before = snapshot(root)
    res = cli("--corpus", root, "gather", "--source", "nope")
    assert res.exit_code == 2 and "no [[sources]] named 'nope'" in res.output
    res = cli("--corpus", root, "gather", "--limit", "0")
    assert (
        res.exit_code == 2
        and "--limit: must be an integer from 1 to 1,000,000,000 (articles), got 0" in res.output
    )
    res = cli("--corpus", root, "gather", "--allow-host", "http://x/y")
    assert res.exit_code == 2 and "expected HOST or HOST:PORT" in res.output
    assert snapshot(root) == before
