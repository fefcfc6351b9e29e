"""Deciding whether the sources answer a question they are close to.

Similarity alone cannot tell that "How much does a junior ML engineer earn in London?" is not answered by the
passages about junior roles: most of its words are the corpus's own. These checks can: a name no passage
mentions, pay or prices with no figure in sight, a word the question hinges on that the corpus never uses,
and a request to write something an extractive assistant can only quote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: The hinge test (`Retriever.unfamiliar_subject`) runs on questions of at most this many content words,
#: for at most this many of their unknown words: each costs an encode of the question, and in a longer
#: question no single word carries the meaning (in the 17 labelled ones with unknown words, dropping one
#: left at least 0.88 of the similarity, above the 0.84 hinge).
MAX_HINGE_WORDS = 12
MAX_UNKNOWN_WORDS = 4

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


def hinging(embedder, query: str, vector, candidates: Sequence[str], hinge: float) -> list[str]:
    """Those of `candidates` (words or names of `query`) the question hinges on: without the word, the
    question's similarity to itself falls below `hinge`. One batch encodes every variant."""
    if not candidates:
        return []
    import numpy as np

    variants = [re.sub(rf"(?i)(?<![a-z0-9]){re.escape(w)}(?![a-z0-9])", " ", query) for w in candidates]
    cosines = np.asarray(embedder.encode(variants, query=True)) @ np.asarray(vector)
    return [w for w, c in zip(candidates, cosines) if c < hinge]


def unfamiliar_subject(embedder, keywords, query: str, vector, hinge: float) -> list[str]:
    """The words the question hinges on that the corpus never uses (in the question's order), or [].

    "What qualifications does a chef need?" lands near passages on qualifications, but "chef" is
    nowhere in the corpus and the question means little without it. A word hinges when the question
    without it is less similar to the question than `hinge`: dropping "brilliant" from a long paraphrase
    barely moves it (0.94), dropping "chef" does (0.70). Words the corpus has in another form, or that start
    a corpus word ("prep" for "preparation"), count as known.
    """
    from .text import words

    content = list(dict.fromkeys(words(query)))
    if len(content) > MAX_HINGE_WORDS:
        return []
    unknown = [w for w in content if len(w) >= 3 and not keywords.knows(w) and not keywords.starts_word(w)][:MAX_UNKNOWN_WORDS]
    return hinging(embedder, query, vector, unknown, hinge)


def uncovered(embedder, keywords, settings, query: str, vector, texts: Sequence[str]) -> str:
    """Why close sources still cannot answer `query` (one clause), or "" when nothing stands in the way."""
    if asks_for_writing(query):
        return "this assistant only quotes its sources: it cannot write, draft or translate for you"
    if absent := hinging(embedder, query, vector, absent_names(query, texts), settings.name_hinge):
        return f"the sources never mention {', '.join(absent)}"
    if lacks_figures(query, texts):
        return "the sources give no figures for pay or prices"
    if unknown := unfamiliar_subject(embedder, keywords, query, vector, settings.unknown_word_hinge):
        return f"the corpus never mentions {' or '.join(f'“{w}”' for w in unknown)}"
    return ""
