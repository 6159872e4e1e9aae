"""Topic prefilter benchmark: the cost of gather/prefilter.py per page, and its matcher.

1,000 synthetic pages (not real news; marked synthetic) of 50-100 KB of HTML (inline CSS and
scripts, a navigation menu, an article with inline markup, accents and entities, a footer), 1%
of them holding a topic term. Measured on one core, CPU time, best of 3 rounds:
- preparing the searched text (decode with extract.decode_html, markup deleted, entities,
  then folding, or the ASCII form that words of ASCII letters are looked for in: the shared part) and matching it with one `in` per needle (what prefilter.py uses), one compiled regex
  alternation, and pyahocorasick when it is installed (not a dependency: `pip install
  pyahocorasick` to measure it), for 4 (the tests' corpus), 25 and 200 terms, on the searched
  text of the first MATCH_PAGES pages; every matcher must give the same decisions;
- against extraction (extract_html, what the prefilter saves) on a sample of the pages.
Sizes: BENCH_PREFILTER_PAGES (default 1000). At the default size it writes what it prints into
docs/gather-bench.md (`--no-write` only prints).
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable

from docs_block import REPO, run_recorded
from newscorpus.gather.extract import decode_html, extract_html
from newscorpus.gather.prefilter import Prefilter, ascii_squash, page_forms, searched_text

N = int(os.environ.get("BENCH_PREFILTER_PAGES", "1000"))
ON_TOPIC = 0.01
ROUNDS = 3
EXTRACT_SAMPLE = 40
MATCH_PAGES = 200
TERM_COUNTS = (4, 25, 200)
CORPUS_TERMS = ["fentanyl", "fentanilo", "cártel", "Sheinbaum"]
COMMON = str.split(
    "el la de que y en los se del las por un para con una su al es lo como más pero sus le ya "
    "o este sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde "
    "the of and to in is that for it as with was on be by at this from or an are which"
)
ACCENTED = str.split("año además política región según también información económica mañana")


def vocab(rng: random.Random, n: int) -> list[str]:
    return [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 10)))
        for _ in range(n)
    ]


def make_page(rng: random.Random, words: list[str], on_topic: bool) -> bytes:
    """One synthetic page of 50-100 KB."""
    target = rng.randint(50_000, 100_000)
    css = "".join(f".c{i}{{margin:{i}px;color:#{i:06x}}}" for i in range(rng.randint(300, 600)))
    js = "".join(f"var v{i}='{rng.choice(words)}';" for i in range(rng.randint(300, 700)))
    nav = "".join(
        f'<li><a href="/s/{rng.choice(words)}">{rng.choice(words).title()}</a></li>'
        for _ in range(rng.randint(40, 90))
    )
    head = (
        '<!doctype html><html lang="es"><head><meta charset="utf-8">'
        '<meta name="synthetic" content="true">'
        f"<title>{' '.join(rng.choices(words, k=6))}</title><style>{css}</style>"
        f"<script>{js}</script></head><body><nav><ul>{nav}</ul></nav><article>"
    )
    foot = (
        "</article><footer>"
        + "".join(f'<a href="/f/{w}">{w}</a> ' for w in rng.choices(words, k=200))
        + "</footer></body></html>"
    )
    paras: list[str] = []
    size = len(head) + len(foot)
    while size < target:
        ws = []
        for _ in range(rng.randint(40, 120)):
            r = rng.random()
            w = rng.choice(COMMON) if r < 0.5 else rng.choice(ACCENTED if r < 0.55 else words)
            if rng.random() < 0.02:
                w = f"<b>{w}</b>" if rng.random() < 0.5 else f'<a href="/t/{w}">{w}</a>'
            elif rng.random() < 0.01:
                w = w.replace("a", "&aacute;", 1)
            ws.append(w)
        p = f"<p>{' '.join(ws)}.</p>"
        paras.append(p)
        size += len(p)
    if on_topic:
        term = rng.choice(["fentan&iacute;lo", "Fentanyl", "c&aacute;rtel", "CÁRTEL", "Sheinbaum"])
        i = rng.randrange(len(paras))
        paras[i] = paras[i].replace("<p>", f"<p>{term} ", 1)
    return (head + "".join(paras) + foot).encode("utf-8")


def best_cpu(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def matchers(needles: tuple[str, ...]) -> dict[str, Callable[[str], bool]]:
    import re

    pattern = re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
    found: dict[str, Callable[[str], bool]] = {
        "`in` per needle": lambda hay: any(n in hay for n in needles),
        "regex alternation": lambda hay: pattern.search(hay) is not None,
    }
    try:
        import ahocorasick
    except ImportError:
        return found
    automaton = ahocorasick.Automaton()
    for n in needles:
        automaton.add_word(n, n)
    automaton.make_automaton()
    found["pyahocorasick"] = lambda hay: next(automaton.iter(hay), None) is not None
    return found


def main() -> int:
    rng = random.Random(14)
    words = vocab(rng, 5000)
    n_on = max(1, int(N * ON_TOPIC))
    on = set(rng.sample(range(N), n_on))
    pages = [make_page(rng, words, i in on) for i in range(N)]
    mb = sum(map(len, pages)) / 1e6
    print(
        f"{N:,} synthetic pages, {mb / N * 1000:.0f} KB of HTML on average ({mb:.0f} MB), "
        f"{n_on} on topic; CPU time on one core, best of {ROUNDS} rounds"
    )
    Prefilter(CORPUS_TERMS).may_match(pages[0], None)  # the folding tables, built once

    decoded = [decode_html(b, None)[0] for b in pages]
    t_decode = best_cpu(lambda: [decode_html(b, None) for b in pages])
    t_forms = best_cpu(lambda: [page_forms(p) for p in decoded])
    forms = [page_forms(p) for p in decoded]
    t_ascii = best_cpu(lambda: [ascii_squash(f) for f in forms])
    t_search = best_cpu(lambda: [searched_text(p) for p in decoded])
    hays = [searched_text(p) for p in decoded]
    print(
        f"prepare: decode {t_decode / N * 1000:.2f} ms/page; the forms searched (markup deleted,"
        f" entities unescaped) {t_forms / N * 1000:.2f} ms/page, then folded"
        f" {(t_search - t_forms) / N * 1000:.2f} ms/page (for words with other letters than"
        f" ASCII) or their ASCII form {t_ascii / N * 1000:.2f} ms/page (words of ASCII letters);"
        f" {sum(map(len, hays)) / len(hays) / 1000:.0f} K characters/page"
    )

    sets = {
        n: CORPUS_TERMS + [f"{w}{w[:2]}" for w in rng.sample(words, n - 4)] for n in TERM_COUNTS
    }
    some = hays[:MATCH_PAGES]
    print(f"matching the searched text of {len(some)} pages, ms/page:")
    print(f"{'matcher':<20}" + "".join(f"{f'{n} terms':>12}" for n in TERM_COUNTS))
    rows: dict[str, list[float]] = {}
    same = True
    for terms in sets.values():
        decided: list[list[bool]] = []
        for name, match in matchers(Prefilter(terms).needles).items():
            rows.setdefault(name, []).append(best_cpu(lambda m=match: [m(h) for h in some]))
            decided.append([match(h) for h in some])
        same = same and all(d == decided[0] for d in decided)
    for name, per in rows.items():
        print(f"{name:<20}" + "".join(f"{t / len(some) * 1000:>12.3f}" for t in per))
    print(f"every matcher gives the same decisions: {'yes' if same else 'NO'}")

    pf = Prefilter(CORPUS_TERMS)
    t_full = best_cpu(lambda: [pf.may_match(b, None) for b in pages])
    passed = [i for i, b in enumerate(pages) if pf.may_match(b, None)]
    sample = pages[:EXTRACT_SAMPLE]
    t_ex = best_cpu(lambda: [extract_html(b, None, "http://127.0.0.1/") for b in sample])
    per_ex = t_ex / len(sample)
    per_pf = t_full / N
    print(
        f"Prefilter.may_match (4 terms, decoding included): {per_pf * 1000:.2f} ms/page,"
        f" {1 / per_pf:,.0f} pages/s; passed {len(passed)} of {N:,}"
        f" (on topic: {n_on}, all passed: {'yes' if on <= set(passed) else 'NO'})"
    )
    print(
        f"extract_html on {len(sample)} of the pages: {per_ex * 1000:.1f} ms/page,"
        f" {1 / per_ex:.1f} pages/s: the prefilter costs {per_pf / per_ex:.1%} of an extraction;"
        f" at {ON_TOPIC:.0%} on topic, prefilter + extracting what passes is"
        f" {per_ex / (per_pf + per_ex * len(passed) / N):.0f}x faster than extracting every page"
    )
    return 0 if same and on <= set(passed) else 1


if __name__ == "__main__":
    default = "BENCH_PREFILTER_PAGES" not in os.environ and "--no-write" not in sys.argv
    doc = REPO / "docs" / "gather-bench.md"
    raise SystemExit(run_recorded(main, doc, "bench_prefilter", write=default))
