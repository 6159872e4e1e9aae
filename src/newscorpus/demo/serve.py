"""A local HTTP server for the bundled sample sources: the demo's stand-in for the web.

``/feed.xml`` is ``samples/feed.xml``; every other path is a file under ``samples/site/`` (the
pages, and ``seed/urls.txt``, the URL list of the demo's ``seed`` source). Pages, the feed and the
URL list hold ``{BASE}`` placeholders, replaced at serve time by the server's own
``http://127.0.0.1:PORT``, so links and canonical URLs point back at it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import UsageError

SAMPLES = Path(__file__).resolve().parent / "samples"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/rss+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


class _Handler(BaseHTTPRequestHandler):
    server_version = "newscorpus-demo"

    def __init__(self, *args: object, root: Path, **kw: object) -> None:
        self.root = root
        super().__init__(*args, **kw)  # type: ignore[arg-type]

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the demo prints its own account of what happened."""

    def do_GET(self) -> None:
        rel = unquote(urlsplit(self.path).path).lstrip("/") or "feed.xml"
        if rel == "robots.txt":
            self._send(200, b"User-agent: *\nAllow: /\n", TYPES[".txt"])
            return
        if rel in ("rss.xml", "feed.xml"):
            path = (self.root / "feed.xml").resolve()
        else:
            path = (self.root / "site" / rel).resolve()
        if self.root not in path.parents or not path.is_file():
            self._send(404, b"not found", TYPES[".txt"])
            return
        body = path.read_bytes()
        port = self.server.server_port  # type: ignore[attr-defined]
        base = f"http://127.0.0.1:{port}".encode()
        if path.suffix in TYPES:
            body = body.replace(b"{BASE}", base)
        self._send(200, body, TYPES.get(path.suffix, "application/octet-stream"))

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve_samples(port: int = 0, root: Path = SAMPLES) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1:port (0 = any free port) and yield the base URL."""
    try:
        httpd = ThreadingHTTPServer(("127.0.0.1", port), partial(_Handler, root=root.resolve()))
    except OSError as exc:
        raise UsageError(
            f"127.0.0.1:{port}: cannot serve the demo samples: {exc.strerror}"
        ) from None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
