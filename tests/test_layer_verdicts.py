"""One bad label, one verdict: validate, agree, aggregate and release refuse the same records
(review finding: an unknown choice layer passed validate and was dropped by the release, and a
span attribute outside its values passed agree)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from newscorpus.records import Annotation
from tests.conftest import snapshot
from tests.release.helpers import build_corpus, labels_for, quote_span


def _bad(kind: str, arts: list[Any]) -> Annotation:
    ann = labels_for(arts[:1], annotators=1)[0]
    ann = replace(ann, id="ann-bad", annotator="annotator-99")
    if kind == "unknown layer":
        ann.extra["choices"] = {"frame": "security"}
    elif kind == "bad attribute":
        ann.spans = [dict(quote_span(arts[0], "bad-1"), label="Claim", claim_type="bogus")]
    return ann


@pytest.mark.parametrize("kind", ["unknown layer", "bad attribute"])
def test_every_command_refuses_the_same_bad_record(
    tmp_path: Path, cli: Callable[..., Any], kind: str
) -> None:
    root = tmp_path / "corpus"
    _cfg, arts = build_corpus(root, n=6)
    # written as a hand edit or another tool would: past add_annotations' schema check
    with (root / "annotations" / "pulled.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(_bad(kind, arts).to_dict()) + "\n")
    before = snapshot(root)
    for args in (
        ["validate"],
        ["agree"],
        ["aggregate"],
        ["release", "--version", "1.0.0", "--dry-run"],
    ):
        result = cli("--corpus", str(root), *args)
        assert result.exit_code == 1, (args, result.output)
        word = "frame" if kind == "unknown layer" else "bogus"
        assert word in result.output, (args, result.output)
    assert snapshot(root) == before
