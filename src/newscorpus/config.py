"""corpus.toml -> one frozen Config, with errors that name the file, line and key.

Layers: packaged defaults (the dataclass defaults below), then corpus.toml (one parser per
table: ``_parse_corpus``, ``_parse_gather``, ...), then the command line. Only cli.py applies
the command line: its override helpers put flags and the CLI-level environment variables
(``--allow-host``, ``NEWSCORPUS_WORKERS`` into ``[gather]``) on the loaded Config with
``dataclasses.replace``, which runs the same range checks as corpus.toml (``__post_init__``).
Below the CLI, settings come from the Config passed in, never from the environment; only
secrets and connections are read there (``LABEL_STUDIO_URL``, ``LABEL_STUDIO_API_KEY``,
``HF_TOKEN``, ``HF_ENDPOINT``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import __version__
from .errors import ConfigError, UsageError
from .licenses import NAME_MAX, OTHER, hub_license, normalise_license, spdx_url
from .tomlcheck import Limit, Locator, Reader, nesting_line, suggest
from .urls import has_credentials, is_http_url, strip_credentials

CONFIG_NAME = "corpus.toml"
CARD_FILE = "DATA_CARD.md"  # a corpus's card prose and annotation guidelines, by default
SOURCE_KINDS = ("feed", "sitemap", "urls", "html_dir", "warc")
TEXT_POLICIES = ("full", "hydrate")

# fullmatch throughout: "$" alone would let a trailing newline through (articles/<name>\n.jsonl)
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_SNAKE = re.compile(r"[a-z][a-z0-9_]*")
_LANG = re.compile(r"[a-z]{2}")
_HOST = re.compile(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?")


def _host_problem(host: str) -> bool:
    """True unless ``host`` is HOST or HOST:PORT with a port from 1 to 65535."""
    m = _HOST.fullmatch(host)
    return not m or bool(m.group(2) and not 1 <= int(m.group(2)[1:]) <= 65535)


EXECUTORS = ("local", "serial", "ray")  # [gather] executor: where the shard work runs
_RAY_ADDRESS = re.compile(r"auto|(ray://)?[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}):[0-9]{1,5}", re.ASCII)


def executor_problem(name: str) -> str | None:
    """Why ``name`` is not a [gather] executor, or None."""
    if name in EXECUTORS:
        return None
    return f"{name!r} is not one of {', '.join(EXECUTORS)}"


DATABASES = ("sqlite", "postgresql")  # [studio] database: what the local Label Studio runs on


def database_problem(name: str) -> str | None:
    """Why ``name`` is not a [studio] database, or None."""
    if name in DATABASES:
        return None
    return f"{name[:40]!r} is not one of {', '.join(DATABASES)}"


def ray_address_problem(address: str) -> str | None:
    """Why ``address`` is not a Ray address (HOST:PORT, ray://HOST:PORT, auto), or None."""
    if address == "auto" or (
        _RAY_ADDRESS.fullmatch(address) and 0 < int(address.rsplit(":", 1)[1]) < 65536
    ):
        return None
    return f"{strip_credentials(address)[:80]!r} is not HOST:PORT, ray://HOST:PORT or auto"


def check_allow_host(host: str, flag: str = "--allow-host") -> str:
    """A HOST or HOST:PORT given on the command line, lower-cased; UsageError otherwise."""
    if _host_problem(host.strip()):
        raise UsageError(f"{flag} {host!r}: expected HOST or HOST:PORT")
    return host.strip().lower()


_HUB_REPO = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}", re.ASCII)
CONFIG_MAX_BYTES = 1_048_576  # a hand-written corpus.toml is far smaller; refuse a runaway file


def _check_url(r: Reader, url: str, table: str, key: str, index: int = 0) -> None:
    """An http(s) URL with a host and without credentials (they never go in corpus.toml)."""
    # credentials first, and never echoed: the error goes to a terminal, a log, a CI page
    if has_credentials(url) or "@" in _netloc(url):
        raise r.fail(
            "must not carry a user name or password (credentials never go in corpus.toml)",
            table,
            key,
            index,
        )
    if not is_http_url(url):
        shown = strip_credentials(url)
        raise r.fail(f"{shown!r} is not an http(s) URL with a host", table, key, index)


