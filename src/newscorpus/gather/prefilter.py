"""The topic prefilter: a cheap test of the raw page for a topic term, before extraction.

Extraction (trafilatura) is the cost of a gather, and in an archive almost every record is off
topic. ``Prefilter.may_match`` tells whether a page *may* pass the topic filter; only pages for
which it is True need extracting. It is a superset test: it must never say False for a page that
extraction + ``TopicMatcher`` would keep. How it stays one:

- the page is decoded by ``extract.decode_html`` (the pipeline's own charset rules), HTML
  entities are unescaped (``html.unescape``), the characters trafilatura deletes from text
  (neither printable nor white space: soft hyphen, zero-width space ...) are deleted, and the
  result is folded as ``topic.fold`` folds (case and accents; ``fast_fold`` is the same function
  on arrays, tested equal on every code point);
- the topic filter matches whole words on the extracted title and text; the prefilter only
  looks for one word of each term (its longest), as a substring: a multi-word term may match the
  text across a paragraph break (``drug<br>cartel``), so only single words are looked for, and
  word boundaries are not checked;
- it searches the page's text with comments, tags, scripts and styles deleted (a word split by
  inline markup, ``fen<b>tanyl</b>`` or ``fen<script>…</script>tanyl``, is one word in
  trafilatura's text, and here); the same with the elements trafilatura drops with their content
  deleted too (aside, form, svg, ...: trafilatura.settings.MANUALLY_CLEANED); the title as
  written; JSON scripts with their ``\\u`` escapes decoded (trafilatura reads its metadata from
  ld+json); and every meta ``content`` value, with and without the tags in it (og:title ...).

What it cannot see: a word that is in none of these forms, e.g. split by an element whose content
trafilatura keeps in one extraction path and drops in another, or by two nested elements of a
kind it drops; text that trafilatura would take from another attribute (none with the options
used). The tests build pages of topic words, markup and entities at random and check the
superset property on each.
"""

from __future__ import annotations

import html as html_module
import re
import unicodedata
from collections.abc import Iterable
from functools import cache

import numpy as np
import numpy.typing as npt

from .extract import decode_html
from .topic import _combining_table

