"""The chat page: `streamlit run app.py`.

The only module that imports streamlit. It draws; the `Assistant` answers. Model and index load once per
server (`st.cache_resource`) and are shared by every browser session; each session keeps its own history
in `st.session_state`. Everything from documents or users is shown escaped (see `assistant.render`).

Layout of one exchange (the same elements whether it is being answered now or redrawn from the history,
so a rerun never shifts or collapses anything):

    user message
    assistant message
      └ slot (st.empty) ─ answer text with [n] · "Sources" · source cards [1] [2] … · thumbs up/down
"""

from __future__ import annotations

import logging
import math

import streamlit as st

from assistant import Assistant, AssistantError, Settings
from assistant.answer import Answer
from assistant.logs import append_feedback
from assistant.render import (
    answer_markdown,
    conversation_markdown,
    escape_markdown,
    highlighted_passage,
    source_label,
    suggestion_question,
)

log = logging.getLogger(__name__)

TITLE = "ML career assistant"
ICON = ":material/explore:"
STARTERS = [
    "What skills do I need to become a machine learning engineer?",
    "How does an ML engineer differ from a data scientist?",
    "How much maths do I need for machine learning?",
    "What should a beginner learn first?",
    "What is MLOps?",
    "How do I prepare for ML system design interviews?",
]
UPLOAD_TYPES = ["md", "markdown", "txt", "pdf", "html", "htm"]
UNEXPECTED = "Something went wrong on our side; please try again. (The details are in the server log.)"

# Small touches the theme has no option for: soft highlights, source-card labels that wrap instead of being
# cut off at phone width, left-aligned question buttons, and a title that fits a phone screen.
CSS = """
<style>
mark { background: #fff3b0; color: inherit; padding: 0 .1em; border-radius: .2em; }
a.cite { font-weight: 600; text-decoration: none; }
[class*="st-key-src_"] { scroll-margin-top: 4.5rem; }
a.cite:hover, a.cite:focus { text-decoration: underline; }
[data-testid="stExpander"] summary p { white-space: normal; overflow-wrap: anywhere; }
.st-key-starters button, [class*="st-key-hints_"] button { justify-content: flex-start; text-align: left; }
@media (max-width: 640px) { h1 { font-size: 2rem !important; } }
</style>
"""


@st.cache_resource(show_spinner="Loading the model and the index (first start builds the index)…")
def get_assistant() -> Assistant:
    return Assistant.load(settings=Settings.from_env())


def _state():
    ss = st.session_state
    ss.setdefault("turns", [])  # dicts: id, question, answer (Answer | None), error, suggestions, feedback
    ss.setdefault("next_id", 0)
    ss.setdefault("upload_key", 0)
    ss.setdefault("notices", [])  # (kind, text) shown once in the sidebar after an add or a remove
    ss.setdefault("k", 5)
    return ss


#: A click on a citation [n] opens its source card and scrolls to it (desktop and phone). Our own script, no
#: user text in it; installed once per page.
CITATION_SCRIPT = """
<script>
if (!window.__citationLinks) {
  window.__citationLinks = true;
  document.addEventListener("click", function (event) {
    const link = event.target.closest("a.cite");
    if (!link) return;
    event.preventDefault();
    const card = document.querySelector(".st-key-" + link.dataset.card);
    if (!card) return;
    const details = card.querySelector("details");
    if (details && !details.open) card.querySelector("summary").click();
    // The card grows as it opens and the page may scroll with it: bring it into view again once it settles.
    const show = () => card.scrollIntoView({behavior: "smooth", block: "start"});
    show();
    setTimeout(show, 350);
    setTimeout(show, 800);
  });
}
</script>
"""

# ------------------------------------------------------------------------------------------------ drawing


def card_key(turn_id: int, n: int) -> str:
    return f"src_{turn_id}_{n}"


