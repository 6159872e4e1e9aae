"""The dataset card: generated YAML header, the prose of DATA_CARD.md, generated sections."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from ..annotation.assign import annotator_projects
from ..cardtext import card_body, placeholder_warnings, read_card
from ..config import Config
from ..layers import NO_LABEL, UNRESOLVED, Layers, defined, or_list
from ..records import utcnow
from .baseline import (
    BASELINE_JSON,
    C_GRID,
    CAPS,
    FEATURES,
    MAX_CHARS,
    MAX_ITER,
    MIN_ROWS,
    NGRAMS,
    RESAMPLES,
    SEED,
    SPLITS,
    BaselineResult,
    Score,
    TargetBaseline,
    sklearn_version,
)
from .facts import ReleaseFacts
from .tables import config_vocabularies, features, schemas

_NO_CARD = "## Dataset description\n\nNo description was written for this corpus yet; see the generated sections below.\n"

UNRESOLVED_MEANING = (
    "annotators tied and no adjudicated label exists (exclude or adjudicate before training)"
)
_LABEL_SOURCE = "Where the label comes from: `gold` (an adjudicator's decision), `aggregate` (the corpus's `aggregate` run) or `majority` (no aggregate yet: the plain majority of the raw labels, computed at release)."
_CODED = f"Stored as a class code (see Label vocabularies); `{NO_LABEL}` where null."
_METHOD = "With `gold`: `adjudicated`; with `aggregate`: the aggregation method (`majority` vote or `dawid-skene`); with `majority`: `majority`."


def config_docs(layers: Layers | None = None) -> dict[str, str]:
    """What one row of each config is (the card's config table, Croissant's record sets)."""
    layers = defined() if layers is None else layers
    docs = {
        "articles": "One row per article; text is null for sources with text_policy = hydrate.",
        "stance": "One row per article and target: gold, aggregated or majority label, label shares, number of annotators.",
        "claims": f"{layers.spans.listed()} spans (gold or aggregated) with offsets into the article text.",
        "annotations": "Every annotator's current labels of each article, under a stable pseudonym.",
    }
    for c in layers.choices:
        docs[c.name] = (
            f"One row per article: its {c.title.lower()} (gold, aggregated or majority label), "
            "label shares, number of annotators."
        )
    return docs


def _span_docs(layers: Layers) -> dict[str, str]:
    spans = layers.spans
    docs = {
        "start": "Character offset (Python string index) of the span's first character in `articles.text`.",
        "end": "Character offset just after the span's last character: `text[start:end]` is the span.",
        "label": or_list([f"`{name}`" for name in spans.label_names])
        + ". Stored as a class code (see Label vocabularies).",
        "text": "The span's text; null for text_policy = hydrate sources (restored by `newscorpus hydrate`).",
    }
    docs.update({a.name: f"{a.doc} {_CODED}" for a in spans.attributes})
    return docs


def field_docs_by_config(layers: Layers | None = None) -> dict[str, dict[str, str]]:
    """Config -> column -> what it holds (the card's Data fields tables, Croissant's fields)."""
    layers = defined() if layers is None else layers
    relation = layers.spans.relation
    stance = layers.stance
    docs: dict[str, dict[str, str]] = {
        "articles": {
            "id": "Stable article id: the first 16 hex digits of SHA-256 of `url:` + canonical URL, or of `text:` + the normalised text when there is no URL.",
            "url": "Address the article was fetched from; for an `html_dir` source (local HTML files), the file's path relative to that source's folder.",
            "canonical_url": "The page's canonical address (used for the id); for an `html_dir` source without one, the file's path as in `url`.",
            "source": "Name of the source in the corpus configuration (see Source data).",
            "site": "Name of the outlet or site.",
            "title": "Headline.",
            "text": "Main text extracted from the page (paragraphs separated by a blank line); null when text_policy = hydrate.",
            "text_sha256": "SHA-256 of the UTF-8 text: `newscorpus hydrate` checks re-fetched text against it.",
            "text_policy": "`full` (text released) or `hydrate` (text withheld for copyright; fetch it yourself).",
            "language": "ISO 639-1 code of the text (es, fr or en), detected from the text.",
            "authors": "Bylines as printed by the outlet (may be empty).",
            "published": "Publication date or time as given by the page (ISO 8601 string; may be null).",
            "dup_cluster": "Near-duplicate cluster id (the id of one member); copies share it and a split.",
            "topic_terms": "Topic keywords found in the title or text (why the article was kept).",
            "fetched_at": "When the page was fetched (UTC, ISO 8601).",
            "extractor": "Tool and version that extracted the text.",
            "synthetic": "True for articles written for tests or demonstrations: they are NOT real news.",
        },
        "stance": {
            "article_id": "`articles.id` of the article.",
            "target": "Stance target id (see Label values).",
            "label": f"{stance.listed()}; `{UNRESOLVED}` when annotators tied. "
            "Stored as a class code (see Label vocabularies).",
            "label_source": _LABEL_SOURCE,
            "method": _METHOD,
            "n_annotators": "How many annotators labelled this article for this target (null for gold rows).",
            "language": "Language of the article.",
        },
        "claims": {
            "article_id": "`articles.id` of the article the span belongs to.",
            "span_id": "Span id, unique within the article.",
            **_span_docs(layers),
            relation.field: relation.doc,
            "label_source": "`gold` (an adjudicator's spans) or `aggregate`: annotators' spans grouped by overlap, a group kept when a strict majority of the article's annotators marked it, with the median boundaries and the majority's label and attributes (null when no majority); groups without a majority are left out.",
            "language": "Language of the article.",
        },
        "annotations": {
            "article_id": "`articles.id` of the annotated article.",
            "annotator": "Stable pseudonym (`ann-` + 10 hex digits, a keyed hash); no name or e-mail.",
            "stance": "The annotator's label for each target: a list of {target, label}; `label` "
            "is a class code with the names of `stance.label` (see Label vocabularies).",
            "spans": "The annotator's spans: {" + ", ".join(layers.spans.fields) + "}; "
            f"`{relation.field}` is the `id` of a {relation.source} span in the same list; "
            + ", ".join(
                f"`{k.split('.')[1]}`"
                for k in config_vocabularies("annotations", layers)
                if k.startswith("spans.")
            )
            + f" are class codes (see Label vocabularies; `{NO_LABEL}` where null).",
            "created_at": "When the annotation was first submitted (UTC, ISO 8601).",
            "updated_at": "When it was last changed (UTC, ISO 8601).",
            "language": "Language of the article.",
        },
    }
    for v in stance.value_names:
        docs["stance"][f"p_{v}"] = stance.shares_doc(v, "gold")
    for c in layers.choices:
        docs["annotations"][c.name] = (
            f"The annotator's {c.title.lower()} label: {c.listed()}; a class code with the "
            f"names of `{c.name}.label` (`{NO_LABEL}` when left empty)."
        )
        docs[c.name] = {
            "article_id": "`articles.id` of the article.",
            "label": f"{c.listed()}; `{UNRESOLVED}` when annotators tied. "
            "Stored as a class code (see Label vocabularies).",
            "label_source": _LABEL_SOURCE,
            "method": _METHOD,
            **{f"p_{v}": c.shares_doc(v, "gold") for v in c.value_names},
            "n_annotators": "How many annotators labelled this article (null for gold rows).",
            "language": "Language of the article.",
        }
    return docs


def label_docs(layers: Layers | None = None) -> dict[str, str]:
    """Stance value -> meaning, as the guidelines of a new corpus's card word it."""
    layers = defined() if layers is None else layers
    return {
        **{v.name: v.meaning for v in layers.stance.values},
        UNRESOLVED: UNRESOLVED_MEANING,
    }


