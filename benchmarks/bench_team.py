"""A team of annotators on the local Label Studio: SQLite against PostgreSQL, in the same run.

Two real local servers (`studio start`, then `studio start --database postgresql`: gunicorn
worker processes, WORKERS of them, default `studio start`'s), on each ANNOTATORS annotator
accounts (default 25) put on the corpus's team (`annotators add`) and the same TASKS articles
(default 10,000) pushed as newscorpus users push them for a team: `push --overlap 2`, each
cluster to 2 annotators, each annotator's tasks in a project of their own (about 800 each).
Each account works as the browser's labeling stream does, in ITS project:
``GET /api/projects/<id>/next`` for the next task, then
``POST /api/tasks/<id>/annotations?project=<id>`` with the labels and a lead time.

(a) realistic: each annotator submits, pauses 2 to 6 s (seeded), submits again, for SECONDS
    (default 120); goal with PostgreSQL: 0 client errors, 0 errors in the server's logs, p95 of a
    submission (next + post) under 1 s. SQLite runs the same at team sizes SIZES (default
    25, 10, 5: from the largest down to the first that holds) to say up to what size it holds;
(b) burst: the same team, each submitting BURST (default 20) annotations back to back.

Errors in the server logs: the records written during a phase at level ERROR or above (Label
Studio's exceptions and 5xx answers, PostgreSQL's ERROR/FATAL/PANIC), and among them those that
say "database is locked".

The machine's load average is printed before each phase: a loaded run gives no verdict.
Sizes: NEWSCORPUS_BENCH_TEAM_SECONDS, _ANNOTATORS, _TASKS, _BURST, _SIZES (e.g. 20, 5, 300 for
a quick run, which then only prints), _WORKERS (PostgreSQL's worker processes, default
`studio start`'s; any value then only prints), _ONLY (postgresql or sqlite: one server, only
prints); at the default sizes the table is written into
docs/studio-bench.md between the bench_team markers (`--no-write` only prints).
"""

from __future__ import annotations

import os
import random
import re
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from bench_studio import corpus as studio_corpus  # noqa: E402
from docs_block import markers, write_block  # noqa: E402
from newscorpus.annotation.push import push  # noqa: E402
from newscorpus.annotation.team import add_annotators  # noqa: E402
from newscorpus.config import Config, load_config  # noqa: E402
from newscorpus.labelstudio import server  # noqa: E402
from newscorpus.labelstudio.backend import LabelStudioBackend  # noqa: E402

DEFAULTS = {"SECONDS": 120, "ANNOTATORS": 25, "TASKS": 10000, "BURST": 20}
SIZE = {k: int(os.environ.get(f"NEWSCORPUS_BENCH_TEAM_{k}", str(v))) for k, v in DEFAULTS.items()}
SECONDS, ANNOTATORS, TASKS, BURST = (SIZE[k] for k in ("SECONDS", "ANNOTATORS", "TASKS", "BURST"))
SIZES = sorted(
    {int(x) for x in os.environ.get("NEWSCORPUS_BENCH_TEAM_SIZES", "25,10,5").split(",") if x}
    | {ANNOTATORS},
    reverse=True,
)
SIZES = [n for n in SIZES if n <= ANNOTATORS]
WORKERS = (
    int(os.environ["NEWSCORPUS_BENCH_TEAM_WORKERS"])
    if os.environ.get("NEWSCORPUS_BENCH_TEAM_WORKERS")
    else None
)
ONLY = os.environ.get("NEWSCORPUS_BENCH_TEAM_ONLY", "")
PAUSE = (2.0, 6.0)  # seconds between two submissions of one annotator (reading the next article)
P95_GOAL = 1.0
LOADED = 0.5  # a 1-minute load average above this before a phase: other jobs share the cores
DOC = REPO / "docs" / "studio-bench.md"
NAME = "bench_team"
STANCES = ("favor", "against", "neutral", "unrelated")

TOML = """\
[corpus]
name = "bench-team"
pretty_name = "{title}"
description = "Synthetic benchmark corpus."
languages = ["fr"]
license = "CC-BY-4.0"

[[targets]]
id = "us_forces_in_mexico"
text = "US military or intelligence personnel taking part in anti-cartel operations on Mexican soil"

[[targets]]
id = "cartels_as_terrorists"
text = "Mexican drug cartels should be designated as foreign terrorist organisations"
"""

