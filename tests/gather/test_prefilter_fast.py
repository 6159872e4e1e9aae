"""The prefilter's fast forms are the slow ones: unrolled markup patterns match what the lazy
ones matched, and the ASCII form holds every ASCII word of the folded form."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newscorpus.gather import prefilter as pf

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [*(ROOT / "tests").rglob("*.html"), *(ROOT / "src" / "newscorpus" / "demo").rglob("*.html")]
)


def _lazy_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The patterns as first written, with lazy ".*?" (void elements as tags): the reference."""
    from trafilatura.settings import MANUALLY_CLEANED

    strip = re.compile(
        r"<!--.*?-->|<(script|style)\b(?![^>]*json)[^>]*>.*?</\1\s*>|</?[A-Za-z!?][^>]*>",
        re.DOTALL | re.IGNORECASE,
    )
    names = sorted({"script", "style", *MANUALLY_CLEANED} - pf.VOID, key=len, reverse=True)
    dropped = "|".join(re.escape(t) for t in names)
    strip_dropped = re.compile(
        rf"<!--.*?-->|<({dropped})\b[^>]*>.*?</\1\s*>|</?[A-Za-z!?][^>]*>",
        re.DOTALL | re.IGNORECASE,
    )
    return strip, strip_dropped


LAZY_STRIP, LAZY_DROPPED = _lazy_patterns()


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_unrolled_patterns_delete_what_the_lazy_ones_deleted_on_every_page(path: Path) -> None:
    page = path.read_text(encoding="utf-8", errors="replace")
    assert pf.strip(pf._STRIP, page) == LAZY_STRIP.sub("", page)
    assert pf.strip(pf._strip_dropped(), page) == LAZY_DROPPED.sub("", page)


PIECES = [
    "<script>",
    "</script>",
    "</SCRIPT >",
    "<script type='application/ld+json'>",
    "<style>",
    "</style>",
    "<!--",
    "-->",
    "--->",
    "<!--->",
    "-",
    "--",
    "<",
    ">",
    "</",
    "<aside>",
    "</aside>",
    "<form id=x>",
    "</form>",
    "<head>",
    "</head>",
    "<b>",
    "</b>",
    "<scripts>",
    "</scriptx>",
    "fen",
    "tanyl",
    " ",
    "\n",
    "é",
    "&amp;",
]


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_unrolled_patterns_equal_the_lazy_ones_on_random_markup(pieces: list[str]) -> None:
    page = "".join(pieces)
    assert pf.strip(pf._STRIP, page) == LAZY_STRIP.sub("", page)
    assert pf.strip(pf._strip_dropped(), page) == LAZY_DROPPED.sub("", page)


def test_an_unclosed_script_is_a_tag() -> None:
    page = "<p>x</p><script>var a = 1; fentanyl <b>y</b>"
    assert pf.strip(pf._STRIP, page) == LAZY_STRIP.sub("", page) == "xvar a = 1; fentanyl y"


def test_a_page_of_lt_without_gt_is_read_in_linear_time() -> None:
    """Each "<" used to be scanned to the end of the page (the lazy patterns took minutes on
    this megabyte); nothing after the last ">" can be a tag."""
    import time

    page = "<p>fentanyl</p>" + "a<b" * 300_000
    start = time.perf_counter()
    assert pf.strip(pf._STRIP, page) == "fentanyl" + "a<b" * 300_000
    assert pf.strip(pf._strip_dropped(), page) == "fentanyl" + "a<b" * 300_000
    assert pf.Prefilter(["fentanyl"]).text_may_match(page)
    assert time.perf_counter() - start < 5


def test_void_elements_are_tags_and_never_wait_for_an_end_tag() -> None:
    """``<link>`` has no content: text after it is kept in the dropped-elements form, even when
    a stray ``</link>`` comes later (parsers ignore it), as lxml reads it."""
    page = '<link rel="x">fentanyl<input name="q"> seized</link>'
    assert pf.strip(pf._strip_dropped(), page) == "fentanyl seized"
    assert pf.strip(pf._strip_dropped(), "<form>fentanyl</form>x") == "x"


def test_ascii_squash_is_the_ascii_of_squash_on_every_code_point() -> None:
    """Code point by code point, in blocks: joined by line breaks, which neither form changes
    and nothing composes across, each piece is compared with its own."""
    chars = [chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF and i != 10]
    for i in range(0, len(chars), 4096):
        block = "\n".join(chars[i : i + 4096])
        fast = pf.ascii_squash(block).split(b"\n")
        slow = [p.encode("ascii", "ignore") for p in pf.squash(block, unescape=False).split("\n")]
        assert len(fast) == len(slow) == len(chars[i : i + 4096])
        assert fast == slow, next(
            hex(ord(c)) for c, a, b in zip(chars[i : i + 4096], fast, slow, strict=True) if a != b
        )


def _ascii_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[\x21-\x7e]+", text)}


def test_every_ascii_word_of_the_folded_form_is_in_the_ascii_form() -> None:
    rng = random.Random(14)
    alphabet = [chr(i) for i in range(0x3000) if not 0xD800 <= i <= 0xDFFF]
    alphabet += ["\u00ad", "\u200b", "\u0301", "\u0338", "ß", "ŉ", "İ", "ﬁ", "\x07", "K"]
    for _ in range(3000):
        s = "".join(
            rng.choice([rng.choice("fentanyl México"), rng.choice(alphabet)]) for _ in range(30)
        )
        folded, fast = pf.squash(s, unescape=False), pf.ascii_squash(s)
        for word in _ascii_words(folded):
            assert word.encode() in fast, (s, word)


def test_ascii_and_other_needles_are_both_looked_for() -> None:
    both = pf.Prefilter(["fentanyl", "Москва"])
    assert both.ascii_needles == (b"fentanyl",) and both.other_needles == ("москва",)
    assert both.text_may_match("<p>La ruta del FENTAN&Iacute;L y Fentanyl</p>")
    assert both.text_may_match("<p>Новости: <b>Моск</b>ва</p>")
    assert not both.text_may_match("<p>Новости из Киева y nada más</p>")
