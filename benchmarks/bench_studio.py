"""Label Studio push and pull against raw SDK calls, on a real local server.

- push of N new articles (default 10,000) vs one raw ``projects.import_tasks`` call with the same
  payload: goal <= 1.3x;
- no-op re-push of those N: goal < 2 s;
- pull of M annotated tasks (default 2,000) vs the raw SDK export of the same project: goal <= 1.2x,
  as the median of the ratios of PAIRS interleaved runs (pull, export, pull, export...): a load on
  the machine slows both runs of a pair alike, where a median of each side apart mixes loads.

Pull reads the Data Manager's task list, never the export (which leaves two files on the server
at every call): the files it leaves in the server's export folders are counted too (goal: 0).

Sizes: NEWSCORPUS_BENCH_STUDIO_N and NEWSCORPUS_BENCH_STUDIO_PULL (e.g. 500 and 200 for a quick run).
Writes its table into docs/studio-bench.md between the bench_studio markers (never retyped by
hand) when run at the default sizes; `--no-write` only prints; `--only pull` (or `push`) runs one
part and only prints.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from label_studio_sdk.client import LabelStudio  # noqa: E402

from docs_block import write_block  # noqa: E402
from newscorpus.annotation.backend import NewTask  # noqa: E402
from newscorpus.annotation.pull import pull  # noqa: E402
from newscorpus.annotation.push import PushOptions, push, select_articles  # noqa: E402
from newscorpus.config import load_config  # noqa: E402
from newscorpus.corpus import add_articles, iter_articles  # noqa: E402
from newscorpus.labelstudio import server  # noqa: E402
from newscorpus.labelstudio.backend import LabelStudioBackend  # noqa: E402
from newscorpus.labelstudio.convert import task_data  # noqa: E402
from newscorpus.labelstudio.labeling import label_config  # noqa: E402
from newscorpus.records import Article, article_id, sha256_hex  # noqa: E402

N = int(os.environ.get("NEWSCORPUS_BENCH_STUDIO_N", "10000"))
M = int(os.environ.get("NEWSCORPUS_BENCH_STUDIO_PULL", "2000"))
PAIRS = 7  # interleaved (pull, export) pairs
DOC = REPO / "docs" / "studio-bench.md"
BEGIN, END = "<!-- bench_studio:begin -->", "<!-- bench_studio:end -->"
PARTS = ("push", "pull")

TOML = """\
[corpus]
name = "bench"
pretty_name = "{title}"
description = "Synthetic benchmark corpus."
languages = ["fr"]
license = "CC-BY-4.0"

[[targets]]
id = "us_forces_in_mexico"
text = "US military or intelligence personnel taking part in anti-cartel operations on Mexican soil"

