"""The labeling interface: the Label Studio config generated from corpus.toml targets, the
annotation guidelines shown as instructions, and a checker of results against the config."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

from ..config import SPAN_LABELS, STANCE_VALUES, Config
from ..errors import DataError
from ..resources import repo_root, schemas_dir

TEMPLATE = "stance_claims.xml"
TARGET_TEMPLATE = "target.xml"
TASK_FIELDS = ("article_id", "title", "text", "url", "site", "published", "language")
CHECKWORTHY = ("yes", "no")
CLAIM_TYPES = ("statistical", "causal", "event", "prediction", "policy", "other")
RELATION = "said"
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # one character, two UTF-16 units


def stance_name(target_id: str) -> str:
    """The Choices name of a target's stance: ``stance_<target id>``."""
    return f"stance_{target_id}"


def label_config(cfg: Config) -> str:
    """The Label Studio XML config for this corpus's targets."""
    folder = schemas_dir() / "labeling"
    template = _COMMENT.sub("", (folder / TEMPLATE).read_text(encoding="utf-8"))
    block = _COMMENT.sub("", (folder / TARGET_TEMPLATE).read_text(encoding="utf-8"))
    parts = [
        block.replace("{id}", t.id).replace("{text}", html.escape(t.text, quote=True))
        for t in cfg.targets
    ]
    return template.replace("{targets}\n", "".join(parts))


def guidelines_markdown(cfg: Config) -> str:
    """The "Annotation guidelines" section of DATA_CARD.md (corpus folder, its parent, the repo)."""
    candidates = [cfg.root / "DATA_CARD.md", cfg.root.parent / "DATA_CARD.md"]
    root = repo_root()
    if root is not None:
        candidates.append(root / "DATA_CARD.md")
    for path in candidates:
        if path.is_file():
            section = _section(path.read_text(encoding="utf-8"), "Annotation guidelines")
            if section:
                return section
    return ""


def _section(markdown: str, title: str) -> str:
    out: list[str] = []
    inside = False
    for line in markdown.splitlines():
        if line.startswith("## "):
            if inside:
                break
            inside = line[3:].strip() == title
            continue
        if inside:
            out.append(line)
    return "\n".join(out).strip()


def instructions_html(cfg: Config) -> str:
    """The annotation guidelines rendered to HTML for the project's instructions."""
    from markdown_it import MarkdownIt

    text = guidelines_markdown(cfg)
    if not text:
        return "<p>Label the stance of the article towards each target, then claims, quotes and speakers.</p>"
    return str(MarkdownIt("commonmark", {"html": False}).render(text))


# --- checking results against the config ---------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """One control tag of the config: its type and the values it allows."""

    tag: str  # choices | labels | relations
    values: frozenset[str]
    to_name: str
    per_region: bool = False


@dataclass
class Interface:
    """The control tags of a labeling config, by name."""

    controls: dict[str, Control] = field(default_factory=dict)
    relations: frozenset[str] = frozenset()

    def check(self, result: list[dict[str, Any]], text: str, where: str) -> None:
        """Raise DataError naming ``where`` when a result item does not fit the config or text."""
        size = len(text) + len(_ASTRAL.findall(text))  # in UTF-16 units, as Label Studio counts
        for item in result:
            kind = item.get("type")
            if kind == "relation":
                labels = item.get("labels", [])
                if not isinstance(labels, list):
                    raise DataError(f"{where}: relation labels must be a list")
                bad = [x for x in labels if not isinstance(x, str) or x not in self.relations]
                if bad:
                    raise DataError(f"{where}: relation label {bad[0]!r} is not in the config")
                continue
            name = item.get("from_name")
            ctl = self.controls.get(str(name))
            if ctl is None:
                raise DataError(f"{where}: control {name!r} is not in the labeling config")
            value = item.get("value")
            if not isinstance(value, dict):
                raise DataError(f"{where}: {name}: result item without a value object")
            chosen = value.get(ctl.tag, [])
            if not isinstance(chosen, list):
                raise DataError(f"{where}: {name}: {ctl.tag} must be a list")
            for v in chosen:
                if not isinstance(v, str) or v not in ctl.values:
                    raise DataError(f"{where}: {name}: label {v!r} is not in the labeling config")
            if ctl.tag == "labels" or (ctl.per_region and "start" in value):
                start, end = value.get("start"), value.get("end")
                if not (isinstance(start, int) and isinstance(end, int)):
                    raise DataError(f"{where}: {name}: span without integer start/end")
                if not 0 <= start < end <= size:
                    raise DataError(
                        f"{where}: {name}: span {start}-{end} is outside the text ({size} characters)"
                    )


def parse_interface(xml: str) -> Interface:
    """The control tags (Choices, Labels, Relations) of a Label Studio config."""
    root = ElementTree.fromstring(xml)
    iface = Interface()
    for el in root.iter():
        tag = el.tag.lower()
        name = el.get("name")
        if tag == "relations":
            iface.relations = frozenset(r.get("value", "") for r in el.iter("Relation"))
        elif tag in ("choices", "labels") and name:
            child = "Choice" if tag == "choices" else "Label"
            values = frozenset(c.get("value", "") for c in el.iter(child))
            iface.controls[name] = Control(
                tag=tag,
                values=values,
                to_name=el.get("toName", ""),
                per_region=el.get("perRegion", "false").lower() == "true",
            )
    return iface


def expected_interface(cfg: Config) -> Interface:
    """The interface that ``label_config(cfg)`` declares, parsed back."""
    return parse_interface(label_config(cfg))


def check_fixed_names(iface: Interface, cfg: Config, where: str | Path) -> None:
    """Raise DataError when a config lacks the names pull relies on."""
    for t in cfg.targets:
        ctl = iface.controls.get(stance_name(t.id))
        if ctl is None or set(ctl.values) != set(STANCE_VALUES):
            raise DataError(
                f"{where}: no {stance_name(t.id)} choices with {', '.join(STANCE_VALUES)}"
            )
    spans = iface.controls.get("spans")
    if spans is None or set(spans.values) != set(SPAN_LABELS):
        raise DataError(f"{where}: no 'spans' labels with {', '.join(SPAN_LABELS)}")


# --- offsets: Label Studio counts UTF-16 code units (JavaScript strings) ---------------------------


def js_offset(text: str, index: int) -> int:
    """The UTF-16 offset (Label Studio's) of a Python string index."""
    return index + len(_ASTRAL.findall(text, 0, index))


def py_offset(text: str, js_index: int) -> int:
    """The Python string index of a UTF-16 offset (inverse of ``js_offset``)."""
    if not _ASTRAL.search(text):
        return js_index
    units = 0
    for i, ch in enumerate(text):
        if units >= js_index:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text)
