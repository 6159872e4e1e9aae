"""Every corpus speaks for itself: a corpus made with `init` for another topic shows annotators,
and releases, only its own text, never a sentence of this project's DATA_CARD.md."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from newscorpus.config import load_config
from newscorpus.corpus import add_articles
from newscorpus.labelstudio.labeling import instructions_html
from tests.conftest import REPO, make_article

Cli = Callable[..., Any]

OTHER_TOPIC = """\
[corpus]
name = "remote-work"
pretty_name = "Remote work news"
description = "English news about remote work rules."
languages = ["en"]
license = "CC-BY-4.0"

[[targets]]
id = "right_to_disconnect"
text = "Employees should have a legal right to ignore work messages after hours"

[topic]
any = ["remote work"]
"""


def project_sentences() -> list[str]:
    """The sentences of this project's DATA_CARD.md, markup aside (40 characters or more)."""
    text = (REPO / "DATA_CARD.md").read_text(encoding="utf-8")
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"[*_`#>]", "", " ".join(text.split()))
    parts = re.split(r"(?<=[.!?:;])\s+|\s+-\s+", text)
    return [p.strip() for p in parts if len(p.strip()) >= 40]


def plain(text: str) -> str:
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"[*_`#>]", "", " ".join(text.split()))


def assert_only_its_own(text: str) -> None:
    shown = plain(text)
    sentences = project_sentences()
    assert len(sentences) > 30
    leaked = [s for s in sentences if s in shown]
    assert leaked == []
    for word in ("Sheinbaum", "us_forces_in_mexico", "cartels_as_terrorists", "Spanish, French"):
        assert word not in shown


def test_a_new_corpus_has_its_own_card_guidelines_and_release(
    tmp_path: Path, cli: Cli, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # far from this repository's DATA_CARD.md (and its parent's)
    res = cli("init", "work")
    assert res.exit_code == 0, res.output
    root = tmp_path / "work"
    card = (root / "DATA_CARD.md").read_text(encoding="utf-8")
    assert "`example_target`" in card and "**Claim**" in card and "[FILL IN:" in card
    (root / "corpus.toml").write_text(OTHER_TOPIC + '\n[release]\nto = "../rel"\n')
    res = cli("--corpus", root, "validate")
    assert res.exit_code == 0
    assert "template placeholder left to fill in" in res.stderr
    assert "does not name target 'right_to_disconnect'" in res.stderr
    # the builder writes the targets into the card, as the warning asks
    (root / "DATA_CARD.md").write_text(
        card.replace(
            "`example_target`: *The proposition annotators take a stance towards.*",
            "`right_to_disconnect`: *Employees should have a legal right to ignore "
            "work messages after hours*",
        ),
        encoding="utf-8",
    )
    res = cli("--corpus", root, "validate")
    assert "does not name target" not in res.stderr
    cfg = load_config(root)
    html = instructions_html(cfg)
    assert "right_to_disconnect" in html and "Claim" in html
    assert_only_its_own(html)
    text = "Synthetic article about remote work rules and the right to disconnect.\n\nMore."
    add_articles(
        cfg, [make_article(i, url=f"http://w.test/{i}", text=f"{text} {i}") for i in range(4)]
    )
    res = cli("--corpus", root, "release", "--version", "0.1.0")
    assert res.exit_code == 0, res.output
    assert "the card's prose is unfinished" in res.stderr
    released = (tmp_path / "rel" / "README.md").read_text(encoding="utf-8")
    assert "Remote work news" in released and "right_to_disconnect" in released
    assert "unfinished template" in released  # the card says so on top
    assert_only_its_own(released)


def test_this_projects_corpus_names_its_card_at_the_top_of_the_repository() -> None:
    cfg = load_config(REPO / "corpus")
    assert cfg.corpus.card == REPO / "corpus" / ".." / "DATA_CARD.md"
    assert "Sheinbaum" in instructions_html(cfg)


def test_without_a_card_nothing_is_borrowed(tmp_path: Path, cli: Cli) -> None:
    root = tmp_path / "bare"
    (root / "articles").mkdir(parents=True)
    (root / "corpus.toml").write_text(OTHER_TOPIC)
    (tmp_path / "DATA_CARD.md").write_text("## Annotation guidelines\n\nA parent folder's text.\n")
    cfg = load_config(root)
    html = instructions_html(cfg)
    assert "parent folder" not in html
    assert_only_its_own(html)
    res = cli("--corpus", root, "validate")
    assert "no dataset card" in res.stderr
