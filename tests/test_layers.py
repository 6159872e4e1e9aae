"""Annotation layers as data: today's two layers render byte for byte as before, and a third
layer defined in a test reaches agreement, aggregation, the release, the card and Croissant."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from newscorpus.cardtext import render_template
from newscorpus.config import load_config
from newscorpus.corpus import add_annotations, add_articles
from newscorpus.records import Annotation, Article, utcnow
from tests.conftest import make_article, write_corpus

GOLDEN = Path(__file__).parent / "golden" / "two_layers.json"
REGENERATE = "NEWSCORPUS_REGENERATE_GOLDEN"  # set to 1 to rewrite GOLDEN (then review the diff)

TOML = """\
[corpus]
name = "layers-test"
pretty_name = "Layers test corpus (synthetic)"
description = "Synthetic articles for the layer tests."
languages = ["es", "fr", "en"]
license = "CC-BY-4.0"

[[targets]]
id = "us_forces_in_mexico"
text = "US forces in Mexico"

[[targets]]
id = "cartels_as_terrorists"
text = "Cartels as terrorists"

[[sources]]
name = "open"
kind = "urls"
url = "http://news.test/list.txt"

[[sources]]
name = "paywalled"
kind = "urls"
url = "http://paywalled.test/list.txt"
text_policy = "hydrate"
"""

T1, T2 = "us_forces_in_mexico", "cartels_as_terrorists"
VALUES = ("favor", "against", "neutral", "unrelated")
TEXT = (
    "Report {i}: the minister said fentanyl seizures doubled last year. "
    "\u201cWe need information, not soldiers,\u201d said the governor.\n\nSecond paragraph {i}."
)


def _articles() -> list[Article]:
    arts = []
    for i in range(12):
        source = "paywalled" if i % 4 == 3 else "open"
        host = "paywalled" if source == "paywalled" else "news"
        art = make_article(
            i,
            text=TEXT.format(i=i),
            source=source,
            language=("es", "fr", "en")[i % 3],
            url=f"http://{host}.test/a/{i}",
            fetched_at=f"2026-01-1{i % 10}T08:00:00Z",
        )
        if i % 5 == 1:
            art.dup_cluster = arts[-1].dup_cluster
        arts.append(art)
    return arts


def _spans(art: Article, who: int, k: int) -> list[dict[str, Any]]:
    text = art.text
    claim_start = text.index("the minister")
    claim_end = text.index(" last year") + (10 if who != 1 else 0)
    quote_start = text.index("\u201c")
    quote_end = text.index("\u201d") + 1
    speaker_start = text.index("the governor")
    speaker_end = speaker_start + len("the governor")
    spans: list[dict[str, Any]] = [
        {
            "id": f"c{who}",
            "start": claim_start,
            "end": claim_end,
            "label": "Claim",
            "checkworthy": ("yes", "no")[(k + who) % 2 if who == 2 else 0],
            "claim_type": ("statistical", "event", "policy")[(k * who) % 3],
        }
    ]
    if (k + who) % 3:
        spans.append({"id": f"q{who}", "start": quote_start, "end": quote_end, "label": "Quote"})
        spans.append(
            {"id": f"s{who}", "start": speaker_start, "end": speaker_end, "label": "Speaker"}
        )
        spans[-2]["speaker"] = f"s{who}"
    return [dict(s, text=text[s["start"] : s["end"]]) for s in spans]


def _annotations(arts: list[Article]) -> list[Annotation]:
    out = []
    for k, art in enumerate(arts[:10]):
        for who in range(3 if k % 4 else 2):
            stance: dict[str, str | None] = {
                T1: VALUES[(k + (who == 2)) % 4],
                T2: VALUES[(k + who) % 4] if k % 3 else None,
            }
            out.append(
                Annotation(
                    id=f"ann-{k}-{who}",
                    kind="annotation",
                    article_id=art.id,
                    annotator=f"ann-{who:010d}",
                    stance=stance,
                    spans=_spans(art, who, k),
                    task_id=100 + k,
                    annotation_id=1000 + 10 * k + who,
                    created_at=f"2026-02-0{1 + who}T10:00:00Z",
                    updated_at=f"2026-02-0{1 + who}T10:00:00Z",
                    pulled_at="2026-02-05T00:00:00Z",
                )
            )
    return out


def _gold(arts: list[Article]) -> list[Annotation]:
    art = arts[2]
    start = art.text.index("the minister")
    end = art.text.index(" last year")
    return [
        Annotation(
            id=f"gold-{art.id}",
            kind="gold",
            article_id=art.id,
            annotator="adjudicator-01",
            stance={T1: "against"},
            spans=[
                {
                    "id": "g1",
                    "start": start,
                    "end": end,
                    "label": "Claim",
                    "text": art.text[start:end],
                    "checkworthy": "yes",
                    "claim_type": "statistical",
                    "speaker": None,
                }
            ],
            created_at="2026-02-06T10:00:00Z",
            updated_at="2026-02-06T10:00:00Z",
            pulled_at="2026-02-06T11:00:00Z",
        )
    ]


def build_layer_corpus(root: Path, toml: str = TOML) -> Path:
    """A corpus with two stance targets, claims, quotes, speakers, ties, gold, a hydrate source."""
    write_corpus(root, toml)
    cfg = load_config(root)
    card = render_template(cfg.corpus.pretty_name, cfg.corpus.description, cfg.targets)
    (root / "DATA_CARD.md").write_text(card, encoding="utf-8")
    arts = _articles()
    add_articles(cfg, arts, file="synthetic")
    add_annotations(cfg, _annotations(arts), "pulled")
    add_annotations(cfg, _gold(arts), "gold")
    return root


def _parquet(path: Path) -> dict[str, Any]:
    table = pq.read_table(path)
    return {"schema": str(table.schema.remove_metadata()), "rows": table.to_pylist()}


def _undated(text: str, today: str) -> str:
    """The release date (and its year, in the citation) replaced by placeholders."""
    text = re.sub(re.escape(today) + r"(T\d\d:\d\d:\d\dZ)?", "<DATE>", text)
    return re.sub(r"year = \{\d{4}\}", "year = {<YEAR>}", text)


def run_everything(root: Path, repo: Path, cli: Callable[..., Any]) -> dict[str, Any]:
    """What agree, aggregate and release print and write, as text or rows."""
    out: dict[str, Any] = {}
    for name, args in (
        ("agree --json", ("agree", "--json")),
        ("agree --json --by language", ("agree", "--json", "--by", "language")),
        ("agree", ("agree",)),
        ("aggregate", ("aggregate",)),
        ("aggregate --method dawid-skene", ("aggregate", "--method", "dawid-skene")),
    ):
        res = cli("--corpus", root, *args)
        assert res.exit_code == 0, res.output
        out[name] = res.stdout.replace(str(root), "<CORPUS>")
    for rel in (
        "reports/agreement.md",
        "reports/agreement.json",
        "reports/annotator_reliability.json",
        "annotations/aggregate.jsonl",
    ):
        out[rel] = (root / rel).read_text(encoding="utf-8")
    today = utcnow()[:10]
    res = cli("--corpus", root, "release", "--version", "1.0.0", "--to", repo)
    assert res.exit_code == 0, res.output
    for path in sorted(p for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts):
        rel = str(path.relative_to(repo))
        if path.suffix == ".parquet":
            out[rel] = _parquet(path)
        elif path.suffix in (".md", ".json", ".jsonl", ".txt", ".cff") or path.name == "CHANGELOG":
            text = path.read_text(encoding="utf-8")
            out[rel] = _undated(text, today).replace(str(root), "<CORPUS>")
    return out


def test_todays_two_layers_give_the_same_outputs_as_before(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """agree, aggregate and a full release of a corpus with both layers, against a stored copy
    made before the layers became data (`agree --json`, reports, aggregate records, every
    release file; parquet files as schema and rows)."""
    root = build_layer_corpus(tmp_path / "corpus")
    got = run_everything(root, tmp_path / "repo", cli)
    blob = json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True, default=str) + "\n"
    if os.environ.get(REGENERATE) == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(blob, encoding="utf-8")
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = json.loads(blob)
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key
