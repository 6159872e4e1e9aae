"""Red team of the per-shard gather path (issue 14): the promises of gather/shardwork.py and
pipeline._gather_shards attacked one by one (same corpus whatever the executor, the finishing
order or the interruptions; never a record twice; a failing shard is one rejection; prefilter
on/off give the same articles; what a worker returns; no local path or secret in stats; counts
that add up). A test marked xfail(strict) is a break found and not fixed here (see its reason).

Every page here is synthetic (written below, marked synthetic), every WARC file written here.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newscorpus.config import Config, load_config, replace_gather
from newscorpus.gather import pipeline
from newscorpus.gather.pipeline import GatherOptions, GatherResult, gather
from newscorpus.gather.shards import list_shards
from newscorpus.gather.shardwork import ShardTask, work_shard
from newscorpus.store import read_jsonl
from tests.gather.test_archive import markers, rejections, urls, warc_corpus
from tests.gather.test_executors import CLOCK, corpus_files
from tests.gather.test_prefilter_runs import OFF, synthetic, write_warc
from tests.gather.test_processes import left_after, start

Record = tuple[str, bytes, str]
HTML = "text/html; charset=utf-8"
FOLDER = '\n[[sources]]\nname = "cc"\nkind = "warc"\npath = "archives"\n'


def on(n: int, words: str = "El cártel negó los cargos.") -> Record:
    return (f"https://red.example/on/{n}", synthetic(n, words), HTML)


def off(n: int) -> Record:
    return (f"https://red.example/off/{n}", synthetic(1000 + n, OFF[n % 2]), HTML)


_WRITTEN: dict[str, dict[str, bytes]] = {}


def archive(root: Path, shards: dict[str, list[Record]]) -> Path:
    """A corpus whose archives/ holds these shards; the same shards give the same bytes (WARC
    record ids and dates are drawn when written: two corpora compared get the same files)."""
    root = warc_corpus(root, FOLDER)
    (root / "archives").mkdir(exist_ok=True)
    key = repr(shards)
    if key not in _WRITTEN:
        for name, recs in shards.items():
            write_warc(root / "archives" / name, recs)
        _WRITTEN[key] = {n: (root / "archives" / n).read_bytes() for n in shards}
    for name, data in _WRITTEN[key].items():
        (root / "archives" / name).write_bytes(data)
    return root


def cfg_of(root: Path, **gather_settings: Any) -> Config:
    return replace_gather(load_config(root), **gather_settings)


def article_files(root: Path) -> dict[str, Any]:
    """The articles files, record by record (clock aside)."""
    return {
        k: v
        for k, v in corpus_files(root).items()
        if k.endswith(".jsonl") and "/" not in k and k != "rejected.jsonl"
    }


def stats_file(root: Path) -> dict[str, Any]:
    data = json.loads((root / ".newscorpus" / "stats" / "cc.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if k not in CLOCK}


def refusals(result: GatherResult) -> int:
    """Records refused before extraction (while read: too large, credentials, not a 200 page)."""
    return sum(
        n
        for reason, n in result.rejected.items()
        if reason in ("too_large", "url_credentials", "not_html") or reason.startswith("http_")
    )


# --- (1) one corpus whatever the executor and the finishing order -------------------------------


def test_redteam_shards_finishing_out_of_order_give_the_serial_corpus(tmp_path: Path) -> None:
    """Shard a is slow (40 pages), b fast: with 2 workers b finishes first. Same URL in a and b,
    the same URL twice in b, a near copy of a page of a in b: the serial corpus, byte for byte."""
    base = [on(n) for n in range(6)] + [off(n) for n in range(34)]
    near = (f"https://red.example/near/{3}", synthetic(3, "El cártel negó los cargos, dijo."), HTML)
    shards = {
        "a.warc.gz": base,
        "b.warc.gz": [on(1), on(50), on(50), near, off(99)],
        "c.warc.gz": [on(60), on(2)],
    }
    serial = archive(tmp_path / "serial", shards)
    local = archive(tmp_path / "local", shards)
    r_serial = gather(cfg_of(serial, executor="serial"))
    r_local = gather(cfg_of(local, executor="local", workers=2))
    assert corpus_files(serial) == corpus_files(local)
    assert stats_file(serial) == stats_file(local)
    assert r_serial.new == r_local.new == 9  # on/0-5, on/50, near/3, on/60
    assert len(urls(serial)) == len(set(urls(serial))) == 9
    arts = {a["url"]: a for a in read_jsonl(serial / "articles" / "cc.jsonl")}
    near_copy = arts["https://red.example/near/3"]
    assert near_copy["dup_cluster"] != near_copy["id"]  # a near copy of an earlier article


# --- (2) never a record twice; (1) a stopped run resumed is one uninterrupted run ------------------


def shards_for_resume() -> dict[str, list[Record]]:
    return {
        "a.warc.gz": [on(0), off(0), on(1), on(2), off(1)],
        "b.warc.gz": [on(3), on(0), off(2), on(4)],
    }


def test_redteam_limit_mid_shard_then_rerun_gives_the_corpus_of_one_run(tmp_path: Path) -> None:
    once = archive(tmp_path / "once", shards_for_resume())
    gather(load_config(once))
    twice = archive(tmp_path / "twice", shards_for_resume())
    first = gather(load_config(twice), options=GatherOptions(limit=2))  # stops inside shard a
    assert first.new == 2 and markers(twice) == []
    gather(load_config(twice))
    assert len(urls(twice)) == len(set(urls(twice)))
    assert article_files(twice) == article_files(once)


def test_redteam_markers_and_stats_after_a_stop_mid_shard_are_those_of_one_run(
    tmp_path: Path,
) -> None:
    """A shard stopped part-way (--limit here; a kill between two flushes is the same) and read
    again: its marker counts its records in the corpus as one uninterrupted run's does."""
    once = archive(tmp_path / "once", shards_for_resume())
    gather(load_config(once))
    twice = archive(tmp_path / "twice", shards_for_resume())
    gather(load_config(twice), options=GatherOptions(limit=2))
    gather(load_config(twice))
    assert corpus_files(twice) == corpus_files(once)
    assert stats_file(twice) == stats_file(once)


