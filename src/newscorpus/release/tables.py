"""The configs of a release, built column-wise with polars straight from the JSONL files.

No per-row Python: polars reads ``articles/*.jsonl`` and ``annotations/*.jsonl`` with explicit
schemas (fields outside them are ignored), picks each annotator's current version, decides one
stance label per (article, target) -- gold, else aggregate, else the majority of the raw labels --
and lays out the rows in article order. The Arrow schemas (:func:`schemas`, derived from the
annotation layers) are the release's contract: articles, stance, claims, annotations, and one
config per per-article choice layer (labelled by the same rule as stance).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from ..config import Config, text_policy
from ..corpus import annotation_files, article_files
from ..errors import ReleaseError
from ..layers import (
    CHOICES,
    CHOICES_N,
    CHOICES_SOFT,
    NO_LABEL,
    UNRESOLVED,
    ChoiceLayer,
    Layers,
    defined,
    vocabularies,
)
from ..records import sha256_hex
from ..store import MAX_DEPTH, too_deep, torn_tail

CONFIGS = ("articles", "stance", "claims", "annotations")  # then one per choice layer
_STR = pa.string()
_S = pl.String
CODE = pa.int64()  # a class-coded column (datasets' ClassLabel): the index into its names


def config_names(layers: Layers | None = None) -> tuple[str, ...]:
    """Every config of a release: the four above, then one per per-article choice layer."""
    layers = defined() if layers is None else layers
    return (*CONFIGS, *(c.name for c in layers.choices))


def soft_labels(values: tuple[str, ...]) -> tuple[str, ...]:
    """An aggregate's label shares may name "unresolved" too; only the values get p_* columns."""
    return (*values, UNRESOLVED)


def span_struct(layers: Layers | None = None) -> pa.StructType:
    """A span as read from the annotation files: offsets as int32, every other field a string."""
    layers = defined() if layers is None else layers
    ints = ("start", "end")
    return pa.struct([(f, pa.int32() if f in ints else _STR) for f in layers.spans.fields])


def _coded(layers: Layers) -> frozenset[str]:
    """The span fields stored as class codes (label and the closed attributes)."""
    return frozenset(k.rsplit(".", 1)[1] for k in vocabularies(layers) if k.startswith("claims."))


def released_span_struct(layers: Layers | None = None) -> pa.StructType:
    """A span as released: offsets as int32, label and closed attributes as class codes."""
    layers = defined() if layers is None else layers
    coded = _coded(layers)
    return pa.struct(
        [pa.field(f.name, CODE) if f.name in coded else f for f in span_struct(layers)]
    )


def _shares(values: tuple[str, ...]) -> list[tuple[str, pa.DataType]]:
    return [(f"p_{v}", pa.float32()) for v in values]


ARTICLES = pa.schema(
    [
        ("id", _STR),
        ("url", _STR),
        ("canonical_url", _STR),
        ("source", _STR),
        ("site", _STR),
        ("title", _STR),
        ("text", _STR),
        ("text_sha256", _STR),
        ("text_policy", _STR),
        ("language", _STR),
        ("authors", pa.list_(_STR)),
        ("published", _STR),
        ("dup_cluster", _STR),
        ("topic_terms", pa.list_(_STR)),
        ("fetched_at", _STR),
        ("extractor", _STR),
        ("synthetic", pa.bool_()),
    ]
)


def choice_schema(layer: ChoiceLayer) -> pa.Schema:
    """The config of a per-article choice layer: one row per labelled article."""
    return pa.schema(
        [
            ("article_id", _STR),
            ("label", CODE),
            ("label_source", _STR),
            ("method", _STR),
            *_shares(layer.value_names),
            ("n_annotators", pa.int32()),
            ("language", _STR),
        ]
    )


def schemas(layers: Layers | None = None) -> dict[str, pa.Schema]:
    """The Arrow schema of every config of a release (config_names order), from the layers."""
    layers = defined() if layers is None else layers
    span = released_span_struct(layers)
    out = {
        "articles": ARTICLES,
        "stance": pa.schema(
            [
                ("article_id", _STR),
                ("target", _STR),
                ("label", CODE),
                ("label_source", _STR),
                ("method", _STR),
                *_shares(layers.stance.value_names),
                ("n_annotators", pa.int32()),
                ("language", _STR),
            ]
        ),
        "claims": pa.schema(
            [
                ("article_id", _STR),
                ("span_id", _STR),
                *[f for f in span if f.name != "id"],
                ("label_source", _STR),
                ("language", _STR),
            ]
        ),
        "annotations": pa.schema(
            [
                ("article_id", _STR),
                ("annotator", _STR),
                ("stance", pa.list_(pa.struct([("target", _STR), ("label", CODE)]))),
                ("spans", pa.list_(span)),
                *[(c.name, CODE) for c in layers.choices],
                ("created_at", _STR),
                ("updated_at", _STR),
                ("language", _STR),
            ]
        ),
    }
    out.update({c.name: choice_schema(c) for c in layers.choices})
    return out


