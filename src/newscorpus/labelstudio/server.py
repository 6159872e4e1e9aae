"""Start, stop and inspect a local Label Studio server for one corpus (`newscorpus studio ...`).

Label Studio runs from its own virtual environment (its pins clash with ours): the one the caller
names (the CLI passes ``NEWSCORPUS_STUDIO_ENV``; created when missing), else ``label-studio`` on PATH,
else a per-user environment created on first use under the data home the caller gives (the CLI
passes ``XDG_DATA_HOME``; default ``~/.local/share``). Its data live in ``<corpus>/.newscorpus/studio/data/`` (0700;
the database, the log and every file Label Studio writes later are 0600: the child runs with umask
077); the admin login and API token in ``<corpus>/.newscorpus/studio.json`` (mode 0600), never
printed in full. Every path handed to the server process is absolute: a relative data folder would
be taken from the server's working directory (the studio folder) and nest there, as earlier
versions did; `start` moves such a nested data folder back (see ``adopt_nested_data``).

The database is SQLite (Label Studio's own, in the data folder) or, with ``database="postgresql"``
(``studio start --database postgresql``, ``[studio] database``), a PostgreSQL server that
newscorpus runs beside it (``postgres.py``): started before Label Studio, stopped after it. A
studio keeps the database it was first started with: starting it on the other one is refused
(its projects and annotations are in the first).
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
import orjson

from ..config import DATABASES, Config
from ..errors import StudioError, UsageError
from ..lock import writes_corpus
from ..store import atomic_write_text
from . import postgres

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
    """The git-ignored folder of the local server's data, log and pid file (an absolute path)."""
    return (cfg.state_dir / "studio").absolute()


def data_dir(cfg: Config) -> Path:
    """Label Studio's data folder (its sqlite database, media, exports): absolute, 0700."""
    return studio_dir(cfg) / "data"


def postgres_paths(cfg: Config) -> postgres.PgPaths:
    """The PostgreSQL cluster folder, its log and its 0600 credentials file."""
    folder = studio_dir(cfg)
    return postgres.PgPaths(
        cluster=folder / "postgres",
        log=folder / "postgres.log",
        credentials=(cfg.state_dir / "postgres.json").absolute(),
    )


SQLITE_FILE = "label_studio.sqlite3"  # Label Studio's DATABASE_NAME_DEFAULT in its data folder


def database_in_use(cfg: Config) -> tuple[str, Path] | None:
    """The database that holds this studio's data and where, or None before its first start."""
    sqlite = data_dir(cfg) / SQLITE_FILE
    pg = postgres_paths(cfg)
    if pg.initialised:
        return "postgresql", pg.cluster
    if sqlite.is_file():
        return "sqlite", sqlite
    return None


def _check_database(cfg: Config, wanted: str) -> None:
    """StudioError when the studio's data are in the other database (never switched silently)."""
    found = database_in_use(cfg)
    if found is None or found[0] == wanted:
        return
    have, where = found
    raise StudioError(
        f"this corpus's Label Studio keeps its data in {have} ({where}): start it with "
        f"--database {have}, or move {where} away to start an empty one on {wanted}"
    )


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


def default_env_dir(data_home: Path | None = None) -> Path:
    """The per-user virtual environment used when no environment is named."""
    base = data_home or Path.home() / ".local" / "share"
    return base / "newscorpus" / f"label-studio-{LS_VERSION}"


