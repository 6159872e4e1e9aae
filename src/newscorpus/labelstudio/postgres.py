"""A PostgreSQL server for the local Label Studio (`studio start --database postgresql`).

Debian's ``postgresql`` package (``make system-deps``) provides the programs; the cluster is
initialised by newscorpus in ``<corpus>/.newscorpus/studio/postgres/`` (0700), its log is
``<corpus>/.newscorpus/studio/postgres.log`` (0600), it listens on 127.0.0.1 only, on a free port
chosen at the first start and kept (its unix socket sits in the cluster folder when the path is
short enough for one), and its login (a generated password for the ``newscorpus`` superuser and
the ``label_studio`` database) is kept in ``<corpus>/.newscorpus/postgres.json`` (0600), never
printed. Label Studio is pointed at it through its own settings (``DJANGO_DB``, ``POSTGRE_*``).

PostgreSQL refuses to run as root. As root, its programs run in a user namespace of their own
(``unshare --user``): PostgreSQL sees itself as an unprivileged user while its files stay the
root-owned, private files of the corpus (no account to create, no folder to open up). Where user
namespaces are not allowed (a container's seccomp profile), they run as the unprivileged account
``newscorpus-pg`` (``make system-deps`` creates it) or else ``nobody``, owning the cluster folder;
that needs every folder above the corpus to be open to it (``o+x``), and is refused in one line
when one is not.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import BinaryIO

from ..errors import StudioError
from ..store import atomic_write_text

HOST = "127.0.0.1"
USER = "newscorpus"  # the cluster's superuser, the one Label Studio logs in as
DATABASE = "label_studio"
START_TIMEOUT = 60.0
STOP_GRACE = 30.0
FALLBACK_USERS = ("newscorpus-pg", "nobody")  # as root without user namespaces
SOCKET_PATH_MAX = 107  # sun_path holds 108 bytes with its NUL
PRIVATE_DIR = 0o700
CHILD_UMASK = 0o077


@dataclass(frozen=True)
class PgCredentials:
    """Where the corpus's PostgreSQL listens and how Label Studio logs in; ``repr`` hides the password."""

    port: int
    user: str
    password: str
    database: str

    def __repr__(self) -> str:
        return f"PgCredentials(port={self.port}, user={self.user!r}, database={self.database!r})"

    def label_studio_env(self) -> dict[str, str]:
        """Label Studio 1.23's own database settings (core/settings/base.py, label_studio.py)."""
        return {
            "DJANGO_DB": "default",  # DATABASES_ALL['default'] is the postgresql entry
            "POSTGRE_NAME": self.database,
            "POSTGRE_USER": self.user,
            "POSTGRE_PASSWORD": self.password,
            "POSTGRE_HOST": HOST,
            "POSTGRE_PORT": str(self.port),
        }


@dataclass(frozen=True)
class PgPaths:
    """The cluster folder, its log and the credentials file (absolute paths)."""

    cluster: Path
    log: Path
    credentials: Path

    @property
    def initialised(self) -> bool:
        return (self.cluster / "PG_VERSION").is_file()


# --- credentials --------------------------------------------------------------------------------


def load_credentials(paths: PgPaths) -> PgCredentials | None:
    """The cluster's credentials, or None before its first start."""
    if not paths.credentials.is_file():
        return None
    try:
        data = json.loads(paths.credentials.read_text(encoding="utf-8"))
        return PgCredentials(**data)
    except (ValueError, TypeError) as exc:
        raise StudioError(
            f"{paths.credentials}: unreadable credentials file ({exc.__class__.__name__})"
        ) from None


def _save_credentials(paths: PgPaths, creds: PgCredentials) -> None:
    data = {
        "port": creds.port,
        "user": creds.user,
        "password": creds.password,
        "database": creds.database,
    }
    atomic_write_text(paths.credentials, json.dumps(data, indent=2) + "\n", mode=0o600)


def free_port() -> int:
    """A port nothing listens on at 127.0.0.1 now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _port_is_free(port: int) -> bool:
    """Nothing listens on the port (connections of the last server in TIME_WAIT do not count:
    PostgreSQL binds with SO_REUSEADDR too, and a killed server leaves them behind)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


# --- the programs -------------------------------------------------------------------------------


def find_bindir() -> Path:
    """The folder of PostgreSQL's programs: Debian's newest /usr/lib/postgresql/<ver>/bin, else PATH."""
    versions: list[tuple[int, Path]] = []
    base = Path("/usr/lib/postgresql")
    if base.is_dir():
        for d in base.iterdir():
            if d.name.isdigit() and (d / "bin" / "postgres").is_file():
                versions.append((int(d.name), d / "bin"))
    if versions:
        return max(versions)[1]
    on_path = shutil.which("postgres")
    if on_path and Path(on_path).with_name("initdb").is_file():
        return Path(on_path).resolve().parent
    raise StudioError(
        "PostgreSQL not found (no /usr/lib/postgresql/<version>/bin/postgres, no postgres on PATH): "
        "install Debian's postgresql package (`make system-deps`)"
    )


