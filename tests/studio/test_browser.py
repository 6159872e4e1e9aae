"""The annotator's view: headless Chromium logs in to the real Label Studio and opens a task."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from newscorpus.annotation.push import push
from newscorpus.labelstudio.labeling import hotkeys, stance_name
from tests.conftest import REPO
from tests.studio.helpers import QUOTE_TEXT, articles, studio_corpus, with_articles

pytestmark = [pytest.mark.studio, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts"
EDITOR = ".lsf-main-view"  # Label Studio's labeling area (the task list beside it is left out)


@contextmanager
def annotator_page(studio_server: Any, width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A Chromium page logged in to Label Studio as a new annotator."""
    if not CHROMIUM.is_file():
        pytest.fail("Debian's chromium is missing: run `make system-deps`")
    from playwright.sync_api import sync_playwright

    annotator, password = studio_server.create_annotator("browser")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{studio_server.url}/user/login/")
            page.fill("input[name=email]", annotator.email)
            page.fill("input[name=password]", password)
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_url(lambda url: "/user/login" not in url, timeout=60_000)
            yield page
        finally:
            browser.close()


def open_task(page: Any, studio_server: Any, project_id: int, task_id: int, text: str) -> Any:
    """Open a task in the labeling view and wait for its text; returns the editor locator."""
    from playwright.sync_api import expect

    page.goto(f"{studio_server.url}/projects/{project_id}/data?task={task_id}")
    editor = page.locator(EDITOR)
    expect(editor.get_by_text(text).first).to_be_visible(timeout=90_000)
    return editor


def stance_choices(editor: Any, target_text: str) -> Any:
    """The Choices block under a target's "Stance towards: ..." header."""
    header = f"Stance towards: {target_text}"
    return editor.locator(
        f"xpath=.//*[normalize-space(text())='{header}']"
        "/following-sibling::*[contains(@class, 'lsf-choices')][1]"
    )


def checked(choices: Any, expected: list[str] | None = None, timeout: float = 10.0) -> list[str]:
    """The values whose radio button is checked in a Choices block (once they are ``expected``,
    when given: the page updates after a key press)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        got = [
            str(v) for v in choices.locator("input:checked").evaluate_all("l => l.map(i => i.name)")
        ]
        if expected is None or got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_annotator_sees_text_stance_choices_and_claim_labels(
    tmp_path: Path, studio_server: Any
) -> None:
    from playwright.sync_api import expect

    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(2))
    r = push(cfg, backend=studio_server.backend(cfg))
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "labelstudio-task.png"
    with annotator_page(studio_server) as page:
        task = r.task_ids[arts[0].id]
        page.goto(f"{studio_server.url}/projects/{r.project_id}/data?task={task}")
        first_line = QUOTE_TEXT.split("\n")[0]
        expect(page.get_by_text("Ce dont nous avons besoin").first).to_be_visible(timeout=90_000)
        for value in ("favor", "against", "neutral", "unrelated"):
            expect(page.get_by_text(re.compile(f"^{value}")).first).to_be_visible()
        for label in ("Claim", "Quote", "Speaker"):
            expect(page.get_by_text(label, exact=True).first).to_be_visible()
        expect(page.get_by_text(f"Stance towards: {cfg.targets[0].text}")).to_be_visible()
        page.screenshot(path=str(shot), full_page=True)
        assert first_line[2:20] in page.content()
    assert shot.stat().st_size > 10_000
    if os.environ.get("NEWSCORPUS_UPDATE_DOCS"):  # `make screenshot`: refresh the README's picture
        shutil.copyfile(shot, REPO / "docs" / "labelstudio-task.png")


def test_stance_hotkeys_select_the_choice_of_their_own_target(
    tmp_path: Path, studio_server: Any
) -> None:
    """Each target's keys pick its own choices (Label Studio's own keys were '9 0 w e' and
    't a d f', handed out after the claim questions); the keys shown are the keys bound."""
    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(1))
    r = push(cfg, backend=studio_server.backend(cfg))
    keys = {(h.control, h.value): h.key for h in hotkeys(cfg)}
    first, second = cfg.targets
    with annotator_page(studio_server) as page:
        editor = open_task(page, studio_server, r.project_id, r.task_ids[arts[0].id], "Sheinbaum")
        one, two = stance_choices(editor, first.text), stance_choices(editor, second.text)
        assert checked(one) == [] and checked(two) == []
        for target, choices in ((first, one), (second, two)):
            for value in ("favor", "against", "neutral", "unrelated"):
                key = keys[(stance_name(target.id), value)]
                hint = choices.locator("label", has_text=re.compile(f"^{value}")).locator("sup")
                assert hint.inner_text() == f"[{key}]"
        page.keyboard.press(keys[(stance_name(first.id), "against")])
        page.keyboard.press(keys[(stance_name(second.id), "neutral")])
        assert checked(one, ["against"]) == ["against"]
        assert checked(two, ["neutral"]) == ["neutral"]
        page.keyboard.press(keys[(stance_name(first.id), "unrelated")])  # another value: moves
        assert checked(one, ["unrelated"]) == ["unrelated"]
        assert checked(two) == ["neutral"]
