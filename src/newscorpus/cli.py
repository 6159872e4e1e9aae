"""The `newscorpus` command: one thin command per verb (parse, call one library function, print)."""

from __future__ import annotations

import json
import os
import sys

# polars' allocator (jemalloc) keeps freed pages for 0.5 to 1 s (polars' own setting); a
# release streams batch after batch through it, and at 1,000,000 articles the pages it kept
# were ~90 MB of the peak (benchmarks/bench_release.py). polars appends this variable to its
# setting when it loads (its documented override): set only if polars is not loaded yet and
# the builder set nothing.
if "polars" not in sys.modules:
    os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.core
from rich.console import Console
from rich.table import Table

from . import __version__, store
from .config import Config, check_allow_host, check_flag, load_config
from .errors import NewscorpusError
from .lock import corpus_lock
from .wording import plural

if TYPE_CHECKING:  # the gather stack is imported by the gather command only
    from .gather.pipeline import GatherResult

_display_type = typer.core.TyperOption.display_type_rich


def _flag_shows_no_type(self: typer.core.TyperOption, ctx: Any) -> str | None:
    """typer 0.29 shows ``<bool>`` after plain flags (``--full <bool>``), inviting ``--full true``."""
    return None if getattr(self, "is_flag", False) else _display_type(self, ctx)


typer.core.TyperOption.display_type_rich = _flag_shows_no_type  # type: ignore[method-assign]

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
    _config: Config | None = None

    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.corpus)
        return self._config


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


def _report_repairs(root: Path) -> None:
    """One line per torn last line the command moved aside before writing that file."""
    for path, n in store.repaired:
        rel = path.relative_to(root) if path.is_relative_to(root) else path
        err.print(
            f"repaired: {rel}: torn last line ({n} bytes, an interrupted write) moved to "
            f"{store.torn_path(rel)}",
            markup=False,
        )
    store.repaired.clear()


@contextmanager
def handled(
    ctx: typer.Context,
    writes: str | None = None,
    flags: dict[str, int | float | None] | None = None,
) -> Iterator[State]:
    """Turn library errors into one line on stderr and the error's exit code.

    ``flags`` (``{"push --limit": 3}``) are range-checked first. ``writes`` names a command
    that writes the corpus or its annotation server: it then takes the corpus's exclusive lock
    (a second writer is refused) and says which torn lines its writes moved aside.
    """
    state: State = ctx.obj
    try:
        for flag, value in (flags or {}).items():
            check_flag(flag, value)
        with ExitStack() as stack:
            if writes is not None:
                cfg = state.config()
                stack.enter_context(corpus_lock(cfg.root, writes))
                store.repaired.clear()  # what this command's writes move aside is reported
                stack.callback(_report_repairs, cfg.root)
            yield state
    except NewscorpusError as exc:
        if state.debug:
            raise
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted: what was written so far is kept; run the command again to resume")
        raise typer.Exit(130) from None
    except OSError as exc:  # the file system refused (read-only, full, a folder in a file's place)
        if state.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        err.print(f"error: {where}{exc.strerror or exc}", markup=False)
        raise typer.Exit(1) from None


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
        out.print(
            f"created {path} and {path.parent / 'DATA_CARD.md'} (the card's prose and the "
            f"annotation guidelines); edit both, then run `newscorpus --corpus {directory} validate`"
        )


@app.command()
def validate(ctx: typer.Context) -> None:
    """Check corpus.toml and every corpus file against schemas/; exit 1 on any error."""
    from .validate import validate_corpus

    with handled(ctx) as st:
        report = validate_corpus(st.corpus)
        for line in report.errors:
            err.print(line, markup=False)
        for line in report.warnings:
            err.print(f"warning: {line}", markup=False)
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
        result = corpus_stats(st.config())
        if as_json:
            print_json(result.to_json())
            return
        a, n = result.articles, result.annotations
        out.print(
            f"[bold]{result.corpus}[/]: {a.total} articles in {a.clusters} clusters"
            f" ({a.synthetic} synthetic)"
        )
        for dim, rows in a.by.items():
            out.print(count_table(f"articles by {dim}", rows, [dim]))
        out.print(f"{n.labels} labels in current annotations")
        if n.labels:
            out.print(count_table("labels by layer and label", n.by_label, ["layer", "label"]))
            out.print(count_table("labels by annotator", n.by_annotator, ["annotator"]))