def _create_env(env: Path) -> None:
    """Create a virtual environment with Label Studio (uv when available, else venv + pip)."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    try:
        if Path(uv).is_file():
            subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(env)], check=True)
            py = env / "bin" / "python"
            subprocess.run(
                [uv, "pip", "install", "-q", "-p", str(py), LS_REQUIREMENT, GUNICORN_REQUIREMENT],
                check=True,
            )
        else:
            subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
            pip = [str(env / "bin" / "python"), "-m", "pip", "install", "-q"]
            subprocess.run(
                [*pip, "--disable-pip-version-check", LS_REQUIREMENT, GUNICORN_REQUIREMENT],
                check=True,
            )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise StudioError(f"{env}: could not install {LS_REQUIREMENT} ({exc})") from None


def label_studio_executable(env: Path | None = None, data_home: Path | None = None) -> Path:
    """The `label-studio` program to run, installing it into its own environment if needed."""
    if env is None:
        on_path = shutil.which("label-studio")
        if on_path:
            return Path(on_path).absolute()  # PATH may hold a relative folder
    # absolute: the server runs in the studio folder, where a relative path means another file
    env = (env if env is not None else default_env_dir(data_home)).absolute()
    exe = env / "bin" / "label-studio"
    if not exe.is_file():
        _create_env(env)
    if not exe.is_file():
        raise StudioError(f"{env}: no bin/label-studio after installing {LS_REQUIREMENT}")
    return exe


# --- private folders and the data of earlier versions ------------------------------------------

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
CHILD_UMASK = 0o077  # what Label Studio creates later (database journals, media, exports) is 0600


def _private_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make it 0700 (mkdir's mode alone obeys the umask)."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(path, PRIVATE_DIR)


def _make_private(root: Path) -> None:
    """Take group and other access away from every folder and file under ``root``."""
    for here, dirs, files in os.walk(root, followlinks=False):
        for name in [*dirs, *files]:
            p = Path(here) / name
            with contextlib.suppress(OSError):
                st = p.lstat()
                if not p.is_symlink() and st.st_mode & 0o077:
                    os.chmod(p, st.st_mode & 0o700)


def _has_files(root: Path) -> bool:
    """True when a file (not only empty folders) is somewhere under ``root``."""
    return any(files for _here, _dirs, files in os.walk(root, followlinks=False))


def nested_data_dirs(cfg: Config) -> list[Path]:
    """Data folders that earlier versions nested under the studio folder.

    They handed Label Studio ``<corpus>/.newscorpus/studio/data`` as given on the command line
    (``--corpus corpus``), relative to its working directory, the studio folder: the database
    went to ``<studio>/corpus/.newscorpus/studio/data/``.
    """
    folder = studio_dir(cfg)
    found: list[Path] = []
    for here, dirs, _files in os.walk(folder, followlinks=False):
        path = Path(here)
        if path == folder:
            dirs[:] = [d for d in dirs if d != "data"]  # the right place, not a nested one
        if path.parts[-3:] == (cfg.state_dir.name, "studio", "data"):
            found.append(path)
            dirs[:] = []
    return sorted(found)


def _remove_empty_tree(path: Path, stop: Path) -> None:
    """Remove the empty folders of ``path`` (bottom-up) and its empty parents up to ``stop``."""
    for here, _dirs, files in os.walk(path, topdown=False, followlinks=False):
        if not files:
            with contextlib.suppress(OSError):
                os.rmdir(here)
    parent = path.parent
    while parent != stop and stop in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def adopt_nested_data(cfg: Config) -> Path | None:
    """Move the data of a nested data folder (see ``nested_data_dirs``) to the right one.

    Moved, never copied or overwritten: StudioError when both places hold data. Returns the
    folder the data came from, or None when there was nothing to move.
    """
    folder, target = studio_dir(cfg), data_dir(cfg)
    nested = [p for p in nested_data_dirs(cfg) if _has_files(p)]
    if not nested:
        return None
    places = [*nested, *([target] if _has_files(target) else [])]
    if len(places) > 1:
        raise StudioError(
            f"Label Studio data in {len(places)} places ({', '.join(map(str, places))}): "
            f"keep one (move it to {target}) and remove the others; nothing was changed"
        )
    source = nested[0]
    if target.exists():
        _remove_empty_tree(target, folder)  # only empty folders: checked above
    try:
        os.replace(source, target)
    except OSError as exc:
        raise StudioError(
            f"{source}: could not move Label Studio's data to {target} "
            f"({exc.strerror or type(exc).__name__}); move it by hand"
        ) from None
    _remove_empty_tree(source.parent, folder)
    return source


# --- start / stop / status ------------------------------------------------------------------------


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on host:port (we can bind it). The connections of a server that
    was killed, left in TIME_WAIT, do not count: Label Studio's servers (Django's and gunicorn's)
    bind with SO_REUSEADDR too."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def healthy(url: str, timeout: float = 2.0) -> bool:
    """True when Label Studio answers /health with status UP."""
    try:
        r = httpx.get(f"{url}/health", timeout=timeout)
        if r.status_code != 200:
            return False
        data = orjson.loads(r.content)  # strict and depth-limited: anything may answer a port
    except (httpx.HTTPError, orjson.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("status") == "UP"


def _pid_path(cfg: Config) -> Path:
    return studio_dir(cfg) / "server.pid"


def _running_pid(cfg: Config) -> int | None:
    """The pid of the corpus's server, if it still runs; None for a pid reused by another program."""
    path = _pid_path(cfg)
    try:
        pid = int(path.read_text().strip())
        if pid <= 0:
            return None
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid  # no /proc (macOS): trust the pid file
    return pid if b"label-studio" in cmdline else None


