"""Retrieval: dense (FAISS) and keyword (BM25) rankings fused by reciprocal rank, plus the abstain test.

Reciprocal-rank fusion scores a passage by where it ranks, not by raw scores that live on different
scales:

    fused(p) = w_dense / (rrf_k + rank_dense(p)) + w_bm25 / (rrf_k + rank_bm25(p))

    e.g. rrf_k=60, a passage 1st in dense and 3rd in BM25: 1/61 + 1/63 ≈ 0.0323

In hybrid mode the fused top `rerank_depth` are then re-ranked with their best single sentence (`rerank`).

The abstain decision looks at sentences, not whole passages: below `Settings.threshold` for the best
sentence of the sources, the corpus is taken to say nothing on the question, whatever the keyword ranking
found. A question that passes is still refused when the sources cannot answer it although they are close
(`Retriever.finish`, `Retriever.unfamiliar_subject`): a name no passage mentions ("... in London?"), pay or prices
with no figure in sight, or a word the question hinges on that the corpus never uses ("... a chef need?").

Before any of this, misspelt words are repaired against the corpus vocabulary (`Retriever.repair_spelling`).
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .corpus import Passage, split_sentences
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


#: Sentences shorter than this (in words) are not scored alone: fragments say little.
MIN_SENTENCE_WORDS = 3

#: The hinge test (`Retriever.unfamiliar_subject`) runs on questions of at most this many content words,
#: for at most this many of their unknown words: each costs an encode of the question, and in a longer
#: question no single word carries the meaning (in the 17 labelled ones with unknown words, dropping one
#: left at least 0.88 of the similarity, above the 0.84 hinge).
MAX_HINGE_WORDS = 12
MAX_UNKNOWN_WORDS = 4

#: A message of at least this many words and several sentences is searched twice: whole, and by the
#: sentences that ask something (`asking_sentences`).
FOCUS_MIN_WORDS = 40

#: Passages whose sentence vectors a retriever keeps (about 8 sentences × 1.5 KB each per passage).
SENTENCE_MEMO = 4096


def sentence_units(text: str) -> list[tuple[int, str, bool]]:
    """(position, text, is a list item) of a passage's sentences and list items (marker dropped) of at
    least `MIN_SENTENCE_WORDS` words: the units the composer quotes and the abstain test scores. The
    position counts every unit of `split_sentences`, fragments included.

    >>> sentence_units("Tools:\\n- Python and SQL daily\\n- Git\\nIt ships models.")
    [(1, 'Python and SQL daily', True), (3, 'It ships models.', False)]
    """
    units = []
    for pos, unit in enumerate(split_sentences(text)):
        is_item = unit.startswith("- ")
        unit = unit[2:].strip() if is_item else unit
        if len(unit.split()) >= MIN_SENTENCE_WORDS:
            units.append((pos, unit, is_item))
    return units


def sentences_of(text: str) -> list[str]:
    """The texts of `sentence_units`, or the whole text when it has none (a passage of fragments)."""
    return [unit for _, unit, _ in sentence_units(text)] or [text.strip()]


def asking_sentences(message: str) -> str:
    """The sentences of a long, several-sentence message that end in "?", or "" when that is not a
    narrower question than the whole (a short message, one sentence, no "?", or every sentence asks).

    The background a career-changer gives first ("I'm learning Python in the evenings") pulls the
    whole message's vector and keywords towards itself; the sentence that asks says what to find.

    >>> asking_sentences("I ran building projects for ten years, with budgets, clients and stubborn engineers. "
    ...                  "I'm learning Python in the evenings and loving it. Everyone online talks only about "
    ...                  "code and maths. Do skills like mine count for anything in ML engineering?")
    'Do skills like mine count for anything in ML engineering?'
    """
    if len(message.split()) < FOCUS_MIN_WORDS:
        return ""
    sentences = split_sentences(message)
    asking = [s for s in sentences if s.endswith("?")]
    return " ".join(asking) if asking and len(asking) < len(sentences) else ""


def words(text: str) -> list[str]:
    """Lower-cased words, stopwords dropped, unstemmed."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


