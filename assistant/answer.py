"""The reply to one question: `Answer` (its text, the sources its `[n]` cite, whether it abstained, why).

Composing a reply is `compose.py`'s job and deciding whether to is `decide.py`'s; this module only holds the
value they produce, so the chat page, the CLI and callers can use it without loading either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .retrieve import Retrieval, Source

ABSTAIN_TEXT = (
    "I don't know from these sources: nothing in the corpus answers this question closely enough, "
    "so I won't guess."
)

_CITATION = re.compile(r"\[(\d+)\]")

@dataclass(frozen=True)
class Answer:
    """The reply to one question. `[n]` in `text` refers to `sources[n-1]`."""

    question: str
    text: str
    sources: tuple[Source, ...]
    abstained: bool
    retrieved: tuple[Source, ...] = field(default=(), compare=False)  # everything retrieval returned
    query: str = ""  # what was searched (after follow-up condensing and spelling repair)
    note: str = ""  # a line about how the answer was made, e.g. why a fallback was used
    confidence: float = 0.0  # cosine similarity of the best sentence: what the abstain test compared

    def citations(self) -> list[int]:
        return [int(n) for n in _CITATION.findall(self.text)]

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "sources": [
                {"n": n, "id": s.id, "doc": s.doc, "title": s.title, "heading": s.heading, "text": s.text, "score": s.score}
                for n, s in enumerate(self.sources, start=1)
            ],
        }


def abstain(question: str, retrieval: Retrieval | None = None, note: str = "") -> Answer:
    retrieved = tuple(retrieval.sources) if retrieval else ()
    query, best = (retrieval.query, retrieval.relevance) if retrieval else ("", 0.0)
    return Answer(question, ABSTAIN_TEXT, (), True, retrieved, query, note, best)
