"""Local logs for the maintainer: questions the assistant could not answer, and users' feedback.

Both are JSON lines under `Settings.state_dir` (default `.assistant/`), outside `corpus/` and `index/`, so
a rebuild never loses them and they never become corpus text. They are anonymous: question text and time
(and for feedback, the answer and source ids), nothing about who asked.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

GAPS = "gaps.jsonl"
FEEDBACK = "feedback.jsonl"
_lock = threading.Lock()


def _append(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _lock, path.open("a", encoding="utf-8") as fh:
        fh.write(line)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def append_gap(state_dir: Path, question: str, reason: str = "abstained") -> None:
    _append(state_dir / GAPS, {"time": _now(), "question": question[:500], "reason": reason})


def append_feedback(state_dir: Path, question: str, answer: str, source_ids: list[str], score: int) -> None:
    """`score` is 1 for thumbs up, 0 for thumbs down; a thumbs-down also counts as a gap."""
    _append(
        state_dir / FEEDBACK,
        {"time": _now(), "question": question[:500], "answer": answer[:4000], "sources": source_ids, "score": score},
    )
    if score == 0:
        append_gap(state_dir, question, reason="thumbs-down")


def read(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash: skip it, keep the rest
        if isinstance(record, dict) and isinstance(record.get("question"), str):
            out.append(record)
    return out


def _terms(text: str) -> set[str]:
    from .text import tokenize

    return set(tokenize(text))


def gap_groups(state_dir: Path, min_similarity: float = 0.5) -> list[dict]:
    """Logged gaps grouped by word overlap (Jaccard), biggest group first.

    Each group: {"question": a representative, "count", "questions": distinct texts, "last": time}.
    """
    groups: list[dict] = []
    for record in read(state_dir / GAPS):
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


def candidate_terms(questions: list[str], knows, min_count: int = 2, limit: int = 15) -> list[dict]:
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
