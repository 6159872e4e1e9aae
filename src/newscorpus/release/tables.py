"""The four configs of a release, built column-wise with polars straight from the JSONL files.

No per-row Python: polars reads ``articles/*.jsonl`` and ``annotations/*.jsonl`` with explicit
schemas (fields outside them are ignored), picks each annotator's current version, decides one
stance label per (article, target) -- gold, else aggregate, else the majority of the raw labels --
and lays out the rows in article order. The Arrow schemas below are the release's contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from ..config import STANCE_VALUES, Config, text_policy
from ..corpus import annotation_files, article_files
from ..errors import ReleaseError
from ..records import sha256_hex
from ..store import MAX_DEPTH, too_deep, torn_tail

CONFIGS = ("articles", "stance", "claims", "annotations")
# an aggregate's label shares may name "unresolved" too; only the four values become p_* columns
SOFT_LABELS = (*STANCE_VALUES, "unresolved")

_STR = pa.string()
_SPAN = pa.struct(
    [
        ("id", _STR),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("label", _STR),
        ("text", _STR),
        ("checkworthy", _STR),
        ("claim_type", _STR),
        ("speaker", _STR),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "articles": pa.schema(
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
    ),
    "stance": pa.schema(
        [
            ("article_id", _STR),
            ("target", _STR),
            ("label", _STR),
            ("label_source", _STR),
            ("method", _STR),
            *[(f"p_{v}", pa.float32()) for v in STANCE_VALUES],
            ("n_annotators", pa.int32()),
            ("language", _STR),
        ]
    ),
    "claims": pa.schema(
        [
            ("article_id", _STR),
            ("span_id", _STR),
            ("start", pa.int32()),
            ("end", pa.int32()),
            ("label", _STR),
            ("text", _STR),
            ("checkworthy", _STR),
            ("claim_type", _STR),
            ("speaker", _STR),
            ("label_source", _STR),
            ("language", _STR),
        ]
    ),
    "annotations": pa.schema(
        [
            ("article_id", _STR),
            ("annotator", _STR),
            ("stance", pa.list_(pa.struct([("target", _STR), ("label", _STR)]))),
            ("spans", pa.list_(_SPAN)),
            ("created_at", _STR),
            ("updated_at", _STR),
            ("language", _STR),
        ]
    ),
}

_S = pl.String
# What is read from the JSONL files: the release's fields, except what the release computes.
# Offsets as float64: JSON Schema's integer admits 63.0 (pandas writes them); cast after reading.
_SPAN_READ = pa.struct(
    [pa.field(f.name, pa.float64()) if f.name in ("start", "end") else f for f in _SPAN]
)
_ARTICLE_READ = pa.schema([f for f in SCHEMAS["articles"] if f.name != "text_policy"])


def _annotation_read(targets: list[str]) -> pa.Schema:
    per_target = [(t, _STR) for t in targets]
    return pa.schema(
        [
            ("id", _STR),
            ("kind", _STR),
            ("article_id", _STR),
            ("annotator", _STR),
            ("stance", pa.struct(per_target)),
            ("spans", pa.list_(_SPAN_READ)),
            ("created_at", _STR),
            ("updated_at", _STR),
            ("pulled_at", _STR),
            ("cancelled", pa.bool_()),
            ("deleted", pa.bool_()),
            # written by `aggregate`: the method, and per target the label shares and annotators
            ("method", _STR),
            (
                "soft",
                pa.struct(
                    [(t, pa.struct([(v, pa.float64()) for v in SOFT_LABELS])) for t in targets]
                ),
            ),
            ("n_annotators", pa.struct([(t, pa.float64()) for t in targets])),
        ]
    )


# Bytes per block of the multi-threaded JSON reader; a longer line makes it retry with more.
BLOCK_BYTES = 8 << 20


def _read_file(path: Path, schema: pa.Schema) -> pa.Table:
    """One JSONL file with Arrow's multi-threaded reader; fields outside ``schema`` are ignored."""
    parse = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    size = path.stat().st_size
    torn = torn_tail(path)  # a last line without newline is a torn write, never a record
    source: Path | pa.BufferReader = path
    if torn:
        size -= torn
        with path.open("rb") as fh:
            source = pa.BufferReader(fh.read(size))
    block = BLOCK_BYTES
    while True:
        if isinstance(source, pa.BufferReader):
            source.seek(0)
        try:
            return pajson.read_json(
                source, read_options=pajson.ReadOptions(block_size=block), parse_options=parse
            )
        except pa.ArrowException as exc:
            if "straddl" in str(exc) and block <= size:
                block *= 4  # a line longer than a block
                continue
            if "Empty JSON" in str(exc):
                return schema.empty_table()
            raise ReleaseError(_locate(path, str(exc))) from None


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
    if "n_annotators" in names:
        col = table.column("n_annotators").combine_chunks()
        for i in range(col.type.num_fields):
            name = col.type.field(i).name
            out.append((f"n_annotators.{name}", rows_all, col.field(i), 0, INT32_MAX, True))
    if "soft" in names:
        col = table.column("soft").combine_chunks()
        for i in range(col.type.num_fields):
            target = col.field(i)
            for j in range(target.type.num_fields):
                label = target.type.field(j).name
                name = f"soft.{col.type.field(i).name}.{label}"
                out.append((name, rows_all, target.field(j), 0.0, 1.0, False))
    return out


