"""The release's configs written in streaming passes (release/streaming.py) are the same files
whatever the batch sizes, and the same rows as the whole-corpus build of release/tables.py."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from newscorpus.config import Config
from newscorpus.corpus import add_annotations, iter_articles
from newscorpus.errors import ReleaseError
from newscorpus.records import Article
from newscorpus.release import streaming, tables
from newscorpus.release.build import build_release
from newscorpus.release.scan import Scanner
from newscorpus.release.splits import SplitAssigner
from newscorpus.release.tables import (
    build_tables,
    config_names,
    read_articles,
    release_schema,
    to_arrow,
)
from tests.release.helpers import build_corpus, labels_for


def corpus(root: Path) -> Config:
    """60 articles; later versions, a deletion and a cancelled record in a second file, so that
    an article's current records come from both files and from far apart in each."""
    cfg, arts = build_corpus(root, n=60)
    later = labels_for(arts[:5], shift=1)
    for ann in later:
        ann.updated_at = "2026-02-03T10:00:00Z"
    later[0].deleted = True
    later[4].cancelled = True
    add_annotations(cfg, later[::-1], "later")
    return cfg


def build(cfg: Config, out: Path) -> dict[str, bytes]:
    """Every file of a release built into ``out``, manifest.json without its date."""
    build_release(cfg, out=out, version="1.0.0", previous=None)
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    manifest = json.loads(files.pop("manifest.json"))
    del manifest["date"]
    files["manifest.json"] = json.dumps(manifest).encode()
    return files


def test_tiny_batches_give_the_same_release_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = corpus(tmp_path / "c")
    default = build(cfg, tmp_path / "default")
    monkeypatch.setattr(streaming, "BUCKET_ARTICLES", 4)  # 15 buckets
    monkeypatch.setattr(tables, "BATCH_BYTES", 2000)
    monkeypatch.setattr(tables, "BLOCK_BYTES", 1024)  # a few records per batch
    tiny = build(cfg, tmp_path / "tiny")
    assert sorted(tiny) == sorted(default)
    assert sum(1 for f in default if f.endswith(".parquet")) >= 10
    for name, data in default.items():
        assert tiny[name] == data, name


