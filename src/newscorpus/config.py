"""corpus.toml -> one frozen Config, with errors that name the file, line and key.

Layers: packaged defaults (the dataclass defaults below), then corpus.toml, then CLI flags
(``dataclasses.replace`` on the loaded object in cli.py).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import __version__
from .errors import ConfigError

CONFIG_NAME = "corpus.toml"
SOURCE_KINDS = ("feed", "sitemap", "urls", "html_dir", "warc")
TEXT_POLICIES = ("full", "hydrate")
STANCE_VALUES = ("favor", "against", "neutral", "unrelated")
SPAN_LABELS = ("Claim", "Quote", "Speaker")

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_LANG = re.compile(r"^[a-z]{2}$")
_HOST = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")
_SPDX = re.compile(r"^[A-Za-z0-9.+-]+$")


def _http_url(url: str) -> bool:
    """True for an http(s) URL that urllib can split, with a host and a valid port."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


@dataclass(frozen=True)
class CorpusMeta:
    name: str
    pretty_name: str
    description: str
    languages: tuple[str, ...]
    license: str
    authors: tuple[str, ...] = ()  # who made the corpus: the citation and the card
    homepage: str | None = None  # project page or repository


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


@dataclass(frozen=True)
class GatherSettings:
    allow_hosts: tuple[str, ...] = ()
    max_bytes: int = 5_000_000
    concurrency: int = 8
    per_host_delay: float = 1.0
    user_agent: str = f"newscorpus/{__version__} (research corpus builder)"
    timeout: float = 20.0
    retries: int = 3
    per_host_concurrency: int = 2
    near_dup_threshold: float = 0.5


@dataclass(frozen=True)
class StudioSettings:
    url: str | None = None
    port: int = 8080
    overlap: int = 2
    batch_size: int = 500


@dataclass(frozen=True)
class ReleaseSettings:
    to: Path | None = None
    hub: str | None = None
    splits: tuple[tuple[str, float], ...] = (("train", 0.8), ("validation", 0.1), ("test", 0.1))
    # the dataset card's YAML header (Hugging Face's vocabularies) and an optional notice on top
    annotations_creators: tuple[str, ...] = ("expert-generated",)
    language_creators: tuple[str, ...] = ("found",)
    notice: str = ""


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
            f"{self.path}: no [[sources]] named {name!r}{_suggest(name, [s.name for s in self.sources])}"
        )


# --- the contract: which keys each table takes -------------------------------------------------

_KEYS: dict[str, tuple[str, ...]] = {
    "": ("corpus", "targets", "topic", "sources", "gather", "studio", "release"),
    "corpus": (
        "name",
        "pretty_name",
        "description",
        "languages",
        "license",
        "authors",
        "homepage",
    ),
    "targets": ("id", "text"),
    "topic": ("any",),
    "sources": ("name", "kind", "url", "path", "text_policy"),
    "gather": (
        "allow_hosts",
        "max_bytes",
        "concurrency",
        "per_host_delay",
        "user_agent",
        "timeout",
        "retries",
        "per_host_concurrency",
        "near_dup_threshold",
    ),
    "studio": ("url", "port", "overlap", "batch_size"),
    "release": ("to", "hub", "splits", "annotations_creators", "language_creators", "notice"),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "": ("corpus", "targets"),
    "corpus": ("name", "pretty_name", "description", "languages", "license"),
    "targets": ("id", "text"),
    "sources": ("name", "kind"),
}


