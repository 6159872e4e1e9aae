"""The card says how independent the annotations were: enforced when push gave the tasks to a
team (each annotator in a project of their own), asked for otherwise."""

from __future__ import annotations

from pathlib import Path

from newscorpus.annotation.assign import AssignState, annotator_projects, assign_path, save_state
from newscorpus.config import Config
from newscorpus.release.build import build_release

from .helpers import build_corpus


def _card(cfg: Config, out: Path) -> str:
    build_release(cfg, out=out, version="1.0.0", previous=None)
    return (out / "README.md").read_text(encoding="utf-8")


def test_the_card_says_independence_is_enforced_only_with_a_team(tmp_path: Path) -> None:
    cfg, _ = build_corpus(tmp_path / "c")
    alone = _card(cfg, tmp_path / "r1")
    assert "Independence is asked for, not enforced" in alone
    assert "enforced from each annotator's link" not in alone

    team = AssignState(team=(3, 4, 5), projects={3: 11, 4: 12, 5: 13})
    save_state(cfg, "http://127.0.0.1:8080", team)
    save_state(cfg, "http://127.0.0.1:8081", AssignState(team=(3,), projects={3: 21}))
    assert annotator_projects(cfg) == 4
    with_team = _card(cfg, tmp_path / "r2")
    assert "Independence is enforced from each annotator's link" in with_team
    assert "(4 such projects)" in with_team
    assert "Independence is asked for" not in with_team
    assert "127.0.0.1" not in with_team  # the server stays on the builder's machine


def test_a_damaged_state_file_claims_nothing(tmp_path: Path) -> None:
    cfg, _ = build_corpus(tmp_path / "c")
    assign_path(cfg).parent.mkdir(parents=True, exist_ok=True)
    assign_path(cfg).write_text("{not json", encoding="utf-8")
    assert annotator_projects(cfg) == 0
    assert "Independence is asked for, not enforced" in _card(cfg, tmp_path / "r")
