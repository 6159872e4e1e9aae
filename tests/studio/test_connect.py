"""Which Label Studio server a command talks to (no server needed: nothing is requested)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config
from newscorpus.errors import ConfigError, StudioError
from newscorpus.labelstudio.connect import connect
from tests.conftest import MINIMAL_TOML, write_corpus

TOKEN = "synthetic-legacy-token-0123456789"


def corpus(tmp_path: Path, studio: str = "") -> Path:
    return write_corpus(tmp_path / "c", MINIMAL_TOML + studio)


def test_studio_url_in_corpus_toml_with_a_token_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", TOKEN)
    cfg = load_config(corpus(tmp_path, '\n[studio]\nurl = "http://127.0.0.1:9/"\n'))
    client = connect(cfg)
    try:
        assert client.url == "http://127.0.0.1:9" and TOKEN not in repr(client)
    finally:
        client.close()


def test_studio_url_without_a_token_names_the_key_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    cfg = load_config(corpus(tmp_path, '\n[studio]\nurl = "http://127.0.0.1:9/"\n'))
    with pytest.raises(
        ConfigError, match=r"\[studio\] url = 'http://127.0.0.1:9/': set LABEL_STUDIO_API_KEY"
    ):
        connect(cfg)
    with pytest.raises(StudioError, match="no Label Studio server"):
        connect(load_config(write_corpus(tmp_path / "d")))


@pytest.mark.parametrize("url", ["http://admin:s3cretpw@127.0.0.1:9/", "http:/admin:s3cretpw@h/"])
def test_label_studio_url_with_a_password_is_refused_without_echoing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any, url: str
) -> None:
    monkeypatch.setenv("LABEL_STUDIO_URL", url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", TOKEN)
    root = corpus(tmp_path)
    res = cli("--corpus", root, "pull")
    assert res.exit_code == 2, res.output
    assert res.stderr.strip().startswith("error: LABEL_STUDIO_URL carries a user name or password")
    assert "s3cretpw" not in res.output and "\n" not in res.stderr.strip()
    assert not (root / "annotations" / "pulled.jsonl").exists()
