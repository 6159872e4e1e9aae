"""Gather's settings come from cfg.gather alone; the CLI is the one place that puts its flags
(--allow-host) and NEWSCORPUS_WORKERS there; gather() returns a frozen GatherResult."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import load_config, replace_gather
from newscorpus.errors import ConfigError
from newscorpus.gather import executor
from newscorpus.gather.pipeline import GatherOptions, GatherResult, gather
from tests.conftest import snapshot
from tests.gather.conftest import FIXTURES, LocalServer, rss


@pytest.fixture
def pool_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The ``workers`` each run asks its pool for (the real pool is still made)."""
    asked: list[int | None] = []
    real = executor.make_pool

    def recording(workers: int | None = None) -> Any:
        asked.append(workers)
        return real(workers)

    monkeypatch.setattr(executor, "make_pool", recording)
    return asked


def html_corpus(tmp_path: Path, make_corpus: Callable[..., Path], extra: str = "") -> Path:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "en.html").write_bytes((FIXTURES / "en_fentanyl_labs.html").read_bytes())
    root = make_corpus([("pages", "html_dir", str(pages))])
    if extra:
        toml = root / "corpus.toml"
        toml.write_text(toml.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return root


def test_workers_setting_and_its_cli_override(
    tmp_path: Path,
    make_corpus: Callable[..., Path],
    cli: Callable[..., Any],
    pool_sizes: list[int | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = html_corpus(tmp_path, make_corpus, "workers = 1\n")  # appended to [gather]
    assert load_config(root).gather.workers == 1

    # below the CLI the environment is not read: the library takes the Config's setting
    monkeypatch.setenv("NEWSCORPUS_WORKERS", "3")
    assert gather(load_config(root)).new == 1
    assert pool_sizes == [1]

    # the CLI puts NEWSCORPUS_WORKERS on top of [gather] workers
    res = cli("--corpus", root, "gather", "--refresh")
    assert res.exit_code == 0, res.output
    assert pool_sizes == [1, 3]

    monkeypatch.delenv("NEWSCORPUS_WORKERS")
    res = cli("--corpus", root, "gather")
    assert res.exit_code == 0, res.output
    assert pool_sizes == [1, 3, 1]


@pytest.mark.parametrize("value", ["0", "many", "-2", "257"])
def test_bad_workers_env_is_one_line_exit_2(
    value: str,
    tmp_path: Path,
    make_corpus: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = html_corpus(tmp_path, make_corpus)
    before = snapshot(root)
    monkeypatch.setenv("NEWSCORPUS_WORKERS", value)
    res = cli("--corpus", root, "gather")
    assert res.exit_code == 2
    line = res.output.strip()
    assert "\n" not in line and line.startswith(f"error: NEWSCORPUS_WORKERS={value!r}: ")
    assert "an integer from 1 to 256" in line
    assert snapshot(root) == before


def test_bad_workers_setting_names_the_line(
    tmp_path: Path, make_corpus: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    root = html_corpus(tmp_path, make_corpus, "workers = 0\n")
    with pytest.raises(ConfigError, match=r"corpus\.toml:\d+: gather\.workers: must be an integer"):
        load_config(root)
    res = cli("--corpus", root, "gather")
    assert res.exit_code == 2 and "gather.workers" in res.output


def test_allow_host_is_added_to_the_config_by_the_cli(
    server: LocalServer, make_corpus: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    """--allow-host reaches the fetcher through cfg.gather.allow_hosts, as corpus.toml's do."""
    en = server.page("/articles/en.html", "en_fentanyl_labs.html")
    server.add("/a.rss", body=rss([en]), ctype="application/rss+xml")
    root = make_corpus([("a", "feed", server.url("/a.rss"))])
    cfg = load_config(root)
    assert server.hostport not in cfg.gather.allow_hosts
    assert gather(cfg).new == 0  # refused: loopback is not listed
    listed = replace_gather(cfg, allow_hosts=(*cfg.gather.allow_hosts, server.hostport))
    assert gather(listed, options=GatherOptions(refresh=True)).new == 1


def test_settings_built_in_code_are_checked_as_corpus_toml_is(
    tmp_path: Path, make_corpus: Callable[..., Path]
) -> None:
    cfg = load_config(html_corpus(tmp_path, make_corpus))
    with pytest.raises(ConfigError, match=r"gather\.allow_hosts: 'a b' is not host or host:port"):
        replace_gather(cfg, allow_hosts=("a b",))
    with pytest.raises(ConfigError, match=r"gather\.allow_hosts: 'h:70000'"):
        replace_gather(cfg, allow_hosts=("h:70000",))
    with pytest.raises(ConfigError, match=r"gather\.workers: must be an integer from 1 to 256"):
        replace_gather(cfg, workers=300)
    assert replace_gather(cfg) is cfg


def test_gather_result_is_frozen(tmp_path: Path, make_corpus: Callable[..., Path]) -> None:
    root = html_corpus(tmp_path, make_corpus)
    result = gather(load_config(root))
    assert isinstance(result, GatherResult) and result.new == 1
    assert result.new_by_source == {"pages": 1}
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.new = 2  # type: ignore[misc]
    assert result.to_dict()["new_by_source"] == {"pages": 1}
    with pytest.raises(TypeError):
        gather(load_config(root), GatherOptions())  # type: ignore[misc]  # keyword-only


def test_a_ray_address_in_the_environment_does_not_touch_a_local_run(
    server: LocalServer,
    make_corpus: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ray's job tools export RAY_ADDRESS=http://HEAD:8265; only a Ray run reads it (review finding:
    a plain `gather` exited 2 on it)."""
    en = server.page("/articles/en.html", "en_fentanyl_labs.html")
    server.add("/a.rss", body=rss([en]), ctype="application/rss+xml")
    root = make_corpus([("a", "feed", server.url("/a.rss"))])
    monkeypatch.setenv("RAY_ADDRESS", "http://127.0.0.1:8265")
    r = cli("--corpus", root, "gather", "--allow-host", server.hostport, "--executor", "serial")
    assert r.exit_code == 0, r.output
    assert "RAY_ADDRESS" not in r.output
    before = snapshot(root)
    r = cli("--corpus", root, "gather", "--executor", "ray")
    assert r.exit_code == 2 and r.output.startswith("error: RAY_ADDRESS: "), r.output
    assert snapshot(root) == before