# --- quality: agreement and aggregation ------------------------------------------------------


@app.command()
def agree(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Also per group: language or source.")
    ] = None,
) -> None:
    """Agreement: stance alpha with 95% CI, kappa, span F1 and alpha_u; writes reports/agreement.md."""
    from .quality.agreement import agree as run_agree
    from .quality.reports import agreement_tables

    with handled(ctx, writes=None if as_json else "agree") as st:
        result = run_agree(st.config(), by=by, write_report=not as_json)
        if as_json:
            print_json(result.to_json())
            return
        for table in agreement_tables(result):
            out.print(table)
        out.print(f"report: {result.report}")


@app.command()
def aggregate(
    ctx: typer.Context,
    method: Annotated[str, typer.Option("--method", help="majority or dawid-skene.")] = "majority",
) -> None:
    """One label per (article, target) and majority spans, into annotations/aggregate.jsonl."""
    from .quality.aggregate import aggregate as run_aggregate

    with handled(ctx, writes="aggregate") as st:
        s = run_aggregate(st.config(), method=method)
        out.print(
            f"{s.method}: {s.articles} articles, {s.labels} stance labels "
            f"({s.unresolved_labels} unresolved), {s.spans} spans "
            f"({s.unresolved_spans} span groups without a majority) -> {s.path}"
        )
        if s.choice_labels:
            out.print(
                f"{s.choice_labels} per-article choice labels "
                f"({s.unresolved_choice_labels} unresolved)"
            )
        if s.reliability_path:
            out.print(f"annotator reliability -> {s.reliability_path}")


# --- Label Studio ----------------------------------------------------------------------------

studio_app = typer.Typer(
    help="Run a local Label Studio server for this corpus.", no_args_is_help=True
)
app.add_typer(studio_app, name="studio")

STUDIO_ENV = "NEWSCORPUS_STUDIO_ENV"  # the virtual environment Label Studio runs from


def studio_env() -> tuple[Path | None, Path | None]:
    """Label Studio's virtual environment and the data home where a per-user one is made:
    read from the environment here, not below the CLI."""
    named, home = os.environ.get(STUDIO_ENV), os.environ.get("XDG_DATA_HOME")
    return (Path(named) if named else None), (Path(home) if home else None)


@studio_app.command("start")
def studio_start(
    ctx: typer.Context,
    port: Annotated[
        int | None, typer.Option(help="Port on 127.0.0.1 (default \\[studio].port).")
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            help="sqlite (embedded) or postgresql (a PostgreSQL server run beside it, for a "
            "team); default \\[studio].database."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes serving Label Studio on PostgreSQL (default 3; SQLite runs "
            "on one)."
        ),
    ] = None,
) -> None:
    """Start Label Studio on 127.0.0.1 (headless, offline) and print its URL and admin login."""
    from .labelstudio.server import start

    with handled(ctx, writes="studio start", flags={"studio start --port": port}) as st:
        env, data_home = studio_env()
        s = start(
            st.config(),
            port=port,
            env=env,
            data_home=data_home,
            database=database,
            workers=workers,
        )
        out.print(
            f"Label Studio {'already running' if s.already_running else 'running'} at {s.url}"
        )
        out.print(f"admin login: {s.email} (password and API token in {s.credentials_file})")
        if s.database_port is not None:
            out.print(f"database: PostgreSQL on 127.0.0.1:{s.database_port}")


@studio_app.command("stop")
def studio_stop(ctx: typer.Context) -> None:
    """Stop this corpus's Label Studio."""
    from .labelstudio.server import stop

    with handled(ctx, writes="studio stop") as st:
        out.print("stopped" if stop(st.config()) else "Label Studio was not running")


@studio_app.command("status")
def studio_status(ctx: typer.Context) -> None:
    """Say whether this corpus's Label Studio runs and answers; exit 1 when it does not."""
    from .labelstudio.server import status

    with handled(ctx) as st:
        s = status(st.config())
        pg = s.database == "postgresql"
        if pg:
            out.print(
                f"PostgreSQL running on 127.0.0.1:{s.database_port} (pid {s.database_pid})"
                if s.database_pid
                else "PostgreSQL not running"
            )
        if s.healthy and (s.database_pid or not pg):
            served = f", {len(s.workers)} worker processes" if s.workers else ""
            out.print(f"running at {s.url} (pid {s.pid}{served})")
            return
        if s.healthy:  # Label Studio answers /health without its database
            out.print(f"running at {s.url} (pid {s.pid}) without its database: `studio start`")
            raise typer.Exit(1)
        out.print("not running" if not s.running else f"started (pid {s.pid}) but not answering")
        raise typer.Exit(1)


