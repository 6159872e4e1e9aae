"""`newscorpus push` against the real Label Studio server (started once per session)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from newscorpus.annotation.push import ledger_path, push
from newscorpus.config import Config, load_config
from newscorpus.errors import StudioError
from tests.conftest import REPO, make_article
from tests.studio.helpers import articles, studio_corpus, with_articles

pytestmark = pytest.mark.studio


def server_articles(client: Any, project_id: int) -> Counter[str]:
    """How many tasks the server holds per article_id."""
    return Counter(t["data"]["article_id"] for t in client.iter_tasks(project_id, full=False))


def test_push_is_idempotent_one_task_per_cluster(tmp_path: Path, studio_server: Any) -> None:
    cfg = studio_corpus(tmp_path / "c")
    arts = articles(5)
    dup = make_article(99, dup_cluster=arts[1].id)  # a near-duplicate of article 1
    with_articles(cfg, [*arts, dup])
    client = studio_server.client()
    cfg = replace(cfg, studio=replace(cfg.studio, overlap=3))  # as `push --overlap 3` does
    first = push(cfg, backend=studio_server.backend(cfg))
    assert (first.selected, first.imported, first.already) == (5, 5, 0)
    counts = server_articles(client, first.project_id)
    assert counts == Counter({a.id: 1 for a in arts}) and dup.id not in counts
    project = client.project(first.project_id)
    assert project["maximum_annotations"] == 3
    assert (
        project["show_annotation_history"] is False and project["show_ground_truth_first"] is False
    )
    assert "Annotation guidelines" not in project["expert_instruction"]
    assert "<h3>Stance</h3>" in project["expert_instruction"]
    tasks = {t["data"]["article_id"]: t for t in client.iter_tasks(first.project_id)}
    quoted = tasks[arts[0].id]
    assert set(quoted["data"]) == {
        "article_id",
        "title",
        "text",
        "url",
        "site",
        "published",
        "language",
    }
    assert quoted["predictions"] and quoted["annotations"] == []
    labels = {
        r["value"]["labels"][0] for r in quoted["predictions"][0]["result"] if r["type"] == "labels"
    }
    assert labels == {"Quote", "Speaker", "Claim"}
    again = push(cfg, backend=studio_server.backend(cfg))
    assert (again.imported, again.already, again.reconciled) == (0, 5, False)
    assert server_articles(client, first.project_id) == counts
    with_articles(cfg, articles(2, start=10))
    third = push(cfg, backend=studio_server.backend(cfg))
    assert third.imported == 2 and sum(server_articles(client, first.project_id).values()) == 7


def test_task_deleted_by_hand_is_pushed_again(tmp_path: Path, studio_server: Any) -> None:
    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(4))
    client = studio_server.client()
    r = push(cfg, backend=studio_server.backend(cfg))
    client.delete_task(r.task_ids[arts[2].id])
    again = push(cfg, backend=studio_server.backend(cfg))
    assert again.reconciled and again.imported == 1
    assert server_articles(client, r.project_id) == Counter({a.id: 1 for a in arts})


KILLER = """
import os, signal, sys
from newscorpus.config import load_config
from newscorpus.labelstudio.backend import LabelStudioBackend
from newscorpus.annotation.push import push
cfg = load_config(sys.argv[1])
backend = LabelStudioBackend(os.environ["T_URL"], os.environ["T_KEY"], cfg)
def killed(n):
    if n == 1:
        os.kill(os.getpid(), signal.SIGKILL)
push(cfg, backend=backend, after_batch=killed)
"""


def _killed_push(cfg: Config, studio_server: Any) -> int:
    env = {**os.environ, "T_URL": studio_server.url, "T_KEY": studio_server.token}
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(cfg.root)], env=env, cwd=REPO, capture_output=True
    )
    return proc.returncode


def test_push_killed_between_batches_then_rerun(tmp_path: Path, studio_server: Any) -> None:
    cfg = studio_corpus(tmp_path / "c", extra_toml="\n[studio]\nbatch_size = 2\n")
    arts = with_articles(cfg, articles(7))
    assert _killed_push(cfg, studio_server) == -signal.SIGKILL
    client = studio_server.client()
    project = client.find_project(cfg.corpus.pretty_name)
    assert sum(server_articles(client, project["id"]).values()) == 4  # two batches got in
    # A ledger older than the server (killed after an import, before the ledger was saved):
    ledger = json.loads(ledger_path(cfg).read_text())
    key = next(iter(ledger))
    ledger[key] = dict(list(ledger[key].items())[:1])
    ledger_path(cfg).write_text(json.dumps(ledger))
    r = push(cfg, backend=studio_server.backend(cfg))
    assert r.reconciled and r.imported == 3
    assert server_articles(client, project["id"]) == Counter({a.id: 1 for a in arts})


def test_refused_config_change_is_reported(tmp_path: Path, studio_server: Any) -> None:
    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(1))
    client = studio_server.client()
    r = push(cfg, backend=studio_server.backend(cfg))
    annotator, _ = studio_server.create_annotator("cfg")
    result = [
        {
            "from_name": "stance_cartels_as_terrorists",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["favor"]},
        }
    ]
    client.as_user(annotator.token).submit_annotation(r.task_ids[arts[0].id], result)
    toml = cfg.path.read_text()
    cfg.path.write_text(toml[: toml.index('\n[[targets]]\nid = "cartels_as_terrorists"')] + "\n")
    with pytest.raises(StudioError, match="refused the new labeling config"):
        changed = load_config(cfg.root)
        push(changed, backend=studio_server.backend(changed))


def test_cli_push_uses_env_server_and_hides_token(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = studio_corpus(tmp_path / "c")
    with_articles(cfg, articles(3))
    monkeypatch.setenv("LABEL_STUDIO_URL", studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", studio_server.token)
    res = cli("--corpus", cfg.root, "push", "--limit", "2")
    assert res.exit_code == 0, res.output
    assert "2 tasks imported" in res.output and studio_server.token not in res.output
    res = cli("--corpus", cfg.root, "push")
    assert "1 task imported, 2 already there" in res.output


def test_personal_access_token_is_accepted(studio_server: Any) -> None:
    import httpx

    from newscorpus.labelstudio.backend import LabelStudioBackend

    annotator, password = studio_server.create_annotator("pat")
    with httpx.Client(base_url=studio_server.url, timeout=60) as web:
        web.get("/user/login/")
        web.post(
            "/user/login/",
            data={
                "csrfmiddlewaretoken": web.cookies["csrftoken"],
                "email": annotator.email,
                "password": password,
            },
            headers={"Referer": f"{studio_server.url}/user/login/"},
        )
        r = web.post(
            "/api/token/",
            headers={"X-CSRFToken": web.cookies["csrftoken"], "Referer": studio_server.url},
        )
        assert r.status_code in (200, 201), r.status_code
        pat = r.json()["token"]
    assert pat.count(".") == 2  # a JWT refresh token
    backend = LabelStudioBackend(studio_server.url, pat, load_config(studio_server.corpus))
    assert backend.whoami().id == annotator.id  # the SDK traded the PAT for an access token
    assert pat not in repr(backend)
    backend.close()
