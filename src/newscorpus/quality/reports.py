"""The agreement report in <corpus>/reports/: agreement.md, agreement.json and PNG plots.

The release's dataset card reuses agreement.md, so it is self-contained Markdown with relative
image links. Everything is written atomically and deterministically (same labels, same bytes).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ..config import STANCE_VALUES, Config
from ..store import atomic_write_bytes, atomic_write_text

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


def confusion_plot(target: str, stance: dict[str, Any], path: Path) -> bool:
    """Heat map of the coincidence matrix (pairs of annotators' labels) of one target."""
    co = stance.get("coincidences")
    if not co:
        return False
    labels, matrix = co["labels"], co["matrix"]
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


def distribution_plot(target: str, per_language: dict[str, dict[str, int]], path: Path) -> bool:
    """Stacked bars: stance label counts per language for one target."""
    if not per_language:
        return False
    langs = sorted(per_language)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    bottom = [0] * len(langs)
    for label in STANCE_VALUES:
        heights = [per_language[lang].get(label, 0) for lang in langs]
        ax.bar(langs, heights, bottom=bottom, label=label)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("labels")
    ax.set_title(f"{target}: stance labels per language", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    return True


def render_markdown(result: dict[str, Any], images: dict[str, list[str]]) -> str:
    """The Markdown text of the agreement report."""
    b = result["bootstrap"]
    lines = [
        "# Annotator agreement",
        "",
        f"Corpus `{result['corpus']}`: {result['annotations']} current annotations "
        "(each annotator's latest, non-cancelled version of a task).",
        "",
    ]
    orphans = result.get("orphans") or {}
    if orphans.get("annotations"):
        lines += [
            "Annotations of articles no longer in the corpus are left out of every figure "
            f"below (annotations: {orphans['annotations']}, articles: {orphans['articles']}).",
            "",
        ]
    lines += [
        "## Stance (Krippendorff's alpha, nominal)",
        "",
        f"95% confidence intervals from {b['resamples']} bootstrap resamples of articles "
        f"(seed {b['seed']}). Articles with a single annotation are left out and counted.",
        "",
        "| target | alpha | 95% CI | units | annotators | single-annotation units |",
        "|---|---|---|---|---|---|",
    ]
    for target, s in result["stance"].items():
        ci = f"{s['ci95'][0]:.3f} – {s['ci95'][1]:.3f}" if s["ci95"] else "–"
        lines.append(
            f"| {target} | {_fmt(s['alpha'])} | {ci} | {s['units']} | {s['annotators']} "
            f"| {s['single_annotation_units']} |"
        )
    for target, s in result["stance"].items():
        if s["kappa"]:
            lines += ["", f"Pairwise Cohen's kappa, `{target}`:", "", "| a | b | items | kappa |"]
            lines.append("|---|---|---|---|")
            lines += [
                f"| {k['a']} | {k['b']} | {k['n']} | {_fmt(k['kappa'])} |" for k in s["kappa"]
            ]
    lines += [
        "",
        "## Spans (mean F1 over annotator pairs sharing a task)",
        "",
        "| label | exact F1 | overlap F1 | pairs |",
        "|---|---|---|---|",
    ]
    for label, s in result["spans"].items():
        lines.append(
            f"| {label} | {_fmt(s['f1_exact'])} | {_fmt(s['f1_overlap'])} | {s['pairs']} |"
        )
    lines += [
        "",
        "## Annotators",
        "",
        "| annotator | items | agreement with the majority of the others |",
        "|---|---|---|",
    ]
    for who, s in result["annotators"].items():
        lines.append(f"| {who} | {s['items']} | {_fmt(s['agreement_with_majority'])} |")
    if "by" in result:
        lines += ["", f"## Stance alpha by {result['by']['field']}", ""]
        lines += ["| group | target | alpha | units |", "|---|---|---|---|"]
        for group, sec in result["by"]["groups"].items():
            for target, s in sec["stance"].items():
                lines.append(f"| {group} | {target} | {_fmt(s['alpha'])} | {s['units']} |")
    if any(images.values()):
        lines += ["", "## Plots", ""]
        for target, files in images.items():
            lines += [f"![{target}]({name})" for name in files]
    return "\n".join(lines) + "\n"


def write_agreement_report(cfg: Config, result: dict[str, Any]) -> Path:
    """Write reports/agreement.md, agreement.json and the PNG plots; return the Markdown path."""
    out = cfg.reports_dir
    out.mkdir(parents=True, exist_ok=True)
    images: dict[str, list[str]] = {}
    for target, stance in result["stance"].items():
        names = []
        if confusion_plot(target, stance, out / f"agreement_confusion_{target}.png"):
            names.append(f"agreement_confusion_{target}.png")
        dist = result["label_distribution"].get(target, {})
        if distribution_plot(target, dist, out / f"agreement_languages_{target}.png"):
            names.append(f"agreement_languages_{target}.png")
        images[target] = names
    public = {k: v for k, v in result.items() if k != "report"}
    atomic_write_text(
        out / "agreement.json", json.dumps(public, ensure_ascii=False, indent=2) + "\n"
    )
    path = out / REPORT_NAME
    atomic_write_text(path, render_markdown(result, images))
    return path


def agreement_tables(result: dict[str, Any]) -> list[Any]:
    """Rich tables of an agreement result, for the terminal."""
    from rich.table import Table

    stance = Table(title="stance: Krippendorff's alpha (nominal)", title_justify="left")
    for col in ("target", "alpha", "95% CI", "units", "annotators", "single"):
        stance.add_column(col, justify="left" if col == "target" else "right")
    for target, s in result["stance"].items():
        ci = f"{s['ci95'][0]:.3f}–{s['ci95'][1]:.3f}" if s["ci95"] else "–"
        stance.add_row(
            target,
            _fmt(s["alpha"]),
            ci,
            str(s["units"]),
            str(s["annotators"]),
            str(s["single_annotation_units"]),
        )
    tables: list[Any] = [stance]
    for target, s in result["stance"].items():
        if s["kappa"]:
            kt = Table(title=f"Cohen's kappa, {target}", title_justify="left")
            for col in ("a", "b", "items", "kappa"):
                kt.add_column(col, justify="right" if col in ("items", "kappa") else "left")
            for k in s["kappa"]:
                kt.add_row(k["a"], k["b"], str(k["n"]), _fmt(k["kappa"]))
            tables.append(kt)
    spans = Table(title="spans: mean F1 over annotator pairs", title_justify="left")
    for col in ("label", "exact F1", "overlap F1", "pairs"):
        spans.add_column(col, justify="left" if col == "label" else "right")
    for label, s in result["spans"].items():
        spans.add_row(label, _fmt(s["f1_exact"]), _fmt(s["f1_overlap"]), str(s["pairs"]))
    people = Table(title="annotators", title_justify="left")
    for col in ("annotator", "items", "agreement with majority"):
        people.add_column(col, justify="left" if col == "annotator" else "right")
    for who, s in result["annotators"].items():
        people.add_row(who, str(s["items"]), _fmt(s["agreement_with_majority"]))
    tables += [spans, people]
    if "by" in result:
        by = Table(title=f"stance alpha by {result['by']['field']}", title_justify="left")
        for col in ("group", "target", "alpha", "units"):
            by.add_column(col, justify="right" if col in ("alpha", "units") else "left")
        for group, sec in result["by"]["groups"].items():
            for target, s in sec["stance"].items():
                by.add_row(group, target, _fmt(s["alpha"]), str(s["units"]))
        tables.append(by)
    return tables