@app.command()
def push(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option(help="Push at most N articles.")] = None,
    language: Annotated[str | None, typer.Option(help="Only articles in this language.")] = None,
    source: Annotated[str | None, typer.Option(help="Only articles of this source.")] = None,
    since: Annotated[str | None, typer.Option(help="Only articles published since DATE.")] = None,
    sample: Annotated[int | None, typer.Option(help="A random sample of N articles.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of --sample and of a team's assignment.")] = 0,
    overlap: Annotated[
        int | None,
        typer.Option(
            help="Annotations per task (default \\[studio].overlap); with a team (annotators "
            "add), the annotators each cluster goes to, each in a project of their own."
        ),
    ] = None,
) -> None:
    """Send articles to Label Studio as tasks (one per near-duplicate cluster), idempotently."""
    from contextlib import closing
    from dataclasses import replace

    from .annotation.push import PushOptions
    from .annotation.push import push as do_push
    from .labelstudio.connect import connect

    numbers = {"limit": limit, "sample": sample, "seed": seed, "overlap": overlap}
    flags: dict[str, int | float | None] = {f"push --{k}": v for k, v in numbers.items()}
    with handled(ctx, writes="push", flags=flags) as st:
        cfg = st.config()
        if overlap is not None:  # the flag overrides [studio] overlap, here and nowhere else
            cfg = replace(cfg, studio=replace(cfg.studio, overlap=overlap))
        opts = PushOptions(
            limit=limit, language=language, source=source, since=since, sample=sample, seed=seed
        )
        with closing(connect(cfg)) as backend:
            r = do_push(cfg, options=opts, backend=backend)
        if r.projects:  # a team: each cluster to K annotators, each in a project of their own
            out.print(
                f"{len(r.projects)} annotators' projects at {r.url}: each cluster to "
                f"{r.overlap}; {plural(r.imported, 'task')} imported, {r.moved} unstarted moved, "
                f"{r.already} already assigned ({r.selected} articles selected)"
                + ("; ledger reconciled with the server" if r.reconciled else "")
            )
            return
        out.print(
            f"project {r.project_id} at {r.url}: {plural(r.imported, 'task')} imported, "
            f"{r.already} already there ({r.selected} articles selected)"
            + ("; ledger reconciled with the server" if r.reconciled else "")
            + ("; labeling config updated" if r.config_updated else "")
        )


@app.command()
def pull(
    ctx: typer.Context,
    from_export: Annotated[
        Path | None, typer.Option("--from-export", help="Read a Label Studio JSON export file.")
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="Fetch every task, not only those changed since the last pull."
        ),
    ] = False,
) -> None:
    """Fetch annotations from Label Studio (or an export file) into annotations/."""
    from contextlib import closing

    from .annotation.pull import pull as do_pull
    from .labelstudio.connect import connect
    from .labelstudio.export import pull_export

    with handled(ctx, writes="pull") as st:
        cfg = st.config()
        if from_export:
            r = pull_export(cfg, from_export)
        else:
            with closing(connect(cfg)) as backend:
                r = do_pull(cfg, backend=backend, full=full)
        out.print(
            f"{plural(r.tasks, 'task')}, {plural(r.annotations, 'annotation')} ({r.cancelled} skipped): "
            f"{r.new_versions} new versions, {r.deleted} marked deleted, "
            f"{r.drafts_ignored} drafts ignored"
            + (
                f"; {plural(r.relations_kept, 'relation')} that are not a speaker link kept "
                "in their records"
                if r.relations_kept
                else ""
            )
        )


annotators_app = typer.Typer(
    help="Annotator accounts on the Label Studio server: add, list, remove.",
    no_args_is_help=True,
)
app.add_typer(annotators_app, name="annotators")


