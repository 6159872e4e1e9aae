"""A real HTTP server on loopback serving fixture pages, feeds, sitemaps and misbehaving URLs."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from newscorpus.config import Config, replace_gather
from newscorpus.gather import executor

# processes started by a test are found by a marker in their environment (tests/conftest.py)
from tests.conftest import MINIMAL_TOML, RUN_MARKER, marked_pids, write_corpus

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><title>&lol4;</title>
<item><link>http://127.0.0.1/articles/en_fentanyl_labs.html</link></item></channel></rss>
"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&xxe;</title></channel></rss>
"""


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    ctype: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    fail_first: int = 0  # answer ``fail_status`` to the first N requests
    fail_status: int = 500
    fail_headers: dict[str, str] = field(default_factory=dict)
    stream: int = 0  # write this many bytes without Content-Length


class LocalServer:
    """ThreadingHTTPServer on 127.0.0.x with a route table and a request log."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[tuple[str, dict[str, str]]] = []
        self.hits: dict[str, int] = {}
        self.streamed: dict[str, int] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                path = self.path
                with server.lock:
                    server.log.append((path, {k.lower(): v for k, v in self.headers.items()}))
                    n = server.hits[path] = server.hits.get(path, 0) + 1
                route = server.routes.get(path) or server.routes.get(path.split("?", 1)[0])
                if route is None:
                    return self._send(404, b"not found", "text/plain", {})
                if route.delay:
                    time.sleep(route.delay)
                if n <= route.fail_first:
                    return self._send(route.fail_status, b"busy", "text/plain", route.fail_headers)
                etag = route.headers.get("ETag")
                if etag and self.headers.get("If-None-Match") == etag:
                    return self._send(304, b"", None, {"ETag": etag})
                if route.stream:
                    return self._stream(path, route)
                self._send(route.status, route.body, route.ctype, route.headers)

            def _send(
                self, status: int, body: bytes, ctype: str | None, headers: dict[str, str]
            ) -> None:
                try:
                    self.send_response(status)
                    if ctype:
                        self.send_header("Content-Type", ctype)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _stream(self, path: str, route: Route) -> None:
                self.close_connection = True
                sent = 0
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", route.ctype or "text/html")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    chunk = b"<p>" + b"x" * 65530 + b"</p>"
                    while sent < route.stream:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server.lock:
                        server.streamed[path] = sent

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, **kw: object) -> str:
        self.routes[path] = Route(**kw)  # type: ignore[arg-type]
        return self.url(path)

    def page(self, path: str, fixture: str, **kw: object) -> str:
        return self.add(path, body=(FIXTURES / fixture).read_bytes(), **kw)

    def requested(self, path: str) -> int:
        return self.hits.get(path, 0)

    def start(self) -> LocalServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def rss(links: list[str]) -> bytes:
    items = "".join(f"<item><title>t</title><link>{escape(u)}</link></item>" for u in links)
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Synthetic</title>'
        f"{items}</channel></rss>"
    ).encode()


def atom(links: list[str]) -> bytes:
    entries = "".join(
        f'<entry><title>t</title><link rel="alternate" href="{escape(u)}"/><id>{escape(u)}</id></entry>'
        for u in links
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Synthetic</title>{entries}</feed>"
    ).encode()


def sitemap(links: list[str], index: bool = False, news: bool = False) -> bytes:
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    if news:
        ns += ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
    tag = "sitemap" if index else "url"
    extra = (
        "<news:news><news:publication><news:name>Synthetic</news:name><news:language>es"
        "</news:language></news:publication><news:title>t</news:title></news:news>"
        if news
        else ""
    )
    body = "".join(f"<{tag}><loc>{escape(u)}</loc>{extra}</{tag}>" for u in links)
    root = "sitemapindex" if index else "urlset"
    return f'<?xml version="1.0" encoding="UTF-8"?><{root} {ns}>{body}</{root}>'.encode()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer().start()
    srv.add("/robots.txt", body=b"User-agent: *\nDisallow: /private/\n", ctype="text/plain")
    yield srv
    srv.stop()


GATHER_TOML = """
[gather]
allow_hosts = [{allow}]
max_bytes = {max_bytes}
concurrency = 4
per_host_concurrency = 4
per_host_delay = {delay}
timeout = {timeout}
retries = {retries}
user_agent = "newscorpus-test/0.1 (tests)"
"""


def source_toml(name: str, kind: str, where: str) -> str:
    key = "url" if where.startswith("http") else "path"
    return f'\n[[sources]]\nname = "{name}"\nkind = "{kind}"\n{key} = "{where}"\n'


@pytest.fixture
def make_corpus(tmp_path: Path) -> Callable[..., Path]:
    """A corpus folder with the given sources and a [gather] table for the local server."""
    counter = iter(range(1000))

    def make(
        sources: list[tuple[str, str, str]],
        allow: list[str] | None = None,
        max_bytes: int = 300_000,
        timeout: float = 1.0,
        retries: int = 1,
        name: str | None = None,
        delay: float = 0.0,
    ) -> Path:
        root = tmp_path / (name or f"corpus{next(counter)}")
        toml = MINIMAL_TOML + "".join(source_toml(*s) for s in sources)
        toml += GATHER_TOML.format(
            allow=", ".join(f'"{a}"' for a in (allow or [])),
            max_bytes=max_bytes,
            timeout=timeout,
            retries=retries,
            delay=delay,
        )
        return write_corpus(root, toml)

    return make


def allowing(cfg: Config, *hosts: str) -> Config:
    """``cfg`` with more allowed hosts, as ``--allow-host`` adds them (cli.gather_overrides)."""
    return replace_gather(cfg, allow_hosts=(*cfg.gather.allow_hosts, *hosts))


@pytest.fixture(autouse=True)
def _two_worker_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run the real process pool with two workers (kept small to stay fast): the CLI
    through NEWSCORPUS_WORKERS, library calls through the default of [gather] workers."""
    workers = os.environ.get("NEWSCORPUS_WORKERS", "2")
    monkeypatch.setenv("NEWSCORPUS_WORKERS", workers)
    monkeypatch.setattr(executor, "default_workers", lambda: int(workers))