def draw_sources(answer: Answer, turn_id: int) -> None:
    st.caption("Sources")
    for n, source in enumerate(answer.sources, start=1):
        icon = ":material/upload_file:" if source.uploaded else ":material/description:"
        with st.expander(source_label(n, source.title, source.heading, source.score, source.uploaded), icon=icon, key=card_key(turn_id, n)):
            origin = "Uploaded document" if source.uploaded else "Corpus document"
            st.caption(f"{origin}: {escape_markdown(source.doc)} · highlighted: the sentences the answer quotes")
            st.markdown(highlighted_passage(source.text, source.highlights), unsafe_allow_html=True)
    if answer.related:
        lines = [escape_markdown(f"{s.title} › {s.heading}" if s.heading else s.title) for s in answer.related]
        st.caption("Related, not quoted: " + " · ".join(lines))


@st.fragment
def draw_feedback(bot: Assistant, item: dict) -> None:
    """Thumbs up/down, logged once per answer: after the first click the choice is kept and shown."""
    ss = st.session_state
    key = f"fb_{item['id']}"
    logged = item.get("feedback")
    if logged is not None and ss.get(key) != logged:
        ss[key] = logged  # the logged choice is the one shown
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        score = st.feedback("thumbs", key=key, disabled=logged is not None)
        if logged is None and score is not None:
            item["feedback"] = score
            answer: Answer = item["answer"]
            try:
                append_feedback(bot.settings.state_dir, answer.question, answer.text, [s.id for s in answer.sources], score)
            except OSError as exc:
                log.warning("feedback not saved: %s", exc)
        if item.get("feedback") is not None:
            st.caption("Thanks, noted.")
        else:
            st.caption("Was this helpful?")


def draw_followup(answer: Answer, item: dict) -> None:
    """One line saying the question was read with the one before, and a way to ask it afresh."""
    with st.container(horizontal=True, vertical_alignment="center", gap="small", key=f"followup_{item['id']}"):
        st.caption(f"Read as a follow-up to “{escape_markdown(answer.followup)}”.")
        st.button(
            "Ask as a new question", key=f"fresh_{item['id']}", on_click=_ask_later, args=(answer.question, True),
            icon=":material/restart_alt:", type="tertiary",
        )


def draw_answer(bot: Assistant, item: dict) -> None:
    answer: Answer | None = item.get("answer")
    if answer is None:
        st.error(escape_markdown(item.get("error") or "No answer."), icon=":material/error:")
        return
    if answer.followup:
        draw_followup(answer, item)
    if answer.abstained:
        st.info(escape_markdown(answer.text), icon=":material/help:")
        if answer.note:  # the reason, in one true sentence
            st.caption(escape_markdown(answer.note))
        if answer.suggestions:
            st.caption("The sources do answer questions like these:")
            with st.container(horizontal=True, key=f"hints_{item['id']}"):
                for i, hint in enumerate(answer.suggestions):
                    question = suggestion_question(hint)
                    st.button(question, key=f"hint_{item['id']}_{i}", on_click=_ask_later, args=(question, True), wrap=True)
        return
    st.markdown(answer_markdown(answer.text, lambda n: card_key(item["id"], n)), unsafe_allow_html=True)
    if answer.note:
        st.caption(escape_markdown(answer.note))
    draw_sources(answer, item["id"])
    draw_feedback(bot, item)


def draw_turn(bot: Assistant, item: dict) -> st.delta_generator.DeltaGenerator:
    """Draw one exchange from the history; returns the assistant message's slot."""
    with st.chat_message("user"):
        st.markdown(escape_markdown(item["question"]))
    with st.chat_message("assistant"):
        slot = st.empty()
    if "answer" in item:
        with slot.container():
            draw_answer(bot, item)
    return slot


def _ask_later(question: str, standalone: bool = False) -> None:
    st.session_state.pending = {"question": question, "standalone": standalone}


def _new_chat() -> None:
    ss = st.session_state
    ss.turns = []
    ss.pop("pending", None)


def intro(bot: Assistant) -> None:
    docs = bot.stats()["documents"]
    st.markdown(
        f"I answer questions about becoming an ML engineer (skills, maths, tools, MLOps, learning paths, "
        f"portfolios, interviews) from {docs} documents, and every answer quotes its sources."
    )
    with st.container(horizontal=True, key="starters"):
        for i, starter in enumerate(STARTERS):
            st.button(starter, key=f"starter_{i}", on_click=_ask_later, args=(starter,), wrap=True)


