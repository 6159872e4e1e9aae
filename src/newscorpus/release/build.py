"""Build a release folder from a corpus, then check it: secrets scan and load back every config."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
import statistics
import subprocess
import tempfile
import threading
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import Config
from ..corpus import current_by_kind, iter_articles
from ..errors import ReleaseError
from ..records import Annotation, utcnow
from ..validate import validate_loaded
from .card import load_agreement, render_card
from .croissant import croissant
from .scan import Scanner
from .splits import SplitAssigner, previous_cluster_splits, straddling_clusters
from .tables import (
    CONFIGS,
    TableWriter,
    annotation_row,
    article_row,
    majority,
    span_row,
    stance_row,
    text_policy,
)


@dataclass
class Previous:
    """What a new release needs of the one before it."""

    version: str
    manifest: dict[str, Any]
    changelog: str = ""


@dataclass
class Built:
    """A release folder built and checked."""

    folder: Path
    version: str
    manifest: dict[str, Any]
    changes: dict[str, Any] = field(default_factory=dict)


def corpus_commit(root: Path) -> tuple[str | None, bool]:
    """The git commit the corpus folder is at, and whether it has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
        )
        if head.returncode != 0:
            return None, False
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
        )
        return head.stdout.strip(), bool(dirty.stdout.strip())
    except OSError:
        return None, False


def _latest(anns: list[Annotation]) -> Annotation:
    return max(anns, key=lambda a: (a.updated_at or a.created_at or "", a.pulled_at, a.id))


def _group(anns: list[Annotation]) -> dict[str, list[Annotation]]:
    out: dict[str, list[Annotation]] = defaultdict(list)
    for a in anns:
        out[a.article_id].append(a)
    return out


def validation_errors(cfg: Config) -> tuple[int, str]:
    """Run validate.validate_loaded: the number of errors and the first one."""
    report = validate_loaded(cfg)
    return len(report.errors), report.errors[0] if report.errors else ""


def _validate_and_write(
    cfg: Config, out: Path, previous: Previous | None, scanner: Scanner
) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
    """Validate the corpus and write the tables into the (temporary) release folder.

    With no other thread running, validation runs in a forked process while the tables are
    written; its verdict is awaited before anything else. Otherwise (forking a threaded
    process is unsafe) it runs first.
    """
    if threading.active_count() > 1:
        _raise_invalid(*validation_errors(cfg))
        return write_tables(cfg, out, previous, scanner)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        verdict = pool.submit(validation_errors, cfg)
        try:
            return write_tables(cfg, out, previous, scanner)
        finally:
            _raise_invalid(*verdict.result())


def _raise_invalid(n: int, first: str) -> None:
    if n:
        raise ReleaseError(
            f"validate found {n} errors; first: {first} (run `newscorpus validate`); "
            "nothing was released"
        )


