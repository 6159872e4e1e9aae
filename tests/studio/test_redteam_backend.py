"""Red team of the Label Studio backend (label-studio-sdk 2.x): servers on 127.0.0.1 that answer
like a broken or hostile Label Studio. Every failure is one line naming the URL, the token (a
legacy token, a personal access token and its refreshed access token) never shows, nothing is
written, and no request is sent to another host.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest

from newscorpus.config import Config
from newscorpus.errors import StudioError
from newscorpus.labelstudio.backend import LabelStudioBackend
from newscorpus.labelstudio.labeling import label_config
from tests.conftest import snapshot
from tests.studio.test_export import export_corpus

LEGACY = "synthetic-legacy-token-0123456789abcdef"
SECRET_ACCESS = "synthetic-access-secret"


def pat(exp: float | None = None, marker: str = "refresh-secret") -> str:
    """A personal access token (a JWT refresh token) as Label Studio makes them."""
    claims: dict[str, Any] = {"token_type": "refresh", "jti": marker}
    claims["exp"] = exp if exp is not None else int(time.time()) + 3600
    return jwt.encode(claims, "not-the-server-key-of-label-studio-0123", algorithm="HS256")


def access(exp: float | None = None) -> str:
    claims = {"token_type": "access", "jti": SECRET_ACCESS}
    claims["exp"] = exp if exp is not None else int(time.time()) + 3600  # type: ignore[assignment]
    return jwt.encode(claims, "not-the-server-key-of-label-studio-0123", algorithm="HS256")


@dataclass
class Reply:
    status: int = 200
    body: bytes | Any = b""
    headers: dict[str, Any] = field(default_factory=dict)  # a list: the header repeated
    delay: float = 0.0  # seconds before answering (a slow or hanging server)


Route = Callable[[str, str, bytes], Reply | None]


class Hostile:
    """A local HTTP server whose answers a test scripts: ``route(method, path, body)``."""

    def __init__(self) -> None:
        self.route: Route = lambda m, p, b: None
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.seen.append((self.command, self.path, dict(self.headers), body))
                reply = outer.route(self.command, self.path, body) or Reply(404, {"detail": "x"})
                if reply.delay:
                    outer.stop.wait(reply.delay)
                raw = reply.body
                if not isinstance(raw, bytes):
                    raw = json.dumps(raw).encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                cut = headers.pop("X-Cut", None)  # announce this length, send less, hang up
                for k, v in headers.items():
                    for one in v if isinstance(v, list) else [v]:
                        self.send_header(k, one)
                self.send_header("Content-Length", cut or str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                if cut:
                    self.close_connection = True

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hostile() -> Iterator[Callable[[], Hostile]]:
    made: list[Hostile] = []

    def make() -> Hostile:
        made.append(Hostile())
        return made[-1]

    try:
        yield make
    finally:
        for h in made:
            h.close()


def refused(cli: Callable[..., Any], root: Path, *args: Any) -> str:
    """The command exits 1 with one line on stderr and writes nothing; that line."""
    before = snapshot(root)
    result = cli("--corpus", root, *args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert snapshot(root) == before
    return str(lines[0])


def use(monkeypatch: pytest.MonkeyPatch, url: str, token: str) -> None:
    monkeypatch.setenv("LABEL_STUDIO_URL", url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", token)


def project_answer(cfg: Config, pid: int = 1, tasks: int = 0) -> dict[str, Any]:
    return {
        "id": pid,
        "title": cfg.corpus.pretty_name,
        "label_config": label_config(cfg),
        "task_number": tasks,
        "total_annotations_number": 0,
        "skipped_annotations_number": 0,
    }


def projects_route(cfg: Config, tasks: int = 0) -> Route:
    """Answers the project list and the project (id 1) like Label Studio; None for the rest."""

    def route(method: str, path: str, body: bytes) -> Reply | None:
        if path.startswith("/api/projects/?") or path.startswith("/api/projects?"):
            return Reply(
                body={"count": 1, "next": None, "results": [project_answer(cfg, 1, tasks)]}
            )
        if path.rstrip("/") == "/api/projects/1":
            return Reply(body=project_answer(cfg, 1, tasks))
        return None

    return route


# --- a redirect to another host --------------------------------------------------------------


@pytest.mark.parametrize("status", [302, 307, 308])
def test_token_refresh_redirected_to_another_host_sends_it_nothing(
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    hostile: Callable[[], Hostile],
    status: int,
) -> None:
    cfg = export_corpus(tmp_path / "c")
    server, other = hostile(), hostile()
    server.route = lambda m, p, b: Reply(status, b"", {"Location": f"{other.url}{p}"})
    token = pat()
    use(monkeypatch, server.url, token)
    line = refused(cli, cfg.root, "pull")
    assert line.startswith(f"error: {server.url}/api/token/refresh/"), line
    assert "redirect" in line and "refresh-secret" not in line and token not in line
    assert other.seen == []  # a 307/308 would have resent the refresh token in the body


@pytest.mark.parametrize("status", [301, 302, 307])
def test_api_redirected_to_another_host_is_refused(
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    hostile: Callable[[], Hostile],
    status: int,
) -> None:
    cfg = export_corpus(tmp_path / "c")
    server, other = hostile(), hostile()
    other.route = projects_route(cfg)
    server.route = lambda m, p, b: Reply(status, b"", {"Location": f"{other.url}{p}"})
    use(monkeypatch, server.url, LEGACY)
    line = refused(cli, cfg.root, "pull")
    assert line.startswith(f"error: {server.url}/api/projects"), line
    assert f"redirect to {other.url}" in line and LEGACY not in line
    assert other.seen == []


def test_a_redirect_on_the_same_server_is_followed(
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    hostile: Callable[[], Hostile],
) -> None:
    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    inner = projects_route(cfg)

    def route(m: str, p: str, b: bytes) -> Reply | None:
        if p.startswith("/api/projects/?"):
            return Reply(301, b"", {"Location": "/moved" + p})
        return inner(m, p.removeprefix("/moved"), b)

    server.route = route
    use(monkeypatch, server.url, LEGACY)
    line = refused(cli, cfg.root, "pull")  # followed, then the task list is missing
    assert line.startswith(f"error: {server.url}/api/tasks: HTTP 404"), line


# --- what the server says reaches the terminal as one line, without the token ----------------


@pytest.mark.parametrize(
    "body",
    [
        b"Not found\rerror: all good, nothing to see",
        b"\x1b[2J\x1b[1;1Hcleared your screen",
        "line one\x85line two\u2028".encode(),
    ],
)
def test_error_text_with_control_characters_is_one_line(
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    hostile: Callable[[], Hostile],
    body: bytes,
) -> None:
    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    inner = projects_route(cfg)
    server.route = lambda m, p, b: (
        inner(m, p, b) or Reply(404, body, {"Content-Type": "text/plain"})
    )
    use(monkeypatch, server.url, LEGACY)
    line = refused(cli, cfg.root, "pull")
    assert line.startswith(f"error: {server.url}/api/tasks: HTTP 404"), line
    assert line.isprintable(), repr(line)


@pytest.mark.parametrize("kind", ["json", "html"])
@pytest.mark.parametrize("token_kind", ["legacy", "pat"])
def test_a_server_that_echoes_the_token_in_its_error_never_shows_it(
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    hostile: Callable[[], Hostile],
    kind: str,
    token_kind: str,
) -> None:
    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    token = LEGACY if token_kind == "legacy" else pat()
    fresh = access()

    def route(m: str, p: str, b: bytes) -> Reply | None:
        if p == "/api/token/refresh/":
            return Reply(body={"access": fresh})
        sent = next(h for (_, _, h, _) in reversed(server.seen))["Authorization"]
        if kind == "json":
            return Reply(401, {"detail": f"invalid header: Authorization: {sent}"})
        page = f"<html><pre>Traceback\nHTTP_AUTHORIZATION = '{sent}'\n</pre></html>"
        return Reply(500, page.encode(), {"Content-Type": "text/html"})

    server.route = route
    use(monkeypatch, server.url, token)
    result = cli("--corpus", cfg.root, "pull")
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"error: {server.url}/api/projects"), result.output
    with pytest.raises(StudioError) as raised:  # --debug: the traceback of the same error
        cli("--corpus", cfg.root, "--debug", "pull")
    shown = "".join(traceback.format_exception(raised.value))
    for secret in (token, fresh, "refresh-secret", SECRET_ACCESS):
        assert secret not in result.output and secret not in shown, secret
    assert "[token]" in result.output and "[token]" in shown


# --- a token whose expiry cannot be read ------------------------------------------------------


def test_a_personal_access_token_with_an_absurd_expiry_is_one_line(
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    hostile: Callable[[], Hostile],
) -> None:
    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    use(monkeypatch, server.url, pat(exp=1e20))
    line = refused(cli, cfg.root, "pull")
    assert line.startswith(f"error: {server.url}"), line
    assert server.seen == []


def test_a_refreshed_access_token_with_an_absurd_expiry_is_one_line(
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    hostile: Callable[[], Hostile],
) -> None:
    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    server.route = lambda m, p, b: Reply(body={"access": access(exp=1e20)})
    use(monkeypatch, server.url, pat())
    line = refused(cli, cfg.root, "pull")
    assert line.startswith(f"error: {server.url}"), line
    assert SECRET_ACCESS not in line


# --- ids that are not Label Studio's ---------------------------------------------------------


@pytest.mark.parametrize(
    "ids", [[True, 7], [2**63, 7], [0, 7], [-3, 7], [7, 7]], ids=["bool", "2^63", "0", "neg", "dup"]
)
def test_an_import_answer_with_ids_that_are_not_task_ids_is_refused(
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    hostile: Callable[[], Hostile],
    ids: list[int],
) -> None:
    from newscorpus.corpus import add_articles
    from tests.conftest import make_article

    cfg = export_corpus(tmp_path / "c")
    add_articles(cfg, [make_article(2)])
    server = hostile()
    inner = projects_route(cfg)

    def route(m: str, p: str, b: bytes) -> Reply | None:
        if p.startswith("/api/projects/1/import"):
            return Reply(201, {"task_count": 2, "task_ids": ids})
        return inner(m, p, b)

    server.route = route
    use(monkeypatch, server.url, LEGACY)
    result = cli("--corpus", cfg.root, "push")
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {server.url}") and "task ids" in lines[0], lines
    assert any(p.startswith("/api/projects/1/import") for _, p, _, _ in server.seen)
    assert not (cfg.state_dir / "studio-ledger.json").exists()


@pytest.mark.parametrize("me", [{"id": [1]}, [{"id": 1}], {"id": "7x"}, {"id": 2**63}])
def test_an_account_answer_without_an_integer_id_is_a_studio_error(
    tmp_path: Path, hostile: Callable[[], Hostile], me: Any
) -> None:
    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    server.route = lambda m, p, b: Reply(body=[me] if p.startswith("/api/users") else me)
    backend = LabelStudioBackend(server.url, LEGACY, cfg)
    try:
        with pytest.raises(StudioError, match=f"^{server.url}/api/current-user/whoami: "):
            backend.whoami()
        with pytest.raises(StudioError, match=f"^{server.url}/api/users: "):
            backend.accounts()
    finally:
        backend.close()


# --- the page fetcher of pull ----------------------------------------------------------------


def pages_route(cfg: Config, first: Reply, second: Reply) -> Route:
    """A project of 1,000 tasks (ids 1..1000: two pages of the task list); the answers of the
    first page (ids 1..500) and the second (501..1000)."""
    inner = projects_route(cfg, tasks=1000)

    def route(m: str, p: str, b: bytes) -> Reply | None:
        if p.startswith("/api/tasks?") and "include=id" in p:
            last = "page=1000" in p
            return Reply(body={"total": 1000, "tasks": [{"id": 1000 if last else 1}]})
        if p.startswith("/api/tasks?") and "fields=all" in p:
            return second if "%3A501%2C" in p else first
        return inner(m, p, b)

    return route


def fetcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor")]


@pytest.mark.parametrize("first", [Reply(body=[1, 2]), Reply(500, b"<html>Traceback</html>")])
def test_a_failed_page_stops_the_pull_at_once_with_no_fetch_left_behind(
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    hostile: Callable[[], Hostile],
    first: Reply,
) -> None:
    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    server.route = pages_route(cfg, first, Reply(body={"total": 500, "tasks": []}, delay=30))
    use(monkeypatch, server.url, LEGACY)
    before = len(fetcher_threads())
    started = time.monotonic()
    line = refused(cli, cfg.root, "pull")
    took = time.monotonic() - started
    assert line.startswith(f"error: {server.url}/api/tasks"), line
    assert took < 10, f"the pull waited {took:.1f} s for a page it no longer needed"
    assert len(fetcher_threads()) == before


def test_a_reader_that_stops_early_leaves_no_fetch_behind(
    tmp_path: Path, hostile: Callable[[], Hostile]
) -> None:
    """As on Ctrl-C while pull converts the first page: the generator is closed."""
    from tests.studio.test_export import export_tasks

    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    task = export_tasks()[0]
    task.update(id=1, draft_exists=False)
    page = Reply(body={"total": 1, "tasks": [task]})
    server.route = pages_route(cfg, page, Reply(body={"total": 500, "tasks": []}, delay=30))
    backend = LabelStudioBackend(server.url, LEGACY, cfg)
    try:
        project = backend.find_project(cfg.corpus.pretty_name)
        assert project is not None
        before = len(fetcher_threads())
        tasks = backend.read_tasks(project, list(range(1, 1001)))
        assert next(tasks).id == 1
        started = time.monotonic()
        tasks.close()
        took = time.monotonic() - started
        assert took < 10, f"closing the reader waited {took:.1f} s for the next page"
        assert len(fetcher_threads()) == before
    finally:
        backend.close()


# --- counts and pages that are not Label Studio's --------------------------------------------


def test_a_task_count_of_a_trillion_is_not_a_list_of_a_trillion_ids(
    tmp_path: Path, hostile: Callable[[], Hostile]
) -> None:
    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    n = 10**12

    def route(m: str, p: str, b: bytes) -> Reply | None:
        last = f"page={n}" in p
        return Reply(body={"total": n, "tasks": [{"id": n if last else 1}]})

    server.route = route
    backend = LabelStudioBackend(server.url, LEGACY, cfg)
    try:
        assert backend.task_ids(1) == [1]  # the ids listed, not the range 1..10^12
    finally:
        backend.close()


def test_an_error_page_that_mentions_http_404_is_not_the_end_of_the_tasks(
    tmp_path: Path, hostile: Callable[[], Hostile]
) -> None:
    """push reconciles its ledger from this list: a list cut short re-imports the rest."""
    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    full = [{"id": i, "data": {"article_id": f"a{i}"}} for i in range(1, 1001)]

    def route(m: str, p: str, b: bytes) -> Reply | None:
        if "page=1&" in p or p.endswith("page=1"):
            return Reply(body={"total": 1500, "tasks": full})
        return Reply(502, b"<html>upstream said: HTTP 404 Not Found</html>", {"X": "y"})

    server.route = route
    backend = LabelStudioBackend(server.url, LEGACY, cfg)
    try:
        with pytest.raises(StudioError, match=f"^{server.url}/api/tasks: HTTP 502: "):
            list(backend.task_articles(1))
    finally:
        backend.close()


# --- no second import, project or annotation after a timeout or a 5xx ------------------------


@pytest.mark.parametrize("reply", [Reply(201, {"task_ids": [1]}, delay=3), Reply(503, b"busy")])
@pytest.mark.parametrize("call", ["import", "create", "submit"])
def test_a_call_that_creates_is_sent_once_after_a_timeout_or_a_5xx(
    tmp_path: Path, hostile: Callable[[], Hostile], reply: Reply, call: str
) -> None:
    from newscorpus.annotation.backend import PreparedTask, ProjectSpec
    from newscorpus.records import Annotation

    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    server.route = lambda m, p, b: reply if m == "POST" else None
    backend = LabelStudioBackend(server.url, LEGACY, cfg, timeout=0.5)
    try:
        with pytest.raises(StudioError) as raised:
            if call == "import":
                backend.import_tasks(1, [PreparedTask("a1", {"data": {"article_id": "a1"}})])
            elif call == "create":
                backend.ensure_project(ProjectSpec(title="t", description="d", overlap=2), None)
            else:
                rec = Annotation(id="x", kind="annotation", article_id="a1", annotator="p1")
                backend.submit(1, rec, "text", cancelled=True)
        line = str(raised.value)
        assert line.startswith(server.url) and "\n" not in line, line
        assert LEGACY not in line
        assert [m for m, *_ in server.seen].count("POST") == 1
    finally:
        backend.close()


# --- a cut answer ----------------------------------------------------------------------------


def test_a_cut_answer_is_one_line(
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    hostile: Callable[[], Hostile],
) -> None:
    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    body = json.dumps({"count": 1, "next": None, "results": [project_answer(cfg)]}).encode()
    server.route = lambda m, p, b: Reply(body=body[:40], headers={"X-Cut": str(len(body))})
    use(monkeypatch, server.url, LEGACY)
    line = refused(cli, cfg.root, "pull")
    assert line.startswith(f"error: {server.url}/api/projects: "), line


def test_a_sign_up_page_with_two_csrf_cookies_is_one_line(
    tmp_path: Path, hostile: Callable[[], Hostile]
) -> None:
    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    cookies = ["csrftoken=a; Path=/", "csrftoken=b; Path=/user"]

    def route(m: str, p: str, b: bytes) -> Reply | None:
        if p.startswith("/api/invite"):
            return Reply(body={"token": "invite-0123", "invite_url": "/user/signup/"})
        return Reply(200, b"<form>", {"Set-Cookie": cookies, "Content-Type": "text/html"})

    server.route = route
    backend = LabelStudioBackend(server.url, LEGACY, cfg)
    try:
        with pytest.raises(StudioError, match=f"^{server.url}/user/signup/: unexpected answer"):
            backend.create_account("a@annotators.test", "pw-0123456789")
    finally:
        backend.close()


# --- a URL that carries more than the server ------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/?api_key=s3cretkey",
        "http://127.0.0.1:9#s3cretkey",
        "http://127.0.0.1:9/?",
    ],
)
def test_label_studio_url_with_a_query_is_refused_without_echoing_it(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    cfg = export_corpus(tmp_path / "c")
    use(monkeypatch, url, LEGACY)
    before = snapshot(cfg.root)
    result = cli("--corpus", cfg.root, "pull")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: LABEL_STUDIO_URL has a query"), result.output
    assert "s3cretkey" not in result.output and len(result.output.strip().splitlines()) == 1
    assert snapshot(cfg.root) == before


def test_studio_url_in_corpus_toml_with_a_query_is_refused(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = export_corpus(tmp_path / "c")
    toml = cfg.root / "corpus.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8") + '\n[studio]\nurl = "http://127.0.0.1:9/?x=s3cretkey"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", LEGACY)
    result = cli("--corpus", cfg.root, "pull")
    assert result.exit_code == 2, result.output
    assert "[studio] url has a query" in result.output, result.output
    assert "s3cretkey" not in result.output


@pytest.mark.parametrize("pid", [2**63, 0, None])
def test_a_project_found_without_a_valid_id_is_refused_not_made_again(
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    hostile: Callable[[], Hostile],
    pid: Any,
) -> None:
    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    found = {**project_answer(cfg), "id": pid}

    def route(m: str, p: str, b: bytes) -> Reply | None:
        if m == "GET" and p.startswith("/api/projects/?"):
            return Reply(body={"count": 1, "next": None, "results": [found]})
        return Reply(201, project_answer(cfg, 5)) if m == "POST" else None

    server.route = route
    use(monkeypatch, server.url, LEGACY)
    line = refused(cli, cfg.root, "push")
    assert line.startswith(f"error: {server.url}/api/projects: project "), line
    assert [m for m, *_ in server.seen] == ["GET"]


@pytest.mark.timeout(60)
def test_a_page_that_counts_more_tasks_than_were_asked_for_is_refused(
    tmp_path: Path, hostile: Callable[[], Hostile]
) -> None:
    """Else the reader asks for page after page (one task each) until the count is reached."""
    from tests.studio.test_export import export_tasks

    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    task = {**export_tasks()[0], "id": 1, "draft_exists": False}
    page = Reply(body={"total": 10**9, "tasks": [task]})
    server.route = pages_route(cfg, page, page)
    backend = LabelStudioBackend(server.url, LEGACY, cfg)
    try:
        project = backend.find_project(cfg.corpus.pretty_name)
        assert project is not None
        with pytest.raises(StudioError, match=f"^{server.url}/api/tasks: .* 1000000000 tasks"):
            list(backend.read_tasks(project, [1, 2, 3]))
        assert len(server.seen) < 10
    finally:
        backend.close()


# --- the real Label Studio: an import whose answer comes too late -----------------------------


@pytest.mark.studio
def test_an_import_that_timed_out_is_not_imported_again_by_the_next_push(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, studio_server: Any
) -> None:
    from newscorpus.annotation.backend import NewTask
    from newscorpus.annotation.push import project_spec
    from tests.studio.helpers import articles, studio_corpus, with_articles

    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(300))
    admin = studio_server.backend(cfg)
    hasty = LabelStudioBackend(studio_server.url, studio_server.token, cfg, timeout=0.05)
    try:
        project, _ = admin.ensure_project(project_spec(cfg), None)
        payload = hasty.prepare([NewTask(a) for a in arts])
        with pytest.raises(StudioError) as raised:
            hasty.import_tasks(project.id, payload)
        assert "Timeout" in str(raised.value) and studio_server.token not in str(raised.value)
        deadline = time.monotonic() + 60
        count = -1
        while time.monotonic() < deadline:  # the server carries the import out all the same
            time.sleep(0.5)
            now = admin.project(project.id).tasks
            if now == count and now > 0:
                break
            count = now
        assert count == 300  # sent once: no retry after the timeout
        use(monkeypatch, studio_server.url, studio_server.token)
        result = cli("--corpus", cfg.root, "push")
        assert result.exit_code == 0, result.output
        assert admin.project(project.id).tasks == 300  # reconciled, nothing imported twice
        assert studio_server.token not in result.output
    finally:
        hasty.close()
        admin.close()


@pytest.mark.studio
def test_a_personal_access_token_of_the_real_label_studio_never_shows(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, studio_server: Any
) -> None:
    """A PAT (a JWT refresh token) traded for access tokens: push and pull work, their
    output and errors hold neither token, with --debug neither."""
    from tests.studio.helpers import articles, studio_corpus, with_articles

    cfg = studio_corpus(tmp_path / "c")
    with_articles(cfg, articles(3))
    admin = studio_server.backend(cfg)
    try:
        admin._sdk.jwt_settings.update(
            api_tokens_enabled=True, legacy_api_tokens_enabled=True, api_token_ttl_days=30
        )
        token = admin._sdk.tokens.create().token
    finally:
        admin.close()
    assert isinstance(token, str) and token.count(".") == 2
    use(monkeypatch, studio_server.url, token)
    backend = LabelStudioBackend(studio_server.url, token, cfg)
    try:
        backend.whoami()
        fresh = backend._secrets()[-1]
        assert fresh != token  # traded for an access token
    finally:
        backend.close()
    missing = cli("--corpus", cfg.root, "pull")  # no project yet: one line
    assert missing.exit_code == 1 and missing.output.startswith("error: "), missing.output
    pushed = cli("--corpus", cfg.root, "push")
    pulled = cli("--corpus", cfg.root, "pull")
    assert (pushed.exit_code, pulled.exit_code) == (0, 0), pushed.output + pulled.output
    for result in (missing, pushed, pulled):
        assert token not in result.output and fresh not in result.output
        for part in token.split(".")[1:]:
            assert part not in result.output


@pytest.mark.timeout(60)
@pytest.mark.parametrize("listing", ["task_articles", "task_ids", "changed_tasks"])
def test_full_pages_without_end_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile: Callable[[], Hostile], listing: str
) -> None:
    import newscorpus.labelstudio.backend as ls

    monkeypatch.setattr(ls, "MAX_TASKS", 5_000)
    cfg = export_corpus(tmp_path / "c")
    server = hostile()
    full = [{"id": i, "data": {"article_id": f"a{i}"}, "updated_at": "9"} for i in range(1, 1001)]

    def route(m: str, p: str, b: bytes) -> Reply | None:
        if "page_size=1&" in p:  # the id range: 1 and 10^6 (sparse: listed)
            return Reply(body={"total": 2, "tasks": [{"id": 10**6 if p.endswith("page=2") else 1}]})
        return Reply(body={"total": 10**9, "tasks": full})

    server.route = route
    monkeypatch.setattr(ls, "RECENT_PAGE", 1000)
    backend = LabelStudioBackend(server.url, LEGACY, cfg)
    try:
        with pytest.raises(StudioError, match="more than 5,000 tasks listed"):
            if listing == "changed_tasks":
                list(backend.changed_tasks(1, "0"))
            else:
                list(getattr(backend, listing)(1))
        assert len(server.seen) < 10
    finally:
        backend.close()
