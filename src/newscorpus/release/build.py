"""Build a release folder from a corpus, then check it: secrets scan and load back every config."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from .. import __version__
from ..config import Config
from ..errors import ReleaseError
from ..layers import defined
from ..records import utcnow
from ..validate import validate_loaded
from ..workers import init_worker
from .baseline import BASELINE_JSON, BaselineResult, compute_baselines
from .card import (
    known_limitations,
    load_agreement,
    released_features,
    released_vocabularies,
    render_card,
)
from .compat import check_compatible
from .croissant import croissant
from .facts import Placement, PublicationDates, ReleaseFacts
from .manifest import (
    CHANGE_LISTS,
    ID_MAPS,
    Changes,
    Manifest,
    Previous,
    SplitAssignment,
    changelog,
    changes,
    parse_json_document,
)
from .scan import HASH_COLUMNS, Scanner, local_roots
from .splits import SplitAssigner, previous_cluster_splits
from .streaming import parquet_name, write_configs
from .tables import config_names, features


@dataclass(frozen=True)
class Built:
    """A release folder built and checked."""

    folder: Path
    version: str
    manifest: Manifest
    changes: Changes


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


def validation_errors(cfg: Config) -> tuple[int, str]:
    """Run validate.validate_loaded: the number of errors and the first one."""
    report = validate_loaded(cfg)
    return len(report.errors), report.errors[0] if report.errors else ""


def _validate_and_write(
    cfg: Config, out: Path, previous: Previous | None, scanner: Scanner, version: str
) -> tuple[dict[str, dict[str, int]], ReleaseFacts, BaselineResult]:
    """Validate the corpus and write the tables into the (temporary) release folder.

    With no other thread running, validation runs in a forked process while the tables are
    written; its verdict is awaited before anything else. Otherwise (forking a threaded
    process is unsafe) it runs first.
    """
    if threading.active_count() > 1:
        _raise_invalid(*validation_errors(cfg))
        return write_tables(cfg, out, previous, scanner, version)
    fork = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        1, mp_context=fork, initializer=init_worker, initargs=(os.getpid(),)
    ) as pool:
        verdict = pool.submit(validation_errors, cfg)
        try:
            return write_tables(cfg, out, previous, scanner, version)
        finally:
            _raise_invalid(*verdict.result())


def _raise_invalid(n: int, first: str) -> None:
    if n:
        raise ReleaseError(
            f"validate found {n} errors; first: {first} (run `newscorpus validate`); "
            "nothing was released"
        )


def write_tables(
    cfg: Config, out: Path, previous: Previous | None, scanner: Scanner, version: str
) -> tuple[dict[str, dict[str, int]], ReleaseFacts, BaselineResult]:
    """Write the configs as parquet (streaming.write_configs: memory does not grow with the
    texts); counts per config and split, facts for the card, and the baselines (trained on
    the corpus's text, hydrate sources too)."""
    prev_articles = previous.articles if previous else {}
    prev_splits = {a: v.split for a, v in prev_articles.items()}
    prev_clusters = {a: v.dup_cluster for a, v in prev_articles.items()}
    configured = [s for s, _ in cfg.release.splits]
    stray = sorted(set(prev_splits.values()) - set(configured))
    if previous is not None and stray:
        raise ReleaseError(
            f"v{previous.version} has articles in split(s) {', '.join(stray)}, which "
            f"[release].splits ({', '.join(configured)}) no longer lists: an article keeps its "
            "split in every version, so keep those names (shares may change); nothing was released"
        )
    assigner = SplitAssigner(
        cfg.release.splits, prev_splits, previous_cluster_splits(prev_splits, prev_clusters)
    )
    built = write_configs(cfg, out, version, scanner, assigner)
    # the baselines first: the annotators' frames they alone read are dropped before the
    # per-article maps of the manifest are made (1,000,000 articles: 0.4 GB less at the peak)
    baselines = compute_baselines(
        cfg,
        articles=built.texts,
        stance=built.stance,
        choices=built.choices,
        annotations=built.annotations,
    )
    built.annotations, built.choices = built.annotations.clear(), {}
    arts = built.articles
    ids: list[str] = arts.get_column("id").to_list()
    clusters: list[str] = arts.get_column("dup_cluster").to_list()
    split_names: list[str] = [s for s, _ in cfg.release.splits]
    split_codes = arts.get_column("split").cast(pl.Enum(split_names)).to_physical().to_list()
    splits = [split_names[c] for c in split_codes]  # one string object per split name
    del split_codes
    counts = {
        c: {s: built.counts.get(c, {}).get(s, 0) for s, _ in cfg.release.splits}
        for c in config_names()
    }
    labels: dict[str, dict[str, str]] = {}
    stance = built.stance.select("article_id", "target", "label")
    names: dict[str, str] = {}  # one string object per target and label (1M articles: -240 MB)
    for aid, t, label in stance.iter_rows():
        labels.setdefault(aid, {})[names.setdefault(t, t)] = names.setdefault(label, label)
    facets: dict[str, Counter[str]] = {
        "language": _counter(arts.get_column("language")),
        "source": _counter(arts.select(pl.format("{} ({})", "source", "text_policy")).to_series()),
        "label": _counter(stance.select(pl.format("{}: {}", "target", "label")).to_series()),
        "synthetic": _counter(
            arts.select(
                pl.when("synthetic").then(pl.lit("true")).otherwise(pl.lit("false"))
            ).to_series()
        ),
    }
    fetched = arts.get_column("fetched_at").drop_nulls()
    published = arts.get_column("published").drop_nulls().str.slice(0, 10)
    has_label = pl.col("id").is_in(list(labels))
    unlabelled = arts.filter(~has_label)
    labelled_clusters = arts.filter(has_label).get_column("dup_cluster").implode()
    copies = int(unlabelled.get_column("dup_cluster").is_in(labelled_clusters).sum())
    straddle = (
        arts.group_by("dup_cluster")
        .agg(pl.col("split").n_unique().alias("n"))
        .filter(pl.col("n") > 1)
        .get_column("dup_cluster")
        .sort()
        .to_list()
    )
    facts = ReleaseFacts(
        articles={a: Placement(s, c) for a, s, c in zip(ids, splits, clusters, strict=True)},
        labels=labels,
        claims=claim_digests(built.claims),
        facets=facets,
        timeframe=(_text(fetched.min()), _text(fetched.max())) if len(fetched) else (None, None),
        published=PublicationDates(
            _text(published.min()), _text(published.max()), arts.height - len(published)
        )
        if len(published)
        else PublicationDates(None, None, arts.height),
        unlabelled=unlabelled.height,
        unlabelled_copies=copies,
        per_item=tuple(built.per_item),
        withheld=int((arts.get_column("text_policy") != "full").sum()),
        kept=assigner.kept,
        new=assigner.new,
        straddling=tuple(straddle),
    )
    return counts, facts, baselines


def _text(value: object) -> str | None:
    """A string column's min or max (None for an empty column)."""
    return None if value is None else str(value)


def _counter(values: pl.Series) -> Counter[str]:
    """Counts of a column's values, most frequent first."""
    counts = values.value_counts(sort=True)
    return Counter(dict(zip(counts[:, 0].to_list(), counts[:, 1].to_list(), strict=True)))


def _per_item_text(per_item: tuple[int, ...]) -> str:
    if not per_item:
        return "No human annotations in this version."
    return (
        f"{min(per_item)} to {max(per_item)} annotators per annotated article "
        f"(median {statistics.median(per_item):g}, {len(per_item)} annotated articles)"
    )


def first_rows(
    out: Path, counts: dict[str, dict[str, int]], splits: list[str], version: str
) -> dict[str, dict[str, Any]]:
    """The first row of each config's first split with rows, as written (for the card)."""
    rows = {}
    for config, n in counts.items():
        split = next((s for s in splits if n.get(s)), None)
        if split is not None:
            f = pq.ParquetFile(out / "data" / config / parquet_name(split, version))
            rows[config] = f.read_row_group(0).slice(0, 1).to_pylist()[0]
    return rows


def _period_text(published: PublicationDates, fetched: tuple[str | None, str | None]) -> str | None:
    """When the articles were published and fetched, in one sentence."""
    first, last, undated = published.first, published.last, published.undated
    parts = []
    if first:
        parts.append(
            f"Articles published from {first} to {last}"
            + (f" ({undated} without a publication date)" if undated else "")
        )
    if fetched[0]:
        parts.append(f"fetched from {fetched[0][:10]} to {(fetched[1] or '')[:10]}")
    return "; ".join(parts) + "." if parts else None


def claim_digests(claims: pl.DataFrame) -> dict[str, str]:
    """Per article, a short digest of its released claims (offsets, labels, attributes)."""
    fields = [f for f in defined().spans.fields if f not in ("id", "text")]
    spans: dict[str, list[Any]] = {}
    for aid, *span in claims.select("article_id", *fields).iter_rows():
        spans.setdefault(aid, []).append(span)
    return {
        aid: hashlib.sha256(json.dumps(v, ensure_ascii=False).encode()).hexdigest()[:16]
        for aid, v in spans.items()
    }


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8"
    )


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


