"""A small reusable layer over the Label Studio HTTP API (1.23), shared by push, pull,
adjudication and the demo.

Typical use::

    client = connect(cfg)                      # env LABEL_STUDIO_URL/API_KEY, else `studio start`
    project = client.find_project(cfg.corpus.pretty_name)
    for task in client.iter_tasks(project["id"]):          # paged, with annotations
        ...
    user = client.create_annotator("ann1@example.test", "a-long-password")
    as_user = client.as_user(user.token)
    as_user.submit_annotation(task_id, result)             # completed_by = that user

Tokens are never part of ``repr`` or error messages.
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from ..config import Config, _http_url
from ..errors import ConfigError, NewscorpusError, StudioError
from ..gather.urlnorm import has_credentials
from ..store import MAX_DEPTH, too_deep
from .server import load_credentials, mask

PAGE_SIZE = 500
# A Label Studio export or answer nests about 8 deep (tasks, annotations, results, values):
# past store.MAX_DEPTH it is refused, so nothing downstream (repr, comparisons, schema checks)
# can overflow the stack on a hostile file.
_NOT_JSON_LITERALS = (b"NaN", b"Infinity")
# Fields of the Data Manager's task list that pull does not read, left out of the answer: some
# cost a query per task (drafts, comments...); without them the list is as fast as the export.
# Kept: id, data, annotations, draft_exists, updated_at, created_at, project and the counts.
TASK_FIELDS_OMITTED = (
    "annotations_ids",
    "annotations_results",
    "annotators",
    "avg_lead_time",
    "comment_authors",
    "comment_count",
    "completed_at",
    "drafts",
    "file_upload",
    "inner_id",
    "is_labeled",
    "last_comment_updated_at",
    "meta",
    "overlap",
    "predictions",
    "predictions_model_versions",
    "predictions_results",
    "predictions_score",
    "storage_filename",
    "total_predictions",
    "unresolved_comment_count",
    "updated_by",
)


def parse_json(raw: bytes, where: str, error: type[NewscorpusError] = StudioError) -> Any:
    """Strict JSON (no NaN or Infinity), nested at most MAX_DEPTH deep; else ``error`` naming
    ``where`` and the line and column. Integers beyond 64 bits come back as floats (orjson)."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "UTF-8" in exc.msg:
            raise error(f"{where}: not UTF-8 text") from None
        msg = exc.msg
        if raw[exc.pos : exc.pos + 8].startswith(_NOT_JSON_LITERALS):  # after a sign too
            msg = "NaN and Infinity are not JSON numbers"
        elif msg == "depth limit exceeded":
            msg = f"nested deeper than {MAX_DEPTH} levels"
        raise error(f"{where}:{exc.lineno}:{exc.colno}: not JSON: {msg}") from None
    if isinstance(doc, (dict, list)) and too_deep(doc):
        raise error(f"{where}: not a Label Studio document: nested deeper than {MAX_DEPTH} levels")
    return doc


@dataclass(frozen=True)
class Annotator:
    """An annotator account: its Label Studio user id, e-mail and API token (never printed)."""

    id: int
    email: str
    token: str

    def __repr__(self) -> str:
        return f"Annotator(id={self.id}, token={mask(self.token)})"


def _is_jwt(token: str) -> bool:
    return token.count(".") == 2


