"""Red-team regressions: secrets and local paths that got through, names that held a newline,
release targets that were not what they claimed (each test failed before its fix)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config
from newscorpus.errors import ConfigError
from newscorpus.gather.urlnorm import has_credentials, mask_credentials, strip_credentials
from newscorpus.release.publish import parse_version
from tests.conftest import MINIMAL_TOML, write_corpus
from tests.gather.conftest import LocalServer, rss

PASSWORD = "Hunter2redteamPW"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer().start()
    srv.add("/robots.txt", body=b"User-agent: *\n", ctype="text/plain")
    yield srv
    srv.stop()


def everything(root: Path) -> bytes:
    """Every file of the corpus but the raw response cache (a listing's own bytes, kept as sent)."""
    cache = root / ".newscorpus" / "cache"
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and cache not in p.parents]
    return b"".join(p.read_bytes() for p in files)


def _corpus(root: Path, sources: str, allow: str) -> Path:
    toml = MINIMAL_TOML + sources + f'\n[gather]\nallow_hosts = ["{allow}"]\nper_host_delay = 0\n'
    toml += 'retries = 0\ntimeout = 2\nuser_agent = "newscorpus-test/0.1 (tests)"\n'
    return write_corpus(root, toml)


# --- 1. malformed links that still carry user info -------------------------------------------


def _malformed(hostport: str) -> list[str]:
    return [
        f"http:/u:{PASSWORD}@{hostport}/a1",  # one slash
        f"http:\\\\u:{PASSWORD}@{hostport}/a2",  # backslashes, as browsers read them
        f"http://u:{PASSWORD}\uff20{hostport}/a3",  # full-width @ (NFKC folds it to @)
        f"https:///u:{PASSWORD}@{hostport}/a4",  # three slashes
        f"//u:{PASSWORD}@{hostport}/a5",  # scheme-relative
        f"HTTP://u:{PASSWORD}@{hostport}/a6",  # upper-case scheme
    ]


def test_malformed_links_with_user_info_are_not_fetched_nor_recorded(
    tmp_path: Path, cli: Any, server: LocalServer
) -> None:
    links = _malformed(server.hostport)
    lst = server.add("/urls.txt", body="\n".join(links).encode(), ctype="text/plain")
    feed = server.add(
        "/feed.xml",
        body=rss([f"\n  http://u:{PASSWORD}\n@{server.hostport}/a7 \n", *links]),
        ctype="application/rss+xml",
    )
    src = (
        f'\n[[sources]]\nname = "u"\nkind = "urls"\nurl = "{lst}"\n'
        f'\n[[sources]]\nname = "f"\nkind = "feed"\nurl = "{feed}"\n'
    )
    root = _corpus(tmp_path / "corpus", src, server.hostport)
    r = cli("--corpus", root, "gather")
    assert r.exit_code == 0, r.output
    assert PASSWORD not in r.output
    leaks = [line for line in everything(root).splitlines() if PASSWORD.encode() in line]
    assert not leaks, leaks
    assert all(not p.startswith("/a") for p, _ in server.log), server.log
    assert all("authorization" not in h for _, h in server.log)
    rejected = [json.loads(x) for x in (root / "rejected.jsonl").read_text().splitlines()]
    # the list is refused whole (//u:pw@h is no absolute URL); each feed link is refused alone
    assert [x["reason"] for x in rejected if x["source"] == "u"] == ["source_unreadable"]
    feed_reasons = [x["reason"] for x in rejected if x["source"] == "f"]
    assert feed_reasons == ["url_credentials"] * (len(links) + 1)


def test_a_listing_refused_for_a_bad_line_does_not_record_its_user_info(
    tmp_path: Path, cli: Any, server: LocalServer
) -> None:
    body = f"http://u:{PASSWORD}@{server.hostport}/a b\n".encode()  # a space: not a URL list
    lst = server.add("/urls.txt", body=body, ctype="text/plain")
    root = _corpus(
        tmp_path / "corpus",
        f'\n[[sources]]\nname = "u"\nkind = "urls"\nurl = "{lst}"\n',
        server.hostport,
    )
    r = cli("--corpus", root, "gather")
    assert PASSWORD not in r.output
    line = json.loads((root / "rejected.jsonl").read_text())
    assert line["reason"] == "source_unreadable"
    assert PASSWORD not in json.dumps(line) and "not a list of URLs" in line["detail"]


def test_user_info_helpers_agree_on_malformed_urls() -> None:
    for u in _malformed("h"):
        assert has_credentials(u), u
        assert PASSWORD not in strip_credentials(u), u
        assert PASSWORD not in mask_credentials(f"line 2: {u!r}"), u
    for u in ("http://h/x@y", "/x@y", "https://h/a?b=c@d"):
        assert not has_credentials(u) and strip_credentials(u) == u


# --- 3. corpus.toml: errors never echo credentials; no name ends in a newline -----------------


@pytest.mark.parametrize(
    "url",
    [
        f"ftp://user:{PASSWORD}@example.org/list",
        f"http://user:{PASSWORD}\uff20example.org/list",
        f"http:/user:{PASSWORD}@example.org/list",
        f"https://user:{PASSWORD}@example.org:99999/list",
        f"http://user:{PASSWORD}@example.org/" + "a" * 2100,  # too long: its start was shown
    ],
)
def test_a_refused_url_in_corpus_toml_is_never_echoed_with_its_password(
    tmp_path: Path, cli: Any, url: str
) -> None:
    src = f'\n[[sources]]\nname = "a"\nkind = "urls"\nurl = "{url}"\n'
    root = write_corpus(tmp_path / "corpus", MINIMAL_TOML + src)
    r = cli("--corpus", root, "validate")
    assert r.exit_code == 2, r.output
    assert "corpus.toml:" in r.output and "sources.url" in r.output
    assert PASSWORD not in r.output


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('name = "test-corpus"', 'name = "test-corpus\\n"'),
        ('languages = ["es", "fr", "en"]', 'languages = ["es\\n"]'),
        ('id = "us_forces_in_mexico"', 'id = "us_forces\\n"'),
        ("[topic]", '[[sources]]\nname = "abc\\n"\nkind = "urls"\nurl = "http://e.org/l"\n[topic]'),
        ("[topic]", '[gather]\nallow_hosts = ["h\\n"]\n[topic]'),
        ("[topic]", '[release]\nhub = "org/name\\n"\n[topic]'),
        ("[topic]", '[release]\nhub = "org/n\u00e4me"\n[topic]'),
    ],
)
def test_names_with_a_trailing_newline_are_refused(tmp_path: Path, old: str, new: str) -> None:
    root = write_corpus(tmp_path / "corpus", MINIMAL_TOML.replace(old, new, 1))
    with pytest.raises(ConfigError, match=r"corpus\.toml:\d+: "):
        load_config(root)


@pytest.mark.parametrize("version", ["1.0.0\n", "1\u0661.0.0", "v1.0.0\n"])
def test_a_version_with_a_newline_or_other_digits_is_refused(version: str) -> None:
    with pytest.raises(ConfigError, match="not a semantic version"):
        parse_version(version)