# ------------------------------------------------------------------------------------------------ sidebar


def sidebar(bot: Assistant):
    """Draw the sidebar; returns the slot for the download button (see `download_button`)."""
    ss = st.session_state
    with st.sidebar:
        st.header(f"{ICON} {TITLE}")
        stats = bot.stats()
        built = stats["built_at"].replace("T", " ").rstrip("Z")[:16]
        st.caption(f"{stats['documents']} documents · {stats['passages']} passages  \nLast indexed {built} UTC")

        st.subheader("Answers")
        ss.k = st.slider(
            "Passages searched per question", 1, 10, value=ss.k,
            help="How many passages retrieval brings back for each question. The answer quotes only those that answer it; the rest are listed as related.",
        )
        left, right = st.columns(2)
        left.button("New chat", icon=":material/add_comment:", on_click=_new_chat, use_container_width=True)
        download = right.empty()  # filled in at the end of the run, when this run's answer is in the history

        st.subheader("Documents")
        for kind, text in ss.notices:
            getattr(st, kind)(text)
        ss.notices = []
        files = st.file_uploader(
            "Add Markdown, text, PDF or HTML",
            type=UPLOAD_TYPES,
            accept_multiple_files=True,
            key=f"upload_{ss.upload_key}",
            max_upload_size=max(1, math.ceil(bot.settings.max_upload_mb)),
            help=f"Up to {bot.settings.max_upload_mb:g} MB each. They are copied into corpus/uploads/ and indexed.",
        )
        if files and st.button("Add to the corpus", type="primary", icon=":material/library_add:"):
            add_uploads(bot, files)
        documents_panel(bot, stats)

        if bot.settings.answer_mode == "llm":
            from assistant.llm import describe

            mode_line = escape_markdown(describe(bot.settings))
        else:
            mode_line = "Answers are sentences quoted from the corpus, each with its source; nothing is generated and nothing leaves this machine."
        st.caption(f"Answer mode: **{bot.settings.answer_mode}**")
        with st.expander("About", icon=":material/info:"):
            st.markdown(
                f"{mode_line}  \n"
                f"Embedding model: `{stats['model']}` ({stats['dim']} dimensions), offline.  \n"
                f"Answer mode: `{bot.settings.answer_mode}`.  \n"
                f"Thumbs up/down are kept in a local log for the maintainer."
            )
    return download


def download_button(slot) -> None:
    turns = st.session_state.turns
    transcript = conversation_markdown((t["question"], t.get("answer"), t.get("error", "")) for t in turns if "answer" in t)
    slot.download_button(
        "Download",
        transcript,
        file_name="conversation.md",
        mime="text/markdown",
        icon=":material/download:",
        on_click="ignore",
        use_container_width=True,
        disabled=not turns,
        key="download",
        help="The conversation as Markdown, with the passages each answer cites.",
    )


def documents_panel(bot: Assistant, stats: dict) -> None:
    with st.expander(f"Indexed documents ({stats['documents']})", icon=":material/folder:"):
        docs = bot.documents()
        st.caption("  \n".join(f"{escape_markdown(row['doc'])} · {row['passages']} passages" for row in docs))
        choice = st.selectbox(
            "Remove a document", [r["doc"] for r in docs], index=None, placeholder="Choose a document…", key="remove_choice"
        )
        if st.button("Remove", key="remove_button", icon=":material/delete:", disabled=not choice):
            with st.spinner(f"Removing {choice}…"):
                try:
                    bot.remove(choice)
                except AssistantError as exc:
                    st.error(escape_markdown(str(exc)))
                    return
                except Exception:
                    log.exception("removing %r failed", choice)
                    st.error(UNEXPECTED)
                    return
            st.session_state.notices = [("success", f"Removed {escape_markdown(choice)}.")]
            st.session_state.pop("remove_choice", None)
            st.rerun()


