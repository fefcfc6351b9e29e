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
from .errors import IndexMissingError, InputError
from .followup import Turn
from .reading import Reading, read
from .retrieve import Retrieval, Retriever, Source
from .spelling import english_words

log = logging.getLogger(__name__)

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

    def read(self, question: str) -> Reading:
        """How `question` is searched: vocabulary meanings added, spelling repaired (see `reading.py`)."""
        retriever = self._retriever
        return read(self._clean_question(question), self.stored.vocabulary, retriever.keywords, retriever.choose)

    def retrieve(self, question: str, k: int | None = None, mode: str = "hybrid", history: Sequence[Turn] | None = None) -> list[Source]:
        """The `k` most relevant passages, best first (whether or not the corpus answers the question)."""
        return self._understand(self._clean_question(question), k, mode, history)[1].sources

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
        if followup.prefer_context(alone.relevance, joined.relevance, self.settings.threshold):
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
        question = self._clean_question(question)
        answer, _ = self._answer(question, k, mode, history)
        if answer.abstained and log_gaps:
            self._log_gap(question, answer.reason)
        return answer

    def stream(self, question: str, history: Sequence[Turn] | None = None, k: int | None = None, mode: str = "hybrid", log_gaps: bool = True):
        """Like `ask`, as an `llm.AnswerStream`: iterate it for the text as it is written (in llm mode; in
        extractive mode, or when retrieval abstains, the whole answer comes as one chunk), then read its
        `.answer`: the checked `Answer`, or the extractive one with a note saying why."""
        from .llm import AnswerStream, generate

        question = self._clean_question(question)
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

            append_gap(self.settings.state_dir, question, reason)
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
        """Copy documents into `corpus/<folder>/` and index them. See `ingest.add_documents`."""
        from .ingest import add_documents

        settings = settings or Settings.from_env()
        result = add_documents(settings, items, overwrite=overwrite, folder=folder)
        if result.added:
            result.report = sync(settings, embedder or Embedder(settings), progress)
        return result

    @staticmethod
    def remove_document(settings: Settings | None, doc: str, progress: Progress | None = None, embedder: Embedder | None = None) -> BuildReport:
        """Delete a document from the corpus and its passages from the index."""
        from .ingest import remove_document

        settings = settings or Settings.from_env()
        remove_document(settings, doc)
        return sync(settings, embedder or Embedder(settings), progress)

    @staticmethod
    def gaps(settings: Settings | None = None) -> tuple[list[dict], list[dict]]:
        """(refused and thumbs-down questions, grouped, most asked first; words recurring in them that neither
        the corpus nor the vocabulary knows, as candidates for the vocabulary file). Reads only the logs and
        the index's word list, not the model."""
        from .keywords import KeywordIndex
        from .logs import GAPS, candidate_terms, gap_groups, read
        from .vocabulary import Vocabulary

        settings = settings or Settings.from_env()
        groups = gap_groups(settings.state_dir)
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
        questions = [r["question"] for r in read(settings.state_dir / GAPS)]
        terms = candidate_terms(questions, lambda w: w in vocab or vocabulary.knows(w))
        return groups, terms

    @staticmethod
    def list_documents(settings: Settings | None = None) -> tuple[list[dict], str]:
        """(one row per indexed document: doc, title, passages, indexed_at; the model) from the manifest."""
        settings = settings or Settings.from_env()
        manifest = store.read_manifest(settings.index_dir)
        if manifest is None:
            raise IndexMissingError(f"no index in {settings.index_dir}/; run `python -m assistant index` to build it")
        return [{"doc": doc, **entry} for doc, entry in sorted(manifest["documents"].items())], manifest.get("model", "")


__all__ = ["Assistant", "Answer", "Source", "Settings", "abstain"]