# What is read from the JSONL files: the release's fields, except what the release computes.
_ARTICLE_READ = pa.schema([f for f in ARTICLES if f.name != "text_policy"])


def _span_read(layers: Layers) -> pa.StructType:
    """Offsets as float64: JSON Schema's integer admits 63.0 (pandas writes them); cast after."""
    return pa.struct(
        [
            pa.field(f.name, pa.float64()) if f.name in ("start", "end") else f
            for f in span_struct(layers)
        ]
    )


def _shares_read(values: tuple[str, ...]) -> pa.StructType:
    return pa.struct([(v, pa.float64()) for v in soft_labels(values)])


def _annotation_read(targets: list[str], layers: Layers) -> pa.Schema:
    per_target = [(t, _STR) for t in targets]
    shares = _shares_read(layers.stance.value_names)
    fields = [
        ("id", _STR),
        ("kind", _STR),
        ("article_id", _STR),
        ("annotator", _STR),
        ("stance", pa.struct(per_target)),
        ("spans", pa.list_(_span_read(layers))),
        ("created_at", _STR),
        ("updated_at", _STR),
        ("pulled_at", _STR),
        ("cancelled", pa.bool_()),
        ("deleted", pa.bool_()),
        # written by `aggregate`: the method, and per target the label shares and annotators
        ("method", _STR),
        ("soft", pa.struct([(t, shares) for t in targets])),
        ("n_annotators", pa.struct([(t, pa.float64()) for t in targets])),
    ]
    if layers.choices:  # per-article choice layers (layers.py): labels, shares, annotators
        names = [c.name for c in layers.choices]
        fields += [
            (CHOICES, pa.struct([(n, _STR) for n in names])),
            (
                CHOICES_SOFT,
                pa.struct([(c.name, _shares_read(c.value_names)) for c in layers.choices]),
            ),
            (CHOICES_N, pa.struct([(n, pa.float64()) for n in names])),
        ]
    return pa.schema(fields)


# Bytes per block of the multi-threaded JSON reader; a longer line makes it retry with more.
BLOCK_BYTES = 1 << 20


class _Head(io.RawIOBase):
    """The first ``size`` bytes of an open file (a torn last line left out)."""

    def __init__(self, fh: Any, size: int) -> None:
        self.fh, self.left = fh, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        if n <= 0:
            return 0
        got = self.fh.readinto(memoryview(buffer)[:n]) or 0
        self.left -= got
        return got


def iter_json(path: Path, schema: pa.Schema) -> Iterator[pa.Table]:
    """One JSONL file in batches (a block of the reader each), with Arrow's streaming reader;
    fields outside ``schema`` are ignored, numbers checked (:func:`_check_numbers`).

    A line longer than a block makes it read the file again with larger blocks, skipping the
    rows it has already given; one that cannot be read is ReleaseError naming file and line.
    """
    parse = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        size = path.stat().st_size
        torn = torn_tail(path)  # a last line without newline is a torn write, never a record
    except OSError as exc:
        raise ReleaseError(f"{path}: cannot read: {exc.strerror or exc}") from None
    size -= torn
    block, done = BLOCK_BYTES, 0  # rows given so far
    while True:
        seen = 0
        try:
            with path.open("rb") as fh:
                source: Any = io.BufferedReader(_Head(fh, size)) if torn else fh
                options = pajson.ReadOptions(block_size=block)
                for batch in pajson.open_json(source, read_options=options, parse_options=parse):
                    n = batch.num_rows
                    if seen + n > done:
                        skip = max(done - seen, 0)
                        table = pa.Table.from_batches([batch], schema).slice(skip)
                        _check_numbers(path, table, seen + skip)
                        yield table
                        done = seen + n
                    seen += n
            return
        except OSError as exc:
            raise ReleaseError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except pa.ArrowException as exc:
            if "straddl" in str(exc) and block <= size:
                block *= 4  # a line longer than a block
                continue
            if "Empty JSON" in str(exc):
                return
            raise ReleaseError(_locate(path, str(exc))) from None