def test_a_file_written_row_group_by_row_group_is_the_whole_table_written_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = corpus(tmp_path / "c")
    monkeypatch.setattr(streaming, "ROW_GROUP_ROWS", 7)
    monkeypatch.setattr(streaming, "BUCKET_ARTICLES", 5)
    monkeypatch.setattr(tables, "BLOCK_BYTES", 1024)
    build_release(cfg, out=tmp_path / "out", version="1.0.0", previous=None)
    paths = sorted((tmp_path / "out" / "data").rglob("*.parquet"))
    assert len(paths) >= 10
    for path in paths:
        # read back, lists' items are named "element"; the release's schema names them "item"
        table = pq.read_table(path).cast(release_schema(path.parent.name))
        whole = io.BytesIO()
        pq.write_table(table, whole, compression="zstd", row_group_size=7)
        assert path.read_bytes() == whole.getvalue(), path
        assert pq.ParquetFile(path).num_row_groups == -(-table.num_rows // 7)


def test_streamed_configs_are_the_rows_of_the_whole_corpus_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = corpus(tmp_path / "c")
    monkeypatch.setattr(streaming, "BUCKET_ARTICLES", 3)
    monkeypatch.setattr(tables, "BATCH_BYTES", 3000)
    monkeypatch.setattr(tables, "BLOCK_BYTES", 1024)
    streamed = streaming.write_configs(
        cfg, tmp_path / "out", "1.0.0", Scanner(), SplitAssigner(cfg.release.splits)
    )
    arts = read_articles(cfg)
    assigner = SplitAssigner(cfg.release.splits)
    splits = [assigner.assign(a, c) for a, c in arts.select("id", "dup_cluster").iter_rows()]
    whole = build_tables(cfg, arts, splits)
    assert not whole.orphans
    for config in config_names():
        frame = whole.config(config)
        want: dict[str, Any] = {}
        for (split,), part in frame.partition_by(
            "split", as_dict=True, maintain_order=True
        ).items():
            want[str(split)] = to_arrow(part, config)
        assert streamed.counts[config] == {s: t.num_rows for s, t in want.items()}, config
        for split, table in want.items():
            name = streaming.parquet_name(split, "1.0.0")
            got = pq.read_table(tmp_path / "out" / "data" / config / name)
            assert got.equals(table), (config, split)
            assert got.schema.metadata == table.schema.metadata
    assert sorted(streamed.per_item) == sorted(
        whole.annotations.group_by("_ord").len().get_column("len").to_list()
    )


def test_annotations_of_unknown_articles_still_stop_the_release(tmp_path: Path) -> None:
    cfg = corpus(tmp_path / "c")
    stray = replace(labels_for(read_articles_list(cfg))[0], article_id="00000000deadbeef")
    add_annotations(cfg, [stray], "stray")
    with pytest.raises(ReleaseError, match="not in articles/: \\['00000000deadbeef'\\]"):
        streaming.write_configs(
            cfg, tmp_path / "out", "1.0.0", Scanner(), SplitAssigner(cfg.release.splits)
        )


def test_a_deleted_annotation_of_an_unknown_article_does_not_stop_the_release(
    tmp_path: Path,
) -> None:
    """Only the current records of unknown articles count (chosen as for known ones: the later
    version, here deleted, wins), and a known article's records are not mistaken for them."""
    cfg = corpus(tmp_path / "c")
    stray = replace(labels_for(read_articles_list(cfg))[0], article_id="00000000deadbeef")
    gone = replace(stray, updated_at="2026-03-01T00:00:00Z", deleted=True)
    other = replace(stray, article_id="00000000feedface")
    add_annotations(cfg, [stray, gone], "stray")
    write = streaming.write_configs
    assert write(cfg, tmp_path / "o1", "1.0.0", Scanner(), SplitAssigner(cfg.release.splits))
    add_annotations(cfg, [other], "other")
    with pytest.raises(ReleaseError, match="not in articles/: \\['00000000feedface'\\]"):
        write(cfg, tmp_path / "o2", "1.0.0", Scanner(), SplitAssigner(cfg.release.splits))


def read_articles_list(cfg: Config) -> list[Article]:
    return list(iter_articles(cfg))[:1]


MEMORY_SCRIPT = """
import json, sys
from pathlib import Path
from newscorpus.config import load_config
from newscorpus.release import streaming, tables
from newscorpus.release.scan import Scanner
from newscorpus.release.splits import SplitAssigner

streaming.ROW_GROUP_ROWS = 200  # what waits for its row group: 200 rows per split
tables.BATCH_BYTES = 4 << 20  # what is read at once
tables.BLOCK_BYTES = 256 << 10
cfg = load_config(Path(sys.argv[1]))
streaming.write_configs(
    cfg, Path(sys.argv[2]), "1.0.0", Scanner(), SplitAssigner(cfg.release.splits)
)
"""


N_LONG = 6000


def test_memory_does_not_grow_with_the_texts(tmp_path: Path) -> None:
    """6,000 articles of 40,000 characters (240 MB of text): the streaming build (its batches
    and row groups made small, as its memory grows with them) stays under 500 MB (304 MB
    here); the build before it (build.write_tables), which read every text into one frame,
    took 809 MB here."""
    from newscorpus.records import sha256_hex
    from tests.conftest import peak_mb_of, write_corpus
    from tests.release.helpers import TOML

    root = write_corpus(tmp_path / "c", TOML)
    words = "fentanyl cártel security cooperation border officials said report seizure "
    with (root / "articles" / "long.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(N_LONG):
            text = f"Article {i}. " + words * 530
            record = {
                "id": f"{i:016x}",
                "url": f"http://news.test/{i}",
                "source": "open",
                "title": f"Long {i}",
                "text": text,
                "text_sha256": sha256_hex(text),
                "language": "es",
                "synthetic": True,
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    peak_mb = peak_mb_of(MEMORY_SCRIPT, str(root), str(tmp_path / "out"), timeout=120)
    assert peak_mb < 500, f"peak {peak_mb} MB"