def type_name(t: pa.DataType) -> str:
    """A column type as `datasets` shows it: string, int32, float32, bool, list[...]."""
    if pa.types.is_list(t):
        return f"list[{type_name(t.value_type)}]"
    if pa.types.is_struct(t):
        return "{" + ", ".join(f.name for f in t) + "}"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_floating(t):
        return f"float{t.bit_width}"
    return str(t)


def field_docs(config: str) -> list[tuple[str, str, str]]:
    """(column, type, meaning) of every column of a config, in schema order (a class-coded
    column's type is ``class_label``, as datasets shows a ClassLabel)."""
    docs = field_docs_by_config()[config]
    coded = config_vocabularies(config)
    return [
        (f.name, "class_label" if f.name in coded else type_name(f.type), docs[f.name])
        for f in schemas()[config]
    ]


def released_features(
    counts: Mapping[str, Mapping[str, int]], layers: Layers | None = None
) -> dict[str, dict[str, Any]]:
    """config -> its datasets features (column -> feature JSON), for the configs this version
    lists (with rows): what manifest.json records for the next release to compare with."""
    listed = set(_listed(counts))
    return {config: features(config, layers) for config in counts if config in listed}


def released_vocabularies(
    counts: Mapping[str, Mapping[str, int]], layers: Layers | None = None
) -> dict[str, tuple[str, ...]]:
    """``config.column`` -> class names, for the configs this version lists (with rows); the
    card, the manifest and Croissant all give these."""
    listed = set(_listed(counts))
    return {
        f"{config}.{column}": names
        for config in counts
        if config in listed
        for column, names in config_vocabularies(config, layers).items()
    }


