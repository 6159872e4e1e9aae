"""Archive sources (issue 14): a warc source as a folder, a glob or a Common Crawl `paths` listing
(local or over HTTP), each WARC file a shard; a shard that fails is one rejection; resume by shard.

Every WARC file is written here with warcio, from synthetic pages (the fixtures, marked synthetic).
"""

from __future__ import annotations

import gzip
import io
import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newscorpus.config import load_config
from newscorpus.gather.pipeline import GatherOptions, gather
from newscorpus.gather.shards import list_shards, marker_path
from newscorpus.store import read_jsonl
from tests.conftest import MINIMAL_TOML, write_corpus
from tests.gather.conftest import FIXTURES, GATHER_TOML, LocalServer
from tests.gather.test_resume import corpus_state, run_cli

TEMPLATES = ("en_fentanyl_labs.html", "es_operaciones.html", "en_sports_menu.html")


def page(shard: int, n: int) -> bytes:
    """A synthetic page, unique per (shard, n): on topic (en, es) or off topic (sports)."""
    html = (FIXTURES / TEMPLATES[n % 3]).read_text(encoding="utf-8")
    return (
        html.replace(
            'rel="canonical" href="', f'rel="canonical" href="https://s.example/{shard}/{n}?x='
        )
        .replace(
            "</div></article>",
            f"<p>Synthetic update {shard}.{n} for the archive test.</p></div></article>",
        )
        .encode("utf-8")
    )


