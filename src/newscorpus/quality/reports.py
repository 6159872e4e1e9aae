"""The agreement report in <corpus>/reports/: agreement.md, agreement.json and PNG plots.

The release's dataset card reuses agreement.md, so it is self-contained Markdown with relative
image links. Everything is written atomically and deterministically (same labels, same bytes).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ..config import Config
from ..layers import defined
from ..store import atomic_write_bytes, atomic_write_text
from .agreement_result import AgreeResult, ChoiceAgreement, Section

REPORT_NAME = "agreement.md"


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _save(fig: Any, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def confusion_plot(target: str, stance: ChoiceAgreement, path: Path) -> bool:
    """Heat map of the coincidence matrix (pairs of annotators' labels) of one question."""
    co = stance.coincidences
    if not co:
        return False
    labels, matrix = list(co.labels), co.matrix
    fig, ax = plt.subplots(figsize=(5, 4.2))
    im = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    top = max((max(row) for row in matrix), default=0.0)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            colour = "white" if value > top / 2 else "black"
            ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=8, color=colour)
    ax.set_xlabel("label by one annotator")
    ax.set_ylabel("label by another annotator of the same article")
    ax.set_title(f"{target}: coincidences of labels between annotators", fontsize=9)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    _save(fig, path)
    return True


def distribution_plot(
    target: str,
    per_language: Mapping[str, Mapping[str, int]],
    path: Path,
    values: tuple[str, ...] | None = None,
    layer: str = "stance",
) -> bool:
    """Stacked bars: label counts per language for one question (a stance target by default)."""
    if not per_language:
        return False
    langs = sorted(per_language)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    bottom = [0] * len(langs)
    for label in defined().stance.value_names if values is None else values:
        heights = [per_language[lang].get(label, 0) for lang in langs]
        ax.bar(langs, heights, bottom=bottom, label=label)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("labels")
    ax.set_title(f"{target}: {layer} labels per language", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    return True


def _ci(s: ChoiceAgreement, sep: str) -> str:
    return f"{s.ci95[0]:.3f}{sep}{s.ci95[1]:.3f}" if s.ci95 else "–"


def _alpha_rows(questions: Mapping[str, ChoiceAgreement]) -> list[str]:
    return [
        f"| {name} | {_fmt(s.alpha)} | {_ci(s, ' – ')} | {s.units} | {s.annotators} "
        f"| {s.single_annotation_units} |"
        for name, s in questions.items()
    ]


def _kappa_blocks(questions: Mapping[str, ChoiceAgreement]) -> list[str]:
    lines: list[str] = []
    for name, s in questions.items():
        if s.kappa:
            lines += ["", f"Pairwise Cohen's kappa, `{name}`:", "", "| a | b | items | kappa |"]
            lines.append("|---|---|---|---|")
            lines += [f"| {k.a} | {k.b} | {k.n} | {_fmt(k.kappa)} |" for k in s.kappa]
    return lines


def render_markdown(result: AgreeResult, images: Mapping[str, list[str]]) -> str:
    """The Markdown text of the agreement report."""
    b = result.bootstrap
    lines = [
        "# Annotator agreement",
        "",
        f"Corpus `{result.corpus}`: {result.annotations} current annotations "
        "(each annotator's latest, non-cancelled version of a task).",
        "",
    ]
    orphans = result.orphans
    if orphans.annotations:
        lines += [
            "Annotations of articles no longer in the corpus are left out of every figure "
            f"below (annotations: {orphans.annotations}, articles: {orphans.articles}).",
            "",
        ]
    header = [
        "| {} | alpha | 95% CI | units | annotators | single-annotation units |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        "## Stance (Krippendorff's alpha, nominal)",
        "",
        f"95% confidence intervals from {b.resamples} bootstrap resamples of articles "
        f"(seed {b.seed}). Articles with a single annotation are left out and counted.",
        "",
        header[0].format("target"),
        header[1],
    ]
    lines += _alpha_rows(result.stance)
    lines += _kappa_blocks(result.stance)
    if result.choices:
        lines += ["", "## Per-article choices (Krippendorff's alpha, nominal)", ""]
        lines += [header[0].format("layer"), header[1], *_alpha_rows(result.choices)]
        lines += _kappa_blocks(result.choices)
    lines += [
        "",
        "## Spans (mean F1 and unitizing alpha over annotator pairs sharing a task)",
        "",
        "Unitizing alpha: Krippendorff's alpha_u of the label over the texts both annotated, laid "
        "end to end (DKPro Statistics' formula, pinned to Krippendorff 2004, p. 254).",
        "",
        "| label | exact F1 | overlap F1 | alpha_u | pairs |",
        "|---|---|---|---|---|",
    ]
    for label, sp in result.spans.items():
        lines.append(
            f"| {label} | {_fmt(sp.f1_exact)} | {_fmt(sp.f1_overlap)} | {_fmt(sp.alpha_u)} "
            f"| {sp.pairs} |"
        )
    lines += [
        "",
        "## Annotators",
        "",
        "| annotator | items | agreement with the majority of the others |",
        "|---|---|---|",
    ]
    for who, a in result.annotators.items():
        lines.append(f"| {who} | {a.items} | {_fmt(a.agreement_with_majority)} |")
    if result.by is not None:
        lines += ["", f"## Stance alpha by {result.by.field}", ""]
        lines += ["| group | target | alpha | units |", "|---|---|---|---|"]
        for group, sec in result.by.groups.items():
            for target, s in sec.stance.items():
                lines.append(f"| {group} | {target} | {_fmt(s.alpha)} | {s.units} |")
        if result.choices:
            lines += ["", f"## Per-article choices: alpha by {result.by.field}", ""]
            lines += ["| group | layer | alpha | units |", "|---|---|---|---|"]
            for group, sec in result.by.groups.items():
                for name, s in sec.choices.items():
                    lines.append(f"| {group} | {name} | {_fmt(s.alpha)} | {s.units} |")
    if any(images.values()):
        lines += ["", "## Plots", ""]
        for target, files in images.items():
            lines += [f"![{target}]({name})" for name in files]
    return "\n".join(lines) + "\n"


def write_agreement_report(cfg: Config, result: AgreeResult) -> Path:
    """Write reports/agreement.md, agreement.json and the PNG plots; return the Markdown path."""
    out = cfg.reports_dir
    out.mkdir(parents=True, exist_ok=True)
    images: dict[str, list[str]] = {}
    for target, stance in result.stance.items():
        names = []
        if confusion_plot(target, stance, out / f"agreement_confusion_{target}.png"):
            names.append(f"agreement_confusion_{target}.png")
        dist = result.label_distribution.get(target, {})
        if distribution_plot(target, dist, out / f"agreement_languages_{target}.png"):
            names.append(f"agreement_languages_{target}.png")
        images[target] = names
    for layer in defined().choices:  # file names apart from any target's
        s = result.choices.get(layer.name)
        names = []
        stem = f"choice_{layer.name}"
        if s is not None and confusion_plot(layer.name, s, out / f"agreement_confusion_{stem}.png"):
            names.append(f"agreement_confusion_{stem}.png")
        dist = result.choice_distribution.get(layer.name, {})
        path = out / f"agreement_languages_{stem}.png"
        if distribution_plot(layer.name, dist, path, layer.value_names, layer.name):
            names.append(path.name)
        images[stem] = names
    atomic_write_text(
        out / "agreement.json",
        json.dumps(result.to_json(with_report=False), ensure_ascii=False, indent=2) + "\n",
    )
    path = out / REPORT_NAME
    atomic_write_text(path, render_markdown(result, images))
    return path


def _alpha_table(title: str, first: str, questions: Mapping[str, ChoiceAgreement]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in (first, "alpha", "95% CI", "units", "annotators", "single"):
        table.add_column(col, justify="left" if col == first else "right")
    for name, s in questions.items():
        table.add_row(
            name,
            _fmt(s.alpha),
            _ci(s, "–"),
            str(s.units),
            str(s.annotators),
            str(s.single_annotation_units),
        )
    return table


def _kappa_tables(questions: Mapping[str, ChoiceAgreement]) -> list[Any]:
    from rich.table import Table

    tables = []
    for name, s in questions.items():
        if s.kappa:
            kt = Table(title=f"Cohen's kappa, {name}", title_justify="left")
            for col in ("a", "b", "items", "kappa"):
                kt.add_column(col, justify="right" if col in ("items", "kappa") else "left")
            for k in s.kappa:
                kt.add_row(k.a, k.b, str(k.n), _fmt(k.kappa))
            tables.append(kt)
    return tables


def _by_table(title: str, first: str, rows: list[tuple[str, str, ChoiceAgreement]]) -> Any:
    from rich.table import Table

    by = Table(title=title, title_justify="left")
    for col in ("group", first, "alpha", "units"):
        by.add_column(col, justify="right" if col in ("alpha", "units") else "left")
    for group, name, s in rows:
        by.add_row(group, name, _fmt(s.alpha), str(s.units))
    return by


def agreement_tables(result: AgreeResult) -> list[Any]:
    """Rich tables of an agreement result, for the terminal."""
    from rich.table import Table

    tables: list[Any] = [
        _alpha_table("stance: Krippendorff's alpha (nominal)", "target", result.stance)
    ]
    tables += _kappa_tables(result.stance)
    if result.choices:
        title = "per-article choices: Krippendorff's alpha (nominal)"
        tables.append(_alpha_table(title, "layer", result.choices))
        tables += _kappa_tables(result.choices)
    spans = Table(title="spans: mean F1 and alpha_u over annotator pairs", title_justify="left")
    for col in ("label", "exact F1", "overlap F1", "alpha_u", "pairs"):
        spans.add_column(col, justify="left" if col == "label" else "right")
    for label, sp in result.spans.items():
        f1 = (_fmt(sp.f1_exact), _fmt(sp.f1_overlap))
        spans.add_row(label, *f1, _fmt(sp.alpha_u), str(sp.pairs))
    people = Table(title="annotators", title_justify="left")
    for col in ("annotator", "items", "agreement with majority"):
        people.add_column(col, justify="left" if col == "annotator" else "right")
    for who, a in result.annotators.items():
        people.add_row(who, str(a.items), _fmt(a.agreement_with_majority))
    tables += [spans, people]
    if result.by is not None:
        groups: Mapping[str, Section] = result.by.groups
        rows = [(g, t, s) for g, sec in groups.items() for t, s in sec.stance.items()]
        tables.append(_by_table(f"stance alpha by {result.by.field}", "target", rows))
        if result.choices:
            rows = [(g, n, s) for g, sec in groups.items() for n, s in sec.choices.items()]
            title = f"per-article choices: alpha by {result.by.field}"
            tables.append(_by_table(title, "layer", rows))
    return tables
