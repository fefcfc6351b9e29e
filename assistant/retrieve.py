"""Ranking: the passages that best match a question, from three rankings fused by reciprocal rank.

The three rankings are dense (FAISS: cosine similarity of the question's vector to each passage's), keyword
(BM25, `keywords.py`) and asked questions (each passage's closest `<!-- asked: -->` question). Reciprocal-rank
fusion scores a passage by where it ranks, not by raw scores that live on different scales:

    fused(p) = w_dense / (rrf_k + rank_dense(p)) + w_bm25 / (rrf_k + rank_bm25(p)) + w_asked / (rrf_k + rank_asked(p))

    e.g. rrf_k=60, a passage 1st in dense and 3rd in BM25: 1/61 + 1/63 ≈ 0.0323

Every sentence of the passages returned is scored against the question too: deciding whether to answer
(`decide.py`) and composing (`compose.py`) read those scores.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from .config import Settings
from .corpus import Passage
from .embed import Embedder
from .index import StoredIndex, faiss_id
from .keywords import KeywordIndex
from .spelling import repair
from .text import asking_sentences, sentences_of, tokenize

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "bm25")

#: Passages whose sentence vectors a retriever keeps (about 8 sentences × 1.5 KB each per passage).
SENTENCE_MEMO = 4096


def heading_text(passage: Passage) -> str:
    """The words of a passage's own heading (its last level), or its document title before any heading."""
    return passage.heading.split(" › ")[-1] if passage.heading else passage.title


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
    #: What the abstain test compares with the threshold: the best cosine similarity between the question
    #: and one sentence of the sources, or one of their asked questions less `Settings.asked_offset`,
    #: whichever is higher (None: unknown, then the best passage's cosine stands in).
    support: float | None = None
    #: {source id: {sentence: cosine similarity to the question}} for the sources, so the composer can
    #: quote the sentences that mean what was asked, not only those that share its words.
    sentences: dict[str, dict[str, float]] = field(default_factory=dict, compare=False)
    #: {source id: cosine of its heading to the question}: near 1 when the section answers it as a whole.
    headings: dict[str, float] = field(default_factory=dict, compare=False)
    #: {source id: cosine of its closest asked question to the question} (hybrid mode only).
    asked: dict[str, float] = field(default_factory=dict, compare=False)
    #: The question's vector (deciding whether a question hinges on a word encodes variants against it).
    vector: object = field(default=None, compare=False, repr=False)
    #: For a question that asks several things, per thing asked: {source id: {sentence: cosine}}.
    parts: tuple[dict[str, dict[str, float]], ...] = field(default=(), compare=False)
    #: The things asked, in the order of `parts`.
    part_texts: tuple[str, ...] = field(default=(), compare=False)

    @property
    def relevance(self) -> float:
        return self.best_cosine if self.support is None else self.support



