"""The maintainer's logs: questions the assistant could not answer ("gaps"), users' feedback, and the words
that recur in refused questions.

They live in the state store (assistant/state.py): SQLite in `Settings.state_dir` (default `.assistant/`) or
the PostgreSQL database of `ASSISTANT_DATABASE_URL`, outside `corpus/` and `index/`, so a rebuild never loses
them and they never become corpus text. A gap or feedback record holds the question text and time (and for
feedback, the answer and source ids), nothing about who asked. Old JSON-lines logs found in the state folder are imported
once when the store first opens.

Every function takes `where`: a state folder (the database is then the one `ASSISTANT_DATABASE_URL` names, or
SQLite in that folder), a `Settings`, or an open `StateStore`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Union

from .config import Settings

if TYPE_CHECKING:
    from .state import StateStore


Where = Union[Path, str, Settings, "StateStore"]


def _settings(where: Where) -> Settings:
    from .state import StateStore

    if isinstance(where, StateStore):
        return where.settings
    if isinstance(where, Settings):
        return where
    return Settings.from_env(state_dir=Path(where))


def _store(where: Where) -> StateStore:
    from .state import StateStore, open_store

    return where if isinstance(where, StateStore) else open_store(_settings(where))


def _existing(where: Where) -> StateStore | None:
    """The store to read from, or None when there is nothing to read (creating nothing)."""
    from .state import StateStore, existing_store

    return where if isinstance(where, StateStore) else existing_store(_settings(where))


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def append_gap(where: Where, question: str, reason: str = "abstained") -> None:
    """Log a question the assistant could not answer (`reason`: why, e.g. a refusal's code)."""
    _store(where).log_gap(question, reason)


def append_feedback(where: Where, question: str, answer: str, source_ids: list[str], score: int) -> None:
    """`score` is 1 for thumbs up, 0 for thumbs down; a thumbs-down also counts as a gap."""
    _store(where).log_feedback(question, answer, source_ids, score)


def gaps(where: Where) -> list[dict]:
    """The logged gaps, oldest first: {"time", "question", "reason"}."""
    store = _existing(where)
    return [{"time": _iso(g.time), "question": g.question, "reason": g.reason} for g in store.gaps()] if store else []


def feedback(where: Where) -> list[dict]:
    """The feedback records, oldest first: {"time", "question", "answer", "sources", "score"}."""
    store = _existing(where)
    if store is None:
        return []
    return [
        {"time": _iso(f.time), "question": f.question, "answer": f.answer, "sources": list(f.sources), "score": f.score}
        for f in store.feedback()
    ]


def feedback_summary(where: Where, recent: int = 5) -> dict:
    """The feedback report: {"helpful": n, "not_helpful": n, "recent_not_helpful": the latest thumbs-down
    records, newest first (question, answer, sources, time)}."""
    records = feedback(where)
    down = [r for r in records if r["score"] == 0]
    return {
        "helpful": sum(1 for r in records if r["score"] == 1),
        "not_helpful": len(down),
        "recent_not_helpful": down[::-1][: max(0, recent)],
    }


def _terms(text: str) -> set[str]:
    from .text import tokenize

    return set(tokenize(text))


def gap_groups(where: Where, min_similarity: float = 0.5) -> list[dict]:
    """Logged gaps grouped by word overlap (Jaccard), biggest group first.

    Each group: {"question": a representative, "count", "questions": distinct texts, "last": time}.
    """
    groups: list[dict] = []
    for record in gaps(where):
        question = record["question"].strip()
        terms = _terms(question) or {re.sub(r"\W", "", question.lower())}
        for group in groups:
            union = terms | group["terms"]
            if union and len(terms & group["terms"]) / len(union) >= min_similarity:
                break
        else:
            group = {"terms": set(terms), "questions": {}, "count": 0, "last": ""}
            groups.append(group)
        group["count"] += 1
        group["questions"][question] = group["questions"].get(question, 0) + 1
        group["last"] = max(group["last"], record.get("time", ""))
    out = []
    for g in sorted(groups, key=lambda g: (-g["count"], g["last"])):
        questions = sorted(g["questions"], key=lambda q: -g["questions"][q])
        out.append({"question": questions[0], "count": g["count"], "questions": questions, "last": g["last"]})
    return out


def candidate_terms(questions: list[str], knows: Callable[[str], bool], min_count: int = 2, limit: int = 15) -> list[dict]:
    """Words that recur in refused questions and that neither the corpus nor the vocabulary knows: candidates
    for `corpus/vocabulary.txt` (an abbreviation people use) or for a note (a subject people ask about).

    >>> candidate_terms(["what is an MLE", "MLE salary?", "mle vs swe"], lambda w: w in {"salary", "swe"})
    [{'term': 'mle', 'count': 3}]
    """
    from collections import Counter

    from .text import words

    counts: Counter[str] = Counter()
    for question in questions:
        counts.update({w for w in words(question) if len(w) >= 2 and not w.isdigit() and not knows(w)})
    return [{"term": t, "count": n} for t, n in counts.most_common() if n >= min_count][:limit]
