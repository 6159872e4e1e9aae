"""The current human labels of a corpus, checked against the config, in the shapes quality needs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..corpus import current_annotations, iter_articles
from ..errors import DataError
from ..layers import CHOICES, choice_labels, defined
from ..records import Annotation, Article

Units = dict[str, dict[str, str]]  # article id -> {annotator: label} of one question


def _who(ann: Annotation) -> str:
    task = f"task {ann.task_id}" if ann.task_id is not None else "task (none)"
    return f"{task} (annotation {ann.id}, article {ann.article_id}, annotator {ann.annotator})"


def check_annotation(cfg: Config, ann: Annotation) -> None:
    """DataError naming the task when a label, target, layer or span label is unknown."""
    layers = defined()
    values = layers.stance.value_names
    targets = {t.id for t in cfg.targets}
    for target, label in ann.stance.items():
        if target not in targets:
            raise DataError(
                f"{_who(ann)}: stance target {target!r} is not in {cfg.path} "
                f"(targets: {', '.join(sorted(targets))})"
            )
        if label is not None and label not in values:
            raise DataError(
                f"{_who(ann)}: stance label {label!r} for target {target!r} is not one of "
                f"{', '.join(values)}"
            )
    if not isinstance(ann.extra.get(CHOICES, {}), dict):
        raise DataError(f"{_who(ann)}: {CHOICES} must be an object of layer -> label")
    for name, label in choice_labels(ann.extra).items():
        layer = layers.choice(name)
        if layer is None:
            known = ", ".join(c.name for c in layers.choices) or "none"
            raise DataError(f"{_who(ann)}: {CHOICES}: layer {name!r} is unknown (layers: {known})")
        if label is not None and label not in layer.value_names:
            raise DataError(
                f"{_who(ann)}: {name} label {label!r} is not one of {', '.join(layer.value_names)}"
            )
    span_labels = layers.spans.label_names
    for span in ann.spans:
        if span.get("label") not in span_labels:
            raise DataError(
                f"{_who(ann)}: span {span.get('id')!r} has label {span.get('label')!r}, not one of "
                f"{', '.join(span_labels)}"
            )
        start, end = span.get("start"), span.get("end")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
            raise DataError(f"{_who(ann)}: span {span.get('id')!r} has bad offsets {start}..{end}")
        for attr in layers.spans.attributes:
            value = span.get(attr.name)
            if value is not None and value not in attr.value_names:
                raise DataError(
                    f"{_who(ann)}: span {span.get('id')!r} has {attr.name} {value!r}, not one of "
                    f"{', '.join(attr.value_names)}"
                )


@dataclass
class Labels:
    """Current human annotations of a corpus, by article, with the articles' metadata."""

    cfg: Config
    annotations: list[Annotation]
    articles: dict[str, Article] = field(default_factory=dict)

    @property
    def annotators(self) -> list[str]:
        return sorted({a.annotator or "(unknown)" for a in self.annotations})

    def by_article(self) -> dict[str, list[Annotation]]:
        """Article id -> its current annotations, in annotator order."""
        out: dict[str, list[Annotation]] = defaultdict(list)
        for ann in sorted(self.annotations, key=lambda a: (a.article_id, a.annotator or "")):
            out[ann.article_id].append(ann)
        return dict(out)

    def stance_units(self, target: str) -> Units:
        """Article id -> {annotator: label} for one target (empty answers left out)."""
        out: Units = defaultdict(dict)
        for ann in self.annotations:
            label = ann.stance.get(target)
            if label is not None:
                out[ann.article_id][ann.annotator or "(unknown)"] = label
        return dict(out)

    def choice_units(self, layer: str) -> Units:
        """Article id -> {annotator: label} for one per-article choice layer."""
        out: Units = defaultdict(dict)
        for ann in self.annotations:
            label = choice_labels(ann.extra).get(layer)
            if isinstance(label, str):
                out[ann.article_id][ann.annotator or "(unknown)"] = label
        return dict(out)

    def group_of(self, article_id: str, by: str) -> str:
        """The language or source of an article ('(unknown)' when it is not in the store)."""
        art = self.articles.get(article_id)
        if art is None:
            return "(unknown)"
        value: Any = getattr(art, by)
        return str(value) if value else "(unknown)"

    def orphans(self) -> list[Annotation]:
        """Annotations of articles that are not in the store (e.g. removed after annotation)."""
        return [a for a in self.annotations if a.article_id not in self.articles]

    def in_corpus(self) -> Labels:
        """The same labels without the annotations of articles that are not in the store."""
        return self.subset(set(self.articles))

    def subset(self, article_ids: set[str]) -> Labels:
        """The same labels restricted to some articles."""
        anns = [a for a in self.annotations if a.article_id in article_ids]
        return Labels(self.cfg, anns, self.articles)


def load_labels(cfg: Config) -> Labels:
    """Every current human annotation (latest, not deleted, not cancelled), checked."""
    anns = current_annotations(cfg)
    for ann in anns:
        check_annotation(cfg, ann)
    articles = {a.id: a for a in iter_articles(cfg)}
    for ann in anns:
        art = articles.get(ann.article_id)
        size = len(art.text) if art is not None else None
        for span in ann.spans if size is not None else ():
            if span["end"] > size:
                raise DataError(
                    f"{_who(ann)}: span {span.get('id')!r} offsets {span['start']}..{span['end']} "
                    f"are outside the article's text (length {size})"
                )
    return Labels(cfg, anns, articles)
