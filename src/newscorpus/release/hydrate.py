"""`newscorpus hydrate DIR`: fetch the texts a release withholds, check their SHA-256, fill them in."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..config import GatherSettings
from ..errors import DataError, ReleaseError, UsageError
from ..records import sha256_hex
from ..store import atomic_write_text

# url -> (page bytes, content type), or an exception saying why it could not be fetched
Page = tuple[bytes, str | None] | Exception
FetchPages = Callable[[list[str]], Iterator[Page]]
Extract = Callable[[bytes, str | None, str], str]
REPORT = "hydrate.json"


@dataclass(frozen=True)
class Mismatch:
    """A page whose re-extracted text does not match the released SHA-256 (it changed)."""

    id: str
    url: str
    expected: str
    got: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "url": self.url, "expected": self.expected, "got": self.got}


@dataclass(frozen=True)
class HydrateFailure:
    """A withheld text that could not be fetched or extracted."""

    id: str
    url: str | None  # None: the release has no URL for it
    reason: str  # as hydrate.json records it (a fetch error names its URL)
    why: str  # the reason without the URL, for a line that names the URL already

    @property
    def message(self) -> str:
        """One line: the article, its URL and why."""
        return f"{self.id} {self.url or ''}: {self.why}".replace("  ", " ")

    def to_dict(self) -> dict[str, str]:
        url = {} if self.url is None else {"url": self.url}
        return {"id": self.id, **url, "reason": self.reason}


@dataclass(frozen=True)
class HydrateResult:
    """Which withheld texts were filled in, which did not match their hash, which failed."""

    filled: tuple[str, ...]
    mismatched: tuple[Mismatch, ...]
    failed: tuple[HydrateFailure, ...]
    already: int  # withheld texts filled in by an earlier run

    def to_dict(self) -> dict[str, Any]:
        """hydrate.json."""
        return {
            "filled": list(self.filled),
            "mismatched": [m.to_dict() for m in self.mismatched],
            "failed": [f.to_dict() for f in self.failed],
            "already_filled": self.already,
        }


def _fetch_failure(aid: str, url: str, error: Exception) -> HydrateFailure:
    """A failed fetch: the fetcher's FetchFailed carries its reason apart from its URL."""
    from ..gather.fetch import FetchFailed

    if isinstance(error, FetchFailed) and error.url == url:
        why = f"{error.reason}{': ' + error.detail if error.detail else ''}"
    else:
        why = str(error)
    return HydrateFailure(id=aid, url=url, reason=str(error), why=why)


def gather_fetch(settings: GatherSettings) -> FetchPages:
    """Fetch pages with the gatherer's polite, host-guarded fetcher (no cache)."""
    from ..config import check_allow_host
    from ..gather.fetch import FetchService
    from ..gather.guard import HostGuard

    if settings.per_host_delay < 0:
        raise UsageError(f"--delay {settings.per_host_delay}: must be 0 or more seconds")
    for h in settings.allow_hosts:
        check_allow_host(h)

    def fetch(urls: list[str]) -> Iterator[Page]:
        service = FetchService(settings, HostGuard(settings.allow_hosts))
        try:
            for resp in service.map_ordered(urls):
                yield resp if isinstance(resp, Exception) else (resp.body, resp.content_type)
        finally:
            service.close()

    return fetch


def gather_extract(body: bytes, content_type: str | None, url: str) -> str:
    """Main text with the gatherer's extractor (the same one that made the stored text)."""
    from ..gather.extract import extract_html

    return extract_html(body, content_type, url).text


def _files(folder: Path, config: str) -> list[Path]:
    return sorted((folder / "data" / config).glob("*.parquet"))