@annotators_app.command("add")
def annotators_add(
    ctx: typer.Context,
    emails: Annotated[list[str], typer.Argument(help="E-mail addresses of the annotators.")],
    credentials: Annotated[
        Path,
        typer.Option(
            "--credentials",
            help="CSV file (email,password; mode 0600, appended) outside the corpus folder.",
        ),
    ],
    languages: Annotated[
        str | None,
        typer.Option("--languages", help="Languages they read, comma-separated (default all)."),
    ] = None,
) -> None:
    """Make an account per new e-mail; its generated password goes to the credentials file only."""
    from contextlib import closing

    from .annotation.team import add_annotators
    from .labelstudio.connect import connect

    with handled(ctx, writes="annotators add") as st:
        cfg = st.config()
        langs = (languages or "").split(",")
        with closing(connect(cfg)) as backend:
            r = add_annotators(
                cfg, emails=emails, credentials=credentials, languages=langs, backend=backend
            )
        words = {
            "created": "account created",
            "joined": "account existed: now on the team (no new password)",
            "already": "already on the team",
        }
        for a in r.added:
            out.print(f"{a.email} ({a.pseudonym}): {words[a.status]}", markup=False)
        if r.created:
            out.print(f"{plural(r.created, 'password')} appended to {r.credentials}", markup=False)


@annotators_app.command("list")
def annotators_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The team: e-mail, pseudonym, tasks assigned and submitted, and the link each works from."""
    from contextlib import closing

    from .annotation.team import list_annotators
    from .labelstudio.connect import connect

    with handled(ctx) as st:
        cfg = st.config()
        with closing(connect(cfg)) as backend:
            r = list_annotators(cfg, backend=backend)
        if as_json:
            print_json(r.to_json())
            return
        if not r.members:
            out.print("no annotators yet: run `newscorpus annotators add EMAIL --credentials FILE`")
            return
        table = Table(title="annotators", title_justify="left")
        for col in ("email", "pseudonym", "assigned", "submitted", "url"):
            right = col in ("assigned", "submitted")
            table.add_column(col, justify="right" if right else "left", overflow="fold")
        for m in r.members:
            table.add_row(m.email, m.pseudonym, str(m.assigned), str(m.submitted), m.url)
        out.print(table)


@annotators_app.command("remove")
def annotators_remove(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="E-mail address of the annotator.")],
) -> None:
    """Deactivate an annotator's account (their annotations stay)."""
    from contextlib import closing

    from .annotation.team import remove_annotator
    from .labelstudio.connect import connect

    with handled(ctx, writes="annotators remove") as st:
        cfg = st.config()
        with closing(connect(cfg)) as backend:
            r = remove_annotator(cfg, email=email, backend=backend)
        out.print(
            f"{r.email} ({r.pseudonym or 'user ' + str(r.user_id)}): removed from the "
            "organisation; their annotations stay",
            markup=False,
        )


@app.command()
def progress(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (pseudonyms, no e-mails) instead of tables.")
    ] = False,
) -> None:
    """Each annotator's work done and left, labels and agreement so far, when it will be done.

    Per annotator: tasks assigned, submitted, skipped, remaining and the median time per task
    (e-mails on the terminal only); writes reports/progress.md and reports/progress.png."""
    from contextlib import closing

    from .annotation.progress import duration
    from .annotation.progress import progress as run_progress
    from .labelstudio.connect import connect

    with handled(ctx, writes="progress") as st:
        cfg = st.config()
        with closing(connect(cfg)) as backend:
            r = run_progress(cfg, backend=backend)
        if as_json:
            print_json(r.to_json())
            return
        table = Table(title="progress", title_justify="left")
        cols = ("email", "pseudonym", "assigned", "submitted", "skipped", "remaining", "median s")
        for col in cols:
            table.add_column(col, justify="left" if col in cols[:2] else "right", overflow="fold")
        for a in r.annotators:
            median = "–" if a.median_seconds is None else f"{a.median_seconds:g}"
            counts = (a.assigned, a.submitted, a.skipped, a.remaining)
            table.add_row(a.email, a.pseudonym, *map(str, counts), median)
        out.print(table)
        e = r.estimate
        if e.reason is None:
            out.print(
                f"{plural(e.remaining, 'annotation')} to go at {e.per_hour:g}/hour (last "
                f"{e.window} submissions): about {duration(e.seconds_left)}, around {e.eta}"
            )
        else:
            out.print(
                f"{plural(e.remaining, 'annotation')} to go; no estimate: {e.reason}", markup=False
            )
        for question, s in [*r.agreement.stance.items(), *r.agreement.choices.items()]:
            alpha = "–" if s.alpha is None else f"{s.alpha:.3f}"
            out.print(f"alpha so far, {question}: {alpha} over {plural(s.units, 'article')}")
        out.print(f"report: {r.report}", markup=False)


