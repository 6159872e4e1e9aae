"""The gather stages: generators over ``Work`` records (known, fetch, extract, language, topic,
dedup), and the worker's side of the work (``analyse``).

Each stage takes records and gives them back in order, marked with what befell them (skipped,
fetched, rejected, kept); items it does not handle (already done with) pass through unchanged.
No stage counts: ``Counts.add`` counts a finished record in one place (the pipeline's writer).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
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
from .prefilter import Prefilter
from .topic import TopicMatcher
from .urlnorm import host_of, normalize_url


@dataclass
class Counts:
    """What a run has done so far, counted from its finished records (``add``) and, for archive
    shards, from what the shard workers report (``add_shard``); gather() returns it frozen."""

    fetched: int = 0
    from_cache: int = 0
    new: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    skipped: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    new_by_source: Counter[str] = field(default_factory=Counter)
    shards: int = 0  # archive shards read to their end this run
    shards_done_before: int = 0  # shards a marker says an earlier run completed (not read)
    shards_total: int = 0
    records: int = 0  # archive records read
    prefiltered: int = 0  # archive records the prefilter dropped (never in rejected.jsonl)
    extracted: int = 0  # pages that went through extraction (every source)

    def add(self, w: Work) -> None:
        """Count one finished record: skipped, or fetched and then rejected or kept."""
        if w.skipped:
            self.skipped += 1
            return
        if w.fetched:
            self.fetched += 1
            self.from_cache += w.from_cache
        if w.extracted:
            self.extracted += 1
        if w.rejection is not None:
            self.rejected[w.rejection.reason] += 1
            if w.rejection.reason.startswith("duplicate_"):
                self.duplicates += 1
        elif w.article is not None:
            self.new += 1
            self.new_by_source[w.article.source] += 1
            if w.article.dup_cluster != w.article.id:
                self.near_duplicates += 1


@dataclass
class Analysed:
    """The worker's findings on one page: extraction, language and MinHash signature."""

    extracted: Extracted | None = None
    language: str = "und"
    signature: Signature | None = None
    reason: str = ""
    detail: str = ""
    prefiltered: bool = False  # the prefilter found no topic term: not extracted


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
    skipped: bool = False  # stored or rejected for good before: nothing to do, nothing written
    fetched: bool = False  # its bytes were got (from a file, a WARC record or over HTTP)
    from_cache: bool = False  # got from the response cache
    extracted: bool = False  # went through extraction (its findings may since be dropped)
    prefiltered: bool = False  # dropped by the prefilter before extraction

    @property
    def done(self) -> bool:
        """Nothing more to do for it: skipped or rejected."""
        return self.skipped or self.rejection is not None

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


PREFILTERED = "no topic term in the page (prefilter)"


# --- worker side --------------------------------------------------------------------------------


def analyse(
    url: str, body: bytes, content_type: str | None, prefilter: Prefilter | None = None
) -> Analysed:
    """Extract, detect the language and sign one page (runs in a worker process); with a
    ``prefilter``, a page that cannot hold a topic term is not extracted (``prefiltered``)."""
    if prefilter is not None and not prefilter.may_match(body, content_type):
        return Analysed(reason="off_topic", detail=PREFILTERED, prefiltered=True)
    try:
        ex = extract_html(body, content_type, url)
    except ExtractFailed as exc:
        return Analysed(reason=exc.reason, detail=str(exc).split(": ", 1)[-1])
    except Exception as exc:  # a broken page must not stop the run
        return Analysed(reason="extract_failed", detail=f"{type(exc).__name__}: {exc}"[:200])
    lang, _ = detect(ex.text)
    return Analysed(extracted=ex, language=lang, signature=signature(ex.text))


def analyse_batch(
    tasks: list[tuple[str, bytes, str | None]], prefilter: Prefilter | None = None
) -> list[Analysed]:
    """``analyse`` over a batch (one round trip to a worker)."""
    return [analyse(*t, prefilter=prefilter) for t in tasks]


# --- stages ---------------------------------------------------------------------------------------


def listed_stage(works: Iterable[Work]) -> Iterator[Work]:
    """An item refused while listing (its ``reason``) is rejected with that reason."""
    for w in works:
        if w.item.reason and w.rejection is None:
            w.reject(w.item.stage, w.item.reason, w.item.detail)
        yield w


