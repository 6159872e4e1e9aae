"""The import graph of src/newscorpus flows one way: cli -> stages -> records/store/config.

Every module is parsed with ast (imports inside functions count too: a lazy import is still a
dependency), and the rules of DESIGN.md are checked on the graph of newscorpus modules.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "newscorpus"
PACKAGE = "newscorpus"
# the packages of the pipeline's stages; the base modules import none of them
STAGES = ("gather", "studio", "annotation", "labelstudio", "quality", "release", "demo")
BASE = ("records", "store", "config", "errors")


def module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``from X import`` names (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    is_package = modules()[importer].name == "__init__.py"
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


@cache
def imports(name: str) -> frozenset[str]:
    """Every module ``name`` imports, internal (newscorpus.*) or third-party (top-level name)."""
    tree = ast.parse(modules()[name].read_text(encoding="utf-8"), str(modules()[name]))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, node)
            found.add(target)
            for alias in node.names:  # `from . import store` imports the module store
                sub = f"{target}.{alias.name}"
                if sub in modules():
                    found.add(sub)
    return frozenset(found)


def internal(name: str) -> set[str]:
    """The newscorpus modules ``name`` imports (a package's __init__ is left out: it is empty)."""
    return {m for m in imports(name) if m in modules() and m != PACKAGE and m != name}


def named(name: str) -> set[str]:
    """Every newscorpus.* name ``name`` imports, whether or not such a module exists (yet)."""
    return {m for m in imports(name) if m.startswith(f"{PACKAGE}.")}


def reachable(name: str) -> set[str]:
    """The newscorpus modules ``name`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        for m in internal(todo.pop()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def _in(module: str, packages: tuple[str, ...]) -> bool:
    rest = module.removeprefix(f"{PACKAGE}.")
    return module.startswith(f"{PACKAGE}.") and rest.split(".")[0] in packages


def find_cycle() -> list[str] | None:
    """One import cycle among newscorpus modules, or None."""
    graph = {m: sorted(internal(m)) for m in modules()}
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        colour[m] = grey
        stack.append(m)
        for n in graph[m]:
            if colour[n] == grey:
                return [*stack[stack.index(n) :], n]
            if colour[n] == white and (cycle := visit(n)) is not None:
                return cycle
        stack.pop()
        colour[m] = black
        return None

    for m in graph:
        if colour[m] == white and (cycle := visit(m)) is not None:
            return cycle
    return None


def test_the_parser_sees_the_package() -> None:
    """The graph is not empty: the rules below check real edges (known ones are found:
    a relative import, ``from . import store``, a lazy import inside a function)."""
    assert f"{PACKAGE}.cli" in modules() and f"{PACKAGE}.gather.pipeline" in modules()
    assert f"{PACKAGE}.config" in internal(f"{PACKAGE}.gather.pipeline")
    cli = internal(f"{PACKAGE}.cli")
    assert {f"{PACKAGE}.store", f"{PACKAGE}.gather.pipeline"} <= cli
    assert "typer" in imports(f"{PACKAGE}.cli")
    assert f"{PACKAGE}.errors" in reachable(f"{PACKAGE}.cli")


def test_no_import_cycle() -> None:
    cycle = find_cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_cli_is_imported_by_nothing() -> None:
    cli = f"{PACKAGE}.cli"
    assert [m for m in modules() if cli in named(m)] == []


def test_typer_only_in_cli() -> None:
    users = [m for m in modules() if any(i.split(".")[0] == "typer" for i in imports(m))]
    assert users == [f"{PACKAGE}.cli"]


def test_base_modules_import_no_stage() -> None:
    """records, store, config and errors sit below every stage package, through the modules
    they import too (config -> tomlcheck -> gather.urlnorm was such a path)."""
    wrong = {
        m: sorted(i for i in reachable(m) | named(m) if _in(i, STAGES))
        for m in modules()
        if _in(m, BASE)
    }
    assert {m: i for m, i in wrong.items() if i} == {}


def test_quality_and_release_import_no_label_studio_code() -> None:
    """quality/ and release/ never import the annotation server's implementation (the names
    are checked, so a module imported before it moved counts too)."""
    backend = ("studio", "labelstudio")
    wrong = {
        m: sorted(i for i in named(m) if _in(i, backend))
        for m in modules()
        if _in(m, ("quality", "release"))
    }
    assert {m: i for m, i in wrong.items() if i} == {}
