"""croissant.json: Croissant 1.1 metadata of a release, with its Responsible-AI (RAI) fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from ..config import Config
from ..layers import NO_LABEL, Layers, defined
from .card import bibtex, config_docs, field_docs_by_config, released_vocabularies
from .tables import config_vocabularies, schemas

CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


def _datatype(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "sc:Boolean"
    if pa.types.is_integer(t):
        return "sc:Integer"
    if pa.types.is_floating(t):
        return "sc:Float"
    return "sc:Text"


def vocabulary_id(key: str) -> str:
    """The @id of the enumeration RecordSet of a class-coded column (``stance.label``)."""
    return f"vocabulary/{key}"


def codes_text(names: tuple[str, ...]) -> str:
    """A class-coded column's codes in words, for its field's description."""
    codes = ", ".join(f"{i} = {name}" for i, name in enumerate(names))
    return f"Class codes: {codes}; {NO_LABEL} = no label."


def _coded(entry: dict[str, Any], key: str, names: tuple[str, ...]) -> dict[str, Any]:
    """A field entry of a class-coded column: its codes described, the enumeration referenced."""
    description = entry.get("description")
    entry["description"] = (
        f"{description} {codes_text(names)}" if description else codes_text(names)
    )
    entry["references"] = {"field": {"@id": f"{vocabulary_id(key)}/code"}}
    return entry


def vocabulary_sets(vocab: Mapping[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    """One enumeration RecordSet per class-coded column: its codes and names, inline."""
    out = []
    for key, names in vocab.items():
        rid = vocabulary_id(key)
        out.append(
            {
                "@type": "cr:RecordSet",
                "@id": rid,
                "name": rid,
                "description": f"The class names of `{key}`, by code ({NO_LABEL}: no label).",
                "dataType": "sc:Enumeration",
                "key": {"@id": f"{rid}/code"},
                "field": [
                    {
                        "@type": "cr:Field",
                        "@id": f"{rid}/code",
                        "name": "code",
                        "description": "The class code stored in the column.",
                        "dataType": "sc:Integer",
                    },
                    {
                        "@type": "cr:Field",
                        "@id": f"{rid}/name",
                        "name": "name",
                        "description": "The class name of that code.",
                        "dataType": "sc:Text",
                    },
                ],
                "data": [{f"{rid}/code": i, f"{rid}/name": n} for i, n in enumerate(names)],
            }
        )
    return out


def _fields(config: str) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    docs = field_docs_by_config()[config]
    coded = config_vocabularies(config)
    for f in schemas()[config]:
        source = {"fileSet": {"@id": f"parquet-{config}"}, "extract": {"column": f.name}}
        entry: dict[str, Any] = {
            "@type": "cr:Field",
            "@id": f"{config}/{f.name}",
            "name": f.name,
            "description": docs[f.name],
        }
        t = f.type
        if pa.types.is_list(t) and pa.types.is_struct(t.value_type):
            entry["repeated"] = True
            entry["subField"] = [
                {
                    "@type": "cr:Field",
                    "@id": f"{config}/{f.name}/{sub.name}",
                    "name": sub.name,
                    "dataType": _datatype(sub.type),
                    "source": {
                        "fileSet": {"@id": f"parquet-{config}"},
                        "extract": {"column": f.name},
                        "transform": {"jsonPath": sub.name},
                    },
                }
                for sub in t.value_type
            ]
            for sub_entry in entry["subField"]:
                path = f"{f.name}.{sub_entry['name']}"
                if path in coded:
                    _coded(sub_entry, f"{config}.{path}", coded[path])
        else:
            if pa.types.is_list(t):
                entry["repeated"] = True
                t = t.value_type
            entry["dataType"] = _datatype(t)
            entry["source"] = source
            if f.name in coded:
                _coded(entry, f"{config}.{f.name}", coded[f.name])
        fields.append(entry)
    fields.append(
        {
            "@type": "cr:Field",
            "@id": f"{config}/split",
            "name": "split",
            "description": "train, validation or test (from the file name).",
            "dataType": "sc:Text",
            "source": {
                "fileSet": {"@id": f"parquet-{config}"},
                "extract": {"fileProperty": "filename"},
                "transform": {"regex": "^(.+)-v\\d+\\.\\d+\\.\\d+-\\d+-of-\\d+\\.parquet$"},
            },
        }
    )
    return fields


def annotation_protocol(layers: Layers, targets: str) -> list[str]:
    """What annotators labelled, one line per layer, and how labels were combined."""
    stance = ", ".join(layers.stance.value_names)
    spans = layers.spans
    relation = spans.relation
    lines = [
        f"{layers.stance.title} ({stance}) of each article towards each target: {targets}.",
        f"{spans.listed()} spans; claims marked check-worthy (yes/no) and typed; "
        f"{relation.source.lower()}s linked by a '{relation.name}' relation.",
    ]
    lines += [
        f"{c.title} ({', '.join(c.value_names)}) of each article: {c.question}."
        for c in layers.choices
    ]
    lines.append(
        "Labels aggregated across annotators; adjudicated gold labels override aggregates."
    )
    return lines


def croissant(
    cfg: Config,
    version: str,
    date: str,
    counts: Mapping[str, Mapping[str, int]],
    timeframe: tuple[str | None, str | None],
    per_item: str,
    hub: str | None,
) -> dict[str, Any]:
    """The Croissant document of a release (only configs that have rows get a RecordSet)."""
    configs = [c for c in counts if sum(counts[c].values())]
    url = f"https://huggingface.co/datasets/{hub}" if hub else None  # no made-up address
    distribution: list[dict[str, Any]] = [
        {
            "@type": "cr:FileSet",
            "@id": f"parquet-{c}",
            "name": f"parquet-{c}",
            "description": f"Parquet files of the {c} config.",
            "encodingFormat": "application/x-parquet",
            "includes": f"data/{c}/*.parquet",
        }
        for c in configs
    ]
    record_sets = [
        {
            "@type": "cr:RecordSet",
            "@id": c,
            "name": c,
            "description": config_docs()[c],
            "field": _fields(c),
        }
        for c in configs
    ]
    record_sets += vocabulary_sets(released_vocabularies(counts))
    targets = "; ".join(f"{t.id}: {t.text}" for t in cfg.targets)
    layers = defined()
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": [
            "http://mlcommons.org/croissant/1.1",
            "http://mlcommons.org/croissant/RAI/1.0",
        ],
        "name": cfg.corpus.name,
        "description": cfg.corpus.description,
        "license": cfg.corpus.license_url,
        "version": version,
        "datePublished": date[:10],
        "citeAs": bibtex(cfg, version, date[:4], hub),
        "inLanguage": list(cfg.corpus.languages),
        "keywords": ["stance detection", "claim detection", "news", "multilingual"],
        "distribution": distribution,
        "recordSet": record_sets,
        "rai:dataCollection": (
            "News articles gathered from RSS/Atom feeds, sitemaps, URL lists, HTML folders and "
            "WARC files listed in corpus.toml; main text extracted with trafilatura; kept when "
            "on topic and in a corpus language; near duplicates clustered (dup_cluster)."
        ),
        "rai:dataCollectionType": ["Web Scraping"],
        "rai:dataPreprocessingProtocol": [
            "Main text extracted with trafilatura; Unicode NFC, one space inside lines, one blank line between paragraphs.",
            "Language detected with py3langid; articles outside the corpus languages rejected.",
            "Kept when the title or text contains a topic keyword (case- and accent-insensitive); matches listed in topic_terms.",
            "Exact duplicates (canonical URL, text hash) dropped; near duplicates (MinHash LSH over word shingles) kept and clustered in dup_cluster.",
            "Splits by a SHA-256 hash of dup_cluster, stable across versions; stance, claims and annotations follow their article.",
        ],
        "rai:dataCollectionRawData": "Public news web pages; raw bytes are not released.",
        "rai:dataAnnotationProtocol": annotation_protocol(layers, targets),
        "rai:dataAnnotationPlatform": ["Label Studio"],
        "rai:dataAnnotationAnalysis": [
            "Stance: Krippendorff's alpha (nominal) per target with bootstrap 95% confidence intervals, and pairwise Cohen's kappa.",
            "Spans: mean exact and overlap F1 and Krippendorff's unitizing alpha (alpha_u) over annotator pairs; each annotator's agreement with the majority of the others.",
            "Figures in the README (Agreement) and in manifest.json (agreement).",
        ],
        "rai:machineAnnotationTools": [
            "Rule-based pre-annotations (quotes with their speakers, sentences with figures) shown to annotators as suggestions; never counted as annotations."
        ],
        "rai:annotationsPerItem": per_item,
        "rai:annotatorDemographics": [
            "Not collected. Annotators appear only under stable pseudonyms."
        ],
        "rai:dataLimitations": [
            "Keyword topic selection favours articles naming the drug, the cartels or officials.",
            "Articles from text_policy = hydrate sources carry no text; pages changed since gathering cannot be restored.",
            "Rows with synthetic = true were written for tests or demonstrations and are not real news.",
            "Stance labels equal to 'unresolved' mark annotator ties without adjudication.",
        ],
        "rai:dataBiases": [
            "Outlets were chosen by hand; coverage across countries and languages is uneven."
        ],
        "rai:dataUseCases": [
            "Training and evaluating stance and claim detection; research on annotator disagreement.",
            "Not for judging whether claims are true (no claim was fact-checked) or for profiling people or outlets.",
        ],
        "rai:personalSensitiveInformation": [
            "Articles name public figures and officials.",
            "Annotators are pseudonymous; their e-mail addresses are never released.",
            "Every release is scanned for e-mail addresses and token-like strings before publication.",
        ],
        "rai:dataReleaseMaintenancePlan": (
            "Semantic versions tagged vX.Y.Z; splits stay stable across versions; each release has a CHANGELOG."
        ),
    }
    if url or cfg.corpus.homepage:
        doc["url"] = url or cfg.corpus.homepage
    if cfg.corpus.authors:
        doc["creator"] = [{"@type": "sc:Person", "name": a} for a in cfg.corpus.authors]
    start, end = timeframe
    if start and end:
        doc["rai:dataCollectionTimeFrame"] = [start, end] if start != end else [start]
    return doc