def _netloc(url: str) -> str:
    try:
        return urlsplit(url).netloc
    except ValueError:
        return ""


# --- the numbers: one table of types and ranges (docs/corpus-toml.md lists it) -----------------


# Every number corpus.toml takes ("table.key"; "release.splits.*" is each share).
LIMITS: dict[str, Limit] = {
    "gather.max_bytes": Limit(int, 1_000, 1_000_000_000, "bytes"),
    "gather.max_archive_bytes": Limit(int, 1_000, 100_000_000_000, "bytes of one remote WARC file"),
    "gather.concurrency": Limit(int, 1, 256, "requests in flight"),
    "gather.per_host_concurrency": Limit(int, 1, 64, "requests in flight to one host"),
    "gather.per_host_delay": Limit(float, 0, 600, "seconds"),
    "gather.timeout": Limit(float, 0, 600, "seconds", low_open=True),
    "gather.retries": Limit(int, 0, 10),
    "gather.near_dup_threshold": Limit(float, 0, 1, "Jaccard similarity", low_open=True),
    "gather.workers": Limit(int, 1, 256, "extraction processes"),
    "studio.port": Limit(int, 1, 65_535),
    "studio.overlap": Limit(int, 1, 100, "annotations per task"),
    "studio.batch_size": Limit(int, 1, 10_000, "tasks per import request"),
    "release.splits.*": Limit(float, 0, 1, "share of the clusters; the shares add up to 1"),
}
_COUNT = Limit(int, 1, 1_000_000_000, "articles")
# Every number a command takes on its command line ("command --flag").
FLAG_LIMITS: dict[str, Limit] = {
    "gather --limit": _COUNT,
    "push --limit": _COUNT,
    "push --sample": _COUNT,
    "push --seed": Limit(int, 0, 2**63 - 1),
    "push --overlap": LIMITS["studio.overlap"],
    "hydrate --delay": LIMITS["gather.per_host_delay"],
    "studio start --port": LIMITS["studio.port"],
    "demo --studio-port": LIMITS["studio.port"],
    "demo --sample-port": Limit(int, 0, 65_535, "0 picks a free port"),
}
# Longest string (in characters) each text key takes; "topic.any" is each term.
TEXT_MAX: dict[str, int] = {
    "corpus.name": 96,  # the Hub's limit on a repository name
    "corpus.pretty_name": 200,
    "corpus.description": 20_000,
    "corpus.authors": 200,
    "corpus.homepage": 2_000,
    "corpus.card": 1_000,
    "corpus.license_name": NAME_MAX,
    "corpus.license_link": 2_000,
    "targets.id": 64,
    "targets.text": 2_000,
    "topic.any": 200,
    "sources.name": 64,  # articles/<name>.jsonl: well within a file name's 255 bytes
    "sources.url": 2_000,
    "sources.path": 1_000,
    "sources.paths": 1_000,
    "sources.base_url": 2_000,
    "gather.user_agent": 300,
    "gather.executor": 20,
    "gather.ray_address": 300,
    "studio.url": 2_000,
    "studio.database": 20,
    "release.to": 1_000,
    "release.notice": 20_000,
}
TOPIC_TERMS_MAX = 10_000


def check_flag(flag: str, value: int | float | None) -> None:
    """UsageError (exit 2) naming the flag when a number given on the command line is out of range.

    ``flag`` is a key of FLAG_LIMITS, e.g. ``check_flag("hydrate --delay", delay)``; None passes.
    """
    if value is None:
        return
    problem = FLAG_LIMITS[flag].problem(value)
    if problem:
        raise UsageError(f"{flag.rsplit(' ', 1)[-1]}: {problem}")


def _check_fields(obj: Any, table: str) -> None:
    """ConfigError when a settings object built in code (not from corpus.toml) is out of range."""
    for f in fields(obj):
        limit = LIMITS.get(f"{table}.{f.name}")
        value = getattr(obj, f.name)
        if limit is not None and value is not None:  # None: the default, decided at run time
            problem = limit.problem(value)
            if problem:
                raise ConfigError(f"{table}.{f.name}: {problem}")


