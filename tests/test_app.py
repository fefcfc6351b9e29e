"""The chat page through `streamlit.testing.v1.AppTest`: the real app, real model, real index."""

from __future__ import annotations

import json
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
    env = {"ASSISTANT_CORPUS_DIR": str(root / "corpus"), "ASSISTANT_INDEX_DIR": str(root / "index"), "ASSISTANT_STATE_DIR": str(root / "state")}
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


def test_empty_chat_shows_intro_and_starter_questions(app_env):
    at = new_app()
    assert not at.exception
    starters = [b for b in at.button if b.key and b.key.startswith("starter_")]
    assert 4 <= len(starters) <= 6
    assert "Every answer quotes its sources" in " ".join(m.value for m in at.markdown)


def test_asking_renders_a_cited_answer_with_its_sources(app_env):
    at = ask(new_app(), "What skills do I need to become a machine learning engineer?")
    assistant = [m for m in at.chat_message if m.name == "assistant"][0]
    text = assistant.markdown[0].value
    assert "**[1]**" in text
    labels = [e.label for e in at.expander if e.label.startswith("[")]
    assert labels and labels[0].startswith("[1] How to Become a Machine Learning Engineer")
    assert "<mark>" in " ".join(m.value for m in assistant.markdown)


def test_history_with_sources_survives_a_rerun(app_env):
    at = ask(new_app(), "What is MLOps?")
    at.run()
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert any(e.label.startswith("[1]") for e in at.expander)


def test_starter_button_asks_its_question(app_env):
    at = new_app()
    at.button(key="starter_2").click().run()
    assert not at.exception
    assert at.chat_message[0].markdown[0].value.startswith("How much maths")
    assert any(e.label.startswith("[1]") for e in at.expander)


def test_out_of_scope_question_abstains_and_suggests_questions(app_env):
    at = ask(new_app(), "How do I bake sourdough bread at home?")
    assert at.info and "I don't know from these sources" in at.info[0].value
    assert not any(e.label.startswith("[1]") for e in at.expander)


def test_empty_question_gets_a_gentle_prompt(app_env):
    at = ask(new_app(), "   ")
    assert at.warning and "Type a question" in at.warning[0].value


def test_markup_in_a_question_is_shown_as_text(app_env):
    at = ask(new_app(), "<script>alert(1)</script> what is **MLOps**?")
    user = at.chat_message[0].markdown[0].value
    assert "<script>" not in user and "&lt;script&gt;" in user
    assert "\\*\\*MLOps\\*\\*" in user


def test_thumbs_down_is_logged_with_question_and_sources_and_joins_the_gaps(app_env):
    at = ask(new_app(), "How much maths do I need for machine learning?")
    at.feedback[0].set_value(0).run()
    assert not at.exception
    lines = (app_env / "state" / "feedback.jsonl").read_text().splitlines()
    record = json.loads(lines[-1])
    assert record["question"].startswith("How much maths") and record["score"] == 0 and record["sources"]
    gaps = (app_env / "state" / "gaps.jsonl").read_text()
    assert "How much maths" in gaps


def test_new_chat_clears_the_history(app_env):
    at = ask(new_app(), "What is MLOps?")
    at.button[[b.label for b in at.button].index("New chat")].click().run()
    assert not at.chat_message


def test_sidebar_shows_corpus_summary_and_model(app_env):
    at = new_app()
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "documents" in captions and "passages" in captions
    about = " ".join(m.value for m in at.sidebar.markdown)
    assert "all-MiniLM-L6-v2" in about


def test_uploaded_markdown_is_answerable_at_once_and_marked_as_uploaded(app_env):
    at = new_app()
    note = b"# Quantum annealing for recruiters\n\nQuantum annealing recruiters look for engineers who can explain qubit scheduling to hiring panels in plain words."
    at.sidebar.get("file_uploader")[0].set_value(("quantum.md", note, "text/markdown")).run()
    at.sidebar.button[[b.label for b in at.sidebar.button].index("Add to the corpus")].click().run()
    assert not at.exception
    assert any("Added uploads/quantum.md" in s.value for s in at.success)
    at = ask(at, "What do quantum annealing recruiters look for?")
    labels = [e.label for e in at.expander if e.label.startswith("[")]
    assert labels and "uploaded" in labels[0]
