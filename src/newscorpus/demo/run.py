"""`make demo`: the whole pipeline on the bundled samples, from a local feed to a loadable release.

Every step calls the same library functions as the CLI. The demo works in its own folder
(default ``./demo``: ``demo/corpus``, ``demo/release`` and ``demo/release-hydrated``), never in
``corpus/``; running it again reuses what is there (gather, push, pull and the annotators'
submissions are idempotent, an existing release version is reused, not rebuilt, and so is a
complete hydrated copy of it).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cardtext import render_template
from ..config import CARD_FILE, Config, load_config
from ..corpus import iter_articles
from ..errors import ReleaseError, StudioError, UsageError
from ..lock import corpus_lock
from ..records import Annotation, Article, utcnow
from ..resources import repo_root
from ..store import atomic_write_text
from ..wording import plural
from .serve import SAMPLES, serve_samples

if TYPE_CHECKING:
    from ..annotation.pull import PullResult
    from ..annotation.push import PushResult
    from ..gather.pipeline import GatherResult
    from ..quality.aggregate import AggregateResult
    from ..quality.agreement import AgreeResult
    from ..release.publish import ReleaseResult

SAMPLE_PORT = 8765
ANNOTATORS = ("demo-annotator-1", "demo-annotator-2", "demo-annotator-3")
# Demo accounts on a local demo server: the password is printed on purpose.
DEMO_PASSWORD = "demo-annotator-pass-2026"
VERSION = "0.1.0"
# The [release] notice on top of the demo's dataset card: what this release is, and is not.
NOTICE = (
    "This is a demo release made by `newscorpus demo`, not research data. Its articles are "
    "synthetic (written for the demo, not real news) except the seed, the project's one real "
    "article, whose text is withheld (text_policy = hydrate). Its labels were submitted by three "
    "scripted demo accounts from bundled answers, so the agreement figures measure those "
    "scripts, not people."
)

Say = Callable[[str, str], None]


@dataclass(frozen=True)
class SubmitResult:
    """The bundled annotations the demo accounts submitted through the API, in one run."""

    submitted: int = 0
    already: int = 0  # submitted by an earlier run
    skipped_no_task: int = 0  # their page was not gathered, or has no task


@dataclass(frozen=True)
class DemoSteps:
    """What each step returned (the same results as the CLI's commands)."""

    gather: GatherResult
    push: PushResult
    annotate: SubmitResult
    pull: PullResult
    aggregate: AggregateResult
    release: ReleaseResult | None  # None: the version existed already and was reused
    finished_at: str


@dataclass(frozen=True)
class DemoResult:
    """What the demo did and where things are."""

    corpus: Path
    release: Path
    hydrated: Path
    studio_url: str
    admin_email: str  # "" when LABEL_STUDIO_URL names the server
    credentials_file: Path | None  # None when LABEL_STUDIO_URL names the server
    steps: DemoSteps
    agreement: AgreeResult
    loaded: Mapping[str, int]  # rows per release config, as load_dataset reads them
    hydrate: Mapping[str, Any]  # the hydrated copy's report (its hydrate.json)


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    """Ports of the local servers; ``start_studio=False`` starts no Label Studio (tests)."""

    sample_port: int = SAMPLE_PORT
    studio_port: int = 8080
    start_studio: bool = True
    env: Path | None = None  # the virtual environment Label Studio runs from (see server.start)
    data_home: Path | None = None


# The demo corpus's DATA_CARD.md: the init template, its places filled in for the demo.
DEMO_CARD = {
    "about": (
        "Synthetic articles written for the newscorpus demo, from invented outlets on `.example` "
        "hosts, and one real report (the seed), whose text the release withholds."
    ),
    "direct_use": "trying newscorpus from gathering to release; not research.",
    "out_of_scope": "any research on real news: the texts are synthetic and the labels scripted.",
    "target_examples": "The demo's labels are bundled answers, not examples to follow.",
    "annotators": (
        "No person: three scripted demo accounts submitted bundled answers through Label "
        "Studio's API, so the agreement figures measure those scripts."
    ),
    "limitations": "Synthetic texts and scripted labels; a handful of articles.",
    "personal": "The synthetic articles name invented people; the seed report names officials.",
}


def _toml_paragraph(text: str) -> str:
    """A TOML multi-line basic string that reads as wrapped lines but holds one line of text."""
    assert '"' not in text and "\\" not in text, "plain prose only"
    return '"""\n' + " \\\n".join(textwrap.wrap(text, 92)) + '"""'


def _corpus_toml(base_url: str, studio_port: int) -> str:
    """The demo corpus: this project's targets and topic; a local feed and the seed as sources."""
    root = repo_root()
    project = (root / "corpus" / "corpus.toml") if root else None
    topic = '["fentanyl", "fentanilo", "fentanil", "cartel", "cartels", "carteles", "Sheinbaum"]'
    if project and project.is_file():
        cfg = load_config(project.parent)
        topic = json.dumps(list(cfg.topic.any), ensure_ascii=False)
    host = base_url.removeprefix("http://")
    return f"""# The demo corpus, made by `make demo` from the bundled samples (synthetic: true).
[corpus]
name = "us-mexico-security-demo"
pretty_name = "US–Mexico Security Cooperation News (demo)"
description = "Demo corpus: synthetic articles written for newscorpus, plus the project's real seed article."
languages = ["es", "fr", "en"]
license = "CC-BY-4.0"

[[targets]]
id = "us_forces_in_mexico"
text = "US military or intelligence personnel taking part in anti-cartel operations on Mexican soil"

[[targets]]
id = "cartels_as_terrorists"
text = "Mexican drug cartels should be designated and treated as foreign terrorist organisations"

[topic]
any = {topic}

[[sources]]
name = "demo-feed"
kind = "feed"
url = "{base_url}/feed.xml"

# the project's one real article: released without its text, `newscorpus hydrate` restores it
[[sources]]
name = "seed"
kind = "urls"
url = "{base_url}/seed/urls.txt"
text_policy = "hydrate"

[gather]
allow_hosts = ["{host}"]     # the local sample server; loopback is refused unless listed
per_host_delay = 0
concurrency = 8

[studio]
port = {studio_port}
overlap = 3

[release]
to = "../release"
annotations_creators = ["machine-generated"]        # scripted accounts, bundled answers
language_creators = ["expert-generated", "found"]   # written for the demo; the seed, found
notice = {_toml_paragraph(NOTICE)}
"""


def _annotators(cfg: Config, client: Any) -> dict[str, Any]:
    """The three demo annotator accounts: created once, their tokens kept under .newscorpus/."""
    from ..annotation.backend import Account

    path = cfg.state_dir / "demo-annotators.json"
    known: dict[str, Any] = {}
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("server") == client.url:
            known = {k: Account(**v) for k, v in data["annotators"].items()}
    for name in ANNOTATORS:
        if name not in known:
            email = f"{name}@demo.newscorpus.invalid"
            known[name] = client.create_account(email, DEMO_PASSWORD)
    payload = {
        "server": client.url,
        "annotators": {
            k: {"id": a.id, "email": a.email, "token": a.token} for k, a in known.items()
        },
    }
    atomic_write_text(path, json.dumps(payload, indent=2), mode=0o600)
    return known


def _offsets(text: str, quote: str, occurrence: int, where: str) -> tuple[int, int]:
    start = -1
    for _ in range(max(1, occurrence)):
        start = text.find(quote, start + 1)
        if start < 0:
            raise StudioError(f"{where}: quote not found in the extracted text: {quote[:60]!r}")
    return start, start + len(quote)


def _submit(cfg: Config, client: Any, task_ids: dict[str, int], say: Say) -> SubmitResult:
    """Submit the bundled annotations through the API as the three demo accounts (once)."""
    specs = json.loads((SAMPLES / "annotations.json").read_text(encoding="utf-8"))
    by_page: dict[str, Article] = {}
    for art in iter_articles(cfg):
        if art.url:
            by_page[art.url.split("/", 3)[-1]] = art
    accounts = _annotators(cfg, client)
    done_path = cfg.state_dir / "demo-submitted.json"
    done: dict[str, int] = json.loads(done_path.read_text()) if done_path.is_file() else {}
    counts = {"submitted": 0, "already": 0, "skipped_no_task": 0}
    for spec in specs:
        page = by_page.get(spec["page"])
        task_id = task_ids.get(page.dup_cluster) if page else None
        if page is None or task_id is None:
            counts["skipped_no_task"] += 1
            continue
        art = page
        key = f"{client.url}|{task_id}|{spec['annotator']}"
        if key in done:
            counts["already"] += 1
            continue
        spans: list[dict[str, Any]] = []
        for i, s in enumerate(spec["spans"]):
            start, end = _offsets(art.text, s["quote"], s.get("occurrence", 1), spec["page"])
            spans.append(
                {
                    "id": f"s{i}",
                    "start": start,
                    "end": end,
                    "label": s["label"],
                    "text": art.text[start:end],
                    "checkworthy": s.get("checkworthy"),
                    "claim_type": s.get("claim_type"),
                    "speaker": None,
                }
            )
        for i, s in enumerate(spec["spans"]):
            if s.get("speaker_of") is not None:
                spans[s["speaker_of"]]["speaker"] = f"s{i}"
        record = Annotation(
            id="demo",
            kind="annotation",
            article_id=art.id,
            annotator=None,
            stance=dict(spec["stance"]),
            spans=spans,
        )
        user = client.as_account(accounts[spec["annotator"]])
        try:
            done[key] = user.submit(
                task_id, record, art.text, cancelled=bool(spec.get("cancelled"))
            )
        finally:
            user.close()
        atomic_write_text(done_path, json.dumps(done, indent=1))
        counts["submitted"] += 1
    say(
        "annotate",
        f"{counts['submitted']} annotations submitted as {len(accounts)} demo accounts"
        f" ({counts['already']} already there)",
    )
    return SubmitResult(**counts)


def _texts(n: int) -> str:
    return f"{n} withheld text{'' if n == 1 else 's'}"


def _hydrate_copy(cfg: Config, release_dir: Path, copy_dir: Path, say: Say) -> dict[str, Any]:
    """`newscorpus hydrate` on a copy of the release (its .git left out), against the sample server.

    A copy of this very release whose hydrate report is clean is reused; any other is made anew.
    """
    from ..release.hydrate import REPORT, gather_fetch, hydrate_release

    def manifest(folder: Path) -> bytes | None:
        path = folder / "manifest.json"
        return path.read_bytes() if path.is_file() else None

    report_path = copy_dir / REPORT
    if report_path.is_file() and manifest(copy_dir) == manifest(release_dir):
        report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
        if not report["mismatched"] and not report["failed"]:
            say(
                "hydrate",
                f"{copy_dir} reused: {_texts(len(report['filled']))} restored,"
                " each matching its text_sha256",
            )
            return report
    if copy_dir.exists():
        shutil.rmtree(copy_dir)
    shutil.copytree(release_dir, copy_dir, ignore=shutil.ignore_patterns(".git"))
    r = hydrate_release(copy_dir, fetch=gather_fetch(cfg.gather))
    say(
        "hydrate",
        f"{_texts(len(r.filled))} restored in {copy_dir}, each matching its text_sha256"
        f" ({len(r.mismatched)} mismatched, {len(r.failed)} failed)",
    )
    if r.mismatched or r.failed:
        raise ReleaseError(
            f"hydrate: {_texts(len(r.mismatched) + len(r.failed))} not restored"
            f" (details in {report_path})"
        )
    return r.to_dict()


def run_demo(workdir: Path, say: Say, *, options: DemoOptions | None = None) -> DemoResult:
    """Run every step on the bundled samples in ``workdir``; safe to run again."""
    opts = options or DemoOptions()
    if not 0 <= opts.sample_port <= 65535:
        raise UsageError(f"--sample-port {opts.sample_port}: must be between 0 (any) and 65535")
    if not 1 <= opts.studio_port <= 65535:
        raise UsageError(f"--studio-port {opts.studio_port}: must be between 1 and 65535")
    if workdir.exists() and not workdir.is_dir():
        raise UsageError(f"{workdir}: exists and is not a folder (--dir)")
    corpus = workdir / "corpus"
    # served until the end: gather reads the samples, and hydrate reads the seed page again
    with serve_samples(opts.sample_port) as base:
        say(
            "serve",
            f"bundled samples served at {base}: /feed.xml (synthetic articles),"
            " /seed/urls.txt (the real seed article)",
        )
        with corpus_lock(corpus, "demo"):
            return _run(corpus, workdir / "release", base, say, opts)


def _run(corpus_dir: Path, release_dir: Path, base: str, say: Say, opts: DemoOptions) -> DemoResult:
    from dataclasses import replace

    from ..annotation.pull import pull
    from ..annotation.push import PushOptions, push
    from ..gather.pipeline import gather
    from ..labelstudio import server
    from ..labelstudio.connect import connect
    from ..quality.aggregate import aggregate
    from ..quality.agreement import agree
    from ..release.publish import ReleaseOptions, make_release
    from ..release.target_git import local_tags

    studio_port = opts.studio_port
    if not (corpus_dir / "corpus.toml").is_file():
        (corpus_dir / "articles").mkdir(parents=True, exist_ok=True)
        (corpus_dir / "annotations").mkdir(exist_ok=True)
        atomic_write_text(corpus_dir / ".gitignore", ".newscorpus/\n")
        atomic_write_text(corpus_dir / "corpus.toml", _corpus_toml(base, studio_port))
        say("init", f"demo corpus created at {corpus_dir}")
    cfg = load_config(corpus_dir)
    if not (corpus_dir / CARD_FILE).is_file():
        atomic_write_text(
            corpus_dir / CARD_FILE,
            render_template(cfg.corpus.pretty_name, cfg.corpus.description, cfg.targets, DEMO_CARD),
        )
    if not any(src.name == "seed" for src in cfg.sources):
        say(
            "init",
            f"{corpus_dir} was made by an earlier demo (the seed released in full):"
            " run `make demo-clean` to start over",
        )

    studio_url, admin_email, credentials_file = "", "", None
    if opts.start_studio and not os.environ.get("LABEL_STUDIO_URL"):
        started = server.start(cfg, port=studio_port, env=opts.env, data_home=opts.data_home)
        studio_url, admin_email = started.url, started.email
        credentials_file = started.credentials_file
        say(
            "studio",
            f"Label Studio {'reused' if started.already_running else 'started'} at {started.url}",
        )

    g = gather(cfg)
    by_source = ", ".join(f"{k} {v}" for k, v in sorted(g.new_by_source.items()))
    say(
        "gather",
        f"{g.new} new articles{f' ({by_source})' if by_source else ''}; rejected: "
        + (", ".join(f"{k} {v}" for k, v in sorted(g.rejected.items())) or "none"),
    )

    client = connect(cfg)
    studio_url = studio_url or client.url
    try:
        p = push(cfg, options=PushOptions(), backend=client)  # [studio] overlap = 3
        say(
            "push",
            f"{plural(p.imported, 'task')} imported, {p.already} already there (one per near-duplicate cluster)"
            f" in project {p.project_id}",
        )
        tasks = dict(p.task_ids)
        by_cluster: dict[str, int] = {}
        for art in iter_articles(cfg):
            if art.id in tasks:
                by_cluster[art.dup_cluster] = tasks[art.id]
        submitted = _submit(cfg, client, by_cluster, say)
        pr = pull(cfg, backend=client)
        say(
            "pull",
            f"{plural(pr.new_versions, 'new annotation version')} pulled from {plural(pr.tasks, 'task')}"
            f" ({pr.cancelled} skipped by their annotator)",
        )
    finally:
        client.close()

    agreement = agree(cfg)
    say("agree", f"agreement report written to {cfg.reports_dir / 'agreement.md'}")
    agg = aggregate(cfg, method="majority")
    say("aggregate", "majority labels written to annotations/aggregate.jsonl")

    tag = f"v{VERSION}"
    rel: ReleaseResult | None = None
    if release_dir.exists() and tag in local_tags(release_dir):
        say(
            "release",
            f"{tag} exists in {release_dir}: reused (run `make demo-clean` to start over)",
        )
    else:
        release_cfg = replace(cfg, release=replace(cfg.release, to=release_dir))
        rel = make_release(release_cfg, options=ReleaseOptions(version=VERSION))
        say("release", f"{tag} committed and tagged in {release_dir}")

    import datasets

    # quiet, and with a cache of its own, as the release's own check does: datasets keys a local
    # folder's cache by the folder's name and card, not its files (an earlier demo's would load)
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    loaded: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="newscorpus-demo-") as cache:
        for config in ("articles", "stance", "claims", "annotations"):
            ds = datasets.load_dataset(str(release_dir), config, cache_dir=cache)
            loaded[config] = sum(len(split) for split in ds.values())
    say("load", "load_dataset: " + ", ".join(f"{k} {v} rows" for k, v in loaded.items()))

    hydrated = release_dir.parent / "release-hydrated"
    hydrate = _hydrate_copy(cfg, release_dir, hydrated, say)
    steps = DemoSteps(
        gather=g,
        push=p,
        annotate=submitted,
        pull=pr,
        aggregate=agg,
        release=rel,
        finished_at=utcnow(),
    )
    return DemoResult(
        corpus=corpus_dir,
        release=release_dir,
        hydrated=hydrated,
        studio_url=studio_url,
        admin_email=admin_email,
        credentials_file=credentials_file,
        steps=steps,
        agreement=agreement,
        loaded=loaded,
        hydrate=hydrate,
    )