def _read_file(path: Path, schema: pa.Schema) -> pa.Table:
    """One JSONL file as one table (:func:`iter_json`)."""
    tables = list(iter_json(path, schema))
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"key {next(k for k in keys if keys.count(k) > 1)!r} appears twice")
    return dict(pairs)


def _line_problem(raw: bytes) -> str | None:
    """Why one JSONL line is not a record the release can read (None: it is one)."""
    try:
        obj = orjson.loads(raw)  # not recursive; refuses past 1,024 levels
    except orjson.JSONDecodeError as exc:
        return str(exc).split(":")[0]
    opened = raw.count(b"[") + raw.count(b"{")
    if opened > MAX_DEPTH and isinstance(obj, dict | list) and too_deep(obj):
        return f"JSON nested deeper than {MAX_DEPTH} levels"
    try:
        json.loads(raw, object_pairs_hook=_no_repeats)
    except (ValueError, RecursionError) as exc:
        return str(exc)
    return None


def _locate(path: Path, why: str) -> str:
    """file:line of the first record Arrow's reader refused (it names no line), and why."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if raw.strip():
                problem = _line_problem(raw)
                if problem is not None:
                    return f"{path}:{number}: cannot be read column-wise: {problem}"
    first = why.strip().splitlines()[0] if why.strip() else "unreadable"
    return f"{path}: cannot be read column-wise: {first[:300]}"


def _line_of(path: Path, row: int) -> int:
    """The line number of the ``row``-th record (0-based) of a JSONL file (blank lines skipped)."""
    seen = -1
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if raw.strip():
                seen += 1
                if seen == row:
                    return number
    return seen + 1


# Numbers the release stores as 32-bit integers (offsets, annotator counts) or shares: a value
# outside these ranges is refused with its file and line (a cast would fail or wrap around).
INT32_MAX = 2**31 - 1


def _numbers(table: pa.Table) -> list[tuple[str, pa.Array, pa.Array, float, float, bool]]:
    """(field, row of each value, values, lowest, highest, whole numbers) of the checked numbers."""
    out: list[tuple[str, pa.Array, pa.Array, float, float, bool]] = []
    names = table.schema.names
    if "spans" in names:
        spans = table.column("spans").combine_chunks()
        rows = pc.list_parent_indices(spans)
        flat = spans.flatten()
        for f in ("start", "end"):
            out.append((f"spans.{f}", rows, flat.field(f), 0, INT32_MAX, True))
    rows_all = pa.array(np.arange(table.num_rows))
    for counts in ("n_annotators", CHOICES_N):
        if counts in names:
            col = table.column(counts).combine_chunks()
            for i in range(col.type.num_fields):
                name = col.type.field(i).name
                out.append((f"{counts}.{name}", rows_all, col.field(i), 0, INT32_MAX, True))
    for soft in ("soft", CHOICES_SOFT):
        if soft in names:
            col = table.column(soft).combine_chunks()
            for i in range(col.type.num_fields):
                target = col.field(i)
                for j in range(target.type.num_fields):
                    label = target.type.field(j).name
                    name = f"{soft}.{col.type.field(i).name}.{label}"
                    out.append((name, rows_all, target.field(j), 0.0, 1.0, False))
    return out


def _check_numbers(path: Path, table: pa.Table, offset: int = 0) -> None:
    """ReleaseError at the first number outside what the release can store (file:line, field);
    ``offset``: the file's record index of the table's first row."""
    for name, rows, values, low, high, whole in _numbers(table):
        if not len(values) or values.null_count == len(values):
            continue
        bad = pc.or_(pc.less(values, low), pc.greater(values, high))
        if whole:
            bad = pc.or_(bad, pc.not_equal(pc.floor(values), values))
        bad = pc.fill_null(bad, False)
        if pc.any(bad).as_py():
            k = pc.index(bad, True).as_py()
            value = values[k].as_py()
            line = _line_of(path, offset + rows[k].as_py())
            kind = (
                f"a whole number from {low} to {high}" if whole else f"a share from {low} to {high}"
            )
            raise ReleaseError(
                f"{path}:{line}: {name}: {value:g} is not {kind}; nothing was released"
            )


def _read(paths: list[Path], schema: pa.Schema) -> pl.DataFrame:
    """Concatenate JSONL files into one frame; a file that cannot be read is named in one line."""
    tables = [_read_file(path, schema) for path in paths]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.rechunk()  # one chunk: gathers over many chunks are ~20x slower


def read_articles(cfg: Config) -> pl.DataFrame:
    """Every article in store order (``_ord``), with its text policy; defaults filled like Article."""
    parts = list(article_batches(cfg))
    return (
        pl.concat(parts).rechunk()
        if parts
        else _articles_of(cfg, _as_frame(_ARTICLE_READ.empty_table()), 0, {})
    )


def _as_frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def article_batches(cfg: Config, schema: pa.Schema | None = None) -> Iterator[pl.DataFrame]:
    """The articles in store order, a reader's batch at a time, as :func:`read_articles` gives
    them (``schema``: read only these fields, as they are in the files)."""
    policies: dict[tuple[str | None, bool], str] = {}
    start = 0
    for path in article_files(cfg):
        for table in grouped(iter_json(path, _ARTICLE_READ if schema is None else schema)):
            if schema is not None:
                yield _as_frame(table)
                continue
            yield _articles_of(cfg, _as_frame(table), start, policies)
            start += table.num_rows


# Bytes of records (as Arrow holds them) a streaming pass handles at once: fewer, larger steps.
BATCH_BYTES = 32 << 20


def grouped(tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """The reader's batches concatenated into tables of about :data:`BATCH_BYTES`."""
    pending: list[pa.Table] = []
    size = 0
    for table in tables:
        pending.append(table)
        size += table.nbytes
        if size >= BATCH_BYTES:
            yield pa.concat_tables(pending)
            pending, size = [], 0
    if pending:
        yield pa.concat_tables(pending)