def limits_markdown() -> str:
    """The Markdown table of every number's type and range (docs/corpus-toml.md carries it)."""
    rows = ["| key | type and range |", "|---|---|"]
    rows += [f"| `{key}` | {limit.describe()} |" for key, limit in LIMITS.items()]
    rows += ["", "| flag | type and range |", "|---|---|"]
    rows += [f"| `{flag}` | {limit.describe()} |" for flag, limit in FLAG_LIMITS.items()]
    rows += ["", "| key | longest (characters) |", "|---|---|"]
    rows += [f"| `{key}` | {n:,} |" for key, n in TEXT_MAX.items()]
    return "\n".join(rows) + "\n"


@dataclass(frozen=True)
class CorpusMeta:
    name: str
    pretty_name: str
    description: str
    languages: tuple[str, ...]
    license: str  # a canonical SPDX id (CC-BY-4.0) or "other" (then license_name, license_link)
    authors: tuple[str, ...] = ()  # who made the corpus: the citation and the card
    homepage: str | None = None  # project page or repository
    license_name: str | None = None
    license_link: str | None = None
    card: Path | None = None  # the corpus's DATA_CARD.md ([corpus] card; <corpus>/DATA_CARD.md)

    def card_license(self) -> dict[str, str]:
        """The dataset card's keys: {'license': hub id} or other + license_name + license_link."""
        return hub_license(self.license, self.license_name, self.license_link)

    @property
    def license_url(self) -> str:
        """Where the licence is read: its spdx.org page, or license_link for other."""
        return (self.license_link or "") if self.license == OTHER else spdx_url(self.license)

    @property
    def license_title(self) -> str:
        """The licence as people name it: the SPDX id, or license_name for other."""
        return (self.license_name or "") if self.license == OTHER else self.license


@dataclass(frozen=True)
class Target:
    id: str
    text: str


@dataclass(frozen=True)
class Topic:
    any: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    url: str | None = None
    path: Path | None = None
    text_policy: str = "full"
    # warc only: ``path`` may be a glob; ``paths`` a listing (Common Crawl's warc.paths[.gz]) of
    # files relative to ``base_url`` (an http(s) URL, or a local folder, here resolved)
    paths: Path | None = None
    base_url: str | None = None


@dataclass(frozen=True)
class GatherSettings:
    allow_hosts: tuple[str, ...] = ()
    max_bytes: int = 5_000_000
    max_archive_bytes: int = 5_000_000_000  # one remote WARC file (CC-NEWS files are ~1 GB)
    concurrency: int = 8
    per_host_delay: float = 1.0
    user_agent: str = f"newscorpus/{__version__} (research corpus builder)"
    timeout: float = 20.0
    retries: int = 3
    per_host_concurrency: int = 2
    near_dup_threshold: float = 0.5
    workers: int | None = None  # extraction processes; None: one per core, at most 8
    executor: str = "local"  # where the shard work runs: local (process pool), serial, ray
    ray_address: str | None = None  # executor "ray": the cluster; None: a local Ray instance
    prefilter: bool = True  # test the raw page for a topic term before extracting it

    def __post_init__(self) -> None:
        _check_fields(self, "gather")  # settings built in code (hydrate's --delay) are checked too
        problem = executor_problem(self.executor)
        if problem is None and self.ray_address is not None:
            problem = ray_address_problem(self.ray_address)
        if problem is not None:
            key = "executor" if executor_problem(self.executor) else "ray_address"
            raise ConfigError(f"gather.{key}: {problem}")
        for host in self.allow_hosts:  # --allow-host is added in code (cli.py)
            if _host_problem(host):
                raise ConfigError(f"gather.allow_hosts: {host!r} is not host or host:port")


