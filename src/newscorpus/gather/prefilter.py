"""The topic prefilter: a cheap test of the raw page for a topic term, before extraction.

Extraction (trafilatura) is the cost of a gather, and in an archive almost every record is off
topic. ``Prefilter.may_match`` tells whether a page *may* pass the topic filter; only pages for
which it is True need extracting. It is a superset test: it must never say False for a page that
extraction + ``TopicMatcher`` would keep. How it stays one:

- the page is decoded by ``extract.decode_html`` (the pipeline's own charset rules), HTML
  entities are unescaped (``html.unescape``), the characters trafilatura deletes from text
  (neither printable nor white space: soft hyphen, zero-width space ...) are deleted, and the
  result is folded by ``topic.fold`` (case and accents), as the topic filter folds;
- the topic filter matches whole words on the extracted title and text; the prefilter only
  looks for one word of each term (its longest), as a substring, anywhere: a multi-word term
  may match the text across a paragraph break (``drug<br>cartel``), so only single words are
  looked for, and word boundaries are not checked;
- the text is searched in three forms, joined by a line break: the whole page (attribute
  values such as ``og:title`` included), the page with comments and tags deleted (a word
  split by inline markup, ``fen<b>tanyl</b>``, is one word in trafilatura's text, and so it
  is here), and the same with the content of the elements trafilatura deletes deleted too
  (``fen<script>…</script>tanyl`` is ``fentanyl`` in trafilatura's text).

What it cannot see: a word that exists only in trafilatura's output and in none of the three
forms, e.g. split by an element whose content trafilatura sometimes keeps and sometimes drops,
or nested inside another element of the same kind that it drops; and a term written with JSON
escapes in JSON-LD metadata only (``"headline": "M\\u00e9xico"``). The tests build pages of
topic words, markup and entities at random and check the superset property on each.
"""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Iterable
from functools import cache

from .extract import decode_html
from .topic import fold

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z!?][^>]*>")


@cache
def _invisible_table() -> dict[int, None]:
    """str.translate table deleting what trafilatura deletes from text (neither printable nor
    white space; utils.return_printables_and_spaces), built once, on first use."""
    return {i: None for i in range(0x110000) if not chr(i).isprintable() and not chr(i).isspace()}


@cache
def _dropped_elements() -> re.Pattern[str]:
    """An element (start tag to the first matching end tag) that trafilatura deletes with its
    content before extracting (trafilatura.settings.MANUALLY_CLEANED)."""
    from trafilatura.settings import MANUALLY_CLEANED

    names = "|".join(sorted({re.escape(t) for t in MANUALLY_CLEANED}, key=len, reverse=True))
    return re.compile(rf"<({names})\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)


def squash(text: str) -> str:
    """Entities unescaped, invisible characters deleted, folded: the form searched."""
    return fold(html_module.unescape(text).translate(_invisible_table()))


def searched_text(page: str) -> str:
    """The three forms of a decoded page that are searched (see the module's docstring)."""
    no_comments = _COMMENT.sub("", page)
    kept = _TAG.sub("", no_comments)
    dropped = _TAG.sub("", _dropped_elements().sub("", no_comments))
    return "\n".join((squash(page), squash(kept), squash(dropped)))


def _header(charset: str | None) -> str | None:
    """What decode_html reads as the HTTP header: a Content-Type value, or just its charset."""
    if charset is None or "charset" in charset.lower():
        return charset
    return f"text/html; charset={charset}"


class Prefilter:
    """Built from the corpus's [topic] any terms; no terms means every page may match."""

    def __init__(self, terms: Iterable[str]) -> None:
        needles: set[str] = set()
        accepts_all = True
        for term in terms:
            if not term.strip():
                continue  # TopicMatcher ignores blank terms too
            words = squash(term).split()
            if not words:  # a term of characters the page form deletes: cannot be looked for
                needles.clear()
                accepts_all = True
                break
            needles.add(max(words, key=len))
            accepts_all = False
        self.needles: tuple[str, ...] = tuple(sorted(needles))
        self.accepts_all = accepts_all
        alternation = "|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True))
        self._pattern = re.compile(alternation) if needles else None

    def may_match(self, body: bytes, charset: str | None) -> bool:
        """False only when no topic term can be in the page's extracted title or text.

        ``charset`` is the response's Content-Type value (or only its charset label, or None),
        read as the pipeline reads it. A page that cannot be decoded passes (extraction then
        rejects it with its own reason, recorded as today).
        """
        if self._pattern is None:
            return True
        try:
            page, _ = decode_html(body, _header(charset))
        except Exception:  # the pipeline's extraction records why
            return True
        return self.text_may_match(page)

    def text_may_match(self, page: str) -> bool:
        """``may_match`` on a page already decoded."""
        if self._pattern is None:
            return True
        return self._pattern.search(searched_text(page)) is not None
