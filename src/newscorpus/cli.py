"""The `newscorpus` command: one thin command per verb (parse, call one library function, print)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .config import Config, load_config
from .errors import NewscorpusError

app = typer.Typer(
    name="newscorpus",
    help="Gather news, annotate stance and claims in Label Studio, measure agreement, release datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class State:
    corpus: Path
    debug: bool

    def config(self) -> Config:
        return load_config(self.corpus)


def _version(value: bool) -> None:
    if value:
        out.print(f"newscorpus {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    corpus: Annotated[
        Path,
        typer.Option(
            "--corpus", envvar="NEWSCORPUS_CORPUS", help="Corpus folder.", show_default=True
        ),
    ] = Path("corpus"),
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Gather news, annotate it in Label Studio, measure agreement, release HF datasets."""
    ctx.obj = State(corpus=corpus, debug=debug)


@contextmanager
def handled(ctx: typer.Context) -> Iterator[State]:
    """Turn library errors into one line on stderr and the error's exit code."""
    state: State = ctx.obj
    try:
        yield state
    except NewscorpusError as exc:
        if state.debug:
            raise
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted: what was written so far is kept; run the command again to resume")
        raise typer.Exit(130) from None


def print_json(data: Any) -> None:
    """JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def count_table(title: str, rows: list[dict[str, Any]], cols: list[str]) -> Table:
    """A rich table of count rows."""
    table = Table(title=title, title_justify="left")
    for c in [*cols, "count"]:
        table.add_column(c, justify="right" if c == "count" else "left")
    for r in rows:
        table.add_row(*(str(r[c]) for c in [*cols, "count"]))
    return table


# --- corpus ----------------------------------------------------------------------------------


@app.command()
def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Folder of the new corpus.")],
) -> None:
    """Create a new corpus folder with a commented corpus.toml."""
    from .corpus import init_corpus

    with handled(ctx):
        path = init_corpus(directory)
        out.print(f"created {path}; edit it, then run `newscorpus --corpus {directory} validate`")


@app.command()
def validate(ctx: typer.Context) -> None:
    """Check corpus.toml and every corpus file against schemas/; exit 1 on any error."""
    from .validate import validate_corpus

    with handled(ctx) as st:
        report = validate_corpus(st.corpus)
        for line in report.errors:
            err.print(line, markup=False)
        parts = [
            f"{report.records[k]} {k} records in {report.files[k]} files"
            for k in ("article", "annotation", "rejected")
            if report.files[k]
        ]
        summary = "; ".join(parts) or "no data files yet"
        if report.ok:
            out.print(f"ok: corpus.toml and {summary}")
        else:
            err.print(f"{len(report.errors)} errors; {summary}")
            raise typer.Exit(1)


@app.command()
def stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Counts: articles by language, source, site and month; annotations by layer, label, annotator."""
    from .stats import corpus_stats

    with handled(ctx) as st:
        data = corpus_stats(st.config())
        if as_json:
            print_json(data)
            return
        a = data["articles"]
        out.print(
            f"[bold]{data['corpus']}[/]: {a['total']} articles in {a['clusters']} clusters"
            f" ({a['synthetic']} synthetic)"
        )
        for dim in ("language", "source", "site", "month"):
            out.print(count_table(f"articles by {dim}", a[f"by_{dim}"], [dim]))
        n = data["annotations"]
        out.print(f"{n['labels']} labels in current annotations")
        if n["labels"]:
            out.print(count_table("labels by layer and label", n["by_label"], ["layer", "label"]))
            out.print(count_table("labels by annotator", n["by_annotator"], ["annotator"]))


def main() -> None:
    """Entry point of the `newscorpus` script."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()


if __name__ == "__main__":
    main()