@dataclass(frozen=True)
class StudioSettings:
    url: str | None = None
    port: int = 8080
    overlap: int = 2
    batch_size: int = 500
    # the local server's: sqlite (embedded) or postgresql; None: the one it already has, else sqlite
    database: str | None = None

    def __post_init__(self) -> None:
        _check_fields(self, "studio")
        problem = None if self.database is None else database_problem(self.database)
        if problem is not None:
            raise ConfigError(f"studio.database: {problem}")


@dataclass(frozen=True)
class ReleaseSettings:
    to: Path | None = None
    hub: str | None = None
    splits: tuple[tuple[str, float], ...] = (("train", 0.8), ("validation", 0.1), ("test", 0.1))
    # the dataset card's YAML header (Hugging Face's vocabularies) and an optional notice on top
    annotations_creators: tuple[str, ...] = ("expert-generated",)
    language_creators: tuple[str, ...] = ("found",)
    notice: str = ""

    def __post_init__(self) -> None:
        limit = LIMITS["release.splits.*"]
        for name, share in self.splits:
            problem = limit.problem(share)
            if problem:
                raise ConfigError(f"release.splits.{name}: {problem}")


# Values the Hugging Face Hub accepts in a dataset card's header.
CREATORS = ("crowdsourced", "expert-generated", "found", "machine-generated", "other")


@dataclass(frozen=True)
class Config:
    root: Path
    corpus: CorpusMeta
    targets: tuple[Target, ...]
    topic: Topic = field(default_factory=Topic)
    sources: tuple[Source, ...] = ()
    gather: GatherSettings = field(default_factory=GatherSettings)
    studio: StudioSettings = field(default_factory=StudioSettings)
    release: ReleaseSettings = field(default_factory=ReleaseSettings)

    @property
    def path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def articles_dir(self) -> Path:
        return self.root / "articles"

    @property
    def annotations_dir(self) -> Path:
        return self.root / "annotations"

    @property
    def rejected_path(self) -> Path:
        return self.root / "rejected.jsonl"

    @property
    def state_dir(self) -> Path:
        """Git-ignored working state: caches, ledgers, Label Studio data, secrets."""
        return self.root / ".newscorpus"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(
            f"{self.path}: no [[sources]] named {name!r}{suggest(name, [s.name for s in self.sources])}"
        )


def text_policy(cfg: Config, source: str, synthetic: bool) -> str:
    """The text policy of an article's source.

    A source that is not a [[sources]] entry (the seed, a hand import) has no terms on record:
    its real articles are withheld (``hydrate``) and only synthetic ones are released in full.
    """
    for s in cfg.sources:
        if s.name == source:
            return s.text_policy
    return "full" if synthetic else "hydrate"


def replace_gather(cfg: Config, **changes: Any) -> Config:
    """``cfg`` with some [gather] settings replaced, checked as corpus.toml's are (cli.py's
    override step: ``--allow-host``, ``NEWSCORPUS_WORKERS``)."""
    if not changes:
        return cfg
    return dataclasses.replace(cfg, gather=dataclasses.replace(cfg.gather, **changes))


# --- the contract: which keys each table takes -------------------------------------------------

_KEYS: dict[str, tuple[str, ...]] = {
    "": ("corpus", "targets", "topic", "sources", "gather", "studio", "release"),
    "corpus": (
        "name",
        "pretty_name",
        "description",
        "languages",
        "license",
        "license_name",
        "license_link",
        "authors",
        "homepage",
        "card",
    ),
    "targets": ("id", "text"),
    "topic": ("any",),
    "sources": ("name", "kind", "url", "path", "paths", "base_url", "text_policy"),
    "gather": (
        "allow_hosts",
        "max_bytes",
        "max_archive_bytes",
        "concurrency",
        "per_host_delay",
        "user_agent",
        "timeout",
        "retries",
        "per_host_concurrency",
        "near_dup_threshold",
        "workers",
        "executor",
        "ray_address",
        "prefilter",
    ),
    "studio": ("url", "port", "overlap", "batch_size", "database"),
    "release": ("to", "hub", "splits", "annotations_creators", "language_creators", "notice"),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "": ("corpus", "targets"),
    "corpus": ("name", "pretty_name", "description", "languages", "license"),
    "targets": ("id", "text"),
    "sources": ("name", "kind"),
}