class Retriever:
    """Searches one loaded index. Thread-safe: the BM25 index is built once, under a lock."""

    def __init__(self, stored: StoredIndex, embedder: Embedder, settings: Settings) -> None:
        self.stored = stored
        self.embedder = embedder
        self.settings = settings
        self._keywords: KeywordIndex | None = stored.keywords  # loaded with the index (`index.load`)
        self._lock = threading.Lock()
        self._sentence_memo: OrderedDict[str, tuple[list[str], object]] = OrderedDict()
        self._memo_lock = threading.Lock()

    def _keyword_index(self) -> KeywordIndex:
        """The generation's saved keyword index, or one built in memory (once, under the lock)."""
        if self._keywords is None:
            with self._lock:
                if self._keywords is None:
                    keywords = None
                    folder = self.stored.keyword_dir
                    if folder is not None:
                        keywords = KeywordIndex.load(folder, len(self.stored.passages))
                    if keywords is None:
                        keywords = KeywordIndex.build([p.keyword_text() for p in self.stored.passages])
                    self._keywords = keywords
        return self._keywords

    @property
    def keywords(self) -> KeywordIndex:
        return self._keyword_index()

    def repair_spelling(self, text: str) -> str:
        """`text` with misspelt words repaired against the corpus's words (see `spelling.repair`)."""
        return repair(text, self._keyword_index())

    def choose(self, question: str, meanings: Sequence[str]) -> int:
        """Which meaning of an ambiguous word the corpus bears out: the question with each meaning added is
        searched, and the one whose closest passage is closest wins ("tailor my CV": résumé; "CV or NLP as a
        specialism": computer vision). One batch encode and a search per meaning."""
        vectors = self.embedder.encode([f"{question} ({m})" for m in meanings], query=True)
        best = [max((c for _, c in self.stored.search(v, 1)), default=0.0) for v in vectors]
        return max(range(len(meanings)), key=lambda i: (best[i], -i))


    def _bm25_ranking(self, query: str, n: int) -> list[int]:
        tokens = [t for t in tokenize(query) if t]
        keywords = self._keyword_index()
        if not tokens or not self.stored.passages:
            return []
        return keywords.ranking(tokens, n)

    def rankings(self, query: str, n: int, mode: str = "hybrid") -> Rankings:
        """The raw dense, keyword and asked-question rankings (top `n` each) that fusion combines: of the
        whole message, and of its asking sentences too when it is long (`asking_sentences`)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        repaired = query[: self.settings.max_question_chars]
        focus = asking_sentences(repaired)
        if focus:  # one batch for both
            vector, focus_vector = self.embedder.encode([repaired, focus], query=True)
        else:
            vector = self.embedder.encode_query(repaired)
        dense, bm25, asked = self._ranked(repaired, vector, n, mode)
        scored = dense if mode != "bm25" else self.stored.search(vector, n)  # bm25 mode still shows cosines
        return Rankings(
            query=repaired,
            vector=vector,
            dense=dense,
            bm25=bm25,
            best_cosine=scored[0][1] if scored else 0.0,
            cosine=dict(scored),
            asked=asked,
            focus=self._ranked(focus, focus_vector, n, mode) if focus else None,
        )

    def _ranked(self, text: str, vector, n: int, mode: str) -> tuple[list, list, dict]:
        """The (dense, keyword, asked-question) rankings of one text, each empty when `mode` leaves it out."""
        return (
            self.stored.search(vector, n) if mode != "bm25" else [],
            self._bm25_ranking(text, n) if mode != "dense" else [],
            self._asked_ranking(vector, n) if mode == "hybrid" else {},
        )

    def _asked_ranking(self, vector, n: int) -> dict[int, float]:
        """The `n` passages whose closest asked question is nearest the question, best first, each with
        that question's cosine similarity.

        Question to question is what the model was trained hardest on, so a reader's own words reach a
        section through the questions written for it when the section's wording is too far from theirs.
        """
        import numpy as np

        matrix, owners = self.stored.asked()
        if not len(owners):
            return {}
        cosines = matrix @ np.asarray(vector, dtype=np.float32)
        best: dict[int, float] = {}
        for row in np.argsort(-cosines, kind="stable"):  # best first: a passage's first row is its best
            best.setdefault(int(owners[row]), float(cosines[row]))
            if len(best) >= n:
                break
        return best

    def search(self, query: str, k: int, mode: str = "hybrid", parts: Sequence[str] = ()) -> Retrieval:
        """The `k` best passages for `query`, fused per `mode` ("hybrid", "dense" or "bm25").

        In hybrid mode the fused top `rerank_depth` are then re-ranked with their best sentence: a long
        passage that holds one sentence answering the question scores low as a whole (the rest
        dilutes it), and the sentence finds it. Every mode scores the sentences of what it returns, for the
        abstain test and for the composer; when the question asks several things (`parts`, see
        `reading.parts`), against each of them too.
        """
        s = self.settings
        return self.finish(self.rankings(query, max(s.candidates, k, s.rerank_depth), mode), k, mode, parts)

    def finish(self, ranked: Rankings, k: int, mode: str = "hybrid", parts: Sequence[str] = ()) -> Retrieval:
        """`search` after the rankings: fusion, re-ranking, sentence scores and the coverage checks."""
        s = self.settings
        order = fuse(ranked, s.dense_weight, s.bm25_weight, s.rrf_k, s.asked_weight)
        scored: dict[int, tuple[float, dict[str, float]]] = {}
        if mode == "hybrid" and s.sentence_weight > 0:
            head = order[: max(k, s.rerank_depth)]
            scored = self.passage_scores(head, ranked.vector)
            order = rerank(head, {pos: max(scored[pos][1].values()) for pos in head}, s.sentence_weight, s.rrf_k)
        order = order[:k]
        unscored = [pos for pos in order if pos not in scored]
        if unscored:
            scored.update(self.passage_scores(unscored, ranked.vector))
        support = max((cos for pos in order for cos in scored[pos][1].values()), default=0.0)
        asked = max((ranked.asked.get(pos, 0.0) for pos in order), default=0.0)
        support = max(support, asked - s.asked_offset)
        sources = [self.source(pos, ranked) for pos in order]
        sentences = {source.id: scored[pos][1] for source, pos in zip(sources, order)}
        headings = {source.id: scored[pos][0] for source, pos in zip(sources, order)}
        asked_by_id = {source.id: ranked.asked[pos] for source, pos in zip(sources, order) if pos in ranked.asked}
        by_part: list[dict[str, dict[str, float]]] = []
        if parts and order:
            for vector in self.embedder.encode(list(parts), query=True):
                scores = self.passage_scores(order, vector)
                by_part.append({source.id: scores[pos][1] for source, pos in zip(sources, order)})
        return Retrieval(
            sources, float(ranked.best_cosine), ranked.query, support, sentences, headings, asked_by_id, ranked.vector, tuple(by_part),
            tuple(parts) if by_part else (),
        )

    def sentence_scores(self, positions: Sequence[int], vector) -> dict[int, dict[str, float]]:
        """{position: {sentence: cosine to `vector`}} for these passages (see `passage_scores`)."""
        return {pos: scores for pos, (_, scores) in self.passage_scores(positions, vector).items()}

    def passage_scores(self, positions: Sequence[int], vector) -> dict[int, tuple[float, dict[str, float]]]:
        """{position: (heading's cosine to `vector`, {sentence: cosine})} for these passages.

        The heading is the question a notes section answers ("How long does it take to become job-ready?"):
        a question close to it is one the section answers as a whole. Vectors are made on first use and kept
        (least recently used go first beyond `SENTENCE_MEMO` passages), so a question costs one encode of the
        texts no question has touched yet: building them for the whole corpus up front would double the cost
        of indexing.
        """
        import numpy as np

        passages = self.stored.passages
        with self._memo_lock:
            known = {pos: self._sentence_memo.get(passages[pos].id) for pos in positions}
            for pos, entry in known.items():
                if entry is not None:
                    self._sentence_memo.move_to_end(passages[pos].id)
        todo = [pos for pos, entry in known.items() if entry is None]
        if todo:
            texts = [[heading_text(passages[pos]), *sentences_of(passages[pos].text)] for pos in todo]
            matrix = self.embedder.encode([t for group in texts for t in group], query=True)
            start = 0
            with self._memo_lock:
                for pos, group in zip(todo, texts):
                    entry = (group, matrix[start : start + len(group)])
                    start += len(group)
                    known[pos] = entry
                    self._sentence_memo[passages[pos].id] = entry
                while len(self._sentence_memo) > SENTENCE_MEMO:
                    self._sentence_memo.popitem(last=False)
        out = {}
        for pos in positions:
            group, vectors = known[pos]
            cosines = [round(float(c), 4) for c in np.asarray(vectors) @ np.asarray(vector)]
            out[pos] = (cosines[0], dict(zip(group[1:], cosines[1:])))
        return out

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
    #: {passage: cosine of its closest asked question}, best first (hybrid only).
    asked: dict[int, float] = field(default_factory=dict)
    #: (dense, keyword, asked) rankings of the message's asking sentences (`asking_sentences`), or None.
    #: Fusion weighs them like the whole message's; scores and the abstain test use the whole message.
    focus: tuple | None = None



def rerank(order: Sequence[int], best_sentence: dict[int, float], weight: float, rrf_k: int) -> list[int]:
    """`order` (fused, best first) re-ranked by reciprocal rank in it plus `weight` times reciprocal rank
    by best sentence; ties keep the fused order.

        e.g. rrf_k=5, weight=1: 4th fused but 1st by sentence: 1/9 + 1/6 ≈ 0.278, beats 1st fused and
        5th by sentence: 1/6 + 1/10 ≈ 0.267
    """
    by_sentence = sorted(order, key=lambda pos: -best_sentence[pos])
    score = {pos: 1.0 / (rrf_k + rank) for rank, pos in enumerate(order, start=1)}
    for rank, pos in enumerate(by_sentence, start=1):
        score[pos] += weight / (rrf_k + rank)
    position = {pos: i for i, pos in enumerate(order)}
    return sorted(order, key=lambda pos: (-score[pos], position[pos]))


def fuse(ranked: Rankings, dense_weight: float, bm25_weight: float, rrf_k: int, asked_weight: float = 0.0) -> list[int]:
    """Passage positions ordered by reciprocal-rank fusion of the dense, keyword and asked-question
    rankings (ties by corpus order, so it is deterministic).

        e.g. rrf_k=5, weights 1.5/1/1.5: 1st dense, 3rd by keywords, absent from asked: 1.5/6 + 1/8 = 0.375;
        4th dense, 9th by keywords, 1st asked: 1.5/9 + 1/14 + 1.5/6 ≈ 0.488 wins
    """
    fused: dict[int, float] = {}
    lists = [(ranked.dense, ranked.bm25, ranked.asked)] + ([ranked.focus] if ranked.focus else [])
    rankings = [
        (weight, ranking)
        for dense, bm25, asked in lists
        for weight, ranking in ((dense_weight, [pos for pos, _ in dense]), (bm25_weight, bm25), (asked_weight, asked))
    ]
    for weight, ranking in rankings:
        for rank, pos in enumerate(ranking, start=1):
            fused[pos] = fused.get(pos, 0.0) + weight / (rrf_k + rank)
    return sorted(fused, key=lambda pos: (-fused[pos], pos))

