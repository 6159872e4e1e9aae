"""Pre-annotations against the spans annotators keep, before and after, and their cost.

- Gold: the demo's bundled annotations (src/newscorpus/demo/samples/annotations.json, every span
  any annotator kept, on trafilatura's text of the page, as `make demo` submits them) and the
  tests' annotation (tests/studio/helpers.py, full_result over QUOTE_TEXT).
- Before: benchmarks/prelabel_v1.py (the heuristics as they were); after: newscorpus.labelstudio.prelabel.
- Precision and recall per label (Claim, Quote, Speaker), exact (same offsets) and overlap (a
  character in common), as newscorpus.quality.spans.spans_match defines them.
- Cost: seconds to pre-label a long text (NEWSCORPUS_BENCH_PRELABEL_MB, default 60 MB).

Writes its tables into docs/prelabel.md between the bench_prelabel markers (never retyped by
hand); `--no-write` only prints. Goal: the long text pre-labelled in under 10 s.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from tests.studio.helpers import QUOTE_TEXT, full_result  # noqa: E402

import prelabel_v1  # noqa: E402
from docs_block import write_block  # noqa: E402
from newscorpus.gather.extract import extract_html  # noqa: E402
from newscorpus.labelstudio import prelabel  # noqa: E402
from newscorpus.labelstudio.labeling import py_offset  # noqa: E402
from newscorpus.quality.spans import spans_match  # noqa: E402

SAMPLES = REPO / "src" / "newscorpus" / "demo" / "samples"
DOC = REPO / "docs" / "prelabel.md"
BEGIN, END = "<!-- bench_prelabel:begin -->", "<!-- bench_prelabel:end -->"
LABELS = ("Claim", "Quote", "Speaker")
MODES = ("exact", "overlap")
MB = float(os.environ.get("NEWSCORPUS_BENCH_PRELABEL_MB", "60"))

Span = dict[str, Any]
Labeller = Callable[[str, str | None], list[dict[str, Any]]]


@dataclass
class Case:
    """One article text with the distinct spans its annotators kept."""

    name: str
    language: str | None
    text: str
    gold: list[Span]


def _nth(text: str, quote: str, occurrence: int) -> int:
    i = -1
    for _ in range(max(1, occurrence)):
        i = text.find(quote, i + 1)
        if i < 0:
            raise SystemExit(f"annotations.json: {quote[:60]!r} is not in the extracted text")
    return i


def demo_cases() -> list[Case]:
    """The demo pages as the gatherer extracts them, with every span an annotator kept."""
    specs = json.loads((SAMPLES / "annotations.json").read_text(encoding="utf-8"))
    cases: dict[str, Case] = {}
    for spec in specs:
        if spec.get("cancelled"):
            continue
        page = spec["page"]
        if page not in cases:
            html = (SAMPLES / "site" / page).read_bytes().replace(b"{BASE}", b"http://127.0.0.1")
            got = extract_html(html, "text/html; charset=utf-8", f"http://127.0.0.1/{page}")
            cases[page] = Case(page, _language(html), got.text, [])
        case = cases[page]
        for s in spec["spans"]:
            start = _nth(case.text, s["quote"], s.get("occurrence", 1))
            span = {"label": s["label"], "start": start, "end": start + len(s["quote"])}
            if span not in case.gold:
                case.gold.append(span)
    return list(cases.values())


def _language(html: bytes) -> str | None:
    head = html[:2000].decode("utf-8", "replace")
    marker = '<html lang="'
    i = head.find(marker)
    return head[i + len(marker) : i + len(marker) + 2] if i >= 0 else None


def test_cases() -> list[Case]:
    """The tests' annotation of QUOTE_TEXT."""
    gold = []
    for item in full_result(QUOTE_TEXT):
        if item.get("type") == "labels":
            v = item["value"]
            gold.append({"label": v["labels"][0], "start": v["start"], "end": v["end"]})
    return [Case("tests/studio/helpers.py QUOTE_TEXT", "fr", QUOTE_TEXT, gold)]


def predicted(labeller: Labeller, case: Case) -> list[Span]:
    """The labelled regions of a pre-annotation, in Python string offsets."""
    out = []
    for item in labeller(case.text, case.language):
        if item.get("type") != "labels":
            continue
        v = item["value"]
        start, end = py_offset(case.text, v["start"]), py_offset(case.text, v["end"])
        assert case.text[start:end] == v["text"], (case.name, v)
        out.append({"label": v["labels"][0], "start": start, "end": end})
    return out


