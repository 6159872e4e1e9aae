"""Honest pre-annotations, shown to annotators as predictions (never counted as annotations).

- Quotes between « », “ ” or " " that read as speech: five words or more, or a verb of saying
  next to them. Scare quotes ("pre-precursors", « options unilatérales ») are left alone.
- The speaker named next to a verb of saying, after the quote ("», dijo el vicealmirante
  Esteban Orozco Lamadrid", "», a déclaré le ministre de l'Intérieur, Alfonso Treviño Lara",
  "said a Justice Department official", "“…,” Ferrán told") or before it ("Omar García Harfuch
  declaró: «", "Pour la politologue Nathalie Berthier, «"), linked by `said`. None when the
  speaker is a pronoun ("a-t-il déclaré", "he said").
- Sentences stating figures (digits with %, million, tonnes...) as statistical Claims. Sentences
  come from sentencex (rule-based, its rules ship in the package; nothing is downloaded), per
  line and in the article's language, so "2.3 tonnes", "U.S.", "EE. UU." and "Sr." stay whole.

Offsets are Label Studio's UTF-16 units (as ``labeling.js_offset`` counts them) of the text as given. The work
is bounded: only the first ``MAX_CHARS`` characters are read, at most ``MAX_REGIONS`` regions.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Any

import sentencex

from .. import layers
from ..records import Article
from .labeling import Interface

MODEL_VERSION = "newscorpus-heuristics-1"
MAX_CHARS = 1_000_000  # far past any news article; a 60 MB text is not read to its end
MAX_REGIONS = 1_000
MIN_QUOTE_WORDS = 5  # shorter quoted words are suggested only next to a verb of saying

_QUOTES = re.compile(r"«\s*([^«»\n]{8,600}?)\s*»|“([^“”\n]{8,600}?)”|\"([^\"\n]{8,600}?)\"")
_FR_PP = (
    "déclaré|dit|affirmé|assuré|ajouté|expliqué|souligné|indiqué|averti|rappelé|lancé|estimé|"
    "insisté|répondu|reconnu|martelé|prévenu|résumé|précisé|confié|raconté|conclu|poursuivi|"
    "commenté|noté|tranché|nuancé|admis"
)
_FR_PRES = (
    "déclare|dit|affirme|assure|ajoute|explique|souligne|estime|indique|rappelle|résume|note|"
    "lance|insiste|précise|poursuit|conclut|avertit|confie|raconte|martèle|tranche|nuance|"
    "commente|admet|reconnaît|répond|prévient"
)
_ES = (
    "dijo|afirmó|declaró|aseguró|señaló|añadió|explicó|advirtió|sostuvo|indicó|insistió|"
    "comentó|matizó|agregó|subrayó|destacó|recordó|apuntó|expresó|manifestó|precisó|reconoció|"
    "respondió|admitió|concluyó|resumió|dice|afirma|asegura|señala|explica|advierte|sostiene|"
    "insiste|agrega|añade|recuerda|resume|apunta"
)
_EN = (
    "said|says|told|tells|stated|added|adds|explained|warned|insisted|noted|argued|replied|"
    "recalled|acknowledged|stressed|declared|continued|wrote|asked|conceded|cautioned"
)
_PRONOUN_VERB = (
    rf"a-t-(?:il|elle|on)\s+(?:{_FR_PP})|(?:{_FR_PRES})(?:-t)?-(?:il|elle|on)"
    rf"|(?:il|elle|on)\s+a\s+(?:{_FR_PP})|(?:il|elle)\s+(?:{_FR_PRES})"
    rf"|(?:he|she|they|it|we|I)\s+(?:{_EN})|(?:él|ella|ellos|ellas)\s+(?:{_ES})"
)
_PLAIN_VERB = rf"(?:a|ont)\s+(?:{_FR_PP})|(?:{_FR_PRES})|(?:{_ES})|(?:{_EN})"
_VERB = rf"(?<![\w-])(?<!est )(?<!se )(?:(?P<pron>{_PRONOUN_VERB})|{_PLAIN_VERB})(?![\w-])"
_UPPER = "A-ZÀ-ÖØ-ÞĀ-Ž"
_WORD = rf"[{_UPPER}][\w'’-]*"
_PARTICLE = r"(?:de|del|de la|de los|y|da|dos|van|von|di|du|des|le|la|bin|al|el)"
_NAME = rf"{_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+)?{_WORD})*"
_NAME_RE = re.compile(_NAME)
_TITLE_ABBR = (
    # titles and ranks written with a point before a name: the point ends no sentence
    "M|MM|Mme|Mmes|Mlle|Mlles|Me|Mgr|Pr|Dr|Dre|Drs|Sr|Sra|Srta|Sres|Sras|Dra|Lic|Ing|Gral|Mr|"
    "Mrs|Ms|Messrs|Prof|Gen|Lt|Col|Capt|Cap|Cmdr|Sgt|Adm|Maj|Sen|Rep|Gov|Pres|Rev|St|Sto|Sta|"
    "sr|sra|srta|dr|dra|lic|ing"
)
_ENDS_WITH_TITLE = re.compile(rf"(?:^|[^\w.])(?:{_TITLE_ABBR}|[{_UPPER}])\.$")
_TITLES_BEFORE = re.compile(rf"(?:(?:{_TITLE_ABBR})\.[ \t]+)+")
_AFTER_VERB = re.compile(rf"[ \t,.—–-]*{_VERB}(?P<rest>[^\n«»“”\"]{{0,160}})")
_AFTER_SUBJECT = re.compile(rf"[ \t,—–-]*(?P<np>[^\n«»“”\"!?;:]{{1,100}}?)[ \t]+{_VERB}")
_BEFORE_VERB = re.compile(rf"[ \t]{_VERB}(?P<tail>[^\n.!?«»“”\"]{{0,80}})$")
_TAIL_OK = re.compile(r"^[ \t]*[:,]?[ \t]*$|(?:^|[ \t])(?:que|that|qu'|:)[ \t]*$")
_FOR_SPEAKER = re.compile(r"(?:Pour|Para|According to)[ \t]+(?P<np>[^,\n«»“”\"]{1,100}),")
_NEAR_VERB_AFTER = re.compile(rf"[^\n«»“”\"]{{0,60}}?{_VERB}")
_NEAR_VERB_BEFORE = re.compile(rf"{_VERB}[^\n.!?«»“”\"]{{0,60}}$")
_INDEFINITE = re.compile(
    r"^(?:a|an|one|un|une|uno|una|l['’]un|l['’]une|alguien|quelqu['’]un)\s", re.I
)
_PRONOUN = re.compile(r"^(?:he|she|they|il|elle|ils|elles|on|él|ella|ellos|ellas)$", re.I)
_NP_END = re.compile(
    r"[.;!?](?=\s|$)|,|\s(?:qui|que|quien|quienes|who|which|that|lors|durante|during|ante|"
    r"après|after|avant|before|tras|en|in|at|on|to|à|au|al|dans|con|with|sur|sobre)\b"
)
_TITLE = re.compile(_TITLE_ABBR)
_DETERMINER = re.compile(
    r"The|A|An|This|That|Le|La|Les|L|Un|Une|Ce|Cette|El|Los|Las|Uno|Una|Este|Esta|Ese|Esa"
)
_OF = re.compile(r"(?:^|\s)(?:de|del|des|du|d['’]|l['’]|of|la|le|les|los|las|the)$")
_LINE = re.compile(r"[^\n]+")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # one character, two UTF-16 units
_SENTENCE_END = re.compile(r"[.!?][»”\"]?\s+")
_FIGURE = re.compile(
    r"\d[\d\s.,]*\s*(?:%|pour\s*cent|por\s*ciento|per\s*cent|percent|millions?|millones|"
    r"milliards?|billions?|mil\b|tonnes?|toneladas|kilos?|kg|dollars?|dólares|pesos|\$)"
    r"|[$€]\s*\d",
    re.I,
)
_MONTHS = (
    "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre|"
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|"
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|fév|mar|apr|avr|abr|jun|jul|aug|ago|sep|sept|oct|nov|dec|déc|dic|ene"
)
_COUNT = re.compile(
    # a count of something: "412 empresas", "1 800 homicides", "31 of the 45 lanes"; not a year
    # ("en 2025"), a date ("19 feb") or a time ("10 h", "3 p.m.")
    rf"(?<![\w.,])\d{{1,3}}(?:[ .,]\d{{3}})*(?:[.,]\d+)?(?![\w.,]?\d)"
    rf"[ \t]+(?!(?:de[ \t]+)?(?:{_MONTHS})\b|h\b|[ap]\.m|heures?\b|horas?\b|hours?\b|ans?\b|años?\b|years?\b)"
    r"(?:de[ \t]+|of[ \t]+|sur[ \t]+|à[ \t]+)?[^\W\d]",
    re.I,
)
_TRIM = " \t,;:—–-"


# --- sentences -----------------------------------------------------------------------------------


def _segmenter_language(language: str | None) -> str:
    """The primary subtag sentencex knows ("es-MX" -> "es"); English rules when unknown."""
    code = (language or "en").replace("_", "-").split("-")[0].lower()
    return code or "en"


def sentence_spans(
    text: str, language: str | None = None, limit: int = MAX_CHARS
) -> list[tuple[int, int]]:
    """(start, end) of each sentence in the first ``limit`` characters, spaces trimmed.

    No sentence crosses a line break; a point after a title or an initial ("M.", "Sr.",
    "Lt. Col.", "J.") ends no sentence.
    """
    lang = _segmenter_language(language)
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text, 0, min(len(text), limit)):
        base, chunk = line.start(), line.group()
        pieces: list[tuple[int, int]] = []
        pos = 0
        for b in sentencex.get_sentence_boundaries(lang, chunk):
            start, end = int(b["start_index"]), int(b["end_index"])
            if not pos <= start <= end <= len(chunk):
                continue  # not expected from sentencex; never index outside the line
            pos = end
            if pieces and _ENDS_WITH_TITLE.search(chunk[pieces[-1][0] : pieces[-1][1]].rstrip()):
                pieces[-1] = (pieces[-1][0], end)
            else:
                pieces.append((start, end))
        for start, end in pieces:
            while start < end and chunk[start].isspace():
                start += 1
            while end > start and chunk[end - 1].isspace():
                end -= 1
            if start < end:
                spans.append((base + start, base + end))
    return spans


# --- speakers ------------------------------------------------------------------------------------


def _clean_name(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without leading titles ("Lt. Col.") and trailing points or commas."""
    m = _TITLES_BEFORE.match(text, start, end)
    if m:
        start = m.end()
    while end > start and text[end - 1] in " \t.,;:":
        end -= 1
    if end - start < 2 or _PRONOUN.match(text[start:end]):
        return None
    return start, end