def vocabularies_section(counts: Mapping[str, Mapping[str, int]]) -> str:
    """Label vocabularies: every class-coded column, its names by code, how to read them."""
    vocab = released_vocabularies(counts)
    out = ["### Label vocabularies\n"]
    if not vocab:
        return out[0] + "No labelled config in this version.\n"
    out.append(
        'Labels are stored as class codes (`datasets.ClassLabel` features): `row["label"]` '
        "is an int, the index of its name in the fixed order of the table below. The names "
        "travel with the files (the parquet schema's `huggingface` metadata), so `load_dataset` gives them as features, and "
        "they are also in `manifest.json` (`vocabularies`) and `croissant.json`. "
        f"`{NO_LABEL}` means no label (datasets' convention; a ClassLabel has no null): a "
        "null value (a span attribute of a label that does not carry it, left empty, or "
        "without a majority); "
        f"`int2str({NO_LABEL})` raises, so leave those rows out first.\n"
    )
    out.append(
        "```python\n"
        'stance = load_dataset(DIR, "stance")["train"]\n'
        'label = stance.features["label"]    # ClassLabel; label.names: the names, code 0 first\n'
        'label.int2str(stance[0]["label"])   # a code -> its name (label.str2int: the reverse)\n'
        'annotations = load_dataset(DIR, "annotations")["train"]\n'
        'annotations.features["spans"].feature["label"].names  # fields of a list: .feature\n'
        "```\n"
    )
    rows = [
        (f"`{key}`", ", ".join(f"{i} `{name}`" for i, name in enumerate(names)))
        for key, names in vocab.items()
    ]
    out.append(_table(("column", "codes"), rows))
    return "\n".join(out)


def size_category(n: int) -> str:
    """The Hub's size bucket for n rows."""
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < limit:
            return name
    return "10M<n<100M"


def card_prose(cfg: Config) -> str:
    """The corpus's own DATA_CARD.md (its leading comment cut); a stub saying so without one."""
    text = read_card(cfg)
    return card_body(text) if text is not None else _NO_CARD


def prose_notice(cfg: Config) -> str | None:
    """A note for the card's top while its prose is missing or still holds template placeholders."""
    left = placeholder_warnings(cfg)
    if not left:
        return None
    if read_card(cfg) is None:
        return "This card has no hand-written description yet: the corpus builders have not written it."
    return (
        f"This card's description is an unfinished template ({len(left)} "
        f"place{'s' if len(left) != 1 else ''} marked [FILL IN] are left): read it with care."
    )


def card_yaml(
    cfg: Config, counts: Mapping[str, Mapping[str, int]], languages: list[str], version: str
) -> dict[str, Any]:
    """The card's YAML metadata; configs list only the splits that have rows."""
    configs = []
    for config, splits in counts.items():
        files = [
            {"split": s, "path": f"data/{config}/{s}-v{version}-*.parquet"}
            for s, n in splits.items()
            if n
        ]
        if files:
            entry: dict[str, Any] = {"config_name": config, "data_files": files}
            if config == "articles":
                entry["default"] = True
            configs.append(entry)
    langs = languages or list(cfg.corpus.languages)
    n_articles = sum(counts.get("articles", {}).values())
    return {
        "pretty_name": cfg.corpus.pretty_name,
        **cfg.corpus.card_license(),
        "language": langs,
        "multilinguality": "multilingual" if len(langs) > 1 else "monolingual",
        "task_categories": ["text-classification", "token-classification"],
        "task_ids": ["multi-class-classification"],
        "size_categories": [size_category(n_articles)],
        "annotations_creators": list(cfg.release.annotations_creators),
        "language_creators": list(cfg.release.language_creators),
        "source_datasets": ["original"],
        "tags": ["stance-detection", "claim-detection", "check-worthiness", "news"],
        "configs": configs,
    }


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def without_folder(text: str, root: Path) -> str:
    """``text`` with the absolute path of the corpus folder ``root`` made relative to it."""
    for r in dict.fromkeys((root.resolve(), root.absolute())):
        for form in (r.as_uri(), str(r)):
            # the folder itself, not a longer name that starts like it (/home/u/c vs /home/u/c2)
            text = re.sub(
                re.escape(form) + r"(/|(?![\w.-]))", lambda m: "" if m.group(1) else ".", text
            )
    return text


