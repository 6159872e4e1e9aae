"""The Hub path over HTTP: huggingface_hub talks to a local server (HF_ENDPOINT on 127.0.0.1)
that implements the few Hub endpoints a release uses: create repo, validate-yaml, preupload,
commit (NDJSON), tag, refs, tree and resolve. Every file is sent inline ("regular" upload mode);
LFS and Xet uploads are not emulated. An unreachable Hub is a closed port on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from newscorpus.errors import ReleaseError
from tests.conftest import is_lock_file
from tests.release.helpers import build_corpus, make_release, published_commits

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
    refuse_commits: bool = False
    refuse_tags: bool = False


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
            if kind == "commit" and hub.refuse_commits:  # echoes the token, as a careless proxy
                who = self.headers.get("Authorization")
                return self._send(403, {"error": f"Forbidden: {who} cannot write"})
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
            if hub.refuse_tags:
                return self._send(500, {"error": "Internal Error"})
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
    assert (
        published_commits(r) == {"synthetic-org/news": repo.commits[0]} and len(repo.commits) == 1
    )
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


def test_a_release_interrupted_before_its_tag_is_finished_by_rerunning_it(
    hub_server: HubServer, tmp_path: Path, cli: Any
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    hub_server.refuse_tags = True  # the commit lands, then the tag fails
    with pytest.raises(ReleaseError, match="publishing to the Hub failed"):
        make_release(cfg, version="1.0.0", hub="synthetic-org/news")
    repo = hub_server.repos["synthetic-org/news"]
    assert len(repo.commits) == 1 and repo.tags == {}
    hub_server.refuse_tags = False
    res = cli("--corpus", cfg.root, "release", "--bump", "minor", "--hub", "synthetic-org/news")
    assert res.exit_code != 0 and "no tag v1.0.0 (a release interrupted" in res.output
    assert "--version 1.0.0" in res.output and len(repo.commits) == 1 and repo.tags == {}
    res = cli("--corpus", cfg.root, "release", "--version", "1.0.0", "--hub", "synthetic-org/news")
    assert res.exit_code == 0, res.output
    assert "finished an interrupted release" in res.output
    assert repo.tags == {"v1.0.0": repo.commits[0]} and len(repo.commits) == 1  # no rebuild
    r = make_release(cfg, bump="minor", hub="synthetic-org/news")  # and on it goes
    assert r.version == "1.1.0" and set(repo.tags) == {"v1.0.0", "v1.1.0"}


def _closed_port() -> int:
    """A loopback port that nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes, git internals aside (checked through git)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts and not is_lock_file(p)
    }


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize("local", [True, False], ids=["with-local-repo", "hub-only"])
def test_unreachable_hub_fails_fast_in_one_line_and_leaves_nothing(
    tmp_path: Path, local: bool
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    repo = tmp_path / "repo"
    if local:  # a previous local release that must stay exactly as it is
        make_release(cfg, version="1.0.0", to=repo)
        head = _git(repo, "rev-parse", "HEAD")
    before = _snapshot(tmp_path)
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "NEWSCORPUS_"))}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_TOKEN=TOKEN,
        HF_HUB_DISABLE_XET="1",
        HF_HOME=str(tmp_path.parent / f"{tmp_path.name}-hf-home"),
    )
    args = ["--bump", "minor", "--to", str(repo)] if local else ["--version", "1.0.0"]
    cmd = [sys.executable, "-m", "newscorpus.cli", "--corpus", str(tmp_path / "corpus")]
    start = time.monotonic()
    proc = subprocess.run(
        [*cmd, "release", *args, "--hub", "synthetic-org/news"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - start
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert elapsed < 8, f"took {elapsed:.1f}s: {output}"
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"error: synthetic-org/news: cannot reach the Hub at {endpoint} "
        "(ConnectError: [Errno 111] Connection refused); nothing was changed"
    ]
    assert "Retry" not in output and "thrown while requesting" not in output
    assert TOKEN not in output
    assert _snapshot(tmp_path) == before
    if local:
        assert _git(repo, "rev-parse", "HEAD") == head
        assert _git(repo, "tag", "--list").split() == ["v1.0.0"]
        assert _git(repo, "status", "--porcelain") == ""
    else:
        assert not repo.exists()
    assert not list(tmp_path.glob(".newscorpus-release-*"))


def test_hub_refusing_the_commit_is_one_line_without_the_token(
    hub_server: HubServer, tmp_path: Path
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    hub_server.refuse_commits = True
    with pytest.raises(ReleaseError) as info:
        make_release(cfg, version="1.0.0", to=tmp_path / "repo", hub="synthetic-org/news")
    message = str(info.value)
    assert "\n" not in message and TOKEN not in message
    assert message.startswith(
        f"synthetic-org/news: publishing to the Hub failed at {hub_server.url} ("
    )
    assert message.endswith(
        "(HfHubHTTPError: 403 Forbidden: None. Forbidden: Bearer *** cannot write); "
        "the local release was undone"
    )
    assert not (tmp_path / "repo").exists()
    assert hub_server.repos["synthetic-org/news"].commits == []
    assert hub_server.repos["synthetic-org/news"].tags == {}
    assert hub_server.log[0] == "HEAD /"  # the reachability check, without the token
