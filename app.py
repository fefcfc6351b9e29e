"""The chat page: `streamlit run app.py`.

The only module that imports streamlit. It draws; the `Assistant` answers. Model and index load once per
server (`st.cache_resource`) and are shared by every browser session; each session keeps its own history
in `st.session_state`. Everything from documents or users is shown escaped (see `assistant.render`).

A chat lives at its own address: `?chat=<id>` once its first question is saved to the state store
(`Assistant.state`), so a reload, another tab or another server process brings it back and continues it;
`?share=<token>` opens it read-only. The history in the session is a copy of the stored turns; the store is
the truth (a turn's `position` is its place there).

Layout of one exchange (the same elements whether it is being answered now or redrawn from the history,
so a rerun never shifts or collapses anything):

    user message
    assistant message
      └ slot (st.empty) ─ answer text with [n] · "Sources" · source cards [1] [2] … · thumbs up/down
"""

from __future__ import annotations

import html
import logging
import math
from pathlib import Path

import streamlit as st

from assistant import Assistant, AssistantError, Settings
from assistant.access import Gate, RateLimit, Role, parse_maintainers, proxied, role
from assistant.answer import Answer
from assistant.errors import ConversationFullError, ConversationNotFoundError, StateError
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
#: The tab icon, served by the app itself: the page makes no request to any other origin.
FAVICON = str(Path(__file__).resolve().parent / "assets" / "icon.png")
#: The longest message the chat box takes (a long paste is cut to the question limit after, with a note).
PASTE_CHARS = 50_000
BUSY = "The assistant is busy answering other people's questions; please try again in a moment."
STARTERS = [
    "What skills do I need to become a machine learning engineer?",
    "How does an ML engineer differ from a data scientist?",
    "How much maths do I need for machine learning?",
    "What should a beginner learn first?",
    "What is MLOps?",
    "How do I prepare for ML system design interviews?",
]
UNEXPECTED = "Something went wrong on our side; please try again. (The details are in the server log.)"
GONE = "There is no chat at this address that you can open: it may have been deleted, or it belongs to another account."
#: Signed-in people's past chats listed in the sidebar.
CHATS_LISTED = 20

# Small touches the theme has no option for: soft highlights, source-card labels that wrap instead of being
# cut off at phone width, left-aligned question buttons, and a title that fits a phone screen.
CSS = """
<style>
mark { background: #fff3b0; color: inherit; padding: 0 .1em; border-radius: .2em; }
a.cite { font-weight: 600; text-decoration: none; }
[class*="st-key-src_"] { scroll-margin-top: 4.5rem; }
a.cite:hover, a.cite:focus { text-decoration: underline; }
button.copy-answer { font: inherit; font-size: .8rem; padding: .15rem .6rem; border-radius: .4rem; border: 1px solid #d0d4dc;
  background: transparent; color: inherit; cursor: pointer; }
[data-testid="stFeedback"] [aria-checked="true"] { background: #e7efff; border-radius: .5rem; outline: 2px solid #2563eb; }
[data-testid="stExpander"] summary p { white-space: normal; overflow-wrap: anywhere; }
.st-key-starters button, [class*="st-key-hints_"] button { justify-content: flex-start; text-align: left; }
@media (max-width: 640px) { h1 { font-size: 2rem !important; } }
</style>
"""


@st.cache_resource(show_spinner="Loading the model and the index (first start builds the index)…")
def get_assistant() -> Assistant:
    return Assistant.load(settings=Settings.from_env())


@st.cache_resource
def get_gate(slots: int) -> Gate:
    """One cap on answers computed at once for the whole server (every session shares it)."""
    return Gate(slots)