[[targets]]
id = "cartels_as_terrorists"
text = "Mexican drug cartels should be designated as foreign terrorist organisations"
"""

PARA = (
    "« Ce dont nous avons besoin, ce sont des informations », a déclaré Sheinbaum. "
    "Selon le ministère, {n} % des drogues qui entrent par mer ont été stoppées. "
    "Le Département de la Défense a publié un rapport sur la coopération bilatérale."
)


def corpus(root: Path, title: str, n: int, toml: str = TOML) -> Any:
    """A corpus of ``n`` synthetic French articles under ``root`` (``toml`` with its {title})."""
    root.mkdir(parents=True)
    (root / "corpus.toml").write_text(toml.format(title=title), encoding="utf-8")
    cfg = load_config(root)
    arts = []
    for i in range(n):
        text = "\n\n".join(PARA.format(n=(i + k) % 100) for k in range(4)) + f"\n\nSynthetic {i}."
        url = f"http://bench.test/{i}"
        arts.append(
            Article(
                id=article_id(url, text),
                url=url,
                canonical_url=url,
                source="bench",
                site="bench.test",
                title=f"Synthetic benchmark article {i}",
                text=text,
                language="fr",
                published="2026-01-01T00:00:00Z",
                sha256=sha256_hex(text),
                extractor="bench",
                synthetic=True,
            )
        )
    add_articles(cfg, arts)
    return cfg


def _fresh_copy(cfg: Any, root: Path) -> Any:
    """Another corpus folder with the same corpus.toml and articles (no annotations yet)."""
    shutil.copytree(cfg.root, root, ignore=shutil.ignore_patterns(".newscorpus", "annotations"))
    return load_config(root)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def annotation(text: str, stance: str) -> dict[str, Any]:
    start = text.index("Sheinbaum")
    return {
        "result": [
            {
                "from_name": "stance_us_forces_in_mexico",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": [stance]},
            },
            {
                "id": "s1",
                "from_name": "spans",
                "to_name": "text",
                "type": "labels",
                "value": {
                    "start": start,
                    "end": start + 9,
                    "text": "Sheinbaum",
                    "labels": ["Speaker"],
                },
            },
        ]
    }


def main() -> int:
    args = sys.argv[1:]
    parts: tuple[str, ...] = PARTS
    if "--only" in args:
        wanted = args[args.index("--only") + 1 :][:1]
        if not wanted or wanted[0] not in PARTS:
            raise SystemExit(f"--only takes one of: {', '.join(PARTS)}")
        parts = (wanted[0],)
    write = "--no-write" not in args and parts == PARTS and (N, M) == (10000, 2000)
    env = Path(os.environ.get("NEWSCORPUS_STUDIO_ENV") or REPO / ".venv-studio")
    with tempfile.TemporaryDirectory() as tmp:
        home = load_config(_home(Path(tmp)))
        started = server.start(home, port=free_port(), env=env)
        creds = server.load_credentials(home)
        assert creds is not None
        try:
            data = server.data_dir(home)
            rows, ok = run(Path(tmp), started.url, creds.token, data, parts)
        finally:
            server.stop(home)
    block = "\n".join(
        [
            BEGIN,
            "",
            f"Measured by `benchmarks/bench_studio.py` on {time.strftime('%Y-%m-%d')}"
            f" ({os.cpu_count()} cores), against one real local Label Studio in the same run:",
            "",
            "| measure | newscorpus | raw SDK | goal |",
            "|---|---|---|---|",
            *rows,
            "",
            END,
        ]
    )
    print("\n" + block)
    if write:
        write_block(DOC, BEGIN, END, block)
        print(f"\nwritten to {DOC.relative_to(REPO)}")
    print("\nresult:", "goals met" if ok else "GOAL NOT MET")
    return 0 if ok else 1


def export_files(data: Path) -> set[Path]:
    """The files in the server's export folders (export/ and media/export/ of its data)."""
    return {p for p in data.rglob("*") if p.is_file() and "export" in p.relative_to(data).parts}


def goal(ok: bool, ratio: float | None = None) -> str:
    return ("met" if ok else "MISSED") + (f" ({ratio:.2f}×)" if ratio is not None else "")


def _home(tmp: Path) -> Path:
    root = tmp / "server"
    root.mkdir()
    (root / "corpus.toml").write_text(TOML.format(title="server"), encoding="utf-8")
    return root


def run(
    tmp: Path, url: str, token: str, data: Path, parts: tuple[str, ...]
) -> tuple[list[str], bool]:
    """The table's rows of the parts run, and whether every goal was met."""
    sdk = LabelStudio(base_url=url, api_key=token, timeout=600)
    rows: list[str] = []
    ok = True
    if "push" in parts:
        ok &= bench_push(tmp, url, token, sdk, rows)
    if "pull" in parts:
        ok &= bench_pull(tmp, url, token, sdk, data, rows)
    return rows, ok


def bench_push(tmp: Path, url: str, token: str, sdk: LabelStudio, rows: list[str]) -> bool:
    cfg = corpus(tmp / "push", "Bench push", N)
    xml = label_config(cfg)
    backend = LabelStudioBackend(url, token, cfg, timeout=600)

    # baseline: the same payload in one raw import_tasks call, into a twin project
    arts = select_articles(iter_articles(cfg), PushOptions())
    payload = [dict(t.body) for t in backend.prepare([NewTask(a, prelabel=True) for a in arts])]
    twin = sdk.projects.create(title="Bench raw import", label_config=xml)
    t0 = time.perf_counter()
    sdk.projects.import_tasks(id=twin.id, request=payload, return_task_ids=True)
    raw = time.perf_counter() - t0

    t0 = time.perf_counter()
    report = push(cfg, backend=backend)
    ours = time.perf_counter() - t0
    assert report.imported == N, report
    ratio = ours / raw
    print(
        f"push of {N} new articles: {ours:.2f} s; raw import_tasks: {raw:.2f} s; "
        f"ratio {ratio:.2f} (goal <= 1.3) {'OK' if ratio <= 1.3 else 'MISSED'}"
    )

    t0 = time.perf_counter()
    again = push(cfg, backend=backend)
    noop = time.perf_counter() - t0
    assert again.imported == 0
    print(f"no-op re-push of {N}: {noop:.2f} s (goal < 2 s) {'OK' if noop < 2 else 'MISSED'}")
    rows += [
        f"| push of {N:,} new articles vs one `import_tasks` call with the same payload "
        f"| {ours:.2f} s | {raw:.2f} s | ≤ 1.3×: {goal(ratio <= 1.3, ratio)} |",
        f"| no-op re-push of those {N:,} | {noop:.2f} s | | < 2 s: {goal(noop < 2)} |",
    ]
    return ratio <= 1.3 and noop < 2


