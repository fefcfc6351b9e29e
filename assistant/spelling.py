"""Spelling repair: a word the corpus never uses is replaced by a close one it does ("lerning" -> "learning").

Only misspellings are repaired. A real English word the corpus never uses stays as typed ("bread" must not
become "read": that would drag a question the corpus cannot answer towards passages it has), and so does a
word the corpus has in another form ("classifier" is no typo of "classifiers").
"""

from __future__ import annotations

import functools
import re

from .keywords import KeywordIndex
from .text import STOPWORDS


def repair(text: str, keywords: KeywordIndex) -> str:
    """`text` with each misspelt word (4+ letters, not a stopword, unknown to the corpus and to English)
    replaced by the closest corpus word: a swapped pair of letters first, then a difflib ratio of 0.8.

    >>> class K:  # a stand-in for KeywordIndex with a three-word corpus
    ...     vocab = frozenset({"learning", "machine", "join"})
    ...     def knows(self, w): return w in self.vocab
    ...     def close_word(self, w): return "learning" if w == "lerning" else None
    >>> repair("Machine lerning, jion us; bread stays", K())
    'Machine learning, join us; bread stays'
    """
    out = []
    for token in re.findall(r"\w+|\W+", text):
        low = token.lower()
        if token.isalpha() and len(low) >= 4 and low not in STOPWORDS and not keywords.knows(low) and not is_english(low):
            match = swapped_letters(low, keywords.vocab) or keywords.close_word(low)
            if match and not other_form(low, match):
                out.append(match)
                continue
        out.append(token)
    return "".join(out)


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