def sign_in_configured() -> bool:
    """Whether .streamlit/secrets.toml has an [auth] section, so `st.login` can work."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all  # noqa: BLE001
        return False


def current_role(settings: Settings) -> Role:
    """This visitor's role (assistant/access.py), from the sign-in state and the address the server listens on."""
    configured = sign_in_configured()
    email = ""
    if configured and st.user.get("is_logged_in"):
        email = str(st.user.get("email") or "")
        if st.user.get("email_verified") is False:  # the provider has not checked the address: never trust it
            return Role(False, True, "", "Your sign-in provider has not verified your e-mail address, so you are a reader here.")
    headers = dict(st.context.headers or {})
    client = st.context.ip_address
    client = client if isinstance(client, str) else None  # None when unknown (a test harness has no socket)
    return role(configured, email, parse_maintainers(settings.maintainers), st.get_option("server.address"), client, proxied(headers))


def _state():
    ss = st.session_state
    ss.setdefault("turns", [])  # dicts: id, position (in the store), question, answer (Answer | None), error, feedback
    ss.setdefault("chat_id", None)  # the stored conversation this session continues (its address)
    ss.setdefault("share_token", None)  # its read-only link's token
    ss.setdefault("read_only", False)  # showing a shared chat: nothing to add to it
    ss.setdefault("title", "")
    ss.setdefault("next_id", 0)
    ss.setdefault("upload_key", 0)
    ss.setdefault("notices", [])  # (kind, text) shown once in the sidebar after an add or a remove
    ss.setdefault("k", 5)
    return ss


def limits(settings: Settings) -> tuple[RateLimit, RateLimit]:
    """This session's limits on questions (per minute) and uploads (per hour)."""
    ss = st.session_state
    if "question_limit" not in ss:
        ss.question_limit = RateLimit(settings.questions_per_minute, 60)
        ss.upload_limit = RateLimit(settings.uploads_per_hour, 3600)
    return ss.question_limit, ss.upload_limit