def bench_pull(
    tmp: Path, url: str, token: str, sdk: LabelStudio, data: Path, rows: list[str]
) -> bool:
    """M tasks, each with two annotations imported with the tasks: pull vs the SDK's export."""
    pcfg = corpus(tmp / "pull", "Bench pull", M)
    xml = label_config(pcfg)
    pproject = sdk.projects.create(title="Bench pull", label_config=xml)
    tasks = []
    for a in iter_articles(pcfg):
        task: dict[str, Any] = {"data": task_data(a)}
        task["annotations"] = [annotation(a.text, "neutral"), annotation(a.text, "favor")]
        tasks.append(task)
    sdk.projects.import_tasks(id=pproject.id, request=tasks)

    raws, ourss = [], []
    left = 0  # files pull left in the server's export folders
    for rep in range(PAIRS):  # A B A B ...: each pair's two runs see the same load
        fresh = pcfg if rep == PAIRS - 1 else _fresh_copy(pcfg, tmp / f"pull{rep}")
        before = export_files(data)
        t0 = time.perf_counter()
        pr = pull(fresh, backend=LabelStudioBackend(url, token, fresh, timeout=600))
        ourss.append(time.perf_counter() - t0)
        left += len(export_files(data) - before)
        t0 = time.perf_counter()
        chunks = sdk.projects.exports.download_sync(pproject.id, export_type="JSON")
        exported = json.loads(b"".join(chunks))
        raws.append(time.perf_counter() - t0)
        assert pr.new_versions == 2 * M and len(exported) == M, (pr, len(exported))
    pair_ratios = [o / r for o, r in zip(ourss, raws, strict=True)]
    ratio = statistics.median(pair_ratios)
    raw, ours = statistics.median(raws), statistics.median(ourss)
    ratios = ", ".join(f"{r:.2f}" for r in pair_ratios)
    print(
        f"pull of {M} annotated tasks ({2 * M} annotations), {PAIRS} interleaved pairs: median "
        f"{ours:.2f} s; raw SDK export: median {raw:.2f} s; median ratio of the pairs "
        f"{ratio:.2f} (goal <= 1.2) {'OK' if ratio <= 1.2 else 'MISSED'}; each pair: {ratios}"
    )
    before = export_files(data)
    t0 = time.perf_counter()
    again_pull = pull(pcfg, backend=LabelStudioBackend(url, token, pcfg, timeout=600))
    again = time.perf_counter() - t0
    left += len(export_files(data) - before)
    print(f"re-pull (nothing new): {again:.2f} s, {again_pull.new_versions} new")
    print(f"files left in the server's export folders by the {PAIRS + 1} pulls: {left} (goal 0)")
    rows += [
        f"| pull of {M:,} annotated tasks ({2 * M:,} annotations) vs the SDK export of the "
        f"project, {PAIRS} interleaved pairs (medians; the goal is on the median ratio of the "
        f"pairs) | {ours:.2f} s | {raw:.2f} s "
        f"| ≤ 1.2×: {goal(ratio <= 1.2, ratio)}; each pair: {ratios} |",
        f"| re-pull with nothing new | {again:.2f} s | | |",
        f"| files left on the server by those {PAIRS + 1} pulls (export/, media/export/) "
        f"| {left} | | 0: {goal(left == 0)} |",
    ]
    return ratio <= 1.2 and left == 0


if __name__ == "__main__":
    raise SystemExit(main())