def _speaker_in(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The speaker in the noun phrase text[start:end] next to a verb of saying."""
    while start < end and text[start] in " \t,—–-":
        start += 1
    phrase = text[start:end]
    if not phrase.strip() or _PRONOUN.match(phrase.strip()):
        return None
    first_comma = phrase.find(",")
    head = phrase if first_comma < 0 else phrase[:first_comma]
    # a name, alone or after role words: "el vicealmirante Esteban Orozco Lamadrid", "Ferrán"
    for name in _NAME_RE.finditer(head):
        if head[name.end() : name.end() + 1] == "." and _TITLE.fullmatch(name.group()):
            continue  # "Lt." in "Lt. Col. Aaron Whitlock"
        words = [w for w in head[: name.start()].split() if not _TITLE.fullmatch(w.rstrip("."))]
        after = head[name.end() :]
        if (
            (not after.strip() or _NP_END.match(after))
            and len(words) <= 6
            and all(w[:1].islower() for w in words)
            and not _OF.search(" ".join(words))
            and not _DETERMINER.fullmatch(name.group())
        ):
            return _clean_name(text, start + name.start(), start + name.end())
        break
    # a name in apposition after a role: "le ministre de l'Intérieur, Alfonso Treviño Lara,"
    if first_comma >= 0:
        rest = phrase[first_comma + 1 :]
        lead = len(rest) - len(rest.lstrip())
        titles = _TITLES_BEFORE.match(rest, lead)
        at = titles.end() if titles else lead
        m = _NAME_RE.match(rest, at)
        if m and rest[m.end() :].lstrip()[:1] in ("", ",", ".", ";"):
            s = start + first_comma + 1 + lead
            return _clean_name(text, s, start + first_comma + 1 + m.end())
    # an unnamed speaker: "a Justice Department official", "uno de ellos", "un chauffeur de taxi"
    if _INDEFINITE.match(phrase):
        cut = _NP_END.search(phrase, 2)
        stop = cut.start() if cut else len(phrase)
        if len(phrase[:stop].split()) <= 10:
            return _clean_name(text, start, start + stop)
    return None


def _ends_sentence(text: str, line_start: int, point: int) -> bool:
    """True when the point at text[point] ends a sentence (not a title or an initial)."""
    return not _ENDS_WITH_TITLE.search(text[line_start : point + 1])


def _sentence_start(text: str, pos: int) -> int:
    """Where the sentence (or line) holding ``pos`` starts, looking back at most 300 characters."""
    lo = max(0, pos - 300)
    nl = text.rfind("\n", lo, pos)
    line = start = nl + 1 if nl >= 0 else lo
    for m in _SENTENCE_END.finditer(text, line, pos):
        if _ends_sentence(text, line, m.start()):
            start = m.end()
    return start


def _name_ending(text: str, begin: int, end: int) -> tuple[int, int] | None:
    """The name that text[begin:end] ends with ("Omar García Harfuch" of "… Omar García Harfuch")."""
    last: re.Match[str] | None = None
    for m in _NAME_RE.finditer(text, begin, end):
        last = m
    if last is None or text[last.end() : end].strip():
        return None
    return _clean_name(text, last.start(), last.end())


def _speaker(text: str, qstart: int, qend: int) -> tuple[int, int] | None:
    """The speaker of the quote text[qstart:qend] (its marks included), or None."""
    window = min(len(text), qend + 200)
    m = _AFTER_VERB.match(text, qend, window)
    if m:
        if m.group("pron"):
            return None
        return _speaker_in(text, m.start("rest"), m.end("rest"))
    m = _AFTER_SUBJECT.match(text, qend, window)
    if m and not m.group("pron") and len(m.group("np").split()) <= 8:
        np_start, np_end = m.start("np"), m.end("np")
        ends = [e.start() for e in _SENTENCE_END.finditer(text, np_start, np_end)]
        if not any(_ends_sentence(text, np_start, e) for e in ends):
            return _speaker_in(text, np_start, np_end)
    begin = max(_sentence_start(text, qstart), qstart - 160)
    m = _BEFORE_VERB.search(text, begin, qstart)
    if m and not m.group("pron") and _TAIL_OK.search(m.group("tail")):
        return _name_ending(text, begin, m.start())
    m = _FOR_SPEAKER.match(text, begin, qstart)
    if m:
        return _speaker_in(text, m.start("np"), m.end("np"))
    return None


def _said_near(text: str, qstart: int, qend: int) -> bool:
    """A verb of saying right after the quote, or shortly before it in the same sentence."""
    if _NEAR_VERB_AFTER.match(text, qend, min(len(text), qend + 80)):
        return True
    return bool(_NEAR_VERB_BEFORE.search(text, max(0, qstart - 80), qstart))


# --- result items --------------------------------------------------------------------------------


class _Units:
    """Label Studio's UTF-16 offsets of one text, as ``labeling.js_offset`` counts them, in
    O(log n) a call: the positions of its astral characters (two units each) found once."""

    def __init__(self, text: str, limit: int) -> None:
        self.astral = [m.start() for m in _ASTRAL.finditer(text, 0, limit)]

    def __call__(self, index: int) -> int:
        return index + bisect_left(self.astral, index)


def _span(units: _Units, text: str, rid: str, start: int, end: int, label: str) -> dict[str, Any]:
    return {
        "id": rid,
        "from_name": "spans",
        "to_name": "text",
        "type": "labels",
        "value": {
            "start": units(start),
            "end": units(end),
            "text": text[start:end],
            "labels": [label],
        },
    }


# The span labels and the attribute value these heuristics find; a rule whose label (or attribute)
# the layers do not define is skipped, so a corpus with other layers gets no prediction it refuses.
QUOTE, SPEAKER, CLAIM = "Quote", "Speaker", "Claim"
FIGURE_ATTRIBUTE, FIGURE_VALUE = "claim_type", "statistical"


def prelabel_result(text: str, *, language: str | None = None) -> list[dict[str, Any]]:
    """The prediction result items for one text: quotes, speakers, figure sentences."""
    spans = layers.defined().spans
    have = set(spans.label_names)
    relation = spans.relation
    with_speakers = SPEAKER in have and relation.source == SPEAKER and QUOTE in relation.targets
    figure = next(
        (
            a
            for a in spans.attributes
            if a.name == FIGURE_ATTRIBUTE and FIGURE_VALUE in a.value_names and CLAIM in a.labels
        ),
        None,
    )
    result: list[dict[str, Any]] = []
    taken: list[tuple[int, int]] = []
    limit = min(len(text), MAX_CHARS)
    units = _Units(text, limit)
    regions = 0
    n = 0
    for seen, m in enumerate(_QUOTES.finditer(text, 0, limit) if QUOTE in have else ()):
        if regions >= MAX_REGIONS or seen >= 5 * MAX_REGIONS:
            break
        group = next(g for g in (1, 2, 3) if m.group(g) is not None)
        qs, qe = m.start(group), m.end(group)
        if len(text[qs:qe].split()) < MIN_QUOTE_WORDS and not _said_near(text, m.start(), m.end()):
            continue  # a scare quote or a term, not speech
        n += 1
        qid = f"pq{n}"
        result.append(_span(units, text, qid, qs, qe, QUOTE))
        regions += 1
        taken.append((m.start(), m.end()))
        sp = _speaker(text, m.start(), m.end()) if with_speakers else None
        if sp and regions < MAX_REGIONS:
            sid = f"ps{n}"
            result.append(_span(units, text, sid, sp[0], sp[1], SPEAKER))
            regions += 1
            result.append(
                {
                    "type": "relation",
                    "from_id": sid,
                    "to_id": qid,
                    "direction": "right",
                    "labels": [relation.name],
                }
            )
    for start, end in sentence_spans(text, language, limit) if CLAIM in have else ():
        if regions >= MAX_REGIONS:
            break
        while start < end and text[start] in _TRIM:
            start += 1
        while end > start and text[end - 1] in _TRIM:
            end -= 1
        if end - start < 12 or not (
            _FIGURE.search(text, start, end) or _COUNT.search(text, start, end)
        ):
            continue
        if any(a < end and start < b for a, b in taken):
            continue
        n += 1
        cid = f"pc{n}"
        result.append(_span(units, text, cid, start, end, CLAIM))
        regions += 1
        if figure is None:
            continue
        result.append(
            {
                "id": cid,
                "from_name": figure.name,
                "to_name": "text",
                "type": "choices",
                "value": {
                    "start": units(start),
                    "end": units(end),
                    "text": text[start:end],
                    "choices": [FIGURE_VALUE],
                },
            }
        )
    return result


def prediction(article: Article, iface: Interface) -> dict[str, Any] | None:
    """A checked Label Studio prediction for an article, or None when nothing was found."""
    result = prelabel_result(article.text, language=article.language)
    if not result:
        return None
    iface.check(result, article.text, f"pre-annotation of article {article.id}")
    return {"model_version": MODEL_VERSION, "score": 0.0, "result": result}
