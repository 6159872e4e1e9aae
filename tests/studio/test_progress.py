"""`newscorpus progress` against the real Label Studio: accounts submit through the API
(``backend.as_account``/``submit``), then progress counts, label distribution, agreement,
the estimate, and reports/progress.md and .png (pseudonyms, never an e-mail)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from newscorpus.annotation.backend import Account
from newscorpus.annotation.progress import PLOT_NAME, REPORT_NAME, plot_submissions
from newscorpus.annotation.pull import pull
from newscorpus.annotation.push import push
from newscorpus.records import Annotation, Article
from tests.studio.helpers import articles, studio_corpus, with_articles
from tests.studio.test_assign import add, team_corpus
from tests.studio.test_team import log_in, passwords, token_of, unique, use

pytestmark = pytest.mark.studio

STANCES = ("favor", "against", "neutral", "unrelated")
PNG = b"\x89PNG\r\n\x1a\n"
T1, T2 = "us_forces_in_mexico", "cartels_as_terrorists"


def record(art: Article, who: int, n: int) -> Annotation:
    """Annotator ``who``'s stance labels of the n-th article (they disagree now and then)."""
    stance: dict[str, str | None] = {T1: STANCES[(n + (who == 2)) % 4], T2: STANCES[who % 2]}
    return Annotation(id="t", kind="annotation", article_id=art.id, annotator=None, stance=stance)


def run(cli: Callable[..., Any], root: Path, *args: str) -> Any:
    res = cli("--corpus", root, "progress", *args)
    assert res.exit_code == 0, res.output
    return res


