"""The records of WARC files (plain or gzip, via warcio), with damage found rather than stored.

warcio reads a damaged file without complaint: a record cut short comes out with part of its
payload, a gzip member cut in the middle is skipped or yields what it inflated, and a gzip member
without its end (the CRC trailer) passes. Here every record is checked before its item is given
out: all of its Content-Length read, and (gzip) its member ended. A damaged record is one
``warc_truncated`` refusal naming the file (relative to the corpus folder) and the byte offset;
the complete records before it are kept; nothing after the damage is trusted.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .items import Item, link_problem, refused, shown_path

READ_CHUNK = 1 << 16
TAIL_PROBE = 1 << 16  # bytes of a damaged tail inspected to tell a cut from corruption
_HEADER_END = b"\r\n\r\n"
_TARGET = re.compile(rb"^WARC-Target-URI:[ \t]*<?([^\s>]+)", re.IGNORECASE | re.MULTILINE)
_LENGTH = re.compile(rb"^Content-Length:[ \t]*(\d+)", re.IGNORECASE | re.MULTILINE)


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _is_warc(path: Path) -> bool:
    try:
        if _is_gzip(path):
            with gzip.open(path, "rb") as gz:
                return gz.read(5) == b"WARC/"
        with path.open("rb") as fh:
            return fh.read(5) == b"WARC/"
    except (OSError, EOFError, zlib.error):
        return False


def warc_items(path: Path, source: str, max_bytes: int, root: Path | None = None) -> Iterator[Item]:
    """HTML responses of a WARC file, or of each ``*.warc*`` file of a folder (one bad file does
    not stop the others), with their bodies; damaged records refused (``warc_truncated``)."""
    files = sorted(path.glob("*.warc*")) if path.is_dir() else [path]
    for f in files:
        yield from file_items(f, source, max_bytes, shown_path(f, root))


def file_items(f: Path, source: str, max_bytes: int, shown: str) -> Iterator[Item]:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    if not _is_warc(f):
        yield refused(
            shown, source, "source_unreadable", f"{shown}: not a WARC file (no WARC/ header)"
        )
        return
    try:
        size = f.stat().st_size
        gz = _is_gzip(f)
    except OSError as exc:
        yield refused(shown, source, "source_unreadable", f"{shown}: cannot read: {exc.strerror}")
        return
    good_end = 0  # file offset just after the last complete record
    failure = ""
    try:
        with f.open("rb") as fh:
            it = ArchiveIterator(fh)
            it.INC_RECORD = ""  # warcio's warning on stderr: counted (err_count) and reported here
            for rec in it:
                item = _record_item(rec, source, max_bytes)
                missing = _drain(rec)
                errors = it.err_count
                it.read_to_end()  # consumes the record's end: its blank lines, its gzip member
                offset = it.get_record_offset()
                if it.err_count > errors:  # no blank line after the block: Content-Length lies
                    target = rec.rec_headers.get_header("WARC-Target-URI") or shown
                    length = rec.rec_headers.get_header("Content-Length") or "?"
                    yield refused(
                        target,
                        source,
                        "warc_truncated",
                        f"{shown}: record at byte {offset} is longer than its Content-Length "
                        f"({length}): not read, nor the {size - offset} bytes from there",
                    )
                    return
                unended = _member_unended(it)
                if missing or unended:
                    target = rec.rec_headers.get_header("WARC-Target-URI") or shown
                    length = rec.rec_headers.get_header("Content-Length") or "?"
                    why = (
                        f"{missing} of its {length} bytes (Content-Length) missing"
                        if missing
                        else "its gzip member has no end"
                    )
                    yield refused(
                        target,
                        source,
                        "warc_truncated",
                        f"{shown}: record at byte {offset} cut short: {why}",
                    )
                    return
                good_end = int(it.offset)
                if item is not None:
                    yield item
    except ArchiveLoadFailed as exc:
        if "non-chunked gzip" not in str(exc):
            failure = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:200]
        else:  # gzip as one whole file: warcio reads a gzip member a record, as WARC advises
            yield refused(
                shown,
                source,
                "source_unreadable",
                f"{shown}: gzipped as one whole file, not a gzip member a record; records "
                "after the first not read: recompress it (`warcio recompress IN OUT`)",
            )
            return
    except Exception as exc:  # warcio raises assorted errors on damaged input
        failure = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:200]
    if good_end >= size:
        return
    verdict = _tail(f, good_end, size, gz)
    if verdict is None and not failure:
        return  # only blank lines after the last record
    target, cut = verdict or (None, False)
    if cut:
        yield refused(
            target or shown,
            source,
            "warc_truncated",
            f"{shown}: record at byte {good_end} cut short: the file ends at byte {size}",
        )
    elif good_end == 0:
        yield refused(
            shown, source, "source_unreadable", f"{shown}: not a readable WARC file: {failure}"
        )
    else:
        yield refused(
            target or shown,
            source,
            "source_unreadable",
            f"{shown}: record at byte {good_end} not readable{': ' + failure if failure else ''}; "
            f"the {size - good_end} bytes from there are not read",
        )


def _record_item(rec: Any, source: str, max_bytes: int) -> Item | None:
    """The item of an HTTP response record (its payload read), or None for other records."""
    if rec.rec_type != "response":
        return None
    url = rec.rec_headers.get_header("WARC-Target-URI")
    if not url or rec.http_headers is None:
        return None
    problem = link_problem(url)
    if problem is not None and problem[0] == "url_credentials":
        return refused(url, source, *problem)
    ctype = rec.http_headers.get_header("Content-Type") or ""
    status = rec.http_headers.get_statuscode() or ""
    if status != "200":
        return Item(url=url, source=source, body=b"", content_type=f"status/{status}")
    body = rec.content_stream().read(max_bytes + 1)
    if len(body) > max_bytes:
        return refused(url, source, "too_large", f"payload larger than {max_bytes} bytes", "fetch")
    return Item(url=url, source=source, body=body, content_type=ctype)


def _drain(rec: Any) -> int:
    """Read the rest of a record's block; the bytes its Content-Length promised but the file lacks."""
    raw = rec.raw_stream
    while raw.read(READ_CHUNK):
        pass
    return max(0, int(getattr(raw, "limit", 0) or 0))


