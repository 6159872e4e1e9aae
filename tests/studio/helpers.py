"""Helpers for the Label Studio tests: corpora with their own project, annotation results."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from newscorpus.cardtext import render_template
from newscorpus.config import Config, load_config
from newscorpus.corpus import add_articles
from newscorpus.records import Article
from tests.conftest import MINIMAL_TOML, make_article, write_corpus

SECOND_TARGET = """
[[targets]]
id = "cartels_as_terrorists"
text = "Mexican drug cartels should be designated as foreign terrorist organisations"
"""

QUOTE_TEXT = (
    "« Ce dont nous avons besoin, ce sont des informations », a déclaré Sheinbaum.\n\n"
    "Selon le ministère, 97 % des drogues qui entrent par mer ont été stoppées en 2025."
)


def studio_corpus(root: Path, extra_toml: str = "", targets: str = SECOND_TARGET) -> Config:
    """A corpus whose pretty_name (so its Label Studio project) is unique to the test."""
    title = f"Test corpus {secrets.token_hex(4)}"
    toml = MINIMAL_TOML.replace('pretty_name = "Test corpus"', f'pretty_name = "{title}"')
    write_corpus(root, toml + targets + extra_toml)
    cfg = load_config(root)
    card = render_template(cfg.corpus.pretty_name, cfg.corpus.description, cfg.targets)
    (root / "DATA_CARD.md").write_text(card, encoding="utf-8")  # as `newscorpus init` writes it
    return cfg


def articles(n: int, start: int = 0) -> list[Article]:
    """n synthetic articles (marked synthetic=True); article 0 of each set has a quote."""
    out = []
    for i in range(start, start + n):
        if i == start:
            out.append(make_article(i, text=QUOTE_TEXT, url=f"http://news.test/q{i}"))
        else:
            out.append(make_article(i))
    return out


def with_articles(cfg: Config, arts: list[Article]) -> list[Article]:
    """Store the articles in the corpus and return them."""
    add_articles(cfg, arts)
    return arts


def span(text: str, rid: str, needle: str, label: str) -> dict[str, Any]:
    """A `spans` region over the first occurrence of needle."""
    start = text.index(needle)
    return {
        "id": rid,
        "from_name": "spans",
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": start + len(needle), "text": needle, "labels": [label]},
    }


def choice(name: str, value: str, region: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Choices result, per-region when region is given."""
    item: dict[str, Any] = {
        "from_name": name,
        "to_name": "text",
        "type": "choices",
        "value": {"choices": [value]},
    }
    if region is not None:
        item["id"] = region["id"]
        v = region["value"]
        item["value"].update(start=v["start"], end=v["end"], text=v["text"])
    return item


def full_result(text: str, stance: str = "neutral") -> list[dict[str, Any]]:
    """Stance for both targets, a check-worthy statistical Claim, a Quote said by a Speaker."""
    claim = span(text, "c1", "97 % des drogues qui entrent par mer ont été stoppées", "Claim")
    quote = span(text, "q1", "Ce dont nous avons besoin, ce sont des informations", "Quote")
    speaker = span(text, "s1", "Sheinbaum", "Speaker")
    return [
        choice("stance_us_forces_in_mexico", stance),
        choice("stance_cartels_as_terrorists", "unrelated"),
        claim,
        choice("checkworthy", "yes", claim),
        choice("claim_type", "statistical", claim),
        quote,
        speaker,
        {
            "type": "relation",
            "from_id": "s1",
            "to_id": "q1",
            "direction": "right",
            "labels": ["said"],
        },
    ]


def export_of(path: Path, art: Article, result: list[dict[str, Any]]) -> Path:
    """A Label Studio JSON export at ``path``: one task of ``art`` with one annotation."""
    task = {
        "id": 11,
        "data": {"article_id": art.id, "title": art.title, "text": art.text},
        "annotations": [
            {
                "id": 101,
                "completed_by": 3,
                "result": result,
                "was_cancelled": False,
                "created_at": "2026-01-02T10:00:00Z",
                "updated_at": "2026-01-02T10:05:00Z",
            }
        ],
    }
    path.write_text(json.dumps([task]), encoding="utf-8")
    return path


