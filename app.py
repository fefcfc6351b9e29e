"""The chat page: `streamlit run app.py`.

The only module that imports streamlit. It draws; the `Assistant` answers. Model and index load once per
server (`st.cache_resource`) and are shared by every browser session; each session keeps its own history
in `st.session_state`. Everything from documents or users is shown escaped (see `assistant.render`).
"""

from __future__ import annotations

import logging

import streamlit as st

from assistant import Assistant, AssistantError, Settings
from assistant.answer import Answer
from assistant.logs import append_feedback
from assistant.render import answer_markdown, conversation_markdown, escape_markdown, highlighted_passage, source_label

log = logging.getLogger(__name__)

STARTERS = [
    "What skills do I need to become a machine learning engineer?",
    "How does an ML engineer differ from a data scientist?",
    "How much maths do I need for machine learning?",
    "What should a beginner learn first?",
    "What is MLOps?",
    "How do I prepare for ML system design interviews?",
]
UPLOAD_TYPES = ["md", "markdown", "txt", "pdf", "html", "htm"]


@st.cache_resource(show_spinner="Loading the model and the index (first start builds the index)…")
def get_assistant() -> Assistant:
    return Assistant.load(settings=Settings.from_env())


def _state():
    ss = st.session_state
    ss.setdefault("turns", [])  # dicts: question, answer (Answer | None), error
    ss.setdefault("feedback_logged", set())
    ss.setdefault("upload_key", 0)
    ss.setdefault("k", 5)
    return ss


# ------------------------------------------------------------------------------------------------ drawing


def draw_sources(answer: Answer, turn: int) -> None:
    for n, source in enumerate(answer.sources, start=1):
        with st.expander(source_label(n, source.title, source.heading, source.score, source.uploaded)):
            st.caption(escape_markdown(source.doc))
            st.markdown(highlighted_passage(source.text, source.highlights), unsafe_allow_html=True)


def draw_answer(bot: Assistant, item: dict, turn: int) -> None:
    answer: Answer | None = item.get("answer")
    if answer is None:
        st.error(item.get("error") or "No answer.")
        return
    if answer.abstained:
        st.info(answer.text)
        hints = item.get("suggestions") or []
        if hints:
            st.caption("The corpus can answer questions on:")
            cols = st.columns(len(hints))
            for col, hint in zip(cols, hints):
                col.button(hint, key=f"hint_{turn}_{hint}", on_click=_ask_later, args=(hint,))
        return
    st.markdown(answer_markdown(answer.text))
    if answer.note:
        st.caption(escape_markdown(answer.note))
    draw_sources(answer, turn)
    score = st.feedback("thumbs", key=f"fb_{turn}")
    if score is not None and turn not in st.session_state.feedback_logged:
        st.session_state.feedback_logged.add(turn)
        try:
            append_feedback(bot.settings.state_dir, answer.question, answer.text, [s.id for s in answer.sources], score)
        except OSError as exc:
            log.warning("feedback not saved: %s", exc)
        st.toast("Thanks for the feedback.")


def _ask_later(question: str) -> None:
    st.session_state.pending = question


