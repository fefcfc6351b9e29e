"""The keyword index: BM25 over the passages' words, saved with each index generation, and the corpus's
vocabulary (which words it knows, and the closest known word to a misspelt one).

BM25 scores a passage for a question by the question's words it contains, rarer words weighing more and
long passages weighing less per word; it finds exact terms ("LAG and LEAD", "HDFS") that a small embedding
model blurs.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from .text import _stems, stem, words

log = logging.getLogger(__name__)

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
        """Whether the corpus uses `word` (lower case), in this form or another with the same stem, or its
        plural ("cnn" for "CNNs": a word of four letters or fewer keeps its "s" when stemmed), or its stem
        with a doubled last letter undone ("blogging" stems to "blogg"; the corpus has "blog"), or without a
        final "e" (the stemmer keeps it in "explodes" and drops it in "exploding")."""
        if word in self.vocab or f"{word}s" in self.vocab:
            return True
        s = stem(word)
        if s in self.stems or (len(s) > 3 and s.endswith("e") and s[:-1] in self.stems):  # "explodes" / "exploding"
            return True
        return len(s) > 3 and s[-1] == s[-2] and s[-1] not in "lsz" and s[:-1] in self.stems

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


_ALPHABET = {c: i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz0123456789+#")}


def _letter_counts(word: str) -> list[int]:
    """How often each character of the corpus alphabet occurs in `word` (others can never be shared)."""
    counts = [0] * len(_ALPHABET)
    for c in word:
        i = _ALPHABET.get(c)
        if i is not None:
            counts[i] += 1
    return counts
