"""validate_loaded in memory that does not grow with the texts (issue 16): the same Report as
the implementation that kept every article text in a dict, whatever the errors and wherever
they are, and a peak that no longer follows the texts."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from newscorpus.cardtext import placeholder_warnings
from newscorpus.config import Config, load_config
from newscorpus.corpus import annotation_files, article_files
from newscorpus.layers import CHOICES, UNRESOLVED, choice_labels, defined
from newscorpus.lock import is_locked
from newscorpus.records import Annotation
from newscorpus.validate import Report, _check, validate_loaded
from tests.conftest import make_article, peak_mb_of, write_corpus
from tests.release.helpers import TOML


def reference(cfg: Config) -> Report:
    """validate_loaded as it was before (commit ba1f063): every text kept in a dict."""
    report = Report(writer_active=is_locked(cfg.root))
    report.files["config"] = 1
    report.warnings.extend(placeholder_warnings(cfg))
    languages = set(cfg.corpus.languages)
    targets = {t.id for t in cfg.targets}
    layers = defined()
    texts: dict[str, str] = {}
    first_seen: dict[str, str] = {}
    for path in article_files(cfg):
        for number, rec in _check("article", path, report):
            where = f"{path}:{number}"
            aid = rec["id"]
            if aid in first_seen:
                report.errors.append(f"{where}: id: duplicate of {first_seen[aid]}")
                continue
            first_seen[aid] = where
            texts[aid] = rec["text"]
            if rec["language"] not in languages:
                report.errors.append(
                    f"{where}: language: {rec['language']!r} is not in [corpus].languages {sorted(languages)}"
                )
    for path in annotation_files(cfg):
        for number, rec in _check("annotation", path, report):
            where = f"{path}:{number}"
            text = texts.get(rec["article_id"])
            if text is None:
                report.errors.append(
                    f"{where}: article_id: no article {rec['article_id']!r} in articles/"
                )
                continue
            for tid in rec["stance"]:
                if tid not in targets:
                    report.errors.append(
                        f"{where}: stance.{tid}: unknown target (not in [[targets]])"
                    )
            for name, label in choice_labels(rec).items():
                layer = layers.choice(name)
                if layer is None:
                    known = ", ".join(c.name for c in layers.choices) or "none"
                    report.errors.append(
                        f"{where}: {CHOICES}.{name}: unknown layer (layers: {known})"
                    )
                elif (
                    label is not None
                    and label not in layer.value_names
                    and not (label == UNRESOLVED and rec["kind"] == "aggregate")
                ):
                    report.errors.append(
                        f"{where}: {CHOICES}.{name}: {label!r} is not one of "
                        f"{', '.join(layer.value_names)}"
                    )
            for i, span in enumerate(rec["spans"]):
                s, e = int(span["start"]), int(span["end"])
                if not 0 <= s < e <= len(text):
                    report.errors.append(
                        f"{where}: spans.{i}: offsets {s}-{e} outside the text (length {len(text)})"
                    )
                elif text[s:e] != span["text"]:
                    report.errors.append(
                        f"{where}: spans.{i}.text: does not match the article text at {s}-{e}"
                    )
    if cfg.rejected_path.exists():
        for _ in _check("rejected", cfg.rejected_path, report):
            pass
    return report


def same_report(cfg: Config) -> Report:
    new, old = validate_loaded(cfg), reference(cfg)
    assert new.errors == old.errors
    assert new.warnings == old.warnings
    assert list(new.files.items()) == list(old.files.items())
    assert list(new.records.items()) == list(old.records.items())
    assert new == old
    return new


def article(n: int, text: str | None = None, **over: Any) -> dict[str, Any]:
    art = make_article(n, **({"text": text} if text is not None else {})).to_dict()
    art.update(over)
    return art


def annotation(aid: str, n: int, spans: list[dict[str, Any]], **over: Any) -> dict[str, Any]:
    rec = Annotation(
        id=f"ann-{n}",
        kind="annotation",
        article_id=aid,
        annotator=f"annotator-{n % 3:02d}",
        stance={"us_forces_in_mexico": "favor"},
        spans=spans,
    ).to_dict()
    rec.update(over)
    return rec


def span(start: Any, end: Any, text: str, label: str = "Claim") -> dict[str, Any]:
    return {"id": f"s{start}", "start": start, "end": end, "label": label, "text": text}


def write(path: Path, lines: list[dict[str, Any] | str], torn: str = "") -> None:
    with path.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False))
            fh.write("\n")
        fh.write(torn)


def test_every_kind_of_error_is_reported_as_before_in_the_same_order(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "c", TOML)
    cfg = load_config(root)
    a1 = article(1, "Officials said \u201cno soldiers\u201d at the border \U0001f600 today.")
    a2 = article(2)
    later = article(3, "A later file's article: caf\u00e9 and cártel, \u2014 then more text.")
    dup = dict(a1, text="A different text for the same id: the first one counts.")
    bad = dict(article(4), language="english")
    del bad["title"]
    write(
        root / "articles" / "a.jsonl",
        [a1, bad, "{not json}", a2, dup, article(5, language="de"), ""],
        torn='{"id": "torn',
    )
    write(root / "articles" / "b.jsonl", [later, dict(a2, title="again")])
    t1, t3 = a1["text"], later["text"]
    s = t1.index("\u201c")
    anns: list[dict[str, Any] | str] = [
        annotation(a1["id"], 1, [span(s, s + 13, t1[s : s + 13])]),  # fine, “ counts as one
        annotation(later["id"], 2, [span(0, 5, t3[0:5]), span(2, 9, "not it")]),  # later file
        annotation("f" * 16, 3, [span(0, 10**6, "x")], stance={"nope": "favor"}),  # no article
        "[1, 2]",
        annotation(a1["id"], 4, [span(0, len(t1) + 1, t1), span(5, 5, ""), span(7, 3, "")]),
        annotation(a1["id"], 5, [span(-1, 2, "Of")]),  # a schema error, no other check
        annotation(
            a2["id"],
            6,
            [span(0.0, 9.0, a2["text"][0:9]), span(1, 4, "xyz")],  # 63.0 is an integer
            stance={"other_target": "against"},
            choices={"frame": "economy", "genre": None},
        ),
        annotation(a1["id"], 7, [span(0, 20, "A different text fo")]),  # the duplicate's text
        annotation(a1["id"], 8, [span(2**63 + 5, 2**64 - 1, "huge")]),
        annotation(a1["id"], 9, [span(len(t1) - 5, len(t1), t1[-5:])]),  # the last characters
        annotation(later["id"], 10, [], choices={"stance": "maybe"}),
        annotation(a2["id"], 11, [span(0, 3, "Syn"), span(0, 3, "Syx")], kind="gold"),
    ]
    write(root / "annotations" / "x.jsonl", anns, torn="{")
    write(
        root / "annotations" / "y.jsonl",
        [
            annotation(a2["id"], 12, [span(0, 1, "S")], choices={"frame": UNRESOLVED}),
            annotation("0" * 16, 13, []),
            annotation(later["id"], 14, [span(len(t3), len(t3) + 1, "")]),
        ],
    )
    write(root / "rejected.jsonl", [{"url": None, "stage": "fetch", "reason": "Bad Reason"}])
    report = same_report(cfg)
    x = root / "annotations" / "x.jsonl"
    errors = "\n".join(report.errors)
    for expected in [  # each kind is there (the messages pinned by tests/test_cli_corpus.py)
        f"{root / 'articles' / 'a.jsonl'}:5: id: duplicate of {root / 'articles' / 'a.jsonl'}:1",
        f"{root / 'articles' / 'b.jsonl'}:2: id: duplicate of {root / 'articles' / 'a.jsonl'}:4",
        f"{x}:2: spans.1.text: does not match the article text at 2-9",
        f"{x}:3: article_id: no article 'ffffffffffffffff' in articles/",
        f"{x}:5: spans.0: offsets 0-{len(t1) + 1} outside the text (length {len(t1)})",
        f"{x}:8: spans.0.text: does not match the article text at 0-20",
        f"{x}:9: spans.0: offsets {2**63 + 5}-{2**64 - 1} outside the text",
        f"{root / 'annotations' / 'y.jsonl'}:3: spans.0: offsets",
    ]:
        assert expected in errors
    assert f"{x}:10:" not in errors and f"{x}:2: spans.0" not in errors
    assert len(report.warnings) >= 2  # the torn last lines


def test_a_random_corpus_gives_the_same_report(tmp_path: Path) -> None:
    """Many files, articles named by annotations before or after them, duplicates, and
    spans right, outside and wrong at random: the same errors in the same order."""
    rng = random.Random(16)
    root = write_corpus(tmp_path / "c", TOML)
    cfg = load_config(root)
    arts = [
        article(i, f"Text {i} \u201cquoted\u201d " + "word " * rng.randrange(1, 40))
        for i in range(300)
    ]
    ids = [a["id"] for a in arts] + [f"{i:016x}" for i in range(5)]  # a few unknown
    for f in range(4):
        chunk = arts[f::4] + [dict(rng.choice(arts), title="dup") for _ in range(3)]
        rng.shuffle(chunk)
        write(root / "articles" / f"part{f}.jsonl", chunk)
    texts = {a["id"]: a["text"] for a in arts}
    for f in range(3):
        lines: list[dict[str, Any] | str] = []
        for n in range(400):
            aid = rng.choice(ids)
            text = texts.get(aid, "")
            spans = []
            for _ in range(rng.randrange(0, 4)):
                s = rng.randrange(0, len(text) + 3)
                e = s + rng.randrange(-1, 8)
                good = text[s:e]
                spans.append(span(max(s, 0), max(e, 0), good if rng.random() < 0.8 else good + "!"))
            lines.append(annotation(aid, f * 1000 + n, spans))
            if rng.random() < 0.02:
                lines.append("{broken")
        write(root / "annotations" / f"round{f}.jsonl", lines)
    report = same_report(cfg)
    assert 20 < len(report.errors) < 1200


def test_a_clean_corpus_and_an_empty_one_give_the_same_report(tmp_path: Path) -> None:
    empty = load_config(write_corpus(tmp_path / "empty", TOML))
    assert same_report(empty).ok
    root = write_corpus(tmp_path / "c", TOML)
    a = article(1)
    write(root / "articles" / "a.jsonl", [a])
    write(root / "annotations" / "x.jsonl", [annotation(a["id"], 1, [span(0, 9, a["text"][:9])])])
    assert same_report(load_config(root)).ok


MEMORY_SCRIPT = """
import sys
from pathlib import Path
from newscorpus.config import load_config
from newscorpus.validate import validate_loaded

