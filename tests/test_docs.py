"""The documentation cannot drift: the CLI reference is the real --help, links resolve, the README
stays short, and benchmark figures live only in the blocks that `make bench` writes."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cli_reference() -> ModuleType:
    return _load(REPO / "scripts" / "cli_reference.py")


# --- (a) docs/cli.md is what `make docs` generates from the real --help ---------------------------


def test_cli_reference_matches_the_real_help(cli_reference: ModuleType) -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert cli_reference.updated(text) == text, (
        "docs/cli.md differs from the CLI's --help: run `make docs`"
    )


def test_cli_reference_has_every_command_and_subcommand(cli_reference: ModuleType) -> None:
    from typer.main import get_command

    from newscorpus.cli import app

    block = cli_reference.render()
    paths = cli_reference.command_paths(get_command(app))
    assert ("studio", "start") in paths and ("adjudicate", "pull") in paths
    for path in paths:
        name = " ".join(("newscorpus", *path))
        assert f"\n## {name}\n" in block
        assert f"Usage: {name} [OPTIONS]" in block, name
    assert "\x1b[" not in block  # no colour


def test_cli_reference_check_fails_on_a_stale_page(
    cli_reference: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stale = (
        (DOCS / "cli.md").read_text(encoding="utf-8").replace("Push at most N articles.", "Push N.")
    )
    doc = tmp_path / "docs" / "cli.md"
    doc.parent.mkdir()
    doc.write_text(stale, encoding="utf-8")
    monkeypatch.setattr(cli_reference, "DOC", doc)
    monkeypatch.setattr(cli_reference, "REPO", tmp_path)
    assert cli_reference.main(["--check"]) == 1
    assert "docs/cli.md differs from the CLI's --help: run `make docs`" in capsys.readouterr().out
    assert doc.read_text(encoding="utf-8") == stale  # --check writes nothing
    assert cli_reference.main([]) == 0
    assert cli_reference.main(["--check"]) == 0
    assert "Push at most N articles." in doc.read_text(encoding="utf-8")


def test_cli_reference_does_not_depend_on_the_terminal(
    cli_reference: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = cli_reference.render()
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("NEWSCORPUS_CORPUS", "/somewhere/else")
    assert cli_reference.render() == before


# --- (b) every relative link resolves ------------------------------------------------------------

FENCE = re.compile(r"^```.*?^```", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.M)


def _prose(text: str) -> str:
    """The text without code fences and inline code (links and headings there are not ones)."""
    return CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(page: Path, root: Path = REPO) -> list[str]:
    """The relative links of ``page`` that lead to no file, or to no heading of that file."""
    out = []
    for target in LINK.findall(_prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            out.append(f"{page.relative_to(root)}: {target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            out.append(f"{page.relative_to(root)}: {target}: no heading #{anchor}")
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page) == []


def test_a_broken_link_or_anchor_is_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text(
        "# Other page\n\n## This project's `corpus`\n", encoding="utf-8"
    )
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#this-projects-corpus) [ok](#top) [web](https://example.org/x)\n"
        "`[not a link](nowhere.md)`\n\n# Top\n\n[gone](missing.md) [bad anchor](other.md#nope)\n",
        encoding="utf-8",
    )
    assert broken_links(page, tmp_path) == [
        "page.md: missing.md: no such file",
        "page.md: other.md#nope: no heading #nope",
    ]


def test_docs_index_lists_every_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    listed = {t.partition("#")[0] for t in LINK.findall(index)}
    missing = [p.name for p in DOCS.glob("*.md") if p.name != "index.md" and p.name not in listed]
    assert missing == []


# --- (c) the README reads in five minutes ---------------------------------------------------------


def test_readme_stays_short() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines: move the details into docs/"


def test_readme_starts_with_the_two_commands() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    first = text.index("## ")
    assert text[first:].startswith("## Two commands")
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for target in re.findall(r"`make ([a-z-]+)", text):  # every make target the README names exists
        assert re.search(rf"^{target}:", makefile, re.M), f"README names `make {target}`"


# --- (d) benchmark figures only where `make bench` writes them -----------------------------------

BLOCK = re.compile(r"<!-- (bench_\w+):begin -->(.*?)<!-- \1:end -->", re.S)
NOT_A_GOAL = r"(?<![≤≥<>~] )(?<![≤≥<>~])"
MEASURED = re.compile(
    NOT_A_GOAL
    + r"(?<![\d.,])(?:\d+\.\d+ ?×"  # a ratio: 1.17×
    + r"|\d+\.\d+ ?(?:s|ms|MB|GB)\b"  # a time or memory: 29.29 s, 1.3 GB
    + r"|\d{1,3}(?:,\d{3})+ ?MB\b"  # 1,309 MB
    + r"|\d+(?:\.\d+)? ?(?:pages|articles)/s\b)"  # a rate
)
DECIMAL = re.compile(NOT_A_GOAL + r"(?<![\d.,])\d+\.\d{2,}(?![\d])")


def bench_blocks() -> dict[Path, list[tuple[str, str]]]:
    return {page: BLOCK.findall(page.read_text(encoding="utf-8")) for page in PAGES}


def stray_figures(text: str, known: set[str]) -> list[str]:
    """Measured figures in ``text`` outside bench blocks: by their form, or as a block's figure."""
    rest = BLOCK.sub("", text)
    return [m.group(0) for m in MEASURED.finditer(rest)] + [
        m.group(0) for m in DECIMAL.finditer(rest) if m.group(0) in known
    ]