#: Our own script, no user text in it, installed once per page: a click on a citation [n] opens its source card
#: and scrolls to it (desktop and phone); "Copy" puts an answer with its citations and sources on the clipboard;
#: "New chat" at phone width closes the sidebar it was pressed in, so the new chat is in view.
PAGE_SCRIPT = """
<script>
if (!window.__assistantPage) {
  window.__assistantPage = true;
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    const area = document.createElement("textarea");  // plain http on a network: the older way
    area.value = text; area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select(); document.execCommand("copy"); area.remove();
    return Promise.resolve();
  }
  document.addEventListener("click", function (event) {
    const copy = event.target.closest("button.copy-answer");
    if (copy) {
      copyText(copy.dataset.text).then(function () { copy.textContent = "Copied"; setTimeout(function () { copy.textContent = "Copy"; }, 1500); });
      return;
    }
    if (event.target.closest(".st-key-new_chat button") && window.innerWidth < 640) {
      setTimeout(function () {
        const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button') ||
          document.querySelector('[data-testid="stSidebar"] button[aria-label="Collapse sidebar"]');
        if (close) close.click();
      }, 150);
      return;
    }
    const link = event.target.closest("a.cite");
    if (!link) return;
    event.preventDefault();
    const card = document.querySelector(".st-key-" + link.dataset.card);
    if (!card) return;
    const details = card.querySelector("details");
    if (details && !details.open) card.querySelector("summary").click();
    // The card grows as it opens and the page may scroll with it: bring it into view again once it settles.
    const show = () => card.scrollIntoView({behavior: "auto", block: "start"});
    [0, 150, 350, 650, 1000, 1500].forEach(function (ms) { setTimeout(show, ms); });
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
            save_feedback(bot, item, score)
        if item.get("feedback") is not None:
            st.caption("Thanks, noted: " + ("helpful." if item["feedback"] == 1 else "not helpful."))
        else:
            st.caption("Was this helpful?")


def save_feedback(bot: Assistant, item: dict, score: int) -> None:
    """On the stored turn when the chat is saved (kept once, whichever tab or process gives it first), else
    straight into the feedback records."""
    ss = st.session_state
    answer: Answer = item["answer"]
    try:
        if ss.chat_id and item.get("position") is not None:
            bot.state.set_feedback(ss.chat_id, item["position"], score, owner=ss.get("owner"))
        else:
            append_feedback(bot.settings, answer.question, answer.text, [s.id for s in answer.sources], score)
    except (StateError, OSError) as exc:
        log.warning("feedback not saved: %s", exc)


def copy_text(answer: Answer) -> str:
    """The answer as plain text with its citations and numbered sources, escaped for an HTML attribute."""
    lines = [answer.text, "", "Sources:"]
    lines += [f"[{n}] {s.title} › {s.heading} ({s.doc})" if s.heading else f"[{n}] {s.title} ({s.doc})" for n, s in enumerate(answer.sources, 1)]
    return html.escape("\n".join(lines), quote=True)


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
        if item.get("error") == BUSY:
            st.warning(BUSY, icon=":material/hourglass_top:")
            st.button("Ask again", key=f"again_{item['id']}", on_click=_ask_later, args=(item["question"], True))
            return
        st.error(escape_markdown(item.get("error") or "No answer."), icon=":material/error:")
        return
    if item.get("cut"):
        st.caption(escape_markdown(item["cut"]))
    if item.get("unsaved"):
        st.caption(escape_markdown(item["unsaved"]))
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
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        if st.session_state.read_only:
            if item.get("feedback") is not None:
                st.caption("Rated " + ("helpful." if item["feedback"] == 1 else "not helpful."))
        else:
            draw_feedback(bot, item)
        st.html(f'<button class="copy-answer" title="Copy the answer with its citations and sources" data-text="{copy_text(answer)}">Copy</button>')


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
    ss.chat_id = ss.share_token = None
    ss.read_only = False
    ss.title = ""
    ss.pop("pending", None)
    st.query_params.clear()


def _open_chat(chat_id: str) -> None:
    st.query_params.clear()
    st.query_params["chat"] = chat_id  # the next run loads it (`follow_address`)


# ------------------------------------------------------------------------------------------------ saved chats


def owner_of(who: Role) -> str | None:
    """Whose chats these are: a signed-in person's e-mail address; nobody's otherwise (then whoever has a
    chat's address may continue it, and nobody has a list)."""
    return who.email or None


def _as_item(turn) -> dict:
    ss = st.session_state
    item = {"id": ss.next_id, "position": turn.position, "question": turn.question, "answer": turn.answer, "feedback": turn.feedback}
    if turn.error:
        item["error"] = turn.error
    ss.next_id += 1
    return item


def _show(conversation) -> None:
    ss = st.session_state
    ss.turns = [_as_item(t) for t in conversation.turns]
    ss.chat_id = conversation.id or None
    ss.share_token = conversation.share_token
    ss.read_only = conversation.read_only
    ss.title = conversation.title


def follow_address(bot: Assistant) -> None:
    """Bring the session in line with the address: `?chat=<id>` continues a saved chat, `?share=<token>`
    shows one read-only, neither is a new chat. A chat that cannot be opened says so and starts afresh."""
    ss = st.session_state
    chat, share = st.query_params.get("chat"), st.query_params.get("share")
    if chat:
        if chat == ss.chat_id:
            return
    elif share:
        if ss.read_only and share == ss.share_token:
            return
    else:
        if ss.chat_id or ss.read_only:  # the address was cleared (a new chat): follow it
            _new_chat()
        return
    try:
        conversation = bot.state.conversation(chat, owner=ss.owner) if chat else bot.state.shared(share)
    except StateError as exc:
        log.warning("opening a saved chat failed: %s", exc)
        ss.chat_notice = ("error", f"Saved chats are unavailable just now: {escape_markdown(str(exc))}")
        return
    if conversation is None:
        _new_chat()
        ss.chat_notice = ("warning", GONE)
        return
    _show(conversation)


def save_turn(bot: Assistant, item: dict) -> None:
    """Store the exchange (creating the chat, and its address, on its first question). A chat deleted
    meanwhile (in another tab) continues as a new one; when saving fails the answer still stands, and says
    it was not saved."""
    ss = st.session_state
    if item.get("error") and item.get("answer") is None and item.get("transient"):
        return  # "busy" and limits are not part of the conversation
    store = None
    try:
        store = bot.state
        for attempt in (1, 2):
            if not ss.chat_id:
                created = store.create_conversation(owner=ss.owner)
                ss.chat_id, ss.share_token, ss.title = created.id, created.share_token, created.title
                st.query_params.clear()
                st.query_params["chat"] = created.id
            try:
                turn = store.append_turn(ss.chat_id, item["question"], item.get("answer"), item.get("error", ""), owner=ss.owner)
            except ConversationNotFoundError:
                if attempt == 2:
                    raise
                ss.chat_id = None  # deleted elsewhere: start a new chat with this turn
                continue
            item["position"] = turn.position
            if not ss.title:
                ss.title = turn.question
            return
    except ConversationFullError as exc:
        item["unsaved"] = f"Not saved: {exc}."
    except (StateError, OSError) as exc:
        log.warning("saving a turn failed (%s): %s", store, exc)
        item["unsaved"] = "Not saved: the chat history is unavailable just now, so a reload will not bring this answer back."


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


def account(who: Role) -> None:
    """Sign-in state and its buttons (only when sign-in is configured)."""
    if not sign_in_configured():
        return
    if who.signed_in:
        st.caption(f"Signed in as {escape_markdown(who.email)}" + (" · maintainer" if who.can_edit else ""))
        st.button("Sign out", key="sign_out", icon=":material/logout:", on_click=st.logout)
    else:
        st.button("Sign in", key="sign_in", icon=":material/login:", on_click=st.login)


def sidebar(bot: Assistant, who: Role):
    """Draw the sidebar; returns the slots filled at the end of the run, once its question is answered and
    saved: the download button, the share link and a signed-in person's chats. The editing
    controls (upload, remove) and the reports exist only for a maintainer."""
    ss = st.session_state
    with st.sidebar:
        st.header(f"{ICON} {TITLE}")
        account(who)
        stats = bot.stats()
        built = stats["built_at"].replace("T", " ").rstrip("Z")[:16]
        st.caption(f"{stats['documents']} documents · {stats['passages']} passages  \nLast indexed {built} UTC")

        st.subheader("Answers")
        ss.k = st.slider(
            "Passages searched per question", 1, 10, value=ss.k,
            help="How many passages retrieval brings back for each question. The answer quotes only those that answer it; the rest are listed as related.",
        )
        left, right = st.columns(2)
        left.button("New chat", key="new_chat", icon=":material/add_comment:", on_click=_new_chat, use_container_width=True)
        download = right.empty()  # filled in at the end of the run, when this run's answer is in the history
        share = st.empty()  # likewise: the link exists once this run's question is saved
        chats = st.container() if who.signed_in else None  # likewise: this run's question may start a chat

        st.subheader("Documents")
        for kind, text in ss.notices:
            getattr(st, kind)(text)
        ss.notices = []
        if who.can_edit:
            # No type filter and a roomy size cap here: a refused file is then told why in words (a notice
            # below), not in a tooltip a phone never shows. The real checks are in assistant/ingest.py.
            files = st.file_uploader(
                "Add Markdown, text, PDF or HTML",
                accept_multiple_files=True,
                key=f"upload_{ss.upload_key}",
                max_upload_size=max(1, math.ceil(bot.settings.max_upload_mb * 4)),
                help=f"Markdown, text, PDF or HTML, up to {bot.settings.max_upload_mb:g} MB each. They are copied into corpus/uploads/ and indexed.",
            )
            if files and st.button("Add to the corpus", type="primary", icon=":material/library_add:"):
                add_uploads(bot, files, who)
        documents_panel(bot, stats, who)
        if who.can_edit:
            reports(bot)

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
                f"What is kept: this chat (so that its address brings it back), the questions the assistant could "
                f"not answer and your thumbs up/down (with the question and answer), each for "
                f"{bot.settings.retention_days or 'an unlimited number of'} days after last use; of who asked, only "
                f"a signed-in person's e-mail address, on their own chats.  \n"
                f"{escape_markdown(who.why)}"
            )
    return download, share, chats


