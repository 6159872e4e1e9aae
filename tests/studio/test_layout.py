"""The labeling interface's layout and keys: questions on screen beside a long article, one
key per choice and label that Label Studio does not use itself, relations without labels."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree

from newscorpus.annotation.push import push
from newscorpus.labelstudio.labeling import (
    MAX_TARGETS_WITH_KEYS,
    hotkeys,
    instructions_html,
    label_config,
    normal_key,
    reserved_keys,
    stance_name,
)
from newscorpus.layers import SPANS, STANCE
from tests.conftest import REPO, make_article
from tests.studio.helpers import QUOTE_TEXT, SECOND_TARGET, studio_corpus, with_articles

STANCE_VALUES = STANCE.value_names
LONG_TARGET = (
    "Synthetic target {n}: a deliberately long statement about joint operations, extraditions "
    "and the sovereignty of both countries, which wraps over several lines in the question pane"
)


def targets_toml(n: int) -> str:
    """SECOND_TARGET and n - 2 more long targets (n targets in all, with MINIMAL_TOML's)."""
    extra = "".join(
        f'\n[[targets]]\nid = "target_{i}"\ntext = "{LONG_TARGET.format(n=i)}"\n'
        for i in range(3, n + 1)
    )
    return (SECOND_TARGET if n >= 2 else "") + extra


def config_keys(xml: str) -> list[tuple[str, str, str | None]]:
    """(control name, value, hotkey) of every Label and Choice in a config."""
    root = ElementTree.fromstring(xml)
    out = []
    for ctl in root.iter():
        if ctl.tag in ("Labels", "Choices"):
            for item in ctl:
                if item.tag in ("Label", "Choice"):
                    out.append((ctl.get("name", ""), item.get("value", ""), item.get("hotkey")))
    return out


# --- keys: unit tests on the generated config ------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 9, MAX_TARGETS_WITH_KEYS])
def test_every_choice_and_label_has_its_own_key_clear_of_label_studio(
    tmp_path: Path, n: int
) -> None:
    cfg = studio_corpus(tmp_path / "c", targets=targets_toml(n))
    assert len(cfg.targets) == n
    items = config_keys(label_config(cfg))
    assert len(items) == 3 + 2 + 6 + 4 * n
    assert len(items) == len(SPANS.labels) + len(CLAIM_VALUES) + len(STANCE_VALUES) * n
    keys = [k for _, _, k in items]
    assert None not in keys, [i for i in items if i[2] is None]
    normal = [normal_key(k) for k in keys if k]
    assert len(set(normal)) == len(normal), sorted(k for k in normal if normal.count(k) > 1)
    assert not set(normal) & reserved_keys()
    for k in normal:  # a plain key or shift + a letter/digit: nothing a browser takes
        assert re.fullmatch(r"(shift\+)?[a-z0-9]", k), k
    # what the instructions list is what the config binds
    assert {(c, v, k) for c, v, k in items} == {(h.control, h.value, h.key) for h in hotkeys(cfg)}


def test_a_new_target_keeps_the_keys_of_the_targets_before_it(tmp_path: Path) -> None:
    two = studio_corpus(tmp_path / "a", targets=targets_toml(2))
    three = studio_corpus(tmp_path / "b", targets=targets_toml(3))
    assert config_keys(label_config(three))[: 11 + 8] == config_keys(label_config(two))
    first = {(c, v): k for c, v, k in config_keys(label_config(two))}
    assert [first[(stance_name(two.targets[0].id), v)] for v in STANCE_VALUES] == list("1234")
    assert [first[(stance_name(two.targets[1].id), v)] for v in STANCE_VALUES] == list("5678")


def test_targets_past_the_keys_have_none_and_label_studio_has_none_left_to_give(
    tmp_path: Path,
) -> None:
    """Past MAX_TARGETS_WITH_KEYS the choices carry no hotkey attribute (hotkey="" would not
    do: Label Studio hands out a key of its own to a choice without one, from
    "1234567890qwetasdfgzxcvbyiopjklnm", all of which but the image-tool letters are ours)."""
    n = MAX_TARGETS_WITH_KEYS + 2
    cfg = studio_corpus(tmp_path / "c", targets=targets_toml(n))
    xml = label_config(cfg)
    assert 'hotkey=""' not in xml and "{key:" not in xml
    items = config_keys(xml)
    last = {stance_name(t.id) for t in cfg.targets[MAX_TARGETS_WITH_KEYS:]}
    assert all(k is None for c, _, k in items if c in last)
    assert all(k for c, _, k in items if c not in last)
    assert "The last 2 targets have no keys" in instructions_html(cfg)


def test_instructions_list_every_key_with_its_question(tmp_path: Path) -> None:
    cfg = studio_corpus(tmp_path / "c", targets=targets_toml(3))
    page = instructions_html(cfg)
    assert "<h3>Keyboard shortcuts</h3>" in page
    for h in hotkeys(cfg):
        assert f"<kbd>{h.key}</kbd> {h.value}" in page, h
    for t in cfg.targets:
        assert f"<td>Stance towards: {t.text}</td>" in page
    assert "Alt</kbd>+<kbd>R" in page  # how to link a speaker, no label to choose


def test_keys_in_target_text_are_not_placeholders(tmp_path: Path) -> None:
    """A target whose text looks like a key placeholder is shown as written."""
    odd = '\n[[targets]]\nid = "odd"\ntext = "Braces {key:spans:Claim} & <tags> stay text"\n'
    cfg = studio_corpus(tmp_path / "c", targets=odd)
    root = ElementTree.fromstring(label_config(cfg))
    headers = [h.get("value") for h in root.iter("Header")]
    assert "Stance towards: Braces {key:spans:Claim} & <tags> stay text" in headers


# --- Label Studio's own keys, read from the frontend it serves --------------------------------


def _studio_keymap() -> dict[str, dict[str, str]]:
    env = Path(os.environ.get("NEWSCORPUS_STUDIO_ENV", REPO / ".venv-studio"))
    bundles = sorted(env.glob("lib/python3*/site-packages/web/dist/apps/labelstudio/*.js"))
    for path in bundles:
        text = path.read_text(encoding="utf-8", errors="replace")
        start = text.find('JSON.parse(\'{"audio:back"')
        if start >= 0:
            body = text[start + len("JSON.parse('") : text.index("')", start)]
            keymap: dict[str, dict[str, str]] = json.loads(body)
            return keymap
    pytest.fail(f"no Label Studio keymap in the frontend bundles under {env}")


@pytest.mark.studio
def test_reserved_keys_are_label_studio_s_own_keymap() -> None:
    """The keymap of the installed Label Studio (1.23.2's keymap.json) is all reserved."""
    keymap = _studio_keymap()
    assert "annotation:submit" in keymap and "region:unselect" in keymap
    theirs = {normal_key(v[k]) for v in keymap.values() for k in ("key", "mac") if k in v}
    assert theirs - reserved_keys() == set()


# --- relations: a speaker link needs no label ------------------------------------------------


def test_config_keeps_the_said_relation_for_prelabels_and_old_annotations(tmp_path: Path) -> None:
    """The one relation label stays (pre-annotations and earlier annotations carry it); a link
    drawn without it is the same speaker link (see the browser test and pull)."""
    cfg = studio_corpus(tmp_path / "c")
    root = ElementTree.fromstring(label_config(cfg))
    assert [r.get("value") for r in root.iter("Relation")] == ["said"]


def test_pull_takes_an_unlabelled_relation_either_way_as_the_speaker_link(
    tmp_path: Path, cli: Any
) -> None:
    """What an annotator draws in the browser (test_drawing_a_speaker_link_takes_no_label):
    a relation without labels, here from the quote to its speaker and from a speaker to a claim."""
    from newscorpus.corpus import iter_annotations
    from tests.studio.helpers import export_of, full_result, span

    cfg = studio_corpus(tmp_path / "c")
    art = with_articles(cfg, [make_article(1, text=QUOTE_TEXT)])[0]
    result = [r for r in full_result(QUOTE_TEXT) if r.get("type") != "relation"]
    result.append(span(QUOTE_TEXT, "s2", "le ministère", "Speaker"))
    result.append({"type": "relation", "from_id": "q1", "to_id": "s1", "direction": "right"})
    result.append({"type": "relation", "from_id": "s2", "to_id": "c1", "direction": "right"})
    export = export_of(tmp_path / "export.json", art, result)
    res = cli("--corpus", cfg.root, "pull", "--from-export", export)
    assert res.exit_code == 0, res.output
    (ann,) = list(iter_annotations(cfg))
    by_label = {s["label"]: s for s in ann.spans if s["label"] != "Speaker"}
    speakers = {s["id"]: s["text"] for s in ann.spans if s["label"] == "Speaker"}
    assert speakers[by_label["Quote"]["speaker"]] == "Sheinbaum"
    assert speakers[by_label["Claim"]["speaker"]] == "le ministère"


# --- in the real browser ---------------------------------------------------------------------

WIDTH, HEIGHT = 1400, 900  # the annotators' window
PARAGRAPH = (
    "Synthetic paragraph {n}: officials on both sides of the border discussed fentanyl "
    "seizures, cartel finances and the limits of joint operations, as a long article would. "
)
ON_SCREEN = """e => {
  const r = e.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return false;
  if (r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth) return false;
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return !!hit && (e.contains(hit) || hit.contains(e));
}"""  # inside the window and not hidden by a pane's scrolling


def long_text(size: int = 7_500, head: str = "") -> str:
    """A synthetic article of exactly ``size`` characters: ``head``, paragraphs, QUOTE_TEXT."""
    body, n = head, 0
    while len(body) < size:
        n += 1
        body += PARAGRAPH.format(n=n) * 3 + "\n\n"
    return body[: size - len(QUOTE_TEXT) - 2] + "\n\n" + QUOTE_TEXT


def on_screen(locator: Any) -> bool:
    return bool(locator.evaluate(ON_SCREEN))


def choice_labels(editor: Any, values: tuple[str, ...]) -> list[Any]:
    return [
        editor.locator("label.lsf-choice__checkbox", has_text=re.compile(f"^{v}\\["))
        for v in values
    ]


def text_pane(editor: Any) -> Any:
    """The scrolling pane that holds the article text."""
    return editor.locator("xpath=.//*[contains(@class, 'lsf-richtext')][1]/..").first


def scroll_to_end(page: Any, pane: Any) -> None:
    """Scroll a pane to its end with the mouse wheel over it, as an annotator does."""
    box = pane.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(40):
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(50)
        if pane.evaluate("e => e.scrollTop + e.clientHeight >= e.scrollHeight - 1"):
            return
    pytest.fail("the pane did not scroll to its end")


def page_fits(page: Any) -> bool:
    """Label Studio's labeling area does not scroll: the panes do."""
    return bool(
        page.locator(".lsf-main-content").evaluate("e => e.scrollHeight <= e.clientHeight + 1")
    )


TEXT_RECT = """([root, needle]) => {
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  let node, found = null;
  while ((node = walk.nextNode())) if (node.data.includes(needle)) found = node;
  if (!found) return null;
  const range = document.createRange(), at = found.data.lastIndexOf(needle);
  range.setStart(found, at);
  range.setEnd(found, at + needle.length);
  const rects = [...range.getClientRects()];
  const a = rects[0], b = rects[rects.length - 1];
  return {x0: a.left, y0: a.top + a.height / 2, x1: b.right, y1: b.top + b.height / 2};
}"""  # where the last occurrence of needle is drawn


def drag_select(page: Any, editor: Any, needle: str) -> None:
    """Select the last occurrence of ``needle`` in the text with the mouse."""
    root = editor.locator(".lsf-richtext").first.element_handle()
    rect = page.evaluate(TEXT_RECT, [root, needle])
    assert rect is not None, needle
    page.mouse.move(rect["x0"] + 1, rect["y0"])
    page.mouse.down()
    page.mouse.move((rect["x0"] + rect["x1"]) / 2, (rect["y0"] + rect["y1"]) / 2, steps=5)
    page.mouse.move(rect["x1"] - 1, rect["y1"], steps=5)
    page.mouse.up()


CLAIM_VALUES = tuple(v for a in SPANS.attributes for v in a.value_names)


@pytest.mark.studio
@pytest.mark.browser
def test_long_article_keeps_the_questions_on_screen(tmp_path: Path, studio_server: Any) -> None:
    """A 7,500-character article at 1400x900: the stance questions stay on screen however far
    the text is scrolled, and a claim drawn at the end shows its questions on screen."""
    from tests.studio.test_browser import (
        ARTIFACTS,
        annotator_page,
        open_task,
        stance_choices,
    )

    cfg = studio_corpus(tmp_path / "c")
    text = long_text()
    assert len(text) == 7_500
    art = with_articles(cfg, [make_article(0, text=text, url="http://news.test/long")])[0]
    r = push(cfg, backend=studio_server.backend(cfg))
    shot = ARTIFACTS / "labelstudio-long-article.png"
    ARTIFACTS.mkdir(exist_ok=True)
    with annotator_page(studio_server, WIDTH, HEIGHT) as page:
        editor = open_task(page, studio_server, r.project_id, r.task_ids[art.id], "Sheinbaum")
        stances = choice_labels(editor, STANCE_VALUES)
        pane = text_pane(editor)
        last = editor.get_by_text("stoppées en 2025").first
        assert page_fits(page)
        assert not on_screen(last)  # the text is longer than its pane
        assert all(on_screen(c.first) and on_screen(c.last) for c in stances)
        scroll_to_end(page, pane)
        assert on_screen(last)
        for t in cfg.targets:
            assert on_screen(stance_choices(editor, t.text))
        assert all(on_screen(c.first) and on_screen(c.last) for c in stances)
        # a new claim, drawn with the mouse near the end of the text: its questions show
        page.keyboard.press("c")
        drag_select(page, editor, "cartel finances and the limits")
        drawn = editor.locator(".htx-highlight", has_text="cartel finances and the limits")
        drawn.wait_for(timeout=10_000)
        drawn.click()  # Label Studio leaves a new region unselected: the annotator clicks it
        attrs = choice_labels(editor, CLAIM_VALUES)
        for c in attrs:
            c.wait_for(state="visible", timeout=10_000)
            assert on_screen(c), c
        assert all(on_screen(c.first) for c in stances)
        assert page_fits(page)
        for key in ("y", "a", "3", "8"):  # the claim's keys work on the region drawn
            page.keyboard.press(key)
        checks = editor.locator("label.lsf-choice__checkbox", has=page.locator("input:checked"))
        checks.nth(3).wait_for(timeout=10_000)
        assert [c.split("[")[0] for c in checks.all_inner_texts()] == [
            "yes",
            "statistical",
            "neutral",
            "unrelated",
        ]
        page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("NEWSCORPUS_UPDATE_DOCS"):  # `make screenshot`: refresh the README's picture
        shutil.copyfile(shot, REPO / "docs" / "labelstudio-long-article.png")


@pytest.mark.studio
@pytest.mark.browser
def test_nine_long_targets_long_words_and_rtl_stay_inside_the_window(
    tmp_path: Path, studio_server: Any
) -> None:
    """Nine targets with long statements make the questions taller than the window: their pane
    scrolls, the page does not, and a selected claim's questions stay on screen above them.
    A long title, a 400-character word and a right-to-left paragraph overflow nothing."""
    from tests.studio.test_browser import (
        ARTIFACTS,
        annotator_page,
        checked,
        open_task,
        stance_choices,
    )

    cfg = studio_corpus(tmp_path / "c", targets=targets_toml(9))
    word = "https://news.test/" + "x" * 400
    rtl = "مقال اصطناعي عن الفنتانيل والتعاون بين الحكومتين. فقرة اختبار فقط.\n\n"
    text = long_text(head=rtl + word + "\n\n")
    title = "Synthetic title that goes on " + "and on " * 40
    art = make_article(0, text=text, url="http://news.test/many", title=title)
    with_articles(cfg, [art])
    r = push(cfg, backend=studio_server.backend(cfg))
    with annotator_page(studio_server, WIDTH, HEIGHT) as page:
        editor = open_task(page, studio_server, r.project_id, r.task_ids[art.id], "Sheinbaum")
        assert page_fits(page)
        pane = text_pane(editor)
        assert pane.evaluate("e => e.scrollWidth <= e.clientWidth")  # the long word wraps
        assert (
            editor.locator(".lsf-htx-richtext").first.evaluate(
                "e => getComputedStyle(e).unicodeBidi"
            )
            == "plaintext"
        )  # each paragraph takes the direction of its own script
        questions = stance_choices(editor, cfg.targets[0].text).locator(
            "xpath=ancestor::*[contains(@style, 'overflow-y: auto')][1]"
        )
        assert questions.evaluate("e => e.scrollHeight > e.clientHeight")  # taller than the pane
        assert questions.evaluate("e => e.scrollWidth <= e.clientWidth")
        last = stance_choices(editor, cfg.targets[-1].text)
        assert not on_screen(last)
        scroll_to_end(page, questions)
        assert on_screen(last) and page_fits(page)
        key = {(h.control, h.value): h.key for h in hotkeys(cfg)}
        press = key[(stance_name(cfg.targets[-1].id), "against")]
        assert press.startswith("shift+")  # the ninth target's keys take Shift
        page.keyboard.press(press.replace("shift+", "Shift+").upper().replace("SHIFT", "Shift"))
        assert checked(last, ["against"]) == ["against"]
        scroll_to_end(page, pane)
        editor.locator(".htx-highlight", has_text="Selon le ministère").first.click()
        for c in choice_labels(editor, CLAIM_VALUES):
            c.wait_for(state="visible", timeout=10_000)
            assert on_screen(c), c
        assert page_fits(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "labelstudio-many-targets.png"))