def test_redteam_a_limit_reached_on_a_shards_last_record_marks_it(tmp_path: Path) -> None:
    shards = {"a.warc.gz": [on(0), off(0), on(1), on(2)], "b.warc.gz": [on(3)]}
    root = archive(tmp_path / "d", shards)
    result = gather(load_config(root), options=GatherOptions(limit=3))
    assert result.new == 3
    assert [m["key"] for m in markers(root)] == ["archives/a.warc.gz"]


def test_redteam_stats_written_after_a_kill_between_marker_and_stats(tmp_path: Path) -> None:
    once = archive(tmp_path / "once", shards_for_resume())
    gather(load_config(once))
    killed = archive(tmp_path / "killed", shards_for_resume())
    gather(load_config(killed))
    stats = killed / ".newscorpus" / "stats" / "cc.json"
    data = json.loads(stats.read_text(encoding="utf-8"))
    stale = {**data, "shards_done": 1, "records": 5, "kept": 3}  # as after shard a's stats only
    stats.write_text(json.dumps(stale), encoding="utf-8")
    gather(load_config(killed))
    assert stats_file(killed) == stats_file(once)


def test_redteam_refresh_rerun_writes_nothing_twice_and_keeps_the_stats(tmp_path: Path) -> None:
    root = archive(tmp_path / "c", shards_for_resume())
    gather(load_config(root))
    before, stats = corpus_files(root), stats_file(root)
    again = gather(load_config(root), options=GatherOptions(refresh=True))
    assert again.new == 0 and again.shards == 2
    assert corpus_files(root) == before
    assert stats_file(root) == stats


# --- (4) prefilter on and off: the same articles -----------------------------------------------


def test_redteam_prefilter_on_off_same_articles_when_a_url_comes_back_on_topic(
    tmp_path: Path,
) -> None:
    """A page re-crawled: off topic in shard a, on topic (same URL) in shard b. Without the
    prefilter a's record is rejected off_topic for good; with it, a's record is only counted."""
    url = "https://red.example/updated"
    shards = {
        "a.warc.gz": [(url, synthetic(7, OFF[0]), HTML), on(1)],
        "b.warc.gz": [(url, synthetic(8, "El cártel negó los cargos."), HTML), on(2)],
    }
    with_pf, without = archive(tmp_path / "on", shards), archive(tmp_path / "off", shards)
    gather(cfg_of(with_pf, prefilter=True))
    gather(cfg_of(without, prefilter=False))
    assert article_files(with_pf) == article_files(without)


