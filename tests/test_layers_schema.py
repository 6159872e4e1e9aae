"""schemas/annotation.schema.json names the layers' values by hand: it must say what
newscorpus.layers defines (stance values, span labels, span attributes, the choice layers)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from newscorpus.layers import CHOICES, LAYERS, UNRESOLVED
from newscorpus.resources import schemas_dir


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (schemas_dir() / "annotation.schema.json").read_text(encoding="utf-8")
    )
    return schema


def test_the_annotation_schema_lists_the_layers_values() -> None:
    props = _schema()["properties"]
    stance = props["stance"]["additionalProperties"]["enum"]
    assert stance == [*LAYERS.stance.value_names, UNRESOLVED, None]
    span = props["spans"]["items"]["properties"]
    assert span["label"]["enum"] == list(LAYERS.spans.label_names)
    for a in LAYERS.spans.attributes:
        assert span[a.name]["enum"] == [*a.value_names, None], a.name
    assert span[LAYERS.spans.relation.field]["type"] == ["string", "null"]
    assert set(LAYERS.spans.fields) <= set(span)


def test_the_annotation_schema_takes_choices_of_strings_or_null() -> None:
    schema = _schema()
    record = {
        "id": "x",
        "kind": "annotation",
        "article_id": "0123456789abcdef",
        "annotator": "ann-0000000001",
        "stance": {},
        "spans": [],
        "pulled_at": "2026-01-01T00:00:00Z",
        "cancelled": False,
        "deleted": False,
    }
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({**record, CHOICES: {"frame": "security", "tone": None}})
    assert not validator.is_valid({**record, CHOICES: {"frame": 3}})
    assert not validator.is_valid({**record, CHOICES: ["security"]})