def progress_json(cli: Callable[..., Any], root: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(run(cli, root, "--json").stdout)
    return doc


def agree_json(cli: Callable[..., Any], root: Path) -> dict[str, Any]:
    res = cli("--corpus", root, "agree", "--json")
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def same_agreement(got: dict[str, Any], agreed: dict[str, Any]) -> None:
    for key in ("alpha", "ci95", "units", "annotators", "kappa", "coincidences"):
        assert got[key] == agreed[key], key


def check_reports(root: Path, emails: list[str]) -> str:
    md = (root / "reports" / REPORT_NAME).read_text(encoding="utf-8")
    assert "@" not in md and not any(e in md for e in emails)
    assert (root / "reports" / PLOT_NAME).read_bytes().startswith(PNG)
    return md


def test_progress_of_a_team_counts_labels_agreement_and_the_estimate(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, arts = team_corpus(tmp_path, 6)
    use(monkeypatch, studio_server)
    creds = tmp_path / "team.csv"
    emails = [unique("ana"), unique("ben"), unique("chloe")]
    add(cli, cfg, creds, *emails)
    assert cli("--corpus", cfg.root, "push", "--overlap", "2").exit_code == 0
    admin = studio_server.backend(cfg)
    r = push(cfg, backend=admin)  # a no-op: the assignment, read back
    users = {a.email: a.id for a in admin.accounts()}
    listed = json.loads(cli("--corpus", cfg.root, "annotators", "list", "--json").stdout)
    name = {row["email"]: row["pseudonym"] for row in listed}

    before = progress_json(cli, cfg.root)  # nothing submitted yet
    assert before["estimate"]["eta"] is None
    assert before["estimate"]["reason"].startswith("not enough submissions")
    assert {(a["pseudonym"], a["assigned"], a["submitted"], a["remaining"]) for a in
            before["annotators"]} == {(row["pseudonym"], row["assigned"], 0, row["assigned"])
                                      for row in listed}  # fmt: skip

    # each submits all their tasks but the last; ana skips her first; lead times are known
    by_id = {a.id: a for a in arts}
    secret = passwords(creds)
    expected: dict[str, dict[str, Any]] = {}
    stance: dict[str, Counter[str]] = {T1: Counter(), T2: Counter()}
    for who, email in enumerate(emails):
        token = token_of(log_in(studio_server.url, email, secret[email]))
        me = admin.as_account(Account(id=users[email], email=email, token=token))
        mine = sorted(r.team_tasks[users[email]].items())
        leads: list[float] = []
        skipped = 0
        try:
            for n, (aid, task) in enumerate(mine[:-1]):
                art = by_id[aid]
                skip = who == 0 and n == 0
                lead = 10.0 * (who + 1) + 3 * n
                rec = record(art, who, arts.index(art))
                me.submit(task, rec, art.text, cancelled=skip, lead_time=lead)
                if skip:
                    skipped += 1
                    continue
                leads.append(lead)
                for target, label in rec.stance.items():
                    stance[target][str(label)] += 1
        finally:
            me.close()
        expected[name[email]] = {
            "assigned": len(mine),
            "submitted": len(leads),
            "skipped": skipped,
            "remaining": 1,
            "median_seconds": statistics.median(leads),
        }
    pull(cfg, backend=admin)

    doc = progress_json(cli, cfg.root)
    got = {a["pseudonym"]: {k: a[k] for k in expected[a["pseudonym"]]} for a in doc["annotators"]}
    assert got == expected
    assert doc["labels"]["stance"] == {t: {v: c[v] for v in STANCES} for t, c in stance.items()}
    assert doc["pulled_annotations"] == sum(e["submitted"] for e in expected.values())
    # agreement so far: `agree`'s on the same articles (K = 2: those are agree's pairable ones)
    agreed = agree_json(cli, cfg.root)
    assert doc["agreement"]["k"] == 2 and doc["agreement"]["articles"] > 0
    for target in (T1, T2):
        assert doc["agreement"]["stance"][target]["units"] == doc["agreement"]["articles"]
        same_agreement(doc["agreement"]["stance"][target], agreed["stance"][target])
    est = doc["estimate"]
    assert est["remaining"] == 3 and est["submissions"] == 9 and est["reason"] is None
    assert datetime.fromisoformat(est["eta"]) >= datetime.now(UTC).replace(second=0, microsecond=0)
    assert est["per_hour"] > 0 and est["seconds_left"] >= 1

    # the terminal shows e-mails beside pseudonyms; no file does
    monkeypatch.setenv("COLUMNS", "200")  # the table's cells unfolded
    table = run(cli, cfg.root).stdout
    assert all(e in table for e in emails) and "to go at" in table
    md = check_reports(cfg.root, emails)
    assert all(p in md for p in expected) and "progress.png" in md
    assert all(e not in json.dumps(doc) for e in emails)  # nor --json


def test_progress_without_a_team_one_shared_project(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No `annotators add`: whoever annotated the shared project, each assigned every task; a
    task with K submissions is closed to the others."""
    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(4))
    use(monkeypatch, studio_server)
    admin = studio_server.backend(cfg)
    r = push(cfg, backend=admin)
    people = [studio_server.create_annotator("shared")[0] for _ in range(2)]
    made: dict[tuple[int, int], int] = {}

    def submit(who: int, ns: list[int]) -> None:
        me = admin.as_account(people[who])
        try:
            for n in ns:
                art = arts[n]
                made[who, n] = me.submit(r.task_ids[art.id], record(art, who, n), art.text,
                                         cancelled=False, lead_time=5.0 + n)  # fmt: skip
        finally:
            me.close()

    def rows(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
        keys = ("assigned", "submitted", "skipped", "remaining", "median_seconds")
        return sorted(tuple(a[k] for k in keys) for a in doc["annotators"])

    submit(0, [0, 1, 2])  # K = 2: articles 0 and 1 are full, 2 and 3 still open
    submit(1, [0, 1])
    pull(cfg, backend=admin)
    doc = progress_json(cli, cfg.root)
    assert doc["incremental"] is False  # the first run lists every task
    assert rows(doc) == [(4, 2, 0, 2, 5.5), (4, 3, 0, 1, 6.0)]
    assert doc["estimate"]["remaining"] == 3  # 2 x 4 tasks, 5 submitted
    assert doc["estimate"]["reason"] is None and doc["estimate"]["eta"]
    agreed = agree_json(cli, cfg.root)
    assert doc["agreement"]["articles"] == 2
    same_agreement(doc["agreement"]["stance"][T1], agreed["stance"][T1])
    check_reports(cfg.root, [p.email for p in people])

    # the next run lists only the tasks changed since; a deletion is seen too
    submit(1, [2])
    doc = progress_json(cli, cfg.root)
    assert doc["incremental"] is True
    assert rows(doc) == [(4, 3, 0, 1, 6.0), (4, 3, 0, 1, 6.0)]
    assert doc["estimate"]["remaining"] == 2
    studio_server.client().delete_annotation(made[0, 2])
    doc = progress_json(cli, cfg.root)
    assert rows(doc) == [(4, 2, 0, 2, 5.5), (4, 3, 0, 1, 6.0)]
    assert doc["estimate"]["remaining"] == 3


def test_progress_before_any_push_is_one_line(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = studio_corpus(tmp_path / "c")
    use(monkeypatch, studio_server)
    res = cli("--corpus", cfg.root, "progress")
    assert res.exit_code == 1
    assert "no project titled" in res.output and len(res.output.strip().splitlines()) == 1
    assert not (cfg.root / "reports").exists()


def test_a_bad_flag_is_one_line_exit_2() -> None:
    """Through the script's entry point (`python -m newscorpus.cli`), as a user runs it."""
    got = subprocess.run(
        [sys.executable, "-m", "newscorpus.cli", "progress", "--nope"],
        capture_output=True,
        text=True,
    )
    assert got.returncode == 2
    lines = got.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "No such option" in lines[0]


def test_the_release_card_leaves_the_progress_plot_out(tmp_path: Path) -> None:
    from newscorpus.release.card import load_agreement

    cfg = studio_corpus(tmp_path / "c")
    cfg.reports_dir.mkdir()
    plot_submissions({"ann-x": [datetime(2026, 1, 1, tzinfo=UTC)]}, cfg.reports_dir / PLOT_NAME)
    _, pngs = load_agreement(cfg)
    assert PLOT_NAME not in [p.name for p in pngs]
