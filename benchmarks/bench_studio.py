"""Label Studio push and pull against raw SDK calls, on a real local server.

- push of N new articles (default 10,000) vs one raw ``projects.import_tasks`` call with the same
  payload: goal <= 1.3x;
- no-op re-push of those N: goal < 2 s;
- pull of M annotated tasks (default 2,000) vs the raw SDK export of the same project: goal <= 1.2x.

Sizes: NEWSCORPUS_BENCH_STUDIO_N and NEWSCORPUS_BENCH_STUDIO_PULL (e.g. 500 and 200 for a quick run).
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

from newscorpus.config import load_config  # noqa: E402
from newscorpus.corpus import add_articles, iter_articles  # noqa: E402
from newscorpus.records import Article, article_id, sha256_hex  # noqa: E402
from newscorpus.studio import server  # noqa: E402
from newscorpus.studio.client import StudioClient  # noqa: E402
from newscorpus.studio.labeling import label_config, parse_interface  # noqa: E402
from newscorpus.studio.pull import pull  # noqa: E402
from newscorpus.studio.push import PushOptions, push, select_articles, task_payload  # noqa: E402

N = int(os.environ.get("NEWSCORPUS_BENCH_STUDIO_N", "10000"))
M = int(os.environ.get("NEWSCORPUS_BENCH_STUDIO_PULL", "2000"))
REPEAT = 5

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


def corpus(root: Path, title: str, n: int) -> Any:
    root.mkdir(parents=True)
    (root / "corpus.toml").write_text(TOML.format(title=title), encoding="utf-8")
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


def main() -> None:
    os.environ.setdefault("NEWSCORPUS_STUDIO_ENV", str(REPO / ".venv-studio"))
    with tempfile.TemporaryDirectory() as tmp:
        home = load_config(_home(Path(tmp)))
        started = server.start(home, port=free_port())
        creds = server.load_credentials(home)
        assert creds is not None
        try:
            run(Path(tmp), started.url, creds.token)
        finally:
            server.stop(home)


def _home(tmp: Path) -> Path:
    root = tmp / "server"
    root.mkdir()
    (root / "corpus.toml").write_text(TOML.format(title="server"), encoding="utf-8")
    return root


def run(tmp: Path, url: str, token: str) -> None:
    client = StudioClient(url, token)
    sdk = LabelStudio(base_url=url, api_key=token, timeout=600)
    cfg = corpus(tmp / "push", "Bench push", N)
    xml = label_config(cfg)

    # baseline: the same payload in one raw import_tasks call, into a twin project
    iface = parse_interface(xml)
    arts = select_articles(iter_articles(cfg), PushOptions())
    payload = [task_payload(a, iface) for a in arts]
    twin = sdk.projects.create(title="Bench raw import", label_config=xml)
    t0 = time.perf_counter()
    sdk.projects.import_tasks(id=twin.id, request=payload, return_task_ids=True)
    raw = time.perf_counter() - t0

    t0 = time.perf_counter()
    report = push(cfg, client=client)
    ours = time.perf_counter() - t0
    assert report.imported == N, report
    ratio = ours / raw
    print(
        f"push of {N} new articles: {ours:.2f} s; raw import_tasks: {raw:.2f} s; "
        f"ratio {ratio:.2f} (goal <= 1.3) {'OK' if ratio <= 1.3 else 'MISSED'}"
    )

    t0 = time.perf_counter()
    again = push(cfg, client=client)
    noop = time.perf_counter() - t0
    assert again.imported == 0
    print(f"no-op re-push of {N}: {noop:.2f} s (goal < 2 s) {'OK' if noop < 2 else 'MISSED'}")

    # pull: M tasks, each with two annotations, imported with the tasks
    pcfg = corpus(tmp / "pull", "Bench pull", M)
    pproject = sdk.projects.create(title="Bench pull", label_config=xml)
    tasks = []
    for a in iter_articles(pcfg):
        task = task_payload(a, None)
        task["annotations"] = [annotation(a.text, "neutral"), annotation(a.text, "favor")]
        tasks.append(task)
    sdk.projects.import_tasks(id=pproject.id, request=tasks)

    raws, ourss = [], []
    for rep in range(REPEAT):  # alternate, take medians: a 2-core machine is noisy
        t0 = time.perf_counter()
        chunks = sdk.projects.exports.download_sync(pproject.id, export_type="JSON")
        exported = json.loads(b"".join(chunks))
        raws.append(time.perf_counter() - t0)
        fresh = pcfg if rep == REPEAT - 1 else _fresh_copy(pcfg, tmp / f"pull{rep}")
        t0 = time.perf_counter()
        pr = pull(fresh, client=client)
        ourss.append(time.perf_counter() - t0)
        assert pr.new_versions == 2 * M and len(exported) == M, (pr, len(exported))
    raw, ours = statistics.median(raws), statistics.median(ourss)
    ratio = ours / raw
    print(
        f"pull of {M} annotated tasks ({2 * M} annotations), median of {REPEAT}: {ours:.2f} s; "
        f"raw SDK export: {raw:.2f} s; ratio {ratio:.2f} (goal <= 1.2) "
        f"{'OK' if ratio <= 1.2 else 'MISSED'}"
    )
    t0 = time.perf_counter()
    again_pull = pull(pcfg, client=client)
    print(f"re-pull (nothing new): {time.perf_counter() - t0:.2f} s, {again_pull.new_versions} new")


if __name__ == "__main__":
    main()