def agreement_section(report_md: str | None, pngs: list[str], root: Path | None = None) -> str:
    """The agreement report of `newscorpus agree`, with its plot links pointing into reports/.

    Paths inside the corpus folder ``root`` are made relative to it (a hand-edited report may
    hold the builder's absolute paths).
    """
    if report_md is None:
        return (
            "No agreement report was found when this version was built (run `newscorpus agree`).\n"
        )
    if root is not None:
        report_md = without_folder(report_md, root)
    text = re.sub(r"^#\s+.*\n", "", report_md.strip() + "\n", count=1)
    text = re.sub(r"^(#+)", r"#\1", text, flags=re.M)  # nest its headings under ours
    for name in pngs:
        # relative, absolute or file: links to a plot (never http ones) point to our copy
        local = rf"\]\((?:file:(?://)?)?(?:[^)\s:]*/)?{re.escape(name)}\)"
        text = re.sub(local, f"](reports/{name})", text)
    missing = [n for n in pngs if f"reports/{n}" not in text]
    text += "".join(f"\n![{n}](reports/{n})\n" for n in missing)
    return text


def _listed(counts: Mapping[str, Mapping[str, int]]) -> list[str]:
    return [c for c in counts if sum(counts[c].values())]


def shorten(value: Any, chars: int = 160, items: int = 3) -> Any:
    """An example value made short: long strings cut with an ellipsis, long lists cut."""
    if isinstance(value, str) and len(value) > chars:
        return value[:chars] + "…"
    if isinstance(value, list):
        head = [shorten(v, chars, items) for v in value[:items]]
        return [*head, f"… {len(value) - items} more"] if len(value) > items else head
    if isinstance(value, dict):
        return {k: shorten(v, chars, items) for k, v in value.items()}
    return value


def instances_section(examples: Mapping[str, dict[str, Any]]) -> str:
    """One row of each config as `datasets` returns it (shortened), under Data instances."""
    if not examples:
        return ""
    out = ["### Data instances\n"]
    out.append(
        "The first row of each config (its first split with rows), as `load_dataset` returns "
        "it; long strings and lists are shortened here.\n"
    )
    for config, row in examples.items():
        body = json.dumps(shorten(row), ensure_ascii=False, indent=1)
        out.append(f"`{config}`:\n\n```json\n{body}\n```\n")
    return "\n".join(out)


def label_values_text(layers: Layers) -> str:
    """The span labels, then each per-article choice layer's values, for Label values."""
    glosses = ", ".join(f"`{v.name}` ({v.gloss or v.meaning})" for v in layers.spans.labels)
    out = [
        f"\nSpan labels (`claims.label`, `annotations.spans.label`): {glosses}. The annotation "
        "guidelines above give the full definitions.\n"
    ]
    for c in layers.choices:
        out.append(
            f"\n{c.title} labels (`{c.name}.label`, `annotations.{c.name}`), for the article "
            "as a whole:\n"
        )
        meanings = {**{v.name: v.meaning for v in c.values}, UNRESOLVED: UNRESOLVED_MEANING}
        out.append("".join(f"- `{k}`: {v}.\n" for k, v in meanings.items()))
    return "\n".join(out)


