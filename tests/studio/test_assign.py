"""Blind, assigned overlap: the plan (pure), then `push --overlap K` with a team on the real
Label Studio, pull across the annotators' projects, and what annotator B sees in Chromium."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.annotation.assign import Item, plan
from newscorpus.annotation.pull import pull
from newscorpus.annotation.push import push
from newscorpus.config import load_config
from newscorpus.corpus import iter_annotations
from newscorpus.errors import DataError
from tests.conftest import make_article
from tests.studio.helpers import QUOTE_TEXT, full_result, studio_corpus, with_articles
from tests.studio.test_team import log_in, passwords, token_of, unique, use

ITEMS = [Item(f"a{i:02d}", "es" if i % 3 else "fr") for i in range(12)]


def loads(result: dict[str, set[int]]) -> Counter[int]:
    return Counter(u for users in result.values() for u in users)


def test_each_cluster_goes_to_exactly_k_balanced_and_deterministic() -> None:
    team: dict[int, tuple[str, ...]] = {1: (), 2: (), 3: (), 4: ()}
    got = plan(ITEMS, team, k=2, seed=7, current={}, started={})
    assert all(len(users) == 2 for users in got.values()) and set(got) == {
        i.article_id for i in ITEMS
    }
    assert sorted(loads(got).values()) == [6, 6, 6, 6]
    assert plan(ITEMS, team, k=2, seed=7, current={}, started={}) == got
    assert plan(ITEMS, team, k=2, seed=8, current={}, started={}) != got  # the seed matters


def test_languages_an_annotator_does_not_read_are_excluded() -> None:
    team: dict[int, tuple[str, ...]] = {1: ("es",), 2: ("es", "fr"), 3: (), 4: ("fr",)}
    got = plan(ITEMS, team, k=2, seed=0, current={}, started={})
    lang = {i.article_id: i.language for i in ITEMS}
    for aid, users in got.items():
        assert all(not team[u] or lang[aid] in team[u] for u in users), (aid, users)
    with pytest.raises(
        DataError, match=r"article a\d+ \(fr\) needs 3 annotators .* 2 who read 'fr'"
    ):
        plan(ITEMS, {1: ("es",), 2: ("fr",), 3: ()}, k=3, seed=0, current={}, started={})


def test_a_new_article_moves_nothing_and_a_change_of_team_moves_only_unstarted_tasks() -> None:
    team: dict[int, tuple[str, ...]] = {1: (), 2: (), 3: ()}
    first = plan(ITEMS[:9], team, k=2, seed=1, current={}, started={})
    more = plan(ITEMS, team, k=2, seed=1, current=first, started={})
    assert all(more[a] == first[a] for a in first)  # the old assignments stay
    started = {a: set(list(users)[:1]) for a, users in list(more.items())[:4]}
    bigger = {**team, 4: ()}
    grown = plan(ITEMS, bigger, k=2, seed=1, current=more, started=started, joined=True)
    assert all(started[a] <= grown[a] for a in started)  # begun: never moved
    assert sorted(loads(grown).values()) == [6, 6, 6, 6] and all(
        len(u) == 2 for u in grown.values()
    )
    smaller = {u: langs for u, langs in bigger.items() if u != 1}
    shrunk = plan(ITEMS, smaller, k=2, seed=1, current=grown, started=started)
    for aid, users in shrunk.items():
        kept_one = 1 in started.get(aid, set())
        assert (1 in users) == kept_one  # their begun tasks stay theirs, the others move
        assert len(users) == 2
        assert grown[aid] - {1} <= users  # the others' tasks stay where they were


# --- on the real server ------------------------------------------------------------------------


def team_corpus(tmp_path: Path, n: int) -> Any:
    cfg = studio_corpus(tmp_path / "c")
    arts = [make_article(i, language="es" if i % 2 else "fr") for i in range(1, n)]
    arts.insert(0, make_article(0, text=QUOTE_TEXT, url="http://news.test/q0", language="fr"))
    return cfg, with_articles(cfg, arts)


def add(cli: Callable[..., Any], cfg: Any, creds: Path, *emails: str, langs: str = "") -> None:
    extra = ["--languages", langs] if langs else []
    res = cli("--corpus", cfg.root, "annotators", "add", *emails, "--credentials", creds, *extra)
    assert res.exit_code == 0, res.output


def holdings(r: Any) -> dict[str, set[int]]:
    held: dict[str, set[int]] = {}
    for uid, tasks in r.team_tasks.items():
        for aid in tasks:
            held.setdefault(aid, set()).add(uid)
    return held


def test_push_assigns_blind_projects_reassigns_unstarted_and_pull_reads_them_all(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, arts = team_corpus(tmp_path, 6)
    use(monkeypatch, studio_server)
    creds = tmp_path / "team.csv"
    ana, ben, chloe = unique("ana"), unique("ben"), unique("chloe")
    add(cli, cfg, creds, ana, ben)
    add(cli, cfg, creds, chloe, langs="es")
    res = cli("--corpus", cfg.root, "push", "--overlap", "2")
    assert res.exit_code == 0 and "3 annotators' projects" in res.output, res.output
    r = push(cfg, backend=studio_server.backend(cfg), options=None)  # rerun: a no-op
    assert (r.imported, r.moved, r.already) == (0, 0, 6)
    held = holdings(r)
    lang = {a.id: a.language for a in arts}
    ids = {
        row["email"]: row
        for row in json.loads(cli("--corpus", cfg.root, "annotators", "list", "--json").stdout)
    }
    users = {a.email: a.id for a in studio_server.backend(cfg).accounts()}
    assert all(len(u) == 2 for u in held.values()) and set(held) == set(lang)
    assert all(lang[a] == "es" for a, u in held.items() if users[chloe] in u)
    assert sorted(Counter(u for us in held.values() for u in us).values()) == [3, 4, 5]
    assert {ids[e]["assigned"] for e in (ana, ben, chloe)} <= {3, 4, 5}
    assert len({ids[e]["url"] for e in (ana, ben, chloe)}) == 3  # a project each

    # ana submits one of hers; a fourth annotator joins: only unstarted tasks move
    admin = studio_server.client()
    secret = passwords(creds)
    as_ana = admin.as_user(token_of(log_in(studio_server.url, ana, secret[ana])))
    mine = r.team_tasks[users[ana]]
    begun = arts[0].id if arts[0].id in mine else next(iter(mine))
    text = next(a.text for a in arts if a.id == begun)
    result = full_result(QUOTE_TEXT, "favor") if text == QUOTE_TEXT else []
    as_ana.submit_annotation(mine[begun], result, cancelled=not result)
    dan = unique("dan")
    add(cli, cfg, creds, dan)
    users = {a.email: a.id for a in studio_server.backend(cfg).accounts()}
    grown = push(cfg, backend=studio_server.backend(cfg))
    after = holdings(grown)
    assert grown.moved > 0 and grown.moved == grown.imported
    assert grown.team_tasks[users[ana]][begun] == mine[begun]  # begun: stays, same task
    assert all(len(u) == 2 for u in after.values())
    assert users[dan] in {u for us in after.values() for u in us}

    # ana leaves: her unstarted tasks go to others, the begun one stays hers
    assert cli("--corpus", cfg.root, "annotators", "remove", ana).exit_code == 0
    shrunk = push(cfg, backend=studio_server.backend(cfg))
    final = holdings(shrunk)
    assert set(shrunk.team_tasks[users[ana]]) == {begun}
    assert all(len(u - {users[ana]}) == (1 if a == begun else 2) for a, u in final.items())

    # pull reads every annotator's project; nothing is lost when the team changes
    pulled = pull(cfg, backend=studio_server.backend(cfg))
    assert pulled.annotations == 1
    again = pull(load_config(cfg.root), backend=studio_server.backend(cfg), full=True)
    assert again.new_versions == 0 and again.deleted == 0
    (rec,) = list(iter_annotations(cfg))
    assert rec.article_id == begun and rec.extra["project"] == shrunk.projects[users[ana]]


def test_push_with_more_overlap_than_annotators_is_refused(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _ = team_corpus(tmp_path, 2)
    use(monkeypatch, studio_server)
    add(cli, cfg, tmp_path / "team.csv", unique("solo"))
    res = cli("--corpus", cfg.root, "push", "--overlap", "2")
    assert res.exit_code == 2, res.output
    assert "the team has 1 active annotators" in res.output
    title = cfg.corpus.pretty_name
    assert not [
        p
        for p in studio_server.client().get("/api/projects", page_size=100)["results"]
        if p["title"].startswith(title)
    ]


@pytest.mark.browser
def test_annotator_b_sees_none_of_a_s_labels_from_their_link(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """B, working from the link `annotators list` gives, after A has annotated the same cluster:
    no annotation of A in the labeling stream nor in B's Data Manager (and, as a control, A's
    work does show where Community edition cannot hide it: A's own project, opened by hand)."""
    from playwright.sync_api import expect, sync_playwright

    from tests.studio.test_browser import ARGS, CHROMIUM, EDITOR

    cfg, arts = team_corpus(tmp_path, 1)
    use(monkeypatch, studio_server)
    creds = tmp_path / "team.csv"
    a, b = unique("alice"), unique("bruno")
    add(cli, cfg, creds, a, b)
    r = push(cfg, backend=studio_server.backend(cfg))
    users = {acc.email: acc.id for acc in studio_server.backend(cfg).accounts()}
    secret = passwords(creds)
    as_a = studio_server.client().as_user(token_of(log_in(studio_server.url, a, secret[a])))
    a_task = r.team_tasks[users[a]][arts[0].id]
    a_annotation = as_a.submit_annotation(a_task, full_result(QUOTE_TEXT, "against"))["id"]
    rows = json.loads(cli("--corpus", cfg.root, "annotators", "list", "--json").stdout)
    link = next(row["url"] for row in rows if row["email"] == b)
    b_project = r.projects[users[b]]
    assert link.endswith(f"/projects/{b_project}/data?labeling=1")
    if not CHROMIUM.is_file():
        pytest.fail("Debian's chromium is missing: run `make system-deps`")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{studio_server.url}/user/login/")
            page.fill("input[name=email]", b)
            page.fill("input[name=password]", secret[b])
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_url(lambda url: "/user/login" not in url, timeout=60_000)
            seen: list[Any] = []  # every JSON answer of the server that B's pages read
            page.on("response", lambda resp: seen.append(_json(resp)))
            page.goto(link)  # the labeling stream: B's next task
            editor = page.locator(EDITOR)
            expect(editor.get_by_text("Sheinbaum").first).to_be_visible(timeout=90_000)
            stream = page.content()
            page.goto(f"{studio_server.url}/projects/{b_project}/data")  # B's Data Manager
            expect(page.get_by_text("Sheinbaum").first).to_be_visible(timeout=90_000)
            page.wait_for_load_state("networkidle")
            grid = page.content()
            for where in (stream, grid):  # nothing of A on B's screens
                assert a not in where and a.split("@")[0] not in where
            a_project = r.projects[users[a]]
            answers = [x for x in seen if x is not None]
            assert any(_objects(x, lambda d: d.get("id") == b_project) for x in answers)
            for x in answers:  # nor in what they fetched: A's annotation, task or project
                assert not _objects(x, lambda d: d.get("completed_by") == users[a])
                assert not _objects(x, lambda d: d.get("id") == a_annotation and "result" in d)
                assert not _objects(x, lambda d: d.get("project") == a_project)
                assert not _objects(x, lambda d: bool(d.get("annotations")))
            b_task = r.team_tasks[users[b]][arts[0].id]
            answer = page.request.get(f"{studio_server.url}/api/tasks/{b_task}/annotations")
            assert answer.ok and answer.json() == []
            # the control: Community edition lets B open A's project by hand, and A shows there
            # (so the checks above would have caught A's annotation had it reached B's pages)
            seen.clear()
            page.goto(f"{studio_server.url}/projects/{a_project}/data?task={a_task}")
            expect(page.locator(EDITOR).get_by_text("Sheinbaum").first).to_be_visible(
                timeout=90_000
            )
            page.wait_for_load_state("networkidle")
            assert any(
                _objects(x, lambda d: d.get("id") == a_annotation and "result" in d)
                for x in seen
                if x is not None
            )
        finally:
            browser.close()


def _json(response: Any) -> Any:
    """The JSON an answer carries, or None (a page, a script, a redirect)."""
    if "json" not in (response.headers.get("content-type") or ""):
        return None
    try:
        return response.json()
    except Exception:  # a redirect or an answer without a body
        return None


def _objects(doc: Any, test: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Every JSON object inside ``doc`` for which ``test`` holds."""
    found: list[dict[str, Any]] = []
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if test(item):
                found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
