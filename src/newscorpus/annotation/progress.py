"""`newscorpus progress`: who has done what, the labels and agreement so far, and when the
assigned work will be done at the current pace.

Counts come from the server, in one listing of each annotator's project (``submissions``: the
Data Manager's task list without the task data, never a request per task); labels and agreement
come from the annotation records that ``pull`` stored (current labels, as ``agree`` reads them).
Each annotator works in the project push gave them (``annotation.assign``), or, without one, in
the corpus's shared project, where every member can open every task (as ``annotators list``
counts them). Written to ``reports/progress.md`` with ``reports/progress.png`` (submissions over
time per annotator): pseudonyms only, never an e-mail, which only the terminal shows.
"""

from __future__ import annotations

import io
import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ..config import Config
from ..errors import StudioError
from ..layers import defined
from ..lock import writes_corpus
from ..quality.agreement import target_agreement
from ..quality.agreement_result import ChoiceAgreement
from ..quality.labels import Labels, load_labels
from ..store import atomic_write_bytes, atomic_write_text
from ..wording import plural
from .assign import load_state
from .backend import AnnotationBackend, Project, Submission
from .pseudonym import load_salt, pseudonym, save_salt
from .pull import corpus_projects
from .team import load_team

CACHE_NAME = "progress.json"  # in .newscorpus/
REPORT_NAME = "progress.md"
PLOT_NAME = "progress.png"  # not an agreement plot: the release's card must leave it out
WINDOW = 20  # the pace is measured over the last WINDOW submissions, or the last day if more
DAY = timedelta(days=1)
MIN_SUBMISSIONS = 5  # fewer than this in the window: no estimate


@dataclass(frozen=True, kw_only=True)
class ProgressOptions:
    """How the pace is measured: over the last ``window`` submissions (or those of the last
    day before the latest one, when more), with no estimate below ``minimum``."""

    window: int = WINDOW
    minimum: int = MIN_SUBMISSIONS
    now: datetime | None = None  # the estimate's starting point (default: the current time)


@dataclass(frozen=True)
class AnnotatorProgress:
    """One annotator's work. ``email`` is for the terminal only: no file ever holds it."""

    pseudonym: str
    email: str = field(repr=False)
    project_id: int | None
    assigned: int
    submitted: int
    skipped: int
    remaining: int
    median_seconds: float | None  # median lead time of their submitted annotations

    def to_json(self) -> dict[str, Any]:
        """Without the e-mail (``--json`` output is often kept in a file)."""
        return {
            "pseudonym": self.pseudonym,
            "project": self.project_id,
            "assigned": self.assigned,
            "submitted": self.submitted,
            "skipped": self.skipped,
            "remaining": self.remaining,
            "median_seconds": self.median_seconds,
        }


@dataclass(frozen=True)
class Estimate:
    """When the assigned work is done at the current pace, or why that cannot be said."""

    remaining: int  # annotations still to make (all annotators)
    submissions: int  # submitted and skipped annotations seen
    window: int  # of them, those the pace is measured on
    per_hour: float | None
    seconds_left: int | None
    eta: str | None  # ISO 8601, UTC, to the minute
    reason: str | None  # why there is no estimate (None when there is one)

    def to_json(self) -> dict[str, Any]:
        return {
            "remaining": self.remaining,
            "submissions": self.submissions,
            "window": self.window,
            "per_hour": self.per_hour,
            "seconds_left": self.seconds_left,
            "eta": self.eta,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class AgreementSoFar:
    """Agreement (as ``agree`` computes it) on the articles with K current annotations."""

    k: int
    articles: int
    stance: Mapping[str, ChoiceAgreement]  # by target id
    choices: Mapping[str, ChoiceAgreement]  # by choice layer

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "k": self.k,
            "articles": self.articles,
            "stance": {t: a.to_json() for t, a in self.stance.items()},
        }
        if self.choices:
            out["choices"] = {n: a.to_json() for n, a in self.choices.items()}
        return out