def load_config(root: Path | str) -> Config:
    """Read and check ``<root>/corpus.toml``; raise ConfigError naming the line and key."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(
            f"{root}: corpus folder not found (create one with `newscorpus init {root}`)"
        )
    path = root / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(f"{path}: not found (create one with `newscorpus init {root}`)")
    try:
        size = path.stat().st_size
        if size > CONFIG_MAX_BYTES:
            raise ConfigError(
                f"{path}: {size:,} bytes; a corpus.toml is at most {CONFIG_MAX_BYTES:,} bytes"
            )
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8: {exc.reason} at byte {exc.start}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        if m:
            msg = msg[: m.start()].strip()
            raise ConfigError(f"{path}:{m.group(1)}: TOML syntax error: {msg}") from None
        raise ConfigError(f"{path}: TOML syntax error: {msg}") from None
    except RecursionError:
        line = nesting_line(text)
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(f"{where}: arrays or tables nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4300 digits (int() refuses it)
        m = re.search(r"\d{100,}", text)
        line = text.count("\n", 0, m.start()) + 1 if m else None
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(f"{where}: TOML value refused: {exc}") from None
    return parse_config(root, data, text)


def release_target_problem(root: Path, to: Path) -> str | None:
    """Why ``to`` cannot be a release target of the corpus at ``root`` (None: it can)."""
    if "\0" in str(to) or _inside(root, to) or _inside(to, root):
        return (
            'must be a folder outside the corpus folder and not one holding it (e.g. "../release")'
        )
    return None


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def parse_config(root: Path, data: Mapping[str, Any], text: str = "") -> Config:
    """Build a Config from parsed TOML (``text`` only serves to find lines for errors)."""
    r = Reader(root / CONFIG_NAME, Locator(text), _KEYS, _REQUIRED, LIMITS, TEXT_MAX)
    r.check_keys(data, "")
    tables = {"corpus": dict, "topic": dict, "gather": dict, "studio": dict, "release": dict}
    for name, kind in tables.items():
        if name in data:
            r.get(data, "", name, kind)
    for name in ("targets", "sources"):
        if name in data and not (
            isinstance(data[name], list) and all(isinstance(x, dict) for x in data[name])
        ):
            raise r.fail(f"must be an array of tables ([[{name}]])", "", name)

    meta = _parse_corpus(r, root, data["corpus"])
    targets = _parse_targets(r, data["targets"])
    return Config(
        root=root,
        corpus=meta,
        targets=targets,
        topic=_parse_topic(r, data["topic"]) if "topic" in data else Topic(),
        sources=_parse_sources(r, root, data.get("sources", [])),
        gather=_parse_gather(r, data["gather"]) if "gather" in data else GatherSettings(),
        studio=_parse_studio(r, data["studio"]) if "studio" in data else StudioSettings(),
        release=_parse_release(r, root, data["release"])
        if "release" in data
        else ReleaseSettings(),
    )


def _parse_corpus(r: Reader, root: Path, c: Mapping[str, Any]) -> CorpusMeta:
    """[corpus]: the name, languages, licence and card of the corpus."""
    r.check_keys(c, "corpus")
    name = r.text(c, "corpus", "name")
    if not _SLUG.fullmatch(name):
        raise r.fail("must be a slug (lower-case letters, digits, - and _)", "corpus", "name")
    languages = r.str_list(c, "corpus", "languages")
    for lang in languages:
        if not _LANG.fullmatch(lang):
            raise r.fail(
                f"{lang!r} is not an ISO 639-1 code (two lower-case letters)", "corpus", "languages"
            )
    if not languages:
        raise r.fail("list at least one language", "corpus", "languages")
    if len(set(languages)) != len(languages):
        raise r.fail("a language is listed twice", "corpus", "languages")
    try:
        lic = normalise_license(r.get(c, "corpus", "license", str))
    except ValueError as exc:
        raise r.fail(str(exc), "corpus", "license") from None
    lic_name = r.text(c, "corpus", "license_name") if "license_name" in c else None
    lic_link = r.text(c, "corpus", "license_link") if "license_link" in c else None
    if lic == OTHER:
        if lic_name is None or lic_link is None:
            missing = "license_name" if lic_name is None else "license_link"
            raise r.fail(
                f'license = "other" needs license_name and license_link (missing {missing})',
                "corpus",
                "license",
            )
        if "\n" in lic_name:
            raise r.fail("one line", "corpus", "license_name")
        _check_url(r, lic_link, "corpus", "license_link")
    else:
        for key in ("license_name", "license_link"):
            if key in c:
                raise r.fail(
                    f'only with license = "other" (an SPDX id such as {lic} needs no {key})',
                    "corpus",
                    key,
                )
    authors = r.str_list(c, "corpus", "authors") if "authors" in c else ()
    if any(not a.strip() or "@" in a for a in authors):
        raise r.fail("names only: no empty entry and no e-mail address", "corpus", "authors")
    homepage = r.text(c, "corpus", "homepage") if "homepage" in c else None
    if homepage is not None:
        _check_url(r, homepage, "corpus", "homepage")
    card = root / CARD_FILE
    if "card" in c:
        given = Path(r.text(c, "corpus", "card"))
        card = given if given.is_absolute() else root / given
        if card.suffix.lower() != ".md":
            raise r.fail("a Markdown file (.md): the prose of the dataset card", "corpus", "card")
        if not card.is_file():
            raise r.fail(f"{card}: no such file", "corpus", "card")
    return CorpusMeta(
        name=name,
        pretty_name=r.text(c, "corpus", "pretty_name"),
        description=r.text(c, "corpus", "description"),
        languages=languages,
        license=lic,
        authors=authors,
        homepage=homepage,
        license_name=lic_name,
        license_link=lic_link,
        card=card,
    )


def _parse_targets(r: Reader, items: list[Any]) -> tuple[Target, ...]:
    """[[targets]]: what stance is annotated towards, at least one."""
    targets: list[Target] = []
    for i, t in enumerate(items):
        r.check_keys(t, "targets", i)
        tid = r.text(t, "targets", "id", i)
        if not _SNAKE.fullmatch(tid):
            raise r.fail(f"{tid!r} is not snake_case", "targets", "id", i)
        if any(x.id == tid for x in targets):
            raise r.fail(f"duplicate target id {tid!r}", "targets", "id", i)
        targets.append(Target(id=tid, text=r.text(t, "targets", "text", i)))
    if not targets:
        raise r.fail("declare at least one [[targets]]", "", "targets")
    return tuple(targets)


def _parse_topic(r: Reader, tp: Mapping[str, Any]) -> Topic:
    """[topic]: the terms an article must hold (no [topic]: every article is on topic)."""
    r.check_keys(tp, "topic")
    if "any" not in tp:
        return Topic()
    terms = r.str_list(tp, "topic", "any")
    if not terms:
        raise r.fail(
            "empty list would reject every article; list terms, or remove [topic] "
            "to accept every article",
            "topic",
            "any",
        )
    if any(not t.strip() for t in terms):
        raise r.fail("a term is empty", "topic", "any")
    if len(terms) > TOPIC_TERMS_MAX:
        raise r.fail(f"{len(terms):,} terms; at most {TOPIC_TERMS_MAX:,}", "topic", "any")
    return Topic(any=terms)


def _parse_sources(r: Reader, root: Path, items: list[Any]) -> tuple[Source, ...]:
    """[[sources]]: where articles come from, each named once."""
    sources: list[Source] = []
    for i, s in enumerate(items):
        r.check_keys(s, "sources", i)
        sname = r.text(s, "sources", "name", i)
        if not _SLUG.fullmatch(sname):
            raise r.fail(f"{sname!r} must be a slug", "sources", "name", i)
        if any(x.name == sname for x in sources):
            raise r.fail(f"duplicate source name {sname!r}", "sources", "name", i)
        kind = r.get(s, "sources", "kind", str, i)
        if kind not in SOURCE_KINDS:
            raise r.fail(
                f"{kind!r} is not one of {', '.join(SOURCE_KINDS)}{suggest(kind, SOURCE_KINDS)}",
                "sources",
                "kind",
                i,
            )
        url = r.text(s, "sources", "url", i, blank=True) if "url" in s else None
        spath = r.text(s, "sources", "path", i) if "path" in s else None
        if kind == "warc" or "paths" in s or "base_url" in s:
            sources.append(_parse_warc(r, root, s, i, sname, url, spath))
            continue
        if (url is None) == (spath is None):
            raise r.fail("give exactly one of 'url' or 'path'", "sources", None, i)
        if kind == "html_dir" and spath is None:
            raise r.fail("an html_dir source takes 'path'", "sources", "url", i)
        policy = r.get(s, "sources", "text_policy", str, i) if "text_policy" in s else "full"
        if policy not in TEXT_POLICIES:
            raise r.fail(f"{policy!r} is not one of full, hydrate", "sources", "text_policy", i)
        if url is not None:
            _check_url(r, url, "sources", "url", i)
        resolved = None
        if spath is not None:
            if "\0" in spath:
                raise r.fail("a path cannot hold a NUL character", "sources", "path", i)
            p = Path(spath)
            resolved = p if p.is_absolute() else root / p
        sources.append(Source(name=sname, kind=kind, url=url, path=resolved, text_policy=policy))
    return tuple(sources)


def _local_path(r: Reader, root: Path, value: str, key: str, i: int) -> Path:
    if "\0" in value:
        raise r.fail("a path cannot hold a NUL character", "sources", key, i)
    p = Path(value)
    return p if p.is_absolute() else root / p


def _parse_warc(
    r: Reader,
    root: Path,
    s: Mapping[str, Any],
    i: int,
    name: str,
    url: str | None,
    spath: str | None,
) -> Source:
    """A warc source: ``path`` (a file, a folder or a glob) or ``paths`` (a listing) + ``base_url``."""
    kind = s["kind"]
    if kind != "warc":
        key = "paths" if "paths" in s else "base_url"
        raise r.fail("only a warc source takes 'paths' and 'base_url'", "sources", key, i)
    if url is not None:
        raise r.fail("a warc source takes 'path' or 'paths', not 'url'", "sources", "url", i)
    listing = r.text(s, "sources", "paths", i) if "paths" in s else None
    if (spath is None) == (listing is None):
        raise r.fail("give exactly one of 'path' or 'paths'", "sources", None, i)
    base = r.text(s, "sources", "base_url", i) if "base_url" in s else None
    if base is not None and listing is None:
        raise r.fail("'base_url' goes with 'paths' only", "sources", "base_url", i)
    if listing is not None and base is None:
        raise r.fail("'paths' needs 'base_url' (an http(s) URL or a folder)", "sources", "paths", i)
    if base is not None:
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", base):
            _check_url(r, base, "sources", "base_url", i)
        else:
            base = str(_local_path(r, root, base, "base_url", i))
    policy = r.get(s, "sources", "text_policy", str, i) if "text_policy" in s else "full"
    if policy not in TEXT_POLICIES:
        raise r.fail(f"{policy!r} is not one of full, hydrate", "sources", "text_policy", i)
    return Source(
        name=name,
        kind=kind,
        path=_local_path(r, root, spath, "path", i) if spath is not None else None,
        paths=_local_path(r, root, listing, "paths", i) if listing is not None else None,
        base_url=base,
        text_policy=policy,
    )


def _parse_gather(r: Reader, g: Mapping[str, Any]) -> GatherSettings:
    """[gather]: hosts allowed, politeness, limits, near-duplicate threshold, workers."""
    r.check_keys(g, "gather")
    values: dict[str, Any] = {}
    if "allow_hosts" in g:
        hosts = r.str_list(g, "gather", "allow_hosts")
        for h in hosts:
            if _host_problem(h):
                raise r.fail(f"{h!r} is not host or host:port", "gather", "allow_hosts")
        values["allow_hosts"] = tuple(h.lower() for h in hosts)
    for key in _KEYS["gather"]:
        if key in g and f"gather.{key}" in LIMITS:
            values[key] = r.number(g, "gather", key)
    if "user_agent" in g:
        agent = r.text(g, "gather", "user_agent", blank=True)
        if not agent.strip() or any(c in agent for c in "\r\n"):
            raise r.fail(
                "must name the tool and a contact (one line), as robots.txt and site "
                "operators read it",
                "gather",
                "user_agent",
            )
        if not all(" " <= c <= "~" for c in agent):  # an HTTP header: printable ASCII
            raise r.fail(
                "printable ASCII only (it is sent as an HTTP header)",
                "gather",
                "user_agent",
            )
        values["user_agent"] = agent
    for key, check in (("executor", executor_problem), ("ray_address", ray_address_problem)):
        if key in g:
            value = r.text(g, "gather", key)
            problem = check(value)
            if problem is not None:
                raise r.fail(problem, "gather", key)
            values[key] = value
    if "prefilter" in g:
        values["prefilter"] = r.get(g, "gather", "prefilter", bool)
    return GatherSettings(**values)


def _parse_studio(r: Reader, st: Mapping[str, Any]) -> StudioSettings:
    """[studio]: the Label Studio server, overlap and import batch size."""
    r.check_keys(st, "studio")
    svals: dict[str, Any] = {}
    if "url" in st:
        svals["url"] = r.text(st, "studio", "url")
    for key in ("port", "overlap", "batch_size"):
        if key in st:
            svals[key] = r.number(st, "studio", key)
    if "url" in svals:
        _check_url(r, svals["url"], "studio", "url")
    if "database" in st:
        svals["database"] = r.text(st, "studio", "database")
        problem = database_problem(svals["database"])
        if problem is not None:
            raise r.fail(problem, "studio", "database")
    return StudioSettings(**svals)


def _parse_release(r: Reader, root: Path, rel: Mapping[str, Any]) -> ReleaseSettings:
    """[release]: where releases go, the splits and the card's header."""
    r.check_keys(rel, "release")
    rvals: dict[str, Any] = {}
    if "to" in rel:
        p = Path(r.text(rel, "release", "to"))
        rvals["to"] = p if p.is_absolute() else root / p
        problem = release_target_problem(root, rvals["to"])
        if problem is not None:
            raise r.fail(problem, "release", "to")
    if "hub" in rel:
        rvals["hub"] = r.get(rel, "release", "hub", str)
        if not _HUB_REPO.fullmatch(rvals["hub"]):
            raise r.fail(f"{rvals['hub']!r} is not ORG/NAME", "release", "hub")
    if "splits" in rel:
        sp = r.get(rel, "release", "splits", dict)
        if not sp:
            raise r.fail("expected a table of split = share", "release", "splits")
        for name in sp:  # what Hugging Face datasets accepts as a split name
            if not re.fullmatch(r"\w{1,64}(\.\w{1,64})*", name) or len(name) > 64:
                raise r.fail(
                    f"split name {name!r}: letters, digits and _ only (at most 64)",
                    "release",
                    "splits",
                )
            r.number(sp, "release", f"splits.{name}", field=name, limit="release.splits.*")
        total = math.fsum(sp.values())
        if abs(total - 1.0) > 1e-6:
            raise r.fail(f"shares add up to {total:g}, not 1", "release", "splits")
        rvals["splits"] = tuple((k, float(v)) for k, v in sp.items())
    for key in ("annotations_creators", "language_creators"):
        if key in rel:
            allowed = (*CREATORS, "no-annotation") if key == "annotations_creators" else CREATORS
            creators = r.str_list(rel, "release", key)
            if not creators:
                raise r.fail("give at least one value", "release", key)
            for v in creators:
                if v not in allowed:
                    raise r.fail(f"{v!r} is not one of {', '.join(allowed)}", "release", key)
            rvals[key] = creators
    if "notice" in rel:
        rvals["notice"] = r.text(rel, "release", "notice", blank=True).strip()
    return ReleaseSettings(**rvals)
