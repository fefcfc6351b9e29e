"""The reply to one question: `Answer` (its text, the sources its `[n]` cite, whether it abstained, why).

Composing a reply is `compose.py`'s job and deciding whether to is `decide.py`'s; this module only holds the
value they produce, so the chat page, the CLI and callers can use it without loading either, and its JSON
form (`Answer.to_json`, `Answer.from_json`), in which the state store (assistant/state.py) keeps it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .errors import StateError
from .retrieve import Retrieval, Source

ABSTAIN_TEXT = "I don't know from these sources: nothing in them is close to this question."

_CITATION = re.compile(r"\[(\d+)\]")
#: Version of `Answer.to_json`'s format, stored in each answer.
JSON_FORMAT = 1

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

    def to_json(self) -> str:
        """Everything needed to redraw this answer exactly, as JSON text: `from_json` gives back an equal
        `Answer`, with its sources' highlights, its related passages and its suggestions. What retrieval
        returned besides (`retrieved`) is not kept: nothing redraws it."""
        data = {
            "v": JSON_FORMAT,
            "question": self.question,
            "text": self.text,
            "abstained": bool(self.abstained),
            "reason": self.reason,
            "note": self.note,
            "suggestions": list(self.suggestions),
            "followup": self.followup,
            "confidence": float(self.confidence),  # numpy floats are not JSON
            "query": self.query,
            "sources": [_source_dict(s) for s in self.sources],
            "related": [_source_dict(s) for s in self.related],
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Answer:
        """The `Answer` that `to_json` wrote. Raises StateError for text it did not write (it is read back from
        the state store)."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("v") != JSON_FORMAT:
                raise ValueError(f"unknown answer format {data.get('v') if isinstance(data, dict) else None!r}")
            return cls(
                question=str(data["question"]),
                text=str(data["text"]),
                sources=tuple(_source_of(s) for s in data.get("sources", ())),
                abstained=bool(data["abstained"]),
                query=str(data.get("query", "")),
                note=str(data.get("note", "")),
                confidence=float(data.get("confidence", 0.0)),
                related=tuple(_source_of(s) for s in data.get("related", ())),
                followup=str(data.get("followup", "")),
                reason=str(data.get("reason", "answered")),
                suggestions=tuple(str(s) for s in data.get("suggestions", ())),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise StateError(f"a stored answer cannot be read: {exc}") from None


def _source_dict(s: Source) -> dict:
    return {
        "id": s.id,
        "doc": s.doc,
        "title": s.title,
        "heading": s.heading,
        "text": s.text,
        "score": float(s.score),
        "highlights": list(s.highlights),
    }


def _source_of(d: dict) -> Source:
    return Source(
        str(d["id"]), str(d["doc"]), str(d["title"]), str(d["heading"]), str(d["text"]), float(d["score"]),
        tuple(str(h) for h in d.get("highlights", ())),
    )


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
