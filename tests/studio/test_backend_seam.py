"""The annotation backend seam: quality/ and release/ import no Label Studio code, the generic
annotation package knows no server, and the Label Studio backend keeps its promises on the real
server (find-or-create is idempotent, tasks changed since a time, accounts)."""

from __future__ import annotations

import ast
import secrets
from pathlib import Path
from typing import Any

import pytest

from newscorpus.annotation.backend import AnnotationBackend, NewTask, ProjectSpec
from newscorpus.labelstudio.backend import LabelStudioBackend
from tests.studio.helpers import QUOTE_TEXT, articles, full_result, studio_corpus, with_articles

SRC = Path(__file__).resolve().parents[2] / "src" / "newscorpus"


def imported_modules(text: str, package: list[str]) -> set[str]:
    """Every module a file of ``package`` imports (relative imports resolved; lazy ones too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def offenders(folder: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """The files under ``folder`` that import one of ``forbidden`` (a module or its children)."""
    bad = {}
    for path in sorted((SRC / folder).rglob("*.py")):
        package = ["newscorpus", *path.relative_to(SRC).parent.parts]
        mods = imported_modules(path.read_text(encoding="utf-8"), package)
        hits = sorted(m for m in mods if any(m == f or m.startswith(f + ".") for f in forbidden))
        if hits:
            bad[str(path.relative_to(SRC))] = hits
    return bad


FORBIDDEN = ("newscorpus.labelstudio", "newscorpus.studio", "label_studio_sdk")


@pytest.mark.parametrize("folder", ["quality", "release"])
def test_quality_and_release_import_no_label_studio_code(folder: str) -> None:
    assert (SRC / folder).is_dir()
    assert offenders(folder, FORBIDDEN) == {}


def test_the_generic_annotation_package_knows_no_server() -> None:
    assert offenders("annotation", (*FORBIDDEN, "httpx")) == {}


def test_the_import_parser_sees_relative_absolute_and_lazy_imports() -> None:
    """Else the two tests above would pass whatever the code imports."""
    text = (
        "from ..labelstudio import convert\n"
        "from ..labelstudio.backend import LabelStudioBackend\n"
        "def f():\n    import label_studio_sdk.client\n"
    )
    mods = imported_modules(text, ["newscorpus", "quality"])
    assert {"newscorpus.labelstudio.convert", "newscorpus.labelstudio.backend"} <= mods
    assert "label_studio_sdk.client" in mods


def test_label_studio_backend_implements_every_call_of_the_interface() -> None:
    calls = [n for n, v in vars(AnnotationBackend).items() if callable(v) and not n.startswith("_")]
    assert "read_tasks" in calls and "create_account" in calls
    for name in calls:
        assert vars(LabelStudioBackend).get(name) is not vars(AnnotationBackend)[name], name
    assert LabelStudioBackend.source == "labelstudio" and LabelStudioBackend.record_prefix == "ls"


# --- on the real server ------------------------------------------------------------------------


@pytest.mark.studio
def test_find_or_create_is_idempotent(tmp_path: Path, studio_server: Any) -> None:
    cfg = studio_corpus(tmp_path / "c")
    backend = studio_server.backend(cfg)
    spec = ProjectSpec(title=cfg.corpus.pretty_name, description="d", overlap=2)
    assert backend.find_project(spec.title) is None
    made, changed = backend.ensure_project(spec, None)
    assert not changed and made.title == spec.title and made.tasks == 0
    found = backend.find_project(spec.title)
    assert found is not None and found.id == made.id
    again, changed = backend.ensure_project(spec, found)
    assert (again.id, changed) == (made.id, False)
    wider, _ = backend.ensure_project(
        ProjectSpec(title=spec.title, description="d", overlap=3), found
    )
    assert wider.id == made.id and wider.raw["maximum_annotations"] == 3
    admin = studio_server.client()
    assert (
        sum(
            1
            for p in admin.get("/api/projects", page_size=100, title=spec.title)["results"]
            if p["title"] == spec.title
        )
        == 1
    )
    backend.close()


@pytest.mark.studio
def test_tasks_changed_since_a_time_and_read_by_id(tmp_path: Path, studio_server: Any) -> None:
    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(3))
    backend = studio_server.backend(cfg)
    spec = ProjectSpec(title=cfg.corpus.pretty_name, description="d", overlap=2)
    project, _ = backend.ensure_project(spec, None)
    ids = backend.import_tasks(project.id, backend.prepare([NewTask(a) for a in arts]))
    assert sorted(backend.task_articles(project.id)) == sorted(
        zip(ids, [a.id for a in arts], strict=True)
    )
    assert backend.task_ids(project.id) == ids
    stamps = list(backend.changed_tasks(project.id, ""))
    assert {s.id for s in stamps} == set(ids)
    since = max(s.updated_at for s in stamps)
    person, _ = studio_server.create_annotator("seam")
    studio_server.client().as_user(person.token).submit_annotation(
        ids[0], full_result(QUOTE_TEXT, "favor")
    )
    changed = list(backend.changed_tasks(project.id, since))
    assert [s.id for s in changed][:1] == [ids[0]] and all(s.updated_at >= since for s in changed)
    project = backend.project(project.id)
    assert (project.tasks, project.annotations) == (3, 1)
    (task,) = backend.read_tasks(project, ids)  # only annotated tasks come back
    assert (task.id, task.article_id) == (ids[0], arts[0].id)
    (ann,) = task.annotations
    assert ann.user == person.id and ann.stance["us_forces_in_mexico"] == "favor"
    assert {s["label"] for s in ann.spans} == {"Claim", "Quote", "Speaker"}
    backend.close()


@pytest.mark.studio
def test_accounts_are_listed_and_created(tmp_path: Path, studio_server: Any) -> None:
    cfg = studio_corpus(tmp_path / "c")
    backend = studio_server.backend(cfg)
    made, _ = studio_server.create_annotator("listed")
    listed = {a.id: a for a in backend.accounts()}
    assert made.id in listed and listed[made.id].email == made.email
    assert made.token not in repr(made) and made.token not in repr(backend)
    as_them = backend.as_account(made)
    try:
        assert as_them.whoami().id == made.id
    finally:
        as_them.close()
        backend.close()


class InterfaceOnly:
    """The real backend seen only through the interface's names: anything else raises."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        allowed = {n for n in vars(AnnotationBackend) if not n.startswith("_")}
        allowed |= set(AnnotationBackend.__annotations__)
        if name not in allowed:
            raise AttributeError(f"{name} is not part of the annotation backend interface")
        self.calls.append(name)
        return getattr(self._real, name)