def _articles_of(
    cfg: Config,
    frame: pl.DataFrame,
    start: int,
    policies: dict[tuple[str | None, bool], str],
) -> pl.DataFrame:
    """Articles as read, from store position ``start``: defaults filled like Article, the text
    policy (``policies``: decided once per distinct (source, synthetic) pair), local URLs."""
    arts = frame.with_columns(
        (pl.int_range(pl.len(), dtype=pl.Int64) + start).alias("_ord"),
        pl.when(pl.col("dup_cluster").fill_null("") == "")
        .then(pl.col("id"))
        .otherwise(pl.col("dup_cluster"))
        .alias("dup_cluster"),
        pl.col("authors").fill_null([]),
        pl.col("topic_terms").fill_null([]),
        pl.col("synthetic").fill_null(False),
    )
    pairs = arts.select("source", "synthetic").unique()
    policy = []
    for src, syn in pairs.iter_rows():
        if (src, syn) not in policies:
            policies[src, syn] = text_policy(cfg, src, syn)
        policy.append(policies[src, syn])
    pairs = pairs.with_columns(pl.Series("text_policy", policy, dtype=_S))
    arts = arts.join(pairs, on=["source", "synthetic"], how="left", maintain_order="left")
    missing = pl.col("text_sha256").fill_null("") == ""
    if arts.select(missing.any()).item():  # rare: records written before text_sha256 existed
        arts = arts.with_columns(
            pl.when(missing)
            .then(pl.col("text").map_elements(sha256_hex, return_dtype=_S))
            .otherwise(pl.col("text_sha256"))
            .alias("text_sha256")
        )
    return local_urls_relative(cfg, arts)


def local_urls_relative(cfg: Config, arts: pl.DataFrame) -> pl.DataFrame:
    """html_dir articles' file:// URLs made relative to their source's folder (e.g. ``a/b.html``).

    The corpus keeps the builder's absolute file URL (the id is derived from it); a release
    must not carry the builder's paths. URLs of other forms (a page's http canonical) stay.
    """
    for source in cfg.sources:
        if source.kind != "html_dir" or source.path is None:
            continue
        prefix = source.path.resolve().as_uri().rstrip("/") + "/"
        mine = arts.filter(pl.col("source") == source.name)
        if not mine.height:
            continue
        for col in ("url", "canonical_url"):
            values = mine.get_column(col).drop_nulls().unique().to_list()
            mapping = {v: unquote(v[len(prefix) :]) for v in values if v.startswith(prefix)}
            if mapping:
                arts = arts.with_columns(
                    pl.when(pl.col("source") == source.name)
                    .then(pl.col(col).replace(mapping))
                    .otherwise(pl.col(col))
                    .alias(col)
                )
    return arts


def _given(name: str) -> pl.Expr:
    """A string column with empty strings as null (Python's ``x or y`` skips both)."""
    return pl.col(name).replace("", None)


