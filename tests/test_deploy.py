"""Conversations that last, and several processes as one service: two `streamlit run app.py` processes over
one corpus, one index and one PostgreSQL database (a fresh database on conftest's `postgres_server`), driven
through Debian's Chromium by Playwright.

A chat keeps its address (`?chat=<id>`) across a reload and across processes, with its answers, sources and
feedback; its read-only link (`?share=<token>`) opens on the other process; feedback from both lands in one
place; a document added through one process is answered from by the other.

The servers are served on 127.0.0.1 without sign-in, so the page lets this machine edit the corpus (the
uploader is there). Both processes live for the whole module; every test opens its own pages.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import CORPUS
from streamlit_server import chromium, require_chromium, serve
from test_browser import ANSWER_TIMEOUT, CARD, CHAT_INPUT, DESKTOP, LOAD_TIMEOUT, MESSAGE, ask, open_card, settle

from assistant import logs
from assistant.config import Settings
from assistant.database import DB_FILE

pytestmark = pytest.mark.browser

SIDEBAR = '[data-testid="stSidebar"]'
FEEDBACK = '[data-testid="stFeedback"]'
ALERT = '[data-testid="stAlert"]'
CHAT_ADDRESS = re.compile(r"/\?chat=[A-Za-z0-9_-]{16,}$")

UPLOAD_NAME = "heliograph-interviews.md"
UPLOAD_TEXT = (
    "# Heliograph Labs interviews\n\nHeliograph Labs asks every machine learning candidate to explain the Pemberton "
    "drift score, a made-up measure of how far a model's calibration wanders between quarterly retraining runs.\n"
)


@dataclass(frozen=True)
class Service:
    a: str  # process A's address
    b: str  # process B's address
    root: Path
    database_url: str

    def settings(self) -> Settings:
        return Settings(state_dir=self.root / "state-a", database_url=self.database_url)


@pytest.fixture(scope="module")
def database(postgres_server):
    """A database of its own on the session's PostgreSQL server; its URL."""
    import psycopg

    name = "deploy_" + secrets.token_hex(6)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def service(tmp_path_factory, real_settings, database):
    """Two `streamlit run app.py` processes on two ports: one corpus, one index, one database; each its own
    state folder (which must stay empty: the state is in the database)."""
    require_chromium()
    root = tmp_path_factory.mktemp("deploy")
    shutil.copytree(CORPUS, root / "corpus", ignore=shutil.ignore_patterns("uploads"))
    shutil.copytree(real_settings.index_dir, root / "index")
    common = {
        "ASSISTANT_CORPUS_DIR": str(root / "corpus"),
        "ASSISTANT_INDEX_DIR": str(root / "index"),
        "ASSISTANT_DATABASE_URL": database,
    }
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(serve(root, {**common, "ASSISTANT_STATE_DIR": str(root / "state-a")}))
        b = stack.enter_context(serve(root, {**common, "ASSISTANT_STATE_DIR": str(root / "state-b")}))
        yield Service(a, b, root, database)


@pytest.fixture(scope="module")
def browser(service):
    """Chromium, after a first page on each process at once (each loads the model and the index then)."""
    with chromium() as b:
        pages = [b.new_page() for _ in (service.a, service.b)]
        for page, address in zip(pages, (service.a, service.b)):
            page.goto(address)
        for page in pages:
            page.locator(CHAT_INPUT).wait_for(timeout=LOAD_TIMEOUT)
            page.close()
        yield b


# ------------------------------------------------------------------------------------------------ helpers


def visit(browser, address: str):
    """A fresh browser context (a new person, or a new tab with no session) on `address`, loaded."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(ANSWER_TIMEOUT)
    page.goto(address)
    page.locator(CHAT_INPUT).wait_for(timeout=LOAD_TIMEOUT)
    return page


def chat_of(page) -> str:
    """The chat id in the page's address (the assertion fails when there is none)."""
    from playwright.sync_api import expect

    expect(page).to_have_url(CHAT_ADDRESS)
    return parse_qs(urlsplit(page.url).query)["chat"][0]


