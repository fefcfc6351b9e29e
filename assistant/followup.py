"""Follow-ups: reading a short question in the light of the conversation before it.

"Which frameworks?" after "What do I need for deep learning?" means deep-learning frameworks; a question
that stands on its own must be answered exactly as it would be in a new chat.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .text import words

#: A conversation turn: {"role": "user" | "assistant", "content": str}, or a bare earlier question.
Turn = dict | str

_REFERS_BACK = re.compile(r"\b(it|its|they|them|their|this|that|these|those|there|which|more|else|also|one)\b", re.I)


def condense(question: str, history: Sequence[Turn] | None) -> str:
    """The text to search for a follow-up: the question plus the key words of the last user question.

    Only short questions or ones that point back ("Which frameworks?", "Why does it matter?") borrow
    context; a full new question stands alone.

    >>> condense("Which frameworks?", ["What do I need for deep learning?"])
    'Which frameworks? deep learning'
    >>> condense("What is SQL used for in data cleaning work?", ["What is MLOps?"])
    'What is SQL used for in data cleaning work?'
    """
    if not history:
        return question
    previous = [t.get("content", "") if isinstance(t, dict) else str(t) for t in history if not isinstance(t, dict) or t.get("role", "user") == "user"]
    previous = [p for p in previous if p.strip()]
    if not previous:
        return question
    content = words(question)
    if len(content) > 3 and not _REFERS_BACK.search(question):
        return question
    own = set(content)
    carried = [w for w in words(previous[-1]) if w not in own and w not in ("need", "become", "learn", "know")]
    return f"{question} {' '.join(dict.fromkeys(carried))}".strip()
