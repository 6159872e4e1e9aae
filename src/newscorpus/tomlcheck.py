"""Checked reading of parsed TOML: where a key is (its line), its type, range and length.

config.py holds the contract (which keys, which ranges); this module words the one-line errors.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .urls import strip_credentials


@dataclass(frozen=True)
class Limit:
    """The type and the closed range a number must have (``low_open``: ``low`` itself refused)."""

    kind: type[int] | type[float]
    low: int | float
    high: int | float
    unit: str = ""
    low_open: bool = False

    def describe(self) -> str:
        """E.g. 'an integer from 1 to 256' or 'a number above 0 and at most 600 (seconds)'."""
        what = "an integer" if self.kind is int else "a number"
        if self.low_open:
            span = f"above {_fmt(self.low)} and at most {_fmt(self.high)}"
        else:
            span = f"from {_fmt(self.low)} to {_fmt(self.high)}"
        return f"{what} {span}" + (f" ({self.unit})" if self.unit else "")

    def problem(self, value: object) -> str | None:
        """None when ``value`` fits, else 'must be ..., got ...' (NaN, infinities, bools refused)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            got = _type_name(value)
        elif self.kind is int and not isinstance(value, int):
            got = f"{_type_name(value)} ({_show(value)})"
        elif (
            (isinstance(value, float) and not math.isfinite(value))
            or value < self.low
            or (self.low_open and value == self.low)
            or value > self.high
        ):
            got = _show(value)
        else:
            return None
        return f"must be {self.describe()}, got {got}"


def _fmt(x: int | float) -> str:
    if not float(x).is_integer():
        return f"{x:g}"
    return f"{int(x):,}" if abs(x) >= 1_000_000 else str(int(x))


def _show(value: int | float) -> str:
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    return repr(value)


def _type_name(value: object) -> str:
    for kind, name in (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "an array"),
        (dict, "a table"),
        ((date, datetime, time), "a date or time"),
    ):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Locator:
    """Finds the line of a table or key in the TOML text, for error messages."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line(self, table: str, key: str | None = None, index: int = 0) -> int | None:
        """The line of ``table.key`` (a dotted key is tried whole, then by its parents)."""
        if key is not None:
            parts = key.split(".")
            for n in range(len(parts), 0, -1):
                found = self._find(table, ".".join(parts[:n]), index)
                if found:
                    return found
        return 1 if table == "" else self._find(table, None, index)

    def _find(self, table: str, key: str | None, index: int) -> int | None:
        current, seen = "", {"": 0}
        want = f"{table}.{key}" if table else key
        for no, raw in enumerate(self.lines, start=1):
            m = self._HEADER.match(raw)
            if m:
                current = m.group(2)
                seen[current] = seen.get(current, -1) + 1
                if key is None and current == table and seen[current] == index:
                    return no
                continue
            k = self._KEY.match(raw) if key is not None else None
            if k is None:
                continue
            full = f"{current}.{k.group(1)}" if current else k.group(1)
            in_right_table = current != table or seen.get(current, 0) == index
            if full == want and in_right_table:
                return no
        return None


@dataclass
class Reader:
    path: Path
    locate: Locator
    keys: Mapping[str, tuple[str, ...]]
    required: Mapping[str, tuple[str, ...]]
    limits: Mapping[str, Limit]
    text_max: Mapping[str, int]

    def fail(
        self, msg: str, table: str = "", key: str | None = None, index: int = 0
    ) -> ConfigError:
        line = self.locate.line(table, key, index)
        where = f"{self.path}:{line}" if line else str(self.path)
        name = ".".join(p for p in (table if not index else f"{table}[{index}]", key or "") if p)
        return ConfigError(f"{where}: {name}: {msg}" if name else f"{where}: {msg}")

    def check_keys(self, data: Mapping[str, Any], table: str, index: int = 0) -> None:
        allowed = self.keys[table]
        for key in data:
            if key not in allowed:
                where = f"[{table}]" if table else "top level"
                raise self.fail(f"unknown key in {where}{suggest(key, allowed)}", table, key, index)
        for key in self.required.get(table, ()):
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

    def number(
        self,
        data: Mapping[str, Any],
        table: str,
        key: str,
        *,
        field: str | None = None,
        limit: str | None = None,
    ) -> Any:
        """``data[field or key]`` checked against ``limits[limit or table.key]`` (floats as float)."""
        rule = self.limits[limit or f"{table}.{key}"]
        value = data[field or key]
        problem = rule.problem(value)
        if problem:
            raise self.fail(problem, table, key)
        return value if rule.kind is int else float(value)

    def text(
        self,
        data: Mapping[str, Any],
        table: str,
        key: str,
        index: int = 0,
        *,
        blank: bool = False,
    ) -> str:
        """A string no longer than ``text_max`` allows, and not blank unless ``blank``."""
        value: str = self.get(data, table, key, str, index)
        self.check_length(value, table, key, index)
        if not blank and not value.strip():
            raise self.fail("must not be empty", table, key, index)
        return value

    def check_length(self, value: str, table: str, key: str, index: int = 0) -> None:
        most = self.text_max.get(f"{table}.{key}")
        if most is not None and len(value) > most:
            shown = strip_credentials(value)[:40].replace("\n", " ")  # never a password
            raise self.fail(
                f"{shown!r}... is {len(value):,} characters long; at most {most:,}",
                table,
                key,
                index,
            )

    def str_list(
        self, data: Mapping[str, Any], table: str, key: str, index: int = 0
    ) -> tuple[str, ...]:
        value = self.get(data, table, key, list, index)
        if not all(isinstance(v, str) for v in value):
            raise self.fail("expected a list of strings", table, key, index)
        for v in value:
            self.check_length(v, table, key, index)
        return tuple(value)


def nesting_line(text: str, deepest: int = 50) -> int | None:
    """The first line where brackets nest deeper than ``deepest`` (strings roughly skipped)."""
    depth = 0
    for no, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', "", raw)
        for ch in line.split("#", 1)[0]:
            depth += 1 if ch in "[{" else -1 if ch in "]}" else 0
            if depth > deepest:
                return no
    return None
