"""The annotator's view: headless Chromium logs in to the real Label Studio and opens a task."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from newscorpus.studio.push import push
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


def test_annotator_sees_text_stance_choices_and_claim_labels(
    tmp_path: Path, studio_server: Any
) -> None:
    if not CHROMIUM.is_file():
        pytest.fail("Debian's chromium is missing: run `make system-deps`")
    from playwright.sync_api import expect, sync_playwright

    cfg = studio_corpus(tmp_path / "c")
    arts = with_articles(cfg, articles(2))
    r = push(cfg, client=studio_server.client())
    annotator, password = studio_server.create_annotator("browser")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "labelstudio-task.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{studio_server.url}/user/login/")
            page.fill("input[name=email]", annotator.email)
            page.fill("input[name=password]", password)
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_url(lambda url: "/user/login" not in url, timeout=60_000)
            task = r.task_ids[arts[0].id]
            page.goto(f"{studio_server.url}/projects/{r.project_id}/data?task={task}")
            first_line = QUOTE_TEXT.split("\n")[0]
            expect(page.get_by_text("Ce dont nous avons besoin").first).to_be_visible(
                timeout=90_000
            )
            for value in ("favor", "against", "neutral", "unrelated"):
                expect(page.get_by_text(re.compile(f"^{value}")).first).to_be_visible()
            for label in ("Claim", "Quote", "Speaker"):
                expect(page.get_by_text(label, exact=True).first).to_be_visible()
            expect(page.get_by_text(f"Stance towards: {cfg.targets[0].text}")).to_be_visible()
            page.screenshot(path=str(shot), full_page=True)
            assert first_line[2:20] in page.content()
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    if os.environ.get("NEWSCORPUS_UPDATE_DOCS"):  # `make screenshot`: refresh the README's picture
        shutil.copyfile(shot, REPO / "docs" / "labelstudio-task.png")
