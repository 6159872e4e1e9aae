from __future__ import annotations

import re
from pathlib import Path

import pytest

from newscorpus.config import load_config
from newscorpus.errors import ConfigError

from .conftest import MINIMAL_TOML, write_corpus


def test_loads_minimal_config(corpus_dir: Path) -> None:
    cfg = load_config(corpus_dir)
    assert cfg.corpus.name == "test-corpus"
    assert cfg.corpus.languages == ("es", "fr", "en")
    assert [t.id for t in cfg.targets] == ["us_forces_in_mexico"]
    assert cfg.topic.any == ("fentanyl", "fentanilo", "cártel", "Sheinbaum")
    assert cfg.gather.max_bytes == 5_000_000
    assert cfg.sources == ()


def test_shipped_corpus_config_loads() -> None:
    cfg = load_config(Path(__file__).resolve().parent.parent / "corpus")
    assert "us_forces_in_mexico" in {t.id for t in cfg.targets}
    assert {
        "fentanyl",
        "fentanilo",
        "fentanil",
        "Sheinbaum",
        "soberanía",
        "souveraineté",
        "sovereignty",
    } <= set(cfg.topic.any)
    assert all(s.text_policy == "hydrate" for s in cfg.sources)


def test_sources_and_gather(tmp_path: Path) -> None:
    toml = (
        MINIMAL_TOML
        + """
[[sources]]
name = "local"
kind = "html_dir"
path = "pages"

[[sources]]
name = "wire"
kind = "feed"
url = "http://127.0.0.1:8000/rss.xml"
text_policy = "hydrate"

[gather]
allow_hosts = ["127.0.0.1:8000", "Localhost"]
concurrency = 4
per_host_delay = 0
"""
    )
    cfg = load_config(write_corpus(tmp_path / "c", toml))
    assert cfg.source("local").path == tmp_path / "c" / "pages"
    assert cfg.source("wire").text_policy == "hydrate"
    assert cfg.gather.allow_hosts == ("127.0.0.1:8000", "localhost")
    assert cfg.gather.per_host_delay == 0.0
    with pytest.raises(
        ConfigError, match="no \\[\\[sources\\]\\] named 'wir' \\(did you mean 'wire'\\?\\)"
    ):
        cfg.source("wir")


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="corpus folder not found"):
        load_config(tmp_path / "nope")


def test_syntax_error_names_line(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "c", MINIMAL_TOML + "\n[gather\nconcurrency = 2\n")
    with pytest.raises(ConfigError) as exc:
        load_config(root)
    lines = MINIMAL_TOML.count("\n") + 2
    assert str(exc.value).startswith(f"{root / 'corpus.toml'}:{lines}: TOML syntax error")


def test_unknown_key_suggests_and_names_line(tmp_path: Path) -> None:
    toml = MINIMAL_TOML.replace('license = "CC-BY-4.0"', 'licence = "CC-BY-4.0"')
    root = write_corpus(tmp_path / "c", toml)
    with pytest.raises(ConfigError) as exc:
        load_config(root)
    msg = str(exc.value)
    assert (
        msg
        == f"{root / 'corpus.toml'}:6: corpus.licence: unknown key in [corpus] (did you mean 'license'?)"
    )


def test_unknown_key_in_array_table(tmp_path: Path) -> None:
    toml = (
        MINIMAL_TOML
        + '\n[[sources]]\nname = "a"\nkind = "feed"\nurl = "http://x.test/"\nlimit = 3\n'
    )
    root = write_corpus(tmp_path / "c", toml)
    with pytest.raises(ConfigError, match=r"corpus.toml:\d+: sources.limit: unknown key"):
        load_config(root)


