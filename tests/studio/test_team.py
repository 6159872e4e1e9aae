"""`newscorpus annotators add/list/remove` against the real Label Studio server."""

from __future__ import annotations

import csv
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from newscorpus.annotation.pull import pull
from newscorpus.annotation.push import push
from newscorpus.annotation.team import team_path
from newscorpus.corpus import iter_annotations
from tests.conftest import snapshot
from tests.studio.helpers import QUOTE_TEXT, articles, full_result, studio_corpus, with_articles

pytestmark = pytest.mark.studio

KEYS = {"email", "pseudonym", "assigned", "submitted", "url"}


def use(monkeypatch: pytest.MonkeyPatch, studio_server: Any, token: str | None = None) -> None:
    monkeypatch.setenv("LABEL_STUDIO_URL", studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", token or studio_server.token)


def passwords(path: Path) -> dict[str, str]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["email", "password"]
    return dict((r[0], r[1]) for r in rows[1:])


def log_in(url: str, email: str, password: str) -> httpx.Client:
    """A browser-like session of an annotator, logged in with their password."""
    web = httpx.Client(base_url=url, timeout=60)
    web.get("/user/login/")
    r = web.post(
        "/user/login/",
        data={
            "csrfmiddlewaretoken": web.cookies["csrftoken"],
            "email": email,
            "password": password,
        },
        headers={"Referer": f"{url}/user/login/"},
    )
    assert r.status_code == 302, r.status_code
    return web


def token_of(web: httpx.Client) -> str:
    token = web.get("/api/current-user/token").json()["token"]
    assert isinstance(token, str)
    return token


def unique(name: str) -> str:
    import secrets

    return f"{name}-{secrets.token_hex(3)}@team.test"


def listed(cli: Callable[..., Any], root: Path) -> list[dict[str, Any]]:
    res = cli("--corpus", root, "annotators", "list", "--json")
    assert res.exit_code == 0, res.output
    rows: list[dict[str, Any]] = json.loads(res.stdout)
    return rows


def test_add_list_remove_round_trip(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(2))
    r = push(cfg, backend=studio_server.backend(cfg))
    use(monkeypatch, studio_server)
    ana, ben = unique("ana"), unique("ben")
    creds = tmp_path / "private" / "team.csv"
    creds.parent.mkdir()
    res = cli(
        "--corpus", cfg.root, "annotators", "add", ana.upper(), ben, "--credentials", creds,
        "--languages", "es,fr",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    secret = passwords(creds)
    assert set(secret) == {ana, ben} and all(len(p) >= 20 for p in secret.values())
    everything = res.output + "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in cfg.root.rglob("*") if p.is_file()
    )
    for password in secret.values():
        assert password not in everything  # never printed, never kept in the corpus
    assert ana not in team_path(cfg).read_text(encoding="utf-8")  # keyed by user id
    kept = json.loads(team_path(cfg).read_text(encoding="utf-8"))[studio_server.url]
    assert [m["languages"] for m in kept.values()] == [["es", "fr"], ["es", "fr"]]

    rows = listed(cli, cfg.root)
    assert [row["email"] for row in rows] == [ana, ben]
    assert all(set(row) == KEYS for row in rows)
    link = f"{studio_server.url}/projects/{r.project_id}/data?labeling=1"
    assert {(row["assigned"], row["submitted"], row["url"]) for row in rows} == {(2, 0, link)}

    # the password works; what the annotator submits is counted and pulled under the pseudonym
    web = log_in(studio_server.url, ana, secret[ana])
    as_ana = studio_server.client().as_user(token_of(web))
    as_ana.submit_annotation(r.task_ids[arts[0].id], full_result(QUOTE_TEXT, "favor"))
    as_ana.submit_annotation(r.task_ids[arts[1].id], [], cancelled=True)  # skipped: not counted
    rows = listed(cli, cfg.root)
    assert [(row["email"], row["submitted"]) for row in rows] == [(ana, 1), (ben, 0)]
    pull(cfg, backend=studio_server.backend(cfg))
    pulled = {rec.annotator for rec in iter_annotations(cfg)}
    assert pulled == {rows[0]["pseudonym"]}

    res = cli("--corpus", cfg.root, "annotators", "remove", ana)
    assert res.exit_code == 0, res.output
    assert [row["email"] for row in listed(cli, cfg.root)] == [ben]
    # removed: the session and the token open no task; the annotation stays, same pseudonym
    task = r.task_ids[arts[0].id]
    assert web.get(f"/api/tasks/{task}").status_code in (403, 404)
    fresh = log_in(studio_server.url, ana, secret[ana])  # logging in again gives nothing back
    assert fresh.get(f"/api/projects/{r.project_id}").status_code == 403
    assert fresh.get("/api/tasks", params={"project": r.project_id}).status_code == 403
    again = pull(cfg, backend=studio_server.backend(cfg), full=True)
    assert again.deleted == 0 and {rec.annotator for rec in iter_annotations(cfg)} == pulled


def test_add_again_and_an_account_made_elsewhere(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = studio_corpus(tmp_path / "c")
    use(monkeypatch, studio_server)
    creds = tmp_path / "team.csv"
    creds.write_text("email,password\nold@team.test,kept\n", encoding="utf-8")
    creds.chmod(0o644)
    elsewhere, _ = studio_server.create_annotator("elsewhere")
    new = unique("new")
    res = cli(
        "--corpus", cfg.root, "annotators", "add", new, elsewhere.email, "--credentials", creds
    )
    assert res.exit_code == 0, res.output
    assert f"{elsewhere.email} (ann-" in res.output and "no new password" in res.output
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600  # narrowed before a password went in
    assert list(passwords(creds)) == ["old@team.test", new]  # appended, one header
    before = creds.read_bytes()
    res = cli("--corpus", cfg.root, "annotators", "add", new, "--credentials", creds)
    assert res.exit_code == 0 and "already on the team" in res.output, res.output
    assert creds.read_bytes() == before
    assert [row["email"] for row in listed(cli, cfg.root)] == [new, elsewhere.email]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["not-an-email"], "'not-an-email' is not an e-mail address"),
        (["a@team.test", "A@team.test"], "'A@team.test' is given twice"),
        (["a,b@team.test"], "is not an e-mail address"),
        (["a@team.test", "--languages", "es,de"], "--languages: 'de' is not one of"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    tmp_path: Path,
    studio_server: Any,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    needle: str,
) -> None:
    cfg = studio_corpus(tmp_path / "c")
    use(monkeypatch, studio_server)
    creds = tmp_path / "team.csv"
    users = len(studio_server.client().get("/api/users"))
    before = snapshot(cfg.root)
    res = cli("--corpus", cfg.root, "annotators", "add", *args, "--credentials", creds)
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
    assert snapshot(cfg.root) == before and not creds.exists()
    assert len(studio_server.client().get("/api/users")) == users


def test_a_credentials_file_in_the_corpus_folder_is_refused(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The corpus is committed: passwords there would travel with it (its git work tree too)."""
    cfg = studio_corpus(tmp_path / "repo" / "c")
    (tmp_path / "repo" / ".git").mkdir()
    use(monkeypatch, studio_server)
    before = snapshot(tmp_path / "repo")
    for place in (
        cfg.root / "team.csv",
        cfg.root / ".newscorpus" / "t.csv",
        tmp_path / "repo" / "t.csv",
    ):
        res = cli("--corpus", cfg.root, "annotators", "add", unique("x"), "--credentials", place)
        assert res.exit_code == 2, res.output
        assert "committed; keep the passwords outside it" in res.output, res.output
    assert snapshot(tmp_path / "repo") == before


def test_a_token_that_may_not_remove_members_is_refused(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Label Studio lets only the organisation's owner remove members: another member's token
    gets one line naming what was refused, and nothing changes."""
    cfg = studio_corpus(tmp_path / "c")
    member, _ = studio_server.create_annotator("member")
    victim, _ = studio_server.create_annotator("victim")
    use(monkeypatch, studio_server, member.token)
    before = snapshot(cfg.root)
    res = cli("--corpus", cfg.root, "annotators", "remove", victim.email)
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert lines == [
        f"error: {studio_server.url}: the API token may not deactivate accounts (only the "
        "organisation's owner may remove members); nothing was changed"
    ]
    assert snapshot(cfg.root) == before
    assert victim.email in {u["email"] for u in studio_server.client().get("/api/users")}


def test_removing_an_unknown_or_the_own_account_is_refused(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = studio_corpus(tmp_path / "c")
    use(monkeypatch, studio_server)
    res = cli("--corpus", cfg.root, "annotators", "remove", "nobody@team.test")
    assert res.exit_code == 1 and "no active account nobody@team.test" in res.output
    admin = studio_server.client().whoami()["email"]
    res = cli("--corpus", cfg.root, "annotators", "remove", admin)
    assert res.exit_code == 2 and "the account of the API token itself" in res.output


def test_a_token_that_may_not_create_accounts_is_refused_before_anything(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that refuses the token its invite link (Community edition shows it to every
    member; a server with roles may not): one line naming what was refused, exit 1, no
    credentials file, no sign-up tried."""
    from tests.studio.test_redteam_backend import LEGACY, Hostile, Reply

    cfg = studio_corpus(tmp_path / "c")
    server = Hostile()
    try:

        def route(m: str, p: str, b: bytes) -> Reply | None:
            if p.startswith("/api/current-user/whoami"):
                return Reply(body={"id": 5, "email": "me@team.test", "active_organization": 1})
            if p.startswith("/api/users"):
                return Reply(body=[{"id": 5, "email": "me@team.test"}])
            if p.startswith("/api/invite"):
                return Reply(403, {"detail": "You do not have permission to perform this action."})
            if p.startswith("/api/organizations/1"):
                return Reply(body={"id": 1, "created_by": 1})
            return None

        server.route = route
        monkeypatch.setenv("LABEL_STUDIO_URL", server.url)
        monkeypatch.setenv("LABEL_STUDIO_API_KEY", LEGACY)
        creds = tmp_path / "team.csv"
        before = snapshot(cfg.root)
        res = cli(
            "--corpus", cfg.root, "annotators", "add", "new@team.test", "--credentials", creds
        )
        assert res.exit_code == 1, res.output
        assert res.output.strip().splitlines() == [
            f"error: {server.url}: the API token may not create accounts (the server refused "
            "to show its invite link); nothing was changed"
        ]
        assert snapshot(cfg.root) == before and not creds.exists()
        assert not [p for m, p, _, _ in server.seen if "signup" in p or m != "GET"]
        assert LEGACY not in res.output
    finally:
        server.close()