def _major(bindir: Path) -> str:
    out = subprocess.run(
        [str(bindir / "postgres"), "-V"], capture_output=True, text=True, check=False
    ).stdout
    m = re.search(r"\b(\d+)(?:\.\d+)*", out)
    return m.group(1) if m else ""


@dataclass(frozen=True)
class _RunAs:
    """How PostgreSQL's programs are run: a command prefix, or an account to switch to."""

    prefix: tuple[str, ...] = ()
    uid: int | None = None
    gid: int | None = None
    name: str = field(default="")

    @property
    def extra_groups(self) -> list[int] | None:
        return None if self.uid is None else []  # root's supplementary groups dropped


@cache
def _userns_works() -> bool:
    unshare = shutil.which("unshare")
    if not unshare:
        return False
    try:
        r = subprocess.run(
            [unshare, "--user", "--", "true"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


def _run_as() -> _RunAs:
    """Ourselves; as root, a user namespace, else an unprivileged account."""
    if os.geteuid() != 0:
        return _RunAs()
    if _userns_works():
        return _RunAs(prefix=(str(shutil.which("unshare")), "--user", "--"))
    for name in FALLBACK_USERS:
        with contextlib.suppress(KeyError):
            pw = pwd.getpwnam(name)
            return _RunAs(uid=pw.pw_uid, gid=pw.pw_gid, name=name)
    raise StudioError(
        "PostgreSQL does not run as root, user namespaces are not allowed here and there is no "
        f"{' or '.join(FALLBACK_USERS)} account: run newscorpus as another user"
    )


def _hand_over(path: Path, who: _RunAs) -> None:
    """Give ``path`` (and what is under it) to the account PostgreSQL runs as, if it is another."""
    if who.uid is None or who.gid is None:
        return
    os.chown(path, who.uid, who.gid, follow_symlinks=False)
    for here, dirs, files in os.walk(path):
        os.chown(here, who.uid, who.gid)
        for name in [*dirs, *files]:
            os.chown(Path(here) / name, who.uid, who.gid, follow_symlinks=False)


def _reachable(path: Path, who: _RunAs) -> None:
    """StudioError naming the first folder above ``path`` the account cannot pass through."""
    if who.uid is None:
        return
    for parent in reversed(path.parents):
        st = parent.stat()
        can = (
            (st.st_uid == who.uid and st.st_mode & 0o100)
            or (st.st_gid == who.gid and st.st_mode & 0o010)
            or st.st_mode & 0o001
        )
        if not can:
            raise StudioError(
                f"{parent}: closed to {who.name}, the account PostgreSQL runs as here (as root, "
                "without user namespaces); open it (chmod o+x) or run newscorpus as another user"
            )


def _run(cmd: Sequence[str], who: _RunAs, log: Path, stdin: str | None = None) -> None:
    """Run one of PostgreSQL's programs to its end, its output appended to the log."""
    with _log_file(log) as out:
        r = subprocess.run(
            [*who.prefix, *cmd],
            input=stdin.encode() if stdin is not None else None,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(),
            umask=CHILD_UMASK,
            check=False,
            user=who.uid,
            group=who.gid,
            extra_groups=who.extra_groups,
        )
    if r.returncode != 0:
        raise StudioError(
            f"PostgreSQL's {Path(cmd[0]).name} failed (code {r.returncode}): {_last_error(log)}; "
            f"see {log}"
        )


def _env() -> dict[str, str]:
    """A clean environment (no PG* variable of the caller's reaches the server)."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


@contextlib.contextmanager
def _log_file(log: Path) -> Iterator[BinaryIO]:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "ab") as fh:
        yield fh


def _last_error(log: Path) -> str:
    """The log's last FATAL/ERROR/error line (one line), or its last line."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
    except OSError:
        return "no log"
    for line in reversed(lines):
        if re.search(r"\b(FATAL|PANIC|ERROR|error)\b", line):
            return line.strip()[:300]
    return (lines[-1].strip()[:300] if lines else "no output") or "no output"


# --- init / start / stop ------------------------------------------------------------------------


def _init(paths: PgPaths, creds: PgCredentials, bindir: Path, who: _RunAs) -> None:
    """initdb (scram-sha-256 for every connection) and the Label Studio database."""
    cluster = paths.cluster
    if cluster.exists() and any(cluster.iterdir()):
        raise StudioError(
            f"{cluster}: not empty and not a PostgreSQL cluster (no PG_VERSION); move it away"
        )
    cluster.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    os.chmod(cluster, PRIVATE_DIR)
    pwfile = cluster.parent / f".pgpass-{secrets.token_hex(4)}"
    try:
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(creds.password + "\n")
        _hand_over(cluster, who)
        _hand_over(pwfile, who)
        _reachable(cluster, who)
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(cluster),
                "-U",
                creds.user,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-instructions",
            ],
            who,
            paths.log,
        )
        sql = f'CREATE DATABASE "{creds.database}" OWNER "{creds.user}";\n'
        _run(
            [str(bindir / "postgres"), "--single", "-D", str(cluster), "postgres"],
            who,
            paths.log,
            sql,
        )
    except BaseException:
        shutil.rmtree(cluster, ignore_errors=True)  # a half-made cluster: the next start redoes it
        raise
    finally:
        with contextlib.suppress(OSError):
            pwfile.unlink()


