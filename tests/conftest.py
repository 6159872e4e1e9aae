"""Shared fixtures: small real corpora in tmp_path and a CLI runner."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from newscorpus.cli import app
from newscorpus.records import Article, article_id, sha256_hex

REPO = Path(__file__).resolve().parent.parent

MINIMAL_TOML = """\
[corpus]
name = "test-corpus"
pretty_name = "Test corpus"
description = "A corpus for tests."
languages = ["es", "fr", "en"]
license = "CC-BY-4.0"

[[targets]]
id = "us_forces_in_mexico"
text = "US military or intelligence personnel taking part in anti-cartel operations on Mexican soil"

[topic]
any = ["fentanyl", "fentanilo", "cártel", "Sheinbaum"]
"""


def write_corpus(root: Path, toml: str = MINIMAL_TOML) -> Path:
    """A corpus folder with ``toml`` as corpus.toml and empty articles/ and annotations/."""
    (root / "articles").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(exist_ok=True)
    (root / "corpus.toml").write_text(toml, encoding="utf-8")
    return root


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


def make_article(n: int = 0, **over: Any) -> Article:
    """A synthetic article (marked synthetic=True): never real news."""
    url = over.pop("url", f"http://news.test/{n}")
    text = over.pop(
        "text", f"Synthetic article {n} about fentanyl and the cártel.\n\nSecond paragraph."
    )
    fields: dict[str, Any] = {
        "id": article_id(url, text),
        "url": url,
        "canonical_url": url,
        "source": "test",
        "site": "news.test",
        "title": f"Synthetic title {n}",
        "text": text,
        "language": "en",
        "published": f"2026-01-0{1 + n % 9}T10:00:00Z",
        "sha256": sha256_hex(text),
        "extractor": "test",
        "synthetic": True,
    }
    fields.update(over)
    return Article(**fields)


LOCK_FILE = Path(".newscorpus") / "lock"


def snapshot(root: Path) -> dict[str, str]:
    """Hash of every file under root, to prove a failed command changed nothing.

    The corpus lock file is left out: every writing command opens it (empty once released);
    it is never deleted, since unlinking a lock file lets two holders in.
    """
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not is_lock_file(p)
    }


def is_lock_file(path: Path) -> bool:
    """A corpus's lock file (``<corpus>/.newscorpus/lock``), wherever the corpus sits."""
    return path.parts[-2:] == LOCK_FILE.parts


@pytest.fixture
def cli() -> Callable[..., Any]:
    runner = CliRunner()

    def invoke(*args: str, **kw: Any) -> Any:
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, **kw)

    return invoke


# --- Label Studio: one real server per test session ------------------------------------------


class StudioServer:
    """The session's real Label Studio: url, admin token (never printed), annotator accounts."""

    def __init__(self, url: str, token: str, corpus: Path) -> None:
        self.url = url
        self.token = token
        self.corpus = corpus  # the folder whose .newscorpus/ holds the server's data
        self._n = 0

    def __repr__(self) -> str:
        return f"StudioServer(url={self.url!r})"

    def client(self) -> Any:
        """The admin's StudioAPI (tests/studio/helpers.py): the SDK and raw answers."""
        from tests.studio.helpers import StudioAPI

        return StudioAPI(self.url, self.token)

    def backend(self, cfg: Any) -> Any:
        """The admin's annotation backend for the corpus of ``cfg`` (a LabelStudioBackend)."""
        from newscorpus.labelstudio.backend import LabelStudioBackend

        return LabelStudioBackend(self.url, self.token, cfg)

    def create_annotator(self, name: str = "annotator") -> Any:
        """A new annotator account (unique e-mail); returns (Account, password)."""
        import secrets

        from newscorpus.config import load_config

        self._n += 1
        email = f"{name}{self._n}-{secrets.token_hex(3)}@annotators.test"
        password = "pw-" + secrets.token_urlsafe(12)
        backend = self.backend(load_config(self.corpus))
        try:
            return backend.create_account(email, password), password
        finally:
            backend.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def studio_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Start the real Label Studio once per session with the project's own `studio start` code."""
    import os

    from newscorpus.config import load_config
    from newscorpus.labelstudio import server

    os.environ.setdefault("NEWSCORPUS_STUDIO_ENV", str(REPO / ".venv-studio"))  # for CLI runs
    root = write_corpus(tmp_path_factory.mktemp("studio-server") / "corpus")
    cfg = load_config(root)
    env = Path(os.environ["NEWSCORPUS_STUDIO_ENV"])
    started = server.start(cfg, port=_free_port(), env=env)
    creds = server.load_credentials(cfg)
    assert creds is not None
    try:
        yield StudioServer(started.url, creds.token, root)
    finally:
        server.stop(cfg)


# --- processes started by a test: found by a marker in their environment ---------------------

RUN_MARKER = "NEWSCORPUS_TEST_RUN"


def marked_pids(marker: str) -> list[int]:
    """Live processes (zombies excluded) whose environment holds RUN_MARKER=marker.

    Forked workers share their parent's environment, so this finds them even after their
    parent died and they were re-parented."""
    needle = f"{RUN_MARKER}={marker}".encode()
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if needle not in (d / "environ").read_bytes().split(b"\0"):
                continue
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            found.append(int(d.name))
    return found


@pytest.fixture
def run_marker() -> Iterator[str]:
    """A marker for the environment of the processes a test starts; any still alive at the end
    (the test failed) are killed, by pid, so a test never leaves processes behind."""
    import secrets
    import signal

    marker = secrets.token_hex(8)
    yield marker
    for pid in marked_pids(marker):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


# A process's own peak resident memory, in MB: VmHWM. Not ru_maxrss: in a child process it counts
# the parent's (pytest's) resident memory, which Linux carries into the child across exec.
PEAK_LINE = (
    'print(next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:"))'
    " // 1024)"
)


def peak_mb_of(script: str, *args: str, timeout: float = 300) -> int:
    """Run ``script`` (with ``args`` as sys.argv[1:]) in a fresh Python; its own peak MB."""
    proc = subprocess.run(
        [sys.executable, "-c", f"{script}\n{PEAK_LINE}\n", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stdout.split()[-1])
