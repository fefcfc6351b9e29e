"""Retrieval: dense (FAISS) and keyword (BM25) rankings fused by reciprocal rank, plus the abstain test.

Reciprocal-rank fusion scores a passage by where it ranks, not by raw scores that live on different
scales:

    fused(p) = w_dense / (rrf_k + rank_dense(p)) + w_bm25 / (rrf_k + rank_bm25(p))

    e.g. rrf_k=60, a passage 1st in dense and 3rd in BM25: 1/61 + 1/63 ≈ 0.0323

The abstain decision uses the best dense cosine similarity: below `Settings.threshold` the corpus is
taken to say nothing on the question, whatever the keyword ranking found.
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
from dataclasses import dataclass, field

from .config import Settings
from .corpus import Passage
from .embed import Embedder
from .index import StoredIndex, faiss_id

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "bm25")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not now of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves i'm i've id ive dont get got want need know tell please thing things really
    also much many one like use used using""".split()
)

_WORD = re.compile(r"[a-z0-9][a-z0-9+#]*")


def stem(word: str) -> str:
    """A light suffix stripper: enough to match "models"/"model", "learning"/"learn", not a full stemmer.

    >>> [stem(w) for w in ["models", "learning", "studies", "class", "trained"]]
    ['model', 'learn', 'study', 'class', 'train']
    """
    if len(word) <= 4:
        return word
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


def words(text: str) -> list[str]:
    """Lower-cased words, stopwords dropped, unstemmed."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def tokenize(text: str) -> list[str]:
    return [stem(w) for w in words(text)]


@dataclass(frozen=True)
class Source:
    """A retrieved passage with its relevance (cosine similarity to the question, 0..1)."""

    id: str
    doc: str
    title: str
    heading: str
    text: str
    score: float
    highlights: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def of(cls, passage: Passage, score: float) -> "Source":
        return cls(passage.id, passage.doc, passage.title, passage.heading, passage.text, round(float(score), 4))

    @property
    def uploaded(self) -> bool:
        """Whether the document came in through `add` or the upload panel."""
        return self.doc.startswith("uploads/")


@dataclass(frozen=True)
class Retrieval:
    """Ranked sources plus what the abstain test needs."""

    sources: list[Source]
    best_cosine: float
    query: str  # the text actually searched (after spelling repair and follow-up condensing)

    def relevant(self, threshold: float) -> bool:
        return bool(self.sources) and self.best_cosine >= threshold


class Retriever:
    """Searches one loaded index. Thread-safe: the BM25 index is built once, under a lock."""

    def __init__(self, stored: StoredIndex, embedder: Embedder, settings: Settings) -> None:
        self.stored = stored
        self.embedder = embedder
        self.settings = settings
        self._bm25 = None
        self._vocab: dict[str, None] | None = None
        self._lock = threading.Lock()

    def _keyword_index(self):
        if self._bm25 is None:
            with self._lock:
                if self._bm25 is None:
                    import bm25s

                    logging.getLogger("bm25s").setLevel(logging.ERROR)

                    corpus = [tokenize(p.embedding_text()) or ["_"] for p in self.stored.passages]
                    bm25 = bm25s.BM25()
                    if corpus:
                        bm25.index(corpus, show_progress=False)
                    self._vocab = dict.fromkeys(w for p in self.stored.passages for w in words(p.embedding_text()))
                    self._bm25 = bm25
        return self._bm25

    def repair_spelling(self, text: str) -> str:
        """Replace words the corpus never uses by a close one it does ("lerning" -> "learning")."""
        self._keyword_index()
        vocab = self._vocab or {}
        out = []
        for token in re.findall(r"\w+|\W+", text):
            low = token.lower()
            if token.isalpha() and len(low) >= 4 and low not in vocab and low not in STOPWORDS:
                match = difflib.get_close_matches(low, vocab, n=1, cutoff=0.8)
                if match:
                    out.append(match[0])
                    continue
            out.append(token)
        return "".join(out)

    def _bm25_ranking(self, query: str, n: int) -> list[int]:
        tokens = [t for t in tokenize(query) if t]
        bm25 = self._keyword_index()
        if not tokens or not self.stored.passages:
            return []
        vocab = getattr(bm25, "vocab_dict", None)
        if vocab is not None:
            tokens = [t for t in tokens if t in vocab]
            if not tokens:
                return []
        docs, scores = bm25.retrieve([tokens], k=min(n, len(self.stored.passages)), show_progress=False)
        return [int(d) for d, s in zip(docs[0], scores[0]) if s > 0]

    def rankings(self, query: str, n: int, mode: str = "hybrid") -> Rankings:
        """The raw dense and keyword rankings (top `n` each) that fusion combines."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        repaired = self.repair_spelling(query[: self.settings.max_question_chars])
        vector = self.embedder.encode_query(repaired)
        dense = self.stored.search(vector, n)
        return Rankings(
            query=repaired,
            vector=vector,
            dense=dense if mode != "bm25" else [],
            bm25=self._bm25_ranking(repaired, n) if mode != "dense" else [],
            best_cosine=dense[0][1] if dense else 0.0,
            cosine=dict(dense),
        )

    def search(self, query: str, k: int, mode: str = "hybrid") -> Retrieval:
        """The `k` best passages for `query`, fused per `mode` ("hybrid", "dense" or "bm25")."""
        ranked = self.rankings(query, max(self.settings.candidates, k), mode)
        s = self.settings
        order = fuse(ranked, s.dense_weight, s.bm25_weight, s.rrf_k)[:k]
        return Retrieval([self.source(pos, ranked) for pos in order], float(ranked.best_cosine), ranked.query)

    def source(self, pos: int, ranked: Rankings) -> Source:
        """The passage at `pos` as a `Source`, scored by its cosine similarity to the query."""
        import numpy as np

        passage = self.stored.passages[pos]
        if pos not in ranked.cosine:  # found by keywords only: its cosine still tells the user how close it is
            stored = self.stored.dense.reconstruct(faiss_id(passage.id))
            ranked.cosine[pos] = float(np.dot(stored, ranked.vector))
        return Source.of(passage, ranked.cosine[pos])


@dataclass
class Rankings:
    """Both rankings of one query, before fusion (positions into the index's passage list)."""

    query: str
    vector: object
    dense: list[tuple[int, float]]
    bm25: list[int]
    best_cosine: float
    cosine: dict[int, float]


def fuse(ranked: Rankings, dense_weight: float, bm25_weight: float, rrf_k: int) -> list[int]:
    """Passage positions ordered by reciprocal-rank fusion (ties by corpus order, so it is deterministic)."""
    fused: dict[int, float] = {}
    for weight, ranking in ((dense_weight, [pos for pos, _ in ranked.dense]), (bm25_weight, ranked.bm25)):
        for rank, pos in enumerate(ranking, start=1):
            fused[pos] = fused.get(pos, 0.0) + weight / (rrf_k + rank)
    return sorted(fused, key=lambda pos: (-fused[pos], pos))