PARA = (
    "« Ce dont nous avons besoin, ce sont des informations », a déclaré Sheinbaum. "
    "Selon le ministère, {n} % des drogues qui entrent par mer ont été stoppées. "
    "Le Département de la Défense a publié un rapport sur la coopération bilatérale."
)

# one log record each: Label Studio's "[ERROR]" lines (an exception, a 5xx answer) and
# PostgreSQL's ERROR/FATAL/PANIC lines; a traceback's own lines are not counted again
LOG_ERROR = re.compile(r"\[ERROR\]|\[CRITICAL\]|\b(ERROR|FATAL|PANIC):  ")
LOCKED = "database is locked"
# Label Studio's own check of its labeling stream, logged at ERROR: a task handed to more
# annotators than its overlap (concurrent next-task calls race). Not a database error: counted apart.
RACE = re.compile(r"Num takes=\d+ > overlap|Current number of locks for task \d+ is")


def make_corpus(root: Path, title: str, n: int) -> Config:
    """bench_studio's synthetic corpus, with this benchmark's corpus.toml."""
    cfg: Config = studio_corpus(root, title, n, TOML)
    return cfg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def result(task: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """An annotation as the browser posts it: both stances and a Speaker span."""
    out: list[dict[str, Any]] = [
        {
            "from_name": f"stance_{t}",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [rng.choice(STANCES)]},
        }
        for t in ("us_forces_in_mexico", "cartels_as_terrorists")
    ]
    text = str(task.get("data", {}).get("text", ""))
    start = text.find("Sheinbaum")
    if start >= 0:
        out.append(
            {
                "id": secrets.token_hex(5),
                "from_name": "spans",
                "to_name": "text",
                "type": "labels",
                "value": {
                    "start": start,
                    "end": start + 9,
                    "text": "Sheinbaum",
                    "labels": ["Speaker"],
                },
            }
        )
    return out


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def fail(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


def submit_once(web: httpx.Client, project: int, tally: Tally, rng: random.Random) -> None:
    """The labeling stream's next task, then its submission; one latency (or one error)."""
    t0 = time.perf_counter()
    try:
        r = web.get(f"/api/projects/{project}/next")
        if r.status_code != 200:
            tally.fail(f"next HTTP {r.status_code}")
            return
        task = r.json()
        body = {"result": result(task, rng), "lead_time": rng.uniform(*PAUSE), "project": project}
        s = web.post(f"/api/tasks/{task['id']}/annotations", params={"project": project}, json=body)
        if s.status_code != 201:
            tally.fail(f"submit HTTP {s.status_code}")
            return
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        tally.fail(type(exc).__name__)
        return
    tally.ok(time.perf_counter() - t0)


def work(
    url: str, token: str, project: int, tally: Tally, seed: int, *, until: float | None, count: int
) -> None:
    """One annotator in their project: realistic (pauses, until a deadline) or burst (count,
    back to back)."""
    rng = random.Random(seed)
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as web:
        if until is None:
            for _ in range(count):
                submit_once(web, project, tally, rng)
            return
        time.sleep(rng.uniform(0, PAUSE[1]))  # the team does not start in step
        while time.monotonic() < until:
            submit_once(web, project, tally, rng)
            time.sleep(rng.uniform(*PAUSE))


@dataclass(frozen=True)
class Phase:
    database: str
    kind: str  # realistic | burst
    team: int
    seconds: float
    submissions: int
    p50: float
    p95: float
    client_errors: int
    log_errors: int
    locked: int  # of the log errors, "database is locked"
    races: int  # Label Studio's overlap-race records (RACE), not counted in log_errors
    load: float  # 1-minute load average before the phase
    examples: tuple[str, ...] = ()

    @property
    def rate(self) -> float:
        return self.submissions / self.seconds if self.seconds else 0.0

    @property
    def holds(self) -> bool:
        return self.client_errors == 0 and self.log_errors == 0 and self.p95 < P95_GOAL


@dataclass
class Studio:
    database: str
    cfg: Config
    url: str
    projects: list[int]  # each annotator's own project (push --overlap 2 to the team)
    tokens: list[str]
    logs: list[Path]

    def log_sizes(self) -> list[int]:
        return [p.stat().st_size if p.exists() else 0 for p in self.logs]

    def log_errors(self, since: list[int]) -> tuple[list[str], int, int]:
        """The error records written since the offsets, the lines saying the database is locked
        (an exception's message line, wherever it was logged) and the overlap races (RACE)."""
        found: set[str] = set()  # Django's server logs each request line twice: count it once
        locked: set[str] = set()
        races: set[str] = set()
        for path, start in zip(self.logs, since, strict=True):
            with path.open("rb") as fh:
                fh.seek(start)
                for line in fh.read().decode("utf-8", "replace").splitlines():
                    if RACE.search(line):
                        races.add(line.strip())
                    elif LOG_ERROR.search(line):
                        found.add(line.strip())
                    if LOCKED in line and not line.startswith(("django.", "sqlite3.")):
                        locked.add(line.strip())
        return sorted(found), len(locked), len(races)


SETTLE = 120.0  # at most this long before a phase, for the load of the push or the last phase to go


def settle() -> float:
    """Wait (up to SETTLE s) until the 1-minute load average is under LOADED; return it."""
    deadline = time.monotonic() + SETTLE
    while os.getloadavg()[0] > LOADED and time.monotonic() < deadline:
        time.sleep(2.0)
    return os.getloadavg()[0]


def run_phase(studio: Studio, kind: str, team: int) -> Phase:
    tally = Tally()
    load = settle()
    since = studio.log_sizes()
    until = time.monotonic() + SECONDS if kind == "realistic" else None
    threads = [
        threading.Thread(
            target=work,
            args=(studio.url, studio.tokens[i], studio.projects[i], tally, 1000 * team + i),
            kwargs={"until": until, "count": BURST},
        )
        for i in range(team)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    time.sleep(1.0)  # the last log lines
    log_errors, locked, races = studio.log_errors(since)
    lat = sorted(tally.latencies)
    p95 = lat[max(0, int(len(lat) * 0.95 + 0.5) - 1)] if lat else float("nan")
    phase = Phase(
        studio.database,
        kind,
        team,
        wall,
        len(lat),
        statistics.median(lat) if lat else float("nan"),
        p95,
        len(tally.errors),
        len(log_errors),
        locked,
        races,
        load,
        tuple([*tally.errors[:2], *(e[:200] for e in log_errors[:3])]),
    )
    print(
        f"{phase.database:10} {kind:9} team {team:2}: {phase.submissions:5} submissions in "
        f"{wall:6.1f} s = {phase.rate:5.2f}/s; p50 {phase.p50:.3f} s, p95 {phase.p95:.3f} s; "
        f"client errors {phase.client_errors}, log errors {phase.log_errors} "
        f"({phase.locked} database is locked), overlap races {phase.races}; load before {load:.2f}",
        flush=True,
    )
    for e in phase.examples:
        print(f"    e.g. {e}")
    return phase


def setup(tmp: Path, base: Config, database: str, env: Path) -> Studio:
    root = tmp / database
    shutil.copytree(base.root, root, ignore=shutil.ignore_patterns(".newscorpus"))
    title = f"Team bench {database} {secrets.token_hex(3)}"
    (root / "corpus.toml").write_text(TOML.format(title=title), encoding="utf-8")
    cfg = load_config(root)
    t0 = time.perf_counter()
    workers = WORKERS if database == "postgresql" else None
    started = server.start(cfg, port=free_port(), env=env, database=database, workers=workers)
    creds = server.load_credentials(cfg)
    assert creds is not None
    print(f"{database}: Label Studio started in {time.perf_counter() - t0:.1f} s", flush=True)
    admin = LabelStudioBackend(started.url, creds.token, cfg, timeout=600)
    try:
        accounts = []
        for i in range(ANNOTATORS):
            email = f"annotator{i}-{secrets.token_hex(3)}@bench.test"
            accounts.append(admin.create_account(email, "pw-" + secrets.token_urlsafe(12)))
        add_annotators(  # existing accounts join the team: no password file is written
            cfg,
            emails=[a.email for a in accounts],
            credentials=tmp / f"{database}-passwords.csv",
            backend=admin,
        )
        t0 = time.perf_counter()
        pushed = push(cfg, backend=admin)
        print(
            f"{database}: {pushed.imported} tasks pushed (overlap {pushed.overlap}, "
            f"{len(pushed.projects)} projects) in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    finally:
        admin.close()
    logs = [server.studio_dir(cfg) / "server.log"]
    if database == "postgresql":
        logs.append(server.postgres_paths(cfg).log)
    projects = [pushed.projects[a.id] for a in accounts]
    return Studio(database, cfg, started.url, projects, [a.token for a in accounts], logs)


def row(p: Phase) -> str:
    loaded = p.load > LOADED
    if p.kind == "burst":
        verdict = ""
    elif p.database == "postgresql" and p.team == ANNOTATORS:
        verdict = ("met" if p.holds else "MISSED") + (
            " (loaded machine: no verdict)" if loaded else ""
        )
    else:
        verdict = "holds" if p.holds else "does not hold"
    return (
        f"| {p.database} | {p.kind} | {p.team} | {p.submissions:,} in {p.seconds:.0f} s "
        f"| {p.rate:.2f} | {p.p50:.3f} s | {p.p95:.3f} s | {p.client_errors} "
        f"| {p.log_errors} ({p.locked} locked) | {p.races} "
        f"| {p.load:.2f} | {verdict} |"
    )


def main() -> int:
    write = "--no-write" not in sys.argv[1:] and SIZE == DEFAULTS and not ONLY and WORKERS is None
    env = Path(os.environ.get("NEWSCORPUS_STUDIO_ENV") or REPO / ".venv-studio")
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        base = make_corpus(tmp / "base", f"Team bench base {secrets.token_hex(3)}", TASKS)
        studios: list[Studio] = []
        try:
            for database in ("sqlite", "postgresql"):
                if ONLY in ("", database):
                    studios.append(setup(tmp, base, database, env))
            by_db = {s.database: s for s in studios}
            if "postgresql" in by_db:
                pg = by_db["postgresql"]
                phases.append(run_phase(pg, "realistic", ANNOTATORS))
                phases.append(run_phase(pg, "burst", ANNOTATORS))
            if "sqlite" in by_db:
                lite = by_db["sqlite"]
                for team in SIZES:  # the largest first, down to the first size that holds
                    phases.append(run_phase(lite, "realistic", team))
                    if phases[-1].holds:
                        break
                phases.append(run_phase(lite, "burst", ANNOTATORS))
        finally:
            for s in studios:
                server.stop(s.cfg)
    held = [p.team for p in phases if p.database == "sqlite" and p.kind == "realistic" and p.holds]
    pg_real = [p for p in phases if p.database == "postgresql" and p.kind == "realistic"]
    ok = bool(pg_real) and pg_real[0].holds
    begin, end = markers(NAME)
    block = "\n".join(
        [
            begin,
            "",
            f"Measured by `benchmarks/{NAME}.py` on {time.strftime('%Y-%m-%d')} ({os.cpu_count()} "
            f"cores), {TASKS:,} articles pushed to each server with `push --overlap 2` to a team of "
            f"{ANNOTATORS} annotators (each one's tasks in a project of their own), PostgreSQL's "
            f"Label Studio served by {server.WORKERS} gunicorn worker processes of "
            f"{server.THREADS} threads, SQLite's by its development server; realistic phases of "
            f"{SECONDS} s, bursts of {BURST} submissions each; latency is a submission's next-task "
            "call and its post; load is the machine's 1-minute load average before the phase:",
            "",
            "| database | phase | team | submissions | per s | p50 | p95 | client errors "
            "| log errors | overlap races | load | goal (0 errors, p95 < 1 s) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *(row(p) for p in phases),
            "",
            "Log errors are the error records of the server logs during the phase (how many say "
            '"database is locked" in brackets); overlap races are Label Studio\'s own records of '
            "a task handed to more annotators than its overlap by next-task calls made at the same "
            "time (it logs them at ERROR and goes on): not database errors, counted apart.",
            "",
            "SQLite at the realistic pace holds (0 errors, p95 < 1 s) up to a team of "
            + (f"{max(held)}." if held else f"fewer than {min(SIZES)} (the smallest size tried)."),
            "",
            end,
        ]
    )
    print("\n" + block)
    if write:
        write_block(DOC, begin, end, block)
        print(f"\nwritten to {DOC.relative_to(REPO)}")
    print("\nresult:", "goal met" if ok else "GOAL NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
