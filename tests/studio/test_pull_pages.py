"""Pull's pages of tasks: the server builds the next page while this one is parsed (strictly)
and converted, never waiting for us; backends share one TLS context."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from newscorpus.annotation.backend import PreparedTask, ProjectSpec
from newscorpus.labelstudio import backend as ls
from newscorpus.labelstudio.convert import task_data
from newscorpus.labelstudio.strictjson import parse_json
from tests.studio.helpers import articles, choice, studio_corpus, with_articles

WAIT = 20.0  # seconds a page's parse waits for the request of the next page


@pytest.mark.studio
def test_pull_asks_for_the_next_page_before_parsing_this_one(
    tmp_path: Path, studio_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(3))
    backend = studio_server.backend(cfg)
    project, _ = backend.ensure_project(
        ProjectSpec(title=cfg.corpus.pretty_name, description="d", overlap=2), None
    )
    bodies = [
        PreparedTask(
            a.id,
            {
                "data": task_data(a),
                "annotations": [{"result": [choice("stance_us_forces_in_mexico", "favor")]}],
            },
        )
        for a in arts
    ]
    ids = backend.import_tasks(project.id, bodies)
    project = backend.project(project.id)
    monkeypatch.setattr(ls, "PAGE", 1)  # one task per page: three pages
    monkeypatch.setattr(ls, "LIST_PAGE", 1)

    asked: list[int] = []  # pages of tasks asked for so far
    next_asked = threading.Event()

    def on_request(request: httpx.Request) -> None:
        if request.url.path == "/api/tasks" and request.url.params.get("fields") == "all":
            asked.append(1)
            if len(asked) >= 2:
                next_asked.set()

    backend._http.event_hooks["request"].append(on_request)
    waited: list[bool] = []  # per page parsed: had the next one been asked for by then?

    def parse(raw: bytes, where: str, *args: Any) -> Any:
        if "/api/tasks: answer" in where:
            waited.append(next_asked.wait(WAIT) if len(waited) == 0 else True)
        return parse_json(raw, where, *args)

    monkeypatch.setattr(ls, "parse_json", parse)
    tasks = list(backend.read_tasks(project, ids))
    backend.close()
    assert [t.id for t in tasks] == ids and all(len(t.annotations) == 1 for t in tasks)
    assert len(asked) == 3
    assert waited == [True, True, True]  # every page parsed strictly; the first one only
    # once the server was building the second (else the server waits for our parsing)


def test_backends_share_one_tls_context(tmp_path: Path) -> None:
    cfg = studio_corpus(tmp_path / "c")
    one = ls.LabelStudioBackend("http://127.0.0.1:9", "t", cfg)
    two = ls.LabelStudioBackend("http://127.0.0.1:9", "t", cfg)
    try:
        contexts = [b._http._transport._pool._ssl_context for b in (one, two)]
        assert contexts[0] is not None and contexts[0] is contexts[1]
    finally:
        one.close()
        two.close()
