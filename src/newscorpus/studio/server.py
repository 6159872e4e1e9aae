"""Start, stop and inspect a local Label Studio server for one corpus (`newscorpus studio ...`).

Label Studio runs from its own virtual environment (its pins clash with ours): the one named by
``NEWSCORPUS_STUDIO_ENV`` (created when missing), else ``label-studio`` on PATH, else a per-user
environment created on first use. Its data live in ``<corpus>/.newscorpus/studio/``; the admin
login and API token in ``<corpus>/.newscorpus/studio.json`` (mode 0600), never printed in full.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..config import Config
from ..errors import StudioError, UsageError
from ..store import atomic_write_text

LS_VERSION = "1.23.2"
LS_REQUIREMENT = f"label-studio=={LS_VERSION}"
HOST = "127.0.0.1"
ADMIN_EMAIL = "admin@newscorpus.local"
START_TIMEOUT = 180.0

# Offline and quiet: no version check, no analytics, no Sentry (names from LS 1.23 settings).
QUIET_ENV = {
    "LATEST_VERSION_CHECK": "false",
    "COLLECT_ANALYTICS": "false",
    "SENTRY_DSN": "",
    "FRONTEND_SENTRY_DSN": "",
    "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
    "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
    "LOG_LEVEL": "WARNING",
    "PYTHONUNBUFFERED": "1",
}


@dataclass(frozen=True)
class Credentials:
    """Where the local server listens and how to log in; ``repr`` never shows the secrets."""

    url: str
    port: int
    email: str
    password: str
    token: str
    secret_key: str

    def __repr__(self) -> str:
        return f"Credentials(url={self.url!r}, email={self.email!r}, token={mask(self.token)})"


def mask(secret: str) -> str:
    """A secret shown as its first 4 characters and stars (never in full)."""
    return (secret[:4] + "…") if len(secret) > 8 else "****"


def studio_dir(cfg: Config) -> Path:
    """The git-ignored folder of the local server's data, log and pid file."""
    return cfg.state_dir / "studio"


def credentials_path(cfg: Config) -> Path:
    """The 0600 file of the local server's admin login and token."""
    return cfg.state_dir / "studio.json"


def load_credentials(cfg: Config) -> Credentials | None:
    """The local server's credentials, or None when it was never started."""
    path = credentials_path(cfg)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Credentials(**data)
    except (ValueError, TypeError) as exc:
        raise StudioError(
            f"{path}: unreadable credentials file ({exc.__class__.__name__})"
        ) from None


def _new_credentials(port: int) -> Credentials:
    return Credentials(
        url=f"http://{HOST}:{port}",
        port=port,
        email=ADMIN_EMAIL,
        password=secrets.token_urlsafe(18),
        token=secrets.token_hex(20),
        secret_key=secrets.token_urlsafe(48),
    )


def _save_credentials(cfg: Config, creds: Credentials) -> None:
    data = {
        "url": creds.url,
        "port": creds.port,
        "email": creds.email,
        "password": creds.password,
        "token": creds.token,
        "secret_key": creds.secret_key,
    }
    atomic_write_text(credentials_path(cfg), json.dumps(data, indent=2) + "\n", mode=0o600)


# --- the Label Studio executable ----------------------------------------------------------------


