"""The demo's corpus.toml: the seed as its own hydrate source, the [release] notice and creators."""

from __future__ import annotations

from pathlib import Path

import pytest

from newscorpus.config import load_config
from newscorpus.demo.run import NOTICE, DemoOptions, _corpus_toml, run_demo


def _write(root: Path, text: str) -> Path:
    root.mkdir(parents=True)
    (root / "corpus.toml").write_text(text, encoding="utf-8")
    return root


def test_demo_corpus_has_the_seed_apart_and_says_what_it_is(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path / "corpus", _corpus_toml("http://127.0.0.1:8765", 8080)))
    assert [(s.name, s.kind, s.url, s.text_policy) for s in cfg.sources] == [
        ("demo-feed", "feed", "http://127.0.0.1:8765/feed.xml", "full"),
        ("seed", "urls", "http://127.0.0.1:8765/seed/urls.txt", "hydrate"),
    ]
    assert cfg.release.annotations_creators == ("machine-generated",)
    assert cfg.release.language_creators == ("expert-generated", "found")
    assert cfg.release.notice == NOTICE  # one line, though wrapped in corpus.toml
    for words in ("demo release", "synthetic", "except the seed", "three scripted demo accounts"):
        assert words in NOTICE
    assert "agreement figures measure those scripts, not people" in NOTICE


class _Stop(Exception):
    pass


def test_a_demo_corpus_made_before_the_seed_source_is_named(tmp_path: Path) -> None:
    """An older demo folder (the seed in the feed, released in full) is kept, and said so."""
    text = _corpus_toml("http://127.0.0.1:8765", 8080)
    start = text.index("# the project's one real article")
    old = text[:start] + text[text.index("[gather]") :]
    _write(tmp_path / "demo" / "corpus", old)
    said: list[tuple[str, str]] = []

    def say(step: str, message: str) -> None:
        said.append((step, message))
        if step == "init":
            raise _Stop

    with pytest.raises(_Stop):
        run_demo(tmp_path / "demo", say, options=DemoOptions(sample_port=0, start_studio=False))
    assert said[-1] == (
        "init",
        f"{tmp_path / 'demo' / 'corpus'} was made by an earlier demo (the seed released in full):"
        " run `make demo-clean` to start over",
    )