def answer_text(reply) -> str:
    """The answer's text with its citations [n]. (On a page just loaded, Streamlit draws a skeleton in its place
    until the Markdown renderer has loaded, after the source cards: wait for the citation links.)"""
    text = reply.locator('[data-testid="stMarkdownContainer"]:has(a.cite)').first
    text.wait_for()
    return text.inner_text()


def card_titles(reply) -> list[str]:
    return [s.inner_text() for s in reply.locator(f"{CARD} summary").all()]


def answered(page, question: str):
    """Ask, and check it was answered with sources (not refused); returns the assistant message."""
    from playwright.sync_api import expect

    reply = ask(page, question)
    expect(reply.locator(f"{CARD} summary").first).to_contain_text("[1] ")
    return reply


def rate(page, reply, up: bool) -> None:
    from playwright.sync_api import expect

    feedback = reply.locator(FEEDBACK)
    feedback.evaluate("el => el.scrollIntoView({block: 'center'})")  # clear of the chat box, as a user would
    feedback.get_by_role("radio", name="Thumbs up" if up else "Thumbs down").click()
    expect(reply).to_contain_text("Thanks, noted: " + ("helpful." if up else "not helpful."))


def expect_locked(reply, up: bool) -> None:
    """The answer's thumbs show the choice already given, and take no other."""
    from playwright.sync_api import expect

    chosen = reply.locator(FEEDBACK).get_by_role("radio", name="Thumbs up" if up else "Thumbs down")
    other = reply.locator(FEEDBACK).get_by_role("radio", name="Thumbs down" if up else "Thumbs up")
    expect(chosen).to_be_checked()
    expect(chosen).to_be_disabled()
    expect(other).to_be_disabled()
    expect(reply).to_contain_text("Thanks, noted: " + ("helpful." if up else "not helpful."))


def expect_turns(page, questions: list[str]) -> list:
    """The page shows exactly these exchanges, in this order, each answered with sources; returns the replies."""
    from playwright.sync_api import expect

    messages = page.locator(MESSAGE)
    expect(messages).to_have_count(2 * len(questions))
    replies = []
    for i, question in enumerate(questions):
        expect(messages.nth(2 * i)).to_contain_text(question)
        reply = messages.nth(2 * i + 1)
        expect(reply.locator(f"{CARD} summary").first).to_contain_text("[1] ")
        replies.append(reply)
    return replies


# ------------------------------------------------------------------------------------------------ tests


def test_a_reload_brings_back_the_chat_with_its_answers_sources_and_feedback(service, browser):
    page = visit(browser, service.a)
    try:
        question = "What is MLOps?"
        reply = answered(page, question)
        chat = chat_of(page)
        text, cards = answer_text(reply), card_titles(reply)
        assert "MLOps" in text and "[1]" in text and cards
        rate(page, reply, up=True)

        page.reload()
        page.locator(CHAT_INPUT).wait_for()
        assert chat_of(page) == chat  # the same address after the reload
        (reply,) = expect_turns(page, [question])
        assert answer_text(reply) == text
        assert card_titles(reply) == cards
        card = open_card(page, reply)  # the passage behind the card came back too
        assert card.locator("mark").count() >= 1
        expect_locked(reply, up=True)
    finally:
        page.context.close()


def test_a_chat_continues_on_the_other_process_and_back(service, browser):
    from playwright.sync_api import expect

    first, second = "What is a feature store?", "What is gradient descent?"
    page = visit(browser, service.a)
    try:
        text = answer_text(answered(page, first))
        chat = chat_of(page)
    finally:
        page.context.close()

    page = visit(browser, f"{service.b}/?chat={chat}")
    try:
        (reply,) = expect_turns(page, [first])
        assert answer_text(reply) == text
        answered(page, second)
        assert chat_of(page) == chat  # the same chat, continued: no new address
        expect(page.locator(SIDEBAR)).not_to_contain_text("There is no chat at this address")
    finally:
        page.context.close()

    page = visit(browser, f"{service.a}/?chat={chat}")
    try:
        first_reply, _ = expect_turns(page, [first, second])
        assert answer_text(first_reply) == text
    finally:
        page.context.close()


