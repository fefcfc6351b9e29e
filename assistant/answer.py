"""The reply to one question: `Answer` (its text, the sources its `[n]` cite, whether it abstained, why).

Composing a reply is `compose.py`'s job and deciding whether to is `decide.py`'s; this module only holds the
value they produce, so the chat page, the CLI and callers can use it without loading either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .retrieve import Retrieval, Source

ABSTAIN_TEXT = "I don't know from these sources: nothing in them is close to this question."

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
    #: Passages retrieved but not quoted: offered as "related", never cited.
    related: tuple[Source, ...] = field(default=(), compare=False)
    #: The earlier question this one was read with, when it could not be understood alone ("" otherwise).
    followup: str = ""
    #: Why it was answered or not: a `decide.Reason` value ("answered", "off_subject", "figures", ...).
    reason: str = "answered"
    #: For a refusal: questions the corpus does answer, near this one.
    suggestions: tuple[str, ...] = ()

    def citations(self) -> list[int]:
        return [int(n) for n in _CITATION.findall(self.text)]

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "reason": self.reason,
            "note": self.note,
            "followup": self.followup,
            "suggestions": list(self.suggestions),
            "sources": [
                {"n": n, "id": s.id, "doc": s.doc, "title": s.title, "heading": s.heading, "text": s.text, "score": s.score}
                for n, s in enumerate(self.sources, start=1)
            ],
            "related": [{"id": s.id, "doc": s.doc, "title": s.title, "heading": s.heading, "score": s.score} for s in self.related],
        }


def abstain(
    question: str,
    retrieval: Retrieval | None = None,
    note: str = "",
    headline: str = ABSTAIN_TEXT,
    reason: str = "off_subject",
    suggestions: tuple[str, ...] = (),
    followup: str = "",
) -> Answer:
    """A refusal: `headline` (the reason's first line), `note` (one true sentence on why) and suggestions."""
    retrieved = tuple(retrieval.sources) if retrieval else ()
    query, best = (retrieval.query, retrieval.relevance) if retrieval else ("", 0.0)
    return Answer(
        question, headline, (), True, retrieved, query, note, best, followup=followup, reason=reason, suggestions=tuple(suggestions)
    )
