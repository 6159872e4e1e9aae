"""pull keeps every relation: a Speaker linked to a Claim or Quote either way, labelled or not,
is the speaker link; any other relation stays in the record and is counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from newscorpus.corpus import iter_annotations
from tests.conftest import make_article
from tests.studio.helpers import (
    QUOTE_TEXT,
    export_of,
    full_result,
    span,
    studio_corpus,
    with_articles,
)


def rel(a: str, b: str, *labels: str) -> dict[str, Any]:
    return {"type": "relation", "from_id": a, "to_id": b, "direction": "right", "labels": [*labels]}


def test_relations_pull_cannot_read_as_a_speaker_link_are_kept_and_counted(
    tmp_path: Path, cli: Any
) -> None:
    cfg = studio_corpus(tmp_path / "c")
    art = with_articles(cfg, [make_article(1, text=QUOTE_TEXT)])[0]
    result = [r for r in full_result(QUOTE_TEXT) if r.get("type") != "relation"]
    result.append(span(QUOTE_TEXT, "s2", "le ministère", "Speaker"))
    result += [
        rel("s1", "q1", "said"),  # the speaker link, labelled
        rel("c1", "s2"),  # the speaker link, drawn from the claim, no label
        rel("s1", "s2"),  # Speaker to Speaker: kept
        rel("c1", "q1", "said"),  # Claim to Quote: kept
        rel("s2", "q1"),  # a second speaker of the quote: kept
        rel("s1", "gone"),  # a region that is not there: kept
    ]
    export = export_of(tmp_path / "export.json", art, result)
    res = cli("--corpus", cfg.root, "pull", "--from-export", export)
    assert res.exit_code == 0, res.output
    assert "4 relations that are not a speaker link kept in their records" in res.output
    (ann,) = list(iter_annotations(cfg))
    by_id = {s["id"]: s for s in ann.spans}
    assert by_id["q1"]["speaker"] == "s1" and by_id["c1"]["speaker"] == "s2"
    assert ann.extra["relations"] == [
        {"from_id": "s1", "to_id": "s2", "labels": []},
        {"from_id": "c1", "to_id": "q1", "labels": ["said"]},
        {"from_id": "s2", "to_id": "q1", "labels": []},
        {"from_id": "s1", "to_id": "gone", "labels": []},
    ]
    assert cli("--corpus", cfg.root, "validate").exit_code == 0
