"""Follow-ups: reading a question in the light of the conversation only when it cannot be understood alone.

"Which frameworks?" after "What do I need for deep learning?" means deep-learning frameworks; "What is data
leakage?" after a maths question means data leakage, and must be answered exactly as in a new chat. The
decision rests on evidence, not on a word list alone:

1. `may_lean_on`: only a question that is short, continues the last one ("and how long …", "what about …")
   or points back ("it", "that", "those") is a candidate at all;
2. `prefer_context`: the candidate is searched alone and with the last question's words added. The context
   is kept only when it changes which passage comes first, and then only when the question points back
   ("for that", "the first one"), when the context is what makes the sources close enough, or when it makes
   them clearly closer. A context that finds the same first passage adds nothing: the question is answered
   as in a new chat.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .text import words

#: A conversation turn: {"role": "user" | "assistant", "content": str}, or a bare earlier question.
Turn = dict | str

#: With the context, the sources must be at least this much closer to the question (best-sentence cosine)…
MARGIN = 0.05
#: … and a question whose sources are this close alone stands alone whatever the context adds.
ALONE_ENOUGH = 0.7
#: Words that make a sentence of a question: without any of them it is a fragment ("Which frameworks?",
#: "Any tools for that?", "and for NLP?") that leans on what came before.
_VERB = re.compile(
    r"\b(is|are|was|were|be|been|am|do|does|did|can|could|should|would|will|shall|may|might|must|has|have|had|"
    r"need|needs|want|wants|learn|get|gets|make|makes|take|takes|use|uses|mean|means|work|works|matter|matters|"
    r"help|helps|go|goes|start|choose|become|study|prepare|apply|know|think|pay|cost|build|say|look|"
    r"\w+(ed|ing))\b|\w+n't\b|\b(i'?m|it'?s|what'?s|how'?s|that'?s|there'?s|who'?s)\b",
    re.I,
)

_POINTS_BACK = re.compile(r"\b(it|its|they|them|their|this|that|these|those|there|which ones?|one|ones|else|same)\b", re.I)
#: "it" and "that" that point nowhere: "Is it worth …", "Does it matter …", "so that I …", "the fact that".
_NOT_POINTING = re.compile(
    r"\b(is|was|would|will|does|do|did|isn't|doesn't|wouldn't)\s+it\s+(really\s+|still\s+|even\s+|actually\s+)?(be\s+)?"
    r"(worth|normal|possible|okay|ok|true|better|worse|hard|harder|easy|easier|realistic|too late|too early|necessary|important|"
    r"common|bad|fine|enough|useful|smart|wise|weird|strange|unusual|feasible|reasonable|acceptable|a good idea|a bad idea|"
    r"make sense|matter|help|count|take|mean|pay off|look)\b"
    r"|\bit'?s\s+(really\s+|still\s+|even\s+|actually\s+)?(worth|normal|possible|okay|ok|true|too late|hard|easy|realistic|common|fine)\b"
    r"|\bthat\s+(i|you|we|they|he|she|it|the|a|an|my|your|our|their|people|employers|companies|someone|everyone|there)\b"
    r"|\b(so|such|than|the fact|now)\s+that\b|\bworth it\b",
    re.I,
)
_CONTINUES = re.compile(
    r"^\s*(and|but|so|also|or|then|what about|how about|ok(ay)?|and what|what else|any|why|how come|same|what if)\b"
    r"|\b(too|as well|instead|either)\s*\??\s*$",
    re.I,
)  # searched, not matched: the second half is at the end
#: Words of the earlier question that say nothing about its subject ("How do I become …").
_PLAIN = frozenset({"need", "become", "learn", "know", "start", "good", "best"})


def previous_question(history: Sequence[Turn] | None) -> str:
    """The last earlier question asked by the user (assistant turns carry no context), or ""."""
    for turn in reversed(list(history or [])):
        if isinstance(turn, dict):
            if turn.get("role", "user") != "user":
                continue
            text = turn.get("content", "")
        else:
            text = turn
        if isinstance(text, str) and text.strip():
            return text.strip()
    return ""


def may_lean_on(question: str) -> bool:
    """Whether `question` might need the one before to be understood: a continuation ("and …", "what about
    …"), a question that points back ("it", "that", "those"; not "is it worth …"), or a fragment without a
    verb ("Which frameworks?"). A short question that is a whole question ("What is MLOps?") is not.

    >>> may_lean_on("Which ones?"), may_lean_on("and how long does that take?")
    (True, True)
    >>> may_lean_on("How should I structure an answer in an ML system design interview?")
    False
    >>> may_lean_on("Is it normal to want to give up after dozens of rejections?"), may_lean_on("What is MLOps?")
    (False, False)
    """
    return bool(_CONTINUES.search(question) or _POINTS_BACK.search(_NOT_POINTING.sub(" ", question)) or not _VERB.search(question))


def with_context(question: str, previous: str) -> str:
    """The question followed by the earlier question's subject words it does not already have.

    >>> with_context("Which frameworks?", "What do I need for deep learning?")
    'Which frameworks? deep learning'
    """
    own = set(words(question))
    carried = [w for w in words(previous) if w not in own and w not in _PLAIN]
    return f"{question} {' '.join(dict.fromkeys(carried))}".strip()


def points_back(question: str) -> bool:
    """Whether `question` refers to something it does not name ("for that", "the first one"; not "is it worth")."""
    return bool(_POINTS_BACK.search(_NOT_POINTING.sub(" ", question)))


def prefer_context(alone: float, joined: float, threshold: float, leans: bool = False, same_first: bool = False) -> bool:
    """Whether to read the question with its context: the sources found with it (`joined` close) against
    those found alone (`alone` close), whether the question points back (`leans`), and whether both
    readings find the same first passage (`same_first`: then the context adds nothing).

    >>> prefer_context(0.30, 0.60, 0.32), prefer_context(0.55, 0.66, 0.32), prefer_context(0.59, 0.56, 0.32, leans=True)
    (True, True, True)
    >>> prefer_context(0.55, 0.57, 0.32), prefer_context(0.40, 0.70, 0.32, leans=True, same_first=True)
    (False, False)
    """
    if same_first or joined < threshold:
        return False
    if leans or alone < threshold:
        return True
    return alone < ALONE_ENOUGH and joined - alone >= MARGIN
