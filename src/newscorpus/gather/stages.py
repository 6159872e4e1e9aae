"""The gather stages: generators over ``Work`` records (fetch, extract, language, topic, dedup).

Each stage passes items it does not handle (already rejected) through unchanged, in order.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain

from ..errors import UsageError
from ..records import Article, Rejection, article_id, sha256_hex, utcnow
from .dedup import NearDuplicates, Signature, signature
from .executor import Executor
from .extract import Extracted, ExtractFailed, extract_html, extractor_name, html_refusal
from .fetch import FetchFailed, FetchService
from .items import Item
from .known import Seen
from .language import accepted, detect
from .topic import TopicMatcher
from .urlnorm import host_of, normalize_url


@dataclass
class Counts:
    """What a run has done so far, counted by the stages (gather() returns it as a GatherResult)."""

    fetched: int = 0
    from_cache: int = 0
    new: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    skipped: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    new_by_source: Counter[str] = field(default_factory=Counter)


@dataclass
class Analysed:
    """The worker's findings on one page: extraction, language and MinHash signature."""

    extracted: Extracted | None = None
    language: str = "und"
    signature: Signature | None = None
    reason: str = ""
    detail: str = ""


@dataclass
class Work:
    """One item on its way through the stages."""

    item: Item
    final_url: str = ""
    body: bytes = b""
    content_type: str | None = None
    fetched_at: str = ""
    body_sha256: str = ""
    analysed: Analysed | None = None
    article: Article | None = None
    rejection: Rejection | None = None

    def reject(self, stage: str, reason: str, detail: str = "") -> Work:
        """Mark this item dropped, with the stage and reason."""
        self.rejection = Rejection(
            url=self.item.url,
            stage=stage,
            reason=reason,
            source=self.item.source,
            detail=detail or None,
        )
        return self


# --- worker side --------------------------------------------------------------------------------


def analyse(url: str, body: bytes, content_type: str | None) -> Analysed:
    """Extract, detect the language and sign one page (runs in a worker process)."""
    try:
        ex = extract_html(body, content_type, url)
    except ExtractFailed as exc:
        return Analysed(reason=exc.reason, detail=str(exc).split(": ", 1)[-1])
    except Exception as exc:  # a broken page must not stop the run
        return Analysed(reason="extract_failed", detail=f"{type(exc).__name__}: {exc}"[:200])
    lang, _ = detect(ex.text)
    return Analysed(extracted=ex, language=lang, signature=signature(ex.text))


def analyse_batch(tasks: list[tuple[str, bytes, str | None]]) -> list[Analysed]:
    """``analyse`` over a batch (one round trip to a worker)."""
    return [analyse(*t) for t in tasks]


# --- stages ---------------------------------------------------------------------------------------


def known_stage(
    works: Iterable[Work], seen: Seen, refresh: bool, summary: Counts
) -> Iterator[Work]:
    """Skip items stored or rejected for good before; another spelling of a stored URL is a
    duplicate_url (not fetched); an item refused while listing is recorded with its reason."""
    for w in works:
        if w.item.reason:
            yield w.reject(w.item.stage, w.item.reason, w.item.detail)
            continue
        verdict = seen.known(w.item.url, refresh)
        if verdict == "skip":
            summary.skipped += 1
            continue
        if verdict == "duplicate":
            summary.duplicates += 1
            w.reject("dedup", "duplicate_url", "another spelling of a stored URL")
        yield w


def fetch_stage(
    works: Iterable[Work], service: FetchService | None, summary: Counts
) -> Iterator[Work]:
    """Get each page's bytes: from a local file, from the WARC record, or over HTTP (in order).

    Items already rejected (refused while listing, duplicate URLs) pass through unfetched: a URL
    refused for its credentials or scheme is never requested.
    """
    it = iter(works)
    head: list[Work] = []
    for w in it:
        head.append(w)
        if w.rejection is None:
            break
    if not head:
        return
    first = head[-1]
    if first.rejection is not None or first.item.path is not None or first.item.body is not None:
        for w in chain(head, it):
            yield w if w.rejection is not None else _local_fetch(w, summary)
        return
    if service is None:
        raise UsageError(f"{first.item.url}: no fetcher for network items")
    pending: deque[Work] = deque()

    def urls() -> Iterator[str]:
        for w in chain(head, it):
            pending.append(w)
            if w.rejection is None:
                yield w.item.url

    for result in service.map_ordered(urls()):
        while pending[0].rejection is not None:
            yield pending.popleft()
        cur = pending.popleft()
        if isinstance(result, FetchFailed):
            yield cur.reject("fetch", result.reason, result.detail)
            continue
        summary.fetched += 1
        summary.from_cache += result.from_cache
        cur.final_url = result.final_url
        cur.body = result.body
        cur.content_type = result.content_type
        cur.fetched_at = result.fetched_at or utcnow()
        yield cur
    yield from pending  # rejected items after the last fetched one