def write_tables(
    cfg: Config, out: Path, previous: Previous | None, scanner: Scanner
) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
    """Stream articles and labels into parquet; counts per config and split, and facts for the card."""
    current = current_by_kind(cfg)
    raw, agg, gold = (_group(current[k]) for k in ("annotation", "aggregate", "gold"))
    del current
    prev_articles: dict[str, Any] = previous.manifest.get("articles", {}) if previous else {}
    prev_splits = {a: v["split"] for a, v in prev_articles.items()}
    prev_clusters = {a: v["dup_cluster"] for a, v in prev_articles.items()}
    assigner = SplitAssigner(
        cfg.release.splits, prev_splits, previous_cluster_splits(prev_splits, prev_clusters)
    )
    writers = {c: TableWriter(out, c) for c in CONFIGS}
    for w in writers.values():
        w.scanner = scanner
    targets = [t.id for t in cfg.targets]
    facets: dict[str, Counter[str]] = {
        "language": Counter(),
        "source": Counter(),
        "label": Counter(),
        "synthetic": Counter(),
    }
    articles: dict[str, dict[str, str]] = {}
    labels: dict[str, dict[str, str]] = {}
    per_item: list[int] = []
    first_seen: str | None = None
    last_seen: str | None = None
    hydrate_n = 0
    for art in iter_articles(cfg):
        policy = text_policy(cfg, art.source)
        keep = policy == "full"
        hydrate_n += not keep
        split = assigner.assign(art.id, art.dup_cluster)
        articles[art.id] = {"split": split, "dup_cluster": art.dup_cluster}
        facets["language"][art.language] += 1
        facets["synthetic"]["true" if art.synthetic else "false"] += 1
        facets["source"][f"{art.source} ({policy})"] += 1
        first_seen = min(first_seen or art.fetched_at, art.fetched_at)
        last_seen = max(last_seen or art.fetched_at, art.fetched_at)
        writers["articles"].add(split, article_row(art, policy))
        mine = raw.pop(art.id, [])
        if mine:
            per_item.append(len(mine))
        for ann in sorted(mine, key=lambda a: a.annotator or ""):
            writers["annotations"].add(split, annotation_row(ann, art.language, keep))
        a = _latest(agg.pop(art.id)) if art.id in agg else None
        g = _latest(gold.pop(art.id)) if art.id in gold else None
        decided: dict[str, str] = {}
        for t in targets:
            row = None
            if g is not None and g.stance.get(t):
                row = stance_row(
                    art.id, t, str(g.stance[t]), "gold", "adjudicated", {}, None, art.language
                )
            elif a is not None and a.stance.get(t):
                soft = a.extra.get("soft", {}).get(t, {})
                n = a.extra.get("n_annotators", {}).get(t)
                method = a.extra.get("method") or a.annotator
                row = stance_row(
                    art.id, t, str(a.stance[t]), "aggregate", method, soft, n, art.language
                )
            elif mine:
                label, shares, n = majority(x.stance.get(t) for x in mine)
                if label is not None:
                    row = stance_row(
                        art.id, t, label, "majority", "majority", shares, n, art.language
                    )
            if row is not None:
                writers["stance"].add(split, row)
                decided[t] = row["label"]
                facets["label"][f"{t}: {row['label']}"] += 1
        if decided:
            labels[art.id] = decided
        spans, src = (
            (g.spans, "gold")
            if g is not None and g.spans
            else (a.spans, "aggregate")
            if a is not None
            else ([], "")
        )
        for s in spans:
            r = span_row(s, keep)
            r = {
                "article_id": art.id,
                "span_id": r.pop("id"),
                **r,
                "label_source": src,
                "language": art.language,
            }
            writers["claims"].add(split, r)
    closed = {c: w.close() for c, w in writers.items()}
    counts = {c: {s: n.get(s, 0) for s, _ in cfg.release.splits} for c, n in closed.items()}
    orphans = sorted(set(raw) | set(agg) | set(gold))
    if orphans:
        raise ReleaseError(f"annotations refer to articles not in articles/: {orphans[:5]}")
    straddle = straddling_clusters((v["dup_cluster"], v["split"]) for v in articles.values())
    facts = {
        "articles": articles,
        "labels": labels,
        "facets": facets,
        "timeframe": (first_seen, last_seen),
        "per_item": per_item,
        "hydrate": hydrate_n,
        "kept": assigner.kept,
        "new": assigner.new,
        "straddling": sorted(straddle),
    }
    return counts, facts


def _per_item_text(per_item: list[int]) -> str:
    if not per_item:
        return "No human annotations in this version."
    return (
        f"{min(per_item)} to {max(per_item)} annotators per annotated article "
        f"(median {statistics.median(per_item):g}, {len(per_item)} annotated articles)"
    )


def changes(previous: Previous | None, version: str, facts: dict[str, Any]) -> dict[str, Any]:
    """Articles added and removed and labels changed since the previous release."""
    now: dict[str, Any] = facts["articles"]
    if previous is None:
        return {
            "version": version,
            "previous": None,
            "added": sorted(now),
            "removed": [],
            "labels_changed": [],
        }
    before: dict[str, Any] = previous.manifest.get("articles", {})
    old_labels: dict[str, Any] = previous.manifest.get("labels", {})
    new_labels: dict[str, Any] = facts["labels"]
    both = set(now) & set(before)
    return {
        "version": version,
        "previous": previous.version,
        "added": sorted(set(now) - set(before)),
        "removed": sorted(set(before) - set(now)),
        "labels_changed": sorted(a for a in both if old_labels.get(a, {}) != new_labels.get(a, {})),
    }


def changelog(previous: Previous | None, diff: dict[str, Any], date: str) -> str:
    """CHANGELOG.md: this version's section on top of the previous ones."""
    v = diff["version"]
    head = f"## v{v} ({date[:10]})\n\n"
    if diff["previous"] is None:
        head += f"- First release: {len(diff['added'])} articles.\n"
    else:
        head += (
            f"- Against v{diff['previous']}: {len(diff['added'])} articles added, "
            f"{len(diff['removed'])} removed, {len(diff['labels_changed'])} with changed stance labels.\n"
        )
    head += f"- The ids are listed in `changes/v{v}.json`.\n"
    older = (
        previous.changelog.split("\n", 1)[1].lstrip("\n")
        if previous and previous.changelog.startswith("# ")
        else ""
    )
    return f"# Changelog\n\n{head}\n{older}".rstrip("\n") + "\n"


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8"
    )


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """One top-level key a line, values compact: readable, and small for 100,000 articles."""
    lines = [
        f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False, separators=(',', ':'))}"
        for k, v in manifest.items()
    ]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")


