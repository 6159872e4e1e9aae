"""Red-team regressions: secrets and local paths that got through, names that held a newline,
release targets that were not what they claimed (each test failed before its fix)."""

from __future__ import annotations

import json
import stat
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config
from newscorpus.errors import ConfigError
from newscorpus.release.version import parse_version
from newscorpus.urls import has_credentials, mask_credentials, strip_credentials
from tests.conftest import MINIMAL_TOML, is_lock_file, write_corpus
from tests.gather.conftest import LocalServer, rss
from tests.release.helpers import build_corpus

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


# --- 2. release targets -------------------------------------------------------------------------

GIT = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *GIT, *args], capture_output=True, text=True, check=True
    ).stdout


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Contents and mtime of every file under root, .git/ included (the lock file left out)."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and not is_lock_file(p)
    }


def _release(cli: Any, root: Path, repo: Path, version: str = "1.0.0") -> Any:
    return cli("--corpus", root, "release", "--version", version, "--to", repo)


def _one_line(r: Any, code: int, *needles: str) -> None:
    assert r.exit_code == code, r.output
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)


@pytest.mark.parametrize("inside", ["release", "articles/release", ".newscorpus/release"])
def test_a_to_folder_inside_the_corpus_is_refused_as_in_corpus_toml(
    tmp_path: Path, cli: Any, inside: str
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    before = tree(cfg.root)
    r = _release(cli, cfg.root, cfg.root / inside)
    _one_line(r, 2, "outside the corpus folder")
    assert tree(cfg.root) == before


def test_a_symlink_to_a_folder_inside_the_corpus_is_refused(tmp_path: Path, cli: Any) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    (cfg.root / "out").mkdir()
    (tmp_path / "link").symlink_to(cfg.root / "out")
    before = tree(cfg.root)
    _one_line(_release(cli, cfg.root, tmp_path / "link"), 2, "outside the corpus folder")
    assert tree(cfg.root) == before


def test_a_manifest_that_lies_about_an_unrelated_history_is_refused(
    tmp_path: Path, cli: Any
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "main.py").write_text("print('my work')\n")
    manifest = {"name": "release-test", "version": "0.1.0", "files": {}}
    (repo / "manifest.json").write_text(json.dumps(manifest))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "my project")
    before = tree(repo)
    r = _release(cli, cfg.root, repo)
    _one_line(r, 1, "main.py", "not listed in its manifest", "nothing was changed")
    assert tree(repo) == before
    assert git(repo, "log", "--format=%s") == "my project\n"


def test_hooks_of_the_release_repository_do_not_run(tmp_path: Path, cli: Any) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    repo = tmp_path / "repo"
    assert _release(cli, cfg.root, repo).exit_code == 0
    marker = tmp_path / "hook-ran"
    for name in ("pre-commit", "commit-msg", "post-commit"):
        hook = repo / ".git" / "hooks" / name
        hook.write_text(f"#!/bin/sh\necho $HOME > leak.txt\ngit add leak.txt\ntouch {marker}\n")
        hook.chmod(0o755)
    add_more(cfg)
    r = _release(cli, cfg.root, repo, "1.1.0")
    assert r.exit_code == 0, r.output
    assert not marker.exists()
    assert "leak.txt" not in git(repo, "ls-tree", "-r", "--name-only", "HEAD")


def add_more(cfg: Any) -> None:
    from newscorpus.corpus import add_articles
    from tests.release.helpers import synthetic_articles

    add_articles(cfg, synthetic_articles(100, 2), file="more")


# --- 1. files the release copies unread ---------------------------------------------------------


def _png_with_text(keyword: str, text: str) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00\x00")
    ztxt = keyword.encode("latin-1") + b"\x00\x00" + zlib.compress(text.encode("latin-1"))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"zTXt", ztxt)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "text",
    ["/home/alice/corpus/reports/raw.csv", "hf_" + "Ab1" * 10, f"https://u:{PASSWORD}@h.test/"],
)
def test_text_inside_a_report_png_is_scanned(tmp_path: Path, cli: Any, text: str) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=4)
    cfg.reports_dir.mkdir(exist_ok=True)
    (cfg.reports_dir / "plot.png").write_bytes(_png_with_text("Comment", text))
    r = _release(cli, cfg.root, tmp_path / "repo")
    _one_line(r, 1, "reports/plot.png")
    assert PASSWORD not in r.output
    assert not (tmp_path / "repo").exists()


# --- 4. Label Studio's files stay private, including those it writes later ----------------------


def test_files_label_studio_writes_later_are_private(studio_server: Any) -> None:
    import httpx

    auth = {"Authorization": f"Token {studio_server.token}"}
    with httpx.Client(base_url=studio_server.url, headers=auth, timeout=30) as http:
        project = http.post("/api/projects", json={"title": "redteam modes"}).json()["id"]
        try:
            files = {"file": ("tasks.json", b'[{"text": "an uploaded task"}]', "application/json")}
            r = http.post(f"/api/projects/{project}/import", files=files)
            assert r.status_code == 201, r.text
            r = http.post(f"/api/projects/{project}/exports", json={"title": "e"})
            assert r.status_code == 201, r.text
        finally:
            http.delete(f"/api/projects/{project}")
    studio = Path(studio_server.corpus) / ".newscorpus" / "studio"
    media = studio / "data" / "media"
    assert any((media / "upload").rglob("*.json")), list(media.rglob("*"))
    loose = [
        f"{p.relative_to(studio)} {oct(stat.S_IMODE(p.lstat().st_mode))}"
        for p in [studio, *studio.rglob("*")]
        if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077
    ]
    assert loose == []
    creds = Path(studio_server.corpus) / ".newscorpus" / "studio.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
