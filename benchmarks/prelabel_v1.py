"""The pre-annotation heuristics as they were before sentencex (newscorpus-heuristics-1), kept
verbatim as bench_prelabel.py's baseline; not used by the tool.

- Quotes between « », “ ” or " ", with the speaker named next to a verb of saying
  ("», a déclaré Sheinbaum", "said John Smith", "—dijo García Harfuch"), linked by `said`.
- Sentences stating figures (digits with %, million, tonnes...) as statistical Claims.
"""

from __future__ import annotations

import re
from typing import Any

from newscorpus.labelstudio.labeling import Interface, js_offset
from newscorpus.layers import SPANS
from newscorpus.records import Article

RELATION = SPANS.relation.name

MODEL_VERSION = "newscorpus-heuristics-1"

_QUOTES = re.compile(r"«\s*([^«»\n]{8,600}?)\s*»|“([^“”\n]{8,600}?)”|\"([^\"\n]{8,600}?)\"")
_VERBS = (
    # fr
    "a déclaré|a dit|a affirmé|a assuré|a ajouté|a expliqué|a souligné|a indiqué|a averti|"
    "déclare|affirme|assure|ajoute|explique|souligne|estime|indique|"
    # es
    "dijo|afirmó|declaró|aseguró|señaló|añadió|explicó|advirtió|sostuvo|indicó|"
    # en
    "said|says|told|stated|added|explained|warned|insisted|noted"
)
_NAME = r"(?:[A-ZÀ-ÖØ-Þ][\w'’.-]+|(?:le|la|les|el|los|the|de|del|des|du|y)\b)(?:[ \t]+(?:[A-ZÀ-ÖØ-Þ][\w'’.-]+|de|del|la|des|du|y|of|the))*"
_AFTER = re.compile(rf"^[\s,.—–-]*(?:{_VERBS})[ \t]+(?P<name>{_NAME})")
_BEFORE = re.compile(rf"(?P<name>{_NAME})[ \t]+(?:{_VERBS})[ \t]*:?[ \t]*$")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_FIGURE = re.compile(
    r"\d[\d\s.,]*\s*(?:%|pour\s*cent|por\s*ciento|per\s*cent|percent|millions?|millones|"
    r"milliards?|billions?|mil\b|tonnes?|toneladas|kilos?|kg|dollars?|dólares|pesos|\$)"
    r"|[$€]\s*\d",
    re.I,
)
_TRIM = " \t,;:—–-"


def _strip_particles(name: str) -> str:
    words = name.strip().rstrip(".,;:").split()
    while words and words[-1][:1].islower():
        words.pop()
    return " ".join(words).rstrip(".,;:")


def _span(text: str, rid: str, start: int, end: int, label: str) -> dict[str, Any]:
    return {
        "id": rid,
        "from_name": "spans",
        "to_name": "text",
        "type": "labels",
        "value": {
            "start": js_offset(text, start),
            "end": js_offset(text, end),
            "text": text[start:end],
            "labels": [label],
        },
    }


def _speaker(text: str, qstart: int, qend: int) -> tuple[int, int] | None:
    after = text[qend : qend + 120]
    m = _AFTER.match(after)
    if m:
        name = _strip_particles(m.group("name"))
        if name:
            s = qend + m.start("name")
            return s, s + len(name)
    before = text[max(0, qstart - 120) : qstart]
    m = _BEFORE.search(before)
    if m:
        name = m.group("name").strip()
        words = name.split()
        while words and words[0][:1].islower() and words[0] not in ("le", "la", "el", "the"):
            words.pop(0)
        name = " ".join(words).rstrip(".,;:")
        if name:
            s = qstart - len(before) + m.start("name") + m.group("name").index(name)
            return s, s + len(name)
    return None


def prelabel_result(text: str) -> list[dict[str, Any]]:
    """The prediction result items for one text: quotes, speakers, figure sentences."""
    result: list[dict[str, Any]] = []
    taken: list[tuple[int, int]] = []
    n = 0
    for m in _QUOTES.finditer(text):
        group = next(g for g in (1, 2, 3) if m.group(g) is not None)
        qs, qe = m.start(group), m.end(group)
        n += 1
        qid = f"pq{n}"
        result.append(_span(text, qid, qs, qe, "Quote"))
        taken.append((m.start(), m.end()))
        sp = _speaker(text, m.start(), m.end())
        if sp:
            sid = f"ps{n}"
            result.append(_span(text, sid, sp[0], sp[1], "Speaker"))
            result.append(
                {
                    "type": "relation",
                    "from_id": sid,
                    "to_id": qid,
                    "direction": "right",
                    "labels": [RELATION],
                }
            )
    for s in _SENTENCE.finditer(text):
        start, end = s.start(), s.end()
        while start < end and text[start] in _TRIM + " ":
            start += 1
        while end > start and text[end - 1] in _TRIM:
            end -= 1
        if end - start < 12 or not _FIGURE.search(text, start, end):
            continue
        if any(a < end and start < b for a, b in taken):
            continue
        n += 1
        cid = f"pc{n}"
        result.append(_span(text, cid, start, end, "Claim"))
        result.append(
            {
                "id": cid,
                "from_name": "claim_type",
                "to_name": "text",
                "type": "choices",
                "value": {
                    "start": js_offset(text, start),
                    "end": js_offset(text, end),
                    "text": text[start:end],
                    "choices": ["statistical"],
                },
            }
        )
    return result


def prediction(article: Article, iface: Interface) -> dict[str, Any] | None:
    """A checked Label Studio prediction for an article, or None when nothing was found."""
    result = prelabel_result(article.text)
    if not result:
        return None
    iface.check(result, article.text, f"pre-annotation of article {article.id}")
    return {"model_version": MODEL_VERSION, "score": 0.0, "result": result}