def score(labeller: Labeller, cases: list[Case]) -> dict[tuple[str, str], tuple[float, float]]:
    """(label, mode) -> (precision, recall) over all cases."""
    hits: dict[tuple[str, str], list[int]] = {}
    for case in cases:
        pred = predicted(labeller, case)
        for label in LABELS:
            p = [s for s in pred if s["label"] == label]
            g = [s for s in case.gold if s["label"] == label]
            for mode in MODES:
                h = hits.setdefault((label, mode), [0, 0, 0, 0])
                h[0] += sum(1 for s in p if any(spans_match(s, t, mode) for t in g))  # type: ignore[arg-type]
                h[1] += len(p)
                h[2] += sum(1 for t in g if any(spans_match(s, t, mode) for s in p))  # type: ignore[arg-type]
                h[3] += len(g)
    return {
        k: (v[0] / v[1] if v[1] else 0.0, v[2] / v[3] if v[3] else 0.0) for k, v in hits.items()
    }


def counts(labeller: Labeller, cases: list[Case]) -> dict[str, tuple[int, int]]:
    """label -> (predicted regions, gold regions)."""
    out = {}
    for label in LABELS:
        n_pred = sum(1 for c in cases for s in predicted(labeller, c) if s["label"] == label)
        n_gold = sum(1 for c in cases for s in c.gold if s["label"] == label)
        out[label] = (n_pred, n_gold)
    return out


def before(text: str, language: str | None) -> list[dict[str, Any]]:
    return prelabel_v1.prelabel_result(text)


def after(text: str, language: str | None) -> list[dict[str, Any]]:
    return prelabel.prelabel_result(text, language=language)


def table(cases: list[Case]) -> list[str]:
    b, a = score(before, cases), score(after, cases)
    nb, na = counts(before, cases), counts(after, cases)
    lines = []
    for label in LABELS:
        lines += [
            f"**{label}** ({nb[label][1]} kept by annotators; suggested: "
            f"{nb[label][0]} before, {na[label][0]} after)",
            "",
            "| match | precision before | precision after | recall before | recall after |",
            "|---|---:|---:|---:|---:|",
        ]
        for mode in MODES:
            pb, rb = b[(label, mode)]
            pa, ra = a[(label, mode)]
            lines.append(f"| {mode} | {pb:.2f} | {pa:.2f} | {rb:.2f} | {ra:.2f} |")
        lines.append("")
    return lines


def long_text(mb: float) -> str:
    para = (
        "« Ce dont nous avons besoin, ce sont des informations », a déclaré Sheinbaum. "
        "Selon le ministère, 97 % des drogues qui entrent par mer ont été stoppées en 2025. "
        "Les autorités de EE. UU. ont saisi environ 2.3 tonnes de précurseurs.\n\n"
    )
    return para * max(1, int(mb * 1_000_000 / len(para.encode("utf-8"))))


def main() -> int:
    write = "--no-write" not in sys.argv[1:]
    demo, tests = demo_cases(), test_cases()
    n_words = sum(len(c.text.split()) for c in demo)
    lines = [
        BEGIN,
        "",
        "Measured by `benchmarks/bench_prelabel.py`. Before: the heuristics as they were, with a"
        " regular expression for sentences (kept in `benchmarks/prelabel_v1.py`); after:"
        " `src/newscorpus/labelstudio/prelabel.py` with sentencex.",
        "",
        f"### The demo's annotations ({len(demo)} articles, {n_words:,} words, every span that"
        " any of the three annotators kept)",
        "",
        *table(demo),
        "### The tests' annotation (`tests/studio/helpers.py`, QUOTE_TEXT)",
        "",
        *table(tests),
    ]
    text = long_text(MB)
    t = time.perf_counter()
    result = prelabel.prelabel_result(text, language="fr")
    took = time.perf_counter() - t
    regions = sum(1 for r in result if r.get("type") == "labels")
    lines += [
        "### Cost on a long text",
        "",
        f"A {len(text.encode('utf-8')) / 1e6:.0f} MB text is pre-labelled in {took:.2f} s "
        f"({regions:,} regions: only its first {prelabel.MAX_CHARS:,} characters are read, "
        f"and at most {prelabel.MAX_REGIONS:,} regions are suggested).",
        "",
        END,
    ]
    block = "\n".join(lines)
    print(block)
    if write:
        write_block(DOC, BEGIN, END, block)
        print(f"\nwritten to {DOC.relative_to(REPO)}")
    ok = took < 10
    print("\nresult:", "goal met" if ok else "GOAL NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
