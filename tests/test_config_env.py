"""No environment reads below the CLI except secrets and connections: settings come from the
Config passed in (cli.py puts its flags and NEWSCORPUS_WORKERS there with dataclasses.replace)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "newscorpus"
# secrets and the connection to a server: read where they are used, never stored in a Config
SECRETS = {"LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "HF_TOKEN", "HF_ENDPOINT"}
# the release scan reads the values of its SECRET_ENV names, to find them in what it publishes
SCANS_SECRETS = {"release/scan.py"}
NOT_YET_SETTINGS: set[str] = set()  # NEWSCORPUS_STUDIO_ENV, XDG_DATA_HOME: read by cli.py now


def _is_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def env_reads(tree: ast.AST) -> list[tuple[int, str | None]]:
    """(line, name) of each read of the environment; name None when not a literal."""
    found: list[tuple[int, str | None]] = []
    for node in ast.walk(tree):
        key: ast.AST | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            f = node.func
            if (f.attr in ("get", "setdefault", "pop") and _is_environ(f.value)) or (
                f.attr == "getenv"
            ):
                key = node.args[0] if node.args else None
            else:
                continue
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            key = node.slice
        else:
            continue
        name = key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None
        found.append((node.lineno, name))
    return found


def test_the_scan_finds_reads() -> None:
    code = "import os\na = os.environ.get('A')\nb = os.getenv('B')\nc = os.environ['C']\n"
    assert env_reads(ast.parse(code)) == [(2, "A"), (3, "B"), (4, "C")]


def test_no_environment_reads_below_the_cli() -> None:
    allowed = SECRETS | NOT_YET_SETTINGS
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == "cli.py":
            continue
        for line, name in env_reads(ast.parse(path.read_text(encoding="utf-8"))):
            if name in allowed or (name is None and rel in SCANS_SECRETS):
                continue
            wrong.append(f"{rel}:{line}: {name or '(a name not written out)'}")
    assert wrong == []