def default_env_dir() -> Path:
    """The per-user virtual environment used when NEWSCORPUS_STUDIO_ENV is unset."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "newscorpus" / f"label-studio-{LS_VERSION}"


def _create_env(env: Path) -> None:
    """Create a virtual environment with Label Studio (uv when available, else venv + pip)."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    try:
        if Path(uv).is_file():
            subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(env)], check=True)
            py = env / "bin" / "python"
            subprocess.run([uv, "pip", "install", "-q", "-p", str(py), LS_REQUIREMENT], check=True)
        else:
            subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
            pip = [str(env / "bin" / "python"), "-m", "pip", "install", "-q"]
            subprocess.run([*pip, "--disable-pip-version-check", LS_REQUIREMENT], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise StudioError(f"{env}: could not install {LS_REQUIREMENT} ({exc})") from None


def label_studio_executable() -> Path:
    """The `label-studio` program to run, installing it into its own environment if needed."""
    named = os.environ.get("NEWSCORPUS_STUDIO_ENV")
    if not named:
        on_path = shutil.which("label-studio")
        if on_path:
            return Path(on_path)
    env = Path(named) if named else default_env_dir()
    exe = env / "bin" / "label-studio"
    if not exe.is_file():
        _create_env(env)
    if not exe.is_file():
        raise StudioError(f"{env}: no bin/label-studio after installing {LS_REQUIREMENT}")
    return exe


# --- start / stop / status ------------------------------------------------------------------------


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on host:port (we can bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def healthy(url: str, timeout: float = 2.0) -> bool:
    """True when Label Studio answers /health with status UP."""
    try:
        r = httpx.get(f"{url}/health", timeout=timeout)
        return r.status_code == 200 and r.json().get("status") == "UP"
    except (httpx.HTTPError, ValueError):
        return False


def _pid_path(cfg: Config) -> Path:
    return studio_dir(cfg) / "server.pid"


def _running_pid(cfg: Config) -> int | None:
    path = _pid_path(cfg)
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _server_env(creds: Credentials, data_dir: Path, exe: Path) -> dict[str, str]:
    """A clean environment: only what Label Studio needs (it reads HOST, PORT, DEBUG...)."""
    env = {
        "PATH": f"{exe.parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(data_dir.parent),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_USERNAME": creds.email,
        "LABEL_STUDIO_PASSWORD": creds.password,
        "LABEL_STUDIO_USER_TOKEN": creds.token,
        "SECRET_KEY": creds.secret_key,
        **QUIET_ENV,
    }
    return env


@dataclass(frozen=True)
class Started:
    """What `studio start` reports: the URL, the admin e-mail, the credentials file."""

    url: str
    email: str
    credentials_file: Path
    already_running: bool


def start(cfg: Config, port: int | None = None, timeout: float = START_TIMEOUT) -> Started:
    """Start the corpus's Label Studio on 127.0.0.1 and wait for /health; refuse a busy port."""
    if port is not None and not 1 <= port <= 65535:
        raise UsageError(f"--port {port}: must be between 1 and 65535")
    creds = load_credentials(cfg)
    pid = _running_pid(cfg)
    if creds and pid and healthy(creds.url):
        return Started(creds.url, creds.email, credentials_path(cfg), True)
    wanted = port if port is not None else (creds.port if creds else cfg.studio.port)
    if not port_is_free(wanted):
        raise StudioError(
            f"port {wanted} on {HOST} is busy: stop what uses it or pass --port "
            "(Label Studio would silently move to another port)"
        )
    if creds is None or creds.port != wanted:
        base = creds or _new_credentials(wanted)
        creds = Credentials(
            url=f"http://{HOST}:{wanted}",
            port=wanted,
            email=base.email,
            password=base.password,
            token=base.token,
            secret_key=base.secret_key,
        )
        _save_credentials(cfg, creds)
    exe = label_studio_executable()
    folder = studio_dir(cfg)
    data_dir = folder / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = folder / "server.log"
    cmd = [
        str(exe),
        "start",
        "--data-dir",
        str(data_dir),
        "--no-browser",
        "--internal-host",
        HOST,
        "--port",
        str(wanted),
        "--enable-legacy-api-token",
        "--log-level",
        "WARNING",
    ]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            env=_server_env(creds, data_dir, exe),
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    atomic_write_text(_pid_path(cfg), f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StudioError(
                f"Label Studio exited with code {proc.returncode} during start; see {log_path}"
            )
        if healthy(creds.url):
            _check_token(creds)
            return Started(creds.url, creds.email, credentials_path(cfg), False)
        time.sleep(0.5)
    _terminate(proc.pid)
    raise StudioError(
        f"Label Studio did not answer {creds.url}/health in {timeout:.0f} s; see {log_path}"
    )


def _check_token(creds: Credentials) -> None:
    r = httpx.get(
        f"{creds.url}/api/current-user/whoami",
        headers={"Authorization": f"Token {creds.token}"},
        timeout=30,
    )
    if r.status_code != 200:
        raise StudioError(
            f"{creds.url}: the admin API token was refused (HTTP {r.status_code}); "
            "the data folder may come from another setup"
        )


def _terminate(pid: int, grace: float = 15.0) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, 0)


def stop(cfg: Config) -> bool:
    """Stop the corpus's Label Studio; False when it was not running."""
    pid = _running_pid(cfg)
    if pid is None:
        return False
    _terminate(pid)
    with contextlib.suppress(OSError):
        _pid_path(cfg).unlink()
    return True


@dataclass(frozen=True)
class Status:
    """Whether the local server runs and answers, and where."""

    running: bool
    healthy: bool
    url: str | None
    pid: int | None


def status(cfg: Config) -> Status:
    """Is the corpus's Label Studio running and healthy?"""
    creds = load_credentials(cfg)
    pid = _running_pid(cfg)
    url = creds.url if creds else None
    return Status(pid is not None, bool(url and pid and healthy(url)), url, pid)