def _postmaster(paths: PgPaths) -> tuple[int, str] | None:
    """The pid and status ("ready", "starting", ...) in postmaster.pid, if a postgres runs it."""
    try:
        lines = (paths.cluster / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    if pid <= 0 or not _is_postgres(pid):
        return None
    return pid, (lines[7].strip() if len(lines) > 7 else "")


def _is_postgres(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True  # no /proc (macOS): trust the pid file
    return b"postgres" in cmd and state not in ("Z", "X")


def running_pid(paths: PgPaths) -> int | None:
    """The postmaster's pid when the cluster's server runs."""
    found = _postmaster(paths)
    return found[0] if found else None


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((HOST, port)) == 0


def ensure_running(paths: PgPaths, timeout: float = START_TIMEOUT) -> PgCredentials:
    """Initialise the cluster on first use and start its server unless it runs; its credentials.

    A server killed without a clean shutdown leaves postmaster.pid behind: a pid file whose
    process is gone (or is another program) is removed and the server started again (PostgreSQL
    replays its journal).
    """
    creds = load_credentials(paths)
    if creds is None and paths.initialised:
        raise StudioError(
            f"{paths.credentials}: missing, but the PostgreSQL cluster {paths.cluster} was made "
            "with the password it held: put it back, or move the cluster away to start empty"
        )
    if creds is None:
        creds = PgCredentials(free_port(), USER, secrets.token_urlsafe(24), DATABASE)
        _save_credentials(paths, creds)
    found = _postmaster(paths)
    if found and found[1] == "ready" and _accepts(creds.port):
        return creds
    bindir = find_bindir()
    who = _run_as()
    if not paths.initialised:
        _init(paths, creds, bindir, who)
    else:
        have, want = (paths.cluster / "PG_VERSION").read_text().strip(), _major(bindir)
        if want and have != want:
            raise StudioError(
                f"{paths.cluster}: a PostgreSQL {have} cluster, but the programs found are "
                f"PostgreSQL {want} ({bindir}); install postgresql-{have} or upgrade the cluster"
            )
    if found is None:
        with contextlib.suppress(FileNotFoundError):
            (paths.cluster / "postmaster.pid").unlink()  # stale: its process is gone
        if not _port_is_free(creds.port):
            creds = PgCredentials(free_port(), creds.user, creds.password, creds.database)
            _save_credentials(paths, creds)
        _reachable(paths.cluster, who)
        proc = _launch(paths, creds, bindir, who)
    else:
        proc = None  # started by someone else a moment ago: wait for it
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StudioError(
                f"PostgreSQL exited with code {proc.returncode} during start: "
                f"{_last_error(paths.log)}; see {paths.log}"
            )
        now = _postmaster(paths)
        if now and now[1] == "ready" and _accepts(creds.port):
            return creds
        time.sleep(0.2)
    if proc is not None:
        terminate(proc.pid)
    raise StudioError(f"PostgreSQL did not get ready in {timeout:.0f} s; see {paths.log}")


def _launch(
    paths: PgPaths, creds: PgCredentials, bindir: Path, who: _RunAs
) -> subprocess.Popen[bytes]:
    socket_dir = str(paths.cluster)
    if len(f"{socket_dir}/.s.PGSQL.{creds.port}".encode()) > SOCKET_PATH_MAX:
        socket_dir = ""  # too long for a unix socket: TCP on 127.0.0.1 only
    cmd = [
        *who.prefix,
        str(bindir / "postgres"),
        "-D",
        str(paths.cluster),
        "-p",
        str(creds.port),
        "-c",
        f"listen_addresses={HOST}",
        "-c",
        f"unix_socket_directories={socket_dir}",
        "-c",
        "unix_socket_permissions=0700",
        "-c",
        "logging_collector=off",
        "-c",
        "log_min_messages=warning",
    ]
    with _log_file(paths.log) as out:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(),
            cwd=paths.cluster,
            start_new_session=True,
            umask=CHILD_UMASK,
            user=who.uid,
            group=who.gid,
            extra_groups=who.extra_groups,
        )


def terminate(pid: int, grace: float = STOP_GRACE) -> None:
    """Fast shutdown (SIGINT: clients disconnected, journal flushed), then SIGKILL of the group."""
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        if not _is_postgres(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, 0)


def stop(paths: PgPaths) -> bool:
    """Stop the cluster's server; False when it was not running."""
    pid = running_pid(paths)
    if pid is None:
        return False
    terminate(pid)
    return True
