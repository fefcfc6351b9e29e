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
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from . import index as store
from .answer import Answer, abstain
from .build import BuildReport, Progress, sync
from .compose import compose
from .config import Settings
from .embed import Embedder
from .errors import IndexMissingError, InputError
from .followup import Turn, condense
from .retrieve import Retrieval, Retriever, Source
from .spelling import english_words

log = logging.getLogger(__name__)

class Assistant:
    """Answers questions from the corpus with cited passages. Build with `Assistant.load()`."""

    def __init__(self, settings: Settings, embedder: Embedder, stored: store.StoredIndex) -> None:
        self.settings = settings
        self.embedder = embedder
        self._retriever = Retriever(stored, embedder, settings)
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
        if not isinstance(question, str) or not question.strip():
            raise InputError("the question is empty; type a question about becoming an ML engineer")
        question = " ".join(question.split())
        return question[: self.settings.max_question_chars]

    def retrieve(self, question: str, k: int | None = None, mode: str = "hybrid", history: Sequence[Turn] | None = None) -> list[Source]:
        """The `k` most relevant passages, best first (without the abstain test)."""
        return self._search(self._clean_question(question), k, mode, history).sources

    def _search(self, question: str, k: int | None, mode: str, history: Sequence[Turn] | None) -> Retrieval:
        k = k or self.settings.top_k
        if k < 1:
            raise InputError("k must be at least 1")
        return self._retriever.search(condense(question, history), k, mode)

    def ask(
        self, question: str, history: Sequence[Turn] | None = None, k: int | None = None, mode: str = "hybrid", log_gaps: bool = True
    ) -> Answer:
        """Answer `question` (with earlier turns in `history` for follow-ups), citing passages.

        An abstained question is appended to the gaps log (unless `log_gaps` is off, as in evaluation).
        With `answer_mode="llm"` a language model writes the answer (see `stream`).
        """
        if self.settings.answer_mode == "llm":
            return self.stream(question, history, k, mode, log_gaps).answer
        question = self._clean_question(question)
        retrieval = self._search(question, k, mode, history)
        answer = compose(question, retrieval, self.settings.threshold, self.settings.answer_words)
        if answer.abstained and log_gaps:
            self._log_gap(question)
        return answer

    def stream(self, question: str, history: Sequence[Turn] | None = None, k: int | None = None, mode: str = "hybrid", log_gaps: bool = True):
        """Like `ask`, as an `llm.AnswerStream`: iterate it for the text as it is written (in llm mode; in
        extractive mode, or when retrieval abstains, the whole answer comes as one chunk), then read its
        `.answer`: the checked `Answer`, or the extractive one with a note saying why."""
        from .llm import AnswerStream, generate

        question = self._clean_question(question)
        retrieval = self._search(question, k, mode, history)
        extractive = compose(question, retrieval, self.settings.threshold, self.settings.answer_words)
        if extractive.abstained and log_gaps:
            self._log_gap(question)
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

    def suggestions(self, question: str, n: int = 3) -> list[str]:
        """Questions the corpus can answer near this one: the headings of the closest passages."""
        seen: dict[str, None] = {}
        for source in self._search(self._clean_question(question), 10, "hybrid", None).sources:
            heading = source.heading.split(" › ")[-1] if source.heading else source.title
            if heading and heading not in seen:
                seen[heading] = None
        return list(seen)[:n]

    def _log_gap(self, question: str) -> None:
        try:
            from .logs import append_gap

            append_gap(self.settings.state_dir, question)
        except OSError as exc:  # the log is a convenience; an answer must not fail because of it
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
        report = sync(self.settings, self.embedder, progress, rebuild=rebuild)
        self.refresh()
        return report

    def add(self, items: Iterable[tuple[str, bytes]] | Iterable[str | Path], overwrite: bool = False, progress: Progress | None = None):
        """Copy documents into the corpus (under `uploads/`) and index them. See `ingest.add_documents`."""
        from .ingest import add_documents

        result = add_documents(self.settings, items, overwrite=overwrite)
        if result.added:
            result.report = self.reindex(progress)
        return result

    def remove(self, doc: str, progress: Progress | None = None) -> BuildReport:
        """Delete a document from the corpus and its passages from the index."""
        from .ingest import remove_document

        remove_document(self.settings, doc)
        return self.reindex(progress)


__all__ = ["Assistant", "Answer", "Source", "Settings", "abstain", "condense"]
