"""The chat page in a real browser: `streamlit run app.py` driven through Debian's Chromium by Playwright.

One server per module, over temp copies of the corpus and the built index (tests never write to the
working tree). Screenshots go to a temp folder; set ASSISTANT_SCREENSHOTS_DIR to also save them there,
which is how docs/screenshots/ is refreshed by hand:

    ASSISTANT_SCREENSHOTS_DIR=docs/screenshots .venv/bin/python -m pytest tests/test_browser.py

Needs /usr/bin/chromium (`apt-get install -y chromium`; never `playwright install`). Without it the tests
skip, except under CI (env CI set), where they fail: CI must prove the page works.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import CORPUS
from streamlit_server import chromium, require_chromium, serve

from assistant import logs

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LOAD_TIMEOUT = 90_000  # ms for the first page: the server loads the model and the index
ANSWER_TIMEOUT = 30_000  # ms for an answer, an upload or a removal

CHAT_INPUT = '[data-testid="stChatInputTextArea"]'
MESSAGE = '[data-testid="stChatMessage"]'
CARD = '[data-testid="stExpander"]'

UPLOAD_NAME = "quantum-recruiting.md"
UPLOAD_TEXT = (
    "# Quantum annealing for recruiters\n\nQuantum annealing recruiters look for engineers who can explain qubit "
    "scheduling to hiring panels in plain words, and who have shipped at least one optimisation project end to end.\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory, real_settings):
    """`streamlit run app.py` on a free port over temp copies of the corpus and index; yields (url, root)."""
    require_chromium()
    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(CORPUS, root / "corpus", ignore=shutil.ignore_patterns("uploads"))
    shutil.copytree(real_settings.index_dir, root / "index")
    env = {"ASSISTANT_CORPUS_DIR": str(root / "corpus"), "ASSISTANT_INDEX_DIR": str(root / "index"), "ASSISTANT_STATE_DIR": str(root / "state")}
    with serve(root, env) as url:
        yield url, root


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Save a screenshot into a temp folder and, when ASSISTANT_SCREENSHOTS_DIR is set, there too."""
    folder = tmp_path_factory.mktemp("screenshots")
    extra = os.environ.get("ASSISTANT_SCREENSHOTS_DIR")

    def save(page, name: str, publish: bool = True) -> Path:
        path = folder / name
        page.screenshot(path=str(path), animations="disabled")
        if extra and publish:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(extra) / name)
        return path

    return save


# ------------------------------------------------------------------------------------------------ helpers


def open_page(browser, url: str, viewport: dict):
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(ANSWER_TIMEOUT)
    page.goto(url)
    page.locator(CHAT_INPUT).wait_for(timeout=LOAD_TIMEOUT)
    return page


def ask(page, question: str):
    """Type a question, wait for its answer; returns the assistant message."""
    from playwright.sync_api import expect

    before = page.locator(MESSAGE).count()
    box = page.locator(CHAT_INPUT)
    box.fill(question)
    box.press("Enter")
    messages = page.locator(MESSAGE)
    expect(messages).to_have_count(before + 2)
    reply = messages.nth(before + 1)
    # An answer ends with its cards and thumbs; an abstention or an error with an alert. An answer's text is a
    # placeholder until the Markdown renderer has loaded (after the cards on a fresh page): wait for a citation.
    reply.locator(f'{CARD}, [data-testid="stAlert"]').first.wait_for()
    if reply.locator(CARD).count():
        reply.locator("a.cite").first.wait_for()
    settle(page, reply)
    return reply


def settle(page, locator, steps: int = 40) -> None:
    """Wait until the element's size stops changing (expanders and new messages animate)."""
    last = None
    for _ in range(steps):
        box = locator.bounding_box()
        size = (round(box["width"]), round(box["height"])) if box else None
        if size is not None and size == last:
            return
        last = size
        page.wait_for_timeout(120)