# --- release ---------------------------------------------------------------------------------


@app.command()
def release(
    ctx: typer.Context,
    version: Annotated[str | None, typer.Option("--version", help="Version X.Y.Z.")] = None,
    bump: Annotated[
        str | None, typer.Option("--bump", help="major, minor or patch of the previous release.")
    ] = None,
    to: Annotated[
        Path | None, typer.Option("--to", help="Local git repository (default \\[release].to).")
    ] = None,
    hub: Annotated[
        str | None, typer.Option("--hub", help="Also publish to the Hub as ORG/NAME (HF_TOKEN).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Build and check, publish nothing.")
    ] = False,
) -> None:
    """Build, check and publish a versioned Hugging Face dataset (commit + tag vX.Y.Z)."""
    from dataclasses import replace

    from .release.publish import ReleaseOptions, make_release

    with handled(ctx, writes="release") as st:
        cfg = st.config()
        targets = replace(cfg.release, to=to or cfg.release.to, hub=hub or cfg.release.hub)
        options = ReleaseOptions(version=version, bump=bump, dry_run=dry_run)
        r = make_release(replace(cfg, release=targets), options=options)
        for config, splits in r.counts.items():
            out.print(f"{config}: " + ", ".join(f"{s} {n}" for s, n in splits.items()))
        if r.changes is not None:
            out.print(
                f"changes: {r.changes.added} added, {r.changes.removed} removed, "
                f"{r.changes.labels_changed} with changed stance labels, "
                f"{r.changes.claims_changed} with changed claims"
            )
        for note in r.notes:
            out.print(note)
        for warning in r.warnings:
            err.print(f"warning: {warning}", markup=False)
        if r.dry_run:
            if not r.notes:
                out.print(f"dry run: v{r.version} built and checked; nothing was published")
            return
        if r.changes is not None:  # else an interrupted release was finished: the note says so
            for p in r.published:
                out.print(f"released v{r.version} to {p.place} (commit {p.commit[:12]})")


@app.command()
def hydrate(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="A release folder.")],
    allow_host: Annotated[
        list[str] | None,
        typer.Option("--allow-host", help="host or host:port allowed although not public."),
    ] = None,
    delay: Annotated[
        float, typer.Option("--delay", help="Seconds between requests to one host.")
    ] = 1.0,
) -> None:
    """Fetch the texts a release withholds (text_policy hydrate), check their SHA-256, fill them in."""
    from .config import GatherSettings
    from .release.hydrate import gather_fetch, hydrate_lock, hydrate_release

    with handled(ctx, flags={"hydrate --delay": delay}):
        hosts = tuple(check_allow_host(h) for h in allow_host or ())
        fetch = gather_fetch(GatherSettings(allow_hosts=hosts, per_host_delay=delay))
        lock_file = hydrate_lock(directory)
        with corpus_lock(directory, "hydrate", lock_file):
            try:
                r = hydrate_release(directory, fetch=fetch)
            finally:  # a plain folder keeps no lock file (the folder itself is locked till here)
                if lock_file.parent == directory:
                    lock_file.unlink(missing_ok=True)
        out.print(
            f"{len(r.filled)} texts filled in, {len(r.mismatched)} did not match their SHA-256, "
            f"{len(r.failed)} failed, {r.already} already there (details in {directory}/hydrate.json)"
        )
        for m in r.mismatched:
            err.print(f"mismatch: {m.id} {m.url}", markup=False)
        for f in r.failed:
            err.print(f"failed: {f.message}", markup=False)
        if r.mismatched or r.failed:
            raise typer.Exit(1)


# --- gather ----------------------------------------------------------------------------------

WORKERS_ENV = "NEWSCORPUS_WORKERS"  # the CLI-level override of [gather] workers
RAY_ADDRESS_ENV = "RAY_ADDRESS"  # the CLI-level override of [gather] ray_address (Ray's own name)


