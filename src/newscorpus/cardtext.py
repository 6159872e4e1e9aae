"""The corpus's own DATA_CARD.md: where it is, its sections, the template `init` writes, and
the placeholders that template leaves to fill in.

The card's prose is the dataset card's hand-written part, and its "Annotation guidelines"
section is what Label Studio shows annotators. It comes from the corpus only (``[corpus] card``,
or ``<corpus>/DATA_CARD.md``): never from another folder, the source checkout or the wheel.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from .config import CARD_FILE, Config, Target
from .errors import DataError
from .layers import ChoiceLayer, defined

GUIDELINES = "Annotation guidelines"
PLACEHOLDER = re.compile(r"\[FILL IN:[^\]]*\]")
_LEADING_COMMENT = re.compile(r"\A\s*<!--.*?-->\s*", re.S)

# Each slot of the template: its placeholder until the corpus builder writes it.
SLOTS = {
    "about": "what the articles are about, where and when they were published, and how they were found",
    "direct_use": "the research this corpus is made for",
    "out_of_scope": "uses you advise against (for instance, treating a check-worthy claim as false)",
    "target_examples": "for each target, a short example of an article and the value it gets",
    "annotators": "who annotated (how recruited and trained, which languages), how many per article, how disagreements were settled",
    "limitations": "what the selection of sources and topic terms leaves out, and what is hard to label",
    "personal": "which people the articles name, and any sensitive subject matter",
}


def card_path(cfg: Config) -> Path:
    """The corpus's DATA_CARD.md: ``[corpus] card``, else ``<corpus>/DATA_CARD.md``."""
    return cfg.corpus.card or cfg.root / CARD_FILE


def read_card(cfg: Config) -> str | None:
    """The card's text, or None when the corpus has none; DataError when it cannot be read."""
    path = card_path(cfg)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else f"not UTF-8 ({exc.reason})"
        raise DataError(f"{path}: cannot read the dataset card: {why}") from None


def card_body(text: str) -> str:
    """The card's prose without its leading HTML comment (the note to the corpus builder)."""
    return _LEADING_COMMENT.sub("", text).strip() + "\n"


def section(markdown: str, title: str) -> str:
    """The body of the ``## title`` section ('' when there is none)."""
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


def guidelines(cfg: Config) -> str:
    """The card's "Annotation guidelines" section ('' when the corpus has no card or section)."""
    text = read_card(cfg)
    return section(text, GUIDELINES) if text else ""


def placeholder_warnings(cfg: Config) -> list[str]:
    """One line per template placeholder still in the card and per target its guidelines do not
    name, or one line when there is no card."""
    path = card_path(cfg)
    text = read_card(cfg)
    if text is None:
        return [
            f"{path}: no dataset card: the card has no prose and annotators see no guidelines "
            f"(write one, or set [corpus] card in corpus.toml)"
        ]
    body = section(text, GUIDELINES)
    unnamed = [t.id for t in cfg.targets if f"`{t.id}`" not in body and t.id not in body]
    # the leading comment (the note to the builder) names the placeholder form itself
    text = _LEADING_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text, count=1)
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        for m in PLACEHOLDER.finditer(line):
            hint = m.group(0)
            out.append(f"{path}:{number}: template placeholder left to fill in: {hint}")
    out += [
        f"{path}: the {GUIDELINES!r} section does not name target {tid!r} of corpus.toml"
        for tid in unnamed
    ]
    return out


def _fill(slot: str, fills: Mapping[str, str]) -> str:
    return fills.get(slot) or f"[FILL IN: {SLOTS[slot]}.]"


def _choice_guidelines(layer: ChoiceLayer) -> str:
    """The guidelines' subsection of a per-article choice layer (after Stance)."""
    values = "\n".join(f"- **{v.name}**: {v.meaning}." for v in layer.values)
    lead = layer.guidance or f"{layer.question}: give one value for the article as a whole:"
    return f"\n### {layer.title}\n\n{lead}\n\n{values}\n"


def render_template(
    pretty_name: str,
    description: str,
    targets: Iterable[Target],
    fills: Mapping[str, str] | None = None,
) -> str:
    """A new corpus's DATA_CARD.md naming its targets and span labels, with places to fill in."""
    f = fills or {}
    layers = defined()  # what each value and label means: worded once, in layers.py
    values = "\n".join(f"- **{v.name}**: {v.meaning}." for v in layers.stance.values)
    tlist = "\n".join(f"- `{t.id}`: *{t.text}*" for t in targets)
    spans = "\n".join(f"- **{v.name}**: {v.meaning}." for v in layers.spans.labels)
    choices = "".join(_choice_guidelines(c) for c in layers.choices)
    return f"""<!-- The dataset card of "{pretty_name}": its hand-written prose. `newscorpus release`
     adds a generated header and sections (counts, agreement, loading); Label Studio shows the
     "{GUIDELINES}" section to annotators. Replace every [FILL IN: ...]; `newscorpus validate`
     lists those left, and the release says so on the card until they are gone. -->

## Dataset description

{description}

{_fill("about", f)}

## Uses

- **Direct use**: {_fill("direct_use", f)}
- **Out of scope**: {_fill("out_of_scope", f)}
- Rows with `synthetic = true` were written for tests or demonstrations; they are not news.

## {GUIDELINES}

### Stance

Read the whole article, then give one value per target for the article as it is written (your
own opinion of the target does not count):

{values}

The targets:

{tlist}

{_fill("target_examples", f)}
{choices}
### Claims, quotes and speakers

Mark spans of the text with these labels:

{spans}

Suggested regions (pre-annotations) are only a starting point: fix or delete them. Work from
"Label All Tasks" and submit each task before you look at anyone else's work.

## Who are the annotators

{_fill("annotators", f)}

## Known limitations

{_fill("limitations", f)}

## Personal and sensitive information

{_fill("personal", f)} Annotators appear in the release only under stable pseudonyms; their
names and e-mail addresses stay on the annotation server.

## Licensing

The licence in the header covers the annotations and the metadata. Texts of sources with
`text_policy = "hydrate"` are not redistributed: `newscorpus hydrate` fetches them again, under
the terms of the sites they come from.
"""