def _member_unended(it: Any) -> bool:
    """True when the gzip member just read stopped before its end (warcio does not say so)."""
    d = getattr(getattr(it, "reader", None), "decompressor", None)
    return d is not None and not getattr(d, "eof", True)


def _tail(f: Path, start: int, size: int, gz: bool) -> tuple[str | None, bool] | None:
    """What the bytes after the last complete record are: None when only blank lines; else
    (their record's target URI if seen, True when they are a record cut by the end of the file)."""
    with f.open("rb") as fh:
        fh.seek(start)
        if not gz:
            head = fh.read(TAIL_PROBE)
            if not head.strip():
                return None
            end = head.find(_HEADER_END)
            if end < 0:  # the WARC header itself is cut
                return _target(head), len(head) == size - start
            m = _LENGTH.search(head[:end])
            length = int(m.group(1)) if m else -1
            return _target(head[:end]), m is not None and start + end + 4 + length > size
        d = zlib.decompressobj(31)
        out = b""
        try:
            while not d.eof:
                data = d.unconsumed_tail or fh.read(READ_CHUNK)
                if not data:
                    return _target(out), True  # the member stops before its end
                piece = d.decompress(data, READ_CHUNK)
                if len(out) < TAIL_PROBE:
                    out += piece
        except zlib.error:
            pass
        return _target(out), False


def _target(head: bytes) -> str | None:
    m = _TARGET.search(head)
    return m.group(1).decode("utf-8", "replace") if m else None
