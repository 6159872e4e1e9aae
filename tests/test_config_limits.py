"""Every number in corpus.toml (and on the command line) has a type and a range; so do strings.

Bad values are refused by `validate` and by every command with one line naming the file, the line
and the key, exit 2, and nothing written.
"""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newscorpus.config import (
    FLAG_LIMITS,
    LIMITS,
    TEXT_MAX,
    GatherSettings,
    Limit,
    ReleaseSettings,
    StudioSettings,
    check_flag,
    limits_markdown,
    load_config,
)
from newscorpus.corpus import load_articles
from newscorpus.errors import ConfigError, UsageError

from .conftest import MINIMAL_TOML, REPO, snapshot, write_corpus

Cli = Callable[..., Any]
PAGE = REPO / "tests" / "gather" / "fixtures" / "en_fentanyl_labs.html"
SOURCE = '\n[[sources]]\nname = "pages"\nkind = "html_dir"\npath = "pages"\n'


def corpus_with(root: Path, extra: str) -> Path:
    """A corpus whose html_dir source holds one on-topic English page, plus ``extra`` TOML."""
    write_corpus(root, MINIMAL_TOML + SOURCE + extra)
    (root / "pages").mkdir()
    shutil.copy(PAGE, root / "pages" / "a.html")
    return root


def toml_for(key: str, value: str) -> tuple[str, str]:
    """(TOML text setting ``key`` to ``value``, the text of the line that sets it)."""
    table, name = key.split(".", 1)
    if name == "splits.*":
        line = f"splits = {{ train = {value}, test = 0.2 }}"
    else:
        line = f"{name} = {value}"
    return f"\n[{table}]\n{line}\n", line


def _toml_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def bad_values(limit: Limit) -> list[tuple[str, str]]:
    """(label, TOML literal) of values every number must refuse, plus its own range's ends."""
    step = 1 if limit.kind is int else 0.5
    below = limit.low if limit.low_open else limit.low - step
    above = limit.high + 1 if limit.kind is int else limit.high + 0.5
    return [
        ("nan", "nan"),
        ("inf", "inf"),
        ("-inf", "-inf"),
        ("below", _toml_number(below)),
        ("above", _toml_number(above)),
        ("2**63", str(2**63)),
        ("-2**63", str(-(2**63))),
        ("10**400", "1" + "0" * 400),  # too large for a float: math.isfinite() would overflow
        ("1e300", "1e300"),
        ("string", '"8"'),
        ("bool", "true"),
        ("array", "[1]"),
    ]


CASES = [
    pytest.param(key, literal, id=f"{key}={label}")
    for key, limit in LIMITS.items()
    for label, literal in bad_values(limit)
]


def one_error_line(res: Any, root: Path, line_text: str, key: str) -> None:
    """Exit 2 and exactly one line: ``error: <root>/corpus.toml:<line>: <key>: must be ...``."""
    text = (root / "corpus.toml").read_text(encoding="utf-8")
    line_no = text.splitlines().index(line_text) + 1
    shown = key.replace("splits.*", "splits.train")
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    expected = (
        f"error: {root / 'corpus.toml'}:{line_no}: {shown}: must be {LIMITS[key].describe()}, got "
    )
    assert lines[0].startswith(expected), lines[0]
    assert "Traceback" not in res.output


@pytest.mark.parametrize(("key", "literal"), CASES)
def test_validate_refuses_bad_number(tmp_path: Path, cli: Cli, key: str, literal: str) -> None:
    extra, line = toml_for(key, literal)
    root = corpus_with(tmp_path / "c", extra)
    one_error_line(cli("--corpus", root, "validate"), root, line, key)


@pytest.mark.parametrize(("key", "literal"), CASES)
def test_gather_refuses_bad_number_and_writes_nothing(
    tmp_path: Path, cli: Cli, key: str, literal: str
) -> None:
    extra, line = toml_for(key, literal)
    root = corpus_with(tmp_path / "c", extra)
    before = snapshot(root)
    one_error_line(cli("--corpus", root, "gather"), root, line, key)
    assert snapshot(root) == before


