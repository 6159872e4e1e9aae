"""The topic prefilter: never drops a page that extraction + the topic filter keeps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newscorpus.config import load_config
from newscorpus.errors import ConfigError
from newscorpus.gather.extract import ExtractFailed, extract_html
from newscorpus.gather.prefilter import Prefilter
from newscorpus.gather.topic import TopicMatcher

from ..conftest import MINIMAL_TOML, write_corpus

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS_TERMS = ["fentanyl", "fentanilo", "cártel", "Sheinbaum"]
TERMS = [*CORPUS_TERMS, "México", "cártel de Sinaloa", "souveraineté", "Operación"]
FILLER = (
    "El informe semanal describe las reuniones del consejo municipal y los presupuestos del "
    "año, con datos de cada barrio y las opiniones de los vecinos consultados. "
) * 6


def page(fragment: str, *, title: str = "Informe semanal", meta: str = "") -> str:
    return (
        f"<!doctype html><html><head>{meta}<title>{title}</title></head><body><article>"
        f"<h1>{title}</h1><p>{FILLER}</p><p>{FILLER} {fragment} {FILLER}</p><p>{FILLER}</p>"
        "</article></body></html>"
    )


def kept(body: bytes, content_type: str | None, terms: list[str]) -> bool:
    """What the pipeline decides: extract, then the topic filter on title and text."""
    try:
        ex = extract_html(body, content_type, "http://127.0.0.1/a")
    except ExtractFailed:
        return False
    matcher = TopicMatcher(terms)
    return matcher.accepts_all or bool(matcher.matches(ex.title, ex.text))


def extracted_text(body: bytes) -> str:
    return extract_html(body, None, "http://127.0.0.1/a").text


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.html")), ids=lambda p: p.name)
def test_every_fixture_page_the_topic_filter_keeps_passes(path: Path) -> None:
    body = path.read_bytes()
    checked = 0
    for terms in [CORPUS_TERMS, TERMS, *([t] for t in TERMS)]:
        if kept(body, "text/html", terms):
            checked += 1
            assert Prefilter(terms).may_match(body, "text/html"), (path.name, terms)
    # the corpus's own terms: every fixture is checked against something
    assert checked or path.name == "en_sports_menu.html"


def test_fixtures_kept_by_the_corpus_terms_are_the_expected_ones() -> None:
    """The superset test above checks real cases: the topic filter keeps most fixtures."""
    kept_names = {
        p.name for p in FIXTURES.glob("*.html") if kept(p.read_bytes(), None, CORPUS_TERMS)
    }
    assert {"de_fentanyl.html", "en_fentanyl_labs.html", "es_cp1252.html"} <= kept_names


def test_off_topic_page_is_dropped() -> None:
    body = page("Los vecinos votaron el presupuesto.").encode()
    assert not kept(body, None, CORPUS_TERMS)
    assert not Prefilter(CORPUS_TERMS).may_match(body, None)


@pytest.mark.parametrize(
    ("fragment", "terms"),
    [
        ("decomisaron fentan&iacute;lo en la frontera", ["fentanílo"]),
        ("decomisaron fentan&iacute;lo en la frontera", ["fentanilo"]),
        ("la frontera con M&eacute;xico", ["México"]),
        ("la frontera con M&#233;xico", ["mexico"]),
        ("la frontera con M&#xE9;XICO", ["México"]),
        ("el c&aacute;rtel y sus rutas", ["cártel"]),
        ("el CÁRTEL DE SINALOA opera", ["cártel de Sinaloa"]),
        ("el cártel\n<br>de <i>Sinaloa</i> opera", ["cártel de Sinaloa"]),
        ("fen&shy;tanyl seized", ["fentanyl"]),
        ("fen&#8203;tanyl seized", ["fentanyl"]),
    ],
)
def test_entities_case_accents_and_invisible_characters(fragment: str, terms: list[str]) -> None:
    body = page(fragment).encode()
    assert kept(body, None, terms)  # the full pipeline keeps each of these pages
    assert Prefilter(terms).may_match(body, None)


@pytest.mark.parametrize(
    "fragment",
    [
        "fen<b>tanyl</b> seized",
        "fen<span class='x'>tan</span>yl seized",
        "fen<!-- a > b -->tanyl seized",
        "fen<script>var x = 1;</script>tanyl seized",
        "fen<wbr>tanyl seized",
    ],
)
def test_a_word_split_by_markup_is_one_word_for_the_extractor_and_the_prefilter(
    fragment: str,
) -> None:
    """trafilatura joins the pieces (``fen<b>tanyl</b>`` is ``fentanyl`` in its text), so the
    topic filter keeps the page and the prefilter must pass it: it does."""
    body = page(fragment).encode()
    assert "fentanyl seized" in extracted_text(body)
    assert kept(body, None, ["fentanyl"])
    assert Prefilter(["fentanyl"]).may_match(body, None)


def test_a_word_split_by_a_line_break_is_two_words_and_the_prefilter_may_pass_it() -> None:
    """``fen<br>tanyl`` is two words for the extractor (not kept); the prefilter lets it
    through (it deletes tags), which costs one extraction and loses nothing."""
    body = page("fen<br>tanyl seized").encode()
    assert not kept(body, None, ["fentanyl"])
    assert Prefilter(["fentanyl"]).may_match(body, None)


@pytest.mark.parametrize("declared", ["header", "meta", "none"])
@pytest.mark.parametrize("encoding", ["utf-8", "windows-1252"])
def test_charsets_declared_or_not(encoding: str, declared: str) -> None:
    meta = f'<meta charset="{encoding}">' if declared == "meta" else ""
    body = page("el cártel y el fentanilo en México", meta=meta).encode(encoding)
    header = f"text/html; charset={encoding}" if declared == "header" else "text/html"
    for terms in (["cártel"], ["México"], ["fentanilo"]):
        assert kept(body, header, terms), (encoding, declared, terms)
        assert Prefilter(terms).may_match(body, header)
        if declared == "header":  # the charset label alone is read the same way
            assert Prefilter(terms).may_match(body, encoding)
    off = page("el consejo y el presupuesto", meta=meta).encode(encoding)
    assert not Prefilter(["cártel", "México"]).may_match(off, header)


def test_title_only_in_an_attribute_passes() -> None:
    meta = '<meta property="og:title" content="Fentanyl: the week">'
    body = page("nada", title="", meta=meta).encode()
    assert kept(body, None, ["fentanyl"])
    assert Prefilter(["fentanyl"]).may_match(body, None)


def test_no_topic_terms_everything_passes() -> None:
    for terms in ([], ["", "  "]):
        pf = Prefilter(terms)
        assert pf.accepts_all
        assert pf.may_match(b"\xff\xfe not even html", None)
        assert pf.may_match(page("nada").encode(), None)


def test_an_undecodable_page_passes_to_extraction() -> None:
    """Extraction rejects it with its own reason (recorded as today), so the prefilter passes it."""
    body = bytes(range(256)) * 4
    with pytest.raises(ExtractFailed, match="character set"):
        extract_html(body, None, "http://127.0.0.1/a")
    assert Prefilter(["fentanyl"]).may_match(body, "charset=nonsense")


def test_prefilter_is_picklable_for_workers() -> None:
    import pickle

    pf = pickle.loads(pickle.dumps(Prefilter(TERMS)))
    assert pf.may_match(page("fentanilo").encode(), None)
    assert not pf.may_match(page("nada").encode(), None)


# --- random pages: whenever extraction + topic keep a page, the prefilter passes it ---------------

ENTITY = {"é": ["é", "&eacute;", "&#233;", "&#xe9;", "É", "&Eacute;", "e", "E"]}
ENTITY |= {"á": ["á", "&aacute;", "&#225;", "a", "A"], "í": ["í", "&iacute;", "&#237;", "i"]}
MARKUP = [
    "",
    "",
    "",
    "<b>",
    "</b>",
    "<i>",
    "</i>",
    "<span>",
    "</span>",
    "<!-- c -->",
    "<br>",
    "<script>x</script>",
    "&shy;",
    "&nbsp;",
    " ",
    "\n",
    "<p>",
    "</p>",
    "&amp;",
    "<wbr>",
]
WORDS = ["fentanyl", "fentanilo", "cártel", "México", "Sinaloa", "souveraineté", "de", "el"]


@st.composite
def spelled(draw: st.DrawFn, word: str) -> str:
    """``word`` with letters as entities or other cases, and markup between letters."""
    out = []
    for ch in word:
        choices = ENTITY.get(ch.lower(), [ch, ch.upper(), ch.lower()])
        out.append(draw(st.sampled_from(choices)))
        if draw(st.integers(0, 4)) == 0:
            out.append(draw(st.sampled_from(MARKUP)))
    return "".join(out)


@st.composite
def random_page(draw: st.DrawFn) -> tuple[bytes, str | None]:
    words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6))
    parts = [draw(spelled(w)) + draw(st.sampled_from([*MARKUP, " ", " "])) for w in words]
    title = draw(st.sampled_from(["Informe semanal", draw(spelled("México")), ""]))
    encoding = draw(st.sampled_from(["utf-8", "windows-1252"]))
    declared = draw(st.sampled_from(["header", "meta", "none"]))
    meta = f'<meta charset="{encoding}">' if declared == "meta" else ""
    header = f"text/html; charset={encoding}" if declared == "header" else None
    return page("".join(parts), title=title, meta=meta).encode(encoding), header


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(random_page(), st.lists(st.sampled_from(TERMS), min_size=1, max_size=3))
def test_random_pages_kept_by_the_pipeline_pass_the_prefilter(
    built: tuple[bytes, str | None], terms: list[str]
) -> None:
    body, header = built
    if kept(body, header, terms):
        assert Prefilter(terms).may_match(body, header)


# --- [gather] prefilter in corpus.toml -----------------------------------------------------------


def test_config_prefilter_default_true_and_false(tmp_path: Path) -> None:
    assert load_config(write_corpus(tmp_path / "a")).gather.prefilter is True
    cfg = load_config(
        write_corpus(tmp_path / "b", MINIMAL_TOML + "\n[gather]\nprefilter = false\n")
    )
    assert cfg.gather.prefilter is False


def test_config_prefilter_not_a_boolean(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "c", MINIMAL_TOML + '\n[gather]\nprefilter = "no"\n')
    with pytest.raises(
        ConfigError, match=r"corpus.toml:\d+: gather.prefilter: expected bool, got str"
    ):
        load_config(root)


def test_cli_prefilter_not_a_boolean_is_one_line_exit_2(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    root = write_corpus(tmp_path / "d", MINIMAL_TOML + "\n[gather]\nprefilter = 1\n")
    before = (root / "corpus.toml").read_bytes()
    res = cli("--corpus", root, "validate")
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "gather.prefilter: expected bool, got int" in lines[0]
    assert (root / "corpus.toml").read_bytes() == before


# --- the prefilter's own fold and character deletion are topic.fold's and trafilatura's ---------


def test_fast_fold_is_topic_fold_on_every_code_point_and_on_mixed_text() -> None:
    import random

    from newscorpus.gather.prefilter import fast_fold
    from newscorpus.gather.topic import fold

    chars = [chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF]
    for i in range(0, len(chars), 4096):  # every code point, in blocks
        block = "".join(chars[i : i + 4096])
        assert fast_fold(block) == fold(block)
    rng = random.Random(13)
    for _ in range(300):
        s = "".join(
            rng.choice(["a", "É", "\u0301", "ñ", "\u00ad", " ", rng.choice(chars)])
            for _ in range(40)
        )
        assert fast_fold(s) == fold(s)


def test_squash_deletes_what_trafilatura_deletes() -> None:
    from trafilatura.utils import remove_control_characters

    from newscorpus.gather.prefilter import squash

    chars = "".join(chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF)
    assert squash(chars, unescape=False) == squash(remove_control_characters(chars), unescape=False)
    assert squash("fen\u00adtanyl\u200b", unescape=False) == "fentanyl"


def test_json_ld_headline_with_escapes_and_a_title_holding_a_bracket() -> None:
    ld = (
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"headline": "Rutas de M\\u00e9xico"}</script>'
    )
    body = page("nada", title="", meta=ld).encode()
    pf = Prefilter(["México"])
    assert pf.may_match(body, None)
    body = page("nada", title="a <b fentanyl").encode()
    assert Prefilter(["fentanyl"]).may_match(body, None)


def test_a_comment_opened_in_a_script_does_not_hide_the_text() -> None:
    body = page("<script><!-- var a = 1;</script> fentanyl seized").encode()
    assert kept(body, None, ["fentanyl"])
    assert Prefilter(["fentanyl"]).may_match(body, None)
    body = page("<!-- <script> --> fentanyl seized <script>x</script>").encode()
    assert kept(body, None, ["fentanyl"])
    assert Prefilter(["fentanyl"]).may_match(body, None)


@pytest.mark.parametrize(
    "dropped",
    [
        "<aside>note</aside>",
        "<button>x</button>",
        "<svg><text>x</text></svg>",
        "<noscript>x</noscript>",
        "<label>x</label>",
        "<time>x</time>",
    ],
)
def test_a_word_split_by_an_element_trafilatura_drops_passes(dropped: str) -> None:
    """trafilatura deletes these elements with their content and joins what is around them."""
    body = page(f"fen{dropped}tanyl seized").encode()
    assert "fentanyl seized" in extracted_text(body)
    assert kept(body, None, ["fentanyl"])
    assert Prefilter(["fentanyl"]).may_match(body, None)