def add_uploads(bot: Assistant, files) -> None:
    bar = st.progress(0.0, text="Checking the files…")

    def progress(stage: str, done: int, total: int) -> None:
        label = {"read": "Reading documents", "questions": "Embedding asked questions"}.get(stage, "Embedding new passages")
        bar.progress(min(done / max(total, 1), 1.0), text=f"{label}: {done}/{total}")

    try:
        result = bot.add([(f.name, f.getvalue()) for f in files], progress=progress)
    except AssistantError as exc:
        bar.empty()
        st.error(escape_markdown(str(exc)))
        return
    except Exception:
        log.exception("adding %s failed", [f.name for f in files])
        bar.empty()
        st.error(UNEXPECTED)
        return
    bar.empty()
    notices = [("success", f"Added {escape_markdown(rel)}: you can ask about it now.") for rel in result.added]
    notices += [("warning", f"Skipped {escape_markdown(message)}") for message in result.skipped]
    st.session_state.notices = notices
    st.session_state.upload_key += 1  # a fresh uploader: the same files are not added twice
    st.rerun()  # redraw the summary and the documents panel with the new index


# ------------------------------------------------------------------------------------------------ answering


def history_for_followups(turns: list[dict]) -> list[dict]:
    """Earlier answered exchanges as role/content turns (abstained and failed ones carry no context)."""
    out: list[dict] = []
    for t in turns:
        answer = t.get("answer")
        if answer is not None and not answer.abstained:
            out += [{"role": "user", "content": t["question"]}, {"role": "assistant", "content": answer.text}]
    return out


def respond(bot: Assistant, question: str, standalone: bool = False) -> None:
    ss = st.session_state
    history = [] if standalone else history_for_followups(ss.turns)
    item: dict = {"id": ss.next_id, "question": question}
    ss.next_id += 1
    slot = draw_turn(bot, item)
    with slot.container():
        with st.spinner("Searching the corpus…"):
            try:
                if bot.settings.answer_mode == "llm":  # tokens appear as they arrive, then the checked answer
                    stream = bot.stream(question, history=history, k=ss.k)
                    st.write_stream(escape_markdown(token) for token in stream)
                    item["answer"] = stream.answer
                else:
                    item["answer"] = bot.ask(question, history=history, k=ss.k)
            except AssistantError as exc:
                item["answer"], item["error"] = None, str(exc) or type(exc).__name__
            except Exception:  # a bug: keep the traceback in the log, show a friendly line
                log.exception("answering %r failed", question)
                item["answer"], item["error"] = None, UNEXPECTED
    ss.turns.append(item)
    with slot.container():  # replaces the spinner in place
        draw_answer(bot, item)


def main() -> None:
    st.set_page_config(page_title=TITLE, page_icon=ICON, layout="centered")
    st.html(CSS)
    st.html(CITATION_SCRIPT, unsafe_allow_javascript=True)
    ss = _state()
    try:
        bot = get_assistant()
        bot.refresh()  # another process (the CLI) may have rebuilt the index
    except AssistantError as exc:
        st.error(f"The assistant cannot start: {escape_markdown(str(exc))}", icon=":material/error:")
        st.stop()
    except Exception:
        log.exception("the assistant failed to start")
        st.error("The assistant cannot start because of an unexpected problem; the details are in the server log.")
        st.stop()
    download = sidebar(bot)

    # The chat box is pinned to the bottom wherever it is called; reading it first lets the page skip the
    # intro in the very run that answers, so nothing above the answer moves.
    typed = st.chat_input("Ask about becoming an ML engineer…", max_chars=bot.settings.max_question_chars)
    pending = ss.pop("pending", None)
    question, standalone = (pending["question"], pending["standalone"]) if pending else (typed, False)

    st.title(f"{ICON} {TITLE}")
    if not ss.turns and not (question and question.strip()):
        intro(bot)
    for item in ss.turns:
        draw_turn(bot, item)
    if question is not None:
        if not question.strip():
            st.warning("Type a question first, for example: What skills do I need?")
        else:
            respond(bot, question, standalone)
    download_button(download)


main()