def read_agreement_json(cfg: Config) -> Any:
    """reports/agreement.json (None when there is none); ReleaseError naming it when unreadable."""
    path = cfg.reports_dir / "agreement.json"
    if not path.is_file():
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReleaseError(f"{path}: cannot read: {exc.strerror}; nothing was released") from None
    return parse_json_document(data, f"{path} (run `newscorpus agree` again)")


def build_release(
    cfg: Config,
    *,
    out: Path,
    version: str,
    previous: Previous | None,
    hub: str | None = None,
    target: Path | None = None,
) -> Built:
    """Write a complete release into the empty folder ``out`` and check it; ReleaseError on any problem.

    ``target``: the release repository, whose path (like the corpus folder's) must not be released.
    """
    date = utcnow()
    commit, dirty = corpus_commit(cfg.root)
    folders = [cfg.root, target, out, *(s.path for s in cfg.sources if s.path is not None)]
    scanner = Scanner(roots=local_roots(*folders))
    if previous is not None:  # what the layers tell before the build: a column or class broken
        defined_features = {c: features(c) for c in config_names()}
        check_compatible(previous.version, previous.features, defined_features, version)
    counts, facts, baselines = _validate_and_write(cfg, out, previous, scanner, version)
    if previous is not None:  # and after it: a config left without rows is gone too
        check_compatible(previous.version, previous.features, released_features(counts), version)
    baseline_json = baselines.to_json()
    _write_json(out / BASELINE_JSON, baseline_json)
    agreement_md, pngs = load_agreement(cfg)
    for png in pngs:
        (out / "reports").mkdir(exist_ok=True)
        shutil.copyfile(png, out / "reports" / png.name)
        scanner.scan_png(out / "reports" / png.name, f"reports/{png.name}")
    limitations = known_limitations(facts, counts)
    per_item = _per_item_text(facts.per_item)
    examples = first_rows(out, counts, [s for s, _ in cfg.release.splits], version)
    # the examples' hashes (text_sha256) were scanned as hash columns in the parquet files
    scanner.allow |= {str(row[c]) for row in examples.values() for c in HASH_COLUMNS if row.get(c)}
    readme = render_card(
        cfg,
        version=version,
        counts=counts,
        facets=facts.facets,
        agreement_md=agreement_md,
        pngs=[p.name for p in pngs],
        limitations=limitations,
        hub=hub,
        per_item=per_item,
        period=_period_text(facts.published, facts.timeframe),
        examples=examples,
        baselines=baselines,
    )
    (out / "README.md").write_text(readme, encoding="utf-8")
    diff = changes(previous, version, facts.articles, facts.labels, facts.claims)
    _write_json(out / "changes" / f"v{version}.json", diff.to_dict())
    (out / "CHANGELOG.md").write_text(changelog(previous, diff, date, counts), encoding="utf-8")
    _write_json(
        out / "croissant.json",
        croissant(cfg, version, date, counts, facts.timeframe, per_item, hub),
    )
    agreement = read_agreement_json(cfg)
    hashes = file_hashes(out)
    manifest = Manifest(
        name=cfg.corpus.name,
        version=version,
        tag=f"v{version}",
        date=date,
        corpus_commit=commit,
        corpus_dirty=dirty,
        newscorpus_version=__version__,
        split_shares=dict(cfg.release.splits),
        counts=counts,
        split_assignment=SplitAssignment(kept=facts.kept, new=facts.new),
        straddling_clusters=facts.straddling,
        annotations_per_item=per_item,
        agreement=agreement,
        files=hashes,
        articles=facts.articles,
        labels=facts.labels,
        claims=facts.claims,
        vocabularies=released_vocabularies(counts),
        features=released_features(counts),
    )
    with (out / "manifest.json").open("w", encoding="utf-8") as fh:
        fh.writelines(manifest.json_parts())
    scanner.allow |= set(hashes.values()) | ({commit} if commit else set())
    for name in ("README.md", "CHANGELOG.md"):
        scanner.scan_file(out / name, name)
    scanner.scan_json("croissant.json", json.loads((out / "croissant.json").read_text("utf-8")))
    scanner.scan_json(BASELINE_JSON, baseline_json)
    # The per-article maps and id lists hold ids, clusters, splits and labels: values of the
    # parquet columns scanned above. Scanning their ~16 MB again took 1.5 s per 100,000 articles.
    scanner.scan_json("manifest.json", manifest.to_dict(maps=False), ID_MAPS)
    scanner.scan_json(f"changes/v{version}.json", diff.to_dict(), CHANGE_LISTS)
    if scanner.findings:
        n = len(scanner.findings)
        more = f"; and {n - 5} more" if n > 5 else ""
        raise ReleaseError(
            f"{n} e-mail addresses or token-like strings, credentials in URLs or local paths "
            "found, release stopped (nothing was published): "
            + "; ".join(scanner.findings[:5])
            + more
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