def _check_numbers(path: Path, table: pa.Table) -> None:
    """ReleaseError at the first number outside what the release can store (file:line, field)."""
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
            line = _line_of(path, rows[k].as_py())
            kind = (
                f"a whole number from {low} to {high}" if whole else f"a share from {low} to {high}"
            )
            raise ReleaseError(
                f"{path}:{line}: {name}: {value:g} is not {kind}; nothing was released"
            )


def _read(paths: list[Path], schema: pa.Schema) -> pl.DataFrame:
    """Concatenate JSONL files into one frame; a file that cannot be read is named in one line."""
    tables = []
    for path in paths:
        try:
            table = _read_file(path, schema)
            _check_numbers(path, table)
            tables.append(table)
        except OSError as exc:
            raise ReleaseError(f"{path}: cannot read: {exc.strerror or exc}") from None
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.rechunk()  # one chunk: gathers over many chunks are ~20x slower


def read_articles(cfg: Config) -> pl.DataFrame:
    """Every article in store order (``_ord``), with its text policy; defaults filled like Article."""
    arts = _read(article_files(cfg), _ARTICLE_READ).with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_ord"),
        pl.when(pl.col("dup_cluster").fill_null("") == "")
        .then(pl.col("id"))
        .otherwise(pl.col("dup_cluster"))
        .alias("dup_cluster"),
        pl.col("authors").fill_null([]),
        pl.col("topic_terms").fill_null([]),
        pl.col("synthetic").fill_null(False),
    )
    # text_policy() decides once per distinct (source, synthetic) pair
    pairs = arts.select("source", "synthetic").unique()
    policy = [text_policy(cfg, src, syn) for src, syn in pairs.iter_rows()]
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


def current_records(cfg: Config, targets: list[str]) -> dict[str, pl.DataFrame]:
    """The current annotation, aggregate and gold records (see corpus.current_by_kind).

    The latest version per (kind, article, annotator) -- per (kind, article) for gold -- by
    (updated_at or created_at, pulled_at), a later line winning a tie; deleted and cancelled
    versions are then dropped. Aggregates are reduced to the latest one per article.
    """
    anns = _read(annotation_files(cfg), _annotation_read(targets))
    # decide on a narrow frame of keys, then gather the chosen rows (spans are wide)
    keys = anns.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_line"),
        "kind",
        "article_id",
        "id",
        pl.when(pl.col("kind") == "gold").then(None).otherwise(pl.col("annotator")).alias("_who"),
        # `updated_at or created_at`, as corpus.current_by_kind: an empty string counts as none
        pl.coalesce(_given("updated_at"), _given("created_at"), pl.lit("")).alias("_version"),
        pl.col("pulled_at").fill_null(""),
        (pl.col("deleted").fill_null(False) | pl.col("cancelled").fill_null(False)).alias("_gone"),
    )
    current = (
        keys.sort("_version", "pulled_at", "_line")
        .unique(["kind", "article_id", "_who"], keep="last")
        .filter(~pl.col("_gone"))
    )

    def rows(kind: str, per_article: bool) -> pl.DataFrame:
        chosen = current.filter(pl.col("kind") == kind)
        if per_article:  # the latest aggregate (any method) or gold decision per article
            chosen = chosen.sort("_version", "pulled_at", "id").unique("article_id", keep="last")
        picked = anns[chosen.get_column("_line").sort()]
        offsets = pl.element().struct.with_fields(
            pl.field("start").cast(pl.Int64), pl.field("end").cast(pl.Int64)
        )
        return picked.with_columns(pl.col("spans").list.eval(offsets))

    return {
        "annotation": rows("annotation", False),
        "aggregate": rows("aggregate", True),
        "gold": rows("gold", True),
    }