def ends(limit: Limit) -> list[str]:
    low = limit.low + (1 if limit.kind is int else 0.001) if limit.low_open else limit.low
    return [_toml_number(low), _toml_number(limit.high)]


@pytest.mark.parametrize(
    ("key", "literal"),
    [pytest.param(k, v, id=f"{k}={v}") for k, lim in LIMITS.items() for v in ends(lim)],
)
def test_both_ends_of_each_range_are_accepted(tmp_path: Path, key: str, literal: str) -> None:
    extra, _ = toml_for(key, literal)
    if key == "release.splits.*":
        extra = extra.replace("test = 0.2", f"test = {1 - float(literal)!r}")
    cfg = load_config(corpus_with(tmp_path / "c", extra))
    table, name = key.split(".", 1)
    if table == "release":
        assert dict(cfg.release.splits)["train"] == float(literal)
    else:
        value = getattr(getattr(cfg, table), name)
        assert value == float(literal) and type(value) is LIMITS[key].kind


def test_gather_runs_with_in_range_numbers(tmp_path: Path, cli: Cli) -> None:
    """The control of the refusals above: the same corpus with numbers in range is gathered."""
    extra = "\n[gather]\ntimeout = 600\nper_host_delay = 0\nmax_bytes = 1000000000\n"
    root = corpus_with(tmp_path / "c", extra)
    res = cli("--corpus", root, "gather")
    assert res.exit_code == 0, res.output
    assert len(load_articles(load_config(root))) == 1


def test_every_numeric_setting_has_a_limit() -> None:
    for cls, table in ((GatherSettings, "gather"), (StudioSettings, "studio")):
        for f in dataclasses.fields(cls):
            if f.type in ("int", "float"):
                assert f"{table}.{f.name}" in LIMITS, f.name
    assert "release.splits.*" in LIMITS


def test_settings_built_in_code_are_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"^gather.per_host_delay: must be a number from 0"):
        GatherSettings(per_host_delay=math.inf)
    with pytest.raises(ConfigError, match=r"^gather.timeout: .* got nan$"):
        GatherSettings(timeout=math.nan)
    with pytest.raises(ConfigError, match=r"^studio.port: .* got 0$"):
        StudioSettings(port=0)
    with pytest.raises(ConfigError, match=r"^release.splits.train: .* got a boolean$"):
        ReleaseSettings(splits=(("train", True),))  # type: ignore[arg-type]