class StudioClient:
    """An authenticated connection to one Label Studio server (legacy token or PAT)."""

    def __init__(self, url: str, token: str, timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._http = httpx.Client(base_url=self.url, timeout=timeout)
        self._http.headers["Authorization"] = self._auth_header()

    def __repr__(self) -> str:
        return f"StudioClient(url={self.url!r}, token={mask(self._token)})"

    def _auth_header(self) -> str:
        if not _is_jwt(self._token):
            return f"Token {self._token}"
        # A personal access token is a JWT refresh token: trade it for an access token.
        path = "/api/token/refresh/"
        r = self._send("POST", path, json={"refresh": self._token}, auth=False)
        access = self._object(r, path).get("access")
        if not isinstance(access, str):
            raise StudioError(f"{self.url}{path}: no access token in the answer")
        return f"Bearer {access}"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    # --- raw requests -----------------------------------------------------------------------

    def _send(self, method: str, path: str, auth: bool = True, **kw: Any) -> httpx.Response:
        try:
            if auth:
                r = self._http.request(method, path, **kw)
                if r.status_code == 401 and _is_jwt(self._token):  # access token expired
                    self._http.headers["Authorization"] = self._auth_header()
                    r = self._http.request(method, path, **kw)
            else:
                r = httpx.request(method, self.url + path, timeout=60, **kw)
        except httpx.HTTPError as exc:
            raise StudioError(f"{self.url}{path}: {exc.__class__.__name__}: {exc}") from None
        if r.status_code >= 400:
            raise StudioError(f"{self.url}{path}: HTTP {r.status_code}: {_detail(r)}")
        return r

    def _json(self, r: httpx.Response, path: str) -> Any:
        """The answer's JSON; StudioError naming the URL when it is not (not Label Studio?)."""
        return parse_json(r.content, f"{self.url}{path}: answer", StudioError)

    def _object(self, r: httpx.Response, path: str) -> dict[str, Any]:
        """The answer's JSON object; StudioError naming the URL when it is something else."""
        doc = self._json(r, path)
        if not isinstance(doc, dict):
            raise StudioError(f"{self.url}{path}: answer is not a JSON object (not Label Studio?)")
        return doc

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON document."""
        return self._json(self._send("GET", path, params=params), path)

    def get_object(self, path: str, **params: Any) -> dict[str, Any]:
        """GET a JSON object (StudioError naming the URL for anything else)."""
        return self._object(self._send("GET", path, params=params), path)

    def _task_list(self, tasks: Any, path: str) -> list[dict[str, Any]]:
        if not isinstance(tasks, list) or not all(
            isinstance(t, dict) and isinstance(t.get("id"), int) for t in tasks
        ):
            raise StudioError(f"{self.url}{path}: answer is not a list of tasks with ids")
        return tasks

    def post(self, path: str, payload: Any, **params: Any) -> Any:
        """POST JSON, return the JSON answer (None when empty)."""
        r = self._send("POST", path, json=payload, params=params)
        return self._json(r, path) if r.content else None

    def patch(self, path: str, payload: Any) -> Any:
        """PATCH JSON, return the JSON answer."""
        return self._json(self._send("PATCH", path, json=payload), path)

    def delete(self, path: str) -> None:
        """DELETE a resource."""
        self._send("DELETE", path)

    # --- projects and tasks -----------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        """The account behind the token."""
        return self.get_object("/api/current-user/whoami")

    def find_project(self, title: str) -> dict[str, Any] | None:
        """The project with exactly this title, or None."""
        page = 1
        while True:
            data = self.get_object("/api/projects", page=page, page_size=100, title=title)
            results = data.get("results", [])
            if not isinstance(results, list):
                raise StudioError(f"{self.url}/api/projects: answer without a list of results")
            for p in results:
                if isinstance(p, dict) and p.get("title") == title and isinstance(p.get("id"), int):
                    found: dict[str, Any] = p
                    return found
            if not data.get("next"):
                return None
            page += 1

    def create_project(self, **fields: Any) -> dict[str, Any]:
        """Create a project (title, label_config, expert_instruction, maximum_annotations...)."""
        result = self.post("/api/projects", fields)
        if not isinstance(result, dict) or not isinstance(result.get("id"), int):
            raise StudioError(f"{self.url}/api/projects: the new project has no id")
        return result

    def project(self, project_id: int) -> dict[str, Any]:
        """One project's settings and counters (task_number, num_tasks_with_annotations...)."""
        return self.get_object(f"/api/projects/{project_id}")

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        """Import tasks (with predictions) in one request; the new task ids, in order."""
        data = self.post(f"/api/projects/{project_id}/import", tasks, return_task_ids="true")
        ids = data.get("task_ids") if isinstance(data, dict) else None
        if (
            not isinstance(ids, list)
            or len(ids) != len(tasks)
            or not all(isinstance(i, int) for i in ids)
        ):
            raise StudioError(f"{self.url}: import into project {project_id} returned no task ids")
        return ids

    def iter_tasks(
        self,
        project_id: int,
        full: bool = True,
        page_size: int = PAGE_SIZE,
        query: dict[str, Any] | None = None,
        include: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every task of a project, page by page; ``full`` adds annotations, drafts, predictions.

        ``include="id,updated_at"`` (with ``full=False``) lists only those fields: fast.
        """
        page = 1
        while True:
            params: dict[str, Any] = {"project": project_id, "page": page, "page_size": page_size}
            if full:
                params["fields"] = "all"
            if include:
                params["include"] = include
            if query:
                params["query"] = json.dumps(query)
            try:
                data = self.get("/api/tasks", **params)
            except StudioError as exc:
                if "HTTP 404" in str(exc) and page > 1:
                    return  # past the last page
                raise
            tasks = data.get("tasks", []) if isinstance(data, dict) else data
            yield from self._task_list(tasks, "/api/tasks")
            if len(tasks) < page_size:
                return
            page += 1

    def task_id_range(self, project_id: int) -> tuple[int, int, int] | None:
        """(number of tasks, lowest id, highest id) of a project in two tiny requests; None if empty."""
        path = "/api/tasks"
        first = self.get_object(path, project=project_id, page=1, page_size=1, include="id")
        total = first.get("total") or 0
        if not isinstance(total, int):
            raise StudioError(f"{self.url}{path}: answer without a task count")
        if total == 0 or not first.get("tasks"):
            return None
        last = self.get_object(path, project=project_id, page=total, page_size=1, include="id")
        low = self._task_list(first.get("tasks"), path)
        high = self._task_list(last.get("tasks"), path)
        if not low or not high:
            raise StudioError(f"{self.url}{path}: answer without tasks")
        return total, int(low[0]["id"]), int(high[0]["id"])

    def iter_recent_tasks(self, project_id: int, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """A project's tasks (id, updated_at), most recently changed first."""
        page = 1
        while True:
            path = f"/api/projects/{project_id}/tasks/"
            try:
                tasks = self.get(path, page=page, page_size=page_size, include="id,updated_at")
            except StudioError as exc:
                if "HTTP 404" in str(exc):
                    return
                raise
            yield from self._task_list(tasks, path)
            if len(tasks) < page_size:
                return
            page += 1

    def read_tasks(self, project_id: int, task_ids: list[int]) -> list[dict[str, Any]]:
        """The tasks of ``task_ids`` (ids of other projects are ignored), by id, with every
        annotation and ``draft_exists``: the Data Manager's task list, which writes no file on
        the server (the export writes two per call). Consecutive ids are asked as a range."""
        if not task_ids:
            return []
        first, last = min(task_ids), max(task_ids)
        query: dict[str, Any] = {"ordering": ["tasks:id"]}
        if last - first + 1 == len(task_ids):
            value = {"min": first, "max": last}
            item = {"filter": "filter:tasks:id", "operator": "in", "type": "Number", "value": value}
            query["filters"] = {"conjunction": "and", "items": [item]}
        else:
            query["selectedItems"] = {"all": False, "included": task_ids}
        path = "/api/tasks"
        params: dict[str, Any] = {
            "project": project_id,
            "fields": "all",
            "omit": ",".join(TASK_FIELDS_OMITTED),
            "resolve_uri": "false",
            "page_size": len(task_ids),
            "query": json.dumps(query, separators=(",", ":")),
        }
        tasks: list[dict[str, Any]] = []
        page = 1
        while True:  # one page, unless the server caps page sizes (TASK_API_PAGE_SIZE_MAX)
            data = self.get_object(path, page=page, **params)
            total = data.get("total")
            if not isinstance(total, int) or isinstance(total, bool):
                raise StudioError(f"{self.url}{path}: answer without a task count")
            batch = self._task_list(data.get("tasks"), path)
            tasks += batch
            if len(tasks) >= total or not batch:
                break
            page += 1
        if len(tasks) != total:
            raise StudioError(
                f"{self.url}{path}: {len(tasks)} of {total} tasks of project {project_id} "
                "came back (did they change during the pull?); run it again"
            )
        return tasks

    def task_drafts(self, task_id: int) -> list[dict[str, Any]]:
        """Every draft of a task, whoever wrote it (the task list shows only one's own)."""
        path = f"/api/tasks/{task_id}/drafts"
        drafts = self.get(path)
        if not isinstance(drafts, list) or not all(isinstance(d, dict) for d in drafts):
            raise StudioError(f"{self.url}{path}: answer is not a list of drafts")
        return drafts

    def export_tasks(self, project_id: int, task_ids: list[int]) -> list[dict[str, Any]]:
        """The standard JSON export of some tasks (those with annotations), in one request.

        Label Studio 1.23 writes the export to two files on the server at every call and never
        removes them: pull reads ``read_tasks`` instead.
        """
        params = [("exportType", "JSON"), *(("ids[]", str(i)) for i in task_ids)]
        path = f"/api/projects/{project_id}/export"
        data = self._json(self._send("GET", path, params=params), path)
        if not isinstance(data, list):
            raise StudioError(f"{self.url}: export of project {project_id} is not a task list")
        return data

    def delete_task(self, task_id: int) -> None:
        """Delete one task (and its annotations)."""
        self.delete(f"/api/tasks/{task_id}")

    # --- annotators -------------------------------------------------------------------------

    def create_annotator(self, email: str, password: str) -> Annotator:
        """Sign an annotator up through the organisation's invite link; return id and token.

        Needs an admin client (to read the invite token). The new account gets a legacy API
        token (the organisation enables them when `studio start` creates it).
        """
        invite = self.get_object("/api/invite").get("token")
        if not isinstance(invite, str):
            raise StudioError(f"{self.url}/api/invite: answer without an invite token")
        with httpx.Client(base_url=self.url, timeout=60) as web:
            web.get("/user/signup/", params={"token": invite})
            csrf = web.cookies.get("csrftoken")
            if not csrf:
                raise StudioError(f"{self.url}/user/signup/: no CSRF cookie")
            r = web.post(
                f"/user/signup/?token={invite}",
                data={"csrfmiddlewaretoken": csrf, "email": email, "password": password},
                headers={"Referer": f"{self.url}/user/signup/"},
            )
            if r.status_code != 302:
                raise StudioError(
                    f"{self.url}/user/signup/: sign-up refused (HTTP {r.status_code}); "
                    "the e-mail may exist already or the password is too weak"
                )
            t = web.get("/api/current-user/token")
            if t.status_code != 200:
                raise StudioError(f"{self.url}/api/current-user/token: HTTP {t.status_code}")
            token = self._object(t, "/api/current-user/token").get("token")
            me = self._object(web.get("/api/current-user/whoami"), "/api/current-user/whoami")
        if not isinstance(token, str) or not isinstance(me.get("id"), int):
            raise StudioError(f"{self.url}/user/signup/: the new account has no token or id")
        return Annotator(id=me["id"], email=email, token=token)

    def as_user(self, token: str) -> StudioClient:
        """A client for the same server acting as another account."""
        return StudioClient(self.url, token)

    def submit_annotation(
        self, task_id: int, result: list[dict[str, Any]], cancelled: bool = False
    ) -> dict[str, Any]:
        """Submit an annotation as this client's user (``completed_by`` is that user)."""
        payload = {"result": result, "was_cancelled": cancelled}
        answer: dict[str, Any] = self.post(f"/api/tasks/{task_id}/annotations", payload)
        return answer

    def update_annotation(self, annotation_id: int, result: list[dict[str, Any]]) -> dict[str, Any]:
        """Replace an annotation's result (a new version, with a new updated_at)."""
        answer: dict[str, Any] = self.patch(f"/api/annotations/{annotation_id}", {"result": result})
        return answer

    def delete_annotation(self, annotation_id: int) -> None:
        """Delete an annotation."""
        self.delete(f"/api/annotations/{annotation_id}")


def _detail(r: httpx.Response) -> str:
    try:
        data = parse_json(r.content, "answer")
    except StudioError:
        return r.text[:200].replace("\n", " ")
    if isinstance(data, dict):
        data = data.get("validation_errors") or data.get("detail") or data
    text = json.dumps(data, ensure_ascii=False)
    return text if len(text) < 400 else text[:397] + "..."


def connect(cfg: Config) -> StudioClient:
    """Connect: LABEL_STUDIO_URL + LABEL_STUDIO_API_KEY if set, else ``[studio] url`` with
    LABEL_STUDIO_API_KEY, else the server of ``newscorpus studio start`` (its saved login)."""
    url = os.environ.get("LABEL_STUDIO_URL")
    key = os.environ.get("LABEL_STUDIO_API_KEY")
    if url:
        if not key:
            raise ConfigError(
                "LABEL_STUDIO_URL is set but LABEL_STUDIO_API_KEY is not: set both "
                "(or neither, to use the server of `newscorpus studio start`)"
            )
        if has_credentials(url):  # the URL reaches errors and records: never its password
            raise ConfigError(
                "LABEL_STUDIO_URL carries a user name or password (user:pw@): give the token "
                "in LABEL_STUDIO_API_KEY and the URL without them"
            )
        if not _http_url(url):
            raise ConfigError(f"LABEL_STUDIO_URL {url!r}: not an http(s) URL with a host")
        return StudioClient(url, key)
    if cfg.studio.url and key:  # an existing server named in corpus.toml, its token from the env
        return StudioClient(cfg.studio.url, key)
    creds = load_credentials(cfg)
    if creds is None:
        if cfg.studio.url:
            raise ConfigError(
                f"{cfg.path}: [studio] url = {cfg.studio.url!r}: set LABEL_STUDIO_API_KEY to a "
                "token of that server (tokens never go in corpus.toml)"
            )
        raise StudioError(
            "no Label Studio server: run `newscorpus studio start`, "
            "or set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY"
        )
    return StudioClient(cfg.studio.url or creds.url, creds.token)