@pytest.mark.studio
@pytest.mark.browser
def test_drawing_a_speaker_link_takes_no_label(tmp_path: Path, studio_server: Any) -> None:
    """Click the speaker, Alt+R, click the claim: the link is made, with no label to choose;
    the submitted annotation holds it (pull reads it as the speaker link)."""
    from tests.studio.helpers import articles
    from tests.studio.test_browser import annotator_page, open_task

    cfg = studio_corpus(tmp_path / "c")
    art = with_articles(cfg, articles(1))[0]
    client = studio_server.client()
    r = push(cfg, backend=studio_server.backend(cfg))
    task = r.task_ids[art.id]
    with annotator_page(studio_server, WIDTH, HEIGHT) as page:
        editor = open_task(page, studio_server, r.project_id, task, "Sheinbaum")
        editor.locator(".htx-highlight", has_text="Sheinbaum").first.click()
        page.keyboard.press("Alt+r")
        editor.locator(".htx-highlight", has_text="Selon le ministère").first.click()
        for key in ("1", "5"):  # the required stances, then submit
            page.keyboard.press(key)
        page.get_by_role("button", name="Submit").click()
        page.wait_for_timeout(1_000)
    (exported,) = [t for t in client.iter_tasks(r.project_id) if t["id"] == task]
    (ann,) = exported["annotations"]
    spans = {x["id"]: x["value"]["labels"][0] for x in ann["result"] if x["type"] == "labels"}
    links = [
        (spans[x["from_id"]], spans[x["to_id"]], x.get("labels") or [])
        for x in ann["result"]
        if x["type"] == "relation"
    ]
    assert ("Speaker", "Claim", []) in links  # drawn now, no label
    assert ("Speaker", "Quote", ["said"]) in links  # the pre-annotation's