def share_link(slot) -> None:
    """"Share": the read-only link of this chat, to copy (a button, and the text itself for a phone)."""
    ss = st.session_state
    if not ss.share_token:
        return
    link = f"{(st.context.url or '').rstrip('/')}/?share={ss.share_token}"
    with slot.popover("Share this chat", icon=":material/link:", use_container_width=True):
        st.caption("Anyone with this link can read this chat, but not add to it:")
        st.code(link, language=None, wrap_lines=True)
        st.html(f'<button class="copy-answer" data-text="{html.escape(link, quote=True)}">Copy link</button>')


def past_chats(bot: Assistant, who: Role) -> None:
    """A signed-in person's chats, most recent first: open one, rename it, delete it."""
    ss = st.session_state
    try:
        chats = bot.state.conversations(who.email, limit=CHATS_LISTED)
    except StateError as exc:
        st.caption(f"Your chats are unavailable just now: {escape_markdown(str(exc))}")
        return
    if not chats:
        return
    st.subheader("Your chats")
    for chat in chats:
        with st.container(horizontal=True, vertical_alignment="center", gap="small", key=f"chat_{chat.id}"):
            title = escape_markdown(chat.title or "Untitled chat")
            current = chat.id == ss.chat_id
            st.button(
                title, key=f"open_{chat.id}", on_click=_open_chat, args=(chat.id,), type="tertiary", width="stretch",
                icon=":material/chat_bubble:" if current else ":material/chat_bubble_outline:", disabled=current,
            )
            with st.popover("", icon=":material/more_horiz:", help="Rename or delete this chat"):
                title_box = st.text_input("Title", value=chat.title, max_chars=120, key=f"title_{chat.id}")
                if st.button("Rename", key=f"rename_{chat.id}", icon=":material/edit:"):
                    bot.state.rename(chat.id, title_box, owner=ss.owner)
                    st.rerun()
                if st.button("Delete", key=f"delete_{chat.id}", icon=":material/delete:"):
                    bot.state.delete(chat.id, owner=ss.owner)
                    if current:
                        _new_chat()
                    st.rerun()