def test_redteam_prefilter_keeps_a_page_with_doubly_escaped_entities(tmp_path: Path) -> None:
    shards = {
        "a.warc.gz": [
            ("https://red.example/amp/1", synthetic(1, "La ruta del fentan&amp;iacute;lo."), HTML),
            ("https://red.example/amp/2", synthetic(2, "El c&amp;aacute;rtel negó."), HTML),
            on(3),
        ]
    }
    with_pf, without = archive(tmp_path / "on", shards), archive(tmp_path / "off", shards)
    gather(cfg_of(with_pf, prefilter=True))
    gather(cfg_of(without, prefilter=False))
    assert len(urls(without)) == 3  # trafilatura's text holds fentanílo / cártel
    assert article_files(with_pf) == article_files(without)


# --- (3) a failing shard: one rejection naming it, not marked, the others kept --------------------


def one_record_warc(url: str, body: bytes, *, gz: bool = True, length: int | None = None) -> bytes:
    """A WARC with one response record; ``length`` overrides the record's Content-Length."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    headers = StatusAndHeaders("200 OK", [("Content-Type", HTML)], protocol="HTTP/1.1")
    rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers)
    writer.write_record(rec)
    raw = buf.getvalue()
    if length is not None:
        head, rest = raw.split(b"\r\n\r\n", 1)
        lines = [
            f"Content-Length: {length}".encode() if h.lower().startswith(b"content-length") else h
            for h in head.split(b"\r\n")
        ]
        raw = b"\r\n".join(lines) + b"\r\n\r\n" + rest
    return gzip.compress(raw) if gz else raw


def test_redteam_each_failing_shard_is_one_rejection_naming_it(tmp_path: Path) -> None:
    root = archive(tmp_path / "c", {"good.warc.gz": [on(1), on(2)]})
    folder = root / "archives"
    whole = (folder / "good.warc.gz").read_bytes()
    (folder / "cut.warc.gz").write_bytes(whole[: len(whole) - 40])
    (folder / "notwarc.warc.gz").write_bytes(gzip.compress(b"<html>not a warc</html>"))
    (folder / "empty.warc").write_bytes(b"")
    (folder / "empty-gzip.warc.gz").write_bytes(gzip.compress(b""))
    body = synthetic(9, "El cártel negó.")
    (folder / "long.warc").write_bytes(
        one_record_warc("https://red.example/long", body, gz=False, length=len(body) + 5000)
    )
    failing = [
        "archives/cut.warc.gz",
        "archives/empty-gzip.warc.gz",
        "archives/empty.warc",
        "archives/long.warc",
        "archives/notwarc.warc.gz",
    ]
    result = gather(load_config(root))
    assert sorted(urls(root)) == ["https://red.example/on/1", "https://red.example/on/2"]
    assert [m["key"] for m in markers(root)] == ["archives/good.warc.gz"]
    shard_rejections = [r for r in rejections(root) if r["stage"] == "source"]
    named = sorted(
        next(f for f in failing if f in (r.get("detail") or "") + r["url"])
        for r in shard_rejections
    )
    assert named == failing, shard_rejections  # exactly one each
    assert (result.shards, result.shards_total) == (1, 6)
    # a rerun retries the failed shards and writes none of their rejections twice
    before = rejections(root)
    gather(load_config(root))
    assert rejections(root) == before


@pytest.mark.parametrize("gz", [False, True])
def test_redteam_a_record_whose_content_length_is_too_small(tmp_path: Path, gz: bool) -> None:
    root = archive(tmp_path / "c", {"good.warc.gz": [on(1)]})
    body = synthetic(9, "El cártel negó.")
    name = "short.warc.gz" if gz else "short.warc"
    short = one_record_warc("https://red.example/short", body, gz=gz, length=len(body) - 200)
    (root / "archives" / name).write_bytes(short)
    gather(load_config(root))
    assert urls(root) == ["https://red.example/on/1"]  # never the cut page
    assert [m["key"] for m in markers(root)] == ["archives/good.warc.gz"]
    assert len(rejections(root)) == 1 and f"archives/{name}" in str(rejections(root)[0])


def test_redteam_a_zero_record_warc_and_a_huge_record(tmp_path: Path) -> None:
    """A WARC holding only its warcinfo record is read to its end: marked, 0 records. A record
    over max_bytes is one too_large rejection naming its URL; its shard is done."""
    root = archive(tmp_path / "c", {"good.warc.gz": [on(1)]})
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    w.write_record(w.create_warcinfo_record("info.warc.gz", {"software": "synthetic"}))
    (root / "archives" / "info.warc.gz").write_bytes(buf.getvalue())
    huge = synthetic(5, "El cártel negó. " + "relleno " * 50_000)  # > 300,000 bytes
    write_warc(
        root / "archives" / "huge.warc.gz", [("https://red.example/huge", huge, HTML), on(2)]
    )
    result = gather(load_config(root))
    assert sorted(urls(root)) == ["https://red.example/on/1", "https://red.example/on/2"]
    done = {m["key"]: m for m in markers(root)}
    assert sorted(done) == [
        "archives/good.warc.gz",
        "archives/huge.warc.gz",
        "archives/info.warc.gz",
    ]
    assert done["archives/info.warc.gz"]["records"] == 0
    assert [(r["url"], r["reason"]) for r in rejections(root)] == [
        ("https://red.example/huge", "too_large")
    ]
    assert result.rejected == {"too_large": 1}


def test_redteam_a_shard_that_vanishes_after_listing(tmp_path: Path) -> None:
    root = archive(tmp_path / "c", {"a.warc.gz": [on(1)]})
    cfg = load_config(root)
    shard = list_shards(cfg, cfg.source("cc"))[0]
    (root / "archives" / "a.warc.gz").unlink()
    out = work_shard(ShardTask(cfg, shard))
    assert out.failure is not None and out.works == ()
    assert out.failure.reason == "source_unreadable"
    assert "archives/a.warc.gz" in out.failure.detail and str(tmp_path) not in out.failure.detail


# --- (5) what a worker gives back; (6) no local path or secret in stats -------------------------


def test_redteam_worker_output_does_not_grow_with_the_off_topic_part(tmp_path: Path) -> None:
    sizes = []
    for n_off in (20, 400):
        root = warc_corpus(tmp_path / f"c{n_off}", FOLDER.replace("archives", "a.warc.gz"))
        write_warc(root / "a.warc.gz", [on(1), *(off(n) for n in range(n_off)), on(2)])
        cfg = load_config(root)
        out = work_shard(ShardTask(cfg, list_shards(cfg, cfg.source("cc"))[0]))
        assert out.counts.prefiltered == n_off and len(out.works) == 2
        sizes.append(len(pickle.dumps(out.works)))
    assert abs(sizes[1] - sizes[0]) < 200, sizes


def test_redteam_no_secret_or_local_path_in_markers_stats_or_rejections(tmp_path: Path) -> None:
    secret = "s3cr3tpw"
    bad = f"https://user:{secret}@red.example/private"
    body = synthetic(4, "El cártel negó.")
    root = archive(tmp_path / "c", {"a.warc.gz": [(bad, body, HTML), on(1)]})
    cut = one_record_warc(f"https://u:{secret}@red.example/cut", body)
    (root / "archives" / "b.warc.gz").write_bytes(cut[:-30])
    gather(load_config(root))
    state = root / ".newscorpus"
    texts = [p.read_text(encoding="utf-8") for p in state.rglob("*.json")]
    texts.append((root / "rejected.jsonl").read_text(encoding="utf-8"))
    assert len(texts) >= 3
    for text in texts:
        assert secret not in text and str(tmp_path) not in text and str(root) not in text


# --- (7) the summary adds up ------------------------------------------------------------------------


def test_redteam_summary_adds_up_with_urls_repeated_in_and_across_shards(tmp_path: Path) -> None:
    """records = prefiltered + extracted + refusals, in the run's result, the stats file and
    each marker, when a URL repeats inside a shard and across shards."""
    huge = synthetic(5, "El cártel negó. " + "relleno " * 50_000)
    root = archive(
        tmp_path / "c",
        {
            "a.warc.gz": [on(1), on(1), off(0), ("https://red.example/huge", huge, HTML)],
            "b.warc.gz": [on(1), on(2), off(1)],
        },
    )
    result = gather(load_config(root))
    assert result.records == 7 and result.new == 2
    assert result.records == result.prefiltered + result.extracted + refusals(result)
    stats = stats_file(root)
    assert stats["records"] == stats["prefiltered"] + stats["extracted"] + 1
    assert stats["extracted"] == result.extracted


def whole_file_gzip_warc(records: list[Record]) -> bytes:
    """A WARC gzipped as one member (``gzip file.warc``), not one member a record."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    for url, body, ctype in records:
        headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
        rec = writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=headers
        )
        writer.write_record(rec)
    return gzip.compress(buf.getvalue())


