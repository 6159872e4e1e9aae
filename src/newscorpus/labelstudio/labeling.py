"""The labeling interface: the Label Studio config generated from corpus.toml targets, the
annotation guidelines shown as instructions, and a checker of results against the config."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from defusedxml import ElementTree

from .. import layers
from ..cardtext import guidelines
from ..config import Config
from ..errors import DataError
from ..layers import Layers
from ..resources import schemas_dir

TEMPLATE = "stance_claims.xml"
TARGET_TEMPLATE = "target.xml"
REGION_TEMPLATE = "region.xml"  # the questions about a selected span
ATTRIBUTE_TEMPLATE = "attribute.xml"  # one of them
CHOICE_TEMPLATE = "choice.xml"  # a per-article choice layer
TASK_FIELDS = ("article_id", "title", "text", "url", "site", "published", "language")
_COMMENT = re.compile(r"<!--.*?-->[ \t]*\n?", re.S)  # the next line keeps its indent
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # one character, two UTF-16 units


def stance_name(target_id: str) -> str:
    """The Choices name of a target's stance: ``stance_<target id>``."""
    return f"stance_{target_id}"


# --- keyboard shortcuts ------------------------------------------------------------------------
#
# Every label and choice gets an explicit key (Label Studio would otherwise hand out
# "1234567890qwet..." in tree order, so a target's keys changed with the config). The keys of
# today's span labels and claim questions are fixed (FIXED_KEYS), and the stance keys are handed
# out target by target from the start of STANCE_KEYS, so adding a target never changes the keys
# of the targets before it. Any other label or choice (a per-article choice layer, a span label
# or attribute value without a fixed key) takes its key from the end of STANCE_KEYS, in the
# order the annotator sees them; the targets get what is left before those.

LABEL_KEYS = {"Claim": "c", "Quote": "q", "Speaker": "s"}
FIXED_KEYS: dict[tuple[str, str], str] = {
    **{("spans", v): k for v, k in LABEL_KEYS.items()},
    ("checkworthy", "yes"): "y",
    ("checkworthy", "no"): "n",
    **{
        ("claim_type", v): k
        for v, k in zip(
            ("statistical", "causal", "event", "prediction", "policy", "other"),
            ("a", "d", "f", "g", "j", "l"),
            strict=True,
        )
    },
}
LABEL_COLOURS = {"Claim": "#f4a261", "Quote": "#2a9d8f", "Speaker": "#8ab17d"}
_MORE_COLOURS = ("#e9c46a", "#a8dadc", "#cdb4db", "#ffafcc", "#bde0fe", "#b5e48c")
STANCE_KEYS: tuple[str, ...] = (
    *"1234567890",
    *"itxz",
    *(f"shift+{c}" for c in "abcdefghijklmnopqstuvwxyz"),  # shift+r is a Label Studio tool
    *(f"shift+{d}" for d in "34567890"),  # shift+1 and shift+2 zoom images in Label Studio
)


def _unfixed(lay: Layers) -> list[tuple[str, str]]:
    """(control, value) of every label and choice without a fixed key, not a stance."""
    sp = lay.spans
    out = [(sp.name, v) for v in sp.label_names]
    out += [(a.name, v) for a in sp.attributes for v in a.value_names]
    out += [(c.name, v) for c in lay.choices for v in c.value_names]
    return [cv for cv in out if cv not in FIXED_KEYS]