@dataclass(frozen=True)
class ProgressResult:
    """What ``progress`` found, and where it wrote the report and the plot."""

    generated_at: str
    overlap: int
    annotators: tuple[AnnotatorProgress, ...]
    stance_labels: Mapping[str, Mapping[str, int]]  # target -> label -> count (current labels)
    choice_labels: Mapping[str, Mapping[str, int]]  # choice layer -> label -> count
    pulled: int  # current annotations stored by pull (what the labels and agreement are of)
    agreement: AgreementSoFar
    estimate: Estimate
    report: str
    plot: str
    incremental: bool = False  # only the tasks changed since the last run were listed

    def to_json(self) -> dict[str, Any]:
        labels: dict[str, Any] = {"stance": _plain(self.stance_labels)}
        if self.choice_labels:
            labels["choices"] = _plain(self.choice_labels)
        return {
            "generated_at": self.generated_at,
            "overlap": self.overlap,
            "annotators": [a.to_json() for a in self.annotators],
            "labels": labels,
            "pulled_annotations": self.pulled,
            "agreement": self.agreement.to_json(),
            "estimate": self.estimate.to_json(),
            "report": self.report,
            "plot": self.plot,
            "incremental": self.incremental,
        }


def _plain(counts: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    return {q: dict(c) for q, c in counts.items()}


# --- counting ----------------------------------------------------------------------------------


def _when(stamp: str) -> datetime | None:
    """A server time stamp (ISO 8601) as an aware UTC datetime; None when it is not one."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


@dataclass(frozen=True)
class _Member:
    user: int
    email: str
    project: Project | None
    shared: bool  # works in the shared project (every task open to every member)


def _row(
    cfg: Config, member: _Member, subs: Sequence[Submission], salt: bytes, url: str
) -> AnnotatorProgress:
    """One annotator's counts in their project (``subs``: every annotation of it)."""
    mine = [s for s in subs if s.user == member.user]
    done = [s for s in mine if not s.cancelled]
    touched = {s.task_id for s in mine}
    project = member.project
    tasks = project.tasks if project is not None else 0
    if member.shared:  # a task K others have submitted is closed to this member
        full = _full_tasks(subs, cfg.studio.overlap)
        remaining = tasks - len(full) - len(touched - full)
    else:
        remaining = tasks - len(touched)
    return AnnotatorProgress(
        pseudonym=pseudonym(salt, url, member.user),
        email=member.email,
        project_id=project.id if project is not None else None,
        assigned=tasks,
        submitted=len(done),
        skipped=len(mine) - len(done),
        remaining=max(0, remaining),
        median_seconds=_median([s.lead_time for s in done if s.lead_time is not None]),
    )


def _full_tasks(subs: Sequence[Submission], k: int) -> set[int]:
    """Tasks with K submitted (not skipped) annotations."""
    per = Counter(s.task_id for s in subs if not s.cancelled)
    return {t for t, n in per.items() if n >= k}


def _shared_need(project: Project, subs: Sequence[Submission], k: int) -> int:
    """Annotations the shared project still needs: K per task, less those submitted."""
    per = Counter(s.task_id for s in subs if not s.cancelled)
    return max(0, k * project.tasks - sum(min(k, n) for n in per.values()))


def estimate(
    times: Sequence[datetime], remaining: int, now: datetime, options: ProgressOptions
) -> Estimate:
    """remaining / the rate of the last ``window`` submissions (or of the last day before the
    latest, when that holds more), from ``now``; a reason instead below ``minimum``."""
    times = sorted(times)
    n = len(times)

    def without(reason: str, window: int = 0) -> Estimate:
        return Estimate(remaining, n, window, None, None, None, reason)

    if remaining == 0:
        return without("all assigned work is done")
    if n < options.minimum:
        return without(
            f"not enough submissions for a pace ({n} of the {options.minimum} needed)", n
        )
    last = times[-1]
    recent = [t for t in times if t >= last - DAY]
    used = recent if len(recent) > options.window else times[-options.window :]
    seconds = (used[-1] - used[0]).total_seconds()
    if seconds <= 0:
        return without("not enough submissions for a pace (all at the same moment)", len(used))
    per_second = (len(used) - 1) / seconds
    left = remaining / per_second
    return Estimate(
        remaining=remaining,
        submissions=n,
        window=len(used),
        per_hour=round(per_second * 3600, 2),
        seconds_left=math.ceil(left),
        eta=_iso(now + timedelta(seconds=left)),
        reason=None,
    )


def _members(
    cfg: Config, backend: AnnotationBackend, projects: Sequence[Project], cache: _Cache
) -> tuple[list[_Member], dict[int, list[Submission]]]:
    """The annotators and each one's project, and every annotation of those projects."""
    by_id = {p.id: p for p in projects}
    shared = next((p for p in projects if p.title == cfg.corpus.pretty_name), None)
    own = load_state(cfg, backend.url).project_of()
    team = [uid for uid, m in load_team(cfg, backend.url).items() if m.active]
    accounts = {a.id: a for a in backend.accounts()}
    subs: dict[int, list[Submission]] = {}

    def of(project: Project | None) -> list[Submission]:
        if project is None:
            return []
        if project.id not in subs:
            subs[project.id] = cache.read(project)
        return subs[project.id]

    if not team:  # no team: whoever has annotated the shared project, all tasks open to each
        authors = sorted({s.user for s in of(shared) if isinstance(s.user, int)})
        team = [u for u in authors if u in accounts and accounts[u].active]
    members = []
    for uid in team:
        account = accounts.get(uid)
        if account is None or not account.active:
            continue  # removed on the server by hand: not on the team any more
        project = by_id.get(own[uid]) if uid in own else shared
        if project is None and uid in own:
            project = backend.project(own[uid])
        of(project)
        members.append(_Member(uid, account.email, project, shared=uid not in own))
    return members, subs


# --- what the last run saw: only the tasks changed since are listed again ----------------------


def cache_path(cfg: Config) -> Path:
    """Each project's annotations as the last progress saw them (git-ignored, user ids only):
    a cache that only makes the next run faster."""
    return cfg.state_dir / CACHE_NAME


def _entry(s: Submission) -> list[Any]:
    return [s.user, s.created_at, s.cancelled, s.lead_time]


def _submission(task: str, raw: Any) -> Submission | None:
    if not (isinstance(raw, list) and len(raw) == 4 and task.isdigit()):
        return None
    user, created, cancelled, lead = raw
    if not isinstance(user, int | str) or not isinstance(created, str):
        return None
    timed = isinstance(lead, int | float) and not isinstance(lead, bool)
    return Submission(int(task), user, created, cancelled is True, float(lead) if timed else None)


class _Cache:
    """Per project: the watermark (the latest task change seen) and every task's annotations.

    A project is read again whole when the server's count of its annotations differs from what
    the cache and the tasks changed since make (an annotation or task was deleted)."""

    def __init__(self, cfg: Config, backend: AnnotationBackend) -> None:
        self._path = cache_path(cfg)
        self._backend = backend
        self._url = backend.url.rstrip("/")
        try:
            data = orjson.loads(self._path.read_bytes())
        except (OSError, ValueError):
            data = {}
        self._data: dict[str, Any] = data if isinstance(data, dict) else {}
        self.incremental: list[bool] = []

    def _key(self, project: Project) -> str:
        return f"{self._url}#{project.id}"

    def read(self, project: Project) -> list[Submission]:
        """Every annotation of ``project`` (its counters as read now)."""
        backend = self._backend
        old = self._data.get(self._key(project))
        per: dict[int, list[Submission]] = {}
        watermark = ""
        if isinstance(old, dict) and isinstance(old.get("watermark"), str) and old["watermark"]:
            watermark = old["watermark"]
            stored = old.get("tasks")
            tasks: dict[str, Any] = stored if isinstance(stored, dict) else {}
            for task, entries in tasks.items():
                for raw in entries if isinstance(entries, list) else ():
                    sub = _submission(task, raw)
                    if sub is not None:
                        per.setdefault(sub.task_id, []).append(sub)
            changed = []
            for stamp in backend.changed_tasks(project.id, watermark):
                changed.append(stamp.id)
                watermark = max(watermark, stamp.updated_at)
            for task_id in changed:
                per.pop(task_id, None)
            for sub in backend.submissions(project.id, changed) if changed else ():
                per.setdefault(sub.task_id, []).append(sub)
        seen = sum(len(v) for v in per.values())
        if not watermark or seen != project.annotations:
            latest = next(iter(backend.changed_tasks(project.id, "")), None)  # before the list
            watermark = latest.updated_at if latest is not None else ""
            per = {}
            for sub in backend.submissions(project.id):
                per.setdefault(sub.task_id, []).append(sub)
            self.incremental.append(False)
        else:
            self.incremental.append(True)
        self._data[self._key(project)] = {
            "watermark": watermark,
            "tasks": {str(t): [_entry(s) for s in subs] for t, subs in sorted(per.items())},
        }
        return [s for t in sorted(per) for s in per[t]]

    def save(self) -> None:
        atomic_write_bytes(self._path, orjson.dumps(self._data) + b"\n")


# --- labels and agreement so far ---------------------------------------------------------------


def label_counts(labels: Labels) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Per target and per choice layer, each label's count over the current labels (every
    label listed, in the layer's order, zeros included)."""
    layers = defined()
    stance = {}
    for target in labels.cfg.targets:
        got = Counter(
            v for votes in labels.stance_units(target.id).values() for v in votes.values()
        )
        stance[target.id] = {v: got[v] for v in layers.stance.value_names}
    choices = {}
    for layer in layers.choices:
        got = Counter(
            v for votes in labels.choice_units(layer.name).values() for v in votes.values()
        )
        choices[layer.name] = {v: got[v] for v in layer.value_names}
    return stance, choices


def agreement_so_far(labels: Labels, k: int) -> AgreementSoFar:
    """``agree``'s alpha, CI and kappa per question, on the articles annotated by K or more."""
    layers = defined()
    per = Counter(a.article_id for a in labels.annotations)
    ids = {aid for aid, n in per.items() if n >= k}
    sub = labels.subset(ids)
    values = layers.stance.value_names
    return AgreementSoFar(
        k=k,
        articles=len(ids),
        stance={
            t.id: target_agreement(sub.stance_units(t.id), values=values) for t in sub.cfg.targets
        },
        choices={
            c.name: target_agreement(sub.choice_units(c.name), values=c.value_names)
            for c in layers.choices
        },
    )


# --- the report --------------------------------------------------------------------------------


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def duration(seconds: float | None) -> str:
    """A rough, readable length of time: 40 s, 12 min, 3.5 hours, 2.1 days."""
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def _seconds(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.0f} s" if x < 120 else f"{x / 60:.1f} min"


def render_markdown(result: ProgressResult) -> str:
    """reports/progress.md: pseudonyms only."""
    est = result.estimate
    lines = [
        "# Annotation progress",
        "",
        f"Generated {result.generated_at}; {result.overlap} annotators per article.",
        "",
        "## Annotators",
        "",
        "| annotator | assigned | submitted | skipped | remaining | median time per task |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for a in result.annotators:
        lines.append(
            f"| {a.pseudonym} | {a.assigned} | {a.submitted} | {a.skipped} | {a.remaining} | "
            f"{_seconds(a.median_seconds)} |"
        )
    if not result.annotators:
        lines.append("| (nobody yet) | | | | | |")
    lines += ["", f"![Submissions over time per annotator]({PLOT_NAME})", "", "## Estimate", ""]
    if est.reason is None:
        lines.append(
            f"{plural(est.remaining, 'annotation')} to go at {est.per_hour:g} per hour (the pace "
            f"of the last {est.window} submissions): done in about {duration(est.seconds_left)}, "
            f"around {est.eta}."
        )
    else:
        lines.append(f"{plural(est.remaining, 'annotation')} to go; no estimate: {est.reason}.")
    lines += [
        "",
        "## Labels so far",
        "",
        f"Of the {plural(result.pulled, 'current annotation')} stored by the last `newscorpus "
        "pull` (submissions since then are counted above, not here).",
        "",
    ]
    for question, counts in [*result.stance_labels.items(), *result.choice_labels.items()]:
        lines += [f"**{question}**: " + ", ".join(f"{v} {n}" for v, n in counts.items()), ""]
    ag = result.agreement
    lines += [
        f"## Agreement so far ({plural(ag.articles, 'article')} with {ag.k} or more annotations)",
        "",
        "| question | alpha | 95% CI | articles |",
        "|---|---:|---|---:|",
    ]
    for question, s in [*ag.stance.items(), *ag.choices.items()]:
        ci = f"{_fmt(s.ci95[0])} – {_fmt(s.ci95[1])}" if s.ci95 else "–"
        lines.append(f"| {question} | {_fmt(s.alpha)} | {ci} | {s.units} |")
    return "\n".join(lines) + "\n"


def plot_submissions(series: Mapping[str, Sequence[datetime]], path: Path) -> None:
    """reports/progress.png: each annotator's submissions so far, over time (a step line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = False
    for name, times in series.items():
        ordered = sorted(times)
        if ordered:
            days = mdates.date2num(ordered)  # type: ignore[no-untyped-call]
            ax.step(days, range(1, len(ordered) + 1), where="post", label=name)
            drawn = True
    if drawn:
        ax.legend(fontsize=7)
        ax.xaxis_date(tz=UTC)
        fig.autofmt_xdate()
    else:
        ax.text(0.5, 0.5, "no submissions yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("tasks submitted")
    ax.set_xlabel("time (UTC)")
    ax.set_title("Submissions over time per annotator", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


# --- the command -------------------------------------------------------------------------------


@writes_corpus("progress")
def progress(
    cfg: Config, *, backend: AnnotationBackend, options: ProgressOptions | None = None
) -> ProgressResult:
    """Count each annotator's work on the server, the stored labels and agreement so far,
    estimate when the assigned work is done; write reports/progress.md and progress.png.

    Reads the server only (one listing of the tasks of each annotator's project); writes only
    the two reports (and the pseudonym salt, when none was kept yet).
    """
    options = options or ProgressOptions()
    projects = corpus_projects(cfg, backend)
    if not projects:
        raise StudioError(
            f"{backend.url}: no project titled {cfg.corpus.pretty_name!r} and no annotator's "
            "project (run `newscorpus push`); nothing was written"
        )
    labels = load_labels(cfg).in_corpus()  # before the server: a bad record fails first
    cache = _Cache(cfg, backend)
    members, subs = _members(cfg, backend, projects, cache)
    salt, fresh = load_salt(cfg)
    rows = tuple(
        _row(cfg, m, subs.get(m.project.id, []) if m.project else [], salt, backend.url)
        for m in members
    )
    k = cfg.studio.overlap
    remaining = sum(r.remaining for m, r in zip(members, rows, strict=True) if not m.shared)
    shared = {m.project.id: m.project for m in members if m.shared and m.project is not None}
    remaining += sum(_shared_need(p, subs.get(pid, []), k) for pid, p in shared.items())
    series: dict[str, list[datetime]] = {}
    moments: list[datetime] = []
    for m, r in zip(members, rows, strict=True):
        mine = [s for s in (subs.get(m.project.id, []) if m.project else []) if s.user == m.user]
        for s in mine:
            when = _when(s.created_at)
            if when is None:
                continue
            moments.append(when)
            if not s.cancelled:
                series.setdefault(r.pseudonym, []).append(when)
    now = options.now or datetime.now(UTC)
    stance, choices = label_counts(labels)
    out = cfg.reports_dir
    result = ProgressResult(
        generated_at=_iso(now),
        overlap=k,
        annotators=rows,
        stance_labels=stance,
        choice_labels=choices,
        pulled=len(labels.annotations),
        agreement=agreement_so_far(labels, k),
        estimate=estimate(moments, remaining, now, options),
        incremental=all(cache.incremental),
        report=str(out / REPORT_NAME),
        plot=str(out / PLOT_NAME),
    )
    if fresh:
        save_salt(cfg, salt)  # the pseudonyms of the report are those pull will write
    out.mkdir(parents=True, exist_ok=True)
    plot_submissions(series, out / PLOT_NAME)
    atomic_write_text(out / REPORT_NAME, render_markdown(result))
    cache.save()
    return result