def sidebar(bot: Assistant) -> None:
    ss = st.session_state
    with st.sidebar:
        st.header("ML career assistant")
        stats = bot.stats()
        st.caption(f"{stats['documents']} documents · {stats['passages']} passages · indexed {stats['built_at'].replace('T', ' ').rstrip('Z')} UTC")
        ss.k = st.slider("Sources per answer", 1, 10, value=ss.k, help="How many passages to retrieve for each question.")
        left, right = st.columns(2)
        if left.button("New chat", use_container_width=True):
            ss.turns = []
            ss.feedback_logged = set()
            st.rerun()
        transcript = conversation_markdown((t["question"], t.get("answer"), t.get("error", "")) for t in ss.turns)
        right.download_button(
            "Download", transcript, file_name="conversation.md", mime="text/markdown", use_container_width=True, disabled=not ss.turns
        )
        st.subheader("Add documents")
        files = st.file_uploader(
            "Markdown, text, PDF or HTML",
            type=UPLOAD_TYPES,
            accept_multiple_files=True,
            key=f"upload_{ss.upload_key}",
            help=f"Up to {bot.settings.max_upload_mb:g} MB each. They are copied into corpus/uploads/ and indexed.",
        )
        if files and st.button("Add to the corpus", type="primary"):
            add_uploads(bot, files)
        with st.expander(f"Documents ({stats['documents']})"):
            docs = bot.documents()
            for row in docs:
                st.caption(f"{escape_markdown(row['doc'])} · {row['passages']} passages")
            choice = st.selectbox("Remove a document", [""] + [r["doc"] for r in docs], key="remove_choice")
            if choice and st.button(f"Remove {choice}", key="remove_button"):
                try:
                    bot.remove(choice)
                    st.success(f"Removed {choice}.")
                except AssistantError as exc:
                    st.error(str(exc))
        with st.expander("About"):
            st.markdown(
                f"Answers are sentences quoted from the corpus, each with its source.  \n"
                f"Embedding model: `{stats['model']}` ({stats['dim']} dimensions), offline.  \n"
                f"Answer mode: `{bot.settings.answer_mode}`."
            )


def add_uploads(bot: Assistant, files) -> None:
    bar = st.progress(0.0, text="Checking the files…")

    def progress(stage: str, done: int, total: int) -> None:
        label = "Reading documents" if stage == "read" else "Embedding new passages"
        bar.progress(min(done / max(total, 1), 1.0), text=f"{label}: {done}/{total}")

    try:
        result = bot.add([(f.name, f.getvalue()) for f in files], progress=progress)
    except AssistantError as exc:
        bar.empty()
        st.error(str(exc))
        return
    bar.empty()
    for rel in result.added:
        st.success(f"Added {rel}: you can ask about it now.")
    for message in result.skipped:
        st.warning(f"Skipped {message}")
    st.session_state.upload_key += 1  # a fresh uploader: the same files are not added twice


def respond(bot: Assistant, question: str) -> None:
    ss = st.session_state
    history = [t["question"] for t in ss.turns]
    with st.chat_message("user"):
        st.markdown(escape_markdown(question))
    item: dict = {"question": question}
    with st.chat_message("assistant"):
        placeholder = st.empty()
        with placeholder.container():
            with st.spinner("Searching the corpus…"):
                try:
                    item["answer"] = bot.ask(question, history=history, k=ss.k)
                    if item["answer"].abstained:
                        item["suggestions"] = bot.suggestions(question)
                except AssistantError as exc:
                    item["answer"], item["error"] = None, str(exc)
                except Exception:  # a bug: keep the traceback in the log, show a friendly line
                    log.exception("answering %r failed", question)
                    item["answer"], item["error"] = None, "Something went wrong while answering; please try again."
        placeholder.empty()
        ss.turns.append(item)
        draw_answer(bot, item, len(ss.turns) - 1)


def main() -> None:
    st.set_page_config(page_title="ML career assistant", page_icon="🧭", layout="centered")
    ss = _state()
    try:
        bot = get_assistant()
        bot.refresh()  # another process (the CLI) may have rebuilt the index
    except AssistantError as exc:
        st.error(f"The assistant cannot start: {exc}")
        st.stop()
    sidebar(bot)

    st.title("🧭 ML career assistant")
    if not ss.turns:
        st.markdown(
            "Ask about becoming a machine learning engineer: the role, skills, maths, tools, MLOps, learning "
            "paths, portfolios and interviews. Every answer quotes its sources."
        )
        cols = st.columns(2)
        for i, starter in enumerate(STARTERS):
            cols[i % 2].button(starter, key=f"starter_{i}", on_click=_ask_later, args=(starter,), use_container_width=True)

    for turn, item in enumerate(ss.turns):
        with st.chat_message("user"):
            st.markdown(escape_markdown(item["question"]))
        with st.chat_message("assistant"):
            draw_answer(bot, item, turn)

    typed = st.chat_input("Ask about becoming an ML engineer…", max_chars=bot.settings.max_question_chars)
    question = ss.pop("pending", None) or typed
    if question is not None:
        if not question.strip():
            st.warning("Type a question first, for example: What skills do I need?")
        else:
            respond(bot, question)


main()
