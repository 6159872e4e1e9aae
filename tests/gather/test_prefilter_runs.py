"""The prefilter in a real gather run (issue 14): on and off give the same corpus; on archive
shards the records it drops are counted per shard and in the run's stats, never written one line
each to rejected.jsonl; a shard worker gives back only what passed it.

Every page here is synthetic: the fixtures (marked synthetic) and pages written below.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newscorpus.config import Config, load_config, replace_gather
from newscorpus.gather.pipeline import gather
from newscorpus.gather.shards import list_shards
from newscorpus.gather.shardwork import ShardTask, work_shard
from newscorpus.store import read_jsonl
from tests.gather.conftest import FIXTURES
from tests.gather.test_archive import markers, warc_corpus
from tests.gather.test_executors import corpus_files

FILLER = (
    "El informe semanal describe las reuniones del consejo municipal y los presupuestos del "
    "año, con datos de cada barrio y las opiniones de los vecinos consultados en la plaza. "
) * 8


def synthetic(n: int, fragment: str, *, charset: str = "utf-8") -> bytes:
    """A page of its own (distinct text per ``n``) holding ``fragment`` in its article."""
    html = (
        f'<!doctype html><html><head><meta charset="{charset}">'
        '<meta name="synthetic" content="true">'
        f"<title>Informe {n}</title></head><body><nav><a href='/'>Inicio</a></nav><article>"
        f"<h1>Informe {n}</h1><p>{FILLER} Número {n}.</p><p>{fragment} {FILLER}</p></article>"
        "</body></html>"
    )
    return html.encode(charset, errors="xmlcharrefreplace")


# on topic only through entities, a legacy charset, markup inside a word, or the title
TRICKY = [
    "La ruta del fentan&iacute;lo cruza la frontera.",
    "El c&aacute;rtel negó los cargos.",
    "Sheinbaum habló con la prensa.",
    "El fen<b>tanyl</b> incautado se destruyó.",
]
OFF = ["El mercado de abastos abrió temprano.", "La feria del libro cerró con récord."]


def pages() -> list[tuple[str, bytes, str]]:
    """(url, body, content type): every fixture page, tricky on-topic pages, off-topic ones."""
    out = [
        (f"https://pages.example/{f.stem}.html", f.read_bytes(), "text/html")
        for f in sorted(FIXTURES.glob("*.html"))
    ]
    for n, frag in enumerate(TRICKY):
        out.append((f"https://pages.example/tricky/{n}", synthetic(n, frag), "text/html"))
    cp = synthetic(90, "Un cártel de Sinaloa.", charset="windows-1252")
    out.append(("https://pages.example/tricky/cp1252", cp, "text/html; charset=windows-1252"))
    for n in range(12):
        frag = OFF[n % 2]
        out.append((f"https://pages.example/off/{n}", synthetic(100 + n, frag), "text/html"))
    return out


def write_warc(path: Path, records: list[tuple[str, bytes, str]]) -> None:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for url, body, ctype in records:
        headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
        rec = writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=headers
        )
        writer.write_record(rec)
    path.write_bytes(buf.getvalue())


def archive_corpus(root: Path) -> Path:
    root = warc_corpus(root, '\n[[sources]]\nname = "cc"\nkind = "warc"\npath = "archives"\n')
    (root / "archives").mkdir()
    recs = pages()
    half = len(recs) // 2
    write_warc(root / "archives" / "a.warc.gz", recs[:half])
    write_warc(root / "archives" / "b.warc.gz", recs[half:])
    return root


def with_prefilter(cfg: Config, on: bool) -> Config:
    return replace_gather(cfg, prefilter=on)


def off_topic_urls() -> set[str]:
    return {url for url, _, _ in pages() if "/off/" in url}


def test_prefilter_on_and_off_give_the_same_corpus_from_archive_shards(tmp_path: Path) -> None:
    on, off = archive_corpus(tmp_path / "on"), archive_corpus(tmp_path / "off")
    r_on = gather(with_prefilter(load_config(on), True))
    r_off = gather(with_prefilter(load_config(off), False))
    files_on, files_off = corpus_files(on), corpus_files(off)
    articles = {k: v for k, v in files_on.items() if k.endswith(".jsonl") and k != "rejected.jsonl"}
    assert articles and articles == {k: files_off[k] for k in articles}
    kept = {a["url"] for a in files_on["cc.jsonl"]}
    assert {f"https://pages.example/tricky/{n}" for n in range(4)} | {
        "https://pages.example/tricky/cp1252"
    } <= kept
    # the off-topic pages: dropped by the prefilter, counted, not one line each in rejected.jsonl
    rejected_on = {r["url"] for r in files_on.get("rejected.jsonl", [])}
    rejected_off = {r["url"] for r in files_off.get("rejected.jsonl", [])}
    assert off_topic_urls() <= rejected_off  # without the prefilter: off_topic, one line each
    assert not off_topic_urls() & rejected_on
    assert r_off.prefiltered == 0 and r_on.prefiltered >= len(off_topic_urls())
    assert r_on.records == r_off.records == len(pages())
    assert r_on.extracted == r_on.records - r_on.prefiltered
    assert r_on.new == r_off.new == len(kept)
    assert (r_on.shards, r_on.shards_total) == (2, 2)
    stats = markers(on)
    assert sum(int(str(m["prefiltered"])) for m in stats) == r_on.prefiltered
    assert all(m["records"] == int(str(m["prefiltered"])) + int(str(m["extracted"])) for m in stats)


def test_the_run_stats_file_sums_the_shards_done(tmp_path: Path) -> None:
    root = archive_corpus(tmp_path / "c")
    result = gather(load_config(root))
    stats = json.loads((root / ".newscorpus" / "stats" / "cc.json").read_text(encoding="utf-8"))
    assert stats["shards_done"] == stats["shards_total"] == 2
    assert stats["records"] == result.records and stats["prefiltered"] == result.prefiltered
    assert stats["kept"] == result.new
    assert str(tmp_path) not in json.dumps(stats)
    gather(load_config(root))  # nothing read: the totals stay those of the shards done
    again = json.loads((root / ".newscorpus" / "stats" / "cc.json").read_text(encoding="utf-8"))
    assert again == stats


def test_prefilter_on_and_off_give_the_same_corpus_from_a_folder_of_pages(
    tmp_path: Path, make_corpus: Callable[..., Any]
) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    for n, (_, body, _) in enumerate(pages()):
        (folder / f"{n:02d}.html").write_bytes(body)
    on = make_corpus([("pages", "html_dir", str(folder))], name="on")
    off = make_corpus([("pages", "html_dir", str(folder))], name="off")
    gather(with_prefilter(load_config(on), True))
    gather(with_prefilter(load_config(off), False))
    assert corpus_files(on)["pages.jsonl"] == corpus_files(off)["pages.jsonl"]
    # a page (not an archive record) the prefilter drops is recorded off_topic, so a rerun does
    # not fetch it again
    pre = [r for r in read_jsonl(on / "rejected.jsonl") if "prefilter" in (r.get("detail") or "")]
    assert len(pre) >= len(off_topic_urls())
    assert {(r["stage"], r["reason"]) for r in pre} == {("topic", "off_topic")}
    again = gather(with_prefilter(load_config(on), True))
    assert again.extracted == 0 and again.new == 0


def test_a_shard_worker_gives_back_only_the_records_the_prefilter_let_through(
    tmp_path: Path,
) -> None:
    """Memory: of 200 records, 2 on topic, the worker's output holds 2 records, no page bytes."""
    root = warc_corpus(
        tmp_path / "c", '\n[[sources]]\nname = "cc"\nkind = "warc"\npath = "a.warc.gz"\n'
    )
    recs = [
        (
            f"https://pages.example/{n}",
            synthetic(n, OFF[n % 2] if n % 100 else TRICKY[2]),
            "text/html",
        )
        for n in range(200)
    ]
    write_warc(root / "a.warc.gz", recs)
    cfg = load_config(root)
    out = work_shard(ShardTask(cfg, list_shards(cfg, cfg.source("cc"))[0]))
    assert (out.counts.records, out.counts.prefiltered, out.counts.extracted) == (200, 198, 2)
    assert [w.item.url for w in out.works] == [
        "https://pages.example/0",
        "https://pages.example/100",
    ]
    assert all(w.item.body is None and w.body == b"" for w in out.works)
    assert all(w.article is not None and w.article.synthetic for w in out.works)


def test_the_summary_table_of_an_archive_run(tmp_path: Path, cli: Callable[..., Any]) -> None:
    root = archive_corpus(tmp_path / "c")
    r = cli("--corpus", str(root), "gather")
    assert r.exit_code == 0, r.output
    rows = table_rows(r.output)
    assert rows["shards done / in all"] == "2 / 2"
    assert rows["records read"] == str(len(pages()))
    assert int(rows["prefiltered away"]) >= len(off_topic_urls())
    assert int(rows["extracted"]) == len(pages()) - int(rows["prefiltered away"])
    assert float(rows["records/s"].replace(",", "")) > 0
    again = table_rows(cli("--corpus", str(root), "gather").output)
    assert (again["shards done / in all"], again["shards read this run"]) == ("2 / 2", "0")


def table_rows(output: str) -> dict[str, str]:
    """The rows of the summary table: name -> count."""
    return {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in output.splitlines()
        if line.count("│") >= 3
    }