def structure_section(
    cfg: Config,
    counts: Mapping[str, Mapping[str, int]],
    examples: Mapping[str, dict[str, Any]] | None = None,
) -> str:
    """Configs, a Data fields table per config, examples, label values, and the splits."""
    configs = _listed(counts)
    out = ["## Dataset structure\n"]
    out.append(
        _table(
            ("config", "rows", "what one row is"),
            [(f"`{c}`", sum(counts[c].values()), config_docs()[c]) for c in configs],
        )
    )
    out.append(
        "\nRows of `stance`, `claims` and `annotations` refer to their article by `article_id` "
        "(= `articles.id`) and are in the same split as it.\n"
    )
    for c in configs:
        out.append(f"### Data fields: `{c}`\n")
        out.append(
            _table(
                ("field", "type", "meaning"), [(f"`{n}`", f"`{t}`", d) for n, t, d in field_docs(c)]
            )
        )
    if examples:
        out.append(instances_section(examples))
    out.append("### Label values\n")
    out.append("Stance targets (`stance.target`, `annotations.stance.target`):\n")
    out.append(_table(("target", "statement"), [(f"`{t.id}`", t.text) for t in cfg.targets]))
    out.append("\nStance labels, for the article as a whole, as its text presents it:\n")
    out.append("".join(f"- `{k}`: {v}.\n" for k, v in label_docs().items()))
    out.append(label_values_text(defined()))
    out.append(vocabularies_section(counts))
    shares = ", ".join(f"{s} {share:g}" for s, share in cfg.release.splits)
    out.append("### Splits\n")
    out.append(
        f"Shares: {shares}. Each article's split is drawn from a SHA-256 hash of its "
        "near-duplicate cluster (`dup_cluster`), so near copies of one story are never in two "
        "splits (except clusters merged after an earlier release, whose articles keep their "
        "splits: Known limitations of this version lists them when there are any). "
        "Splits are stable across versions: an article keeps the split it had in the previous "
        "release (read from its `manifest.json`), and only new articles are assigned; "
        "a new article whose cluster was released before joins that cluster's split. "
        "`manifest.json` lists the split of every article. With few articles the shares are "
        "only approximate.\n"
    )
    return "\n".join(out)


def _source_counts(facets: Mapping[str, Counter[str]]) -> list[tuple[str, str, int]]:
    """(source, text_policy, articles) from the build's 'name (policy)' facet."""
    rows = []
    for key, n in sorted(facets.get("source", Counter()).items()):
        name, _, policy = key.rpartition(" (")
        rows.append((name or key, policy.rstrip(")") if name else "", n))
    return rows


def sources_section(
    cfg: Config,
    facets: Mapping[str, Counter[str]],
    per_item: str | None,
    period: str | None = None,
) -> str:
    """Source data (kind, text policy, counts), synthetic articles, annotators per item."""
    kinds = {s.name: s.kind for s in cfg.sources}
    rows = [
        (
            f"`{name}`",
            kinds.get(name, "added by hand"),
            f"`{policy}`",
            n,
            "yes"
            if policy == "full"
            else "no: run `newscorpus hydrate`"
            if name in kinds
            else "no: withheld (not a corpus.toml source: no terms on record)",
        )
        for name, policy, n in _source_counts(facets)
    ]
    out = ["## Source data\n"]
    out.append(
        "Articles were gathered from the sources below, their main text extracted with "
        "trafilatura, kept when in a corpus language and on topic (keyword list), and "
        "near duplicates clustered, not deleted (`dup_cluster`). A source with text_policy "
        "`hydrate` has its text withheld: rows keep the url, title, `text_sha256` and the "
        "annotations with their offsets.\n"
    )
    out.append(
        _table(("source", "kind", "text_policy", "articles", "text in this release"), rows)
        if rows
        else "No articles in this version.\n"
    )
    if period:
        out.append(f"\n{period}\n")
    syn = facets.get("synthetic")
    total = sum(facets.get("language", Counter()).values())
    if syn is not None:
        n = syn.get("true", 0)
        out.append(
            f"\n**Synthetic articles: {n} of {total}** (column `synthetic`): written for tests "
            "or demonstrations, not real news. "
            + (
                "Drop them for research on real reporting: `ds.filter(lambda r: not r['synthetic'])`.\n"
                if n
                else "\n"
            )
        )
    else:
        out.append(
            "\nThe `synthetic` column marks articles written for tests or demonstrations (not "
            "real news); drop them for research on real reporting: "
            "`ds.filter(lambda r: not r['synthetic'])`.\n"
        )
    out.append("\n### Annotation process\n")
    out.append(
        "Annotators label articles in Label Studio, following the guidelines above; suggested "
        "quotes and figures (pre-annotations) are only suggestions they correct or delete. "
        "Each annotator appears in `annotations` under a stable pseudonym. Labels are "
        "aggregated across annotators (majority or Dawid–Skene, column `method`); adjudicated "
        "gold labels override aggregates (`label_source`). Agreement is reported below. "
        "Label Studio gets one task per near-duplicate cluster, so the other members of a "
        "cluster (same `dup_cluster`) have no labels of their own: stance labels can be "
        "carried over through `dup_cluster`; span offsets cannot.\n"
    )
    own = annotator_projects(cfg)
    if own:
        out.append(
            f"\nIndependence is enforced from each annotator's link: tasks went to a team "
            f"(`newscorpus push --overlap`), each annotator in a Label Studio project of their "
            f"own ({own} such projects) holding only their tasks, so that working from it they "
            "see no other annotator's labels, before or after submitting. Label Studio "
            "Community still lets an account with administrator rights open any project, and "
            "annotations made in the corpus's shared project (before the team was set up) were "
            "independent only as asked: there an annotator who opened a task from the task list "
            "could see the others' labels.\n"
        )
    else:
        out.append(
            "\nIndependence is asked for, not enforced: annotators are told to work from Label "
            'Studio\'s "Label All Tasks" stream, which shows only their own work, and the project '
            "hides annotation history. Label Studio Community cannot hide the other annotations of "
            "a task (nor their authors' accounts) from an annotator who opens it from the task "
            "list, so an annotator could have seen another's labels before submitting.\n"
        )
    if per_item:
        out.append(f"\nAnnotators per item in this version: {per_item}.\n")
    return "\n".join(out)