def gather_overrides(
    cfg: Config, allow_host: list[str] | None, executor: str | None = None
) -> Config:
    """corpus.toml's [gather] with the command line on top (the one override step of gather):
    ``--allow-host`` added to allow_hosts, ``NEWSCORPUS_WORKERS`` in place of workers,
    ``--executor`` in place of executor, ``RAY_ADDRESS`` in place of ray_address."""
    from .config import LIMITS, executor_problem, ray_address_problem, replace_gather
    from .errors import UsageError

    changes: dict[str, Any] = {}
    hosts = tuple(check_allow_host(h) for h in allow_host or ())
    if hosts:
        changes["allow_hosts"] = (*cfg.gather.allow_hosts, *hosts)
    env = os.environ.get(WORKERS_ENV, "")
    if env:
        problem = LIMITS["gather.workers"].problem(int(env) if env.isdigit() else env)
        if problem:
            raise UsageError(f"{WORKERS_ENV}={env!r}: {problem}")
        changes["workers"] = int(env)
    if executor is not None:
        problem = executor_problem(executor)
        if problem:
            raise UsageError(f"--executor: {problem}")
        changes["executor"] = executor
    # only a Ray run reads it: Ray's job tools export RAY_ADDRESS as http://HEAD:8265
    ray = changes.get("executor", cfg.gather.executor) == "ray"
    address = os.environ.get(RAY_ADDRESS_ENV, "").strip() if ray else ""
    if address:
        problem = ray_address_problem(address)
        if problem:
            raise UsageError(f"{RAY_ADDRESS_ENV}: {problem}")
        changes["ray_address"] = address
    return replace_gather(cfg, **changes)


@app.command()
def gather(
    ctx: typer.Context,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="Only this source (its name in corpus.toml; repeatable)."),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option("--allow-host", help="Allow HOST or HOST:PORT on a non-public address."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Stop after N new articles.")] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Revalidate cached responses (conditional requests).")
    ] = False,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            help="Where the shard work runs: local (process pool), serial, or ray "
            "(the cluster at RAY_ADDRESS, else a local Ray instance).",
        ),
    ] = None,
) -> None:
    """Fill articles/<source>.jsonl from the sources in corpus.toml (guarded, polite, resumable)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .gather.pipeline import GatherOptions
    from .gather.pipeline import gather as run_gather

    with handled(ctx, writes="gather", flags={"gather --limit": limit}) as st:
        cfg = gather_overrides(st.config(), allow_host, executor)
        if cfg.gather.executor == "ray":  # before Ray is imported: it never calls home
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        options = GatherOptions(sources=tuple(source or ()), limit=limit, refresh=refresh)
        bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=not err.is_terminal,
            transient=False,
        )
        tasks: dict[str, Any] = {}

        def progress(name: str, done: int, total: int | None) -> None:
            if not bars.live.is_started:
                bars.start()
            if name not in tasks:
                tasks[name] = bars.add_task(name, total=total)
            bars.update(tasks[name], completed=done, total=total)

        try:
            result = run_gather(cfg, options=options, progress=progress)
        finally:
            bars.stop()
        out.print(gather_table(result))


def gather_table(r: GatherResult) -> Table:
    """The summary of a gather run; archive shards add shards done / in all, records read,
    prefiltered away, extracted, kept, and records per second."""
    table = Table(title="gather", title_justify="left")
    table.add_column("")
    table.add_column("count", justify="right")
    rows: list[tuple[str, object]] = []
    if r.shards_total:
        rows += [
            ("shards done / in all", f"{r.shards + r.shards_done_before} / {r.shards_total}"),
            ("shards read this run", r.shards),
            ("records read", r.records),
            ("prefiltered away", r.prefiltered),
        ]
    rows += [("fetched", r.fetched), ("from cache", r.from_cache), ("extracted", r.extracted)]
    rows += [("new", r.new), ("duplicates", r.duplicates), ("near duplicates", r.near_duplicates)]
    rows += [("skipped", r.skipped)]
    rows += [(f"rejected: {reason}", n) for reason, n in r.rejected.items()]
    if r.shards_total and r.seconds > 0:
        rows.append(("records/s", f"{r.records / r.seconds:,.0f}"))
    for name, value in rows:
        table.add_row(name, str(value))
    return table


adjudicate_app = typer.Typer(
    help="Disputed items to a Label Studio review project, and the decisions back as gold.",
    no_args_is_help=True,
)
app.add_typer(adjudicate_app, name="adjudicate")


@adjudicate_app.command("push")
def adjudicate_push(
    ctx: typer.Context,
    method: Annotated[
        str, typer.Option("--method", help="Aggregation that decides what is disputed.")
    ] = "majority",
) -> None:
    """Send items whose majority is unresolved (stance or spans) to "<pretty_name> — adjudication"."""
    from contextlib import closing

    from .labelstudio.connect import connect
    from .quality.adjudicate import push as run_push

    with handled(ctx, writes="adjudicate push") as st:
        cfg = st.config()
        with closing(connect(cfg)) as backend:
            r = run_push(cfg, method=method, backend=backend)
        if r.project_id is None:
            out.print("nothing disputed: every item has a majority; no review project created")
            return
        out.print(
            f"adjudication project {r.project_id}: {r.disputed} disputed items, "
            f"{r.imported} imported, {r.already} already there"
        )


@adjudicate_app.command("pull")
def adjudicate_pull(ctx: typer.Context) -> None:
    """Pull the adjudicators' decisions into annotations/gold.jsonl (they override aggregates)."""
    from contextlib import closing

    from .labelstudio.connect import connect
    from .quality.adjudicate import pull as run_pull

    with handled(ctx, writes="adjudicate pull") as st:
        cfg = st.config()
        with closing(connect(cfg)) as backend:
            r = run_pull(cfg, backend=backend)
        out.print(
            f"adjudication project {r.project_id}: {r.decisions} decisions, "
            f"{r.new_gold} new gold records, {r.skipped} skipped"
        )


