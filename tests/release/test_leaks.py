"""The release scan refuses URL credentials and the builder's local paths anywhere in a release;
html_dir articles are released with paths relative to their source folder."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from newscorpus.config import load_config
from newscorpus.corpus import add_articles
from newscorpus.errors import ReleaseError
from newscorpus.release.target_git import run_git
from tests.conftest import make_article
from tests.release.helpers import build_corpus, make_release

PASSWORD = "s3cretPassw0rd"


def snapshot(root: Path, skip: tuple[str, ...] = (".newscorpus",)) -> dict[str, bytes]:
    """Every file under root (the corpus lock folder left out: it is no release output)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not set(p.relative_to(root).parts) & set(skip)
    }


def _release(cli: Any, root: Path, repo: Path, *extra: str) -> Any:
    return cli("--corpus", root, "release", "--version", "1.0.0", "--to", repo, *extra)


def _refused(r: Any, *needles: str) -> str:
    """A one-line refusal (exit 1) that names every needle and never the password."""
    assert r.exit_code == 1, r.output
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    assert "Traceback" not in r.output
    assert PASSWORD not in r.output
    for n in needles:
        assert n in r.stderr, (n, r.stderr)
    line: str = r.stderr
    return line


@pytest.mark.parametrize("column", ["url", "canonical_url", "site"])
def test_url_credentials_in_an_article_are_refused_and_nothing_is_published(
    tmp_path: Path, cli: Any, column: str
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    leaky = f"http://builder:{PASSWORD}@intranet/a/1"
    art = make_article(90, source="open", **{column: leaky})
    add_articles(cfg, [art], file="more")
    before = snapshot(tmp_path)
    r = _release(cli, cfg.root, tmp_path / "repo")
    line = _refused(r, "credentials in a URL", "data/articles/", f": {column}: ", "http://***@")
    assert "builder" not in line  # the whole user:password part is masked
    assert not (tmp_path / "repo").exists()
    assert snapshot(tmp_path) == before


def test_url_credentials_in_a_release_repository_leave_it_unchanged(
    tmp_path: Path, cli: Any
) -> None:
    """A valid release repository stays as it was (no commit, no tag, no file) when v2 is refused."""
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    repo = tmp_path / "repo"
    assert _release(cli, cfg.root, repo).exit_code == 0
    add_articles(cfg, [make_article(91, source="open", url=f"https://u:{PASSWORD}@x.test/")], "b")
    before = snapshot(repo)
    r = cli("--corpus", cfg.root, "release", "--version", "2.0.0", "--to", repo)
    _refused(r, "credentials in a URL", ": url: ")
    assert snapshot(repo) == before


def test_url_credentials_in_the_card_croissant_and_manifest_are_refused(
    tmp_path: Path, cli: Any
) -> None:
    homepage = f"https://ci:{PASSWORD}@git.example.org/corpus"
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    toml = cfg.path.read_text()
    cfg.path.write_text(
        toml.replace("Synthetic articles for release tests.", f"Mirror of {homepage}.")
    )
    r = _release(cli, cfg.root, tmp_path / "repo")
    _refused(r, "README.md:", "croissant.json: description:", "credentials in a URL")
    cfg.path.write_text(toml)
    (cfg.root / "DATA_CARD.md").write_text(f"## Dataset description\n\nSee {homepage}.\n")
    _refused(_release(cli, cfg.root, tmp_path / "repo"), "README.md:", "credentials in a URL")
    (cfg.root / "DATA_CARD.md").unlink()
    reports = cfg.reports_dir
    reports.mkdir()
    (reports / "agreement.json").write_text(json.dumps({"source": {"export": homepage}}))
    r = _release(cli, cfg.root, tmp_path / "repo")
    _refused(r, "manifest.json: agreement.source.export", "credentials in a URL")
    assert not (tmp_path / "repo").exists()


def test_url_credentials_in_the_previous_changelog_are_refused(tmp_path: Path, cli: Any) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    repo = tmp_path / "repo"
    assert _release(cli, cfg.root, repo).exit_code == 0
    log = repo / "CHANGELOG.md"
    log.write_text(log.read_text() + f"\nMirror: https://bot:{PASSWORD}@mirror.test/r\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "commit", "-qam", "note"], check=True)
    before = snapshot(repo)
    r = cli("--corpus", cfg.root, "release", "--version", "1.1.0", "--to", repo)
    _refused(r, "CHANGELOG.md:", "credentials in a URL", "https://***@mirror.test")
    assert snapshot(repo) == before


def _html_corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    pages = root / "pages" / "sub dir"
    pages.mkdir(parents=True)
    (root / "articles").mkdir()
    (root / "annotations").mkdir()
    (root / "corpus.toml").write_text(
        '[corpus]\nname = "h"\npretty_name = "H"\ndescription = "d"\nlanguages = ["en"]\n'
        'license = "CC-BY-4.0"\n\n[[targets]]\nid = "t1"\ntext = "T1"\n\n'
        '[[sources]]\nname = "local"\nkind = "html_dir"\npath = "pages"\n\n'
        '[topic]\nany = ["fentanyl"]\n'
    )
    for i in (1, 2):
        (pages / f"a{i}.html").write_text(
            f"<html><head><title>Fentanyl story {i}</title></head><body><article>"
            f"<h1>Fentanyl story {i}</h1><p>Officials discussed fentanyl trafficking across "
            f"the border at length on Monday, meeting number {i}. The meeting covered cartels, "
            "precursor chemicals and joint operations, and other security topics.</p><p>A "
            f"second paragraph about fentanyl seizures and cooperation, variant {i}.</p>"
            "</article></body></html>"
        )
    return root


def test_html_dir_articles_are_released_with_paths_relative_to_their_folder(
    tmp_path: Path, cli: Any
) -> None:
    root = _html_corpus(tmp_path)
    r = cli("--corpus", root, "gather")
    assert r.exit_code == 0, r.output
    stored = [json.loads(line) for line in (root / "articles").glob("*.jsonl").__next__().open()]
    assert stored and all(a["url"].startswith("file:///") for a in stored)
    corpus_before = snapshot(root)
    repo = tmp_path / "repo"
    r = _release(cli, root, repo)
    assert r.exit_code == 0, r.output
    assert snapshot(root) == corpus_before  # the corpus keeps its stored urls (ids need them)
    rows = pq.read_table(next((repo / "data" / "articles").glob("*.parquet"))).to_pylist()
    assert sorted(r["url"] for r in rows) == ["sub dir/a1.html", "sub dir/a2.html"]
    assert sorted(r["canonical_url"] for r in rows) == ["sub dir/a1.html", "sub dir/a2.html"]
    assert {r["id"] for r in rows} == {a["id"] for a in stored}
    for p in repo.rglob("*"):
        if p.is_file() and ".git" not in p.parts:
            data = p.read_bytes()
            assert b"file:" not in data and str(tmp_path).encode() not in data, p


def test_local_paths_in_an_article_are_refused_with_file_and_column(
    tmp_path: Path, cli: Any
) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    repo = tmp_path / "repo"
    cases = [
        ("url", "file:///srv/pages/a.html", "local file: URL"),
        ("title", "Notes in /home/alice/drafts/a.txt", "local home-folder path"),
        ("text", f"Saved to {cfg.root}/articles/x for review, fentanyl.", "absolute path"),
        ("text", f"Built in {repo.resolve()} on Monday, fentanyl.", "absolute path"),
        ("title", "Scratch copy at /tmp/build/x", "local temporary-folder path"),
    ]
    for i, (column, value, what) in enumerate(cases):
        (cfg.articles_dir / "more.jsonl").unlink(missing_ok=True)
        add_articles(cfg, [make_article(80 + i, source="open", **{column: value})], file="more")
        before = snapshot(tmp_path)
        line = _refused(_release(cli, cfg.root, repo), what, f": {column}: ", "data/articles/")
        assert str(tmp_path) not in line  # the message does not repeat the path
        assert snapshot(tmp_path) == before and not repo.exists()


def test_paths_and_urls_that_are_not_local_are_released(tmp_path: Path) -> None:
    """No false alarm: web paths under /home/, a bare /tmp, an @ in a text, a URL with a port."""
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    text = (
        "Fentanyl report: see https://example.org/home/alice/report and "
        "http://news.test:8080/a?b=c@d; files went to /tmp on the server; "
        "write to press@news.test? no. Route /root-cause analysis."
    )
    add_articles(cfg, [make_article(70, source="open", text=text)], file="more")
    with pytest.raises(Exception, match="e-mail address") as exc:
        make_release(cfg, version="1.0.0", to=tmp_path / "repo")
    findings = str(exc.value).split("): ", 1)[1].split("; ")
    assert findings and all("e-mail address (" in f for f in findings), findings
    (cfg.articles_dir / "more.jsonl").unlink()
    add_articles(
        cfg, [make_article(71, source="open", text=text.replace("press@", "press at "))], "m"
    )
    make_release(cfg, version="1.0.0", to=tmp_path / "repo")


def test_agreement_report_paths_become_relative_in_the_card(tmp_path: Path) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    reports = cfg.reports_dir
    reports.mkdir()
    (reports / "alpha.png").write_bytes(b"\x89PNG\r\n\x1a\nsynthetic")
    (reports / "agreement.md").write_text(
        f"# Agreement\n\nComputed from {cfg.root.resolve()}/annotations.\n\n"
        f"![alpha]({reports.resolve()}/alpha.png)\n\n![again]({reports.resolve().as_uri()}/alpha.png)\n"
    )
    repo = tmp_path / "repo"
    make_release(cfg, version="1.0.0", to=repo)
    card = (repo / "README.md").read_text()
    assert str(tmp_path) not in card and "file:" not in card
    assert "Computed from annotations." in card
    assert card.count("](reports/alpha.png)") == 2
    assert (repo / "reports" / "alpha.png").is_file()


def test_git_errors_do_not_show_url_credentials(tmp_path: Path) -> None:
    # hooks of the release repository never run (tests/test_redteam_leaks.py), so git is made
    # to fail here by naming a URL as a revision: its message quotes the URL
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    with pytest.raises(ReleaseError) as exc:
        run_git(repo, "show", f"https://ci:{PASSWORD}@git.test/r")
    message = str(exc.value)
    assert (
        "git show https://git.test/r" in message
        and PASSWORD not in message
        and "ci:" not in message
    )


def test_a_failed_tag_undoes_the_commit(tmp_path: Path, cli: Any) -> None:
    cfg, _ = build_corpus(tmp_path / "corpus", n=6)
    repo = tmp_path / "repo"
    assert _release(cli, cfg.root, repo).exit_code == 0
    # a tag v1.1.0/x makes the tag v1.1.0 impossible (a ref cannot be a file and a folder)
    subprocess.run(["git", "-C", repo, "tag", "v1.1.0/x"], check=True)
    add_articles(load_config(cfg.root), [make_article(60, source="open")], file="more")
    before = snapshot(repo, skip=(".git",))
    refs = subprocess.run(["git", "-C", repo, "show-ref"], capture_output=True).stdout
    r = cli("--corpus", cfg.root, "release", "--version", "1.1.0", "--to", repo)
    _refused(r, "git tag")
    assert snapshot(repo, skip=(".git",)) == before  # undone: the tree, HEAD and tags as they were
    assert subprocess.run(["git", "-C", repo, "show-ref"], capture_output=True).stdout == refs


@pytest.mark.parametrize(
    "text",
    [
        "see http:/ci:hunter2@10.0.0.1/x",
        "see //ci:hunter2@mirror.test/x",
        "see http:\\\\ci:hunter2@mirror.test/x",
        "see https://ci:hunter2\uff20mirror.test/x",
    ],
)
def test_the_scan_sees_malformed_user_info_as_the_gatherer_does(text: str) -> None:
    import pyarrow as pa

    from newscorpus.release.scan import Scanner

    for how in ("text", "column"):
        scanner = Scanner()
        if how == "text":
            scanner.scan_text("README.md", text)
        else:
            scanner.scan_batch("data/x.parquet", pa.record_batch({"note": [text]}))
        assert any("credentials in a URL" in f for f in scanner.findings), (how, scanner.findings)
        assert not any("hunter2" in f for f in scanner.findings)