# One scan deletes, left to right as an HTML tokenizer meets them: comments, script and style
# elements with their content (it never reaches trafilatura's text; JSON scripts, its metadata,
# keep their text) and tags. What is left is the page's text, entities not yet unescaped.
_MARKUP = r"<!--.*?-->|<(script|style)\b(?![^>]*json)[^>]*>.*?</\1\s*>|</?[A-Za-z!?][^>]*>"
_STRIP = re.compile(_MARKUP, re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z!?][^>]*>", re.DOTALL)  # trafilatura's HTML_STRIP_TAGS
# the title, as written (RCDATA: a "<" in it is text, not a tag)
_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.DOTALL | re.IGNORECASE)
# the JSON scripts trafilatura reads metadata from (json.loads decodes their \\u escapes)
_JSON_SCRIPT = re.compile(
    r"<script\b(?=[^>]*json)[^>]*>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE
)
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_CONTENT = re.compile(r"""\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


@cache
def _mask(kind: str) -> npt.NDArray[np.bool_]:
    """One flag per code point: True for a combining character (what topic.fold deletes after
    NFKD) or for one that trafilatura deletes from text (neither printable nor white space;
    trafilatura.utils.return_printables_and_spaces). Built once, on first use."""
    mask = np.zeros(0x110000, dtype=np.bool_)
    if kind == "combining":
        mask[list(_combining_table())] = True
    else:
        mask[[i for i in range(0x110000) if not chr(i).isprintable() and not chr(i).isspace()]] = (
            True
        )
    return mask


def _delete(text: str, kind: str) -> str:
    """``text`` without the characters flagged in ``_mask(kind)``: what ``str.translate`` with a
    deleting table gives, at the speed of a few array operations (a page is 50-100 KB)."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    flagged = _mask(kind)[codes]
    if not flagged.any():
        return text
    return codes[~flagged].tobytes().decode("utf-32-le", "surrogatepass")


def fast_fold(text: str) -> str:
    """``topic.fold(text)``, the same string (tests compare them on every code point)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return unicodedata.normalize("NFC", _delete(decomposed, "combining"))


@cache
def _strip_dropped() -> re.Pattern[str]:
    """``_STRIP`` that also deletes the elements trafilatura deletes with their content before
    extracting (trafilatura.settings.MANUALLY_CLEANED: aside, form, svg, ...)."""
    from trafilatura.settings import MANUALLY_CLEANED

    names = sorted({"script", "style", *MANUALLY_CLEANED}, key=len, reverse=True)
    dropped = "|".join(re.escape(t) for t in names)
    return re.compile(
        rf"<!--.*?-->|<({dropped})\b[^>]*>.*?</\1\s*>|</?[A-Za-z!?][^>]*>",
        re.DOTALL | re.IGNORECASE,
    )


UNESCAPES = 3  # trafilatura unescapes twice ("&amp;iacute;" becomes "í"): we go one further


def unescaped(text: str) -> str:
    """Entities unescaped until none is left (at most UNESCAPES times): a page escaped twice,
    as CMSs write it, reads as trafilatura reads it. More unescaping only lets more through."""
    for _ in range(UNESCAPES):
        if "&" not in text:
            break
        text, before = html_module.unescape(text), text
        if text == before:
            break
    return text


def squash(text: str, *, unescape: bool = True) -> str:
    """Entities unescaped, invisible characters deleted, folded: the form searched."""
    if unescape:
        text = unescaped(text)
    return fast_fold(_delete(text, "invisible"))


def _json_unescaped(text: str) -> str:
    """JSON's \\uXXXX escapes decoded (surrogate pairs joined), as json.loads decodes them."""
    joined = _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return joined.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def searched_text(page: str) -> str:
    """The forms of a decoded page that are searched, joined by line breaks (see the module's
    docstring)."""
    forms = [
        squash(_STRIP.sub("", page)),  # the text; a word split by inline markup is whole here
        squash(_strip_dropped().sub("", page)),  # ... or split by an element trafilatura drops
        *(squash(t) for t in _TITLE.findall(page)),  # as written: a "<" in a title is text
    ]
    if "\\u" in page:  # JSON metadata as json.loads reads it
        jsons = _JSON_SCRIPT.findall(page)
        forms += [squash(_json_unescaped(j)) for j in jsons if "\\u" in j]
    for tag in _META.findall(page):  # meta content values, with and without the tags in them
        m = _CONTENT.search(tag)
        if m:
            value = unescaped(next(g for g in m.groups() if g is not None))
            forms += [squash(v, unescape=False) for v in (value, _TAG.sub("", value))]
    return "\n".join(forms)


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
            words = squash(term, unescape=False).split()  # folded as TopicMatcher folds it
            if not words:  # a term of characters the page form deletes: cannot be looked for
                needles.clear()
                accepts_all = True
                break
            needles.add(max(words, key=len))
            accepts_all = False
        # longest first: the rarer words, so an on-topic page is found sooner
        self.needles: tuple[str, ...] = tuple(sorted(needles, key=lambda n: (-len(n), n)))
        self.accepts_all = accepts_all

    def may_match(self, body: bytes, charset: str | None) -> bool:
        """False only when no topic term can be in the page's extracted title or text.

        ``charset`` is the response's Content-Type value (or only its charset label, or None),
        read as the pipeline reads it. A page that cannot be decoded passes (extraction then
        rejects it with its own reason, recorded as today).
        """
        if self.accepts_all:
            return True
        try:
            page, _ = decode_html(body, _header(charset))
        except Exception:  # the pipeline's extraction records why
            return True
        return self.text_may_match(page)

    def text_may_match(self, page: str) -> bool:
        """``may_match`` on a page already decoded."""
        if self.accepts_all:
            return True
        searched = searched_text(page)
        # one `in` per needle: faster than a regex alternation, and than pyahocorasick for a few
        # terms (level at 25; benchmarks/bench_prefilter.py, docs/gather-bench.md)
        return any(n in searched for n in self.needles)
