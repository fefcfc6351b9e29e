"""Sign-in for real: Streamlit's OpenID Connect (`st.login`) against a real provider on loopback
(oidc-provider-mock, started here), driven through Debian's Chromium.

A reader sees no editing controls; a signed-in maintainer adds and removes a document; a signed-in reader
(not on the maintainers list) cannot. A signed-in person's chats are listed in the sidebar, renamed and deleted
there, and nobody else's to see. The provider's page lists two predefined users; the browser picks one,
as a person would on a real provider's sign-in page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import CORPUS
from streamlit_server import chromium, free_port, require_chromium, serve, stop, wait_for
from test_browser import MESSAGE, ask

pytestmark = pytest.mark.browser

MAINTAINER = "maintainer@example.org"
READER = "reader@example.org"
TIMEOUT = 60_000  # ms: the first page loads the model and the index


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """A real OIDC provider on a free loopback port with two predefined users; yields its address."""
    require_chromium()
    root = tmp_path_factory.mktemp("oidc")
    port = free_port()
    users = [{"sub": "maintainer", "email": MAINTAINER, "name": "Maintainer"}, {"sub": "reader", "email": READER, "name": "Reader"}]
    exe = os.path.join(os.path.dirname(sys.executable), "oidc-provider-mock")
    cmd = [exe, "--port", str(port), *[arg for u in users for arg in ("--user-claims", json.dumps(u))]]
    log_path = root / "oidc.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/.well-known/openid-configuration", proc, log_path, "oidc-provider-mock", timeout=30)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def site(tmp_path_factory, real_settings, provider):
    """The page with sign-in configured ([auth] in .streamlit/secrets.toml of its working folder), served to a
    network address as a group would (so only the maintainers list decides who edits)."""
    root = tmp_path_factory.mktemp("signin")
    shutil.copytree(CORPUS, root / "corpus", ignore=shutil.ignore_patterns("uploads"))
    shutil.copytree(real_settings.index_dir, root / "index")
    port = free_port()
    (root / ".streamlit").mkdir()
    (root / ".streamlit" / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-test-cookie-secret-that-is-long-enough"\n'
        'client_id = "ml-career-assistant"\n'
        'client_secret = "test-client-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    env = {
        "ASSISTANT_CORPUS_DIR": str(root / "corpus"),
        "ASSISTANT_INDEX_DIR": str(root / "index"),
        "ASSISTANT_STATE_DIR": str(root / "state"),
        "ASSISTANT_MAINTAINERS": MAINTAINER,
    }
    with serve(root, env, cwd=root, port=port) as url:
        yield url, root


def open_signed_in(browser, url: str, who: str | None):
    """A fresh browser context on the page, signed in as `who` ("maintainer", "reader") or not at all."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(url)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sign_in = sidebar.get_by_role("button", name="Sign in")
    sign_in.wait_for()
    if who:
        sign_in.click()
        page.get_by_role("button", name=who, exact=True).click()  # the provider's sign-in page
        page.wait_for_url(f"{url}/**")
        expect(sidebar).to_contain_text("Signed in as")
    return context, page


def test_a_visitor_who_has_not_signed_in_sees_no_editing_controls(site):
    from playwright.sync_api import expect

    url, _ = site
    with chromium() as browser:
        context, page = open_signed_in(browser, url, None)
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar).to_contain_text("Indexed documents")
        assert page.locator('[data-testid="stFileUploaderDropzoneInput"]').count() == 0
        assert sidebar.get_by_role("button", name="Remove").count() == 0
        context.close()


def test_a_signed_in_reader_cannot_change_the_documents(site):
    from playwright.sync_api import expect

    url, _ = site
    with chromium() as browser:
        context, page = open_signed_in(browser, url, "reader")
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar).to_contain_text(f"Signed in as {READER}")
        expect(sidebar).not_to_contain_text("· maintainer")
        assert page.locator('[data-testid="stFileUploaderDropzoneInput"]').count() == 0
        assert sidebar.get_by_role("button", name="Remove").count() == 0
        context.close()