def test_hydrate_delay_nan_or_inf_is_refused_at_once(tmp_path: Path, cli: Cli) -> None:
    """`hydrate --delay inf` used to wait forever between requests; now it is a usage error."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "data" / "articles").mkdir(parents=True)
    row = {"id": "a1", "url": "http://127.0.0.2/a", "text": None, "text_sha256": "0" * 64}
    row["text_policy"] = "hydrate"
    pq.write_table(pa.Table.from_pylist([row]), tmp_path / "data" / "articles" / "train.parquet")
    before = snapshot(tmp_path / "data")
    for value in ("nan", "inf", "1e12", "-1"):
        res = cli("hydrate", tmp_path, "--delay", value)
        assert snapshot(tmp_path / "data") == before
        assert res.exit_code == 2, res.output
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "must be a number from 0 to 600 (seconds)" in lines[0]


@pytest.mark.parametrize("flag", list(FLAG_LIMITS))
def test_check_flag(flag: str) -> None:
    limit = FLAG_LIMITS[flag]
    name = flag.rsplit(" ", 1)[1]
    for value in (
        math.nan,
        math.inf,
        -math.inf,
        limit.low - 1,
        limit.high + 1,
        2**64,
        1e300,
        10**400,
    ):
        with pytest.raises(UsageError, match=rf"^{name}: must be {re.escape(limit.describe())}"):
            check_flag(flag, value)
    with pytest.raises(UsageError, match=r"got a boolean"):
        check_flag(flag, True)
    check_flag(flag, limit.low if not limit.low_open else limit.high)
    check_flag(flag, limit.high)
    check_flag(flag, None)


def test_docs_list_the_ranges() -> None:
    """docs/corpus-toml.md carries the table generated from LIMITS, so it cannot drift."""
    doc = (REPO / "docs" / "corpus-toml.md").read_text(encoding="utf-8")
    assert limits_markdown() in doc


# --- neighbours: other values that crashed or hung --------------------------------------------


def refused(tmp_path: Path, toml: str, pattern: str, cli: Cli) -> None:
    """validate and gather both exit 2 with one line matching ``pattern``; nothing written."""
    root = write_corpus(tmp_path / "c", toml)
    before = snapshot(root)
    for command in ("validate", "gather"):
        res = cli("--corpus", root, command)
        assert res.exit_code == 2, res.output
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, res.stderr
        assert re.search(pattern, lines[0]), lines[0]
        assert "Traceback" not in res.output
    assert snapshot(root) == before


def test_deeply_nested_array_is_one_line(tmp_path: Path, cli: Cli) -> None:
    toml = MINIMAL_TOML + "\n[release]\nnotice = " + "[" * 5000 + "]" * 5000 + "\n"
    line = toml.count("\n")
    refused(tmp_path, toml, rf"corpus.toml:{line}: arrays or tables nested too deeply$", cli)


def test_deeply_nested_inline_table_is_one_line(tmp_path: Path, cli: Cli) -> None:
    toml = MINIMAL_TOML + "\nx = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n"
    refused(tmp_path, toml, r"corpus.toml:\d+: arrays or tables nested too deeply$", cli)


def test_integer_of_5000_digits_is_one_line(tmp_path: Path, cli: Cli) -> None:
    toml = MINIMAL_TOML + "\n[gather]\nconcurrency = " + "9" * 5000 + "\n"
    line = toml.count("\n")
    refused(tmp_path, toml, rf"corpus.toml:{line}: TOML value refused: .*4300 digits", cli)


def test_huge_corpus_toml_is_refused_before_parsing(tmp_path: Path, cli: Cli) -> None:
    toml = MINIMAL_TOML + "# " + "x" * 2_000_000 + "\n"
    refused(tmp_path, toml, r"corpus.toml: 2,000,\d+ bytes; a corpus.toml is at most", cli)


@pytest.mark.parametrize(
    ("line", "new", "pattern"),
    [
        (3, 'pretty_name = "  "', r":3: corpus.pretty_name: must not be empty$"),
        (4, 'description = ""', r":4: corpus.description: must not be empty$"),
        (10, 'text = ""', r":10: targets.text: must not be empty$"),
        (9, 'id = ""', r":9: targets.id: must not be empty$"),
        (5, 'languages = ["es", "fr", "es"]', r":5: corpus.languages: a language is listed twice"),
        (3, f'pretty_name = "{"T" * 201}"', r":3: corpus.pretty_name: 'TTT.*201 .* at most 200$"),
        (2, f'name = "{"a" * 97}"', r":2: corpus.name: .* is 97 characters long; at most 96$"),
        (
            13,
            f'any = ["{"f" * 201}", "x"]',
            r":13: topic.any: .* 201 characters long; at most 200$",
        ),
    ],
)
def test_empty_and_huge_strings(
    tmp_path: Path, cli: Cli, line: int, new: str, pattern: str
) -> None:
    lines = MINIMAL_TOML.splitlines()
    assert lines[line - 1].split(" = ")[0] == new.split(" = ")[0]
    lines[line - 1] = new
    refused(tmp_path, "\n".join(lines) + "\n", pattern, cli)


def test_too_many_topic_terms(tmp_path: Path, cli: Cli) -> None:
    terms = ", ".join(f'"t{i}"' for i in range(10_001))
    toml = re.sub(r"(?m)^any = .*$", f"any = [{terms}]", MINIMAL_TOML)
    refused(tmp_path, toml, r":13: topic.any: 10,001 terms; at most 10,000", cli)


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        (  # a name longer than a file name can be: gather died with OSError (File name too long)
            '\n[[sources]]\nname = "' + "s" * 300 + '"\nkind = "html_dir"\npath = "p"\n',
            r":16: sources.name: 'sss.* is 300 characters long; at most 64",
        ),
        (
            '\n[[sources]]\nname = "a"\nkind = "html_dir"\npath = ""\n',
            r":18: sources.path: must not be empty",
        ),
        (
            '\n[[sources]]\nname = "a"\nkind = "html_dir"\npath = "p"\n'
            '\n[[sources]]\nname = "a"\nkind = "html_dir"\npath = "q"\n',
            r":21: sources\[1\].name: duplicate source name 'a'",
        ),
        (
            '\n[gather]\nallow_hosts = ["127.0.0.1:70000"]\n',
            r":16: gather.allow_hosts: '127.0.0.1:70000' is not host",
        ),
        (
            '\n[gather]\nallow_hosts = ["127.0.0.1:0"]\n',
            r":16: gather.allow_hosts: '127.0.0.1:0' is not host",
        ),
        ("\n[studio]\nport = 0\n", r":16: studio.port: must be an integer from 1 to 65535, got 0"),
        ("\n[studio]\nport = 70000\n", r":16: studio.port: .* got 70000"),
        (  # a boolean share was summed as 1 and accepted
            "\n[release]\nsplits = { train = true }\n",
            r":16: release.splits.train: must be a number from 0 to 1 .*, got a boolean",
        ),
        (
            "\n[release]\nsplits = { train = 0.9, test = 0.2 }\n",
            r":16: release.splits: shares add up to 1.1, not 1",
        ),
        (
            "\n[release.splits]\ntrain = 0.5\ntest = nan\n",
            r":17: release.splits.test: must be a number from 0 to 1 .*, got nan",
        ),
        (  # httpx could not encode the header: gather died with UnicodeEncodeError
            '\n[gather]\nuser_agent = "newscorpus café (x@example.org)"\n',
            r":16: gather.user_agent: printable ASCII only",
        ),
        ('\n[gather]\nuser_agent = "a\\tb"\n', r":16: gather.user_agent: printable ASCII only"),
        (  # the token would reach every article's url, and the release
            '\n[[sources]]\nname = "a"\nkind = "feed"\nurl = "https://me:tok@x.test/rss"\n',
            r":18: sources.url: must not carry a user name or password",
        ),
        (
            '\n[studio]\nurl = "http://admin:secret@127.0.0.1:8080"\n',
            r":16: studio.url: must not carry a user name or password",
        ),
        ('\n[release]\nto = ""\n', r":16: release.to: must not be empty"),
        ('\n[release]\nto = "."\n', r":16: release.to: must be a folder outside the corpus folder"),
        ('\n[release]\nto = "articles"\n', r":16: release.to: must be a folder outside"),
        ('\n[release]\nto = ".."\n', r":16: release.to: must be a folder outside"),
        ('\n[release]\nhub = "org/' + "n" * 200 + '"\n', r":16: release.hub: .* is not ORG/NAME"),
    ],
)
def test_neighbours(tmp_path: Path, cli: Cli, extra: str, pattern: str) -> None:
    refused(tmp_path, MINIMAL_TOML + extra, pattern, cli)


def test_dotted_key_error_names_its_line(tmp_path: Path, cli: Cli) -> None:
    toml = "gather.timeout = nan\n" + MINIMAL_TOML
    refused(tmp_path, toml, r"corpus.toml:1: gather.timeout: must be a number above 0", cli)


def test_release_to_beside_the_corpus_is_fine(tmp_path: Path) -> None:
    cfg = load_config(write_corpus(tmp_path / "c", MINIMAL_TOML + '\n[release]\nto = "../rel"\n'))
    assert cfg.release.to == tmp_path / "c" / ".." / "rel"


def test_text_limits_name_real_keys() -> None:
    from newscorpus.config import _KEYS

    for key in TEXT_MAX:
        table, name = key.split(".")
        assert name in _KEYS[table], key
