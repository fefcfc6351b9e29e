"""The chat page through `streamlit.testing.v1.AppTest`: the real app, real model, real index.

Faster than the browser test (tests/test_browser.py) and reaches more branches: abstentions and their
suggestions, the download, removing a document, feedback logged once, errors from the core.
"""

from __future__ import annotations

import logging
import shutil

import pytest
from conftest import CORPUS, REPO

APP = str(REPO / "app.py")


@pytest.fixture(scope="module")
def app_env(tmp_path_factory, real_settings):
    """A writable corpus copy and a copy of the built index, pointed at by ASSISTANT_* variables."""
    root = tmp_path_factory.mktemp("app")
    shutil.copytree(CORPUS, root / "corpus", ignore=shutil.ignore_patterns("uploads"))
    shutil.copytree(real_settings.index_dir, root / "index")
    env = {
        "ASSISTANT_CORPUS_DIR": str(root / "corpus"),
        "ASSISTANT_INDEX_DIR": str(root / "index"),
        "ASSISTANT_STATE_DIR": str(root / "state"),
    }
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    import streamlit as st

    st.cache_resource.clear()
    yield root
    st.cache_resource.clear()
    mp.undo()


def new_app():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(APP, default_timeout=180).run()


def ask(at, question: str):
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def source_labels(at) -> list[str]:
    return [e.label for e in at.expander if e.label.startswith("[")]


def feedback_lines(app_env) -> list[dict]:
    """The feedback records in the state store behind the app's state folder, oldest first."""
    from assistant import logs

    return logs.feedback(app_env / "state")