def test_redteam_a_whole_file_gzip_warc_is_one_rejection_not_a_crash(tmp_path: Path) -> None:
    """warc.py seeks to a negative offset on it (OSError out of the reader): the shard is one
    rejection naming it, the other shards kept, the run goes on."""
    root = archive(tmp_path / "c", {"good.warc.gz": [on(1)]})
    (root / "archives" / "whole.warc.gz").write_bytes(whole_file_gzip_warc([on(2), on(3), on(4)]))
    result = gather(load_config(root))
    assert "https://red.example/on/1" in urls(root)
    assert [m["key"] for m in markers(root)] == ["archives/good.warc.gz"]
    shard_rejections = [r for r in rejections(root) if r["stage"] == "source"]
    assert len(shard_rejections) == 1
    assert "archives/whole.warc.gz" in shard_rejections[0]["detail"]
    assert str(tmp_path) not in json.dumps(rejections(root))
    assert result.shards_total == 2 and result.shards == 1


def test_redteam_a_whole_file_gzip_warc_is_refused_with_the_way_to_fix_it(tmp_path: Path) -> None:
    """warcio reads a gzip member a record (as the WARC spec advises): a file gzipped whole gives
    its first record, then one rejection saying so and how to recompress it."""
    root = archive(tmp_path / "c", {"good.warc.gz": [on(1)]})
    (root / "archives" / "whole.warc.gz").write_bytes(whole_file_gzip_warc([on(2), on(3), on(4)]))
    gather(load_config(root))
    assert sorted(urls(root)) == [f"https://red.example/on/{n}" for n in (1, 2)]
    (rej,) = [r for r in rejections(root) if r["stage"] == "source"]
    assert "gzipped as one whole file" in rej["detail"] and "warcio recompress" in rej["detail"]