class StudioAPI:
    """What the tests do on the real server beside newscorpus, as one account: submitting,
    editing and deleting annotations through label-studio-sdk, and reading the server's own
    answers (raw JSON) to compare them with what newscorpus stored. Test-only: src has none."""

    def __init__(self, url: str, token: str) -> None:
        from label_studio_sdk.client import LabelStudio

        self.url = url.rstrip("/")
        self._token = token
        self.sdk = LabelStudio(base_url=self.url, api_key=token, timeout=120)
        self._http = httpx.Client(
            base_url=self.url, timeout=120, headers={"Authorization": f"Token {token}"}
        )

    def __repr__(self) -> str:
        return f"StudioAPI(url={self.url!r})"

    def close(self) -> None:
        self._http.close()

    def as_user(self, token: str) -> StudioAPI:
        return StudioAPI(self.url, token)

    # raw JSON, as the server answers
    def get(self, path: str, **params: Any) -> Any:
        r = self._http.get(path, params=params)
        r.raise_for_status()
        return r.json()

    def post(self, path: str, payload: Any) -> Any:
        r = self._http.post(path, json=payload)
        r.raise_for_status()
        return r.json() if r.content else None

    def find_project(self, title: str) -> dict[str, Any] | None:
        found = self.get("/api/projects", page_size=100, title=title).get("results", [])
        return next((p for p in found if p.get("title") == title), None)

    def project(self, project_id: int) -> dict[str, Any]:
        answer: dict[str, Any] = self.get(f"/api/projects/{project_id}")
        return answer

    def iter_tasks(self, project_id: int, full: bool = True) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            params: dict[str, Any] = {"project": project_id, "page": page, "page_size": 500}
            if full:
                params["fields"] = "all"
            r = self._http.get("/api/tasks", params=params)
            if r.status_code == 404:
                return
            r.raise_for_status()
            tasks = r.json()["tasks"]
            yield from tasks
            if len(tasks) < 500:
                return
            page += 1

    def export_tasks(self, project_id: int, task_ids: list[int]) -> list[dict[str, Any]]:
        """The standard JSON export of some tasks (it leaves two files on the server)."""
        params = [("exportType", "JSON"), *(("ids[]", str(i)) for i in task_ids)]
        r = self._http.get(f"/api/projects/{project_id}/export", params=params)
        r.raise_for_status()
        tasks: list[dict[str, Any]] = r.json()
        return tasks

    # through the SDK
    def create_project(self, title: str, label_config: str) -> dict[str, Any]:
        return {"id": self.sdk.projects.create(title=title, label_config=label_config).id}

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        made = self.sdk.projects.import_tasks(id=project_id, request=tasks, return_task_ids=True)
        return list(made.task_ids or [])

    def submit_annotation(
        self, task_id: int, result: list[dict[str, Any]], cancelled: bool = False
    ) -> dict[str, Any]:
        """Submit an annotation as this account (``completed_by`` is that account)."""
        made = self.sdk.annotations.create(id=task_id, result=result, was_cancelled=cancelled)
        return {"id": made.id}

    def update_annotation(self, annotation_id: int, result: list[dict[str, Any]]) -> None:
        self.sdk.annotations.update(id=annotation_id, result=result)

    def delete_annotation(self, annotation_id: int) -> None:
        self.sdk.annotations.delete(id=annotation_id)

    def delete_task(self, task_id: int) -> None:
        self.sdk.tasks.delete(id=str(task_id))

    def whoami(self) -> dict[str, Any]:
        me = self.sdk.users.whoami()
        return {"id": me.id, "email": me.email}