def test_missing_required_key(tmp_path: Path) -> None:
    toml = MINIMAL_TOML.replace('pretty_name = "Test corpus"\n', "")
    with pytest.raises(
        ConfigError, match=r"corpus.toml:1: corpus: missing required key 'pretty_name'"
    ):
        load_config(write_corpus(tmp_path / "c", toml))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '\n[[sources]]\nname = "a"\nkind = "rss"\nurl = "http://x.test/"\n',
            "'rss' is not one of",
        ),
        ('\n[[sources]]\nname = "a"\nkind = "feed"\n', "give exactly one of 'url' or 'path'"),
        (
            '\n[[sources]]\nname = "a"\nkind = "feed"\nurl = "u"\ntext_policy = "some"\n',
            "not one of full, hydrate",
        ),
        (
            '\n[[sources]]\nname = "a"\nkind = "feed"\nurl = "http://[::1/"\n',
            r"sources.url: 'http://\[::1/' is not an http\(s\) URL",
        ),
        (
            '\n[[sources]]\nname = "a"\nkind = "feed"\nurl = "file:///etc/passwd"\n',
            r"sources.url: 'file:///etc/passwd' is not an http\(s\) URL",
        ),
        (
            "\n[studio]\nport = 70000\n",
            "studio.port: must be an integer from 1 to 65535, got 70000",
        ),
        ('\n[release]\nhub = "bad name"\n', "release.hub: 'bad name' is not ORG/NAME"),
        ('\n[studio]\nurl = "localhost:8080"\n', "studio.url: 'localhost:8080' is not an http"),
        (
            "\n[gather]\nconcurrency = 0\n",
            r"gather.concurrency: must be an integer from 1 to 256 \(requests in flight\), got 0",
        ),
        (
            '\n[gather]\nconcurrency = "4"\n',
            r"gather.concurrency: must be an integer from 1 to 256 .*, got a string",
        ),
        ('\n[gather]\nallow_hosts = ["http://x"]\n', "is not host or host:port"),
        ('\n[gather]\nuser_agent = ""\n', r"corpus.toml:\d+: gather.user_agent: must name"),
        (
            '\n[release]\nannotations_creators = ["people"]\n',
            r"corpus.toml:\d+: release.annotations_creators: 'people' is not one of crowdsourced",
        ),
        ("\n[release]\nlanguage_creators = []\n", "release.language_creators: give at least one"),
        (
            '\n[release]\nsplits = { "my-train" = 0.8, test = 0.2 }\n',
            r"release.splits: split name 'my-train': letters, digits and _ only",
        ),
        ('\n[gather]\nuser_agent = "a\\nb"\n', "gather.user_agent: must name"),
    ],
)
def test_bad_values(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write_corpus(tmp_path / "c", MINIMAL_TOML + extra))


def test_bad_target_id_and_language(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'US Forces' is not snake_case"):
        load_config(
            write_corpus(
                tmp_path / "a",
                MINIMAL_TOML.replace('id = "us_forces_in_mexico"', 'id = "US Forces"'),
            )
        )
    with pytest.raises(ConfigError, match="'spa' is not an ISO 639-1 code"):
        load_config(write_corpus(tmp_path / "b", MINIMAL_TOML.replace('"es", "fr"', '"spa", "fr"')))


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ("[]", r"corpus.toml:\d+: topic.any: empty list would reject every article"),
        ('["fentanyl", " "]', r"corpus.toml:\d+: topic.any: a term is empty"),
    ],
)
def test_topic_terms_must_be_given(tmp_path: Path, terms: str, message: str) -> None:
    toml = re.sub(r"(?m)^any = .*$", f"any = {terms}", MINIMAL_TOML)
    assert toml != MINIMAL_TOML
    with pytest.raises(ConfigError, match=message):
        load_config(write_corpus(tmp_path / "c", toml))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('authors = ["Ada <ada@example.org>"]', r"corpus.authors: names only"),
        ('homepage = "example.org"', r"corpus.homepage: 'example.org' is not an http"),
    ],
)
def test_authors_and_homepage_are_checked(tmp_path: Path, line: str, message: str) -> None:
    toml = MINIMAL_TOML.replace("[corpus]\n", f"[corpus]\n{line}\n", 1)
    assert toml != MINIMAL_TOML
    with pytest.raises(ConfigError, match=message):
        load_config(write_corpus(tmp_path / "c", toml))
