"""Blind, assigned overlap: which annotators get which near-duplicate cluster (`push` with a team).

Each annotator works in a project of their own that holds only the tasks assigned to them, so
that following their link they never see another annotator's labels (Label Studio Community
has no per-task assignment nor a way to hide others' annotations inside one project). Each
cluster goes to exactly K annotators who read its language; the plan is balanced (lowest load
first), deterministic (ties broken by a keyed hash of the seed, article and user) and stable:
an assignment stays while its annotator is on the team, a started task (annotated, skipped or
drafted) is never moved, and only unstarted tasks move when the team changes: those of a removed
annotator, and, when someone joins, those above an even share.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..config import Config
from ..errors import DataError, StudioError
from ..store import atomic_write_text

ASSIGN_FILE = "assignments.json"


@dataclass(frozen=True)
class Item:
    """A cluster to assign: its representative article and that article's language."""

    article_id: str
    language: str


def _rank(seed: int, *parts: object) -> str:
    return hashlib.sha256("|".join(map(str, (seed, *parts))).encode()).hexdigest()


def _reads(languages: Sequence[str], language: str) -> bool:
    return not languages or language in languages


def plan(
    items: Sequence[Item],
    members: Mapping[int, Sequence[str]],
    *,
    k: int,
    seed: int,
    current: Mapping[str, set[int]],
    started: Mapping[str, set[int]],
    joined: bool = False,
) -> dict[str, set[int]]:
    """article id -> the user ids it goes to, for every item.

    ``members`` are the active annotators and the languages each reads (none: all);
    ``current`` is who holds each article now (any annotator, active or not), ``started`` who
    has begun it; ``joined`` (someone joined since the last push) releases unstarted tasks
    above an even share. DataError when a cluster has fewer than K annotators who read it.
    """
    order = sorted(items, key=lambda it: _rank(seed, it.article_id))
    keep: dict[str, set[int]] = {}
    load = dict.fromkeys(members, 0)
    for it in order:
        mine = started.get(it.article_id, set()) | {
            u
            for u in current.get(it.article_id, set())
            if u in members and _reads(members[u], it.language)
        }
        keep[it.article_id] = mine
        for u in mine:
            if u in load:
                load[u] += 1
    if joined and members:
        share = math.ceil(len(order) * k / len(members))
        for it in reversed(order):  # the last in seeded order are released first
            held = keep[it.article_id]
            begun = started.get(it.article_id, set())
            over = [u for u in held if u in load and load[u] > share and u not in begun]
            if over:  # one holder per cluster: the newcomer can take each released slot
                u = max(over, key=lambda u: (load[u], _rank(seed, it.article_id, u)))
                held.discard(u)
                load[u] -= 1
    result: dict[str, set[int]] = {}
    for it in order:
        chosen = set(keep[it.article_id])
        fixed = started.get(it.article_id, set())
        while len(chosen) > k:  # K went down: drop unstarted holders, most loaded first
            spare = [u for u in chosen if u not in fixed]
            if not spare:
                break
            u = max(spare, key=lambda u: (load.get(u, 0), _rank(seed, it.article_id, u)))
            chosen.discard(u)
            if u in load:
                load[u] -= 1
        need = k - len(chosen)
        if need > 0:
            pool = [
                u for u, langs in members.items() if u not in chosen and _reads(langs, it.language)
            ]
            if len(pool) < need:
                readers = sum(_reads(langs, it.language) for langs in members.values())
                raise DataError(
                    f"push --overlap {k}: article {it.article_id} ({it.language}) needs {k} "
                    f"annotators and the team has {readers} who read {it.language!r} "
                    "(annotators add --languages); nothing was changed"
                )
            pool.sort(key=lambda u: (load[u], _rank(seed, it.article_id, u)))
            for u in pool[:need]:
                chosen.add(u)
                load[u] += 1
        result[it.article_id] = chosen
    return result


# --- what the last push did, per server -------------------------------------------------------


@dataclass(frozen=True)
class AssignState:
    """The team of the last push and each annotator's project (by user id)."""

    team: tuple[int, ...] = ()
    projects: dict[int, int] | None = None

    def project_of(self) -> dict[int, int]:
        return dict(self.projects or {})


def assign_path(cfg: Config) -> Path:
    """Each annotator's project and the team of the last push (git-ignored, no e-mail)."""
    return cfg.state_dir / ASSIGN_FILE


def _read(cfg: Config) -> dict[str, Any]:
    try:
        data = orjson.loads(assign_path(cfg).read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        raise StudioError(f"{assign_path(cfg)}: not a JSON object (damaged?)") from None
    if not isinstance(data, dict):
        raise StudioError(f"{assign_path(cfg)}: not a JSON object (damaged?)")
    return data


def load_state(cfg: Config, url: str) -> AssignState:
    """What the last push with a team left for this server (empty when none did)."""
    raw = _read(cfg).get(url.rstrip("/"), {})
    if not isinstance(raw, dict):
        return AssignState()
    team: Any = raw.get("team") if isinstance(raw.get("team"), list) else []
    projects: Any = raw.get("projects") if isinstance(raw.get("projects"), dict) else {}
    return AssignState(
        team=tuple(int(u) for u in team if isinstance(u, int)),
        projects={
            int(u): int(p) for u, p in projects.items() if str(u).isdigit() and isinstance(p, int)
        },
    )


def annotator_projects(cfg: Config) -> int:
    """How many annotators' own projects push made for this corpus, on every server (0 when
    it never pushed to a team); an unreadable state file counts as none."""
    try:
        data = _read(cfg)
    except StudioError:
        return 0
    return sum(
        len(load_state(cfg, url).project_of()) for url, raw in data.items() if isinstance(raw, dict)
    )


def save_state(cfg: Config, url: str, state: AssignState) -> None:
    """Write the state of one server atomically (other servers' kept)."""
    data = _read(cfg)
    data[url.rstrip("/")] = {
        "team": list(state.team),
        "projects": {str(u): p for u, p in state.project_of().items()},
    }
    atomic_write_text(assign_path(cfg), json.dumps(data, indent=1) + "\n")
