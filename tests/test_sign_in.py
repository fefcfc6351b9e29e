"""Sign-in for real: Streamlit's OpenID Connect (`st.login`) against a real provider on loopback
(oidc-provider-mock, started here), driven through Debian's Chromium.

A reader sees no editing controls; a signed-in maintainer adds and removes a document; a signed-in reader
(not on the maintainers list) cannot. The provider's page lists two predefined users; the browser picks one,
as a person would on a real provider's sign-in page.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import CORPUS
from streamlit_server import chromium, free_port, require_chromium, serve, stop, wait_for

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
        expect(sidebar.locator('[data-testid="stSelectbox"] input')).to_have_value("uploads/signed-in-note.md")
        sidebar.get_by_role("button", name="Remove").click()
        expect(sidebar).to_contain_text("Removed uploads/signed-in-note.md")
        assert not (root / "corpus" / "uploads" / "signed-in-note.md").exists()
        context.close()