@st.cache_data(ttl=30, show_spinner=False)
def _reports(settings: Settings) -> tuple[list[dict], list[dict], dict]:
    groups, terms = Assistant.gaps(settings)
    return groups, terms, Assistant.feedback_report(settings)


def reports(bot: Assistant) -> None:
    """The maintainer's reports: questions the corpus could not answer, and the feedback (as `gaps` and
    `feedback` print them)."""
    with st.expander("Reports", icon=":material/monitoring:", key="reports_panel"):
        try:
            groups, terms, feedback = _reports(bot.settings)
        except (StateError, OSError) as exc:
            st.caption(f"The reports are unavailable just now: {escape_markdown(str(exc))}")
            return
        st.markdown("**Unanswered questions**")
        if groups:
            st.caption("  \n".join(f"{g['count']} × {escape_markdown(g['question'])}" for g in groups[:10]))
        else:
            st.caption("None logged yet.")
        if terms:
            st.caption("Words they use that the corpus does not know: " + ", ".join(escape_markdown(t["term"]) for t in terms))
        st.markdown("**Feedback**")
        st.caption(f"{feedback['helpful']} helpful · {feedback['not_helpful']} not helpful")
        if feedback["recent_not_helpful"]:
            st.caption("Lately not helpful:  \n" + "  \n".join(escape_markdown(r["question"]) for r in feedback["recent_not_helpful"]))


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


def documents_panel(bot: Assistant, stats: dict, who: Role) -> None:
    with st.expander(f"Indexed documents ({stats['documents']})", icon=":material/folder:", key="documents_panel"):
        docs = bot.documents()
        st.caption("  \n".join(f"{escape_markdown(row['doc'])} · {row['passages']} passages" for row in docs))
        if not who.can_edit:
            return
        choice = st.selectbox(
            "Remove a document", [r["doc"] for r in docs], index=None, placeholder="Choose a document…", key="remove_choice"
        )
        if st.button("Remove", key="remove_button", icon=":material/delete:", disabled=not choice):
            if not current_role(bot.settings).can_edit:  # checked again where it acts, not only where it draws
                st.error("Only a maintainer may remove documents.")
                return
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