def _rewrite(path: Path, transform: Callable[[list[dict[str, Any]]], bool]) -> None:
    """Rewrite one parquet file batch by batch when ``transform`` changed any row; atomic."""
    pf = pq.ParquetFile(path)
    schema = pf.schema_arrow
    changed = False
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for batch in pf.iter_batches(batch_size=5000):
                rows = batch.to_pylist()
                changed |= transform(rows)
                writer.write_batch(pa.RecordBatch.from_pylist(rows, schema=schema))
        if changed:
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _fill_spans(spans: Iterable[dict[str, Any]], text: str) -> bool:
    changed = False
    for s in spans:
        if s.get("text") is None and s.get("start") is not None:
            s["text"] = text[s["start"] : s["end"]]
            changed = True
    return changed


def hydrate_lock(folder: Path) -> Path:
    """The lock file of a release folder that hydrate fills in (inside .git/ when it is a clone)."""
    folder = Path(folder)
    if not _files(folder, "articles"):
        raise ReleaseError(f"{folder}: no data/articles/*.parquet (not a newscorpus release)")
    git = folder / ".git"
    return git / "newscorpus-hydrate.lock" if git.is_dir() else folder / ".newscorpus-hydrate.lock"


def hydrate_release(
    folder: Path,
    *,
    fetch: FetchPages,
    extract: Extract = gather_extract,
) -> HydrateResult:
    """Fill in withheld article texts (and span texts) whose re-extracted text matches its hash."""
    folder = Path(folder)
    files = _files(folder, "articles")
    if not files:
        raise ReleaseError(f"{folder}: no data/articles/*.parquet (not a newscorpus release)")
    already = 0
    mismatched: list[Mismatch] = []
    failed: list[HydrateFailure] = []
    wanted: dict[str, tuple[str, str]] = {}
    for path in files:
        try:
            table = pq.read_table(path, columns=["id", "url", "text", "text_sha256", "text_policy"])
        except (pa.ArrowException, OSError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"{path}: not a readable articles table: {first}") from None
        for row in table.to_pylist():
            if row["text_policy"] != "hydrate":
                continue
            if row["text"] is not None:
                already += 1
            elif not row["url"]:
                failed.append(HydrateFailure(row["id"], None, "no url", "no url"))
            else:
                wanted[row["id"]] = (row["url"], row["text_sha256"])
    ids = list(wanted)
    texts: dict[str, str] = {}
    for aid, page in zip(ids, fetch([wanted[i][0] for i in ids]), strict=True):
        url, expected = wanted[aid]
        if isinstance(page, Exception):
            failed.append(_fetch_failure(aid, url, page))
            continue
        try:
            text = extract(page[0], page[1], url)
        except Exception as exc:  # extraction errors of any kind are listed, not raised
            failed.append(HydrateFailure(aid, url, f"extract: {exc}", f"extract: {exc}"))
            continue
        got = sha256_hex(text)
        if got != expected:
            mismatched.append(Mismatch(id=aid, url=url, expected=expected, got=got))
            continue
        texts[aid] = text
    report = HydrateResult(
        filled=tuple(sorted(texts)),
        mismatched=tuple(mismatched),
        failed=tuple(failed),
        already=already,
    )

    def fill_articles(rows: list[dict[str, Any]]) -> bool:
        hit = False
        for r in rows:
            if r["id"] in texts and r["text"] is None:
                r["text"] = texts[r["id"]]
                hit = True
        return hit

    def fill_claims(rows: list[dict[str, Any]]) -> bool:
        hits = [_fill_spans([r], texts[r["article_id"]]) for r in rows if r["article_id"] in texts]
        return any(hits)

    def fill_annotations(rows: list[dict[str, Any]]) -> bool:
        hit = False
        for r in rows:
            if r["article_id"] in texts:
                hit |= _fill_spans(r["spans"] or [], texts[r["article_id"]])
        return hit

    if texts:
        for config, fn in (
            ("articles", fill_articles),
            ("claims", fill_claims),
            ("annotations", fill_annotations),
        ):
            for path in _files(folder, config):
                _rewrite(path, fn)
    atomic_write_text(folder / REPORT, json.dumps(report.to_dict(), indent=1) + "\n")
    return report
