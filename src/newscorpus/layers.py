"""The annotation layers, defined once: what annotators label, its values and their meanings.

Agreement, aggregation, the label checks, the release configs and their schemas, the dataset
card and Croissant are derived from :data:`LAYERS` (read it through :func:`defined`, at call
time); so are the Label Studio interface and pull's conversion (``newscorpus.labelstudio``).

Today there are two layers:

- ``stance``: one choice per article and ``[[targets]]`` entry (favor, against, neutral,
  unrelated);
- ``spans``: character ranges labelled Claim, Quote or Speaker; a Claim carries the attributes
  ``checkworthy`` and ``claim_type``; the ``said`` relation links a Speaker to a Claim or Quote
  and is stored as the ``speaker`` field (the Speaker span's id) of the Claim or Quote.

More per-article choice layers (say ``frame``: economic, security, sovereignty, other) go into
``Layers.choices``; nothing else in the tool names a layer.

How labels are stored in an annotation record (annotations/*.jsonl):

- stance: ``"stance": {"<target id>": "<value>" | null}`` (the record's own field, as ever);
- spans: ``"spans": [{"id", "start", "end", "label", "text", <attributes>, "speaker"}]``;
- every per-article choice layer: ``"choices": {"<layer name>": "<value>" | null}``. A record
  without ``choices`` (every file written before such a layer existed) has no label of those
  layers, so old files read as before; ``choices`` is not an Annotation field, so it stays in
  ``Annotation.extra`` and is written back unchanged by tools that do not know it;
- an aggregate record adds, beside ``soft`` and ``n_annotators`` of stance (keyed by target),
  ``choices_soft: {"<layer>": {"<value>": share}}`` and ``choices_n_annotators: {"<layer>": n}``.
  A gold record decides a layer with ``"choices": {"<layer>": "<value>"}`` as an annotation
  does. A label a record does not give is simply absent (or null).

In a release, each choice layer is a config of its own named after the layer (one row per
article: ``label``, ``label_source``, ``method``, ``p_<value>``, ``n_annotators``), and the
``annotations`` config gains a column of that name (the annotator's label).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CHOICES = "choices"  # the record key of the per-article choice layers
CHOICES_SOFT = "choices_soft"  # an aggregate's label shares of those layers
CHOICES_N = "choices_n_annotators"  # an aggregate's number of annotators of those layers
UNRESOLVED = "unresolved"  # an aggregate's label where the annotators tied

# Names a choice layer cannot take: the release's configs, the record's and the agreement
# result's own keys.
RESERVED = frozenset(
    {
        "articles",
        "stance",
        "claims",
        "annotations",
        "spans",
        "annotators",
        "corpus",
        "split",
        "language",
        CHOICES,
    }
)
_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


@dataclass(frozen=True)
class Value:
    """One value of a layer: its name as stored, what it means (the guidelines' words), and
    an optional short gloss for one-line lists."""

    name: str
    meaning: str
    gloss: str = ""


@dataclass(frozen=True)
class ChoiceLayer:
    """A question with one answer from ``values``: per target (stance) or per article."""

    name: str  # record key, release config, section of the agreement result
    title: str  # as a heading: "Stance"
    values: tuple[Value, ...]
    question: str  # what the annotator is asked: "Stance towards" (+ target), "Frame"
    guidance: str = ""  # the guidelines' sentence before the list of values

    @property
    def value_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.values)

    def meaning(self, name: str) -> str:
        """A value's meaning (the name itself when it is not one of the values)."""
        return next((v.meaning for v in self.values if v.name == name), name)

    def listed(self) -> str:
        """The values as prose: ``favor, against, neutral or unrelated``."""
        return or_list(self.value_names)

    def shares_doc(self, value: str, rows: str) -> str:
        """The release's description of the ``p_<value>`` column."""
        n = len(self.values)
        return (
            f"Share of annotators who chose `{value}` (soft label: the {_NUMBERS.get(n, str(n))} "
            f"shares sum to 1); null for {rows} rows, which have no distribution."
        )


@dataclass(frozen=True)
class SpanAttribute:
    """A choice asked of each span of some labels (a Claim's check-worthiness)."""

    name: str  # the span field
    values: tuple[Value, ...]
    labels: tuple[str, ...]  # the span labels that carry it
    question: str
    doc: str  # the release's description of the field
    heading: str = ""  # the question as the labeling interface heads it (else ``question``)

    @property
    def value_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.values)


@dataclass(frozen=True)
class SpanRelation:
    """A link from a span of one label to a span of others, stored as a field of the latter."""

    name: str  # the relation's label in the interface: "said"
    field: str  # the span field holding the linked span's id: "speaker"
    source: str  # "Speaker"
    targets: tuple[str, ...]  # ("Claim", "Quote")
    doc: str  # the release's description of the field


@dataclass(frozen=True)
class SpanLayer:
    """Labelled character ranges of an article's text, their attributes and one relation."""

    name: str
    labels: tuple[Value, ...]
    attributes: tuple[SpanAttribute, ...]
    relation: SpanRelation

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.labels)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    @property
    def fields(self) -> tuple[str, ...]:
        """A span's fields, in the release's order."""
        return ("id", "start", "end", "label", "text", *self.attribute_names, self.relation.field)

    def meaning(self, label: str) -> str:
        return next((v.meaning for v in self.labels if v.name == label), label)

    def listed(self) -> str:
        """The labels as prose: ``Claim, Quote and Speaker``."""
        return and_list(self.label_names)