def current_records(
    cfg: Config, targets: list[str], layers: Layers | None = None
) -> dict[str, pl.DataFrame]:
    """The current annotation, aggregate and gold records (see corpus.current_by_kind).

    The latest version per (kind, article, annotator) -- per (kind, article) for gold -- by
    (updated_at or created_at, pulled_at), a later line winning a tie; deleted and cancelled
    versions are then dropped. Aggregates are reduced to the latest one per article.
    """
    layers = defined() if layers is None else layers
    anns = _read(annotation_files(cfg), _annotation_read(targets, layers))
    # decide on a narrow frame of keys, then gather the chosen rows (spans are wide)
    chosen = chosen_lines(record_keys(anns))
    return {kind: int_offsets(anns[c.get_column("_line").sort()]) for kind, c in chosen.items()}


KINDS = (("annotation", False), ("aggregate", True), ("gold", True))  # True: one per article


def record_keys(anns: pl.DataFrame, start: int = 0) -> pl.DataFrame:
    """What picks the current records, per annotation record (``_line``: from ``start``)."""
    return anns.select(
        (pl.int_range(pl.len(), dtype=pl.Int64) + start).alias("_line"),
        "kind",
        "article_id",
        "id",
        pl.when(pl.col("kind") == "gold").then(None).otherwise(pl.col("annotator")).alias("_who"),
        # `updated_at or created_at`, as corpus.current_by_kind: an empty string counts as none
        pl.coalesce(_given("updated_at"), _given("created_at"), pl.lit("")).alias("_version"),
        pl.col("pulled_at").fill_null(""),
        (pl.col("deleted").fill_null(False) | pl.col("cancelled").fill_null(False)).alias("_gone"),
    )


def chosen_lines(keys: pl.DataFrame, article: str = "article_id") -> dict[str, pl.DataFrame]:
    """The keys of the current records of each kind (``article``: the column naming the
    article, or a code standing for it one to one)."""
    current = (
        keys.sort("_version", "pulled_at", "_line")
        .unique(["kind", article, "_who"], keep="last")
        .filter(~pl.col("_gone"))
    )
    out = {}
    for kind, per_article in KINDS:
        chosen = current.filter(pl.col("kind") == kind)
        if per_article:  # the latest aggregate (any method) or gold decision per article
            chosen = chosen.sort("_version", "pulled_at", "id").unique(article, keep="last")
        out[kind] = chosen
    return out


def int_offsets(records: pl.DataFrame) -> pl.DataFrame:
    """Span offsets (read as float64) as integers."""
    offsets = pl.element().struct.with_fields(
        pl.field("start").cast(pl.Int64), pl.field("end").cast(pl.Int64)
    )
    return records.with_columns(pl.col("spans").list.eval(offsets))


def _p_columns(shares: pl.Expr | None, values: tuple[str, ...]) -> list[pl.Expr]:
    """p_<label> columns: a distribution (labels nobody chose get 0.0), or all null."""
    if shares is None:
        return [pl.lit(None, pl.Float64).alias(f"p_{v}") for v in values]
    fields = [shares.struct.field(v) for v in values]
    some = pl.any_horizontal([shares.struct.field(v).is_not_null() for v in soft_labels(values)])
    return [
        pl.when(some).then(f.fill_null(0.0)).otherwise(None).alias(f"p_{v}")
        for v, f in zip(values, fields, strict=True)
    ]


def _stance_cols(values: tuple[str, ...]) -> list[str]:
    return [
        "article_id",
        "target",
        "label",
        "label_source",
        "method",
        *[f"p_{v}" for v in values],
        "n_annotators",
        "_tindex",
        "_priority",
    ]


