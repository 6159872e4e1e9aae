"""WARC reader benchmark: FastWARC against warcio on WARC files generated here (synthetic pages).

BENCH_WARC_SHARDS (4) gzip WARC files of BENCH_WARC_N (1000) HTTP responses each, pages of about
BENCH_WARC_KB (60) KB of HTML (random words from a fixed vocabulary, so gzip does not shrink them
to nothing), plus a warcinfo record each. Three readers take every response's (URL, status,
Content-Type, payload): bare warcio (ArchiveIterator), the reader gather uses
(gather/warc.file_items: warcio plus its damage checks: every record read to its Content-Length,
each gzip member to its end) and FastWARC (its ArchiveIterator, when installed). The records must
be identical (same URLs, bodies and the headers gather uses); the best CPU time of
BENCH_WARC_ROUNDS (3) rounds, alternating the order, counts. At the default sizes it writes what
it prints into docs/gather-bench.md (`--no-write` only prints).
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from docs_block import REPO, run_recorded

SHARDS = int(os.environ.get("BENCH_WARC_SHARDS", "4"))
N = int(os.environ.get("BENCH_WARC_N", "1000"))
KB = int(os.environ.get("BENCH_WARC_KB", "60"))
ROUNDS = int(os.environ.get("BENCH_WARC_ROUNDS", "3"))
DEFAULTS = (4, 1000, 60, 3)
EXTRACT_PER_CORE = 35  # pages/s: trafilatura on this machine (issue 14), the cost after reading

Record = tuple[str, str, str, str]  # url, status, content type, sha256 of the payload


def page(rng: random.Random, words: list[str], n: int) -> bytes:
    paras = []
    size = 0
    while size < KB * 1000:
        p = " ".join(rng.choices(words, k=120))
        paras.append(f"<p>{p}</p>")
        size += len(p) + 7
    return (
        '<!doctype html><html lang="es"><head><meta charset="utf-8">'
        '<meta name="synthetic" content="true">'
        f"<title>Synthetic page {n}</title></head><body><article>{''.join(paras)}"
        "</article></body></html>"
    ).encode()


def write_shards(folder: Path) -> list[Path]:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    rng = random.Random(14)
    words = ["fentanilo", "cártel", "sécurité", "frontière", "operación", "Sinaloa", "la", "de"]
    words += [f"w{i}" for i in range(400)]
    files = []
    for s in range(SHARDS):
        f = folder / f"bench-{s:02d}.warc.gz"
        with f.open("wb") as fh:
            writer = WARCWriter(fh, gzip=True)
            writer.write_record(writer.create_warcinfo_record(f.name, {"software": "synthetic"}))
            for n in range(N):
                ctype = "text/html; charset=utf-8"
                headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
                url = f"https://archive.example/{s}/{n}.html"
                body = io.BytesIO(page(rng, words, n))
                writer.write_record(
                    writer.create_warc_record(url, "response", payload=body, http_headers=headers)
                )
        files.append(f)
    return files


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def read_warcio(f: Path) -> Iterator[Record]:
    from warcio.archiveiterator import ArchiveIterator

    with f.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response" or rec.http_headers is None:
                continue
            yield (
                rec.rec_headers.get_header("WARC-Target-URI"),
                rec.http_headers.get_statuscode(),
                rec.http_headers.get_header("Content-Type") or "",
                sha(rec.content_stream().read()),
            )


def read_gather(f: Path) -> Iterator[Record]:
    from newscorpus.gather.warc import file_items

    for item in file_items(f, "bench", 10_000_000, f.name):
        assert not item.reason, item.detail
        yield item.url, "200", item.content_type or "", sha(item.body or b"")


def read_fastwarc(f: Path) -> Iterator[Record]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    with f.open("rb") as fh:
        for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
            http = rec.http_headers
            yield (
                rec.headers.get("WARC-Target-URI"),
                str(http.status_code),
                http.get("Content-Type") or "",
                sha(rec.reader.read()),
            )


def timed(fn: Callable[[], list[Record]]) -> tuple[float, list[Record]]:
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def main() -> int:
    readers: dict[str, Callable[[Path], Iterator[Record]]] = {
        "warcio": read_warcio,
        "gather (warcio + checks)": read_gather,
    }
    from importlib.metadata import PackageNotFoundError, version

    import warcio.archiveiterator  # noqa: F401

    import newscorpus.gather.warc  # noqa: F401  (imported before the clock starts)

    try:
        import fastwarc.warc  # noqa: F401

        readers["fastwarc"] = read_fastwarc
        fast_version = version("fastwarc")
    except (ImportError, PackageNotFoundError):
        fast_version = ""

    best: dict[str, float] = {}
    records: dict[str, list[Record]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-warc-") as tmp:
        files = write_shards(Path(tmp))
        size = sum(f.stat().st_size for f in files)
        for r in range(ROUNDS):
            for name in sorted(readers, reverse=r % 2 == 1):
                read = readers[name]
                t, out = timed(lambda read=read: [x for f in files for x in read(f)])  # type: ignore[misc]
                best[name] = min(best.get(name, float("inf")), t)
                records[name] = out
    total = SHARDS * N
    print(
        f"{SHARDS} gzip WARC files, {total:,} responses of ~{KB} KB HTML, {size / 1e6:.0f} MB "
        f"on disk; warcio {version('warcio')}, "
        f"fastwarc {fast_version or 'not installed'}; best CPU time of {ROUNDS} rounds"
    )
    print(f"{'reader':26} {'CPU s':>7} {'records/s':>10} {'vs warcio':>10}")
    for name, t in best.items():
        print(f"{name:26} {t:7.2f} {total / t:10,.0f} {best['warcio'] / t:9.2f}x")
    same = all(out == records["warcio"] for out in records.values())
    print(
        f"records identical (URL, status, Content-Type, payload SHA-256): {'yes' if same else 'NO'}"
    )
    share = EXTRACT_PER_CORE / (total / best["gather (warcio + checks)"])
    print(
        f"reading is {share:.1%} of the per-record cost of an on-topic record "
        f"(extraction: ~{EXTRACT_PER_CORE} pages/s per core)"
    )
    return 0 if same and len(records["warcio"]) == total else 1


if __name__ == "__main__":
    write = "--no-write" not in sys.argv and (SHARDS, N, KB, ROUNDS) == DEFAULTS
    doc = REPO / "docs" / "gather-bench.md"
    sys.exit(run_recorded(main, doc, "bench_warc", write=write))