@dataclass(frozen=True)
class Layers:
    """Every layer: stance per target, spans, and the per-article choice layers."""

    stance: ChoiceLayer
    spans: SpanLayer
    choices: tuple[ChoiceLayer, ...] = ()

    def __post_init__(self) -> None:
        names = [c.name for c in self.choices]
        bad = [n for n in names if n in RESERVED or not n.isidentifier()]
        if bad or len(set(names)) != len(names):
            raise ValueError(f"choice layer names must be unique, new identifiers: {names}")
        for layer in (self.stance, *self.choices):
            if UNRESOLVED in layer.value_names or len(set(layer.value_names)) < 2:
                raise ValueError(f"layer {layer.name}: needs two or more values, not 'unresolved'")

    def choice(self, name: str) -> ChoiceLayer | None:
        """A per-article choice layer by name."""
        return next((c for c in self.choices if c.name == name), None)


def or_list(names: tuple[str, ...] | list[str]) -> str:
    """``a, b or c``."""
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


def and_list(names: tuple[str, ...] | list[str]) -> str:
    """``a, b and c``."""
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


def choice_labels(record: Mapping[str, Any]) -> dict[str, Any]:
    """The ``choices`` object of a record's extra fields (empty when it has none)."""
    value = record.get(CHOICES)
    return value if isinstance(value, dict) else {}


STANCE = ChoiceLayer(
    name="stance",
    title="Stance",
    values=(
        Value("favor", "the text supports the target or casts it mostly in a good light"),
        Value("against", "the text opposes the target or casts it mostly in a bad light"),
        Value(
            "neutral",
            "the text discusses the target but takes no side, or weighs the sides evenly",
        ),
        Value("unrelated", "the target does not come up in the text"),
    ),
    question="Stance towards",
)

SPANS = SpanLayer(
    name="spans",
    labels=(
        Value(
            "Claim",
            "a statement that could be verified (a number, an event, a cause, a forecast, a "
            "policy); answer whether a fact-checker would want to check it, and pick its type",
            "a checkable statement: figure, event, cause, prediction or policy",
        ),
        Value(
            "Quote",
            "words the text reports someone as having said or written",
            "words reported as said or written by someone",
        ),
        Value(
            "Speaker",
            "the person or organisation behind a Claim or Quote; draw a relation from the "
            "Speaker to what they said",
            "who said a Claim or Quote",
        ),
    ),
    attributes=(
        SpanAttribute(
            name="checkworthy",
            values=(
                Value("yes", "a fact-checker would want to check it"),
                Value("no", "a fact-checker would not want to check it"),
            ),
            labels=("Claim",),
            question="Selected claim: check-worthy?",
            heading="Selected claim: is it check-worthy?",
            doc=(
                "Claims only: `yes` or `no` (would a fact-checker want to check it?); null for "
                "other labels, and in `claims` when the annotators had no majority."
            ),
        ),
        SpanAttribute(
            name="claim_type",
            values=tuple(
                Value(v, v)
                for v in ("statistical", "causal", "event", "prediction", "policy", "other")
            ),
            labels=("Claim",),
            question="Selected claim: type",
            heading="Claim type",
            doc=(
                "Claims only: statistical, causal, event, prediction, policy or other; null as "
                "for `checkworthy`."
            ),
        ),
    ),
    relation=SpanRelation(
        name="said",
        field="speaker",
        source="Speaker",
        targets=("Claim", "Quote"),
        doc="Claim or Quote: `span_id` of the Speaker span linked to it by `said`; else null.",
    ),
)

LAYERS = Layers(stance=STANCE, spans=SPANS)


def defined() -> Layers:
    """The layers this tool annotates (``LAYERS``), looked up when called."""
    return LAYERS


NO_LABEL = -1  # a class-coded column's null (datasets' convention for "no label")


def vocabularies(layers: Layers | None = None) -> dict[str, tuple[str, ...]]:
    """The class names of every closed-set column of a release, by ``config.column`` (a span
    field as ``config.spans.field`` in ``annotations``, ``claims.field`` in ``claims``).

    A column stores its value's index in these names (a null as :data:`NO_LABEL`); the card,
    the manifest, Croissant and the parquet files' datasets features all list them from here.
    Labels decided from several annotators (stance, every choice layer) may be ``unresolved``,
    the last name (an annotator's own stance and choice labels in ``annotations`` share these
    names, though one annotator never gives ``unresolved``); span labels and attributes cannot (a span group without a majority is left
    out, an attribute without one is null).
    """
    layers = defined() if layers is None else layers
    spans = layers.spans
    span_fields = {"label": spans.label_names, **{a.name: a.value_names for a in spans.attributes}}
    stance = (*layers.stance.value_names, UNRESOLVED)
    choices = {c.name: (*c.value_names, UNRESOLVED) for c in layers.choices}
    out: dict[str, tuple[str, ...]] = {"stance.label": stance}
    out.update({f"claims.{f}": names for f, names in span_fields.items()})
    # an annotator's own labels: the same names as the decided ones (one ClassLabel a layer)
    out["annotations.stance.label"] = stance
    out.update({f"annotations.spans.{f}": names for f, names in span_fields.items()})
    out.update({f"annotations.{name}": names for name, names in choices.items()})
    out.update({f"{name}.label": names for name, names in choices.items()})
    return out