# Django chmods every file its storage saves (uploads, exports) to FILE_UPLOAD_PERMISSIONS,
# 0644 by default, whatever the umask. Label Studio does not set it, so its program is run with
# Django's defaults made private first (when its interpreter can be found in its #! line).
PRIVATE_LAUNCH = (
    "import sys; from django.conf import global_settings as g; "
    "g.FILE_UPLOAD_PERMISSIONS = 0o600; g.FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700; "
    "sys.argv = ['label-studio', *sys.argv[1:]]; "
    "from label_studio.server import main; sys.exit(main())"
)


# With PostgreSQL, Label Studio is served by gunicorn: a master and WORKERS forked worker
# processes of THREADS threads each, in place of `label-studio start`'s Django development
# server (one process: one core under the GIL). `label-studio start` itself runs first, in the
# master, to do what it does before serving (migrations, the admin account and its token); its
# last step, serving, is handed to gunicorn, which forks the workers from the loaded Django app
# (``preload_app``; the master's database connections closed first: each worker opens its own,
# kept between requests, CONN_MAX_AGE, checked before reuse). Static files are served by Label
# Studio's own URL routes, as under the development server. SQLite stays on the development
# server: several writer processes on one SQLite file lock each other out ("database is locked").
GUNICORN_REQUIREMENT = "gunicorn==27.0.1"
WORKERS = 3
THREADS = 4
MAX_WORKERS = 32
CONN_MAX_AGE = 300  # seconds a worker thread keeps its PostgreSQL connection
WORKER_TIMEOUT = 600  # a push's import or a pull's page may take long: never kill a busy worker
PROC_NAME = "newscorpus-label-studio"
WORKER_LAUNCH = """\
import sys
from django.conf import global_settings as g
g.FILE_UPLOAD_PERMISSIONS = 0o600
g.FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
workers, threads, conn_max_age, timeout, name = sys.argv[1:6]
sys.argv = ['label-studio', *sys.argv[6:]]
import label_studio.server as ls
from gunicorn.app.base import BaseApplication


class LabelStudio(BaseApplication):
    def __init__(self, bind):
        self.bind = bind
        super().__init__()

    def load_config(self):
        for key, value in {
            'bind': [self.bind], 'workers': int(workers), 'threads': int(threads),
            'worker_class': 'gthread', 'preload_app': True, 'timeout': int(timeout),
            'graceful_timeout': 10, 'keepalive': 5, 'proc_name': name,
            'errorlog': '-', 'loglevel': 'warning', 'accesslog': None,
            'control_socket_disable': True, 'limit_request_line': 0,
        }.items():
            self.cfg.set(key, value)

    def load(self):
        from django.core.wsgi import get_wsgi_application
        return get_wsgi_application()


def serve(host, port):
    from django.db import connections
    for alias in connections:
        connections[alias].settings_dict['CONN_MAX_AGE'] = int(conn_max_age)
        connections[alias].settings_dict['CONN_HEALTH_CHECKS'] = True
    connections.close_all()  # the workers are forked: each opens its own
    LabelStudio(f'{host}:{port}').run()


ls._app_run = serve
sys.exit(ls.main())
"""


def _python_of(exe: Path) -> Path | None:
    """The interpreter in the #! line of ``exe`` (the label-studio script), if it is one."""
    try:
        with exe.open("rb") as fh:
            first = fh.readline(1000)
    except OSError:
        return None
    python = Path(first[2:].decode("utf-8", "replace").strip()) if first.startswith(b"#!") else None
    if python is None or " " in str(python) or not python.is_file() or "python" not in python.name:
        return None
    return python


def _launch(exe: Path) -> list[str]:
    """The command that runs ``exe`` (the label-studio script) with private file modes."""
    python = _python_of(exe)
    return [str(exe)] if python is None else [str(python), "-c", PRIVATE_LAUNCH]


