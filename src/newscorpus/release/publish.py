"""`newscorpus release`: build one version, check it, publish it to its targets (git, the Hub)."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..cardtext import card_path, placeholder_warnings
from ..config import Config
from ..corpus import article_files
from ..errors import ConfigError, DataError, ReleaseError
from ..lock import writes_corpus
from .build import build_release
from .manifest import ChangeCounts, Previous
from .target import Published, ReleaseTarget
from .target_git import GitTarget
from .target_hub import HubTarget
from .version import check_choice, is_after, next_version


@dataclass(frozen=True, kw_only=True)
class ReleaseOptions:
    """Which version to release (exactly one of ``version`` and ``bump``), and whether to publish."""

    version: str | None = None  # X.Y.Z (a leading 'v' is accepted)
    bump: str | None = None  # major, minor or patch of the previous release
    dry_run: bool = False  # build and check, publish nothing


@dataclass(frozen=True)
class ReleaseResult:
    """What `newscorpus release` did."""

    version: str
    dry_run: bool
    counts: dict[str, dict[str, int]]
    changes: ChangeCounts | None  # None: nothing was built (an interrupted release was finished)
    published: tuple[Published, ...] = ()  # in the order of the targets
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def release_targets(cfg: Config) -> list[ReleaseTarget]:
    """The targets of [release] (with the CLI's --to and --hub applied): git first, then the Hub."""
    targets: list[ReleaseTarget] = []
    if cfg.release.to is not None:
        targets.append(GitTarget(cfg.release.to, cfg.root, cfg.corpus.name))
    if cfg.release.hub is not None:
        targets.append(HubTarget(cfg.release.hub))
    return targets


@writes_corpus("release")
def make_release(
    cfg: Config, *, options: ReleaseOptions, targets: Sequence[ReleaseTarget] | None = None
) -> ReleaseResult:
    """Build, check and publish one version; a refused or failed release leaves nothing behind.

    ``targets``: where to publish (default: ``release_targets(cfg)``).
    """
    check_choice(options.version, options.bump)  # a malformed version is named before anything
    chosen = release_targets(cfg) if targets is None else list(targets)
    if not chosen and not options.dry_run:
        raise ConfigError(f"{cfg.path}: no release target: set [release].to or give --to / --hub")
    for target in chosen:
        target.check()  # before anything is read or written
    previous: Previous | None = None
    source: ReleaseTarget | None = None
    for target in chosen:
        previous = target.previous()
        if previous is not None:
            source = target
            break
    new = next_version(
        previous.version if previous else None, version=options.version, bump=options.bump
    )
    for target in chosen:
        target.check_version(new)
    if previous is not None and source is not None and source.interrupted(previous, new):
        finished = source.finish(new, dry_run=options.dry_run)
        result = ReleaseResult(
            version=new,
            dry_run=options.dry_run,
            counts=previous.counts,
            changes=None,
            published=(finished.published,) if finished.published else (),
            notes=(finished.note,),
        )
    else:
        if previous is not None and not is_after(new, previous.version):
            raise ReleaseError(
                f"version v{new} is not after the previous release v{previous.version}"
            )
        if not _has_articles(cfg):
            raise DataError(
                f"{cfg.articles_dir}: no articles, nothing to release (run `newscorpus gather`)"
            )
        result = _build_and_publish(cfg, chosen, new, previous, options.dry_run)
        left = placeholder_warnings(cfg)
        if left:
            result = dataclasses.replace(
                result,
                warnings=(
                    f"{card_path(cfg)}: the card's prose is unfinished ({len(left)} warnings; "
                    "`newscorpus validate` lists them); the card says so on top",
                ),
            )
    return result


def _has_articles(cfg: Config) -> bool:
    """Whether some article file has a line that is not blank (validation reads them later)."""
    for path in article_files(cfg):
        try:
            with path.open("rb") as fh:
                if any(line.strip() for line in fh):
                    return True
        except OSError as exc:
            raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    return False


def _missing_folders(folder: Path | None) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    out: list[Path] = []
    while folder is not None and not folder.exists() and folder != folder.parent:
        out.append(folder)
        folder = folder.parent
    return out


def _build_and_publish(
    cfg: Config, targets: list[ReleaseTarget], new: str, previous: Previous | None, dry_run: bool
) -> ReleaseResult:
    """Build beside the first local target (a failed or dry run keeps no folder it made)."""
    repo = next((t.local_path for t in targets if t.local_path is not None), None)
    parent = repo.parent if repo is not None else None
    made = _missing_folders(parent)
    if parent is not None:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{repo}: cannot create the release folder: {exc.strerror}") from None
    published = False
    try:
        result = _build_then_publish(cfg, targets, new, previous, dry_run, repo)
        published = not dry_run
    finally:
        if not published:  # the folders made above the target: a failed or dry run keeps none
            for folder in made:
                try:
                    folder.rmdir()
                except OSError:
                    break
    return result


def _build_then_publish(
    cfg: Config,
    targets: list[ReleaseTarget],
    new: str,
    previous: Previous | None,
    dry_run: bool,
    repo: Path | None,
) -> ReleaseResult:
    """Build in a temporary folder beside the target, check, then publish to each target in turn."""
    parent = repo.parent if repo is not None else None
    try:
        workdir = tempfile.TemporaryDirectory(prefix=".newscorpus-release-", dir=parent)
    except OSError as exc:
        raise ConfigError(
            f"{repo}: cannot write beside the release folder: {exc.strerror}"
        ) from None
    load_id = next((t.load_id for t in targets if t.load_id is not None), None)
    with workdir as tmp:
        built = build_release(
            cfg, out=Path(tmp) / "release", version=new, previous=previous, hub=load_id, target=repo
        )
        result = ReleaseResult(
            version=new,
            dry_run=dry_run,
            counts=built.manifest.counts,
            changes=built.changes.counts(),
        )
        if dry_run:
            return result
        published: list[Published] = []
        done: list[ReleaseTarget] = []
        try:
            for target in targets:
                published.append(target.publish(built.folder, new, f"Release v{new}"))
                done.append(target)
        except BaseException as exc:
            for target in reversed(done):  # a later target failed: take back the earlier ones
                target.undo()
            if done and isinstance(exc, ReleaseError):
                undone = "; ".join(t.undone for t in reversed(done))
                raise ReleaseError(f"{exc}; {undone}") from None
            raise
    return dataclasses.replace(result, published=tuple(published))