def known_stage(works: Iterable[Work], seen: Seen, refresh: bool) -> Iterator[Work]:
    """Skip items stored or rejected for good before; another spelling of a stored URL is a
    duplicate_url (not fetched); an item refused while listing is recorded with its reason.

    ``seen`` is read as each item passes, so items met later see the articles stored before
    them; a record a shard worker already analysed gets the same verdict here."""
    for w in listed_stage(works):
        if w.item.reason:
            yield w
            continue
        verdict = seen.known(w.item.url, refresh)
        if verdict == "skip":
            w.skipped = True
            w.article = w.analysed = None
        elif verdict == "duplicate":
            w.reject("dedup", "duplicate_url", "another spelling of a stored URL")
            w.article = None
        yield w


def fetch_stage(works: Iterable[Work], service: FetchService | None) -> Iterator[Work]:
    """Get each page's bytes: from a local file, from the WARC record, or over HTTP (in order).

    Items already rejected (refused while listing, duplicate URLs) pass through unfetched: a URL
    refused for its credentials or scheme is never requested.
    """
    it = iter(works)
    head: list[Work] = []
    for w in it:
        head.append(w)
        if not w.done:
            break
    if not head:
        return
    first = head[-1]
    if first.done or first.item.path is not None or first.item.body is not None:
        for w in chain(head, it):
            yield w if w.done else _local_fetch(w)
        return
    if service is None:
        raise UsageError(f"{first.item.url}: no fetcher for network items")
    pending: deque[Work] = deque()

    def urls() -> Iterator[str]:
        for w in chain(head, it):
            pending.append(w)
            if not w.done:
                yield w.item.url

    for result in service.map_ordered(urls()):
        while pending[0].done:
            yield pending.popleft()
        cur = pending.popleft()
        if isinstance(result, FetchFailed):
            yield cur.reject("fetch", result.reason, result.detail)
            continue
        cur.fetched = True
        cur.from_cache = result.from_cache
        cur.final_url = result.final_url
        cur.body = result.body
        cur.content_type = result.content_type
        cur.fetched_at = result.fetched_at or utcnow()
        yield cur
    yield from pending  # rejected items after the last fetched one


def _local_fetch(w: Work) -> Work:
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
    w.fetched = True
    return w


def extract_stage(
    works: Iterable[Work], executor: Executor, prefilter: Prefilter | None = None
) -> Iterator[Work]:
    """Extraction, language detection and signatures by the executor, results in order; with a
    ``prefilter``, a page without a topic term is rejected off_topic (``prefiltered``) unread."""

    def task(w: Work) -> tuple[str, bytes, str | None]:
        if w.done:
            return ("", b"", "skip/skip")
        return (w.final_url, w.body, w.content_type)

    fn = analyse_batch if prefilter is None else partial(analyse_batch, prefilter=prefilter)

    order: deque[Work] = deque()

    def tasks() -> Iterator[tuple[str, bytes, str | None]]:
        for w in works:
            order.append(w)
            yield task(w)

    for analysed in executor.map(fn, tasks()):
        w = order.popleft()
        if w.done:
            yield w
            continue
        w.body_sha256 = sha256_hex(w.body)
        w.body = b""
        if analysed.prefiltered:
            w.prefiltered = True
            yield w.reject("topic", "off_topic", PREFILTERED)
            continue
        w.analysed = analysed
        w.extracted = True
        if analysed.extracted is None:
            yield w.reject("extract", analysed.reason or "extract_failed", analysed.detail)
        else:
            yield w


def language_stage(works: Iterable[Work], languages: tuple[str, ...]) -> Iterator[Work]:
    """Drop articles whose main text is not in one of the corpus languages."""
    for w in works:
        a = w.analysed
        if not w.done and a is not None and not accepted(a.language, languages):
            w.reject("language", "language", f"detected {a.language}")
        yield w


def topic_stage(works: Iterable[Work], matcher: TopicMatcher) -> Iterator[Work]:
    """Drop articles whose title and main text hold no topic term (navigation never counts)."""
    for w in works:
        if not w.done and w.analysed is not None and w.analysed.extracted is not None:
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


def dedup_stage(works: Iterable[Work], seen: Seen, near: NearDuplicates) -> Iterator[Work]:
    """Exact duplicates rejected (URL, text hash); near duplicates kept, with their dup_cluster."""
    for w in works:
        art = w.article
        if not w.done and art is not None and w.analysed is not None:
            if art.id in seen.ids:
                w.reject("dedup", "duplicate_url", f"same canonical URL as article {art.id}")
            elif art.text_sha256 in seen.text_hashes:
                w.reject("dedup", "duplicate_text", "same normalised text as a stored article")
            else:
                sig = w.analysed.signature
                assert sig is not None
                art.dup_cluster = near.add_new(art.text_sha256, sig, art.id)
                seen.add_article(art.id, art.text_sha256, w.item.url, art.url, art.canonical_url)
            if w.rejection is not None:
                w.article = None
        yield w
