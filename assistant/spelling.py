"""Spelling repair: a word the corpus never uses is replaced by a close one it does ("lerning" -> "learning").

Only misspellings are repaired. A real English word the corpus never uses stays as typed ("bread" must not
become "read": that would drag a question the corpus cannot answer towards passages it has), and so does a
word the corpus has in another form ("classifier" is no typo of "classifiers").
"""

from __future__ import annotations

import re
import threading

from .keywords import KeywordIndex
from .text import STOPWORDS


def repair(text: str, keywords: KeywordIndex, keep: frozenset[str] = frozenset()) -> str:
    """`text` with each misspelt word (4+ letters, not a stopword, unknown to the corpus and to English)
    replaced by the closest corpus word: a swapped pair of letters first, then a difflib ratio of 0.8 with at
    most a letter or two more or fewer (a typo keeps its length; "openai" is not "open"). Words in `keep`
    (names, as typed) stay as they are.

    >>> class K:  # a stand-in for KeywordIndex with a three-word corpus
    ...     vocab = frozenset({"learning", "machine", "join"})
    ...     def knows(self, w): return w in self.vocab
    ...     def close_word(self, w): return "learning" if w == "lerning" else None
    >>> repair("Machine lerning, jion us; bread stays", K())
    'Machine learning, join us; bread stays'
    >>> repair("When shuold I retrain becuase of drift?", K())
    'When should I retrain because of drift?'
    """
    out = []
    for token in re.findall(r"\w+|\W+", text):
        low = token.lower()
        if token.isalpha() and len(low) >= 4 and low not in STOPWORDS and token not in keep and not keywords.knows(low):
            match = british(low, keywords.knows)
            if match is None and not is_english(low):
                # A swapped pair may hide an everyday word the keyword index leaves out ("shuold", "becuase").
                match = swapped_letters(low, keywords.vocab) or swapped_letters(low, english_words()) or keywords.close_word(low)
                if match and (other_form(low, match) or abs(len(match) - len(low)) > (1 if len(low) <= 8 else 2)):
                    match = None
            if match:
                out.append(match)
                continue
        out.append(token)
    return "".join(out)


#: American endings and their British forms, as the notes spell them ("regularization" -> "regularisation").
_BRITISH = (
    ("ization", "isation"), ("izations", "isations"), ("ize", "ise"), ("izes", "ises"), ("ized", "ised"),
    ("izing", "ising"), ("yze", "yse"), ("yzes", "yses"), ("yzed", "ysed"), ("yzing", "ysing"),
    ("eling", "elling"), ("eled", "elled"), ("eler", "eller"), ("or", "our"), ("ors", "ours"), ("orable", "ourable"),
    ("ter", "tre"), ("ters", "tres"), ("ense", "ence"), ("og", "ogue"), ("ogs", "ogues"),
)


def british(word: str, knows) -> str | None:
    """The British spelling of an American `word` when the corpus uses it (`knows`), else None.

    >>> british("regularization", {"regularisation"}.__contains__), british("color", {"colour"}.__contains__)
    ('regularisation', 'colour')
    >>> british("model", {"model"}.__contains__) is None
    True
    """
    for us, uk in _BRITISH:
        if word.endswith(us) and len(word) > len(us) + 2:
            candidate = word[: -len(us)] + uk
            if knows(candidate):
                return candidate
    return None


_ENGLISH: frozenset[str] | None = None
_ENGLISH_LOCK = threading.Lock()


def english_words() -> frozenset[str]:
    """The English words of pyspellchecker's bundled frequency list seen more than `RARE` times (about
    0.3 s to load, once per process). Its rarest entries are mostly misspellings ("chian": 50).

    Built under a lock: `Assistant.load` starts reading it in a thread while the first question may already
    need it, and two threads building pyspellchecker's dictionary at once can leave one with part of it."""
    global _ENGLISH
    if _ENGLISH is None:
        with _ENGLISH_LOCK:
            if _ENGLISH is None:
                from spellchecker import SpellChecker

                counts = SpellChecker(distance=1).word_frequency.dictionary
                _ENGLISH = frozenset(w for w, n in counts.items() if n > RARE)
    return _ENGLISH


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


#: Other languages whose word lists pyspellchecker bundles: a question whose unknown words are theirs is
#: not English ("diferencia", "Doktortitel"), however close to English words spelling repair would bring them.
OTHER_LANGUAGES = {"es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese", "it": "Italian", "nl": "Dutch"}
_LANGUAGES: dict[str, frozenset[str]] = {}


def language_words(code: str) -> frozenset[str]:
    """The common words (seen more than `RARE` times) of one of `OTHER_LANGUAGES`, read on first use."""
    words = _LANGUAGES.get(code)
    if words is None:
        with _ENGLISH_LOCK:
            words = _LANGUAGES.get(code)
            if words is None:
                from spellchecker import SpellChecker

                counts = SpellChecker(language=code, distance=1).word_frequency.dictionary
                words = _LANGUAGES[code] = frozenset(w for w, n in counts.items() if n > RARE)
    return words


def other_language_hits(words: list[str]) -> tuple[str, int]:
    """(the language most of `words` belong to, how many do), or ("", 0) when fewer than two do."""
    best, hits = "", 1
    for code, name in OTHER_LANGUAGES.items():
        vocabulary = language_words(code)
        n = sum(1 for w in words if w in vocabulary)
        if n > hits:
            best, hits = name, n
    return (best, hits) if best else ("", 0)