def load_section(
    counts: Mapping[str, Mapping[str, int]], version: str, hub: str | None, hydrate: bool
) -> str:
    """How to load this exact version: from the Hub when published there, else from its git repository."""
    configs = _listed(counts) or ["articles"]
    tag = f"v{version}"
    out = ["## How to load this version\n"]
    local = "".join(f'{c} = load_dataset(DIR, "{c}")\n' for c in configs)
    if hub:
        lines = "".join(f'{c} = load_dataset("{hub}", "{c}", revision="{tag}")\n' for c in configs)
        out.append(
            f"From the Hugging Face Hub (`{hub}`, tag `{tag}`):\n\n"
            f"```python\nfrom datasets import load_dataset\n\n{lines}```\n"
        )
        out.append(
            "A local copy of exactly this version:\n\n"
            "```python\nfrom huggingface_hub import snapshot_download\n\n"
            f'DIR = snapshot_download("{hub}", repo_type="dataset", revision="{tag}", '
            f'local_dir="{hub.split("/")[-1]}-{tag}")\n{local}```\n'
        )
    else:
        out.append(
            "This version was released to a git repository of dataset files (one commit and "
            f"an annotated tag `{tag}` per version), not to the Hugging Face Hub. `revision=` "
            "only applies to the Hub: a local folder is read as it is checked out, so check "
            "out the tag first (DIR is your clone of the release repository):\n\n"
            f"```bash\ngit clone --branch {tag} URL_OF_THE_RELEASE_REPOSITORY DIR   # or, in a clone: "
            f"git -C DIR checkout {tag}\n```\n\n"
            f'```python\nfrom datasets import load_dataset\n\nDIR = "path/to/release"\n{local}```\n'
        )
    out.append(
        "Each config has the splits listed under Counts; join the other configs to `articles` "
        "on `article_id` = `id`. `manifest.json` in the same folder names the version you "
        "loaded (`version`).\n"
    )
    if hydrate:
        out.append(
            "\nArticles from text_policy = hydrate sources carry no text (nor span text): run "
            "`newscorpus hydrate DIR` on the local copy. It fetches each page again, checks "
            "the text against `text_sha256` and fills it in, so span offsets line up; pages "
            "that changed are listed in `DIR/hydrate.json`, not guessed.\n"
        )
    return "\n".join(out)


def bibtex(cfg: Config, version: str, year: str, hub: str | None) -> str:
    """A BibTeX entry for one version (also Croissant's citeAs)."""
    key = re.sub(r"\W+", "_", f"{cfg.corpus.name}_v{version}")
    url = f"https://huggingface.co/datasets/{hub}" if hub else cfg.corpus.homepage
    where = f"  howpublished = {{\\url{{{url}}}}},\n" if url else ""
    author = (
        "  author = {" + " and ".join(cfg.corpus.authors) + "},\n" if cfg.corpus.authors else ""
    )
    return (
        f"@misc{{{key},\n{author}  title = {{{{{cfg.corpus.pretty_name}}}}},\n"
        f"  version = {{{version}}},\n  year = {{{year}}},\n{where}"
        f"  note = {{Dataset version v{version}; license {cfg.corpus.license_title}}}\n}}\n"
    )


def citation_section(cfg: Config, version: str, hub: str | None) -> str:
    """The Citation section: BibTeX of this version."""
    entry = bibtex(cfg, version, utcnow()[:4], hub)
    out = f"## Citation\n\nCite the version you used:\n\n```bibtex\n{entry}```\n"
    about = []
    if cfg.corpus.authors:
        about.append(f"Corpus and card by {', '.join(cfg.corpus.authors)}.")
    if cfg.corpus.homepage:
        about.append(f"Project page: <{cfg.corpus.homepage}>.")
    return out + (f"\n{' '.join(about)}\n" if about else "")


