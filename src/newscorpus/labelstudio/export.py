"""`newscorpus pull --from-export`: a Label Studio JSON export file instead of the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..annotation.pseudonym import load_salt
from ..annotation.pull import (
    EXPORT_SERVER,
    Counts,
    Origin,
    PullResult,
    article_ids,
    first_few,
    known_records,
    result_of,
    store_records,
    to_records,
)
from ..config import Config
from ..errors import DataError
from ..lock import writes_corpus
from .backend import LabelStudioBackend
from .convert import convert_task
from .labeling import expected_interface
from .strictjson import parse_json


def read_export(path: Path) -> list[Any]:
    """The task list of a Label Studio JSON export; DataError when it is not one.

    Strict JSON: NaN, Infinity and lists or objects nested deeper than an export ever is are
    refused (with the line and column), never a traceback.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    data = parse_json(raw, str(path), DataError)
    if not isinstance(data, list):
        raise DataError(f"{path}: not a Label Studio JSON export (expected a list of tasks)")
    return data


def check_export_articles(cfg: Config, tasks: list[Any], path: Path) -> None:
    """DataError when tasks of the export refer to articles that are not in this corpus.

    An export of another corpus's project (or of articles since removed from ``articles/``)
    would store annotations of articles the corpus does not have. Tasks without a string
    ``data.article_id`` are left to ``convert_task``, which names them.
    """
    known = article_ids(cfg)
    unknown: list[str] = []
    for i, task in enumerate(tasks):
        data = task.get("data") if isinstance(task, dict) else None
        aid = data.get("article_id") if isinstance(data, dict) else None
        if isinstance(aid, str) and aid not in known:
            unknown.append(f"task {task.get('id', f'#{i}')} article_id {aid!r}")
    if unknown:
        raise DataError(
            f"{path}: {len(unknown)} of {len(tasks)} tasks refer to articles not in "
            f"{cfg.articles_dir} (first: {first_few(unknown)}); an export of another corpus's "
            "project? nothing was changed"
        )


@writes_corpus("pull")
def pull_export(cfg: Config, path: Path) -> PullResult:
    """Read a standard Label Studio JSON export file instead of the server.

    Refused (DataError, nothing written) when any task refers to an article not in the corpus.
    """
    tasks = read_export(path)
    check_export_articles(cfg, tasks, path)
    salt = load_salt(cfg)
    iface = expected_interface(cfg)
    origin = Origin(
        source=LabelStudioBackend.source,
        prefix=LabelStudioBackend.record_prefix,
        server_url=EXPORT_SERVER,
        project_id=None,
        where=str(path),
    )
    counts = Counts()
    converted = (convert_task(cfg, t, i, iface, str(path)) for i, t in enumerate(tasks))
    records = to_records(converted, origin, salt[0], counts)
    ids, _ = known_records(cfg, EXPORT_SERVER, None)
    new = {r.id: r for r in records if r.id not in ids}  # a task listed twice is stored once
    store_records(cfg, list(new.values()), [], salt)
    return result_of(counts, new_versions=len(new))
