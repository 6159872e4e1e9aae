"""croissant.json: Croissant 1.0 metadata of a release, with its Responsible-AI (RAI) fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from ..config import Config
from .tables import SCHEMAS

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

_DESCRIPTIONS = {
    "articles": "One row per article; text is null for sources with text_policy = hydrate.",
    "stance": "One row per article and target: gold, aggregated or majority label, label shares, number of annotators.",
    "claims": "Claim, Quote and Speaker spans (gold or aggregated) with offsets into the article text.",
    "annotations": "Every annotator's current labels of each article, under a stable pseudonym.",
}


def _datatype(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "sc:Boolean"
    if pa.types.is_integer(t):
        return "sc:Integer"
    if pa.types.is_floating(t):
        return "sc:Float"
    return "sc:Text"


def _fields(config: str) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    for f in SCHEMAS[config]:
        source = {"fileSet": {"@id": f"parquet-{config}"}, "extract": {"column": f.name}}
        entry: dict[str, Any] = {"@type": "cr:Field", "@id": f"{config}/{f.name}", "name": f.name}
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
        else:
            if pa.types.is_list(t):
                entry["repeated"] = True
                t = t.value_type
            entry["dataType"] = _datatype(t)
            entry["source"] = source
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
                "transform": {"regex": "^([a-z]+)-\\d+-of-\\d+\\.parquet$"},
            },
        }
    )
    return fields


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
    url = (
        f"https://huggingface.co/datasets/{hub}"
        if hub
        else f"https://huggingface.co/datasets/{cfg.corpus.name}"
    )
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
            "description": _DESCRIPTIONS[c],
            "field": _fields(c),
        }
        for c in configs
    ]
    targets = "; ".join(f"{t.id}: {t.text}" for t in cfg.targets)
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": [
            "http://mlcommons.org/croissant/1.0",
            "http://mlcommons.org/croissant/RAI/1.0",
        ],
        "name": cfg.corpus.name,
        "description": cfg.corpus.description,
        "license": f"https://spdx.org/licenses/{cfg.corpus.license}.html",
        "url": url,
        "version": version,
        "datePublished": date[:10],
        "citeAs": f"{cfg.corpus.pretty_name}, version {version} ({date[:4]}). {url}",
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
        "rai:dataCollectionRawData": "Public news web pages; raw bytes are not released.",
        "rai:dataAnnotationProtocol": [
            f"Stance (favor, against, neutral, unrelated) of each article towards each target: {targets}.",
            "Claim, Quote and Speaker spans; claims marked check-worthy (yes/no) and typed; speakers linked by a 'said' relation.",
            "Labels aggregated across annotators; adjudicated gold labels override aggregates.",
        ],
        "rai:dataAnnotationPlatform": ["Label Studio"],
        "rai:annotationsPerItem": per_item,
        "rai:annotatorDemographics": [
            "Not collected. Annotators appear only under stable pseudonyms."
        ],
        "rai:dataLimitations": [
            "Keyword topic selection favours articles naming the drug, the cartels or officials.",
            "Articles from text_policy = hydrate sources carry no text; pages changed since gathering cannot be restored.",
        ],
        "rai:dataBiases": [
            "Outlets were chosen by hand; coverage across countries and languages is uneven."
        ],
        "rai:dataUseCases": [
            "Training and evaluating stance and claim detection; research on annotator disagreement."
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
    start, end = timeframe
    if start and end:
        doc["rai:dataCollectionTimeFrame"] = [start, end] if start != end else [start]
    return doc