def _local_fetch(w: Work, summary: Counts) -> Work:
    if w.item.path is not None:
        try:
            w.body = w.item.path.read_bytes()
        except OSError as exc:
            return w.reject("fetch", "unreadable", exc.strerror or "")
        w.content_type = None
    else:
        w.body = w.item.body or b""
        ctype = w.content_type = w.item.content_type
        if ctype and ctype.startswith("status/"):
            return w.reject("fetch", f"http_{ctype.split('/', 1)[1]}")

        refusal = html_refusal(w.content_type, w.body)
        if refusal is not None:
            return w.reject("fetch", "not_html", refusal)
    w.final_url = w.item.url
    w.fetched_at = utcnow()
    summary.fetched += 1
    return w


def extract_stage(works: Iterable[Work], executor: Executor) -> Iterator[Work]:
    """Extraction, language detection and signatures by the executor, results in order."""

    def task(w: Work) -> tuple[str, bytes, str | None]:
        if w.rejection is not None:
            return ("", b"", "skip/skip")
        return (w.final_url, w.body, w.content_type)

    order: deque[Work] = deque()

    def tasks() -> Iterator[tuple[str, bytes, str | None]]:
        for w in works:
            order.append(w)
            yield task(w)

    for analysed in executor.map(analyse_batch, tasks()):
        w = order.popleft()
        if w.rejection is not None:
            yield w
            continue
        w.analysed = analysed
        w.body_sha256 = sha256_hex(w.body)
        w.body = b""
        if analysed.extracted is None:
            yield w.reject("extract", analysed.reason or "extract_failed", analysed.detail)
        else:
            yield w


def language_stage(works: Iterable[Work], languages: tuple[str, ...]) -> Iterator[Work]:
    """Drop articles whose main text is not in one of the corpus languages."""
    for w in works:
        a = w.analysed
        if w.rejection is None and a is not None and not accepted(a.language, languages):
            w.reject("language", "language", f"detected {a.language}")
        yield w


def topic_stage(works: Iterable[Work], matcher: TopicMatcher) -> Iterator[Work]:
    """Drop articles whose title and main text hold no topic term (navigation never counts)."""
    for w in works:
        if w.rejection is None and w.analysed is not None and w.analysed.extracted is not None:
            ex = w.analysed.extracted
            terms = matcher.matches(ex.title, ex.text)
            if not terms and not matcher.accepts_all:
                w.reject("topic", "off_topic")
            else:
                w.article = _article(w, ex, terms)
        yield w


def _article(w: Work, ex: Extracted, terms: list[str]) -> Article:
    base = w.final_url
    canonical = normalize_url(base)
    if ex.canonical:
        try:
            cand = normalize_url(ex.canonical, base)
            if cand.startswith(("http://", "https://")):
                canonical = cand
        except ValueError:
            pass
    aid = article_id(canonical)
    assert w.analysed is not None
    art = Article(
        id=aid,
        url=w.final_url,
        canonical_url=canonical,
        source=w.item.source,
        site=ex.site or host_of(w.final_url) or None,
        title=ex.title,
        text=ex.text,
        language=w.analysed.language,
        authors=ex.authors,
        published=ex.published,
        topic_terms=terms,
        fetched_at=w.fetched_at,
        sha256=w.body_sha256,
        extractor=extractor_name(),
        synthetic=ex.synthetic,
    )
    if w.item.url not in (w.final_url, canonical):
        art.extra["listed_url"] = w.item.url
    return art


def dedup_stage(
    works: Iterable[Work], seen: Seen, near: NearDuplicates, summary: Counts
) -> Iterator[Work]:
    """Exact duplicates rejected (URL, text hash); near duplicates kept, with their dup_cluster."""
    for w in works:
        art = w.article
        if w.rejection is None and art is not None and w.analysed is not None:
            if art.id in seen.ids:
                w.reject("dedup", "duplicate_url", f"same canonical URL as article {art.id}")
            elif art.text_sha256 in seen.text_hashes:
                w.reject("dedup", "duplicate_text", "same normalised text as a stored article")
            else:
                sig = w.analysed.signature
                assert sig is not None
                art.dup_cluster = near.add_new(art.text_sha256, sig, art.id)
                seen.add_article(art.id, art.text_sha256, w.item.url, art.url, art.canonical_url)
                if art.dup_cluster != art.id:
                    summary.near_duplicates += 1
            if w.rejection is not None:
                w.article = None
                if w.rejection.reason.startswith("duplicate_"):
                    summary.duplicates += 1
        yield w
