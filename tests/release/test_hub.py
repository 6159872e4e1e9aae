"""The Hub path, tested at the huggingface_hub API boundary: HfApi methods record their calls.

No Hub server runs here: the methods of a real ``HfApi`` (built by our code from HF_TOKEN) are
monkeypatched to record what they receive and to answer like the Hub would, and the reachability
check of the endpoint (one HEAD, see test_hub_http.py) is skipped.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError

from newscorpus.errors import ConfigError, ReleaseError
from newscorpus.release.target_hub import HubTarget
from tests.release.helpers import build_corpus, make_release, published_commits

TOKEN = "hf_SyntheticTokenForTests0123456789abcd"


def _404() -> httpx.Response:
    return httpx.Response(404, request=httpx.Request("GET", "https://huggingface.co/api/x"))


class RecordedHub:
    """What the recorded Hub holds: files of main, tags, and every call made."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.tags: dict[str, str] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.exists = False
        self.fail_commit = False
        self.commits = 0


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> RecordedHub:
    state = RecordedHub()
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setattr(HubTarget, "check_reachable", lambda self: None)  # no network here

    def list_repo_refs(self: HfApi, repo_id: str, **kw: Any) -> Any:
        state.calls.append(("list_repo_refs", {"repo_id": repo_id, **kw}))
        if not state.exists:
            raise RepositoryNotFoundError("not found", response=_404())
        head = SimpleNamespace(name="main", target_commit=f"{state.commits:040x}")
        return SimpleNamespace(tags=[SimpleNamespace(name=t) for t in state.tags], branches=[head])

    def hf_hub_download(self: HfApi, repo_id: str, filename: str, **kw: Any) -> str:
        state.calls.append(("hf_hub_download", {"repo_id": repo_id, "filename": filename, **kw}))
        if not state.exists:
            raise RepositoryNotFoundError("not found", response=_404())
        if filename not in state.files:
            raise RemoteEntryNotFoundError("no file", response=_404())
        out = tmp_path / "hub-download" / filename
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(state.files[filename])
        return str(out)

    def create_repo(self: HfApi, repo_id: str, **kw: Any) -> str:
        assert self.token == TOKEN
        state.calls.append(("create_repo", {"repo_id": repo_id, **kw}))
        state.exists = True
        return f"https://huggingface.co/datasets/{repo_id}"

    def list_repo_files(self: HfApi, repo_id: str, **kw: Any) -> list[str]:
        state.calls.append(("list_repo_files", {"repo_id": repo_id, **kw}))
        return [".gitattributes", *state.files]

    def create_commit(self: HfApi, repo_id: str, operations: Any, **kw: Any) -> Any:
        ops = list(operations)
        state.calls.append(("create_commit", {"repo_id": repo_id, "operations": ops, **kw}))
        if state.fail_commit:
            raise OSError("connection reset by the synthetic Hub")
        for op in ops:
            if isinstance(op, CommitOperationDelete):
                state.files.pop(op.path_in_repo, None)
            else:
                state.files[op.path_in_repo] = Path(op.path_or_fileobj).read_bytes()
        state.commits += 1
        return SimpleNamespace(oid=f"{state.commits:040x}")

    def create_tag(self: HfApi, repo_id: str, **kw: Any) -> None:
        state.calls.append(("create_tag", {"repo_id": repo_id, **kw}))
        state.tags[kw["tag"]] = kw["revision"]

    for name, fn in list(locals().items()):
        if name in {
            "list_repo_refs",
            "hf_hub_download",
            "create_repo",
            "list_repo_files",
            "create_commit",
            "create_tag",
        }:
            monkeypatch.setattr(HfApi, name, fn)
    return state


def names(state: RecordedHub) -> list[str]:
    return [c[0] for c in state.calls]


def test_hub_release_is_one_commit_then_a_tag(hub: RecordedHub, tmp_path: Path) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=12)
    r = make_release(cfg, version="1.0.0", hub="synthetic-org/newscorpus-test")
    assert published_commits(r) == {"synthetic-org/newscorpus-test": f"{1:040x}"}
    assert names(hub).count("create_commit") == 1
    assert names(hub)[-2:] == ["create_commit", "create_tag"]
    commit = dict(hub.calls)["create_commit"]
    assert commit["repo_type"] == "dataset" and commit["commit_message"] == "Release v1.0.0"
    assert all(isinstance(op, CommitOperationAdd) for op in commit["operations"])
    manifest = json.loads(hub.files["manifest.json"])
    for path, digest in manifest["files"].items():
        assert hashlib.sha256(hub.files[path]).hexdigest() == digest
    assert any(p.startswith("data/stance/") for p in hub.files)
    tag = dict(hub.calls)["create_tag"]
    assert (tag["tag"], tag["revision"], tag["repo_type"]) == ("v1.0.0", f"{1:040x}", "dataset")
    assert 'load_dataset("synthetic-org/newscorpus-test", "articles", revision="v1.0.0")' in (
        hub.files["README.md"].decode()
    )
    assert "ORG/NAME" not in hub.files["README.md"].decode()
    assert (
        json.loads(hub.files["croissant.json"])["url"]
        == "https://huggingface.co/datasets/synthetic-org/newscorpus-test"
    )
    every = b"".join(hub.files.values())
    assert TOKEN.encode() not in every


