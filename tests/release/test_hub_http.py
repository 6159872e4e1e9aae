"""The Hub path over HTTP: huggingface_hub talks to a local server (HF_ENDPOINT on 127.0.0.1)
that implements the few Hub endpoints a release uses: create repo, validate-yaml, preupload,
commit (NDJSON), tag, refs, tree and resolve. Every file is sent inline ("regular" upload mode);
LFS and Xet uploads are not emulated.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from newscorpus.errors import ReleaseError
from newscorpus.release.publish import make_release
from tests.release.helpers import build_corpus

TOKEN = "hf_SyntheticHttpTokenForTests0123456789ab"
REPO = r"/(?:api/)?datasets/([^/]+/[^/]+)"


@dataclass
class Repo:
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class HubServer:
    url: str = ""
    repos: dict[str, Repo] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


def _handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if not isinstance(body, bytes):
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"error": "bad token"})
                return False
            return True

        def _repo(self, repo_id: str) -> Repo | None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            return repo

        def do_POST(self) -> None:
            path = unquote(urlsplit(self.path).path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hub.log.append(f"POST {path}")
            if not self._authorised():
                return
            if path == "/api/repos/create":
                j = json.loads(body)
                repo_id = f"{j['organization']}/{j['name']}"
                if repo_id in hub.repos:
                    return self._send(
                        409,
                        {
                            "error": "You already created this repo",
                            "url": f"{hub.url}/datasets/{repo_id}",
                        },
                    )
                hub.repos[repo_id] = Repo()
                return self._send(200, {"url": f"{hub.url}/datasets/{repo_id}"})
            if path == "/api/validate-yaml":
                return self._send(200, {"errors": [], "warnings": []})
            m = re.fullmatch(REPO + r"/(preupload|commit|tag)/(.+)", path)
            if not m or (repo := self._repo(m.group(1))) is None:
                return self._send(404, {"error": "unknown"}) if not m else None
            kind = m.group(2)
            if kind == "preupload":
                files = json.loads(body)["files"]
                return self._send(
                    200,
                    {
                        "files": [
                            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                            for f in files
                        ]
                    },
                )
            if kind == "commit":
                lines = [json.loads(x) for x in body.splitlines() if x.strip()]
                for item in lines:
                    v = item["value"]
                    if item["key"] == "file":
                        repo.files[v["path"]] = base64.b64decode(v["content"])
                    elif item["key"] == "deletedFile":
                        repo.files.pop(v["path"], None)
                    elif item["key"] != "header":
                        return self._send(400, {"error": f"not emulated: {item['key']}"})
                oid = hashlib.sha1(body).hexdigest()
                repo.commits.append(oid)
                return self._send(
                    200,
                    {
                        "commitOid": oid,
                        "commitUrl": f"{hub.url}/datasets/{m.group(1)}/commit/{oid}",
                    },
                )
            j = json.loads(body)
            if j["tag"] in repo.tags:
                return self._send(409, {"error": "tag exists"})
            repo.tags[j["tag"]] = m.group(3)
            return self._send(200, {})

        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            hub.log.append(f"{self.command} {path}")
            if not self._authorised():
                return
            m = re.fullmatch(REPO + r"/(refs|tree/[^/]+.*|resolve/([^/]+)/(.+))", path)
            if not m or (repo := self._repo(m.group(1))) is None:
                return self._send(404, {"error": "unknown"}) if not m else None
            head = repo.commits[-1] if repo.commits else "0" * 40
            if m.group(2) == "refs":
                tags = [
                    {"name": t, "ref": f"refs/tags/{t}", "targetCommit": c}
                    for t, c in repo.tags.items()
                ]
                main = {"name": "main", "ref": "refs/heads/main", "targetCommit": head}
                return self._send(200, {"branches": [main], "tags": tags, "converts": []})
            if m.group(2).startswith("tree/"):
                items = [
                    {"type": "file", "path": p, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                    for p, b in sorted(repo.files.items())
                ]
                return self._send(200, items)
            data = repo.files.get(m.group(4))
            if data is None:
                return self._send(404, {"error": "no file"}, {"X-Error-Code": "EntryNotFound"})
            etag = hashlib.sha1(data).hexdigest()
            return self._send(200, data, {"X-Repo-Commit": head, "ETag": f'"{etag}"'})

        do_HEAD = do_GET

    return Handler


@pytest.fixture
def hub_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    hub = HubServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    try:
        yield hub
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_release_to_a_hub_over_http(hub_server: HubServer, tmp_path: Path) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=12)
    r = make_release(cfg, version="1.0.0", hub="synthetic-org/news")
    repo = hub_server.repos["synthetic-org/news"]
    assert r.hub_commit == repo.commits[0] and len(repo.commits) == 1
    assert repo.tags == {"v1.0.0": repo.commits[0]}
    manifest = json.loads(repo.files["manifest.json"])
    for path, digest in manifest["files"].items():
        assert hashlib.sha256(repo.files[path]).hexdigest() == digest
    commits = [x for x in hub_server.log if "/commit/" in x]
    assert commits == ["POST /api/datasets/synthetic-org/news/commit/main"]
    assert TOKEN.encode() not in b"".join(repo.files.values())

    with pytest.raises(ReleaseError, match=r"tag v1\.0\.0 exists on the Hub"):
        make_release(cfg, version="1.0.0", hub="synthetic-org/news")
    assert len(repo.commits) == 1

    r = make_release(cfg, bump="minor", hub="synthetic-org/news")
    assert r.version == "1.1.0" and set(repo.tags) == {"v1.0.0", "v1.1.0"}
    second = json.loads(repo.files["manifest.json"])
    assert second["split_assignment"] == {"kept": 12, "new": 0}  # read back over HTTP
    assert {a: v["split"] for a, v in second["articles"].items()} == {
        a: v["split"] for a, v in manifest["articles"].items()
    }
    assert (
        "changes/v1.0.0.json" in repo.files and "## v1.0.0" in repo.files["CHANGELOG.md"].decode()
    )