# --- the demo --------------------------------------------------------------------------------


@app.command()
def demo(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Option("--dir", help="Demo folder (corpus + release).")
    ] = Path("demo"),
    sample_port: Annotated[int, typer.Option(help="Port of the local sample server.")] = 8765,
    studio_port: Annotated[int, typer.Option(help="Port of the local Label Studio.")] = 8080,
) -> None:
    """Run the whole pipeline on the bundled samples: gather to a release you can load."""
    from .demo.run import ANNOTATORS, DEMO_PASSWORD, DemoOptions, run_demo
    from .quality.reports import agreement_tables

    def say(step: str, message: str) -> None:
        out.print(f"[bold cyan]{step:>9}[/]  {message}")

    ports: dict[str, int | float | None] = {
        "demo --studio-port": studio_port,
        "demo --sample-port": sample_port,
    }
    with handled(ctx, flags=ports):
        env, data_home = studio_env()
        options = DemoOptions(
            sample_port=sample_port, studio_port=studio_port, env=env, data_home=data_home
        )
        r = run_demo(directory, say, options=options)
        for table in agreement_tables(r.agreement) if r.agreement is not None else []:
            out.print(table)
        out.print()
        out.print(
            f"[bold]Label Studio[/]  {r.studio_url}  (admin: {r.admin_email or 'from LABEL_STUDIO_URL'};"
            f" password in {r.credentials_file or 'your server'})"
        )
        out.print(
            f"  annotate as an annotator: {ANNOTATORS[0]}@demo.newscorpus.invalid / {DEMO_PASSWORD}"
        )
        if r.credentials_file:
            out.print(
                f"  Label Studio keeps running for you to look around; stop it with "
                f"`newscorpus --corpus {r.corpus} studio stop` (or `make demo-clean`, which also "
                "deletes the demo folder)"
            )
        out.print(f"[bold]Release[/]       {r.release.resolve()}  (tag v0.1.0)")
        out.print(
            f'[bold]Load it[/]       datasets.load_dataset({str(r.release.resolve())!r}, "stance")'
        )
        out.print(
            "  once published with --hub ORG/NAME: "
            'datasets.load_dataset("ORG/NAME", "stance", revision="v0.1.0")'
        )


def main() -> None:
    """Entry point of the `newscorpus` script; usage errors are one line too (exit 2)."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:  # click's usage errors, as typer vendors them
        message = str(exc.format_message() if hasattr(exc, "format_message") else exc).strip()
        if "\n" in message:  # a bare command group shows its help (no_args_is_help)
            sys.stderr.write(message + "\n")
        else:
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "newscorpus"
            err.print(f"error: {message} (see `{where} --help`)", markup=False)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except typer.Abort:
        err.print("interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