def test_a_signed_in_maintainer_adds_and_removes_a_document(site):
    from playwright.sync_api import expect

    url, root = site
    with chromium() as browser:
        context, page = open_signed_in(browser, url, "maintainer")
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar).to_contain_text(f"Signed in as {MAINTAINER} · maintainer")
        note = root / "signed-in-note.md"
        note.write_text("# Orbital recruiting\n\nOrbital recruiters look for engineers who explain satellite telemetry models plainly.\n")
        sidebar.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(note))
        sidebar.get_by_role("button", name="Add to the corpus").click()
        expect(sidebar).to_contain_text("Added uploads/signed-in-note.md")
        assert (root / "corpus" / "uploads" / "signed-in-note.md").is_file()
        sidebar.get_by_text("Indexed documents").click()
        choose = sidebar.get_by_role("combobox", name="Remove a document")
        choose.click()
        choose.press_sequentially("uploads/signed", delay=50)  # the list is long: type to find it, as a person would
        option = page.get_by_role("option", name="uploads/signed-in-note.md")
        if not option.is_visible():
            choose.press("ArrowDown")
        option.click()
        # While a rerun draws, Streamlit keeps the last run's copies of these widgets (marked stale) where the
        # one-off "Added" notice had moved them: use the live ones.
        live = '[data-stale="false"]'
        expect(sidebar.locator(f".st-key-remove_choice{live} input")).to_have_value("uploads/signed-in-note.md")
        sidebar.locator(f".st-key-remove_button{live}").get_by_role("button", name="Remove").click()
        expect(sidebar).to_contain_text("Removed uploads/signed-in-note.md")
        assert not (root / "corpus" / "uploads" / "signed-in-note.md").exists()
        context.close()


def test_a_signed_in_persons_chats_are_listed_renamed_deleted_and_theirs_alone(site):
    """The sidebar's "Your chats": two chats (with "New chat" between) listed newest first, the one on screen
    marked; one renamed, the other deleted; another signed-in person sees neither, in their list or at the
    chat's address."""
    from playwright.sync_api import expect

    url, _ = site
    first, second, renamed = "What is a feature store?", "What is overfitting?", "My feature store notes"
    chats = '[class*="st-key-open_"] button'  # one title button per listed chat
    more = "[data-testid='stPopoverButton']:visible"  # each chat's "…" (Streamlit also draws a hidden copy)
    address = re.compile(r"\?chat=([A-Za-z0-9_-]{16,})$")
    with chromium() as browser:
        context, page = open_signed_in(browser, url, "reader")
        sidebar = page.locator('[data-testid="stSidebar"]')
        ask(page, first)
        expect(page).to_have_url(address)
        first_id = address.search(page.url).group(1)
        sidebar.get_by_role("button", name="New chat").click()
        expect(page).not_to_have_url(address)
        expect(page.locator(".st-key-starters button").first).to_be_visible()
        ask(page, second)
        expect(page).to_have_url(address)
        second_id = address.search(page.url).group(1)
        assert second_id != first_id

        expect(sidebar).to_contain_text("Your chats")
        expect(sidebar.locator(chats)).to_have_count(2)
        expect(sidebar.locator(chats)).to_contain_text([second, first])  # newest first
        expect(sidebar.locator(f".st-key-open_{second_id} button")).to_be_disabled()  # the one on screen

        sidebar.locator(f".st-key-chat_{first_id} {more}").click()
        menu = page.locator('[data-testid="stPopoverBody"]')
        title = menu.get_by_label("Title")
        expect(title).to_have_value(first)
        title.fill(renamed)
        title.press("Enter")
        menu.get_by_role("button", name="Rename").click()
        expect(sidebar.locator(chats)).to_contain_text([second, renamed])
        expect(sidebar.locator(chats)).not_to_contain_text([first])

        page.keyboard.press("Escape")
        sidebar.locator(f".st-key-chat_{second_id} {more}").click()
        menu.get_by_role("button", name="Delete").click()
        expect(sidebar.locator(chats)).to_have_count(1)
        expect(sidebar.locator(chats)).to_contain_text([renamed])
        expect(page).not_to_have_url(address)  # the chat on screen was the one deleted: a new chat
        expect(page.locator(MESSAGE)).to_have_count(0)

        sidebar.locator(f".st-key-open_{first_id} button").click()  # the renamed one still opens
        expect(page).to_have_url(re.compile(rf"\?chat={first_id}$"))
        expect(page.locator(MESSAGE).nth(0)).to_contain_text(first)
        context.close()

        context, page = open_signed_in(browser, url, "maintainer")
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar).to_contain_text(f"Signed in as {MAINTAINER}")
        expect(sidebar).not_to_contain_text(renamed)
        page.goto(f"{url}/?chat={first_id}")
        expect(page.get_by_text("There is no chat at this address that you can open")).to_be_visible()
        expect(page.locator(MESSAGE)).to_have_count(0)
        expect(page.locator("body")).not_to_contain_text(first)
        own = "What is gradient descent?"
        ask(page, own)  # their own chat is listed, alone
        expect(sidebar.locator(chats)).to_have_count(1)
        expect(sidebar.locator(chats)).to_contain_text([own])
        expect(page).not_to_have_url(re.compile(first_id))
        context.close()
