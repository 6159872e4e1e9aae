"""The topic prefilter: a cheap test of the raw page for a topic term, before extraction.

Extraction (trafilatura) is the cost of a gather, and in an archive almost every record is off
topic. ``Prefilter.may_match`` tells whether a page *may* pass the topic filter; only pages for
which it is True need extracting. It is a superset test: it must never say False for a page that
extraction + ``TopicMatcher`` would keep. How it stays one:

- the page is decoded by ``extract.decode_html`` (the pipeline's own charset rules), HTML
  entities are unescaped (``html.unescape``), the characters trafilatura deletes from text
  (neither printable nor white space: soft hyphen, zero-width space ...) are deleted, and the
  result is folded as ``topic.fold`` folds (case and accents; ``fast_fold`` is the same function
  on arrays, tested equal on every code point); a word of ASCII letters, most topic words, is
  looked for in ``ascii_squash``'s form instead, which holds every ASCII word of the folded one
  at a fraction of the cost;
- the topic filter matches whole words on the extracted title and text; the prefilter only
  looks for one word of each term (its longest), as a substring: a multi-word term may match the
  text across a paragraph break (``drug<br>cartel``), so only single words are looked for, and
  word boundaries are not checked;
- it searches the page's text with comments, tags, scripts and styles deleted (a word split by
  inline markup, ``fen<b>tanyl</b>`` or ``fen<script>…</script>tanyl``, is one word in
  trafilatura's text, and here); the same with the elements trafilatura drops with their content
  deleted too (aside, form, svg, ...: trafilatura.settings.MANUALLY_CLEANED; void ones, link or
  input, have no content and are deleted as tags); the title as
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
# An element's content is matched "unrolled" (runs without "<", or a "<" that does not close it,
# possessive: no backtracking) rather than with a lazy ".*?": the same match, ten times faster on
# the scripts and styles that make half of a news page (tests compare both forms on every page).
_COMMENT = r"!--(?:[^-]++|-(?!->))*+-->"


def _element(name: str, attributes: str = r"[^>]*") -> str:
    r"""``<name ...>content</name>``, after the "<": what ``name\b[^>]*>.*?</name\s*>`` matches."""
    return rf"{name}\b{attributes}>(?:[^<]++|<(?!/{name}\s*>))*+</{name}\s*>"


_MARKUP = (
    rf"<(?:{_COMMENT}|{_element('script', r'(?![^>]*json)[^>]*')}|{_element('style')}"
    r"|/?[A-Za-z!?][^>]*>)"
)
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


# HTML void elements: no content, no end tag ("</link>" is ignored by parsers); deleted as tags
VOID = frozenset({"area", "embed", "frame", "input", "link", "param", "source", "track"})


@cache
def _strip_dropped() -> re.Pattern[str]:
    """``_STRIP`` that also deletes the elements trafilatura deletes with their content before
    extracting (trafilatura.settings.MANUALLY_CLEANED: aside, form, svg, ...; void ones such as
    link or input have no content: deleted as tags, never looked for an end tag)."""
    from trafilatura.settings import MANUALLY_CLEANED

    names = sorted({"script", "style", *MANUALLY_CLEANED} - VOID, key=len, reverse=True)
    dropped = "|".join(_element(re.escape(t)) for t in names)
    return re.compile(rf"<(?:{_COMMENT}|{dropped}|/?[A-Za-z!?][^>]*>)", re.DOTALL | re.IGNORECASE)


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


# ASCII characters that trafilatura deletes (neither printable nor white space)
_ASCII_INVISIBLE = bytes(i for i in range(128) if not chr(i).isprintable() and not chr(i).isspace())


def ascii_squash(text: str) -> bytes:
    """The ASCII characters of ``squash(text, unescape=False)``, the others deleted: a word of
    ASCII letters in ``squash``'s form is in this one too (it may hold more), at a tenth of the
    cost. Why: casefold and NFKD work a character at a time, and for every code point ``c`` the
    ASCII characters of ``NFKD(casefold(c))`` are those of ``squash(c)`` (tested on each one:
    an invisible character gives none); what ``squash`` does besides (delete combining marks,
    NFC) only deletes or composes non-ASCII characters, so a run of ASCII characters with nothing
    between them in ``squash``'s form has nothing between them here either."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return folded.encode("ascii", "ignore").translate(None, _ASCII_INVISIBLE)


def _json_unescaped(text: str) -> str:
    """JSON's \\uXXXX escapes decoded (surrogate pairs joined), as json.loads decodes them."""
    joined = _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return joined.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def strip(pattern: re.Pattern[str], page: str) -> str:
    """``pattern.sub("", page)`` on a markup pattern: every match ends with ">", so the text after
    the last ">" is kept as it is, without scanning it from each "<" in it (a page of "<" and no
    ">" would take time quadratic in its length)."""
    end = page.rfind(">") + 1
    return pattern.sub("", page[:end]) + page[end:]


def page_forms(page: str) -> str:
    """The forms of a decoded page that are searched (see the module's docstring), entities
    unescaped, not yet folded, joined by line breaks (folding works a character at a time and
    no needle holds a line break, so folding the joined forms is folding each)."""
    forms = [
        unescaped(strip(_STRIP, page)),  # the text; a word split by inline markup is whole here
        unescaped(strip(_strip_dropped(), page)),  # ... or split by an element trafilatura drops
        *(unescaped(t) for t in _TITLE.findall(page)),  # as written: a "<" in a title is text
    ]
    if "\\u" in page:  # JSON metadata as json.loads reads it
        jsons = _JSON_SCRIPT.findall(page)
        forms += [unescaped(_json_unescaped(j)) for j in jsons if "\\u" in j]
    for tag in _META.findall(page):  # meta content values, with and without the tags in them
        m = _CONTENT.search(tag)
        if m:
            value = unescaped(next(g for g in m.groups() if g is not None))
            forms += [value, _TAG.sub("", value)]
    return "\n".join(forms)


def searched_text(page: str) -> str:
    """The forms of a decoded page that are searched, folded, joined by line breaks."""
    return squash(page_forms(page), unescape=False)


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
        # words of ASCII letters are looked for in ascii_squash's form (the common case: ten
        # times cheaper); the others in squash's
        self.ascii_needles = tuple(n.encode() for n in self.needles if n.isascii())
        self.other_needles = tuple(n for n in self.needles if not n.isascii())
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
        forms = page_forms(page)
        # one `in` per needle: faster than a regex alternation, and than pyahocorasick for a few
        # terms (level at 25; benchmarks/bench_prefilter.py, docs/gather-bench.md)
        if self.ascii_needles:
            searched = ascii_squash(forms)
            if any(n in searched for n in self.ascii_needles):
                return True
        if self.other_needles:
            folded = squash(forms, unescape=False)
            return any(n in folded for n in self.other_needles)
        return False