def _majority(raw: pl.DataFrame, targets: list[str], values: tuple[str, ...]) -> pl.DataFrame:
    """Per (article, target): the majority of the raw labels (ties: unresolved), shares, count."""
    # private column names: a target may be called article_id, target or label
    slots = [f"_t{i}" for i in range(len(targets))]
    long = (
        raw.select("article_id", pl.col("stance").struct.rename_fields(slots).struct.unnest())
        .unpivot(index="article_id", on=slots, variable_name="_slot", value_name="label")
        .drop_nulls("label")
        .with_columns(
            pl.col("_slot").replace_strict(dict(zip(slots, targets, strict=True))).alias("target")
        )
        .drop("_slot")
    )
    counts = long.group_by("article_id", "target", "label").len("c")
    n = pl.col("c").sum()
    per = counts.group_by("article_id", "target").agg(
        pl.when((pl.col("c") == pl.col("c").max()).sum() == 1)
        .then(pl.col("label").sort_by("c").last())
        .otherwise(pl.lit("unresolved"))
        .alias("label"),
        *[(pl.col("c").filter(pl.col("label") == v).sum() / n).alias(f"p_{v}") for v in values],
        n.cast(pl.Int64).alias("n_annotators"),
    )
    index = pl.DataFrame({"target": targets, "_tindex": range(len(targets))})
    return per.join(index, on="target").with_columns(
        pl.lit("majority").alias("label_source"),
        pl.lit("majority").alias("method"),
        pl.lit(2).alias("_priority"),
    )


def stance_frame(
    current: dict[str, pl.DataFrame], targets: list[str], values: tuple[str, ...] | None = None
) -> pl.DataFrame:
    """One row per (article, target): gold, else aggregate, else majority of raw labels."""
    values = defined().stance.value_names if values is None else values
    parts = []
    for i, t in enumerate(targets):
        label = pl.col("stance").struct.field(t).alias("label")
        parts.append(
            current["gold"].select(
                "article_id",
                pl.lit(t).alias("target"),
                label,
                pl.lit("gold").alias("label_source"),
                pl.lit("adjudicated").alias("method"),
                *_p_columns(None, values),
                pl.lit(None, pl.Int64).alias("n_annotators"),
                pl.lit(i).alias("_tindex"),
                pl.lit(0).alias("_priority"),
            )
        )
        parts.append(
            current["aggregate"].select(
                "article_id",
                pl.lit(t).alias("target"),
                label,
                pl.lit("aggregate").alias("label_source"),
                pl.coalesce(_given("method"), "annotator").alias("method"),
                *_p_columns(pl.col("soft").struct.field(t), values),
                pl.col("n_annotators").struct.field(t).cast(pl.Int64).alias("n_annotators"),
                pl.lit(i).alias("_tindex"),
                pl.lit(1).alias("_priority"),
            )
        )
    parts.append(_majority(current["annotation"], targets, values))
    both = pl.concat([p.select(_stance_cols(values)) for p in parts], how="vertical_relaxed")
    return (
        both.filter(pl.col("label").is_not_null() & (pl.col("label") != ""))
        .sort("_priority")
        .unique(["article_id", "target"], keep="first", maintain_order=True)
        .drop("_priority")
    )


def choice_frame(current: dict[str, pl.DataFrame], layer: ChoiceLayer) -> pl.DataFrame:
    """One row per article labelled in a per-article choice layer, by the rule of stance_frame.

    The layer's columns (``choices``, ``choices_soft``, ``choices_n_annotators``) are laid out
    as a stance of one target, so the rule is written once.
    """
    q = "_layer"  # the one "target"

    def as_stance(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            pl.struct(pl.col(CHOICES).struct.field(layer.name).alias(q)).alias("stance"),
            pl.struct(pl.col(CHOICES_SOFT).struct.field(layer.name).alias(q)).alias("soft"),
            pl.struct(pl.col(CHOICES_N).struct.field(layer.name).alias(q)).alias("n_annotators"),
        )

    frame = stance_frame({k: as_stance(f) for k, f in current.items()}, [q], layer.value_names)
    return frame.drop("target", "_tindex")