def render_card(
    cfg: Config,
    *,
    version: str,
    counts: Mapping[str, Mapping[str, int]],
    facets: Mapping[str, Counter[str]],
    agreement_md: str | None,
    pngs: list[str],
    limitations: list[str],
    hub: str | None,
    per_item: str | None = None,
    period: str | None = None,
    examples: Mapping[str, dict[str, Any]] | None = None,
    baselines: BaselineResult | None = None,
) -> str:
    """The whole README.md of a release (``per_item``: annotators per item, when known)."""
    languages = sorted(facets.get("language", Counter()))
    header = yaml.safe_dump(
        card_yaml(cfg, counts, languages, version), sort_keys=False, allow_unicode=True, width=1000
    )
    parts = [f"---\n{header}---\n", f"# {cfg.corpus.pretty_name}\n"]
    if cfg.release.notice:
        parts.append("> **Note:** " + " ".join(cfg.release.notice.split()) + "\n")
    unfinished = prose_notice(cfg)
    if unfinished:
        parts.append(f"> **Note:** {unfinished}\n")
    parts.append(f"{cfg.corpus.description}\n")
    listed = ", ".join(f"`{c}`" for c in _listed(counts)) or "none"
    parts.append(f"Version **v{version}**. Configs: {listed} (default `articles`).\n")
    hydrate = any(policy == "hydrate" for _, policy, _ in _source_counts(facets))
    parts.append(load_section(counts, version, hub, hydrate))
    parts.append(card_prose(cfg))
    parts.append(structure_section(cfg, counts, examples))
    parts.append(sources_section(cfg, facets, per_item, period))
    parts.append("## Counts in this version\n")
    split_rows = [
        (c, *(counts[c].get(s, 0) for s, _ in cfg.release.splits), sum(counts[c].values()))
        for c in counts
    ]
    parts.append(_table(("config", *(s for s, _ in cfg.release.splits), "total"), split_rows))
    for facet, title in (
        ("language", "Articles per language"),
        ("source", "Articles per source"),
        ("label", "Stance labels (target: label)"),
    ):
        rows = sorted(facets.get(facet, Counter()).items())
        parts.append(f"### {title}\n")
        parts.append(_table((facet, "count"), rows) if rows else "None in this version.\n")
    parts.append("## Agreement\n")
    parts.append(agreement_section(agreement_md, pngs, cfg.root))
    if baselines is not None:
        parts.append(baselines_section(baselines))
    parts.append("## Known limitations of this version\n")
    parts.append("".join(f"- {line}\n" for line in limitations) or "- None recorded.\n")
    parts.append(citation_section(cfg, version, hub))
    return "\n".join(parts)


def _score(s: Score | None) -> str:
    if s is None:
        return "none"
    ci = f" [{s.ci95[0]:.3f}, {s.ci95[1]:.3f}]" if s.ci95 else ""
    return f"{s.macro_f1:.3f}{ci}"


def _rows(t: TargetBaseline) -> str:
    return " / ".join(
        f"{t.used[s]:,}" + (f" of {t.rows[s]:,}" if t.used[s] != t.rows[s] else "") for s in SPLITS
    )


def _alpha(t: TargetBaseline) -> str:
    a = t.agreement
    return "none" if a.alpha is None else f"{a.alpha:.3f} ({a.units:,} articles)"