def _worker_launch(exe: Path, workers: int, threads: int) -> list[str]:
    """The command that runs Label Studio under gunicorn (see WORKER_LAUNCH); StudioError when
    the environment of ``exe`` has no gunicorn."""
    python = _python_of(exe)
    env = exe.parent.parent
    if python is None:
        raise StudioError(
            f"{exe}: no Python interpreter in its #! line, needed to serve Label Studio with "
            "several workers (PostgreSQL)"
        )
    found = subprocess.run(
        [str(python), "-c", "import gunicorn"], capture_output=True, check=False, timeout=60
    )
    if found.returncode != 0:
        raise StudioError(
            f"{env}: gunicorn is not installed there (Label Studio on PostgreSQL is served by it): "
            f"run `make studio-env`, or install {GUNICORN_REQUIREMENT} into that environment"
        )
    return [str(python), "-c", WORKER_LAUNCH, str(workers), str(threads), str(CONN_MAX_AGE),
            str(WORKER_TIMEOUT), PROC_NAME]  # fmt: skip


def _server_env(
    creds: Credentials, data: Path, exe: Path, db: postgres.PgCredentials | None = None
) -> dict[str, str]:
    """A clean environment: only what Label Studio needs (it reads HOST, PORT, DEBUG...)."""
    env = {
        "PATH": f"{exe.parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(data.parent),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "LABEL_STUDIO_USERNAME": creds.email,
        "LABEL_STUDIO_PASSWORD": creds.password,
        "LABEL_STUDIO_USER_TOKEN": creds.token,
        "SECRET_KEY": creds.secret_key,
        **QUIET_ENV,
        **(db.label_studio_env() if db is not None else {}),
    }
    return env


@dataclass(frozen=True)
class Started:
    """What `studio start` reports: the URL, the admin e-mail, the credentials file."""

    url: str
    email: str
    credentials_file: Path
    already_running: bool
    database: str = "sqlite"
    database_port: int | None = None  # PostgreSQL's, on 127.0.0.1


@writes_corpus("studio start")
def start(
    cfg: Config,
    port: int | None = None,
    timeout: float = START_TIMEOUT,
    *,
    env: Path | None = None,
    data_home: Path | None = None,
    database: str | None = None,
    workers: int | None = None,
) -> Started:
    """Start the corpus's Label Studio on 127.0.0.1 and wait for /health; refuse a busy port.

    ``env``: the virtual environment Label Studio runs from; ``data_home``: where the per-user
    one is made when ``env`` is None and ``label-studio`` is not on PATH; ``database``: sqlite
    or postgresql (default ``[studio] database``, else the one the studio already has, else
    sqlite). With postgresql, the PostgreSQL server is
    started first, also when Label Studio already runs (a killed database comes back), and
    Label Studio is served by ``workers`` gunicorn worker processes (default WORKERS); SQLite
    by its one-process development server.
    """
    if port is not None and not 1 <= port <= 65535:
        raise UsageError(f"--port {port}: must be between 1 and 65535")
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"--workers {workers}: must be between 1 and {MAX_WORKERS}")
    if database is not None and database not in DATABASES:
        raise UsageError(f"--database {database[:40]}: must be one of {', '.join(DATABASES)}")
    adopt_nested_data(cfg)  # before anything changes: it may refuse
    asked = database if database is not None else cfg.studio.database
    in_use = database_in_use(cfg)
    wanted_db = asked or (in_use[0] if in_use else "sqlite")
    if workers is not None and wanted_db != "postgresql":
        raise UsageError(
            f"--workers {workers}: only with --database postgresql (several processes writing "
            "one SQLite file lock each other out: SQLite runs on one)"
        )
    _check_database(cfg, wanted_db)
    creds = load_credentials(cfg)
    pid = _running_pid(cfg)
    pg_was_running = postgres.running_pid(postgres_paths(cfg)) is not None
    if wanted_db == "postgresql":
        _private_dir(studio_dir(cfg))
    db = postgres.ensure_running(postgres_paths(cfg)) if wanted_db == "postgresql" else None
    if creds and pid and healthy(creds.url):
        return Started(
            creds.url, creds.email, credentials_path(cfg), True, wanted_db, db.port if db else None
        )
    try:
        return _start_label_studio(
            cfg, creds, port, timeout, env, data_home, db, workers or WORKERS
        )
    except BaseException:
        if db is not None and not pg_was_running:
            postgres.stop(postgres_paths(cfg))  # started for this Label Studio only
        raise