def opened_at(query: dict):
    """A new browser session opened at an address with these query parameters."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


# ------------------------------------------------------------------------------------------------ getting started


def test_empty_chat_shows_a_one_line_intro_and_starter_questions(app_env):
    at = new_app()
    assert not at.exception
    starters = [b for b in at.button if b.key and b.key.startswith("starter_")]
    assert 4 <= len(starters) <= 6
    intro = at.markdown[0].value
    assert "becoming an ML engineer" in intro and "every answer quotes its sources" in intro and "\n" not in intro
    assert not at.chat_message


def test_starter_button_asks_its_question_and_the_intro_makes_way(app_env):
    at = new_app()
    at.button(key="starter_2").click().run()
    assert not at.exception
    assert at.chat_message[0].markdown[0].value.startswith("How much maths")
    assert any(label.startswith("[1]") for label in source_labels(at))
    # Already in the run that answers, the starters are gone: nothing above the answer moves afterwards.
    assert not [b for b in at.button if b.key and b.key.startswith("starter_")]


def test_empty_question_gets_a_gentle_prompt(app_env):
    at = ask(new_app(), "   ")
    assert at.warning and "Type a question" in at.warning[0].value
    assert not at.chat_message


# ------------------------------------------------------------------------------------------------ answers and sources


def test_asking_renders_a_cited_answer_with_its_sources(app_env):
    at = ask(new_app(), "What skills do I need to become a machine learning engineer?")
    assistant = [m for m in at.chat_message if m.name == "assistant"][0]
    text = assistant.markdown[0].value
    assert 'class="cite" href="#src_0_1" data-card="src_0_1"' in text  # [1] links to its card
    labels = source_labels(at)
    assert labels and labels[0].startswith("[1] How to Become a Machine Learning Engineer")
    assert all("relevance" in label for label in labels)
    cited = {int(n) for n in __import__("re").findall(r">\[(\d+)\]</a>", text)}
    assert cited == set(range(1, len(labels) + 1))  # every citation has its card, every card is cited
    card = at.expander[[e.label for e in at.expander].index(labels[0])]
    assert "<mark>" in " ".join(m.value for m in card.markdown)
    assert "Corpus document: how\\-to\\-become" in card.caption[0].value


def test_history_with_sources_survives_a_rerun(app_env):
    at = ask(new_app(), "What is MLOps?")
    before = source_labels(at)
    at.run()
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert source_labels(at) == before and before


def test_a_follow_up_says_so_and_can_be_asked_as_a_new_question(app_env):
    at = ask(new_app(), "What is a feature store?")
    at = ask(at, "Does a small team really need one?")
    follow_up = at.session_state.turns[1]["answer"]
    assert "feature store" in follow_up.query and follow_up.followup == "What is a feature store?"
    assert [m.name for m in at.chat_message] == ["user", "assistant", "user", "assistant"]
    assert any("Read as a follow-up to" in c.value for c in at.chat_message[3].caption)
    at.button(key=f"fresh_{at.session_state.turns[1]['id']}").click().run()
    fresh = at.session_state.turns[2]["answer"]
    assert fresh.question == "Does a small team really need one?" and not fresh.followup and "feature" not in fresh.query


def test_an_unrelated_second_question_is_answered_as_in_a_new_chat(app_env):
    alone = ask(new_app(), "What is data leakage?").session_state.turns[0]["answer"]
    at = ask(ask(new_app(), "How much maths do I need for machine learning?"), "What is data leakage?")
    second = at.session_state.turns[1]["answer"]
    assert not second.followup and second.text == alone.text and second.sources == alone.sources


def test_markup_in_a_question_is_shown_as_text(app_env):
    at = ask(new_app(), "<script>alert(1)</script> what is **MLOps**?")
    user = at.chat_message[0].markdown[0].value
    assert "<script>" not in user and "&lt;script&gt;" in user
    assert "\\*\\*MLOps\\*\\*" in user


def test_out_of_scope_question_abstains_without_unrelated_suggestions(app_env):
    at = ask(new_app(), "How do I bake sourdough bread at home?")
    assert at.info and "I don't know from these sources: nothing in them is close" in at.info[0].value
    assert not source_labels(at)
    assert not [b for b in at.button if b.key and b.key.startswith("hint_")]  # nothing near it would help


def test_a_near_miss_question_is_refused_with_its_true_reason_and_related_suggestions(app_env):
    at = ask(new_app(), "How much does a junior machine learning engineer earn in London?")
    assert at.info and "they give no figures for pay or prices" in at.info[0].value
    assert any("no salary or price figures" in c.value for c in at.caption)
    assert not source_labels(at)
    hints = [b for b in at.button if b.key and b.key.startswith("hint_")]
    assert hints and all(b.label.endswith("?") for b in hints)


def test_a_suggestion_button_asks_the_suggested_question(app_env):
    at = ask(new_app(), "Can you write me a cover letter for a junior ML engineer job?")
    hint = [b for b in at.button if b.key and b.key.startswith("hint_")][0]
    suggested = hint.label
    hint.click().run()
    assert not at.exception
    users = [m for m in at.chat_message if m.name == "user"]
    assert len(users) == 2 and users[1].markdown[0].value.replace("\\", "") == suggested
    second = at.session_state.turns[1]["answer"]
    assert not second.abstained and second.question == suggested
    assert "cover" not in second.query  # asked on its own, not as a follow-up of the refused question
    assert any(label.startswith("[1]") for label in source_labels(at))


# ------------------------------------------------------------------------------------------------ conversation


def test_new_chat_clears_the_history(app_env):
    at = ask(new_app(), "What is MLOps?")
    at.button[[b.label for b in at.button].index("New chat")].click().run()
    assert not at.exception
    assert not at.chat_message
    assert [b for b in at.button if b.key and b.key.startswith("starter_")]
    assert at.download_button(key="download").disabled


def test_the_conversation_downloads_as_markdown_with_its_citations(app_env, monkeypatch):
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    files: list[tuple[bytes, str | None]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        files.append((path_or_data, mimetype, filename))
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    at = new_app()
    assert at.download_button(key="download").disabled  # nothing to download yet
    files.clear()
    at = ask(at, "What is MLOps?")
    button = at.download_button(key="download")
    assert not button.disabled
    data, mime, name = files[-1]  # drawn after the answer: the file has this run's exchange
    text = data.decode() if isinstance(data, bytes) else data
    assert name == "conversation.md" and mime.startswith("text/markdown")
    answer = at.session_state.turns[0]["answer"]
    assert text.startswith("# ML career assistant: conversation")
    assert "## Q: What is MLOps?" in text and answer.text in text
    assert "[1] " in text and f"({answer.sources[0].doc})" in text and "> " in text


# ------------------------------------------------------------------------------------------------ saved chats


def test_a_chat_gets_its_address_with_its_first_question_and_a_reload_brings_it_back(app_env):
    at = new_app()
    assert "chat" not in at.query_params  # an empty page creates nothing
    at = ask(at, "What is MLOps?")
    at = ask(at, "What is a feature store?")
    at.feedback[0].set_value(0).run()
    chat = at.query_params["chat"]
    chat = chat[0] if isinstance(chat, list) else chat
    first = at.session_state.turns[0]["answer"]
    again = opened_at({"chat": chat})  # a reload: a new session at the same address
    assert [m.name for m in again.chat_message] == ["user", "assistant"] * 2
    assert again.chat_message[0].markdown[0].value == "What is MLOps?"
    assert again.session_state.turns[0]["answer"] == first  # text, sources, highlights: exactly as they were
    assert source_labels(again) == source_labels(at)
    assert again.feedback[0].disabled and again.feedback[0].value == 0  # the feedback it had, locked
    assert not again.feedback[1].disabled
    # And it continues: the next turn is saved after the two there.
    again = ask(again, "How do I deploy a model?")
    assert again.session_state.turns[-1]["position"] == 2


def test_a_shared_link_opens_the_chat_read_only_and_a_question_there_starts_a_new_chat(app_env):
    at = ask(new_app(), "What is MLOps?")
    token = at.session_state.share_token
    chat = at.session_state.chat_id
    shared = opened_at({"share": token})
    assert "A shared chat" in shared.info[0].value and "What is MLOps?" in shared.info[0].value
    assert shared.chat_message[0].markdown[0].value == "What is MLOps?"
    assert not shared.feedback  # a reader of a shared chat does not rate it
    assert shared.session_state.chat_id is None  # its writable address is not given out
    shared = ask(shared, "What should a beginner learn first?")
    assert [m.markdown[0].value for m in shared.chat_message if m.name == "user"] == ["What should a beginner learn first?"]
    own = shared.session_state.chat_id
    assert own and own != chat
    assert "share" not in shared.query_params and shared.query_params["chat"] in (own, [own])
    assert len(opened_at({"chat": chat}).session_state.turns) == 1  # the shared chat is untouched


def test_the_share_popover_holds_the_read_only_link(app_env):
    at = new_app()
    assert not [c for c in at.code if "share=" in c.value]  # nothing to share before the first question
    at = ask(at, "What is MLOps?")
    code = [c.value for c in at.code if "share=" in c.value]
    assert code == [f"/?share={at.session_state.share_token}"]  # (AppTest has no page URL; a browser adds it)


def test_an_address_that_opens_no_chat_says_so_and_starts_afresh(app_env):
    at = opened_at({"chat": "x" * 22})
    assert at.warning and "no chat at this address" in at.warning[0].value
    assert not at.chat_message and "chat" not in at.query_params
    assert [b for b in at.button if b.key and b.key.startswith("starter_")]
    assert "no chat at this address" in opened_at({"share": "not a token"}).warning[0].value


def test_new_chat_leaves_the_saved_chat_and_its_address(app_env):
    at = ask(new_app(), "What is MLOps?")
    chat = at.session_state.chat_id
    at.button(key="new_chat").click().run()
    assert "chat" not in at.query_params and at.session_state.chat_id is None
    at = ask(at, "What should a beginner learn first?")
    assert at.session_state.chat_id != chat
    assert [t.question for t in _store(app_env).conversation(chat).turns] == ["What is MLOps?"]


def test_when_the_database_is_unavailable_the_answer_still_comes_and_says_it_was_not_saved(app_env, monkeypatch):
    import streamlit as st

    monkeypatch.setenv("ASSISTANT_DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:9/nowhere")
    st.cache_resource.clear()
    at = ask(new_app(), "What is MLOps?")
    item = at.session_state.turns[0]
    assert item["answer"] is not None and not item["answer"].abstained
    assert "Not saved" in item["unsaved"] and "secret" not in item["unsaved"]
    assert any("Not saved" in c.value for c in at.chat_message[1].caption)
    assert "chat" not in at.query_params
    monkeypatch.undo()
    st.cache_resource.clear()


def _store(app_env):
    from assistant.config import Settings
    from assistant.state import open_store

    return open_store(Settings.from_env(state_dir=app_env / "state"))


# ------------------------------------------------------------------------------------------------ feedback


def test_thumbs_down_is_logged_once_with_question_and_sources_and_joins_the_gaps(app_env):
    before = len(feedback_lines(app_env))
    at = ask(new_app(), "How much maths do I need for machine learning?")
    at.feedback[0].set_value(0).run()
    assert not at.exception
    records = feedback_lines(app_env)[before:]
    assert len(records) == 1
    record = records[0]
    assert record["question"].startswith("How much maths") and record["score"] == 0 and record["sources"]
    assert record["sources"] == [s.id for s in at.session_state.turns[0]["answer"].sources]
    from assistant import logs

    assert any(g["question"].startswith("How much maths") and g["reason"] == "thumbs-down" for g in logs.gaps(app_env / "state"))
    # Reruns do not log it again; the choice stays shown and locked.
    at.run()
    assert at.feedback[0].disabled and at.feedback[0].value == 0
    # A change of mind that reached the server anyway (a second click racing the rerun) is not logged.
    at.session_state["fb_0"] = 1
    at.run()
    assert len(feedback_lines(app_env)[before:]) == 1
    assert at.feedback[0].disabled and at.feedback[0].value == 0
    assert any("Thanks" in c.value for c in at.caption)


def test_each_answer_gets_its_own_feedback_even_after_a_new_chat(app_env):
    before = len(feedback_lines(app_env))
    at = ask(new_app(), "What is MLOps?")
    at.feedback[0].set_value(1).run()
    at.button[[b.label for b in at.button].index("New chat")].click().run()
    at = ask(at, "What should a beginner learn first?")
    assert not at.feedback[0].disabled and at.feedback[0].value is None
    at.feedback[0].set_value(1).run()
    records = feedback_lines(app_env)[before:]
    assert [r["question"] for r in records] == ["What is MLOps?", "What should a beginner learn first?"]


# ------------------------------------------------------------------------------------------------ sidebar


def test_sidebar_shows_corpus_summary_settings_and_model(app_env):
    at = new_app()
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "documents" in captions and "passages" in captions and "Last indexed" in captions
    assert at.sidebar.slider[0].label == "Passages searched per question"
    about = " ".join(m.value for m in at.sidebar.markdown)
    assert "all-MiniLM-L6-v2" in about


def test_the_passages_setting_limits_what_is_searched_and_cited(app_env):
    at = new_app()
    at.sidebar.slider[0].set_value(1).run()
    at = ask(at, "What skills do I need to become a machine learning engineer?")
    assert len(source_labels(at)) == 1
    answer = at.session_state.turns[0]["answer"]
    assert len(answer.retrieved) == 1 and not answer.related


def test_uploaded_markdown_is_answerable_at_once_and_marked_as_uploaded(app_env):
    at = new_app()
    docs_before = documents_count(at)
    note = b"# Quantum annealing for recruiters\n\nQuantum annealing recruiters look for engineers who can explain qubit scheduling to hiring panels in plain words."
    at = add_through_the_sidebar(at, "quantum.md", note)
    assert any("Added uploads/quantum.md" in s.value for s in at.success)
    assert documents_count(at) == docs_before + 1  # the summary is current
    at = ask(at, "What do quantum annealing recruiters look for?")
    labels = source_labels(at)
    assert labels and "uploaded" in labels[0]
    card = at.expander[[e.label for e in at.expander].index(labels[0])]
    assert card.caption[0].value.startswith("Uploaded document: uploads/quantum.md")


def test_uploading_the_same_content_again_is_refused_politely(app_env):
    text = (CORPUS / "notes" / "mlops.md").read_bytes()
    at = add_through_the_sidebar(new_app(), "copy.md", text)
    assert any("Skipped" in w.value and "duplicate" in w.value for w in at.warning)


def add_through_the_sidebar(at, name: str, data: bytes):
    at.sidebar.get("file_uploader")[0].set_value((name, data, "text/markdown")).run()
    at.sidebar.button[[b.label for b in at.sidebar.button].index("Add to the corpus")].click().run()
    assert not at.exception
    return at


def documents_count(at) -> int:
    return int(at.sidebar.expander[0].label.split("(")[1].rstrip(")"))


def test_a_document_can_be_removed_from_the_panel(app_env):
    spare = b"# Spare note\n\nThe spare note says that zebra pipelines are a made-up term used only in this test document."
    at = add_through_the_sidebar(new_app(), "spare.md", spare)
    count = documents_count(at)
    panel = at.sidebar.expander[0]
    assert "uploads/spare.md" in panel.selectbox(key="remove_choice").options
    assert at.sidebar.button(key="remove_button").disabled  # nothing chosen yet
    panel.selectbox(key="remove_choice").select("uploads/spare.md").run()
    at.sidebar.button(key="remove_button").click().run()
    assert not at.exception
    assert any("Removed uploads/spare.md" in s.value for s in at.success)
    assert documents_count(at) == count - 1
    assert "uploads/spare.md" not in at.sidebar.expander[0].selectbox(key="remove_choice").options
    assert not (app_env / "corpus" / "uploads" / "spare.md").exists()
    at = ask(at, "What are zebra pipelines?")
    assert all("spare" not in label.lower() for label in source_labels(at))


def test_a_running_app_notices_an_index_changed_by_the_cli(app_env):
    import os
    import subprocess
    import sys

    at = new_app()
    before = documents_count(at)
    note = app_env / "outside-note.md"
    note.write_text("# Okapi ranking drills\n\nOkapi ranking drills are a made-up exercise that exists only in this test note.\n")
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "add", "--quiet", str(note)], cwd=REPO, env=dict(os.environ), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    at.run()  # the next rerun of the same session, as when the user types again
    assert documents_count(at) == before + 1
    at = ask(at, "What are okapi ranking drills?")
    assert source_labels(at) and "Okapi ranking drills" in source_labels(at)[0]


# ------------------------------------------------------------------------------------------------ errors


def test_an_unexpected_failure_shows_a_friendly_line_and_logs_the_traceback(app_env, monkeypatch, caplog):
    from assistant import Assistant

    def broken(self, *args, **kwargs):
        raise RuntimeError("boom in the core")

    monkeypatch.setattr(Assistant, "ask", broken)
    with caplog.at_level(logging.ERROR):
        at = ask(new_app(), "What is MLOps?")
    assert at.error and "Something went wrong" in at.error[0].value and "boom" not in at.error[0].value
    assert any(r.exc_info and "boom in the core" in str(r.exc_info[1]) for r in caplog.records)


def test_an_error_from_the_core_is_shown_with_its_message(app_env, monkeypatch):
    from assistant import Assistant
    from assistant.errors import InputError

    def refuse(self, *args, **kwargs):
        raise InputError("k must be at least 1")

    monkeypatch.setattr(Assistant, "ask", refuse)
    at = ask(new_app(), "What is MLOps?")
    assert at.error and "k must be at least 1" in at.error[0].value


def test_a_damaged_index_shows_the_error_and_how_to_fix_it(app_env, tmp_path, monkeypatch):
    import streamlit as st

    damaged = tmp_path / "index"
    shutil.copytree(app_env / "index", damaged)
    (damaged / "CURRENT").write_text("../elsewhere\n")
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(damaged))
    st.cache_resource.clear()
    try:
        at = new_app()
        assert not at.exception
        assert at.error and "The assistant cannot start" in at.error[0].value
        assert "is damaged" in at.error[0].value and "assistant index" in at.error[0].value
        assert not at.chat_input  # nothing to ask with
    finally:
        st.cache_resource.clear()



# ------------------------------------------------------------------------------------------------ sharing one copy


@pytest.fixture
def served_to_a_network():
    """The page as `streamlit run app.py --server.address 0.0.0.0` serves it, with no sign-in configured."""
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    yield
    config.set_option("server.address", before)


def test_served_on_this_machine_without_sign_in_the_page_may_change_documents(app_env):
    at = new_app()
    assert at.get("file_uploader") and any(b.key == "remove_button" for b in at.button)
    assert "Served on this machine only" in " ".join(m.value for m in at.sidebar.markdown)


def test_served_to_a_network_without_sign_in_the_page_is_read_only(app_env, served_to_a_network):
    at = new_app()
    assert not at.get("file_uploader")
    assert not [b for b in at.button if b.key == "remove_button"] and not at.sidebar.selectbox
    assert "cannot be changed here" in " ".join(m.value for m in at.sidebar.markdown)
    ask(at, "What is MLOps?")  # asking still works
    assert source_labels(at)


def test_a_session_that_asks_faster_than_the_limit_is_told_to_wait(app_env, monkeypatch):
    monkeypatch.setenv("ASSISTANT_QUESTIONS_PER_MINUTE", "2")
    import streamlit as st

    st.cache_resource.clear()
    at = new_app()
    for _ in range(2):
        ask(at, "What is MLOps?")
    ask(at, "What is MLOps?")
    assert at.error and "more questions than one chat may ask in a minute" in at.error[0].value
    assert at.session_state.turns[2]["answer"] is None
    st.cache_resource.clear()


def test_when_every_answer_slot_is_taken_the_question_is_told_to_try_again(app_env, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MAX_CONCURRENT_ANSWERS", "1")
    import streamlit as st

    st.cache_resource.clear()
    at = new_app()
    gate = at.session_state  # the gate is shared by the server: take its one slot as another session would
    from assistant.access import Gate

    held = Gate(1)
    monkeypatch.setattr(Gate, "try_enter", lambda self: False)
    ask(at, "What is MLOps?")
    assert at.warning and "busy" in at.warning[0].value
    assert [b for b in at.button if b.key and b.key.startswith("again_")]
    monkeypatch.undo()
    del gate, held
    st.cache_resource.clear()


# ------------------------------------------------------------------------------------------------ the page, second round


def test_a_paste_longer_than_a_question_is_kept_cut_and_said_so(app_env):
    advert = "We are hiring a machine learning engineer to build recommendation models. " * 60  # ~4,500 characters
    at = ask(new_app(), advert + " What skills does this job need?")
    item = at.session_state.turns[0]
    assert item["answer"] is not None and "characters long; the first 2,000 were used" in item["cut"]
    assert any("were used" in c.value for c in at.chat_message[1].caption)


def test_an_upload_of_the_wrong_type_or_size_is_refused_in_words(app_env, monkeypatch):
    at = add_through_the_sidebar(new_app(), "cv.docx", b"PK\x03\x04 not a corpus document")
    assert any("cv.docx" in w.value and "unsupported file type" in w.value for w in at.warning)
    monkeypatch.setenv("ASSISTANT_MAX_UPLOAD_MB", "0.001")
    import streamlit as st

    st.cache_resource.clear()
    at = add_through_the_sidebar(new_app(), "big.md", b"# Big\n\n" + b"word " * 2000)
    assert any("big.md" in w.value and "MB limit" in w.value for w in at.warning)
    st.cache_resource.clear()


def test_a_chosen_thumb_says_which_it_was(app_env):
    at = ask(new_app(), "What is MLOps?")
    at.feedback[0].set_value(0).run()
    assert any(c.value == "Thanks, noted: not helpful." for c in at.caption)


def test_sign_in_required_but_not_configured_shows_why_and_nothing_else(app_env, monkeypatch):
    monkeypatch.setenv("ASSISTANT_REQUIRE_SIGN_IN", "1")
    import streamlit as st

    st.cache_resource.clear()
    at = new_app()
    assert at.error and "Sign-in is required (ASSISTANT_REQUIRE_SIGN_IN) but not configured" in at.error[0].value
    assert not at.chat_input and not at.get("file_uploader")  # never open to everyone by a missing file
