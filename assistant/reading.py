"""Reading a question: what the person typed, turned into what the corpus can be searched with.

Case and typing must not change the answer: "WHAT IS AN M.L.E.?", "what is an mle" and "What is a machine
learning engineer?" are one question. Reading does, in order:

    "Do I need a Ph.D. for an MLE role? regularization confuses me"
    1. dotted abbreviations lose their dots        -> "... a PhD for an MLE role? ..."
    2. the maintainer's vocabulary adds meanings   -> "... an MLE (machine learning engineer) role? ..."
    3. spelling: American forms and typos repaired -> "... regularisation confuses me"

and notes whether the question's capital letters can be trusted (not Title Case, not ALL CAPS): deciding
whether a question names a company or a place (`decide.py`) looks at capitals only when they carry meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .keywords import KeywordIndex
from .spelling import repair
from .text import words
from .vocabulary import Chooser, Vocabulary

#: "Ph.D.", "M.Sc", "B.Tech." and "U.S.": two or three groups of one to four letters, each followed by a dot
#: (the last dot optional), with a capital letter somewhere.
_DOTTED = re.compile(r"(?<![\w.])((?:[A-Za-z]{1,3}\.){1,2}[A-Za-z]{1,4}\.?)(?![\w])")


@dataclass(frozen=True)
class Reading:
    """A question as typed and as it is searched."""

    question: str  # as typed, whitespace tidied
    text: str  # what is searched
    cased: bool  # whether its capitals can be trusted to mark names (not Title Case, not ALL CAPS)
    variants: tuple[str, ...] = ()  # vocabulary entries it used, lower case
    parts: tuple[str, ...] = ()  # the things it asks, when it asks more than one (see `parts`)


def undot(text: str) -> str:
    """Dotted abbreviations without their dots.

    >>> undot("Is a Ph.D. or an M.Sc better? e.g. in the U.S.")
    'Is a PhD or an MSc better? e.g. in the US'
    """

    def join(m: re.Match) -> str:
        token = m.group(1)
        return token.replace(".", "") if any(c.isupper() for c in token) else token

    return _DOTTED.sub(join, text)


def trusted_case(text: str) -> bool:
    """Whether capitals in `text` mark names: False for ALL CAPS and for Title Case (most words of two or more
    letters capitalised, past the first).

    >>> trusted_case("Does Google hire ML engineers in London?"), trusted_case("How Do I Become An ML Engineer?")
    (True, False)
    >>> trusted_case("HOW DO I BECOME AN ML ENGINEER?")
    False
    """
    letters = [c for c in text if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        return False
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'’-]*", text)[1:] if len(w) >= 2]
    return not (len(words) >= 3 and sum(w[0].isupper() for w in words) / len(words) >= 0.7)


def read(question: str, vocabulary: Vocabulary, keywords: KeywordIndex, choose: Chooser | None = None) -> Reading:
    """The `Reading` of `question` (see the module docstring)."""
    question = " ".join(question.split())
    text = undot(question)
    cased = trusted_case(question)
    text = repair(text, _Knows(keywords, vocabulary), keep=frozenset(capitalised(question)) if cased else frozenset())
    variants = tuple(dict.fromkeys(v for _, _, v in vocabulary.found(text)))
    text = vocabulary.expand(text, choose, known=lambda v: all(keywords.knows(w) for w in words(v)) if words(v) else True)
    return Reading(question, text, cased, variants, parts(text))


_ASKS = r"(how|what|which|why|when|where|who|should|do|does|did|is|are|can|could|would|will|any|and)\b"
#: "…, and how do I ask …?", "… or is that a fantasy?": a second question joined to the first.
_JOINED = re.compile(rf"(?:,\s*|\s+)(?:and|or|but|also|plus)\s+(?={_ASKS})|(?<=\?)\s+", re.I)


_QUESTION_START = re.compile(r"^(and\s+|but\s+|so\s+|also\s+)?(how|what|which|why|when|where|who|should|do|does|did|can|could|is|are|will|would|any)\b", re.I)


def parts(text: str) -> tuple[str, ...]:
    """The things a question asks, when it asks more than one: its questions (a long message's background
    sentences aside) and questions joined by "and …" / "or …". Parts of fewer than two content words lean on
    the rest and are not asked apart.

    >>> parts("Do referrals help for ML jobs? and how do I ask an ex-coworker without it being weird")
    ('Do referrals help for ML jobs?', 'how do I ask an ex-coworker without it being weird')
    >>> parts("Is Java useful in ML teams, and should I pick up C++ as well?")
    ('Is Java useful in ML teams', 'should I pick up C++ as well?')
    >>> parts("What is overfitting?")
    ()
    """
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    asking = [s for s in sentences if s.endswith("?") or _QUESTION_START.match(s)] or sentences[-1:]
    pieces = [re.sub(r"^(and|or|but|also|so|plus)\s+", "", p.strip(" ,;"), flags=re.I) for s in asking for p in _JOINED.split(s) if p and p.strip(" ,;")]
    pieces = [p for p in pieces if len(words(p)) >= 2]
    return tuple(pieces) if len(pieces) > 1 else ()


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#]*(?:[.-][A-Za-z0-9+#]+)*")


def capitalised(question: str) -> list[str]:
    """Capitalised words inside the question's sentences (their first words aside): in a question typed with
    ordinary capitals, the names of places, companies and products it asks about. Acronyms of capitals only
    are left out ("STAR", "US" and "ML" are written many ways); with a digit they are names ("H-1B", "GPT-4").

    >>> capitalised("What does Google ask? London pays well, I hear. Is an H-1B visa or a US one needed for ML?")
    ['Google', 'H-1B']
    """
    found = []
    for sentence in re.split(r"(?<=[.!?])\s+", question.strip()):
        for i, word in enumerate(_WORD.findall(sentence)):
            if i > 0 and word[0].isupper() and word not in ("I", "I'm") and not (word.isupper() and not any(c.isdigit() for c in word)):
                found.append(word)
    return found


class _Knows:
    """The corpus's words plus the vocabulary's variants, as spelling repair asks for them."""

    def __init__(self, keywords: KeywordIndex, vocabulary: Vocabulary) -> None:
        self.keywords = keywords
        self.vocabulary = vocabulary
        self.vocab = keywords.vocab

    def knows(self, word: str) -> bool:
        return self.keywords.knows(word) or self.vocabulary.knows(word)

    def close_word(self, word: str) -> str | None:
        """The closer of the closest corpus word and the closest one-word vocabulary variant ("tradeof" ->
        "tradeoff", which the vocabulary then reads as "trade-off")."""
        import difflib

        single = [v for v in self.vocabulary.entries if " " not in v and len(v) >= 4]
        candidates = [c for c in (self.keywords.close_word(word), *difflib.get_close_matches(word, single, n=1, cutoff=0.8)) if c]
        return max(candidates, key=lambda c: difflib.SequenceMatcher(None, word, c).ratio(), default=None)
