"""`Assistant`: the one object the chat page, the CLI and Python callers use.

    >>> from assistant import Assistant          # doctest: +SKIP
    >>> bot = Assistant.load()                   # ./corpus and ./index; builds the index if missing
    >>> answer = bot.ask("What skills do I need to become an ML engineer?")
    >>> print(answer.text)                       # sentences ending in [1], [2] ...
    >>> answer.sources[0].doc                    # the passage behind [1]

One `Assistant` is shared by every Streamlit session, so it is thread-safe: searches only read the loaded
index, and swapping in a newer index (after `add`, `remove`, or a build by another process) happens under a
lock by replacing one reference.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from . import followup
from . import index as store
from .answer import Answer, abstain
from .build import BuildReport, Progress, sync
from .compose import compose
from .config import Settings
from .decide import Judge, suggestions
from .embed import Embedder
from .errors import IndexMissingError, InputError, StateError
from .followup import Turn
from .reading import Reading, read
from .retrieve import MODES, Retrieval, Retriever, Source
from .spelling import english_words

log = logging.getLogger(__name__)

#: A lone surrogate: what Python makes of bytes that are not UTF-8 (a command-line argument) or of a broken
#: UTF-16 pair; it cannot be encoded, so it would fail deep inside the model or the logs.
_SURROGATE = re.compile("[\ud800-\udfff]")
HISTORY_SHAPE = "history must be a list of questions or {role, content} turns"


def clean_question(question: object, max_chars: int) -> str:
    """The question as it is searched (whitespace collapsed, at most `max_chars`), or `InputError` saying
    what is wrong with it: not text, invalid characters, or empty. The CLI calls it before loading anything."""
    if not isinstance(question, str):
        raise InputError(f"the question is not text (it is {type(question).__name__}); ask a question such as \"What skills do I need?\"")
    if _SURROGATE.search(question):
        raise InputError("the question contains invalid characters (bytes that are not UTF-8 text); type it again")
    if not question.strip():
        raise InputError("the question is empty; type a question about becoming an ML engineer")
    return " ".join(question.split())[:max_chars]


def clean_history(history: object) -> list[Turn]:
    """The earlier turns, checked: a list (or tuple) of questions or {"role": "user"|"assistant", "content": str}
    turns, with text that can be encoded. Anything else is `InputError` with `HISTORY_SHAPE`."""
    if history is None:
        return []
    if isinstance(history, str | bytes | Mapping) or not isinstance(history, Sequence):
        raise InputError(HISTORY_SHAPE)
    turns: list[Turn] = []
    for turn in history:
        if isinstance(turn, Mapping):
            role, content = turn.get("role", "user"), turn.get("content")
            if role not in ("user", "assistant") or not isinstance(content, str):
                raise InputError(HISTORY_SHAPE)
            text = content
        elif isinstance(turn, str):
            text = turn
        else:
            raise InputError(HISTORY_SHAPE)
        if _SURROGATE.search(text):
            raise InputError("the history contains invalid characters (bytes that are not UTF-8 text)")
        turns.append(turn)
    return turns


def _check_k(k: object) -> None:
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 1):
        raise InputError("k must be a whole number of at least 1")


class Assistant:
    """Answers questions from the corpus with cited passages. Build with `Assistant.load()`."""

    def __init__(self, settings: Settings, embedder: Embedder, stored: store.StoredIndex) -> None:
        self.settings = settings
        self.embedder = embedder
        self._retriever = Retriever(stored, embedder, settings)
        self._judge: Judge | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------ construction

    @classmethod
    def load(
        cls,
        corpus: str | Path | None = None,
        index: str | Path | None = None,
        settings: Settings | None = None,
        build_if_missing: bool = True,
        progress: Progress | None = None,
        embedder: Embedder | None = None,
    ) -> Assistant:
        """Load the index (building it first if there is none and `build_if_missing`)."""
        settings = settings or Settings.from_env()
        if corpus is not None or index is not None:
            settings = settings.replace(
                corpus_dir=Path(corpus) if corpus is not None else settings.corpus_dir,
                index_dir=Path(index) if index is not None else settings.index_dir,
            )
        embedder = embedder or Embedder(settings)
        try:
            stored = store.load(settings.index_dir, settings)
        except IndexMissingError:
            if not build_if_missing:
                raise
            log.info("no index yet: building it from %s", settings.corpus_dir)
            sync(settings, embedder, progress)
            stored = store.load(settings.index_dir, settings)
        store.check_compatible(stored.manifest, settings, embedder.dim)
        # The English word list that spelling repair consults takes ~0.3 s to read: read it now, beside the
        # model load, rather than inside the first answer.
        threading.Thread(target=english_words, name="english-words", daemon=True).start()
        return cls(settings, embedder, stored)

    # ------------------------------------------------------------------------------------ reading

    @property
    def stored(self) -> store.StoredIndex:
        return self._retriever.stored

    @property
    def state(self):
        """The state store (conversations, feedback, gaps; assistant/state.py), opened on first use and
        shared by every `Assistant` of this process with the same settings. Raises StateError when the
        database cannot be used."""
        from .state import open_store

        return open_store(self.settings)

    def stats(self) -> dict:
        """Documents, passages, last build time, model: for the sidebar and `list`."""
        manifest = self.stored.manifest
        return {
            "documents": len(manifest["documents"]),
            "passages": len(self.stored),
            "built_at": manifest.get("built_at", ""),
            "model": manifest.get("model", ""),
            "dim": manifest.get("dim", 0),
        }

    def documents(self) -> list[dict]:
        """One row per indexed document: path, title, passages, when indexed."""
        return [{"doc": doc, **vars(entry)} for doc, entry in sorted(self.stored.documents.items())]

    def _clean_question(self, question: str) -> str:
        return clean_question(question, self.settings.max_question_chars)

    def _checked(self, question: str, history: Sequence[Turn] | None, k: int | None, mode: str) -> tuple[str, list[Turn]]:
        """The cleaned question and history, after refusing every input that is not what it should be."""
        question = self._clean_question(question)
        turns = clean_history(history)
        _check_k(k)
        if mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}")
        return question, turns

    def read(self, question: str) -> Reading:
        """How `question` is searched: vocabulary meanings added, spelling repaired (see `reading.py`)."""
        retriever = self._retriever
        return read(self._clean_question(question), self.stored.vocabulary, retriever.keywords, retriever.choose)

    def retrieve(self, question: str, k: int | None = None, mode: str = "hybrid", history: Sequence[Turn] | None = None) -> list[Source]:
        """The `k` most relevant passages, best first (whether or not the corpus answers the question)."""
        question, history = self._checked(question, history, k, mode)
        return self._understand(question, k, mode, history)[1].sources

    def _understand(self, question: str, k: int | None, mode: str, history: Sequence[Turn] | None) -> tuple[Reading, Retrieval, str]:
        """(reading, retrieval, the earlier question it was read with or "") for a cleaned question.

        A question with history is searched alone first; only a candidate follow-up (`followup.may_lean_on`)
        is searched again with the earlier question's words, and that reading is kept only when the sources
        it finds are clearly closer (`followup.prefer_context`). Otherwise it is answered as in a new chat.
        """
        k = k or self.settings.top_k
        if k < 1:
            raise InputError("k must be at least 1")
        retriever = self._retriever
        reading = read(question, self.stored.vocabulary, retriever.keywords, retriever.choose)
        alone = retriever.search(reading.text, k, mode, reading.parts)
        previous = followup.previous_question(history)
        if not previous or not followup.may_lean_on(question):
            return reading, alone, ""
        joined_reading = replace(reading, text=followup.with_context(reading.text, read(previous, self.stored.vocabulary, retriever.keywords).text))
        joined = retriever.search(joined_reading.text, k, mode, reading.parts)
        same_first = bool(alone.sources and joined.sources) and alone.sources[0].id == joined.sources[0].id
        leans = followup.points_back(question)
        if followup.prefer_context(alone.relevance, joined.relevance, self.settings.threshold, leans, same_first):
            return joined_reading, joined, previous
        return reading, alone, ""

    @property
    def judge(self) -> Judge:
        """Decides whether the corpus answers (`decide.py`), for the index in use (made on first use: it
        needs the keyword index, which a search loads)."""
        retriever = self._retriever
        if self._judge is None or self._judge.keywords is not retriever.keywords:
            stored = retriever.stored
            self._judge = Judge(self.embedder, retriever.keywords, stored.vocabulary, self.settings, stored.has_money_figures, stored.passages)
        return self._judge

    def _answer(self, question: str, k: int | None, mode: str, history: Sequence[Turn] | None) -> tuple[Answer, Retrieval]:
        """The extractive answer or the refusal, and the retrieval it came from."""
        reading, retrieval, previous = self._understand(question, k, mode, history)
        decision = self.judge.decide(reading, retrieval)
        if decision.answer:
            answer = replace(compose(question, retrieval, self.settings.threshold), followup=previous)
        else:
            asked = {p.id: p.asked for p in (self.stored.passages[self.stored.position[store.faiss_id(s.id)]] for s in retrieval.sources)}
            hints = suggestions(decision, retrieval.sources, lambda pid: asked.get(pid, ()), question)
            answer = abstain(question, retrieval, decision.sentence, decision.headline, decision.reason.value, tuple(hints), previous)
        return answer, retrieval

    def ask(
        self, question: str, history: Sequence[Turn] | None = None, k: int | None = None, mode: str = "hybrid", log_gaps: bool = True
    ) -> Answer:
        """Answer `question` (with earlier turns in `history` for follow-ups), citing passages.

        An abstained question is appended to the gaps log (unless `log_gaps` is off, as in evaluation).
        With `answer_mode="llm"` a language model writes the answer (see `stream`).
        """
        if self.settings.answer_mode == "llm":
            return self.stream(question, history, k, mode, log_gaps).answer
        question, history = self._checked(question, history, k, mode)
        answer, _ = self._answer(question, k, mode, history)
        if answer.abstained and log_gaps:
            self._log_gap(question, answer.reason)
        return answer

    def stream(self, question: str, history: Sequence[Turn] | None = None, k: int | None = None, mode: str = "hybrid", log_gaps: bool = True):
        """Like `ask`, as an `llm.AnswerStream`: iterate it for the text as it is written (in llm mode; in
        extractive mode, or when retrieval abstains, the whole answer comes as one chunk), then read its
        `.answer`: the checked `Answer`, or the extractive one with a note saying why."""
        from .llm import AnswerStream, generate

        question, history = self._checked(question, history, k, mode)
        extractive, retrieval = self._answer(question, k, mode, history)
        if extractive.abstained and log_gaps:
            self._log_gap(question, extractive.reason)
        if self.settings.answer_mode != "llm" or extractive.abstained:
            return AnswerStream.ready(extractive)
        return generate(question, history, retrieval, extractive, self.settings, self.checker)

    @property
    def checker(self):
        """The grounding checker of generated answers (shares the embedding model)."""
        if getattr(self, "_checker", None) is None:
            from .grounding import Checker

            self._checker = Checker(self.embedder, self.settings.llm_support_threshold)
        return self._checker

    def _log_gap(self, question: str, reason: str = "abstained") -> None:
        try:
            from .logs import append_gap

            append_gap(self.settings, question, reason)
        except (OSError, StateError) as exc:  # the log is a convenience; an answer must not fail because of it
            log.warning("could not log the unanswered question: %s", exc)

    # ------------------------------------------------------------------------------------ changing

    def refresh(self) -> bool:
        """Reload when another process (the CLI) made a newer index live. Returns whether it did."""
        gen = store.current_generation(self.settings.index_dir)
        if gen is None or gen.name == self.stored.generation:
            return False
        with self._lock:
            if gen.name == self.stored.generation:
                return False
            stored = store.load(self.settings.index_dir, self.settings)
            self._retriever = Retriever(stored, self.embedder, self.settings)
        log.info("reloaded index %s", stored.generation)
        return True

    def reindex(self, progress: Progress | None = None, rebuild: bool = False) -> BuildReport:
        """Bring the index in line with the corpus folder, then use it."""
        report = self.build_index(self.settings, progress, rebuild, self.embedder)
        self.refresh()
        return report

    def add(
        self, items: Iterable[tuple[str, bytes]] | Iterable[str | Path], overwrite: bool = False, progress: Progress | None = None, folder: str = "uploads"
    ):
        """Copy documents into the corpus (under `uploads/`) and index them, then use the new index."""
        result = self.add_documents(self.settings, items, overwrite, folder, progress, self.embedder)
        self.refresh()
        return result

    def remove(self, doc: str, progress: Progress | None = None) -> BuildReport:
        """Delete a document from the corpus and its passages from the index, then use the new index."""
        report = self.remove_document(self.settings, doc, progress, self.embedder)
        self.refresh()
        return report

    # ------------------------------------------------------------------------------------ maintaining
    # The maintainer's commands (`index`, `add`, `remove`, `list`) work without a loaded index: it may be
    # missing, damaged or built with another model, and they are how it is put right.

    @staticmethod
    def build_index(settings: Settings | None = None, progress: Progress | None = None, rebuild: bool = False, embedder: Embedder | None = None) -> BuildReport:
        """Build or refresh the index from the corpus folder (only new or changed text is embedded)."""
        settings = settings or Settings.from_env()
        return sync(settings, embedder or Embedder(settings), progress, rebuild=rebuild)

    @staticmethod
    def add_documents(
        settings: Settings | None,
        items: Iterable[tuple[str, bytes]] | Iterable[str | Path],
        overwrite: bool = False,
        folder: str = "uploads",
        progress: Progress | None = None,
        embedder: Embedder | None = None,
    ):
        """Copy documents into `corpus/<folder>/` and index them, all or nothing: a file reported added is
        indexed, and a failed or interrupted build leaves neither it nor a trace. See `ingest.add_documents`."""
        from .ingest import add_documents

        settings = settings or Settings.from_env()
        return add_documents(settings, items, overwrite=overwrite, folder=folder, embedder=embedder or Embedder(settings), progress=progress)

    @staticmethod
    def remove_document(settings: Settings | None, doc: str, progress: Progress | None = None, embedder: Embedder | None = None) -> BuildReport:
        """Delete a document from the corpus and its passages from the index, all or nothing: if the build
        fails or is interrupted, the document stays in both. See `ingest.remove_document`."""
        from .ingest import remove_document

        settings = settings or Settings.from_env()
        return remove_document(settings, doc, embedder=embedder or Embedder(settings), progress=progress)

    @staticmethod
    def gaps(settings: Settings | None = None) -> tuple[list[dict], list[dict]]:
        """(refused and thumbs-down questions, grouped, most asked first; words recurring in them that neither
        the corpus nor the vocabulary knows, as candidates for the vocabulary file). Reads only the logs and
        the index's word list, not the model."""
        from .keywords import KeywordIndex
        from .logs import candidate_terms, gap_groups
        from .logs import gaps as logged_gaps
        from .vocabulary import Vocabulary

        settings = settings or Settings.from_env()
        groups = gap_groups(settings)
        gen = store.current_generation(settings.index_dir)
        folder = gen / store.KEYWORD if gen is not None else None
        vocab: frozenset[str] = frozenset()
        if folder is not None and (folder / KeywordIndex.WORDS).is_file():
            import json

            try:
                vocab = frozenset(json.loads((folder / KeywordIndex.WORDS).read_text()))
            except (OSError, ValueError):
                vocab = frozenset()
        vocabulary = Vocabulary.load(settings.corpus_dir)
        questions = [r["question"] for r in logged_gaps(settings)]
        terms = candidate_terms(questions, lambda w: w in vocab or vocabulary.knows(w))
        return groups, terms

    @staticmethod
    def feedback_report(settings: Settings | None = None, recent: int = 5) -> dict:
        """Thumbs up and down so far, and the latest thumbs-down questions with their answers (see
        `logs.feedback_summary`). Reads only the state store."""
        from .logs import feedback_summary

        return feedback_summary(settings or Settings.from_env(), recent)

    @staticmethod
    def purge(settings: Settings | None = None, older_than_days: int | None = None, everything: bool = False):
        """Delete kept conversations, feedback and gaps untouched for more than `older_than_days` (default
        `Settings.retention_days`; 0 keeps them), or all of them with `everything`. Returns a `Purged` count."""
        from .state import open_store

        store = open_store(settings or Settings.from_env())
        return store.purge_all() if everything else store.purge(older_than_days)

    @staticmethod
    def list_documents(settings: Settings | None = None) -> tuple[list[dict], str]:
        """(one row per indexed document: doc, title, passages, indexed_at; the model) from the manifest."""
        settings = settings or Settings.from_env()
        manifest = store.read_manifest(settings.index_dir)
        if manifest is None:
            raise IndexMissingError(f"no index in {settings.index_dir}/; run `python -m assistant index` to build it")
        return [{"doc": doc, **entry} for doc, entry in sorted(manifest["documents"].items())], manifest.get("model", "")


__all__ = ["Assistant", "Answer", "Source", "Settings", "abstain"]
