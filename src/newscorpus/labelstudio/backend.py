"""Label Studio as the annotation backend, on ``label-studio-sdk`` (2.x; tested with 2.0.19
against Label Studio 1.23.2), through its client class ``LabelStudioBase``.

The SDK does the token kinds (a legacy token, or a personal access token: a JWT refresh token
traded for access tokens, refreshed when they expire), paging and the typed calls: projects
(list, get, create, update, import), users, invites, annotations. Two things go through the
SDK's own authenticated HTTP client instead of its typed calls, each for a reason named where it
is done: the Data Manager's task list (read in bulk, parsed strictly) and the sign-up of a new
account (a web form, which has no API). Every error becomes one ``StudioError`` line naming the
URL; the token is never part of ``repr`` or of any message.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from functools import cache
from typing import Any, TypeVar

import httpx
import orjson

# LabelStudioBase, not label_studio_sdk.client.LabelStudio: the subclass only adds wrappers we
# do not call (tasks.list with fields=all, project label interfaces) and imports the SDK's
# label_interface package for them, which doubles the SDK's import time (~1 s -> ~2-3 s here).
from label_studio_sdk.base_client import LabelStudioBase
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.core.http_client import HttpClient
from label_studio_sdk.core.request_options import RequestOptions

from ..annotation.backend import (
    Account,
    AccountRights,
    AnnotationBackend,
    NewTask,
    PreparedTask,
    Project,
    ProjectSpec,
    Submission,
    Task,
    TaskStamp,
)
from ..config import Config
from ..errors import StudioError
from ..records import Annotation
from .convert import MAX_ID, annotation_result, convert_task, task_body
from .labeling import Interface, instructions_html, label_config, parse_interface
from .prelabel import MODEL_VERSION
from .strictjson import parse_json

T = TypeVar("T")
PARSED = "newscorpus.json"  # where an answer's strictly parsed JSON is kept (Response.extensions)
TIMEOUT = 300.0
PAGE = 500  # consecutive task ids per request (asked as a range)
LIST_PAGE = 200  # scattered task ids per request (listed in the URL: kept short for proxies)
ID_PAGE = 1000  # tasks per page when only ids (and article ids) are listed
RECENT_PAGE = 100  # tasks per page of the most recently changed first
# most tasks of one project read or listed (far more than a Label Studio project holds): a
# hostile count (10^12) is not a range of ids in memory, endless full pages are not endless
MAX_TASKS = 2_000_000
AHEAD = 2  # pages of tasks asked for ahead of the one being converted (so the server never waits)
# No retry of a request the server may have carried out (an import would be doubled): the SDK
# retries 5xx, 408, 409 and 429 twice by default.
ONCE: RequestOptions = {"max_retries": 0}
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


def _printable(text: str) -> str:
    """``text`` with every character that is not printable escaped (``\\x1b``, ``\\r``,
    ``\\u2028``...): what a server says must not move the cursor, clear the screen or start
    a new line on the terminal or in a log."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _detail(body: Any) -> str:
    """The useful part of an error answer, short, on one printable line."""
    if isinstance(body, dict):
        body = body.get("validation_errors") or body.get("detail") or body
    try:
        text = json.dumps(body, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = type(body).__name__
    text = _printable(text)
    return text if len(text) < 400 else text[:397] + "..."


def _response_detail(r: httpx.Response) -> str:
    try:
        return _detail(parse_json(r.content, "answer"))
    except StudioError:
        return _printable(r.text[:200].replace("\n", " "))


class _HTTPStatus(StudioError):
    """An HTTP error answer of ``_send_get``; its status is read, not its text (which the
    server writes: an error page may say "HTTP 404")."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _is_id(value: Any) -> bool:
    """A Label Studio id: an int (not a bool) from 1 to 2^63-1."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def _int(value: Any) -> int:
    """A counter of Label Studio (an int, or digits: the SDK types some as str)."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS settings (certifi, or SSL_CERT_FILE/SSL_CERT_DIR), made once: building
    them takes ~40 ms, which every backend (every pull, every account) paid again (httpx 0.28)."""
    return httpx.create_ssl_context()


def _removed(user: Any) -> bool:
    """An account removed from the organisation: Label Studio 1.23 lists it with its names
    and e-mail replaced (users/serializers.py: "Deleted", "Deleted", "User")."""
    return (
        getattr(user, "email", None) == "Deleted"
        and getattr(user, "first_name", None) == "Deleted"
        and getattr(user, "last_name", None) == "User"
    )


def _project(raw: dict[str, Any]) -> Project:
    return Project(
        id=int(raw["id"]),
        title=str(raw.get("title") or ""),
        tasks=_int(raw.get("task_number")),
        annotations=_int(raw.get("total_annotations_number"))
        + _int(raw.get("skipped_annotations_number")),
        raw=raw,
    )


class LabelStudioBackend(AnnotationBackend):
    """One Label Studio server, as one account, for one corpus."""

    source = "labelstudio"
    record_prefix = "ls"

    def __init__(self, url: str, token: str, cfg: Config, timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._cfg = cfg
        self._timeout = timeout
        self._iface: Interface | None = None
        self._http = httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            verify=_tls(),
            event_hooks={"response": [self._strict]},
        )
        with self._errors("/api/token/refresh/"):  # a PAT without an expiry, or expired
            try:
                self._sdk = LabelStudioBase(
                    base_url=self.url, api_key=token, timeout=timeout, httpx_client=self._http
                )
            except (ValueError, TypeError, OverflowError):  # its "exp" is not a timestamp
                raise StudioError(
                    f"{self.url}: the API key is a JWT whose expiry cannot be read "
                    "(not a Label Studio personal access token?)"
                ) from None

    def __repr__(self) -> str:
        return f"LabelStudioBackend(url={self.url!r})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    # --- errors and raw requests --------------------------------------------------------------

    def _secrets(self) -> list[str]:
        """The token and the access token it was traded for (a personal access token)."""
        tokens = getattr(getattr(self, "_sdk", None), "_client_wrapper", None)
        fresh = getattr(getattr(tokens, "_tokens_client", None), "_access_token", None)
        return [t for t in (self._token, fresh) if isinstance(t, str) and len(t) >= 8]

    def _fail(self, message: str) -> StudioError:
        """A StudioError of ``message`` without the token, should the server have echoed it
        (a proxy's or a debug page's dump of the request headers)."""
        for secret in self._secrets():
            message = message.replace(secret, "[token]")
        return StudioError(message)

    def _same_server(self, response: httpx.Response) -> None:
        """Refuse a redirect to another server: httpx would follow it with the request's body
        (a 307/308 of the token refresh resends the refresh token) and read that server's
        answers as this one's. A redirect on the same server (or from http to https) is
        followed."""
        if not response.has_redirect_location:
            return
        try:
            target = response.request.url.join(response.headers["Location"])
        except (httpx.InvalidURL, ValueError):
            target = httpx.URL("invalid:")
        base = httpx.URL(self.url)
        here = _origin(base)
        if _origin(target) == here or (
            target.host == base.host
            and here == ("http", base.host, None)
            and _origin(target) == ("https", base.host, None)
        ):
            return
        port = f":{target.port}" if target.port else ""
        where = response.request.url.copy_with(query=None)
        raise self._fail(
            _printable(
                f"{where}: HTTP {response.status_code}: redirect to {target.scheme}://"
                f"{target.host}{port} (another server): not followed"
            )
        )

    def _strict(self, response: httpx.Response) -> None:
        """Every answer the SDK reads is strict JSON first (``strictjson``: no NaN, not nested
        past MAX_DEPTH), parsed once and kept for the calls that read it raw: the SDK's own
        parser (the stdlib's) takes NaN and overflows the stack on a deeply nested answer."""
        self._same_server(response)
        if not 200 <= response.status_code < 300:
            return
        response.read()
        if response.content:
            where = f"{response.request.url.copy_with(query=None)}: answer"
            response.extensions[PARSED] = parse_json(response.content, where, StudioError)

    @contextmanager
    def _errors(self, path: str) -> Iterator[None]:
        """SDK and HTTP failures as one StudioError line naming the URL (never the token)."""
        try:
            yield
        except ApiError as exc:  # never str(exc): it holds the answer's headers
            if exc.status_code is None:
                raise self._fail(f"{self.url}{path}: {_detail(exc.body)}") from None
            raise self._fail(
                f"{self.url}{path}: HTTP {exc.status_code}: {_detail(exc.body)}"
            ) from None
        except StudioError as exc:  # from the answer hooks (strict JSON, redirects)
            raise self._fail(str(exc)) from None
        except httpx.HTTPError as exc:
            detail = _printable(f"{exc.__class__.__name__}: {exc}")
            raise self._fail(f"{self.url}{path}: {detail}") from None
        except (
            ValueError,
            TypeError,
            KeyError,
            AttributeError,
            RecursionError,
            ArithmeticError,  # an access token whose expiry is past year 9999
            httpx.CookieConflict,
        ) as exc:  # answer of another kind
            raise StudioError(
                f"{self.url}{path}: unexpected answer ({type(exc).__name__}; not Label Studio?)"
            ) from None

    def _call(self, path: str, fn: Callable[[], T]) -> T:
        with self._errors(path):
            return fn()

    def _send_get(
        self, path: str, params: dict[str, Any], http: HttpClient | None = None
    ) -> httpx.Response:
        """GET through the SDK's own HTTP client (its base URL, token kind and refresh, timeout),
        or ``http`` (the page fetcher's, the same but its own connections), for what the SDK's
        typed calls cannot do; StudioError on an HTTP error.
        ``_client_wrapper.httpx_client`` is what every typed call of SDK 2.0.19 sends through."""
        with self._errors(path):
            r = (http or self._sdk._client_wrapper.httpx_client).request(
                path.lstrip("/"), method="GET", params=params, request_options=ONCE
            )
        if r.status_code >= 400:
            error = self._fail(f"{self.url}{path}: HTTP {r.status_code}: {_response_detail(r)}")
            raise _HTTPStatus(str(error), r.status_code)
        return r

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        """``_send_get``, the answer parsed strictly (``strictjson``)."""
        r = self._send_get(path, params)
        if PARSED in r.extensions:
            return r.extensions[PARSED]
        return parse_json(r.content, f"{self.url}{path}: answer", StudioError)

    def _fetch(self, fetcher: _PageFetcher, path: str, params: dict[str, Any]) -> bytes:
        """``_send_get``'s answer unparsed (the fetcher's client has no parsing hook): the page
        fetcher asks for the next page at once and the reader parses this one (strictly, with
        ``_parsed_object``) while the server works."""
        return self._send_get(path, params, fetcher.sdk_http).content

    def _parsed_object(self, raw: bytes, path: str) -> dict[str, Any]:
        return self._as_object(parse_json(raw, f"{self.url}{path}: answer", StudioError), path)

    def _object(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._as_object(self._get(path, params), path)

    def _as_object(self, doc: Any, path: str) -> dict[str, Any]:
        if not isinstance(doc, dict):
            raise StudioError(f"{self.url}{path}: answer is not a JSON object (not Label Studio?)")
        return doc

    def _task_list(self, tasks: Any, path: str) -> list[dict[str, Any]]:
        if not isinstance(tasks, list) or not all(
            isinstance(t, dict) and _is_id(t.get("id")) for t in tasks
        ):
            raise StudioError(f"{self.url}{path}: answer is not a list of tasks with ids")
        return tasks

    @staticmethod
    def _dump(model: Any) -> dict[str, Any]:
        dump = getattr(model, "model_dump", None)  # the SDK's answers are pydantic models
        if dump is None:
            raise TypeError(type(model).__name__)
        raw: dict[str, Any] = dump(warnings=False)  # the SDK types some counters as str
        return raw

    # --- projects -----------------------------------------------------------------------------

    def find_project(self, title: str) -> Project | None:
        """The project with exactly this title, or None."""
        path = "/api/projects"
        with self._errors(path):
            pages: Iterator[Any] = self._sdk.projects.list(title=title, page_size=100).iter_pages()
            for page in pages:
                for p in page.items or []:
                    if p.title == title:
                        if not _is_id(p.id):  # else push would make a second project
                            raise StudioError(
                                f"{self.url}{path}: project {title!r} has no id from 1 to "
                                "2^63-1 (not Label Studio?)"
                            )
                        return _project(self._dump(p))
                if not page.response.next:  # the SDK would ask for one page more (a 404)
                    return None
        return None

    def project(self, project_id: int) -> Project:
        """One project's settings and counters."""
        path = f"/api/projects/{project_id}"
        return _project(self._call(path, lambda: self._dump(self._sdk.projects.get(project_id))))

    def interface(self) -> Interface:
        """The labeling interface of the corpus (built once)."""
        if self._iface is None:
            self._iface = parse_interface(label_config(self._cfg))
        return self._iface

    def _settings(self, spec: ProjectSpec) -> dict[str, Any]:
        """The project settings kept in line with the corpus (besides the labeling config)."""
        if spec.review:
            return {
                "expert_instruction": instructions_html(self._cfg),
                "show_instruction": True,
                "maximum_annotations": spec.overlap,
                "show_collab_predictions": True,
                "description": spec.description,
            }
        return {
            "expert_instruction": instructions_html(self._cfg),
            "show_instruction": True,
            "maximum_annotations": spec.overlap,
            "overlap_cohort_percentage": 100,
            "show_collab_predictions": True,
            # independence, as far as Label Studio Community allows: no annotation history, no
            # ground-truth tasks first; it cannot hide others' annotations in the task list
            "show_annotation_history": False,
            "show_ground_truth_first": False,
            "model_version": MODEL_VERSION,  # annotators start from the pre-annotations
            "description": spec.description,
        }

    def ensure_project(self, spec: ProjectSpec, found: Project | None) -> tuple[Project, bool]:
        """Create the project, or set its labeling config and settings when they differ (a
        review project is left as it is once made)."""
        xml = label_config(self._cfg)
        settings = self._settings(spec)
        if found is None:
            path = "/api/projects"
            created = self._call(
                path,
                lambda: self._sdk.projects.create(
                    title=spec.title, label_config=xml, **settings, request_options=ONCE
                ),
            )
            if not _is_id(created.id):
                raise StudioError(f"{self.url}{path}: the new project has no id")
            return _project(self._dump(created)), False
        if spec.review:
            return found, False
        raw = found.raw
        path = f"/api/projects/{found.id}"
        updated = False
        if str(raw.get("label_config") or "").strip() != xml.strip():
            try:
                self._call(path, lambda: self._sdk.projects.update(found.id, label_config=xml))
            except StudioError as exc:
                raise StudioError(
                    f"Label Studio refused the new labeling config of project {spec.title!r} "
                    f"(it would orphan existing labels; remove them or keep the old targets): {exc}"
                ) from None
            updated = True
        changed = {k: v for k, v in settings.items() if raw.get(k) != v}
        if changed:
            self._call(path, lambda: self._sdk.projects.update(found.id, **changed))
            return self.project(found.id), updated
        return found, updated

    # --- tasks --------------------------------------------------------------------------------

    def prepare(self, tasks: Sequence[NewTask]) -> list[PreparedTask]:
        """The tasks as Label Studio tasks, their predictions checked against the interface."""
        iface = self.interface()
        return [PreparedTask(t.article.id, task_body(t, iface)) for t in tasks]

    def import_tasks(self, project_id: int, tasks: Sequence[PreparedTask]) -> list[int]:
        """Import tasks (with predictions) in one request; the new task ids, in order."""
        path = f"/api/projects/{project_id}/import"
        # Beside the SDK (2.0.19): its typed import_tasks runs the payload through its
        # jsonable_encoder and the stdlib's json, which cost push a third more than the import
        # itself on 10,000 tasks (docs/studio-bench.md); the body is encoded once with orjson
        # (checked payloads: no NaN reaches here) and sent through the SDK's own client (base URL,
        # token kind and refresh), once, never retried.
        body = orjson.dumps([dict(t.body) for t in tasks])
        with self._errors(path):
            r = self._sdk._client_wrapper.httpx_client.request(
                path.lstrip("/"),
                method="POST",
                params={"return_task_ids": "true"},
                content=body,
                headers={"Content-Type": "application/json"},
                request_options=ONCE,
            )
        if r.status_code >= 400:
            raise self._fail(f"{self.url}{path}: HTTP {r.status_code}: {_response_detail(r)}")
        answer = (
            r.extensions[PARSED]
            if PARSED in r.extensions
            else parse_json(r.content, f"{self.url}{path}: answer", StudioError)
        )
        ids = answer.get("task_ids") if isinstance(answer, dict) else None
        if (
            not isinstance(ids, list)
            or len(ids) != len(tasks)
            or not all(_is_id(i) for i in ids)
            or len(set(ids)) != len(ids)
        ):
            raise StudioError(
                f"{self.url}{path}: import into project {project_id} returned no task ids "
                f"(one distinct id from 1 to 2^63-1 per task)"
            )
        return ids

    def _pages(
        self, path: str, params: dict[str, Any], page_size: int
    ) -> Iterator[list[dict[str, Any]]]:
        """The pages of a task list (``tasks`` of an object, or a bare list) until a short one;
        Label Studio answers 404 past the last page."""
        page = 1
        listed = 0
        while True:
            try:
                data = self._get(path, {**params, "page": page, "page_size": page_size})
            except _HTTPStatus as exc:
                if exc.status == 404 and (page > 1 or path.endswith("/tasks/")):
                    return
                raise
            tasks = data.get("tasks", []) if isinstance(data, dict) else data
            batch = self._task_list(tasks, path)
            listed += len(batch)
            if listed > MAX_TASKS:
                raise StudioError(
                    f"{self.url}{path}: more than {MAX_TASKS:,} tasks listed (not Label Studio?)"
                )
            yield batch
            if len(batch) < page_size:
                return
            page += 1

    # The task lists below are read through the SDK's HTTP client, not ``tasks.list``: SDK
    # 2.0.19 builds a pydantic model per task from the stdlib's JSON (slower than the export the
    # pull is measured against, and it accepts NaN and overflows the stack on a deeply nested
    # answer), and it has no parameter to leave fields out of the Data Manager's list.

    def task_articles(self, project_id: int) -> Iterator[tuple[int, str]]:
        """(task id, article id) of every task that carries an article id."""
        params = {"project": project_id, "include": "id,data"}
        for batch in self._pages("/api/tasks", params, ID_PAGE):
            for task in batch:
                aid = (task.get("data") or {}).get("article_id")
                if isinstance(aid, str):
                    yield int(task["id"]), aid

    def _task_id_range(self, project_id: int) -> tuple[int, int, int] | None:
        """(number of tasks, lowest id, highest id) in two tiny requests; None if empty."""
        path = "/api/tasks"
        params = {"project": project_id, "page_size": 1, "include": "id"}
        first = self._object(path, {**params, "page": 1})
        total = first.get("total") or 0
        if not isinstance(total, int):
            raise StudioError(f"{self.url}{path}: answer without a task count")
        if total == 0 or not first.get("tasks"):
            return None
        last = self._object(path, {**params, "page": total})
        low = self._task_list(first.get("tasks"), path)
        high = self._task_list(last.get("tasks"), path)
        if not low or not high:
            raise StudioError(f"{self.url}{path}: answer without tasks")
        return total, int(low[0]["id"]), int(high[0]["id"])

    def task_ids(self, project_id: int) -> list[int]:
        """Every task id: consecutive id ranges when dense (no listing), else listed."""
        span = self._task_id_range(project_id)
        if span is None:
            return []
        total, low, high = span
        if low <= high and high - low + 1 <= min(2 * total + PAGE, MAX_TASKS):
            return list(range(low, high + 1))  # ids of other projects are left out later
        params = {"project": project_id, "include": "id"}
        return [int(t["id"]) for b in self._pages("/api/tasks", params, ID_PAGE) for t in b]

    def changed_tasks(self, project_id: int, since: str) -> Iterator[TaskStamp]:
        """Tasks changed at or after ``since``, most recently changed first."""
        path = f"/api/projects/{project_id}/tasks/"
        for batch in self._pages(path, {"include": "id,updated_at"}, RECENT_PAGE):
            for task in batch:
                stamp = str(task.get("updated_at") or "")
                if stamp < since:
                    return
                yield TaskStamp(int(task["id"]), stamp)

    @staticmethod
    def _page_params(project_id: int, task_ids: list[int]) -> dict[str, Any]:
        """The Data Manager's task list of ``task_ids``, by id, with every annotation and
        ``draft_exists``; consecutive ids are asked as a range."""
        first, last = min(task_ids), max(task_ids)
        query: dict[str, Any] = {"ordering": ["tasks:id"]}
        if last - first + 1 == len(task_ids):
            value = {"min": first, "max": last}
            item = {"filter": "filter:tasks:id", "operator": "in", "type": "Number", "value": value}
            query["filters"] = {"conjunction": "and", "items": [item]}
        else:
            query["selectedItems"] = {"all": False, "included": task_ids}
        return {
            "project": project_id,
            "fields": "all",
            "omit": ",".join(TASK_FIELDS_OMITTED),
            "resolve_uri": "false",
            "page_size": len(task_ids),
            "query": json.dumps(query, separators=(",", ":")),
        }

    def _first_page(self, fetcher: _PageFetcher, project_id: int, task_ids: list[int]) -> bytes:
        """The unparsed first page of ``_read_page`` (what the page fetcher downloads)."""
        params = {**self._page_params(project_id, task_ids), "page": 1}
        return self._fetch(fetcher, "/api/tasks", params)

    def _read_page(
        self, project_id: int, task_ids: list[int], first: bytes | None = None
    ) -> list[dict[str, Any]]:
        """The tasks of ``task_ids`` (ids of other projects are ignored), by id, with every
        annotation and ``draft_exists``: the Data Manager's task list, which writes no file on
        the server (the export writes two per call). ``first``: its first page, fetched already."""
        if not task_ids:
            return []
        path = "/api/tasks"
        params = self._page_params(project_id, task_ids)
        tasks: list[dict[str, Any]] = []
        page = 1
        while True:  # one page, unless the server caps page sizes (TASK_API_PAGE_SIZE_MAX)
            if page == 1 and first is not None:
                data = self._parsed_object(first, path)
            else:
                data = self._object(path, {**params, "page": page})
            total = data.get("total")
            if not isinstance(total, int) or isinstance(total, bool):
                raise StudioError(f"{self.url}{path}: answer without a task count")
            if total > len(task_ids):  # else page after page until the count is reached
                raise StudioError(
                    f"{self.url}{path}: answer counts {total} tasks of the {len(task_ids)} "
                    "asked for (not Label Studio?)"
                )
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

    def _drafts(self, task_id: int) -> list[dict[str, Any]]:
        """Every draft of a task, whoever wrote it (the task list shows only one's own)."""
        path = f"/api/tasks/{task_id}/drafts"
        drafts = self._get(path, {})
        if not isinstance(drafts, list) or not all(isinstance(d, dict) for d in drafts):
            raise StudioError(f"{self.url}{path}: answer is not a list of drafts")
        return drafts

    def _annotated(
        self, project_id: int, ids: list[int], first: bytes | None = None
    ) -> list[dict[str, Any]]:
        """The tasks of ``ids`` that have annotations, each with its drafts (all authors)."""
        tasks = [t for t in self._read_page(project_id, ids, first) if t.get("annotations")]
        for task in tasks:
            task["drafts"] = self._drafts(int(task["id"])) if task.get("draft_exists") else []
        return tasks

    def read_tasks(self, project: Project, task_ids: Sequence[int]) -> Iterator[Task]:
        """The annotated tasks of ``task_ids``, a page at a time, checked against the project's
        labeling config.

        Where the time goes (profile of a pull of 2,000 tasks with 4,000 annotations, Label
        Studio 1.23.2): ~90% is the server building the pages, one at a time (its threads share
        one GIL: two pages asked at once take as long as one after the other). So one thread
        fetches the pages back to back, up to AHEAD ahead, unparsed, and this one parses each
        strictly, fetches its drafts and converts it while the server builds the next: the
        server never waits for our parsing. When the reader stops early (an error, Ctrl-C, or
        it gave up), the fetch in flight is cut at once (its connection shut), not waited for.
        """
        iface = parse_interface(str(project.raw.get("label_config") or "<View/>"))
        origin = f"{self.url} project {project.id}"
        chunks = _chunks(list(task_ids))
        n = 0
        fetcher = _PageFetcher(self)
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                ahead: deque[Future[bytes]] = deque(
                    pool.submit(self._first_page, fetcher, project.id, c) for c in chunks[:AHEAD]
                )
                try:
                    for i, chunk in enumerate(chunks):
                        raw = ahead.popleft().result()
                        if i + AHEAD < len(chunks):
                            following = chunks[i + AHEAD]
                            ahead.append(
                                pool.submit(self._first_page, fetcher, project.id, following)
                            )
                        for task in self._annotated(project.id, chunk, raw):
                            yield convert_task(self._cfg, task, n, iface, origin)
                            n += 1
                finally:  # stopped early: fetch no more pages, cut the one in flight
                    for pending in ahead:
                        pending.cancel()
                    fetcher.stop()
        finally:
            fetcher.close()

    # --- accounts -----------------------------------------------------------------------------

    def accounts(self) -> list[Account]:
        """Every account of the organisation (their tokens are not readable: left empty); one
        removed from it is listed inactive (Label Studio shows it as "Deleted User")."""
        path = "/api/users"
        users = self._call(path, lambda: list(self._sdk.users.list()))
        if not all(_is_id(getattr(u, "id", None)) for u in users):
            raise StudioError(f"{self.url}{path}: answer is not a list of users with ids")
        return [
            Account(id=u.id, email=str(u.email or ""), token="", active=not _removed(u))
            for u in users
        ]

    def _invite_token(self) -> str:
        path = "/api/invite"
        invite = self._call(path, lambda: self._sdk.organizations.invites.get_invite_link())
        token = invite.token if isinstance(invite.token, str) else None
        if not token:
            raise StudioError(f"{self.url}{path}: answer without an invite token")
        return token

    def _sign_up(self, web: httpx.Client, email: str, password: str) -> None:
        """Label Studio's sign-up form, through the organisation's invite link, on ``web``
        (which is then logged in as the new account)."""
        token = self._invite_token()
        web.get("/user/signup/", params={"token": token})
        csrf = web.cookies.get("csrftoken")
        if not csrf:
            raise StudioError(f"{self.url}/user/signup/: no CSRF cookie")
        r = web.post(
            f"/user/signup/?token={token}",
            data={"csrfmiddlewaretoken": csrf, "email": email, "password": password},
            headers={"Referer": f"{self.url}/user/signup/"},
        )
        if r.status_code != 302:
            raise StudioError(
                f"{self.url}/user/signup/: sign-up of {email} refused (HTTP {r.status_code}); "
                "the e-mail may have an account already (a removed account keeps its e-mail) "
                "or the password is too weak"
            )

    def create_account(self, email: str, password: str) -> Account:
        """Sign an annotator up through the organisation's invite link; return id and token.

        Needs an admin account (to read the invite token). The new account gets a legacy API
        token (the organisation enables them when `studio start` creates it). The sign-up is
        Label Studio's web form (SDK 2.0.19 has no call that makes an account with a password
        and returns its token), so it goes through plain HTTP with the form's CSRF cookie.
        """
        with self._errors("/user/signup/"), httpx.Client(base_url=self.url, timeout=60) as web:
            self._sign_up(web, email, password)
            t = web.get("/api/current-user/token")
            if t.status_code != 200:
                raise StudioError(f"{self.url}/api/current-user/token: HTTP {t.status_code}")
            key = parse_json(t.content, f"{self.url}/api/current-user/token: answer")
        if not isinstance(key, dict) or not isinstance(key.get("token"), str):
            raise StudioError(f"{self.url}/user/signup/: the new account has no token")
        account = self.as_account(Account(id=0, email=email, token=key["token"]))
        try:
            me = account._call("/api/current-user/whoami", lambda: account._sdk.users.whoami())
        finally:
            account.close()
        if not _is_id(getattr(me, "id", None)):
            raise StudioError(f"{self.url}/user/signup/: the new account has no id")
        return Account(id=me.id, email=email, token=key["token"])

    def create_member(self, email: str, password: str) -> Account:
        """Sign an annotator up (as ``create_account``) and read only its id, as the new
        account's session: no API token is read (a server may not hand out legacy tokens)."""
        path = "/api/current-user/whoami"
        with self._errors("/user/signup/"), httpx.Client(base_url=self.url, timeout=60) as web:
            self._sign_up(web, email, password)
            r = web.get(path)
            if r.status_code != 200:
                raise StudioError(f"{self.url}{path}: HTTP {r.status_code} for the new account")
            me = parse_json(r.content, f"{self.url}{path}: answer")
        if not isinstance(me, dict) or not _is_id(me.get("id")):
            raise StudioError(f"{self.url}/user/signup/: the new account has no id")
        return Account(id=me["id"], email=email, token="")

    def _me(self) -> dict[str, Any]:
        path = "/api/current-user/whoami"
        me = self._object(path, {})
        if not _is_id(me.get("id")):
            raise StudioError(f"{self.url}{path}: answer without an account id")
        return me

    def rights(self) -> AccountRights:
        """Read what this account may do: Label Studio lets any member read the invite link
        (so make accounts) and only the organisation's owner remove members."""
        me = self._me()
        org = me.get("active_organization")
        create = deactivate = False
        with suppress(_HTTPStatus):
            create = bool(self._object("/api/invite", {}).get("token"))
        if _is_id(org):
            with suppress(_HTTPStatus):
                detail = self._object(f"/api/organizations/{org}", {})
                deactivate = detail.get("created_by") == me["id"]
        return AccountRights(user_id=int(me["id"]), create=create, deactivate=deactivate)

    def deactivate(self, account_id: int) -> None:
        """Remove a member from the organisation (Label Studio's soft delete: the account
        and its annotations stay; it can log in but open no project, task or annotation)."""
        org: Any = self._me().get("active_organization")
        if not _is_id(org):
            raise StudioError(f"{self.url}/api/current-user/whoami: answer without an organisation")
        path = f"/api/organizations/{org}/memberships/{account_id}"
        self._call(
            path,
            lambda: self._sdk.organizations.members.delete(
                id=org, user_pk=account_id, request_options=ONCE
            ),
        )

    def _progress(self, project_id: int) -> Iterator[dict[str, Any]]:
        """Every task of a project with its annotations and ``draft_exists``, without the task
        data (the Data Manager's list)."""
        params = {
            "project": project_id,
            "fields": "all",
            "omit": ",".join((*TASK_FIELDS_OMITTED, "data")),
            "resolve_uri": "false",
        }
        for batch in self._pages("/api/tasks", params, ID_PAGE):
            yield from batch

    def started_tasks(self, project_id: int) -> set[int]:
        """Tasks with an annotation (submitted or skipped) or a draft."""
        return {
            int(t["id"])
            for t in self._progress(project_id)
            if t.get("annotations") or t.get("draft_exists") or _int(t.get("total_annotations"))
        }

    def delete_tasks(self, project_id: int, task_ids: Sequence[int]) -> None:
        """Delete tasks one by one (the project is named in errors)."""
        for task_id in task_ids:
            path = f"/api/tasks/{task_id}"
            try:
                with self._errors(path):
                    self._sdk.tasks.delete(id=str(task_id), request_options=ONCE)
            except StudioError as exc:
                raise StudioError(f"{exc} (a task of project {project_id})") from None

    def submissions(
        self, project_id: int, task_ids: Sequence[int] | None = None
    ) -> list[Submission]:
        """Every annotation (submitted or skipped) of a project, or of some of its tasks:
        author, ``created_at``, ``was_cancelled`` and ``lead_time``, from the Data Manager's task
        list (all tasks: without their data, a page per ID_PAGE tasks; some: by id, a page per
        PAGE consecutive or LIST_PAGE scattered ids); no request per task."""
        if task_ids is None:
            tasks: Iterator[dict[str, Any]] = self._progress(project_id)
        else:
            tasks = (t for c in _chunks(list(task_ids)) for t in self._read_page(project_id, c))
        found: list[Submission] = []
        for task in tasks:
            for ann in task.get("annotations") or []:
                if not isinstance(ann, dict):
                    continue
                user: Any = ann.get("completed_by")
                if isinstance(user, dict):
                    user = user.get("id")
                if not _is_id(user):
                    continue
                lead: Any = ann.get("lead_time")
                timed = isinstance(lead, int | float) and not isinstance(lead, bool)
                found.append(
                    Submission(
                        task_id=int(task["id"]),
                        user=user,
                        created_at=str(ann.get("created_at") or ""),
                        cancelled=bool(ann.get("was_cancelled")),
                        lead_time=float(lead) if timed and lead >= 0 else None,
                    )
                )
        return found

    def submitted(self, project_id: int) -> dict[int | str, int]:
        """Submitted (not skipped) annotations per author, from the Data Manager's task list
        without the task data (only the annotations' authors are read)."""
        counts: dict[int | str, int] = {}
        for task in self._progress(project_id):
            for ann in task.get("annotations") or []:
                user: Any = ann.get("completed_by") if isinstance(ann, dict) else None
                if isinstance(user, dict):
                    user = user.get("id")
                if _is_id(user) and not ann.get("was_cancelled"):
                    counts[user] = counts.get(user, 0) + 1
        return counts

    def work_url(self, project_id: int | None) -> str:
        """The project's labeling stream ("Label All Tasks"), else the server's address."""
        if project_id is None:
            return self.url
        return f"{self.url}/projects/{project_id}/data?labeling=1"

    def whoami(self) -> Account:
        """The account behind the token (its token left out)."""
        path = "/api/current-user/whoami"
        me = self._call(path, lambda: self._sdk.users.whoami())
        if not _is_id(getattr(me, "id", None)):
            raise StudioError(f"{self.url}{path}: answer without an account id")
        return Account(id=me.id, email=str(me.email or ""), token="")

    def as_account(self, account: Account) -> LabelStudioBackend:
        """The same server, acting as ``account``."""
        return LabelStudioBackend(self.url, account.token, self._cfg, self._timeout)

    def submit(
        self,
        task_id: int,
        record: Annotation,
        text: str,
        *,
        cancelled: bool,
        lead_time: float | None = None,
    ) -> int:
        """Submit ``record``'s labels (none when ``cancelled``) as this account; ``lead_time``
        is the seconds spent, as Label Studio's labeling interface sends it."""
        result = [] if cancelled else annotation_result(record, text)
        path = f"/api/tasks/{task_id}/annotations"
        timed: dict[str, Any] = {} if lead_time is None else {"lead_time": lead_time}
        made = self._call(
            path,
            lambda: self._sdk.annotations.create(
                id=task_id, result=result, was_cancelled=cancelled, request_options=ONCE, **timed
            ),
        )
        if not _is_id(made.id):
            raise StudioError(f"{self.url}{path}: the new annotation has no id")
        return int(made.id)


class _PageFetcher:
    """The HTTP connections of read_tasks' page fetcher, its own so that they can be cut: a
    fetch in flight when the reader stops would otherwise hold the fetcher's thread and its
    connection (and the reader, which waits for the thread) until the server answers or the
    timeout passes. It sends as the backend does (the SDK's headers and token refresh, the same
    request hooks, no redirect to another server); its answers are parsed by the reader."""

    def __init__(self, backend: LabelStudioBackend) -> None:
        self._lock = threading.Lock()
        self._streams: list[Any] = []  # httpcore's network streams of this client's connections
        self._stopped = False
        hooks = backend._http.event_hooks
        self.http = httpx.Client(
            timeout=backend._timeout,
            follow_redirects=True,
            verify=_tls(),
            event_hooks={
                "request": [*hooks["request"], self._traced],
                "response": [backend._same_server],
            },
        )
        wrapper = backend._sdk._client_wrapper
        self.sdk_http = HttpClient(
            httpx_client=self.http,
            base_headers=wrapper.get_headers,
            base_timeout=wrapper.get_timeout,
            base_url=wrapper.get_base_url,
        )

    def _traced(self, request: httpx.Request) -> None:
        request.extensions["trace"] = self._trace  # httpcore's trace: each new connection

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        with self._lock:
            if self._stopped:
                raise httpx.ReadError("the reader of the pages stopped")
            if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
                self._streams.append(info.get("return_value"))

    def stop(self) -> None:
        """Send nothing more; shut this client's sockets, so a read in flight ends now."""
        with self._lock:
            self._stopped = True
            streams = list(self._streams)
        for stream in streams:
            with suppress(OSError, AttributeError, TypeError):
                stream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.http.close()


def _chunks(ids: list[int]) -> list[list[int]]:
    """Pages of task ids, in order: a run of consecutive ids (up to PAGE), else up to LIST_PAGE."""
    ids = sorted(set(ids))
    chunks = []
    i = 0
    while i < len(ids):
        j = i + 1
        while j < len(ids) and j - i < PAGE and ids[j] == ids[j - 1] + 1:
            j += 1
        if j - i < LIST_PAGE:  # not a long run: a list of scattered ids
            j = min(i + LIST_PAGE, len(ids))
        chunks.append(ids[i:j])
        i = j
    return chunks