def baselines_section(result: BaselineResult) -> str:
    """How hard each task is: majority class and a trained model beside the annotators' alpha."""
    out = ["## Baselines\n"]
    out.append(
        "How hard each task is, beside how far the annotators agree: macro-F1 on `test` of a "
        "majority-class baseline and of one simple trained model, with 95% bootstrap intervals, "
        f"and Krippendorff's alpha of the human labels. The figures are in `{BASELINE_JSON}`.\n"
    )
    scored = [t for t in result.targets if t.skipped is None]
    if scored:
        out.append(
            _table(
                (
                    "target",
                    "rows used (train / validation / test)",
                    "majority class",
                    "majority macro-F1",
                    "TF-IDF + logistic regression macro-F1",
                    "annotators' alpha",
                ),
                [
                    (
                        f"`{t.name}`",
                        _rows(t),
                        f"`{t.majority_label}`",
                        _score(t.majority),
                        _score(t.model)
                        + (f" (C = {t.model_c:g})" if t.model_c is not None else ""),
                        _alpha(t),
                    )
                    for t in scored
                ],
            )
        )
    skipped = [t for t in result.targets if t.skipped is not None]
    if skipped:
        out.append(
            "No baseline figures in this version for:\n\n"
            + "".join(
                f"- `{t.name}`: {t.skipped}; annotators' alpha {_alpha(t)}.\n" for t in skipped
            )
        )
    if not result.targets:
        out.append("No targets in this version.\n")
    grid = ", ".join(f"{c:g}" for c in C_GRID)
    out.append(
        f"The model: TF-IDF (sublinear tf, idf of the train rows) of character {NGRAMS[0]}- to "
        f"{NGRAMS[1]}-grams, hashed into {FEATURES:,} columns, of the title and text (their "
        f"first {MAX_CHARS:,} characters, lower-cased), then logistic regression (scikit-learn "
        f"{sklearn_version()}, lbfgs, at most {MAX_ITER} iterations, balanced class weights), "
        f"trained on `train`, its C picked from {grid} by macro-F1 on `validation`, "
        "scored once on `test`; nothing is downloaded. The majority class is the most frequent "
        "label of `train`. Rows labelled `unresolved` are left out. Macro-F1 averages F1 over the "
        "labels found in the test rows or the predictions. The intervals are percentiles of "
        f"{RESAMPLES:,} resamples of the test rows (seed {SEED}), the same for both baselines. "
        "Alpha is Krippendorff's alpha (nominal) of the annotators' current labels over the "
        "articles with two labels or more (its interval is under Agreement).\n"
    )
    out.append(
        f"So that a release takes no longer as the corpus grows, at most "
        f"{CAPS['train']:,} train, {CAPS['validation']:,} validation and {CAPS['test']:,} test "
        "rows are used per target: when there are more, those first in the order of SHA-256 "
        f"of `{SEED}:` + `article_id` (the same rows in every build of this version). "
        f"A split with fewer than {MIN_ROWS} labelled rows, or a `train` split with one label, "
        "gives no figures. The texts of text_policy = hydrate articles are used as gathered "
        "(`newscorpus hydrate` restores them). Claim detection: "
        f"{result.claims}.\n"
    )
    return "\n".join(out)


def known_limitations(facts: ReleaseFacts, counts: Mapping[str, Mapping[str, int]]) -> list[str]:
    """The card's "Known limitations of this version", one sentence or two per item."""
    limitations = []
    if facts.withheld:
        limitations.append(
            f"{facts.withheld} {'article comes' if facts.withheld == 1 else 'articles come'} "
            "from text_policy = hydrate sources: no text, no span "
            "text; run `newscorpus hydrate` to fetch and check them."
        )
    if facts.straddling:
        limitations.append(
            f"{len(facts.straddling)} near-duplicate clusters span two splits: they were merged "
            "after earlier releases, and their articles keep the splits they were released in "
            "(stability wins); the clusters are listed in manifest.json (`straddling_clusters`)."
        )
    for c, splits in counts.items():
        empty = [s for s, n in splits.items() if not n]
        if empty and sum(splits.values()):
            limitations.append(
                f"Config `{c}` has no rows in split(s) {', '.join(empty)}; they are not listed."
            )
        elif not sum(splits.values()):
            limitations.append(f"Config `{c}` is empty in this version and is not listed.")
    limitations.append(
        "Claims come from aggregated or gold spans only; stance falls back to a majority of raw "
        "labels (ties: unresolved) where no aggregate or gold label exists."
    )
    if facts.unlabelled:
        limitations.append(
            f"{facts.unlabelled} of {sum(counts['articles'].values())} articles have no stance "
            f"label: {facts.unlabelled_copies} of them are near copies whose cluster has a "
            "labelled article (one Label Studio task per `dup_cluster`; stance can be carried "
            "over through `dup_cluster`, span offsets cannot), the others are not annotated yet."
        )
    return limitations


TEAM_ONLY = frozenset({"progress.png"})  # reports/ files for the team, never in a release


def load_agreement(cfg: Config) -> tuple[str | None, list[Path]]:
    """reports/agreement.md (or None) and the PNG plots beside it, but `progress`'s plot
    (progress.png: the team's pace, which a release never carries)."""
    md = cfg.reports_dir / "agreement.md"
    text = md.read_text(encoding="utf-8") if md.is_file() else None
    folder = cfg.reports_dir
    pngs = (
        sorted(p for p in folder.glob("*.png") if p.name not in TEAM_ONLY)
        if folder.is_dir()
        else []
    )
    return text, pngs