#: Memo of `stem` (the vocabulary is small next to the word count, so bulk tokenizing mostly hits it).
_STEMS: dict[str, str] = {}
_STEMS_MAX = 2_000_000


def tokenize(text: str) -> list[str]:
    return _stems(words(text))


def _stems(ws: list[str]) -> list[str]:
    out = []
    for w in ws:
        s = _STEMS.get(w)
        if s is None:
            s = stem(w)
            if len(_STEMS) < _STEMS_MAX:
                _STEMS[w] = s
        out.append(s)
    return out


#: Bump when `tokenize`, `words` or the text they read change: a saved keyword index made with other tokens is
#: then rebuilt.
TOKENIZER_VERSION = 2  # 2: the keyword text includes asked questions (Passage.keyword_text)


def _close_lengths(n: int) -> range:
    """Word lengths that can reach a difflib ratio of 0.8 against a word of `n` letters (2·min/(n+m) >= 0.8)."""
    return range(-(-2 * n // 3), n * 3 // 2 + 1)


#: The keyword folder's passages × words count matrix (scipy .npz; its columns are the words of words.json),
#: kept so that the next build tokenizes only the text it has not seen before.
_COUNTS = "counts.npz"


def _saved_counts(folder: Path, passages: int):
    """(counts, words) saved in a keyword folder for `passages` passages, or None: absent, stale or unreadable."""
    import zipfile

    import scipy.sparse as sp

    if not KeywordIndex.is_current(folder, passages):
        return None
    try:
        vocab = json.loads((folder / KeywordIndex.WORDS).read_text())
        counts = sp.load_npz(folder / _COUNTS).tocsr()
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        log.info("no reusable word counts in %s (%s); tokenizing every passage", folder, exc)
        return None
    return (counts, vocab) if counts.shape == (passages, len(vocab)) else None


def _word_counts(texts: Sequence[str], saved=None, saved_texts: Sequence[str] = ()):
    """Passages × words counts (CSR, columns in alphabetical word order) and those words.

    A text found in `saved_texts` takes its row from `saved` (the counts and words of the previous build), so
    only new text is tokenized. The result is the same as tokenizing everything: rows are looked up by their
    exact text, and the columns are renumbered to the alphabetical order of the words that still occur.
    """
    from collections import Counter

    import numpy as np
    import scipy.sparse as sp

    old_counts, old_words = saved if saved else (None, [])
    old_rows = {t: i for i, t in enumerate(saved_texts)} if saved else {}
    column = {w: j for j, w in enumerate(old_words)}  # old words keep their column, new ones are appended
    rows: list[int] = []
    cols: list[int] = []
    vals: list[int] = []
    kept: list[int] = []
    sources: list[int] = []
    for i, text in enumerate(texts):
        src = old_rows.get(text)
        if src is not None:
            kept.append(i)
            sources.append(src)
            continue
        for w, c in Counter(words(text)).items():
            rows.append(i)
            cols.append(column.setdefault(w, len(column)))
            vals.append(c)
    row, col, val = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(vals, dtype=np.int32)
    if kept:
        part = old_counts[np.array(sources)].tocoo()
        row = np.concatenate([np.array(kept, dtype=np.int64)[part.row], row])
        col = np.concatenate([part.col.astype(np.int64), col])
        val = np.concatenate([part.data.astype(np.int32), val])
    names = list(column)
    order = sorted(np.flatnonzero(np.bincount(col, minlength=len(names))).tolist(), key=names.__getitem__)
    renumber = np.zeros(len(names), dtype=np.int64)
    renumber[order] = np.arange(len(order))
    counts = sp.csr_matrix((val, (row, renumber[col])), shape=(len(texts), len(order)), dtype=np.int32)
    return counts, [names[j] for j in order]


def _bm25(counts, vocab: Sequence[str]):
    """A bm25s index from passages × words counts, the words merged by stem.

    The scores are those of bm25s's own `index` (its default "lucene" BM25 with its k1 and b; an empty passage
    counts one token, as bm25s's placeholder did), computed with sparse-matrix arithmetic instead of bm25s's
    loop over passages: a build that reuses most passages' counts then costs milliseconds, not seconds.
    """
    import bm25s
    import numpy as np
    import scipy.sparse as sp

    logging.getLogger("bm25s").setLevel(logging.ERROR)
    bm25 = bm25s.BM25()
    n = counts.shape[0]
    if not n:
        return bm25
    stems = _stems(list(vocab))
    names = sorted(set(stems))
    column = {s: j for j, s in enumerate(names)}
    merge = sp.csr_matrix(
        (np.ones(len(stems)), (np.arange(len(stems)), [column[s] for s in stems])), shape=(len(stems), len(names))
    )
    tf = (counts @ merge).tocsc()  # passages × stems
    length = np.maximum(np.asarray(counts.sum(axis=1), dtype=np.float64).ravel(), 1.0)
    df = np.diff(tf.indptr)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    norm = bm25.k1 * (1 - bm25.b + bm25.b * length / length.mean())
    scores = np.repeat(idf, df) * tf.data / (norm[tf.indices] + tf.data)
    bm25.scores = {
        "data": scores.astype(np.float32),
        "indices": tf.indices.astype(np.int32),
        "indptr": tf.indptr.astype(np.int64),
        "num_docs": n,
    }
    bm25.vocab_dict = {**column, "": len(names)}
    bm25.unique_token_ids_set = set(bm25.vocab_dict.values())
    bm25.nonoccurrence_array = None  # only BM25L and BM25+ use it
    return bm25


class KeywordIndex:
    """BM25 (bm25s) over the passages' tokens, plus the corpus's words for spelling repair.

    Built at index time and saved inside the generation folder (`keyword/`), so loading a large index does
    not tokenize every passage again; an index without it (older builds) is built in memory on first use.
    """

    META = "meta.json"
    WORDS = "words.json"

    def __init__(self, bm25, vocab: Iterable[str], size: int) -> None:
        self.bm25 = bm25
        self.size = size
        self.vocab = frozenset(vocab)
        self._sorted = sorted(self.vocab)
        self._by_length: dict[int, list[str]] = {}
        for w in self._sorted:
            self._by_length.setdefault(len(w), []).append(w)
        self._letters: dict[int, object] = {}  # per length: letter counts of its words, built on first use
        self._tokens = getattr(bm25, "vocab_dict", None) or {}
        self._counts = None  # each passage's word counts, when built here (see `build`); saved for the next build
        self.stems = frozenset(self._tokens) or frozenset(_stems(list(self.vocab)))

    def knows(self, word: str) -> bool:
        """Whether the corpus uses `word` (lower case), in this form or another with the same stem."""
        return word in self.vocab or stem(word) in self.stems

    def starts_word(self, prefix: str) -> bool:
        """Whether `prefix` (4+ letters) starts a word of the corpus: "prep" for "preparation"."""
        import bisect

        if len(prefix) < 4:
            return False
        i = bisect.bisect_left(self._sorted, prefix)
        return i < len(self._sorted) and self._sorted[i].startswith(prefix)

    @classmethod
    def build(cls, texts: Sequence[str], previous: Path | None = None, previous_texts: Sequence[str] = ()) -> KeywordIndex:
        """BM25 and the words over `texts`.

        `previous`, the keyword folder of the last generation (whose passages had `previous_texts`), lets text
        indexed before keep its saved word counts: after adding one document only that document is tokenized.
        """
        saved = _saved_counts(previous, len(previous_texts)) if previous is not None else None
        counts, vocab = _word_counts(texts, saved, previous_texts)
        index = cls(_bm25(counts, vocab), vocab, len(texts))
        index._counts = counts  # written by `save`, for the next build
        return index

    def save(self, folder: Path) -> None:
        """Write the index into `folder` (created): bm25s's arrays and vocabulary, our words, the word counts
        of each passage (when built here, not loaded) and a version."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.size:
            self.bm25.save(str(folder), show_progress=False)
        counts = self._counts
        if counts is not None:
            import scipy.sparse as sp

            sp.save_npz(folder / _COUNTS, counts, compressed=False)
        (folder / self.WORDS).write_text(json.dumps(sorted(self.vocab), ensure_ascii=False))
        meta = {"tokenizer": TOKENIZER_VERSION, "passages": self.size}
        (folder / self.META).write_text(json.dumps(meta))

    @classmethod
    def is_current(cls, folder: Path | None, passages: int) -> bool:
        """Whether `folder` holds an index saved for today's tokens and this passage count."""
        try:
            meta = json.loads((folder / cls.META).read_text()) if folder is not None else {}
        except (OSError, ValueError):
            return False
        return meta.get("tokenizer") == TOKENIZER_VERSION and meta.get("passages") == passages

    @classmethod
    def load(cls, folder: Path, passages: int) -> KeywordIndex | None:
        """The saved index, or None when it is absent or was made for other tokens or another passage count."""
        if not cls.is_current(folder, passages):
            log.info("the saved keyword index in %s is stale or unreadable; rebuilding it in memory", folder)
            return None
        try:
            vocab = json.loads((folder / cls.WORDS).read_text())
            import bm25s

            logging.getLogger("bm25s").setLevel(logging.ERROR)
            bm25 = bm25s.BM25.load(str(folder), load_corpus=False) if passages else bm25s.BM25()
        except (OSError, ValueError, KeyError) as exc:
            log.warning("cannot read the saved keyword index in %s (%s); rebuilding it in memory", folder, exc)
            return None
        return cls(bm25, vocab, passages)

    def ranking(self, tokens: list[str], n: int) -> list[int]:
        """Passage positions by BM25 score (top `n`, only those scoring above zero; ties by position).

        Selects among the passages that score at all instead of partitioning every passage's score (most
        are zero, and partitioning a million tied zeros cost more than scoring).
        """
        import numpy as np

        tokens = [t for t in tokens if t in self._tokens]
        if not tokens or not self.size or n <= 0:
            return []
        scores = self.bm25.get_scores(tokens)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > n:
            cutoff = np.partition(scores[hits], len(hits) - n)[len(hits) - n]  # the n-th best score
            hits = hits[scores[hits] >= cutoff]
        order = hits[np.lexsort((hits, -scores[hits]))][:n]
        return order.tolist()

    def close_word(self, word: str) -> str | None:
        """The corpus word closest to `word` (difflib ratio >= 0.8), or None.

        The same answer as `difflib.get_close_matches(word, vocabulary, 1, 0.8)` (ties go to the same word),
        at a fraction of the cost: only words of a length that can reach the cutoff are considered, and of
        those only the ones whose shared letters can (difflib's own `quick_ratio` bound, computed for all of
        them at once with numpy) go through difflib.
        """
        import numpy as np

        probe = _letter_counts(word)
        candidates: list[str] = []
        for n in _close_lengths(len(word)):
            bucket = self._by_length.get(n)
            if not bucket:
                continue
            counts = self._letters.get(n)
            if counts is None:
                counts = self._letters[n] = np.array([_letter_counts(w) for w in bucket], dtype=np.int16)
            shared = np.minimum(counts, probe).sum(axis=1)
            keep = np.flatnonzero(2.0 * shared / (len(word) + n) >= 0.8)
            candidates.extend(bucket[i] for i in keep)
        match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.8)
        return match[0] if match else None


@functools.cache
def english_words() -> frozenset[str]:
    """The English words of pyspellchecker's bundled frequency list seen more than `RARE` times (about
    0.3 s to load, once per process). Its rarest entries are mostly misspellings ("chian": 50)."""
    from spellchecker import SpellChecker

    counts = SpellChecker(distance=1).word_frequency.dictionary
    return frozenset(w for w, n in counts.items() if n > RARE)


#: pyspellchecker's floor count: a word seen this rarely is treated as unknown.
RARE = 50


def is_english(word: str) -> bool:
    """Whether `word` (lower case) is a common English word, so not a misspelling to repair.

    >>> is_english("bread"), is_english("lerning"), is_english("chian")
    (True, False, False)
    """
    return word in english_words()


def swapped_letters(word: str, vocab: frozenset[str]) -> str | None:
    """A vocabulary word that is `word` with two neighbouring letters swapped ("jion" -> "join"): the
    commonest typo, which a similarity ratio rates low in short words."""
    for i in range(len(word) - 1):
        candidate = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if candidate != word and candidate in vocab:
            return candidate
    return None


#: Endings that make another form of the same word; two words differing only in them are not a typo pair.
_ENDINGS = frozenset("s es ed ing ly er ers or ors ment ments ion ions al ally ity ive ness".split()) | {""}


def other_form(word: str, match: str) -> bool:
    """Whether `match` is `word` with another ending ("secretly"/"secrets"), not a spelling fix of it.

    >>> other_form("developer", "development"), other_form("machin", "machine"), other_form("enginer", "engineer")
    (True, False, False)
    """
    n = 0
    while n < min(len(word), len(match)) and word[n] == match[n]:
        n += 1
    return n >= 4 and word[n:] != match[n:] and word[n:] in _ENDINGS and match[n:] in _ENDINGS


_ALPHABET = {c: i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz0123456789+#")}


def _letter_counts(word: str) -> list[int]:
    """How often each character of the corpus alphabet occurs in `word` (others can never be shared)."""
    counts = [0] * len(_ALPHABET)
    for c in word:
        i = _ALPHABET.get(c)
        if i is not None:
            counts[i] += 1
    return counts


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
    #: Why the sources cannot answer although they are close (see `Retriever.finish`), or "".
    uncovered: str = ""
    #: {source id: {sentence: cosine similarity to the question}} for the sources, so the composer can
    #: quote the sentences that mean what was asked, not only those that share its words.
    sentences: dict[str, dict[str, float]] = field(default_factory=dict, compare=False)

    @property
    def relevance(self) -> float:
        return self.best_cosine if self.support is None else self.support

    def relevant(self, threshold: float) -> bool:
        return bool(self.sources) and self.relevance >= threshold and not self.uncovered


class Retriever:
    """Searches one loaded index. Thread-safe: the BM25 index is built once, under a lock."""

    def __init__(self, stored: StoredIndex, embedder: Embedder, settings: Settings) -> None:
        self.stored = stored
        self.embedder = embedder
        self.settings = settings
        self._keywords: KeywordIndex | None = None
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

    def repair_spelling(self, text: str) -> str:
        """Replace words the corpus never uses by a close one it does ("lerning" -> "learning").

        Only misspellings are repaired. A real English word the corpus never uses stays as typed ("bread"
        must not become "read", nor "pilot" "plots": that would drag a question the corpus cannot answer
        towards passages it has), and so does a word the corpus has in another form: "classifier" (the
        corpus says "classifiers") is no typo, and "developer" must not become "development".
        """
        keywords = self._keyword_index()
        out = []
        for token in re.findall(r"\w+|\W+", text):
            low = token.lower()
            if (
                token.isalpha()
                and len(low) >= 4
                and low not in STOPWORDS
                and not keywords.knows(low)
                and not is_english(low)
            ):
                match = swapped_letters(low, keywords.vocab) or keywords.close_word(low)
                if match and not other_form(low, match):
                    out.append(match)
                    continue
            out.append(token)
        return "".join(out)

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
        repaired = self.repair_spelling(query[: self.settings.max_question_chars])
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

    def search(self, query: str, k: int, mode: str = "hybrid") -> Retrieval:
        """The `k` best passages for `query`, fused per `mode` ("hybrid", "dense" or "bm25").

        In hybrid mode the fused top `rerank_depth` are then re-ranked with their best sentence: a long
        passage that holds one sentence answering the question scores low as a whole (the rest
        dilutes it), and the sentence finds it. Every mode scores the sentences of what it returns, for the
        abstain test and for the composer.
        """
        s = self.settings
        return self.finish(self.rankings(query, max(s.candidates, k, s.rerank_depth), mode), k, mode)

    def finish(self, ranked: Rankings, k: int, mode: str = "hybrid") -> Retrieval:
        """`search` after the rankings: fusion, re-ranking, sentence scores and the coverage checks."""
        s = self.settings
        order = fuse(ranked, s.dense_weight, s.bm25_weight, s.rrf_k, s.asked_weight)
        scored: dict[int, dict[str, float]] = {}
        if mode == "hybrid" and s.sentence_weight > 0:
            head = order[: max(k, s.rerank_depth)]
            scored = self.sentence_scores(head, ranked.vector)
            order = rerank(head, {pos: max(scored[pos].values()) for pos in head}, s.sentence_weight, s.rrf_k)
        order = order[:k]
        unscored = [pos for pos in order if pos not in scored]
        if unscored:
            scored.update(self.sentence_scores(unscored, ranked.vector))
        support = max((cos for pos in order for cos in scored[pos].values()), default=0.0)
        asked = max((ranked.asked.get(pos, 0.0) for pos in order), default=0.0)
        support = max(support, asked - s.asked_offset)
        sources = [self.source(pos, ranked) for pos in order]
        missing = ""
        if support >= s.threshold:  # only a question that would be answered needs the closer look
            texts = [source.text for source in sources]
            if asks_for_writing(ranked.query):
                missing = "this assistant only quotes its sources: it cannot write, draft or translate for you"
            elif absent := self.hinging(ranked.query, ranked.vector, absent_names(ranked.query, texts), s.name_hinge):
                missing = f"the sources never mention {', '.join(absent)}"
            elif lacks_figures(ranked.query, texts):
                missing = "the sources give no figures for pay or prices"
            elif unknown := self.unfamiliar_subject(ranked.query, ranked.vector):
                missing = f"the corpus never mentions {' or '.join(f'“{w}”' for w in unknown)}"
        sentences = {source.id: scored[pos] for source, pos in zip(sources, order)}
        return Retrieval(sources, float(ranked.best_cosine), ranked.query, support, missing, sentences)

    def hinging(self, query: str, vector, candidates: Sequence[str], hinge: float) -> list[str]:
        """Those of `candidates` (words or names of `query`) the question hinges on: without the word, the
        question's similarity to itself falls below `hinge`. One batch encodes every variant."""
        if not candidates:
            return []
        import numpy as np

        variants = [re.sub(rf"(?i)(?<![a-z0-9]){re.escape(w)}(?![a-z0-9])", " ", query) for w in candidates]
        cosines = np.asarray(self.embedder.encode(variants, query=True)) @ np.asarray(vector)
        return [w for w, c in zip(candidates, cosines) if c < hinge]

    def unfamiliar_subject(self, query: str, vector) -> list[str]:
        """The words the question hinges on that the corpus never uses (in the question's order), or [].

        "What qualifications does a chef need?" lands near passages on qualifications, but "chef" is
        nowhere in the corpus and the question means little without it. A word hinges when the question
        without it is less similar to the question than `Settings.unknown_word_hinge`: dropping
        "brilliant" from a long paraphrase barely moves it (0.94), dropping "chef" does (0.70). Words the
        corpus has in another form, or that start a corpus word ("prep" for "preparation"), count as known.
        """

        keywords = self._keyword_index()
        content = list(dict.fromkeys(words(query)))
        if len(content) > MAX_HINGE_WORDS:
            return []
        unknown = [
            w for w in content if len(w) >= 3 and not keywords.knows(w) and not keywords.starts_word(w)
        ][:MAX_UNKNOWN_WORDS]
        return self.hinging(query, vector, unknown, self.settings.unknown_word_hinge)

    def sentence_scores(self, positions: Sequence[int], vector) -> dict[int, dict[str, float]]:
        """{position: {sentence: cosine to `vector`}} for these passages.

        Sentence vectors are made on first use and kept (least recently used go first beyond
        `SENTENCE_MEMO` passages), so a question costs one encode of the sentences no question has touched
        yet: building them for the whole corpus up front would double the cost of indexing.
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
            texts = [sentences_of(passages[pos].text) for pos in todo]
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
            cosines = np.asarray(vectors) @ np.asarray(vector)
            out[pos] = {text: round(float(c), 4) for text, c in zip(group, cosines)}
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


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9+#]*(?:[.-][A-Za-z0-9+#]+)*")
_MONEY_QUESTION = re.compile(
    r"\b(salar(y|ies)|wages?|income|earn(s|ing|ings)?|paid|compensation|bonus(es)?|stock options?|pay (rise|raise)s?)\b"
    r"|\bhow much\b.*\b(cost|costs|pay|make|charge)\b",
    re.I,
)
_MONEY_FIGURE = re.compile(r"[$€£¥]\s?\d|\b\d[\d,.]*\s?(k|usd|eur|gbp|dollars?|euros?|pounds?)\b", re.I)


def names(question: str) -> list[str]:
    """Capitalised words inside the question's sentences (their first words aside): the names of places,
    companies and products it asks about. Acronyms of capitals only are left out ("STAR", "US" and "ML"
    are written many ways); with a digit they are names ("H-1B", "GPT-4").

    >>> names("What does Google ask? London pays well, I hear. Is an H-1B visa or a US one needed for ML?")
    ['Google', 'H-1B']
    """
    found = []
    for sentence in re.split(r"(?<=[.!?])\s+", question.strip()):
        for i, word in enumerate(_NAME.findall(sentence)):
            if i > 0 and word[0].isupper() and word not in ("I", "I'm") and not (word.isupper() and not any(c.isdigit() for c in word)):
                found.append(word)
    return found


_POLITE = r"^\s*(?:please\s+)?(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?"
_AUTHORING = re.compile(
    _POLITE + r"(?:(?:write|draft|translate|compose|rewrite|proofread|generate)\b|(?:make|create|build|design)\s+me\b)",
    re.I,
)


def asks_for_writing(question: str) -> bool:
    """Whether `question` asks the assistant to write something (code, a letter, a translation, a plan
    made for the reader) rather than asks what the sources say. An extractive assistant can only quote;
    close passages ("PyTorch", "cover letter") would otherwise be quoted as if they were the work.

    >>> asks_for_writing("Can you write the PyTorch code for an attention layer?")
    True
    >>> asks_for_writing("How do I write clean, testable ML code?")
    False
    """
    return bool(_AUTHORING.search(question))


def lacks_figures(question: str, texts: Sequence[str]) -> bool:
    """Whether `question` asks about pay or prices and none of `texts` gives a money figure."""
    return bool(_MONEY_QUESTION.search(question)) and not any(_MONEY_FIGURE.search(t) for t in texts)


def absent_names(question: str, texts: Sequence[str]) -> list[str]:
    """The names of `question` (see `names`) that none of `texts` mentions.

    Near misses score high on similarity because most of their words are the corpus's own: "How much
    does a junior machine learning engineer earn in London?" sits next to passages about junior roles.
    Similarity cannot see that no passage mentions London; this can. (Whether the question hinges on the
    name is `Retriever.hinging`'s call; a question about pay is checked for figures in `Retriever.finish`.)

    >>> absent_names("Does Google ask about Python?", ["Python is the main language."])
    ['Google']
    """
    body = " ".join(texts).lower()
    return [n for n in dict.fromkeys(names(question)) if not re.search(rf"(?<![a-z0-9]){re.escape(n.lower())}(?![a-z0-9])", body)]


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