def test_every_bench_block_is_written_by_its_benchmark() -> None:
    blocks = bench_blocks()
    assert {name for found in blocks.values() for name, _ in found} >= {
        "bench_studio",
        "bench_prelabel",
        "bench_gather",
        "bench_dedup",
        "bench_agreement",
        "bench_release",
    }
    for page, found in blocks.items():
        for name, _ in found:
            script = REPO / "benchmarks" / f"{name}.py"
            assert script.exists(), f"{page.name}: block {name}: no benchmarks/{name}.py"
            assert page.name in script.read_text(encoding="utf-8"), (
                f"{name}.py does not write {page.name}"
            )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_benchmark_figures_are_not_retyped(page: Path) -> None:
    known = {
        m.group(0)
        for found in bench_blocks().values()
        for _, b in found
        for m in DECIMAL.finditer(b)
    }
    stray = stray_figures(page.read_text(encoding="utf-8"), known)
    assert stray == [], (
        f"{page.relative_to(REPO)}: figures {stray}: link to the page `make bench` writes"
    )


def test_retyped_figures_are_found() -> None:
    text = (
        "push took 29.29 s, 1.17× the SDK; 29.5 pages/s; peak 1,309 MB; Speaker recall 0.71.\n"
        "Goals: ≤ 1.3×, < 2 s, ≥ 0.95; a 60 MB text; 1400×900 pixels.\n"
        "<!-- bench_x:begin -->\n31.2 s, 2.02×, 0.71\n<!-- bench_x:end -->\n"
    )
    assert stray_figures(text, {"0.71"}) == ["29.29 s", "1.17×", "29.5 pages/s", "1,309 MB", "0.71"]


def test_a_benchmark_writes_what_it_prints_into_its_block(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        docs_block = _load(REPO / "benchmarks" / "docs_block.py")
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    doc = tmp_path / "page.md"
    doc.write_text(
        "# Page\n\nprose\n\n<!-- bench_x:begin -->\nold 1.00 s\n<!-- bench_x:end -->\n\ntail\n"
    )

    def main() -> int:
        print("measured 2.50 s")
        return 3

    assert docs_block.run_recorded(main, doc, "bench_x", write=False) == 3
    assert "old 1.00 s" in doc.read_text()
    assert docs_block.run_recorded(main, doc, "bench_x", write=True) == 3
    text = doc.read_text()
    assert text.startswith("# Page\n\nprose\n\n<!-- bench_x:begin -->\n") and text.endswith(
        "<!-- bench_x:end -->\n\ntail\n"
    )
    assert "```text\nmeasured 2.50 s\n```" in text and "old 1.00 s" not in text