# --- a real Ray cluster on this machine: a head and a worker node, one per test session -----------

RAY = Path(sys.executable).parent / "ray"  # the venv's `ray` script (the ray extra)
# Two loopback addresses for the two nodes, as two machines would have. Not 127.0.0.1: Ray 2.60
# replaces a "localhost" address (127.0.0.1, ::1) by the default route's (resolve_ip_for_localhost).
HEAD_IP, WORKER_IP = "127.0.0.5", "127.0.0.6"


@dataclass
class RayCluster:
    """A head node and a worker node started by the tests (1 CPU each), each with its own Ray
    temp folder and its own marker in the environment of the processes it starts. A node is
    stopped by killing its processes, and only those: the ones carrying its marker or holding a
    file open in its temp folder (Ray's agents rewrite their environment with their title)."""

    address: str
    temp: Path
    markers: dict[str, str]  # "head" / "worker" -> marker
    worker_alive: bool = False

    def env(self, node: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        env.update({"RAY_USAGE_STATS_ENABLED": "0", RUN_MARKER: self.markers[node]})
        env["RAY_AUTH_MODE"] = "disabled"  # not a token a local instance left in ~/.ray
        return env

    @property
    def worker_marker(self) -> str:
        return self.markers["worker"]

    def start_worker(self) -> None:
        args = ["start", f"--address={self.address}", f"--node-ip-address={WORKER_IP}"]
        args += ["--num-cpus=1", "--disable-usage-stats", f"--temp-dir={self.temp / 'worker'}"]
        _ray_cli(args, self.env("worker"))
        self.worker_alive = True

    def pids(self, node: str) -> set[int]:
        """The live processes of one node."""
        folder = str(self.temp / node) + "/"
        found = set(marked_pids(self.markers[node]))
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) in found or int(d.name) == os.getpid():
                continue
            try:
                links = [os.readlink(f) for f in (d / "fd").iterdir()]
            except OSError:
                continue
            if any(link.startswith(folder) for link in links):
                found.add(int(d.name))
        return found

    def kill(self, node: str) -> None:
        """SIGKILL every process of ``node`` ("head" or "worker"), by pid."""
        for _ in range(50):  # a dying raylet may still be starting workers
            pids = self.pids(node)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        if node == "worker":
            self.worker_alive = False


def _ray_cli(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(RAY), *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"ray {args[0]} failed: {done.stderr[-2000:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def _ray_session() -> Iterator[RayCluster]:
    """`ray start --head` and `ray start --address` on 127.0.0.1 (usage stats off), once per
    session; stopped at the end by killing the nodes' own processes (`ray stop` would stop
    every Ray process of the machine, not only ours)."""
    import secrets
    import tempfile

    temp = Path(tempfile.mkdtemp(prefix="nc-ray-"))  # short: Ray's socket paths have a limit
    port = free_port()
    markers = {"head": secrets.token_hex(8), "worker": secrets.token_hex(8)}
    cluster = RayCluster(address=f"{HEAD_IP}:{port}", temp=temp, markers=markers)
    try:
        args = ["start", "--head", f"--node-ip-address={HEAD_IP}", f"--port={port}"]
        args += ["--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats"]
        _ray_cli([*args, f"--temp-dir={temp / 'head'}"], cluster.env("head"))
        cluster.start_worker()
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            import ray

            if ray.is_initialized():
                ray.shutdown()
        cluster.kill("worker")
        cluster.kill("head")
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def ray_cluster(_ray_session: RayCluster, monkeypatch: pytest.MonkeyPatch) -> RayCluster:
    """The session's Ray cluster, its worker node started again if a test killed it."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # as its nodes (RayCluster.env)
    if not _ray_session.worker_alive:
        _ray_session.start_worker()
    return _ray_session