report = validate_loaded(load_config(Path(sys.argv[1])))
assert len(report.errors) == 1, report.errors  # the span mismatch planted below
"""

N_LONG = 6000


def test_memory_does_not_grow_with_the_texts(tmp_path: Path) -> None:
    """6,000 articles of 40,000 characters (240 MB of text), each with two annotations of two
    spans: validate peaks under 200 MB (126 MB here, where importing newscorpus alone takes
    123 MB); the implementation that kept the texts (reference above) took 349 MB here."""
    root = write_corpus(tmp_path / "c", TOML)
    words = "fentanyl cártel security cooperation border officials said report seizure "
    with (
        (root / "articles" / "long.jsonl").open("w", encoding="utf-8") as fa,
        (root / "annotations" / "long.jsonl").open("w", encoding="utf-8") as fn,
    ):
        for i in range(N_LONG):
            text = f"Article {i}. " + words * 530
            record = article(i, text)
            aid = record["id"]
            fa.write(json.dumps(record, ensure_ascii=False) + "\n")
            for j in range(2):
                spans = [span(0, 7, "Article"), span(20_000, 20_050, text[20_000:20_050])]
                if i == N_LONG - 1 and j == 1:
                    spans[1]["text"] = "planted mismatch"
                fn.write(json.dumps(annotation(aid, 2 * i + j, spans), ensure_ascii=False) + "\n")
    peak_mb = peak_mb_of(MEMORY_SCRIPT, str(root))
    assert peak_mb < 200, f"peak {peak_mb} MB"