def _start_label_studio(
    cfg: Config,
    creds: Credentials | None,
    port: int | None,
    timeout: float,
    env: Path | None,
    data_home: Path | None,
    db: postgres.PgCredentials | None,
    workers: int = WORKERS,
) -> Started:
    _reap_group(cfg)  # the workers of a server whose master was killed hold its port
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
    folder = studio_dir(cfg)
    _private_dir(folder)
    data = data_dir(cfg)
    _private_dir(data)
    _make_private(folder)
    with contextlib.suppress(OSError):
        os.chmod(credentials_path(cfg), PRIVATE_FILE)
    exe = label_studio_executable(env, data_home)
    log_path = folder / "server.log"
    served = _launch(exe) if db is None else _worker_launch(exe, workers, THREADS)
    cmd = [
        *served,
        "start",
        "--data-dir",
        str(data),
        "--no-browser",
        "--internal-host",
        HOST,
        "--port",
        str(wanted),
        "--enable-legacy-api-token",
        "--log-level",
        "WARNING",
    ]
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    with os.fdopen(fd, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            env=_server_env(creds, data, exe, db),
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=CHILD_UMASK,
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
            return Started(
                creds.url,
                creds.email,
                credentials_path(cfg),
                False,
                "sqlite" if db is None else "postgresql",
                db.port if db else None,
            )
        time.sleep(0.5)
    _terminate(proc.pid)
    raise StudioError(
        f"Label Studio did not answer {creds.url}/health in {timeout:.0f} s; see {log_path}"
    )


def _check_token(creds: Credentials) -> None:
    try:
        r = httpx.get(
            f"{creds.url}/api/current-user/whoami",
            headers={"Authorization": f"Token {creds.token}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise StudioError(f"{creds.url}/api/current-user/whoami: {type(exc).__name__}") from None
    if r.status_code != 200:
        raise StudioError(
            f"{creds.url}: the admin API token was refused (HTTP {r.status_code}); "
            "the data folder may come from another setup"
        )


def group_pids(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` that are Label Studio's (the server's master
    and its workers: ``start_new_session`` made the master the group's leader), from /proc."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (d / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        ours = b"label-studio" in cmd or fields[0] in ("Z", "X")  # a zombie's cmdline is empty
        if len(fields) > 2 and int(fields[2]) == pgid and ours and _live(d):
            found.append(int(d.name))
    return sorted(found)


def _live(proc: Path) -> bool:
    """True while one of the process's threads runs: a killed worker whose first thread is a
    zombie still holds its sockets (the listening one too) until its other threads are gone."""
    try:
        tasks = list((proc / "task").iterdir())
    except OSError:
        return False
    for task in tasks:
        try:
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            return True
    return False


def _reap_group(cfg: Config) -> bool:
    """Kill what is left of the group of the server named in the pid file once its master is
    gone (orphaned workers still holding the port); True when there was something."""
    try:
        pgid = int(_pid_path(cfg).read_text().strip())
    except (OSError, ValueError):
        return False
    if pgid <= 0 or _running_pid(cfg) is not None:
        return False
    left = group_pids(pgid)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while left and group_pids(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return bool(left)


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


@writes_corpus("studio stop")
def stop(cfg: Config) -> bool:
    """Stop the corpus's Label Studio, then its PostgreSQL; False when neither was running."""
    pid = _running_pid(cfg)
    if pid is not None:
        _terminate(pid)
    reaped = _reap_group(cfg)  # workers left by a master that was killed, or that outlived it
    with contextlib.suppress(OSError):
        _pid_path(cfg).unlink()
    pg_stopped = postgres.stop(postgres_paths(cfg))
    return pid is not None or reaped or pg_stopped


@dataclass(frozen=True)
class Status:
    """Whether the local server runs and answers, and where."""

    running: bool
    healthy: bool
    url: str | None
    pid: int | None
    database: str | None = None  # sqlite, postgresql, or None before the first start
    database_pid: int | None = None  # the PostgreSQL server's, when it runs
    database_port: int | None = None
    workers: tuple[int, ...] = ()  # the pids of the server's worker processes (PostgreSQL)


def status(cfg: Config) -> Status:
    """Is the corpus's Label Studio running and healthy, on which database?"""
    creds = load_credentials(cfg)
    pid = _running_pid(cfg)
    url = creds.url if creds else None
    found = database_in_use(cfg)
    db_pid = db_port = None
    if found and found[0] == "postgresql":
        paths = postgres_paths(cfg)
        db_pid = postgres.running_pid(paths)
        pg = postgres.load_credentials(paths)
        db_port = pg.port if pg else None
    return Status(
        pid is not None,
        bool(url and pid and healthy(url)),
        url,
        pid,
        found[0] if found else None,
        db_pid,
        db_port,
        tuple(p for p in group_pids(pid) if p != pid) if pid is not None else (),
    )