def file_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of a folder except manifest.json, by relative path."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != "manifest.json":
            h = hashlib.sha256()
            with p.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
            out[p.relative_to(folder).as_posix()] = h.hexdigest()
    return out


def build_release(
    cfg: Config, out: Path, version: str, previous: Previous | None, hub: str | None = None
) -> Built:
    """Write a complete release into the empty folder ``out`` and check it; ReleaseError on any problem."""
    date = utcnow()
    commit, dirty = corpus_commit(cfg.root)
    scanner = Scanner()
    counts, facts = _validate_and_write(cfg, out, previous, scanner)
    agreement_md, pngs = load_agreement(cfg)
    for png in pngs:
        (out / "reports").mkdir(exist_ok=True)
        shutil.copyfile(png, out / "reports" / png.name)
    limitations = []
    if facts["hydrate"]:
        limitations.append(
            f"{facts['hydrate']} articles come from text_policy = hydrate sources: no text, no span "
            "text; run `newscorpus hydrate` to fetch and check them."
        )
    if facts["straddling"]:
        limitations.append(
            f"{len(facts['straddling'])} near-duplicate clusters span two splits: they were merged "
            "after earlier releases, and their articles keep the splits they were released in "
            "(stability wins); the clusters are listed in manifest.json (`straddling_clusters`)."
        )
    for c, splits in counts.items():
        empty = [s for s, n in splits.items() if not n]
        if empty and sum(splits.values()):
            limitations.append(
                f"Config `{c}` has no rows in split(s) {', '.join(empty)}; they are not listed."
            )
        elif not sum(splits.values()):
            limitations.append(f"Config `{c}` is empty in this version and is not listed.")
    limitations.append(
        "Claims come from aggregated or gold spans only; stance falls back to a majority of raw "
        "labels (ties: unresolved) where no aggregate or gold label exists."
    )
    per_item = _per_item_text(facts["per_item"])
    readme = render_card(
        cfg,
        version,
        counts,
        facts["facets"],
        agreement_md,
        [p.name for p in pngs],
        limitations,
        hub,
        per_item=per_item,
    )
    (out / "README.md").write_text(readme, encoding="utf-8")
    diff = changes(previous, version, facts)
    _write_json(out / "changes" / f"v{version}.json", diff)
    (out / "CHANGELOG.md").write_text(changelog(previous, diff, date), encoding="utf-8")
    _write_json(
        out / "croissant.json",
        croissant(cfg, version, date, counts, facts["timeframe"], per_item, hub),
    )
    agreement_json = cfg.reports_dir / "agreement.json"
    agreement = (
        json.loads(agreement_json.read_text(encoding="utf-8")) if agreement_json.is_file() else None
    )
    hashes = file_hashes(out)
    manifest = {
        "name": cfg.corpus.name,
        "version": version,
        "tag": f"v{version}",
        "date": date,
        "corpus_commit": commit,
        "corpus_dirty": dirty,
        "newscorpus_version": __version__,
        "split_shares": dict(cfg.release.splits),
        "counts": counts,
        "split_assignment": {"kept": facts["kept"], "new": facts["new"]},
        "straddling_clusters": facts["straddling"],
        "annotations_per_item": per_item,
        "agreement": agreement,
        "files": hashes,
        "articles": facts["articles"],
        "labels": facts["labels"],
    }
    _write_manifest(out / "manifest.json", manifest)
    scanner.allow |= set(hashes.values()) | ({commit} if commit else set())
    for name in (
        "README.md",
        "CHANGELOG.md",
        "croissant.json",
        "manifest.json",
        f"changes/v{version}.json",
    ):
        scanner.scan_file(out / name, name)
    if scanner.findings:
        raise ReleaseError(
            f"{len(scanner.findings)} e-mail addresses or token-like strings found, release stopped: "
            + "; ".join(scanner.findings[:5])
        )
    load_back(out, counts)
    return Built(folder=out, version=version, manifest=manifest, changes=diff)


def load_back(folder: Path, counts: dict[str, dict[str, int]]) -> None:
    """Load every listed config with datasets.load_dataset and compare row counts with the manifest."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory(prefix="newscorpus-load-") as cache:
        for config, splits in counts.items():
            if not sum(splits.values()):
                continue
            try:
                ds = datasets.load_dataset(str(folder), config, cache_dir=cache)
            except Exception as exc:  # datasets raises many kinds; any one stops the release
                raise ReleaseError(f"load_dataset({folder}, {config!r}) failed: {exc}") from None
            got = {s: ds[s].num_rows for s in ds}
            want = {s: n for s, n in splits.items() if n}
            if got != want:
                raise ReleaseError(
                    f"config {config}: loaded rows {got} differ from the manifest {want}"
                )
