"""Hydrate round trip: a release without hydrate texts, pages served by a local HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
import pytest

from newscorpus.config import GatherSettings, load_config
from newscorpus.corpus import add_annotations, add_articles
from newscorpus.records import Article, article_id, sha256_hex
from newscorpus.release.hydrate import gather_extract, gather_fetch, hydrate_release
from tests.conftest import write_corpus
from tests.release.helpers import TOML, labels_for, make_release


def page(n: int, variant: str = "") -> bytes:
    paras = "".join(
        f"<p>Synthetic paragraph {k} of report {n}{variant}: officials discussed fentanyl "
        f"seizures and cooperation with the cártel task force in a long synthetic sentence.</p>"
        for k in range(4)
    )
    quote = "<p>An official said: \u201cWe need information, not soldiers.\u201d</p>"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Synthetic {n}</title>"
        f"<meta name='synthetic' content='true'></head><body><nav>menu</nav>"
        f"<article><h1>Synthetic report {n}</h1>{paras}{quote}</article>"
        f"<footer>footer</footer></body></html>"
    ).encode()


class Pages:
    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}


@pytest.fixture
def server() -> Iterator[tuple[str, Pages]]:
    pages = Pages()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.pages.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}", pages
    finally:
        httpd.shutdown()
        httpd.server_close()


def hydrate_corpus(root: Path, host: str, pages: Pages, n: int = 6) -> list[Article]:
    write_corpus(root, TOML)
    cfg = load_config(root)
    arts = []
    for i in range(n):
        url = f"http://{host}/a/{i}"
        body = page(i)
        pages.pages[f"/a/{i}"] = body
        text = gather_extract(body, "text/html; charset=utf-8", url)
        arts.append(
            Article(
                id=article_id(url),
                url=url,
                canonical_url=url,
                source="paywalled" if i % 2 else "open",
                site="synthetic",
                title=f"Synthetic {i}",
                text=text,
                language="en",
                sha256=sha256_hex(body),
                extractor="test",
                synthetic=True,
            )
        )
    add_articles(cfg, arts, file="synthetic")
    add_annotations(cfg, labels_for(arts, annotators=2), "pulled")
    return arts


def test_hydrate_round_trip(server: tuple[str, Pages], tmp_path: Path, cli: Any) -> None:
    host, pages = server
    arts = hydrate_corpus(tmp_path / "corpus", host, pages)
    cfg = load_config(tmp_path / "corpus")
    make_release(cfg, version="1.0.0", to=tmp_path / "repo")
    rel = tmp_path / "copy"
    import shutil

    shutil.copytree(tmp_path / "repo", rel, ignore=shutil.ignore_patterns(".git"))
    hidden = [a for a in arts if a.source == "paywalled"]
    pages.pages[f"/a/{arts.index(hidden[1])}"] = page(99, " (edited since)")  # page changed
    del pages.pages[f"/a/{arts.index(hidden[2])}"]  # page gone
    r = cli("hydrate", rel, "--allow-host", host, "--delay", "0")
    assert r.exit_code == 1
    assert "1 texts filled in, 1 did not match their SHA-256, 1 failed" in r.stdout
    assert f"mismatch: {hidden[1].id}" in r.stderr and f"failed: {hidden[2].id}" in r.stderr
    assert not (rel / ".newscorpus-hydrate.lock").exists()  # a plain copy keeps no lock file
    ds = datasets.load_dataset(str(rel), "articles", cache_dir=str(tmp_path / "cache"))
    texts = {row["id"]: row["text"] for split in ds.values() for row in split}
    assert texts[hidden[0].id] == hidden[0].text  # filled, hash checked
    assert texts[hidden[1].id] is None and texts[hidden[2].id] is None  # listed, not guessed
    assert all(texts[a.id] == a.text for a in arts if a.source == "open")
    by_id = {a.id: a for a in arts}
    for p in (rel / "data" / "annotations").glob("*.parquet"):
        for row in pq.read_table(p).to_pylist():
            for s in row["spans"]:
                if row["article_id"] == hidden[0].id or by_id[row["article_id"]].source == "open":
                    assert s["text"] == by_id[row["article_id"]].text[s["start"] : s["end"]]
                else:
                    assert s["text"] is None
    # the page is back as it was: a rerun fills it in and keeps what was filled
    pages.pages[f"/a/{arts.index(hidden[1])}"] = page(arts.index(hidden[1]))
    report = hydrate_release(
        rel,
        fetch=gather_fetch(GatherSettings(allow_hosts=(host,), per_host_delay=0)),
    )
    assert report.filled == (hidden[1].id,) and report.already == 1
    assert [f.id for f in report.failed] == [hidden[2].id]


def test_hydrate_refuses_a_folder_that_is_not_a_release(tmp_path: Path, cli: Any) -> None:
    r = cli("hydrate", tmp_path)
    assert r.exit_code == 1 and "not a newscorpus release" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--delay", "-5"],
            "--delay: must be a number from 0 to 600 (seconds), got -5.0",
        ),
        (["--allow-host", "bad host"], "--allow-host 'bad host': expected HOST or HOST:PORT"),
    ],
)
def test_hydrate_refuses_bad_options(
    tmp_path: Path, cli: Any, args: list[str], message: str
) -> None:
    import pyarrow as pa

    table = tmp_path / "data" / "articles" / "train-00000-of-00001.parquet"
    table.parent.mkdir(parents=True)
    cols = ("id", "url", "text", "text_sha256", "text_policy")
    row = {c: ["x"] for c in cols} | {"text": [None], "text_policy": ["hydrate"]}
    pq.write_table(pa.table(row), table)
    r = cli("hydrate", tmp_path, *args)
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == f"error: {message}"
    assert not (tmp_path / "hydrate.json").exists()
    assert not (tmp_path / ".newscorpus-hydrate.lock").exists()  # checked before the lock


@pytest.mark.parametrize("broken", ["not parquet", "missing columns"])
def test_hydrate_refuses_a_broken_articles_table(tmp_path: Path, cli: Any, broken: str) -> None:
    import pyarrow as pa

    table = tmp_path / "data" / "articles" / "train-00000-of-00001.parquet"
    table.parent.mkdir(parents=True)
    if broken == "not parquet":
        table.write_bytes(b"garbage")
    else:
        pq.write_table(pa.table({"id": ["a"]}), table)
    before = table.read_bytes()
    r = cli("hydrate", tmp_path)
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith(f"error: {table}: not a readable articles table: ")
    assert r.stderr.count("\n") == 1
    assert table.read_bytes() == before and not (tmp_path / "hydrate.json").exists()


def test_hydrate_goes_through_the_host_guard(
    server: tuple[str, Pages], tmp_path: Path, cli: Any
) -> None:
    host, pages = server
    hydrate_corpus(tmp_path / "corpus", host, pages)
    make_release(load_config(tmp_path / "corpus"), version="1.0.0", to=tmp_path / "repo")
    before = {p.name: p.read_bytes() for p in (tmp_path / "repo" / "data" / "articles").iterdir()}
    r = cli("hydrate", tmp_path / "repo", "--delay", "0")  # loopback not allowed
    assert r.exit_code == 1
    assert "0 texts filled in, 0 did not match their SHA-256, 3 failed" in r.stdout
    assert r.stderr.count("failed: ") == 3 and "127.0.0.1" in r.stderr
    after = {p.name: p.read_bytes() for p in (tmp_path / "repo" / "data" / "articles").iterdir()}
    assert after == before
