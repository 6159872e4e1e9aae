"""A refused push, adjudicate push or pull changes nothing: not the server, not the corpus.

Everything that can be refused is checked first; only then is the server (or the corpus) changed.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config
from newscorpus.labelstudio.labeling import label_config
from newscorpus.quality.adjudicate import project_title
from tests.conftest import make_article, snapshot
from tests.quality.helpers import T1, TWO_TARGETS, ann, articles, make_corpus, span, store
from tests.studio.helpers import QUOTE_TEXT, full_result, studio_corpus, with_articles

pytestmark = pytest.mark.studio


def projects_titled(client: Any, title: str) -> int:
    """How many projects of the server carry exactly this title."""
    found = client.get("/api/projects", page_size=100, title=title)
    return sum(1 for p in found.get("results", []) if p.get("title") == title)


def use_server(monkeypatch: pytest.MonkeyPatch, studio_server: Any) -> None:
    monkeypatch.setenv("LABEL_STUDIO_URL", studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", studio_server.token)


def one_error_line(result: Any) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return str(lines[0])


def test_push_with_a_bad_article_line_creates_no_project(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = studio_corpus(tmp_path / "c")
    with_articles(cfg, [make_article(0), make_article(1)])
    (path,) = sorted(cfg.articles_dir.glob("*.jsonl"))
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"id": "broken", "title": "no text, no language"}\n')
    bad_line = len(path.read_text(encoding="utf-8").splitlines())
    use_server(monkeypatch, studio_server)
    client = studio_server.client()
    title = cfg.corpus.pretty_name
    assert projects_titled(client, title) == 0
    before = snapshot(cfg.root)
    line = one_error_line(cli("--corpus", cfg.root, "push"))
    assert f"{path}:{bad_line}" in line, line
    assert projects_titled(client, title) == 0
    assert snapshot(cfg.root) == before
    # once the line is mended, the same push creates the project
    path.write_text("".join(path.read_text().splitlines(True)[:-1]), encoding="utf-8")
    ok = cli("--corpus", cfg.root, "push")
    assert ok.exit_code == 0, ok.output
    assert "2 tasks imported" in ok.output and projects_titled(client, title) == 1
    client.close()


def test_adjudicate_push_with_an_unsendable_prediction_creates_no_project(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    title = f"Order test {secrets.token_hex(4)}"
    root = make_corpus(
        tmp_path / "corpus", TWO_TARGETS.replace('"Test corpus"', f'"{title}"'), n_articles=1
    )
    (a0,) = articles(root)
    store(root, [ann(a0, "ann-b", {T1: "against"})])
    # a hand-edited line: "perhaps" is not a value of the checkworthy choices
    claim = span("a1", 4, 12, checkworthy="perhaps")
    edited = ann(a0, "ann-a", {T1: "favor"}, [claim]).to_dict()
    with (root / "annotations" / "edited.jsonl").open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(edited) + "\n")
    use_server(monkeypatch, studio_server)
    client = studio_server.client()
    review = project_title(load_config(root))
    before = snapshot(root)
    line = one_error_line(cli("--corpus", root, "adjudicate", "push"))
    # refused when the labels are read, before any server call, naming the span and the value
    assert "span 'a1' has checkworthy 'perhaps', not one of" in line
    assert projects_titled(client, review) == 0
    assert snapshot(root) == before
    client.close()


def test_adjudicate_pull_of_another_corpus_writes_nothing(
    tmp_path: Path, studio_server: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = studio_corpus(tmp_path / "c")
    with_articles(cfg, [make_article(0, text=QUOTE_TEXT)])
    stranger = make_article(7, text=QUOTE_TEXT, url="http://other-corpus.test/7")
    admin = studio_server.client()
    project = admin.create_project(title=project_title(cfg), label_config=label_config(cfg))
    (tid,) = admin.import_tasks(
        project["id"], [{"data": {"article_id": stranger.id, "text": QUOTE_TEXT}}]
    )
    adjudicator, _ = studio_server.create_annotator("adjudicator")
    admin.as_user(adjudicator.token).submit_annotation(tid, full_result(QUOTE_TEXT))
    use_server(monkeypatch, studio_server)
    before = snapshot(cfg.root)
    line = one_error_line(cli("--corpus", cfg.root, "adjudicate", "pull"))
    assert "annotations of 1 articles not in" in line and repr(stranger.id) in line, line
    assert snapshot(cfg.root) == before  # no gold.jsonl, no pseudonym salt
    admin.close()


@pytest.mark.parametrize("damage", ["[1, 2]", '{"%s": {"%s": "not a task id"}}', "[" * 5000])
def test_a_damaged_ledger_is_rebuilt_from_the_server(
    tmp_path: Path, studio_server: Any, damage: str
) -> None:
    from newscorpus.annotation.push import ledger_path, push

    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, [make_article(0), make_article(1)])
    client = studio_server.client()
    first = push(cfg, backend=studio_server.backend(cfg))
    assert first.imported == 2
    key = f"{client.url}#{first.project_id}"
    text = damage % (key, arts[0].id) if "%s" in damage else damage
    ledger_path(cfg).write_text(text, encoding="utf-8")
    again = push(cfg, backend=studio_server.backend(cfg))
    assert (again.imported, again.already, again.reconciled) == (0, 2, True)
    assert again.task_ids == first.task_ids
    client.close()