def claims_frame(current: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The gold spans of an article where it has any, else its aggregate's, one row per span."""
    gold = current["gold"].filter(pl.col("spans").list.len() > 0)
    chosen = pl.concat(
        [
            gold.select("article_id", "spans", pl.lit("gold").alias("label_source")),
            current["aggregate"].select(
                "article_id", "spans", pl.lit("aggregate").alias("label_source")
            ),
        ]
    ).unique("article_id", keep="first", maintain_order=True)
    return (
        chosen.filter(pl.col("spans").list.len() > 0)
        .explode("spans")
        .with_columns(pl.int_range(pl.len()).over("article_id").alias("_k"))
        .unnest("spans")
        .rename({"id": "span_id"})
        .with_columns(pl.col("span_id").fill_null(""))
    )


def label_lists(stance: pl.Series, targets: list[str]) -> pl.Series:
    """Struct of labels per target -> list of {target, label}, sorted by target, labelled only.

    Vectorised with numpy offsets: a list comprehension or polars' concat_list takes ~1 s per
    300,000 annotations, this ~0.1 s.
    """
    names = sorted(targets)
    n, k = len(stance), len(names)
    labels = [stance.struct.field(t).to_arrow().cast(pa.string()) for t in names]
    mask = (
        np.stack([np.asarray(lab.is_valid()) for lab in labels], axis=1).ravel()
        if k
        else np.zeros(0, dtype=bool)
    )
    # row-major (row, target) order: the i-th label of target t sits at t * n + row
    where = (np.arange(k)[None, :] * n + np.arange(n)[:, None]).ravel()[mask]
    values = (pa.concat_arrays(labels) if k else pa.array([], pa.string())).take(pa.array(where))
    tnames = pa.array(names, pa.string()).take(pa.array(np.tile(np.arange(k), n)[mask]))
    offsets = np.concatenate([[0], np.cumsum(mask.reshape(n, k).sum(axis=1))]).astype(np.int32)
    pairs = pa.StructArray.from_arrays([tnames, values], ["target", "label"])
    series = pl.from_arrow(pa.ListArray.from_arrays(pa.array(offsets), pairs))
    assert isinstance(series, pl.Series)
    return series


def annotations_frame(
    raw: pl.DataFrame, targets: list[str], layers: Layers | None = None
) -> pl.DataFrame:
    """Every annotator's current labels: stance as a list of (target, label) sorted by target,
    spans, and a column per per-article choice layer."""
    layers = defined() if layers is None else layers
    return raw.select(
        "article_id",
        "annotator",
        label_lists(raw.get_column("stance"), targets).alias("stance"),
        "spans",
        *[pl.col(CHOICES).struct.field(c.name).alias(c.name) for c in layers.choices],
        "created_at",
        "updated_at",
    )


def _without_span_text(spans: pl.Expr) -> pl.Expr:
    return spans.list.eval(pl.element().struct.with_fields(pl.lit(None, _S).alias("text")))


@dataclass
class Tables:
    """The rows of each config in release order, with the split and helper columns."""

    articles: pl.DataFrame
    stance: pl.DataFrame
    claims: pl.DataFrame
    annotations: pl.DataFrame
    orphans: list[str]
    choices: dict[str, pl.DataFrame] = field(default_factory=dict)  # by choice layer

    def config(self, name: str) -> pl.DataFrame:
        """A config's frame (``split`` column included)."""
        if name in self.choices:
            return self.choices[name]
        frame: pl.DataFrame = getattr(self, name)
        return frame


def article_keys(arts: pl.DataFrame) -> pl.DataFrame:
    """What the annotation configs need of each article (``split`` included)."""
    return arts.select(
        pl.col("id").alias("article_id"),
        "_ord",
        "split",
        "language",
        (pl.col("text_policy") == "full").alias("_keep"),
    )


def orphan_ids(current: dict[str, pl.DataFrame], known: pl.Series) -> list[str]:
    """The article ids of current records that are not articles, sorted."""
    return sorted(
        set().union(
            *(
                f.filter(~pl.col("article_id").is_in(known.implode())).get_column("article_id")
                for f in current.values()
            )
        )
    )


def build_tables(cfg: Config, arts: pl.DataFrame, splits: list[str]) -> Tables:
    """Every config from the articles (with their splits) and the current annotations."""
    layers = defined()
    targets = [t.id for t in cfg.targets]
    arts = arts.with_columns(pl.Series("split", splits, dtype=_S))
    keys = article_keys(arts)
    current = current_records(cfg, targets, layers)
    orphans = orphan_ids(current, keys.get_column("article_id"))
    articles = arts.with_columns(
        pl.when(pl.col("text_policy") == "full").then(pl.col("text")).otherwise(None)
    ).sort("_ord")
    return annotation_tables(articles, keys, current, targets, layers, orphans)


def annotation_tables(
    articles: pl.DataFrame,
    keys: pl.DataFrame,
    current: dict[str, pl.DataFrame],
    targets: list[str],
    layers: Layers,
    orphans: list[str] | None = None,
) -> Tables:
    """The configs of the articles of ``keys`` (:func:`article_keys`) from their current
    records: every record of an article must be in ``current``, which may hold others."""

    def place(frame: pl.DataFrame, order: list[str]) -> pl.DataFrame:
        return frame.join(keys, on="article_id", how="inner").sort(["_ord", *order])

    stance = place(stance_frame(current, targets, layers.stance.value_names), ["_tindex"])
    claims = place(claims_frame(current), ["_k"]).with_columns(
        pl.when(pl.col("_keep")).then(pl.col("text")).otherwise(None).alias("text")
    )
    annotations = place(annotations_frame(current["annotation"], targets, layers), ["annotator"])
    annotations = annotations.with_columns(
        pl.when(pl.col("_keep"))
        .then(pl.col("spans"))
        .otherwise(_without_span_text(pl.col("spans")))
        .alias("spans")
    )
    choices = {c.name: place(choice_frame(current, c), []) for c in layers.choices}
    return Tables(articles, stance, claims, annotations, orphans or [], choices)


def config_vocabularies(config: str, layers: Layers | None = None) -> dict[str, tuple[str, ...]]:
    """A config's class-coded columns (``label``, ``spans.label``...) and their names."""
    prefix = f"{config}."
    return {
        k[len(prefix) :]: names for k, names in vocabularies(layers).items() if k.startswith(prefix)
    }


def _feature(t: pa.DataType, names: dict[str, tuple[str, ...]], path: str) -> dict[str, Any]:
    """One column's datasets feature (``Features.to_dict`` form): ClassLabel where coded."""
    if path in names:
        return {"names": list(names[path]), "_type": "ClassLabel"}
    if pa.types.is_list(t):
        return {"feature": _feature(t.value_type, names, path), "_type": "List"}
    if pa.types.is_struct(t):
        return {f.name: _feature(f.type, names, f"{path}.{f.name}") for f in t}
    dtype = {pa.bool_(): "bool", pa.float32(): "float32", pa.float64(): "float64"}.get(t, str(t))
    return {"dtype": dtype, "_type": "Value"}


def features(config: str, layers: Layers | None = None) -> dict[str, Any]:
    """A config's datasets ``Features`` as JSON (what ``load_dataset`` reads from the parquet
    files' ``huggingface`` schema metadata): the release schema, class-coded columns as
    ``ClassLabel`` with their names."""
    names = config_vocabularies(config, layers)
    return {f.name: _feature(f.type, names, f.name) for f in schemas(layers)[config]}


def release_schema(config: str, layers: Layers | None = None) -> pa.Schema:
    """A config's Arrow schema with its datasets features as ``huggingface`` metadata."""
    meta = {"info": {"features": features(config, layers)}}
    return schemas(layers)[config].with_metadata({"huggingface": json.dumps(meta)})


def _bad(values: pl.Expr, names: tuple[str, ...]) -> pl.Expr:
    return values.is_not_null() & ~values.is_in(list(names))


def encode_labels(frame: pl.DataFrame, config: str, layers: Layers | None = None) -> pl.DataFrame:
    """A config's class-coded columns as their index in the names (null: NO_LABEL).

    ReleaseError naming the config, column, value and article when a value is not one of the
    names (nothing is encoded past it).
    """
    for path, names in config_vocabularies(config, layers).items():
        code = dict(zip(names, range(len(names)), strict=True))
        column, _, sub = path.partition(".")
        value: object = None
        if not sub:
            bad = frame.filter(_bad(pl.col(column), names))
            if bad.height:
                value = bad.get_column(column)[0]
        else:
            field = pl.element().struct.field(sub).cast(_S)
            bad = frame.filter(pl.col(column).list.eval(_bad(field, names)).list.any())
            if bad.height:
                spans = bad.get_column(column)[0]
                value = next(s[sub] for s in spans if s[sub] is not None and s[sub] not in code)
        if value is not None:
            raise ReleaseError(
                f"config {config}, column {path}: {value!r} (article "
                f"{bad.get_column('article_id')[0]}) is not one of {', '.join(names)}; "
                "nothing was released"
            )
        if not sub:
            encoded = pl.col(column).replace_strict(code, default=None, return_dtype=pl.Int64)
            frame = frame.with_columns(encoded.fill_null(NO_LABEL))
        else:
            coded = field.replace_strict(code, default=None, return_dtype=pl.Int64)
            frame = frame.with_columns(
                pl.col(column).list.eval(
                    pl.element().struct.with_fields(coded.fill_null(NO_LABEL).alias(sub))
                )
            )
    return frame


def to_arrow(frame: pl.DataFrame, config: str) -> pa.Table:
    """A config's rows as an Arrow table with the release schema (helper columns dropped),
    labels class-coded, and the datasets features in the schema metadata."""
    schema = release_schema(config)
    table = encode_labels(frame.select(schema.names), config).to_arrow()
    return table.cast(schema).replace_schema_metadata(schema.metadata)