def warc_bytes(shard: int, pages: int = 3, gz: bool = True) -> bytes:
    """A WARC file (warcio): a warcinfo record and ``pages`` HTML responses."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gz)
    writer.write_record(writer.create_warcinfo_record(f"{shard}.warc", {"software": "synthetic"}))
    for n in range(pages):
        url = f"https://archive.example/{shard}/{n}.html"
        headers = StatusAndHeaders(
            "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
        )
        writer.write_record(
            writer.create_warc_record(
                url, "response", payload=io.BytesIO(page(shard, n)), http_headers=headers
            )
        )
    return buf.getvalue()


def warc_corpus(root: Path, source: str, allow: str = "") -> Path:
    toml = MINIMAL_TOML + source
    toml += GATHER_TOML.format(
        allow=f'"{allow}"' if allow else "", max_bytes=300_000, timeout=2.0, retries=0, delay=0.0
    )
    return write_corpus(root, toml)


def urls(root: Path) -> list[str]:
    return [a["url"] for f in sorted((root / "articles").glob("*.jsonl")) for a in read_jsonl(f)]


def rejections(root: Path) -> list[dict[str, str]]:
    path = root / "rejected.jsonl"
    return list(read_jsonl(path)) if path.exists() else []


def markers(root: Path, source: str = "cc") -> list[dict[str, object]]:
    folder = root / ".newscorpus" / "shards" / source
    return sorted(
        (json.loads(p.read_text()) for p in folder.glob("*.json")), key=lambda d: str(d["key"])
    )


def kept(shards: list[int]) -> list[str]:
    """The URLs a run keeps from these shards (3 pages each: the off-topic one is dropped)."""
    return [f"https://archive.example/{s}/{n}.html" for s in shards for n in (0, 1)]


def listing(lines: list[str], gz: bool = True) -> bytes:
    text = "".join(line + "\n" for line in lines).encode()
    return gzip.compress(text) if gz else text


REL = "crawl-data/CC-NEWS/2026/01/CC-NEWS-2026010{}-00000.warc.gz"


# --- path: a folder, a glob ------------------------------------------------------------------------


def test_a_folder_is_one_shard_per_file_and_each_is_marked_with_its_stats(tmp_path: Path) -> None:
    root = warc_corpus(
        tmp_path / "c", '\n[[sources]]\nname = "cc"\nkind = "warc"\npath = "archives"\n'
    )
    (root / "archives").mkdir()
    for s in (1, 2):
        (root / "archives" / f"s{s}.warc.gz").write_bytes(warc_bytes(s))
    (root / "archives" / "notes.txt").write_text("not a warc")
    cfg = load_config(root)
    assert [(s.key, s.where) for s in list_shards(cfg, cfg.source("cc"))] == [
        ("archives/s1.warc.gz", "archives/s1.warc.gz"),
        ("archives/s2.warc.gz", "archives/s2.warc.gz"),
    ]
    result = gather(cfg)
    assert sorted(urls(root)) == kept([1, 2])
    assert result.new == 4
    stats = markers(root)
    assert [(m["key"], m["records"], m["kept"], m["rejected"]) for m in stats] == [
        ("archives/s1.warc.gz", 3, 2, 1),  # read 3 responses, kept 2, the off-topic one rejected
        ("archives/s2.warc.gz", 3, 2, 1),
    ]
    assert str(tmp_path) not in json.dumps(stats)  # no local absolute path in a marker
    # a rerun reads no done shard: the files could be gone and nothing changes
    before = corpus_state(root)
    (root / "archives" / "s1.warc.gz").write_bytes(b"")  # changed size: read again, refused
    (root / "archives" / "s2.warc.gz").unlink()  # gone, but done: never opened
    gather(load_config(root))
    after = corpus_state(root)
    assert after["articles"] == before["articles"]
    assert [r for r in after["rejected"] if r not in before["rejected"]] == [
        ("archives/s1.warc.gz", "source", "source_unreadable")
    ]


def test_a_glob_relative_to_the_corpus_picks_its_files_only(tmp_path: Path) -> None:
    src = '\n[[sources]]\nname = "cc"\nkind = "warc"\npath = "archives/*.warc.gz"\n'
    root = warc_corpus(tmp_path / "c", src)
    (root / "archives").mkdir()
    (root / "archives" / "a.warc.gz").write_bytes(warc_bytes(1))
    (root / "archives" / "b.warc").write_bytes(warc_bytes(2, gz=False))  # not matched
    (root / "archives" / "c.warc.gz").write_bytes(warc_bytes(3))
    gather(load_config(root))
    assert sorted(urls(root)) == kept([1, 3])
    assert [m["key"] for m in markers(root)] == ["archives/a.warc.gz", "archives/c.warc.gz"]


def test_a_folder_without_warc_files_is_one_line_exit_2(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    root = warc_corpus(
        tmp_path / "c", '\n[[sources]]\nname = "cc"\nkind = "warc"\npath = "archives"\n'
    )
    (root / "archives").mkdir()
    (root / "archives" / "notes.txt").write_text("not a warc")
    r = cli("--corpus", str(root), "gather")
    assert r.exit_code == 2, r.output
    assert r.output.strip().endswith("source 'cc': archives holds no *.warc* file")
    assert "\n" not in r.output.strip() and not (root / "rejected.jsonl").exists()


def test_a_glob_that_matches_nothing_is_one_line_exit_2(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    src = '\n[[sources]]\nname = "cc"\nkind = "warc"\npath = "archives/*.warc.gz"\n'
    root = warc_corpus(tmp_path / "c", src)
    r = cli("--corpus", str(root), "gather")
    assert r.exit_code == 2, r.output
    out = r.output.strip()
    assert "\n" not in out and "Traceback" not in out
    assert "source 'cc': archives/*.warc.gz matches no file" in out
    assert not (root / "rejected.jsonl").exists()


# --- paths: a listing, local or over HTTP -----------------------------------------------------------


def test_a_local_paths_listing_with_a_base_folder(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    for s in (1, 2):
        f = mirror / REL.format(s)
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(warc_bytes(s))
    src = (
        '\n[[sources]]\nname = "cc"\nkind = "warc"\npaths = "warc.paths.gz"\n'
        f'base_url = "{mirror}"\n'
    )
    root = warc_corpus(tmp_path / "c", src)
    (root / "warc.paths.gz").write_bytes(listing([REL.format(1), "", REL.format(2), REL.format(1)]))
    gather(load_config(root))
    assert sorted(urls(root)) == kept([1, 2])
    assert [m["key"] for m in markers(root)] == [REL.format(1), REL.format(2)]


@pytest.fixture
def archive_server() -> Iterator[LocalServer]:
    srv = LocalServer().start()
    yield srv
    srv.stop()


def serve_shards(srv: LocalServer, shards: list[int], delay: float = 0.0) -> list[str]:
    rels = []
    for s in shards:
        rel = REL.format(s)
        srv.add(f"/cc/{rel}", body=warc_bytes(s), ctype="application/warc", delay=delay)
        rels.append(rel)
    return rels


def remote_corpus(root: Path, srv: LocalServer, rels: list[str], base: str | None = None) -> Path:
    src = (
        '\n[[sources]]\nname = "cc"\nkind = "warc"\npaths = "warc.paths"\n'
        f'base_url = "{base or srv.url("/cc/")}"\n'
    )
    root = warc_corpus(root, src, allow=srv.hostport)
    (root / "warc.paths").write_bytes(listing(rels, gz=False))
    return root


def test_a_paths_listing_over_http_is_streamed_and_each_shard_fetched_once(
    tmp_path: Path, archive_server: LocalServer
) -> None:
    rels = serve_shards(archive_server, [1, 2, 3])
    root = remote_corpus(tmp_path / "c", archive_server, rels)
    gather(load_config(root))
    assert sorted(urls(root)) == kept([1, 2, 3])
    assert [archive_server.requested(f"/cc/{r}") for r in rels] == [1, 1, 1]
    assert [m["where"] for m in markers(root)] == [archive_server.url(f"/cc/{r}") for r in rels]
    assert not list((root / ".newscorpus" / "tmp").iterdir())  # the downloads are deleted
    gather(load_config(root))  # every shard done: nothing fetched again
    assert [archive_server.requested(f"/cc/{r}") for r in rels] == [1, 1, 1]
    state = corpus_state(root)
    gather(load_config(root), options=GatherOptions(refresh=True))  # --refresh reads them again
    assert [archive_server.requested(f"/cc/{r}") for r in rels] == [2, 2, 2]
    assert corpus_state(root) == state


def test_a_base_url_on_an_unlisted_host_is_refused_as_one_rejection(tmp_path: Path) -> None:
    other = LocalServer("127.0.0.2").start()  # served, but not listed in allow_hosts
    try:
        rels = serve_shards(other, [1, 2])
        src = (
            '\n[[sources]]\nname = "cc"\nkind = "warc"\npaths = "warc.paths"\n'
            f'base_url = "{other.url("/cc/")}"\n'
            '\n[[sources]]\nname = "local"\nkind = "warc"\npath = "a.warc.gz"\n'
        )
        root = warc_corpus(tmp_path / "c", src, allow="127.0.0.1")
        (root / "warc.paths").write_bytes(listing(rels[:1], gz=False))
        (root / "a.warc.gz").write_bytes(warc_bytes(5))
        gather(load_config(root))
        assert other.log == []  # never connected to
        refused = [r for r in rejections(root) if r["reason"] == "host_refused"]
        assert [(r["url"], r["stage"], r["source"]) for r in refused] == [
            (other.url(f"/cc/{rels[0]}"), "source", "cc")
        ]
        assert sorted(urls(root)) == kept([5])  # the other source goes on
        assert markers(root) == []  # not done: a rerun (with the host allowed) tries it again
        gather(load_config(root))
        assert len([r for r in rejections(root) if r["reason"] == "host_refused"]) == 1
    finally:
        other.stop()


# --- a shard that fails ----------------------------------------------------------------------------


def test_a_truncated_shard_among_good_ones_is_one_rejection_and_is_retried(
    tmp_path: Path, archive_server: LocalServer
) -> None:
    rels = serve_shards(archive_server, [1, 2, 3])
    cut = warc_bytes(2)
    archive_server.add(f"/cc/{rels[1]}", body=cut[: len(cut) * 2 // 3], ctype="application/warc")
    root = remote_corpus(tmp_path / "c", archive_server, rels)
    gather(load_config(root))
    failed = [r for r in rejections(root) if r["reason"] == "warc_truncated"]
    assert len(failed) == 1
    assert archive_server.url(f"/cc/{rels[1]}") in failed[0]["detail"]
    kept_urls = urls(root)
    assert set(kept([1, 3])) <= set(kept_urls)  # the good shards, and the complete records of 2
    assert set(kept_urls) <= set(kept([1, 2, 3]))
    assert [m["key"] for m in markers(root)] == [rels[0], rels[2]]
    # a rerun tries the failed shard again (and only it), and does not record its failure twice
    gather(load_config(root))
    assert [archive_server.requested(f"/cc/{r}") for r in rels] == [1, 2, 1]
    assert len([r for r in rejections(root) if r["reason"] == "warc_truncated"]) == 1
    # mended: read to its end and marked
    archive_server.add(f"/cc/{rels[1]}", body=cut, ctype="application/warc")
    gather(load_config(root))
    assert sorted(urls(root)) == kept([1, 2, 3])
    assert [m["key"] for m in markers(root)] == rels


def test_a_response_cut_before_its_content_length_is_warc_truncated(
    tmp_path: Path, archive_server: LocalServer
) -> None:
    rels = serve_shards(archive_server, [1, 2])
    body = warc_bytes(2)
    # the server promises the whole file and closes early
    archive_server.add(
        f"/cc/{rels[1]}",
        body=body[:1000],
        ctype="application/warc",
        headers={"Content-Length": str(len(body))},
    )
    root = remote_corpus(tmp_path / "c", archive_server, rels)
    gather(load_config(root))
    failed = [r for r in rejections(root) if r["reason"] == "warc_truncated"]
    assert [r["url"] for r in failed] == [archive_server.url(f"/cc/{rels[1]}")]
    assert sorted(urls(root)) == kept([1])


# --- resume by shard -------------------------------------------------------------------------------


def test_a_run_killed_after_its_first_shard_resumes_without_reading_it_again(
    tmp_path: Path, archive_server: LocalServer, run_marker: str
) -> None:
    rels = serve_shards(archive_server, [1, 2, 3])
    whole = remote_corpus(tmp_path / "whole", archive_server, rels)
    gather(load_config(whole))  # the corpus of one uninterrupted run
    expected = corpus_state(whole)
    archive_server.hits.clear()
    for rel in rels[1:]:  # the later shards are slow: the run is killed while it waits
        archive_server.routes[f"/cc/{rel}"].delay = 3.0
    root = remote_corpus(tmp_path / "killed", archive_server, rels)
    first = marker_path(
        load_config(root), list_shards(load_config(root), load_config(root).source("cc"))[0]
    )
    proc = run_cli(root, run_marker)
    try:
        deadline = time.monotonic() + 60
        while not first.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            assert time.monotonic() < deadline, "shard 1 never done"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [m["key"] for m in markers(root)] == rels[:1]
    tmp = root / ".newscorpus" / "tmp"
    left = [p.name for p in tmp.iterdir()]  # shards 2 and 3, half read (side by side)
    assert left and all(name.startswith("shard.") for name in left)
    for rel in rels[1:]:
        archive_server.routes[f"/cc/{rel}"].delay = 0.0
    gather(load_config(root))
    assert archive_server.requested(f"/cc/{rels[0]}") == 1  # shard 1: read by the killed run only
    assert corpus_state(root) == expected
    assert [m["key"] for m in markers(root)] == rels
    assert list(tmp.iterdir()) == []  # the killed run's download is gone


# --- bad configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        (
            'kind = "warc"\npath = "a.warc"\npaths = "warc.paths"\nbase_url = "m"\n',
            "sources[1]",
            "give exactly one of 'path' or 'paths'",
        ),
        (
            'kind = "warc"\npath = "a.warc"\nbase_url = "m"\n',
            "base_url",
            "'base_url' goes with 'paths' only",
        ),
        ('kind = "warc"\npaths = "warc.paths"\n', "paths", "'paths' needs 'base_url'"),
        ('kind = "warc"\nurl = "https://a.example/x.warc"\n', "url", "not 'url'"),
        (
            'kind = "feed"\nurl = "https://a.example/f"\npaths = "p"\n',
            "paths",
            "only a warc source",
        ),
        (
            'kind = "warc"\npaths = "warc.paths"\nbase_url = "https://u:pw@a.example/"\n',
            "base_url",
            "must not carry a user name or password",
        ),
        (
            'kind = "warc"\npaths = "warc.paths"\nbase_url = "ftp://a.example/"\n',
            "base_url",
            "not an http(s) URL",
        ),
    ],
)
def test_bad_warc_keys_are_one_line_exit_2(
    cli: Callable[..., Any], tmp_path: Path, source: str, line: str, message: str
) -> None:
    toml = MINIMAL_TOML + '\n[[sources]]\nname = "ok"\nkind = "feed"\nurl = "https://a.example/f"\n'
    toml += f'\n[[sources]]\nname = "cc"\n{source}'
    root = write_corpus(tmp_path / "c", toml)
    r = cli("--corpus", str(root), "gather")
    out = r.output.strip()
    assert r.exit_code == 2, out
    assert "\n" not in out and "Traceback" not in out and "pw" not in out
    assert message in out and "corpus.toml:" in out
    assert f"sources[1].{line}" in out if line != "sources[1]" else "sources[1]:" in out
    assert not (root / "rejected.jsonl").exists()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("../outside.warc.gz", "climbs out of base_url"),
        ("crawl/../../x.warc.gz", "climbs out of base_url"),
        ("/etc/x.warc.gz", "is absolute"),
        ("https://b.example/x.warc.gz", "is a URL"),
    ],
)
def test_a_listing_line_that_is_not_a_plain_relative_path_is_named(
    cli: Callable[..., Any], tmp_path: Path, bad: str, message: str
) -> None:
    src = (
        '\n[[sources]]\nname = "cc"\nkind = "warc"\npaths = "warc.paths.gz"\nbase_url = "mirror"\n'
    )
    root = warc_corpus(tmp_path / "c", src)
    (root / "warc.paths.gz").write_bytes(listing([REL.format(1), bad]))
    r = cli("--corpus", str(root), "gather")
    out = r.output.strip()
    assert r.exit_code == 2, out
    assert "\n" not in out and "Traceback" not in out
    assert "warc.paths.gz:2:" in out and message in out
    assert not (root / "rejected.jsonl").exists()


def test_a_remote_shard_over_max_archive_bytes_or_missing_is_one_rejection_each(
    tmp_path: Path, archive_server: LocalServer
) -> None:
    rels = serve_shards(archive_server, [1, 2, 3, 4])
    archive_server.add(f"/cc/{rels[1]}", body=b"x" * 50_000, ctype="application/warc")
    archive_server.add(f"/cc/{rels[2]}", stream=200_000, ctype="application/warc")  # no length
    del archive_server.routes[f"/cc/{rels[3]}"]  # 404
    root = remote_corpus(tmp_path / "c", archive_server, rels)
    toml = (root / "corpus.toml").read_text() + "max_archive_bytes = 40000\n"  # [gather] is last
    (root / "corpus.toml").write_text(toml)
    gather(load_config(root))
    failed = sorted(
        (r["url"], r["reason"], r["detail"]) for r in rejections(root) if r["stage"] == "source"
    )
    url = archive_server.url
    assert failed == [
        (url(f"/cc/{rels[1]}"), "too_large", "Content-Length 50000 > 40000"),
        (url(f"/cc/{rels[2]}"), "too_large", "more than 40000 bytes"),
        (url(f"/cc/{rels[3]}"), "source_unreadable", "HTTP 404"),
    ]
    assert sorted(urls(root)) == kept([1])
    assert [m["key"] for m in markers(root)] == rels[:1]
    assert list((root / ".newscorpus" / "tmp").iterdir()) == []


def test_a_busy_server_is_tried_again_up_to_retries(
    tmp_path: Path, archive_server: LocalServer
) -> None:
    rels = serve_shards(archive_server, [1, 2])
    archive_server.routes[f"/cc/{rels[0]}"].fail_first = 1  # one 500, then the file
    archive_server.routes[f"/cc/{rels[1]}"].fail_first = 5  # busy for longer than the retries
    root = remote_corpus(tmp_path / "c", archive_server, rels)
    toml = (root / "corpus.toml").read_text().replace("retries = 0", "retries = 1")
    (root / "corpus.toml").write_text(toml)
    gather(load_config(root))
    assert [archive_server.requested(f"/cc/{r}") for r in rels] == [2, 2]
    assert sorted(urls(root)) == kept([1])
    failed = [
        (r["url"], r["reason"], r["detail"]) for r in rejections(root) if r["stage"] == "source"
    ]
    assert failed == [(archive_server.url(f"/cc/{rels[1]}"), "source_unreadable", "HTTP 500")]
    assert [m["key"] for m in markers(root)] == rels[:1]