def test_a_share_link_opens_read_only_on_the_other_process_and_a_question_there_starts_a_new_chat(service, browser):
    from playwright.sync_api import expect

    question = "What is overfitting?"
    page = visit(browser, service.a)
    try:
        reply = answered(page, question)
        text = answer_text(reply)
        chat = chat_of(page)
        rate(page, reply, up=False)
        sidebar = page.locator(SIDEBAR)
        sidebar.get_by_role("button", name="Share this chat").click()
        code = page.locator('[data-testid="stPopoverBody"] [data-testid="stCode"]')
        expect(code).to_contain_text("?share=")
        link = code.inner_text().strip()
    finally:
        page.context.close()
    assert link.startswith(f"{service.a}/?share="), link
    token = parse_qs(urlsplit(link).query)["share"][0]
    assert chat not in link  # the link does not give away the chat's own address

    page = visit(browser, f"{service.b}/?share={token}")  # another person (a context of its own), process B
    try:
        banner = page.locator(f".st-key-shared_banner {ALERT}")
        expect(banner).to_contain_text(f"A shared chat: {question}")
        (reply,) = expect_turns(page, [question])
        assert answer_text(reply) == text
        expect(page.locator(FEEDBACK)).to_have_count(0)  # nothing to rate or add here
        expect(reply).to_contain_text("Rated not helpful.")
        expect(page).not_to_have_url(re.compile(r"chat="))

        mine = "What is data leakage?"
        box = page.locator(CHAT_INPUT)
        box.fill(mine)
        box.press("Enter")
        messages = page.locator(MESSAGE)
        expect(messages).to_have_count(2)
        expect(messages.nth(0)).to_contain_text(mine)
        messages.nth(1).locator(FEEDBACK).wait_for()  # the reader's own chat takes feedback
        expect(banner).to_have_count(0)
        own = chat_of(page)
        assert own != chat
    finally:
        page.context.close()

    page = visit(browser, f"{service.a}/?chat={chat}")  # the shared chat did not take the reader's question
    try:
        expect_turns(page, [question])
    finally:
        page.context.close()


def test_feedback_given_on_either_process_lands_in_one_place(service, browser):
    up, down = "What does a data engineer do?", "How do I build a portfolio?"
    page_a = visit(browser, service.a)
    page_b = visit(browser, service.b)
    try:
        rate(page_a, answered(page_a, up), up=True)
        rate(page_b, answered(page_b, down), up=False)
    finally:
        page_a.context.close()
        page_b.context.close()

    for state in ("state-a", "state-b"):  # neither process kept a database of its own
        assert not (service.root / state / DB_FILE).exists()
    records = {r["question"]: r for r in logs.feedback(service.settings())}
    assert records[up]["score"] == 1 and records[up]["sources"]
    assert records[down]["score"] == 0 and records[down]["sources"]
    assert any(g["question"] == down and g["reason"] == "thumbs-down" for g in logs.gaps(service.settings()))


def test_a_document_added_through_one_process_is_answered_from_by_the_other(service, browser):
    from playwright.sync_api import expect

    page_a = visit(browser, service.a)
    page_b = visit(browser, service.b)  # loaded before the document exists
    try:
        label = page_a.locator(SIDEBAR).get_by_text(re.compile(r"^Indexed documents \(\d+\)$"))
        before = int(re.search(r"\((\d+)\)", label.inner_text()).group(1))
        expect(page_b.locator(SIDEBAR)).to_contain_text(f"Indexed documents ({before})")

        note = service.root / UPLOAD_NAME
        note.write_text(UPLOAD_TEXT)
        sidebar = page_a.locator(SIDEBAR)
        sidebar.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(note))
        sidebar.get_by_role("button", name="Add to the corpus").click()
        expect(sidebar).to_contain_text(f"Added uploads/{UPLOAD_NAME}")

        reply = ask(page_b, "What does Heliograph Labs ask machine learning candidates to explain?")
        expect(reply).to_contain_text("Pemberton drift score")
        expect(reply.locator(f"{CARD} summary").first).to_contain_text("uploaded")
        card = open_card(page_b, reply)
        expect(card).to_contain_text(f"Uploaded document: uploads/{UPLOAD_NAME}")
        settle(page_b, page_b.locator(SIDEBAR))
        expect(page_b.locator(SIDEBAR)).to_contain_text(f"Indexed documents ({before + 1})")
    finally:
        page_a.context.close()
        page_b.context.close()