@pytest.mark.studio
def test_adjudication_round_trip_goes_through_the_interface(
    tmp_path: Path, studio_server: Any
) -> None:
    from newscorpus.config import load_config
    from newscorpus.corpus import current_annotations
    from newscorpus.quality import adjudicate
    from tests.quality.helpers import T1, T2, TWO_TARGETS, ann, make_corpus, store
    from tests.quality.helpers import articles as stored_articles

    title = f"Seam corpus {secrets.token_hex(4)}"  # the session server is shared
    toml = TWO_TARGETS.replace('"Test corpus"', f'"{title}"')
    root = make_corpus(tmp_path / "corpus", toml, n_articles=1)
    cfg = load_config(root)
    (a0,) = stored_articles(root)
    store(root, [ann(a0, "ann-a", {T1: "favor"}), ann(a0, "ann-b", {T1: "against"})])
    backend = InterfaceOnly(studio_server.backend(cfg))
    pushed = adjudicate.push(cfg, backend=backend)
    assert (pushed.disputed, pushed.imported) == (1, 1)
    assert adjudicate.push(cfg, backend=backend).already == 1
    person, _ = studio_server.create_annotator("judge")
    decision = [
        {
            "from_name": f"stance_{t}",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [v]},
        }
        for t, v in ((T1, "favor"), (T2, "neutral"))
    ]
    studio_server.client().as_user(person.token).submit_annotation(pushed.task_ids[a0.id], decision)
    pulled = adjudicate.pull(cfg, backend=backend)
    assert (pulled.decisions, pulled.new_gold) == (1, 1)
    (gold,) = current_annotations(cfg, "gold")
    assert gold.stance == {T1: "favor", T2: "neutral"} and gold.annotator.startswith("ann-")
    assert {"find_project", "prepare", "ensure_project", "import_tasks", "read_tasks"} <= set(
        backend.calls
    )