def test_hub_existing_tag_is_refused_and_next_version_reads_the_hub(
    hub: RecordedHub, tmp_path: Path
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=12)
    make_release(cfg, version="1.0.0", hub="synthetic-org/newscorpus-test")
    first = dict(hub.files)
    hub.calls.clear()
    with pytest.raises(ReleaseError, match=r"tag v1.0.0 exists on the Hub"):
        make_release(cfg, version="1.0.0", hub="synthetic-org/newscorpus-test")
    assert "create_commit" not in names(hub) and hub.files == first
    r = make_release(cfg, bump="patch", hub="synthetic-org/newscorpus-test")
    assert r.version == "1.0.1" and set(hub.tags) == {"v1.0.0", "v1.0.1"}
    second = json.loads(hub.files["manifest.json"])
    assert second["split_assignment"]["kept"] == 12  # splits read back from the Hub's manifest
    assert "changes/v1.0.0.json" in hub.files and "changes/v1.0.1.json" in hub.files
    log = hub.files["CHANGELOG.md"].decode()
    assert log.index("## v1.0.1") < log.index("## v1.0.0")


def test_hub_failure_rolls_back_the_local_release(hub: RecordedHub, tmp_path: Path) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=12)
    hub.fail_commit = True
    with pytest.raises(ReleaseError, match="publishing to the Hub failed"):
        make_release(cfg, version="1.0.0", to=tmp_path / "repo", hub="synthetic-org/x")
    assert not (tmp_path / "repo").exists() and not hub.tags
    hub.fail_commit = False
    r = make_release(cfg, version="1.0.0", to=tmp_path / "repo", hub="synthetic-org/x")
    assert list(published_commits(r)) == [str(tmp_path / "repo"), "synthetic-org/x"]
    assert all(published_commits(r).values()) and set(hub.tags) == {"v1.0.0"}


def test_hub_failure_message_is_one_line_without_the_token(
    hub: RecordedHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def leaky(self: HfApi, *args: Any, **kw: Any) -> Any:
        raise OSError(f"proxy refused Authorization: Bearer {TOKEN}\nsecond line {TOKEN}")

    monkeypatch.setattr(HfApi, "create_commit", leaky)
    cfg, _ = build_corpus(tmp_path / "corpus", n=3)
    with pytest.raises(ReleaseError) as info:
        make_release(cfg, version="1.0.0", to=tmp_path / "repo", hub="synthetic-org/x")
    assert str(info.value) == (
        "synthetic-org/x: publishing to the Hub failed at https://huggingface.co (OSError: proxy "
        "refused Authorization: Bearer ***); the local release was undone"
    )
    assert not (tmp_path / "repo").exists() and not hub.tags


def test_hub_needs_a_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    cfg, _ = build_corpus(tmp_path / "corpus", n=3)
    with pytest.raises(ConfigError, match="HF_TOKEN"):
        make_release(cfg, version="1.0.0", hub="synthetic-org/x")


@pytest.mark.parametrize("method", ["list_repo_refs", "hf_hub_download"])
def test_unreachable_hub_is_a_one_line_release_error(
    hub: RecordedHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, method: str
) -> None:
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(self: HfApi, *args: Any, **kw: Any) -> Any:
        raise LocalEntryNotFoundError("cannot reach the Hub\nsecond line")

    monkeypatch.setattr(HfApi, method, offline)
    cfg, _ = build_corpus(tmp_path / "corpus", n=3)
    with pytest.raises(ReleaseError) as info:
        make_release(cfg, bump="patch", hub="synthetic-org/x")
    message = str(info.value)
    assert message == (
        "synthetic-org/x: cannot read the Hub repository from https://huggingface.co "
        "(LocalEntryNotFoundError: cannot reach the Hub); nothing was changed"
    )
    assert TOKEN not in message and not hub.tags