def test_redteam_records_appended_while_a_shard_is_read_are_read_by_the_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = archive(tmp_path / "c", {"a.warc.gz": [on(1), on(2)]})
    shard_file = root / "archives" / "a.warc.gz"
    more = io.BytesIO()
    write_warc(tmp_path / "more.warc.gz", [on(3)])
    more.write((tmp_path / "more.warc.gz").read_bytes())
    real = pipeline.work_shards

    def read_then_grow(tasks: list[ShardTask]) -> list[Any]:
        outs = real(tasks)
        with shard_file.open("ab") as fh:  # a crawler appends a record after the worker read
            fh.write(more.getvalue())
        return outs

    monkeypatch.setattr(pipeline, "work_shards", read_then_grow)
    gather(cfg_of(root, executor="serial"))
    monkeypatch.setattr(pipeline, "work_shards", real)
    gather(cfg_of(root, executor="serial"))
    assert sorted(urls(root)) == [f"https://red.example/on/{n}" for n in (1, 2, 3)]


@pytest.mark.parametrize(
    ("sig", "whole_group", "code"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143), (signal.SIGKILL, False, -9)],
    ids=["ctrl-c", "sigterm", "sigkill"],
)
def test_redteam_a_local_archive_run_stopped_mid_shard_then_rerun_is_one_run(
    tmp_path: Path, run_marker: str, cli: Any, sig: signal.Signals, whole_group: bool, code: int
) -> None:
    """Stopped after its first shard is marked (Ctrl-C: SIGINT to the group, the driver and its
    2 workers mid-shard; SIGTERM or SIGKILL of the driver): the exit code, one line (not for
    SIGKILL), no worker left; the rerun gives the corpus, markers and stats of one run."""
    shards = {
        f"s{s:02d}.warc.gz": [on(100 * s + n) for n in range(18)] + [off(100 * s)]
        for s in range(10)
    }
    once = archive(tmp_path / "once", shards)
    gather(cfg_of(once, executor="serial"))
    root = archive(tmp_path / "stopped", shards)
    proc = start(root, run_marker)
    try:
        folder = root / ".newscorpus" / "shards" / "cc"
        deadline = time.monotonic() + 120
        while not (folder.is_dir() and any(folder.glob("*.json"))):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            assert time.monotonic() < deadline, "no shard ever done"
            time.sleep(0.02)
        if whole_group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        assert proc.wait(timeout=30) == code
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in stderr, stderr
    assert sig == signal.SIGKILL or "run the command again to resume" in stderr, stderr
    assert left_after(run_marker, 5.0) == []
    assert 0 < len(markers(root)) < len(shards)  # stopped mid-run
    assert cli("--corpus", str(root), "validate").exit_code == 0
    rerun = start(root, run_marker)
    assert rerun.wait(timeout=180) == 0, rerun.stderr.read() if rerun.stderr else b""
    assert corpus_files(root) == corpus_files(once)
    assert stats_file(root) == stats_file(once)