def targets_with_keys(lay: Layers | None = None) -> int:
    """How many targets get stance keys (the first ones; the others' choices are clicked)."""
    lay = lay or layers.defined()
    spare = len(STANCE_KEYS) - len(_unfixed(lay))
    return max(0, spare // len(lay.stance.values))


MAX_TARGETS_WITH_KEYS = targets_with_keys()  # with today's layers (stance, spans)

# Label Studio 1.23's own shortcuts (web/libs/editor/src/core/settings/keymap.json, as shipped
# in the 1.23.2 frontend bundle; the Mac variants are command+...), plus the ones its code binds
# (alt+shift+N selects region N, shift+space plays audio). The image tools' single letters are
# only bound with an image, but are kept clear all the same.
LS_KEYMAP: tuple[str, ...] = (
    "ctrl+b", "alt+a", "alt+d", "left", "right", "alt+left", "alt+right", "shift+left",
    "shift+right", "shift+alt+left", "shift+alt+right", "ctrl+enter", "ctrl+space", "alt+enter",
    "ctrl+z", "ctrl+shift+z", "ctrl+backspace", "enter", "alt+r", "alt+h", "ctrl+h", "alt+l",
    "alt+m", "u", "escape", "backspace", "alt+.", "ctrl+d", "delete", "ctrl+alt+space",
    "ctrl+alt+left", "ctrl+alt+right", "shift+ctrl+alt+left", "shift+ctrl+alt+right",
    "shift+alt+right", "shift+alt+left", "ctrl+left", "ctrl+right", "ctrl+plus", "h",
    "shift+1", "shift+2", "ctrl+minus", "o", "e", "m", "shift+r", "k", "w", "p", "r", "v", "b",
    "[", "]", "ctrl+down", "ctrl+up", "ctrl+shift+a", "ctrl+p", "shift+space",
)  # fmt: skip
_MODIFIERS = ("ctrl", "alt", "shift")
_SYNONYMS = {"command": "ctrl", "cmd": "ctrl", "control": "ctrl", "option": "alt", "esc": "escape"}


def normal_key(key: str) -> str:
    """A shortcut in one spelling: lower case, modifiers first in a fixed order (shift+ctrl+z
    and ctrl+shift+z are one key; command is ctrl)."""
    parts = [_SYNONYMS.get(p, p) for p in key.strip().lower().split("+") if p] or [""]
    *mods, last = parts
    return "+".join([*(m for m in _MODIFIERS if m in mods), last])


def reserved_keys() -> frozenset[str]:
    """Shortcuts the interface must not use: Label Studio's own and its region keys."""
    own = {normal_key(k) for k in LS_KEYMAP}
    own |= {f"alt+shift+{n}" for n in range(10)}  # select region N
    return frozenset(own)


@dataclass(frozen=True)
class Hotkey:
    """One keyboard shortcut: the key, the control it sets and the value it picks."""

    key: str
    control: str  # spans | a span attribute | stance_<target id> | a choice layer
    value: str
    question: str  # what the annotator reads: "Span label", "Stance towards: ..."


def hotkeys(cfg: Config) -> list[Hotkey]:
    """Every shortcut of the interface, in the order the annotator sees the controls.

    Targets after the first ``targets_with_keys()`` have none (their choices are clicked).
    """
    lay = layers.defined()
    sp = lay.spans
    spare = iter(STANCE_KEYS[len(STANCE_KEYS) - len(_unfixed(lay)) :])

    def key(control: str, value: str) -> str:
        return FIXED_KEYS.get((control, value)) or next(spare, "")  # "": no key left

    out = [Hotkey(key(sp.name, v), sp.name, v, "Span label") for v in sp.label_names]
    out += [
        Hotkey(key(a.name, v), a.name, v, a.question) for a in sp.attributes for v in a.value_names
    ]
    keys = iter(STANCE_KEYS)
    stance = lay.stance
    for t in cfg.targets[: targets_with_keys(lay)]:
        out += [
            Hotkey(next(keys), stance_name(t.id), v, f"{stance.question}: {t.text}")
            for v in stance.value_names
        ]
    out += [
        Hotkey(key(c.name, v), c.name, v, c.question) for c in lay.choices for v in c.value_names
    ]
    return [h for h in out if h.key]


_KEY = re.compile(r"\{key:([^:{}]+):([^:{}]+)\}")


def _with_keys(xml: str, keys: dict[tuple[str, str], str]) -> str:
    """Put each shortcut in its ``{key:control:value}`` place; a control without one loses the
    attribute (``hotkey=""`` would let Label Studio hand out a key of its own)."""

    def put(m: re.Match[str]) -> str:
        return keys.get((m.group(1), m.group(2)), "")

    return re.sub(r' hotkey=""', "", _KEY.sub(put, xml))


def _block(name: str) -> str:
    """A template of schemas/labeling/ without its comments."""
    return _COMMENT.sub("", (schemas_dir() / "labeling" / name).read_text(encoding="utf-8"))


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _choice_lines(control: str, values: tuple[str, ...]) -> str:
    return "".join(
        f'          <Choice value="{_attr(v)}" hotkey="{{key:{control}:{v}}}"/>\n' for v in values
    )


def _fill(block: str, **slots: str) -> str:
    """Each ``{slot}`` line of a block replaced by its lines (none: the line goes)."""
    for name, text in slots.items():
        block = block.replace(
            f"{{{name}}}\n", text if text.endswith("\n") or not text else text + "\n"
        )
    return block


def label_config(cfg: Config) -> str:
    """The Label Studio XML config for this corpus's targets and the annotation layers."""
    lay = layers.defined()
    sp = lay.spans
    keys = {(h.control, h.value): h.key for h in hotkeys(cfg)}
    colours = iter(_MORE_COLOURS * (1 + len(sp.labels) // len(_MORE_COLOURS)))
    labels = "".join(
        f'        <Label value="{_attr(v)}" background="{LABEL_COLOURS.get(v) or next(colours)}"'
        f' hotkey="{{key:{sp.name}:{v}}}"/>\n'
        for v in sp.label_names
    )
    groups: dict[tuple[str, ...], list[str]] = {}
    attribute = _block(ATTRIBUTE_TEMPLATE)
    for a in sp.attributes:
        groups.setdefault(a.labels, []).append(
            _fill(attribute, values=_choice_lines(a.name, a.value_names))
            .replace("{name}", a.name)
            .replace("{heading}", _attr(a.heading or a.question))
        )
    region = _block(REGION_TEMPLATE)
    regions = "".join(
        _fill(region, questions="".join(qs)).replace("{when}", _attr(",".join(labels_)))
        for labels_, qs in groups.items()
    )
    target = _fill(
        _block(TARGET_TEMPLATE), values=_choice_lines("stance_{id}", lay.stance.value_names)
    )
    target = target.replace("{question}", _attr(lay.stance.question))
    targets = "".join(
        _with_keys(target.replace("{id}", t.id), keys).replace("{text}", _attr(t.text))
        for t in cfg.targets
    )
    choice = _block(CHOICE_TEMPLATE)
    choices = "".join(
        _fill(choice, values=_choice_lines(c.name, c.value_names))
        .replace("{name}", c.name)
        .replace("{question}", _attr(c.question))
        for c in lay.choices
    )
    xml = _fill(_block(TEMPLATE), labels=labels, regions=regions)
    xml = xml.replace("{spans}", _attr(sp.name)).replace("{relation}", _attr(sp.relation.name))
    xml = _with_keys(xml, keys)
    return _fill(xml, choices=_with_keys(choices, keys), targets=targets)


def hotkey_table_html(cfg: Config) -> str:
    """The shortcuts as an HTML table for the instructions (one row per question)."""
    rows: list[tuple[str, list[Hotkey]]] = []
    for h in hotkeys(cfg):
        if rows and rows[-1][0] == h.question:
            rows[-1][1].append(h)
        else:
            rows.append((h.question, [h]))
    body = "".join(
        f"<tr><td>{html.escape(q)}</td><td>"
        + ", ".join(f"<kbd>{html.escape(_shown(h.key))}</kbd> {html.escape(h.value)}" for h in hs)
        + "</td></tr>"
        for q, hs in rows
    )
    missing = len(cfg.targets) - MAX_TARGETS_WITH_KEYS
    more = (
        f"<p>The last {missing} targets have no keys: click their choices.</p>"
        if missing > 0
        else ""
    )
    return (
        "<h3>Keyboard shortcuts</h3>"
        "<p>Select text, then press a label key to mark it. Click a claim (or select it in the "
        "Regions list) to answer its questions. Pressing a choice's key again clears it. "
        "<kbd>Ctrl</kbd>+<kbd>Enter</kbd> submits, <kbd>Ctrl</kbd>+<kbd>Z</kbd> undoes, "
        "<kbd>U</kbd> or <kbd>Esc</kbd> unselects a region.</p>"
        "<p>To link a speaker to what they said, click the Speaker, press <kbd>Alt</kbd>+<kbd>R</kbd> "
        "(or the link button in the region's details), then click the quote or claim. No label "
        "is needed: any link between a Speaker and a Claim or Quote, drawn either way, is "
        "<em>said</em>.</p>"
        f"<table><thead><tr><th>Question</th><th>Keys</th></tr></thead><tbody>{body}</tbody></table>"
        + more
    )


def _shown(key: str) -> str:
    return "+".join(p.capitalize() if len(p) > 1 else p for p in key.split("+"))


def guidelines_markdown(cfg: Config) -> str:
    """The "Annotation guidelines" section of the corpus's own DATA_CARD.md ('' without one)."""
    return guidelines(cfg)


def instructions_html(cfg: Config) -> str:
    """The annotation guidelines rendered to HTML for the project's instructions."""
    from markdown_it import MarkdownIt

    text = guidelines_markdown(cfg)
    if not text:
        guide = "<p>Label the stance of the article towards each target, then claims, quotes and speakers.</p>"
    else:
        guide = str(MarkdownIt("commonmark", {"html": False}).render(text))
    return guide + hotkey_table_html(cfg)


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