def add_uploads(bot: Assistant, files, who: Role) -> None:
    if not current_role(bot.settings).can_edit:  # checked again where it acts, not only where it draws
        st.error("Only a maintainer may add documents.")
        return
    _, uploads = limits(bot.settings)
    if not all(uploads.allow() for _ in files):
        st.warning(f"That is more uploads than one session may make in an hour; try again in {uploads.wait() // 60 + 1} minutes.")
        return
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
    questions, _ = limits(bot.settings)
    gate = get_gate(bot.settings.max_concurrent_answers)
    with slot.container():
        if not questions.allow():
            item["answer"], item["error"] = None, f"That is more questions than one chat may ask in a minute; please wait {questions.wait()} seconds."
            item["transient"] = True
        elif not gate.try_enter():  # every answer slot is taken: say so now rather than queue without bound
            item["answer"], item["error"], item["transient"] = None, BUSY, True
        else:
            try:
                with st.spinner("Searching the corpus…"):
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
            finally:
                gate.leave()
    limit = bot.settings.max_question_chars
    if len(question) > limit and item.get("answer") is not None:
        item["cut"] = f"Your message was {len(question):,} characters long; the first {limit:,} were used."
    save_turn(bot, item)
    ss.turns.append(item)
    with slot.container():  # replaces the spinner in place
        draw_answer(bot, item)


def sign_in_page(who: Role) -> None:
    """With sign-in required for everyone, the one thing a visitor who has not signed in sees."""
    st.title(f"{ICON} {TITLE}")
    st.markdown("This assistant answers questions about becoming an ML engineer. Please sign in to use it.")
    st.button("Sign in", key="sign_in_page", type="primary", icon=":material/login:", on_click=st.login)


def main() -> None:
    st.set_page_config(page_title=TITLE, page_icon=FAVICON, layout="centered")
    st.html(CSS)
    st.html(PAGE_SCRIPT, unsafe_allow_javascript=True)
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
    who = current_role(bot.settings)
    if bot.settings.require_sign_in and not sign_in_configured():  # never open to everyone by a missing file
        st.error(
            "Sign-in is required (ASSISTANT_REQUIRE_SIGN_IN) but not configured: add an [auth] section to "
            ".streamlit/secrets.toml (docs/deploy.md, \"Sign-in\").",
            icon=":material/lock:",
        )
        st.stop()
    if bot.settings.require_sign_in and not who.signed_in:
        sign_in_page(who)
        return
    ss.owner = owner_of(who)
    follow_address(bot)
    download, share, chats = sidebar(bot, who)

    # The chat box is pinned to the bottom wherever it is called; reading it first lets the page skip the
    # intro in the very run that answers, so nothing above the answer moves.
    # A paste longer than a question (a whole job advert) is kept, not silently refused: the first
    # max_question_chars characters are used and the answer says so.
    typed = st.chat_input("Ask about becoming an ML engineer…", max_chars=PASTE_CHARS)
    pending = ss.pop("pending", None)
    question, standalone = (pending["question"], pending["standalone"]) if pending else (typed, False)

    st.title(f"{ICON} {TITLE}")
    if ss.read_only and question and question.strip():  # a question asked under a shared chat starts the reader's own
        _new_chat()
    if ss.read_only:
        with st.container(horizontal=True, vertical_alignment="center", key="shared_banner"):
            st.info(f"A shared chat{': ' + escape_markdown(ss.title) if ss.title else ''}. You can read it; a question starts your own chat.", icon=":material/visibility:")
            st.button("Start a new chat", key="start_own", on_click=_new_chat, icon=":material/add_comment:")
    if "chat_notice" in ss:
        kind, text = ss.pop("chat_notice")
        getattr(st, kind)(text)
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
    share_link(share)
    if chats is not None:
        with chats:
            past_chats(bot, who)


main()
