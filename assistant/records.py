"""What the state store keeps and gives back: its values (`Conversation` and its `Turn`s, `ConversationInfo`,
`Gap`, `Feedback`, `Purged`), and `Limits`, which cuts and cleans what is stored.

They are here, apart from the store's operations (assistant/state.py), so that the store and the import of
the old logs (assistant/schema.py) cut and clean text by the same rules. Nothing here touches the database;
`assistant.state` is where callers import these from.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime

from .answer import Answer
from .errors import InputError
from .retrieve import Source

_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: Bidirectional overrides and isolates: they reorder what a terminal shows ("Trojan Source").
_BIDI = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


# ---------------------------------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Limits:
    """What the store keeps at most: longer text is cut, a full conversation takes no more turns. Sized so
    that nothing the assistant makes is ever cut (a question is at most `Settings.max_question_chars`, an
    answer a few sentences, `top_k` sources) while a hostile client cannot fill the disk through one row."""

    question_chars: int = 2000
    answer_chars: int = 20_000
    passage_chars: int = 20_000
    sources: int = 50
    suggestions: int = 10
    suggestion_chars: int = 500
    turns: int = 200
    title_chars: int = 120
    error_chars: int = 500
    owner_chars: int = 320
    gap_chars: int = 500
    reason_chars: int = 40
    feedback_answer_chars: int = 4000

    def owner(self, owner: str | None) -> str | None:
        """An owner as stored and compared (lower case), or None for no owner; InputError for one that is not
        an e-mail-sized line."""
        if owner is None or not owner.strip():
            return None
        key = owner.strip().lower()
        if len(key) > self.owner_chars or _CONTROL.search(key):
            raise InputError(f"an owner is an e-mail address of at most {self.owner_chars} characters")
        return key

    def title(self, title: str) -> str:
        """A conversation's title as stored: one line."""
        return one_line(title, self.title_chars)

    def answer(self, answer: Answer) -> Answer:
        """The answer as stored: each part within these limits (nothing the assistant makes is cut)."""

        def src(s: Source) -> Source:
            if len(s.text) <= self.passage_chars and len(s.highlights) <= self.sources:
                return s
            return replace(s, text=s.text[: self.passage_chars], highlights=s.highlights[: self.sources])

        return replace(
            answer,
            question=multiline(answer.question, self.question_chars),
            text=answer.text[: self.answer_chars],
            note=answer.note[: self.answer_chars],
            query=answer.query[: self.question_chars],
            followup=answer.followup[: self.question_chars],
            suggestions=tuple(s[: self.suggestion_chars] for s in answer.suggestions[: self.suggestions]),
            sources=tuple(src(s) for s in answer.sources[: self.sources]),
            related=tuple(src(s) for s in answer.related[: self.sources]),
        )

    def gap_row(self, question: str, reason: str, at: datetime) -> dict:
        """A row of the `gaps` table: the question on one line, the reason a short code."""
        reason_text = re.sub(r"[^a-z0-9_-]", "", reason.lower())[: self.reason_chars] or "abstained"
        return {"question": one_line(question, self.gap_chars), "reason": reason_text, "created_at": at}

    def feedback_row(self, question: str, answer: str, ids: list[str], score: int, at: datetime) -> dict:
        """A row of the `feedback` table (without its turn), the source ids as a JSON list."""
        return {
            "question": one_line(question, self.gap_chars),
            "answer": multiline(answer, self.feedback_answer_chars),
            "sources": json.dumps([one_line(i, 100) for i in ids[: self.sources]]),
            "score": score,
            "created_at": at,
        }


@dataclass(frozen=True)
class Turn:
    """One question and what came of it: an `Answer`, or `error` (a message) when answering failed."""

    position: int
    question: str
    answer: Answer | None
    error: str
    #: 1 thumbs up, 0 thumbs down, None not given (it can be given once).
    feedback: int | None
    created_at: datetime


@dataclass(frozen=True)
class Conversation:
    """A conversation with its turns in order. Opened by its share token it is `read_only`, and neither its
    `id` (which allows writing) nor its owner is given out: `id` is ""."""

    id: str
    share_token: str
    title: str
    owner: str | None
    created_at: datetime
    updated_at: datetime
    turns: tuple[Turn, ...] = ()
    read_only: bool = False


@dataclass(frozen=True)
class ConversationInfo:
    """A line of an owner's list of conversations."""

    id: str
    share_token: str
    title: str
    created_at: datetime
    updated_at: datetime
    turns: int


@dataclass(frozen=True)
class Gap:
    """A question the assistant could not answer (or that got a thumbs down), for the maintainer."""

    question: str
    reason: str
    time: datetime


@dataclass(frozen=True)
class Feedback:
    """A thumbs up (1) or down (0), with what was asked and answered: the maintainer's feedback report."""

    question: str
    answer: str
    sources: tuple[str, ...]
    score: int
    time: datetime


@dataclass(frozen=True)
class Purged:
    """How many rows a purge deleted."""

    conversations: int = 0
    turns: int = 0
    feedback: int = 0
    gaps: int = 0


# ---------------------------------------------------------------------------------------------------- cleaning text


def is_id(value: object) -> bool:
    """Whether `value` looks like a conversation id or share token (22 url-safe characters)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def one_line(text: str, limit: int) -> str:
    """Text safe to print on a terminal: no control characters (escape sequences lose their ESC), no bidi
    overrides, whitespace collapsed, at most `limit` characters."""
    text = _CONTROL.sub(" ", str(text)).translate(_BIDI)
    return " ".join(text.split())[:limit]


def multiline(text: str, limit: int) -> str:
    """Text kept as typed but for control characters other than newline and tab (PostgreSQL refuses NUL)."""
    return _CONTROL_BUT_LINES.sub("", str(text))[:limit]