def _suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Locator:
    """Finds the line of a table or key in the TOML text, for error messages."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line(self, table: str, key: str | None = None, index: int = 0) -> int | None:
        current, seen = "", {"": 0}
        header_line: int | None = 1 if table == "" else None
        for no, raw in enumerate(self.lines, start=1):
            m = self._HEADER.match(raw)
            if m:
                current = m.group(2)
                seen[current] = seen.get(current, -1) + 1
                if current == table and seen[current] == index:
                    header_line = no
                    if key is None:
                        return no
                continue
            if key is None or current != table or seen.get(current, 0) != index:
                continue
            k = self._KEY.match(raw)
            if k and k.group(1) == key:
                return no
        return header_line


@dataclass
class _Reader:
    path: Path
    locate: _Locator

    def fail(
        self, msg: str, table: str = "", key: str | None = None, index: int = 0
    ) -> ConfigError:
        line = self.locate.line(table, key, index)
        where = f"{self.path}:{line}" if line else str(self.path)
        name = ".".join(p for p in (table if not index else f"{table}[{index}]", key or "") if p)
        return ConfigError(f"{where}: {name}: {msg}" if name else f"{where}: {msg}")

    def check_keys(self, data: Mapping[str, Any], table: str, index: int = 0) -> None:
        allowed = _KEYS[table]
        for key in data:
            if key not in allowed:
                where = f"[{table}]" if table else "top level"
                raise self.fail(
                    f"unknown key in {where}{_suggest(key, allowed)}", table, key, index
                )
        for key in _REQUIRED.get(table, ()):
            if key not in data:
                raise self.fail(f"missing required key {key!r}", table, None, index)

    def get(
        self,
        data: Mapping[str, Any],
        table: str,
        key: str,
        kind: type | tuple[type, ...],
        index: int = 0,
    ) -> Any:
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(f"expected {names}, got {type(value).__name__}", table, key, index)
        return value

    def str_list(
        self, data: Mapping[str, Any], table: str, key: str, index: int = 0
    ) -> tuple[str, ...]:
        value = self.get(data, table, key, list, index)
        if not all(isinstance(v, str) for v in value):
            raise self.fail("expected a list of strings", table, key, index)
        return tuple(value)


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
    return parse_config(root, data, text)


def parse_config(root: Path, data: Mapping[str, Any], text: str = "") -> Config:
    """Build a Config from parsed TOML (``text`` only serves to find lines for errors)."""
    r = _Reader(root / CONFIG_NAME, _Locator(text))
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

    c = data["corpus"]
    r.check_keys(c, "corpus")
    name = r.get(c, "corpus", "name", str)
    if not _SLUG.match(name):
        raise r.fail("must be a slug (lower-case letters, digits, - and _)", "corpus", "name")
    languages = r.str_list(c, "corpus", "languages")
    for lang in languages:
        if not _LANG.match(lang):
            raise r.fail(
                f"{lang!r} is not an ISO 639-1 code (two lower-case letters)", "corpus", "languages"
            )
    if not languages:
        raise r.fail("list at least one language", "corpus", "languages")
    lic = r.get(c, "corpus", "license", str)
    if not _SPDX.match(lic):
        raise r.fail(f"{lic!r} is not an SPDX license id", "corpus", "license")
    authors = r.str_list(c, "corpus", "authors") if "authors" in c else ()
    if any(not a.strip() or "@" in a for a in authors):
        raise r.fail("names only: no empty entry and no e-mail address", "corpus", "authors")
    homepage = r.get(c, "corpus", "homepage", str) if "homepage" in c else None
    if homepage is not None and not _http_url(homepage):
        raise r.fail(f"{homepage!r} is not an http(s) URL with a host", "corpus", "homepage")
    meta = CorpusMeta(
        name=name,
        pretty_name=r.get(c, "corpus", "pretty_name", str),
        description=r.get(c, "corpus", "description", str),
        languages=languages,
        license=lic,
        authors=authors,
        homepage=homepage,
    )

    targets: list[Target] = []
    for i, t in enumerate(data["targets"]):
        r.check_keys(t, "targets", i)
        tid = r.get(t, "targets", "id", str, i)
        if not _SNAKE.match(tid):
            raise r.fail(f"{tid!r} is not snake_case", "targets", "id", i)
        if any(x.id == tid for x in targets):
            raise r.fail(f"duplicate target id {tid!r}", "targets", "id", i)
        targets.append(Target(id=tid, text=r.get(t, "targets", "text", str, i)))
    if not targets:
        raise r.fail("declare at least one [[targets]]", "", "targets")

    topic = Topic()
    if "topic" in data:
        r.check_keys(data["topic"], "topic")
        if "any" in data["topic"]:
            terms = r.str_list(data["topic"], "topic", "any")
            if not terms:
                raise r.fail(
                    "empty list would reject every article; list terms, or remove [topic] "
                    "to accept every article",
                    "topic",
                    "any",
                )
            if any(not t.strip() for t in terms):
                raise r.fail("a term is empty", "topic", "any")
            topic = Topic(any=terms)

    sources: list[Source] = []
    for i, s in enumerate(data.get("sources", [])):
        r.check_keys(s, "sources", i)
        sname = r.get(s, "sources", "name", str, i)
        if not _SLUG.match(sname):
            raise r.fail(f"{sname!r} must be a slug", "sources", "name", i)
        if any(x.name == sname for x in sources):
            raise r.fail(f"duplicate source name {sname!r}", "sources", "name", i)
        kind = r.get(s, "sources", "kind", str, i)
        if kind not in SOURCE_KINDS:
            raise r.fail(
                f"{kind!r} is not one of {', '.join(SOURCE_KINDS)}{_suggest(kind, SOURCE_KINDS)}",
                "sources",
                "kind",
                i,
            )
        url = r.get(s, "sources", "url", str, i) if "url" in s else None
        spath = r.get(s, "sources", "path", str, i) if "path" in s else None
        if (url is None) == (spath is None):
            raise r.fail("give exactly one of 'url' or 'path'", "sources", None, i)
        if kind == "html_dir" and spath is None:
            raise r.fail("an html_dir source takes 'path'", "sources", "url", i)
        policy = r.get(s, "sources", "text_policy", str, i) if "text_policy" in s else "full"
        if policy not in TEXT_POLICIES:
            raise r.fail(f"{policy!r} is not one of full, hydrate", "sources", "text_policy", i)
        if url is not None and not _http_url(url):
            raise r.fail(f"{url!r} is not an http(s) URL with a host", "sources", "url", i)
        resolved = None
        if spath is not None:
            p = Path(spath)
            resolved = p if p.is_absolute() else root / p
        sources.append(Source(name=sname, kind=kind, url=url, path=resolved, text_policy=policy))

    gather = GatherSettings()
    if "gather" in data:
        g = data["gather"]
        r.check_keys(g, "gather")
        values: dict[str, Any] = {}
        if "allow_hosts" in g:
            hosts = r.str_list(g, "gather", "allow_hosts")
            for h in hosts:
                if not _HOST.match(h):
                    raise r.fail(f"{h!r} is not host or host:port", "gather", "allow_hosts")
            values["allow_hosts"] = tuple(h.lower() for h in hosts)
        for key, kind_ in (
            ("max_bytes", int),
            ("concurrency", int),
            ("retries", int),
            ("per_host_concurrency", int),
        ):
            if key in g:
                v = r.get(g, "gather", key, kind_)
                if v < (0 if key == "retries" else 1):
                    raise r.fail("must be positive", "gather", key)
                values[key] = v
        for key in ("per_host_delay", "timeout", "near_dup_threshold"):
            if key in g:
                fv = float(r.get(g, "gather", key, (int, float)))
                if fv < 0 or (key == "near_dup_threshold" and not 0 < fv <= 1):
                    raise r.fail("out of range", "gather", key)
                values[key] = fv
        if "user_agent" in g:
            agent = r.get(g, "gather", "user_agent", str)
            if not agent.strip() or any(c in agent for c in "\r\n"):
                raise r.fail(
                    "must name the tool and a contact (one line), as robots.txt and site "
                    "operators read it",
                    "gather",
                    "user_agent",
                )
            values["user_agent"] = agent
        gather = GatherSettings(**values)

    studio = StudioSettings()
    if "studio" in data:
        st = data["studio"]
        r.check_keys(st, "studio")
        svals: dict[str, Any] = {}
        if "url" in st:
            svals["url"] = r.get(st, "studio", "url", str)
        for key in ("port", "overlap", "batch_size"):
            if key in st:
                v = r.get(st, "studio", key, int)
                if v < 1:
                    raise r.fail("must be positive", "studio", key)
                if key == "port" and v > 65535:
                    raise r.fail("must be at most 65535", "studio", key)
                svals[key] = v
        if "url" in svals and not _http_url(svals["url"]):
            raise r.fail(f"{svals['url']!r} is not an http(s) URL with a host", "studio", "url")
        studio = StudioSettings(**svals)

    release = ReleaseSettings()
    if "release" in data:
        rel = data["release"]
        r.check_keys(rel, "release")
        rvals: dict[str, Any] = {}
        if "to" in rel:
            p = Path(r.get(rel, "release", "to", str))
            rvals["to"] = p if p.is_absolute() else root / p
        if "hub" in rel:
            rvals["hub"] = r.get(rel, "release", "hub", str)
            if not re.match(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", rvals["hub"]):
                raise r.fail(f"{rvals['hub']!r} is not ORG/NAME", "release", "hub")
        if "splits" in rel:
            sp = r.get(rel, "release", "splits", dict)
            if not sp or not all(isinstance(v, (int, float)) and v >= 0 for v in sp.values()):
                raise r.fail("expected a table of split = share", "release", "splits")
            for name in sp:  # what Hugging Face datasets accepts as a split name
                if not re.fullmatch(r"\w+(\.\w+)*", name):
                    raise r.fail(
                        f"split name {name!r}: letters, digits and _ only", "release", "splits"
                    )
            total = sum(sp.values())
            if abs(total - 1.0) > 1e-6:
                raise r.fail(f"shares add up to {total:g}, not 1", "release", "splits")
            rvals["splits"] = tuple((k, float(v)) for k, v in sp.items())
        for key in ("annotations_creators", "language_creators"):
            if key in rel:
                allowed = (
                    (*CREATORS, "no-annotation") if key == "annotations_creators" else CREATORS
                )
                creators = r.str_list(rel, "release", key)
                if not creators:
                    raise r.fail("give at least one value", "release", key)
                for v in creators:
                    if v not in allowed:
                        raise r.fail(f"{v!r} is not one of {', '.join(allowed)}", "release", key)
                rvals[key] = creators
        if "notice" in rel:
            rvals["notice"] = r.get(rel, "release", "notice", str).strip()
        release = ReleaseSettings(**rvals)

    return Config(
        root=root,
        corpus=meta,
        targets=tuple(targets),
        topic=topic,
        sources=tuple(sources),
        gather=gather,
        studio=studio,
        release=release,
    )