def _p_columns(shares: pl.Expr | None) -> list[pl.Expr]:
    """p_<label> columns: a distribution (labels nobody chose get 0.0), or all null."""
    if shares is None:
        return [pl.lit(None, pl.Float64).alias(f"p_{v}") for v in STANCE_VALUES]
    fields = [shares.struct.field(v) for v in STANCE_VALUES]
    some = pl.any_horizontal([shares.struct.field(v).is_not_null() for v in SOFT_LABELS])
    return [
        pl.when(some).then(f.fill_null(0.0)).otherwise(None).alias(f"p_{v}")
        for v, f in zip(STANCE_VALUES, fields, strict=True)
    ]


_STANCE_COLS = [
    "article_id",
    "target",
    "label",
    "label_source",
    "method",
    *[f"p_{v}" for v in STANCE_VALUES],
    "n_annotators",
    "_tindex",
    "_priority",
]


def _majority(raw: pl.DataFrame, targets: list[str]) -> pl.DataFrame:
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
        *[
            (pl.col("c").filter(pl.col("label") == v).sum() / n).alias(f"p_{v}")
            for v in STANCE_VALUES
        ],
        n.cast(pl.Int64).alias("n_annotators"),
    )
    index = pl.DataFrame({"target": targets, "_tindex": range(len(targets))})
    return per.join(index, on="target").with_columns(
        pl.lit("majority").alias("label_source"),
        pl.lit("majority").alias("method"),
        pl.lit(2).alias("_priority"),
    )


def stance_frame(current: dict[str, pl.DataFrame], targets: list[str]) -> pl.DataFrame:
    """One row per (article, target): gold, else aggregate, else majority of raw labels."""
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
                *_p_columns(None),
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
                *_p_columns(pl.col("soft").struct.field(t)),
                pl.col("n_annotators").struct.field(t).cast(pl.Int64).alias("n_annotators"),
                pl.lit(i).alias("_tindex"),
                pl.lit(1).alias("_priority"),
            )
        )
    parts.append(_majority(current["annotation"], targets))
    both = pl.concat([p.select(_STANCE_COLS) for p in parts], how="vertical_relaxed")
    return (
        both.filter(pl.col("label").is_not_null() & (pl.col("label") != ""))
        .sort("_priority")
        .unique(["article_id", "target"], keep="first", maintain_order=True)
        .drop("_priority")
    )


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


def annotations_frame(raw: pl.DataFrame, targets: list[str]) -> pl.DataFrame:
    """Every annotator's current labels: stance as a list of (target, label) sorted by target."""
    return raw.select(
        "article_id",
        "annotator",
        label_lists(raw.get_column("stance"), targets).alias("stance"),
        "spans",
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

    def config(self, name: str) -> pl.DataFrame:
        """A config's frame (``split`` column included)."""
        frame: pl.DataFrame = getattr(self, name)
        return frame


def build_tables(cfg: Config, arts: pl.DataFrame, splits: list[str]) -> Tables:
    """All four configs from the articles (with their splits) and the current annotations."""
    targets = [t.id for t in cfg.targets]
    arts = arts.with_columns(pl.Series("split", splits, dtype=_S))
    keys = arts.select(
        pl.col("id").alias("article_id"),
        "_ord",
        "split",
        "language",
        (pl.col("text_policy") == "full").alias("_keep"),
    )
    current = current_records(cfg, targets)
    known = keys.get_column("article_id")
    orphans = sorted(
        set().union(
            *(
                f.filter(~pl.col("article_id").is_in(known.implode())).get_column("article_id")
                for f in current.values()
            )
        )
    )

    def place(frame: pl.DataFrame, order: list[str]) -> pl.DataFrame:
        return frame.join(keys, on="article_id", how="inner").sort(["_ord", *order])

    articles = arts.with_columns(
        pl.when(pl.col("text_policy") == "full").then(pl.col("text")).otherwise(None)
    ).sort("_ord")
    stance = place(stance_frame(current, targets), ["_tindex"])
    claims = place(claims_frame(current), ["_k"]).with_columns(
        pl.when(pl.col("_keep")).then(pl.col("text")).otherwise(None).alias("text")
    )
    annotations = place(annotations_frame(current["annotation"], targets), ["annotator"])
    annotations = annotations.with_columns(
        pl.when(pl.col("_keep"))
        .then(pl.col("spans"))
        .otherwise(_without_span_text(pl.col("spans")))
        .alias("spans")
    )
    return Tables(articles, stance, claims, annotations, orphans)


def to_arrow(frame: pl.DataFrame, config: str) -> pa.Table:
    """A config's rows as an Arrow table with the release schema (helper columns dropped)."""
    schema = SCHEMAS[config]
    table = frame.select(schema.names).to_arrow()
    return table.cast(schema)