def open_card(page, reply, n: int = 1):
    card = reply.locator(CARD).nth(n - 1)
    card.locator("summary").click()
    passage = card.locator('[data-testid="stMarkdownContainer"]').last
    passage.wait_for()
    settle(page, card)
    return card


def click_citation(page, reply, n: int = 1):
    """Click the answer's [n]; returns its card, which must then be open and in view."""
    from playwright.sync_api import expect

    link = reply.locator(f'a.cite[data-card$="_{n}"]').first
    link.scroll_into_view_if_needed()
    link.click()
    card = reply.locator(CARD).nth(n - 1)
    expect(card.locator("details")).to_have_attribute("open", "")
    page.wait_for_timeout(1800)  # the card opens and grows; the page brings it back into view as it settles
    box = card.locator("summary").bounding_box()
    assert box and 0 <= box["y"] <= page.viewport_size["height"] - box["height"], f"the cited card is not in view: {box}"
    return card


def show_from(page, locator) -> None:
    """Scroll `locator` to the top of the view for a screenshot, pointer out of the way.

    At phone width the page header is opaque, so it goes just below it. Streamlit scrolls its own main
    container and keeps it stuck to the bottom while content settles, so scroll until it stays put.
    """
    page.mouse.move(page.viewport_size["width"] - 2, page.viewport_size["height"] // 2)
    header = page.locator('[data-testid="stHeader"]').bounding_box()
    top = round(header["height"]) + 8 if header and page.viewport_size["width"] < 640 else 0
    for _ in range(20):
        locator.evaluate("(el, top) => { el.style.scrollMarginTop = top + 'px'; el.scrollIntoView({block: 'start'}); }", top)
        page.wait_for_timeout(200)
        if abs(locator.bounding_box()["y"] - top) < 4:
            return


# ------------------------------------------------------------------------------------------------ tests


def test_a_missing_chromium_fails_on_ci_and_skips_elsewhere(monkeypatch):
    import streamlit_server

    monkeypatch.setattr(streamlit_server, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run on CI: /nonexistent/chromium is missing"):
        require_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        require_chromium()


def test_desktop_answer_sources_feedback_download_and_upload(server, browser, shots):
    from playwright.sync_api import expect

    url, root = server
    requests: list[str] = []
    page = browser.new_page(viewport=DESKTOP)
    page.on("request", lambda request: requests.append(request.url))
    page.on("websocket", lambda ws: requests.append(ws.url))
    page.set_default_timeout(ANSWER_TIMEOUT)
    page.goto(url)
    page.locator(CHAT_INPUT).wait_for(timeout=LOAD_TIMEOUT)
    try:
        assert page.title() == "ML career assistant"
        starters = page.locator(".st-key-starters button")
        assert 4 <= starters.count() <= 6

        reply = ask(page, "What is MLOps?")
        expect(starters).to_have_count(0)  # the intro made way for the conversation
        text = reply.locator('[data-testid="stMarkdownContainer"]').first.inner_text()
        assert "MLOps" in text and "[1]" in text
        cards = reply.locator(CARD)
        for n in range(1, cards.count() + 1):  # each citation [n] has its numbered card
            assert f"[{n}]" in text
            expect(cards.nth(n - 1).locator("summary")).to_contain_text(f"[{n}] ")
        summary = cards.first.locator("summary")
        expect(summary).to_contain_text("MLOps")
        expect(summary).to_contain_text("relevance")

        # A citation is a link: clicking [1] opens its card and scrolls to it.
        page.locator(MESSAGE).nth(0).scroll_into_view_if_needed()
        card = click_citation(page, reply, 1)
        expect(card).to_contain_text("Corpus document: notes/")
        marked = card.locator("mark")
        assert marked.count() >= 1 and marked.first.is_visible()
        quoted = marked.first.inner_text().strip()
        assert quoted.rstrip(".") in " ".join(text.split())  # the highlighted sentence is the one the answer quotes
        show_from(page, page.locator(MESSAGE).nth(0))
        shots(page, "answer-desktop.png")

        # Thumbs up is logged once, with the sources behind the answer.
        feedback = reply.locator('[data-testid="stFeedback"]')
        feedback.evaluate("el => el.scrollIntoView({block: 'center'})")  # clear of the chat box, as a user would
        page.wait_for_timeout(200)
        position = reply.bounding_box()["y"]
        feedback.get_by_role("radio", name="Thumbs up").click()
        expect(reply).to_contain_text("Thanks, noted: helpful.")
        # The rerun redrew the history in place: the open card stayed open and nothing moved.
        expect(card.locator("details")).to_have_attribute("open", "")
        assert abs(reply.bounding_box()["y"] - position) < 2
        records = logs.feedback(root / "state")
        assert len(records) == 1 and records[0]["score"] == 1 and records[0]["sources"]

        # "Copy" puts the answer, its citations and its sources on the clipboard.
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        reply.get_by_role("button", name="Copy").click()
        expect(reply.get_by_role("button", name="Copied")).to_be_visible()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith(text.split("[1]")[0].strip()[:40]) and "[1]" in copied and "\nSources:\n[1] " in copied

        # The conversation downloads as Markdown with its citations.
        with page.expect_download() as download:
            page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Download").click()
        assert download.value.suggested_filename == "conversation.md"
        exported = Path(download.value.path()).read_text()
        assert "## Q: What is MLOps?" in exported and "[1] " in exported and quoted in exported

        # Upload a note through the sidebar, ask about it, and its card says it was uploaded.
        note = root / UPLOAD_NAME
        note.write_text(UPLOAD_TEXT)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(note))
        sidebar.get_by_role("button", name="Add to the corpus").click()
        expect(sidebar).to_contain_text(f"Added uploads/{UPLOAD_NAME}")
        reply = ask(page, "What do quantum annealing recruiters look for?")
        summary = reply.locator(f"{CARD} summary").first
        expect(summary).to_contain_text("uploaded")
        card = open_card(page, reply)
        expect(card).to_contain_text(f"Uploaded document: uploads/{UPLOAD_NAME}")
        expect(card).to_contain_text("qubit scheduling")
        shots(page, "upload-desktop.png", publish=False)

        # Nothing the page did asked any other origin: no fonts, icons, scripts or telemetry from outside.
        origin = url.split("//", 1)[1]
        outside = [r for r in requests if not r.startswith(("data:", "blob:")) and r.split("//", 1)[-1].split("/", 1)[0] != origin]
        assert requests and not outside, f"requests outside {origin}: {outside[:5]}"
    finally:
        page.close()


def test_a_follow_up_says_so_and_an_unrelated_question_after_it_is_answered_as_in_a_new_chat(server, browser):
    from playwright.sync_api import expect

    url, _ = server
    page = open_page(browser, url, DESKTOP)
    try:
        fresh = ask(page, "What is data leakage?")
        fresh_text = fresh.locator('[data-testid="stMarkdownContainer"]', has_text="[1]").first.inner_text()
        page.close()
        page = open_page(browser, url, DESKTOP)
        ask(page, "What is a feature store?")
        follow = ask(page, "Does a small team really need one?")
        expect(follow).to_contain_text("Read as a follow-up to “What is a feature store?”")
        expect(follow.get_by_role("button", name="Ask as a new question")).to_be_visible()
        unrelated = ask(page, "What is data leakage?")
        expect(unrelated).not_to_contain_text("Read as a follow-up")
        assert unrelated.locator('[data-testid="stMarkdownContainer"]', has_text="[1]").first.inner_text() == fresh_text
        # "Ask as a new question" asks the follow-up again, alone.
        follow.get_by_role("button", name="Ask as a new question").click()
        again = page.locator(MESSAGE).nth(page.locator(MESSAGE).count() - 1)
        expect(page.locator(MESSAGE)).to_have_count(8)
        again.locator(f'{CARD}, [data-testid="stAlert"]').first.wait_for()
        expect(again).not_to_contain_text("Read as a follow-up")
    finally:
        page.close()


def test_phone_width_reads_without_overflow(server, browser, shots):
    from playwright.sync_api import expect

    url, _ = server
    page = open_page(browser, url, PHONE)
    try:
        shots(page, "empty-phone.png", publish=False)
        reply = ask(page, "What is overfitting?")
        expect(reply.locator(f"{CARD} summary").first).to_contain_text("[1]")
        card = click_citation(page, reply, 1)  # on a phone too
        show_from(page, reply.locator('[data-testid="stCaptionContainer"]').first)  # "Sources" and the cards
        shots(page, "sources-phone.png", publish=False)
        assert card.locator("mark").first.is_visible()
        show_from(page, page.locator(MESSAGE).nth(0))
        width = page.evaluate("() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
        assert width <= PHONE["width"], f"the page is {width}px wide at phone width"
        for box in reply.locator(f"{CARD}, [data-testid='stMarkdownContainer']").all():
            bounds = box.bounding_box()
            assert bounds and bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= PHONE["width"] + 1
        shots(page, "answer-phone.png")

        # The sidebar opens from its toggle at phone width, and "New chat" closes it again over the new chat.
        page.locator('[data-testid="stExpandSidebarButton"]').click()
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar).to_contain_text("Passages searched per question")
        settle(page, sidebar)
        shots(page, "sidebar-phone.png", publish=False)
        sidebar.get_by_role("button", name="New chat").click()
        expect(sidebar).to_have_attribute("data-collapsed", "true")
        expect(page.locator(".st-key-starters button").first).to_be_visible()
    finally:
        page.close()


def test_ten_concurrent_browser_sessions_get_answers_or_a_busy_note_and_then_answers(server, browser):
    """Ten separate sessions (browser contexts) ask at the same moment through one server. At most
    `max_concurrent_answers` (4) are computed at once: the others are told the assistant is busy, at once,
    instead of queueing, and asking again a moment later gets the answer."""
    from playwright.sync_api import expect

    url, _ = server
    questions = [
        "What is MLOps?", "How much maths do I need?", "What is overfitting?", "Which frameworks are used for deep learning?",
        "How do I prepare for interviews?", "What does a data engineer do?", "What is a feature store?",
        "How do I build a portfolio?", "What is gradient descent?", "Are bootcamps worth it?",
    ]  # fmt: skip
    contexts = [browser.new_context(viewport=DESKTOP) for _ in questions]
    try:
        pages = []
        for context in contexts:
            page = context.new_page()
            page.set_default_timeout(LOAD_TIMEOUT)
            page.goto(url)
            pages.append(page)
        for page in pages:
            page.locator(CHAT_INPUT).wait_for()
        for page, question in zip(pages, questions):  # all sent before any answer is awaited
            box = page.locator(CHAT_INPUT)
            box.fill(question)
            box.press("Enter")
        busy = []
        for page, question in zip(pages, questions):
            messages = page.locator(MESSAGE)
            expect(messages).to_have_count(2, timeout=LOAD_TIMEOUT)
            expect(messages.nth(0)).to_contain_text(question)
            messages.nth(1).locator(f'{CARD}, [data-testid="stAlert"]').first.wait_for(timeout=LOAD_TIMEOUT)
            if messages.nth(1).locator(CARD).count() == 0:
                expect(messages.nth(1)).to_contain_text("busy answering other people's questions")
                busy.append((page, question))
        assert len(busy) <= len(questions) - 1  # at least one was answered
        for page, question in busy:  # asked again, one at a time: answered
            box = page.locator(CHAT_INPUT)
            box.fill(question)
            box.press("Enter")
            reply = page.locator(MESSAGE).nth(3)
            reply.locator(CARD).first.wait_for(timeout=LOAD_TIMEOUT)
    finally:
        for context in contexts:
            context.close()
