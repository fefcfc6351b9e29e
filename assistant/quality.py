"""What a reader sees, as numbers: is each quoted sentence on the question, does the answer make the points it
must, is an unrelated second question answered as in a new chat, are near-domain questions refused, and is a
question typed the way people type answered like its carefully typed twin.

The labels live beside each question (JSON lines, see `evaluate.load_cases`):

    {"question": ..., "expected": ["notes/x.md"], "sections": ["How long does it take …?"],
     "points": [["one to two years", "a year"], ["portfolio"]]}        an answerable question
    {"history": [...], "question": ..., "kind": "unrelated" | "followup", "expected": [...]}   a conversation
    {"question": ..., "family": "company", "expected": []}            a near-domain question to refuse
    {"question": ..., "twin": ..., "kind": "abbreviation", "expected": [...]}   a variant beside its twin

answer precision    quoted sentences whose passage's section (or, without sections, document) is labelled
                    relevant, over all quoted sentences
point recall        points made (any alternative a substring of the lower-cased answer) over points labelled
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

from .answer import Answer

_CITED = re.compile(r"\[(\d+)\]")


def quoted_units(text: str) -> list[str]:
    """An answer's quoted sentences and list items, each with its citation.

    >>> quoted_units("A is so [1]. B too [2].\\n\\n- C [1]")
    ['A is so [1].', 'B too [2].', '- C [1]']
    """
    units: list[str] = []
    for block in text.split("\n"):
        block = block.strip()
        if not block:
            continue
        if block.startswith("- "):
            units.append(block)
        else:
            units += [u.strip() for u in re.split(r"(?<=\]\.)\s+|(?<=\][!?:;])\s+", block) if u.strip()]
    return units


def _leaf(heading: str) -> str:
    return heading.split(" › ")[-1].strip().lower()


def relevant_units(answer: Answer, expected: Sequence[str], sections: Sequence[str]) -> tuple[int, int]:
    """(units quoted from a labelled passage, units quoted) of one answer."""
    wanted = {s.strip().lower() for s in sections}
    good = total = 0
    for unit in quoted_units(answer.text):
        cited = _CITED.findall(unit)
        if not cited or not 1 <= int(cited[0]) <= len(answer.sources):
            total += 1
            continue
        source = answer.sources[int(cited[0]) - 1]
        total += 1
        good += (_leaf(source.heading) in wanted) if wanted else (source.doc in expected)
    return good, total


def points_made(text: str, points: Sequence[Sequence[str]]) -> tuple[int, int]:
    """(points made, points) of one answer text.

    >>> points_made("It takes about a year [1].", [["a year", "12 months"], ["portfolio"]])
    (1, 2)
    """
    low = text.lower()
    return sum(1 for alternatives in points if any(a.lower() in low for a in alternatives)), len(points)


def ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def answer_measures(pairs: Sequence[tuple[Answer, object]]) -> dict:
    """Reader measures over (answer, case) pairs of answerable questions."""
    good = total = made = points = refused = 0
    words: list[int] = []
    sources: list[int] = []
    for answer, case in pairs:
        if answer.abstained:
            refused += 1
            continue
        g, t = relevant_units(answer, case.expected, case.sections)
        good, total = good + g, total + t
        m, p = points_made(answer.text, case.points)
        made, points = made + m, points + p
        words.append(len(answer.text.split()))
        sources.append(len(answer.sources))
    n = len(pairs)
    return {
        "answerable": n,
        "false_refusals": refused,
        "false_refusal_rate": ratio(refused, n),
        "answer_precision": ratio(good, total),
        "point_recall": ratio(made, points),
        "sources_per_answer": round(statistics.fmean(sources), 2) if sources else 0.0,
        "median_words": statistics.median(words) if words else 0,
    }


def conversation_measures(rows: Sequence[tuple[object, Answer, Answer]]) -> dict:
    """Over (case, answer in the conversation, answer in a new chat): unrelated second questions answered
    exactly as in a new chat, and real follow-ups that found a labelled document in the top 5 and answered."""
    unrelated = [(a, fresh) for case, a, fresh in rows if case.kind == "unrelated"]
    follow = [(case, a) for case, a, _ in rows if case.kind == "followup"]
    same = sum(1 for a, fresh in unrelated if a.text == fresh.text and a.sources == fresh.sources and not a.followup)
    hits = sum(1 for case, a in follow if not a.abstained and any(s.doc in case.expected for s in a.retrieved[:5]))
    return {
        "unrelated": len(unrelated),
        "unrelated_as_new_chat": ratio(same, len(unrelated)),
        "followups": len(follow),
        "followup_hit@5": ratio(hits, len(follow)),
        "misses": [case.id for case, a, fresh in rows if (case.kind == "unrelated" and (a.text != fresh.text or a.followup))]
        + [case.id for case, a in follow if a.abstained or not any(s.doc in case.expected for s in a.retrieved[:5])],
    }


def family_measures(rows: Sequence[tuple[object, Answer]]) -> dict:
    """Abstention by family of near-domain questions (and of clearly off-topic ones, kept apart)."""
    families: dict[str, list[bool]] = {}
    for case, answer in rows:
        families.setdefault(case.family, []).append(answer.abstained)
    near = [a for family, v in families.items() if family != "off_topic" for a in v]
    return {
        "near_domain": len(near),
        "near_domain_abstention": ratio(sum(near), len(near)),
        "off_topic_abstention": ratio(sum(families.get("off_topic", [])), len(families.get("off_topic", []))),
        "by_family": {f: {"n": len(v), "abstention": ratio(sum(v), len(v))} for f, v in sorted(families.items())},
        "answered": [case.id for case, answer in rows if not answer.abstained],
    }


def answered_alike(variant, twin) -> bool:
    """Both answered, from the same first passage (compared by id: a source's score is its similarity to each
    wording, so it differs between the two)."""
    return not variant.abstained and not twin.abstained and variant.sources[0].id == twin.sources[0].id


def variant_measures(rows: Sequence[tuple[object, Answer, Answer]]) -> dict:
    """Over (case, variant's answer, twin's answer): variants answered like their twin (both answered, same
    first source), and refusals of either."""
    kinds: dict[str, list[bool]] = {}
    refused = twin_refused = 0
    for case, variant, twin in rows:
        like = answered_alike(variant, twin)
        kinds.setdefault(case.kind, []).append(like)
        refused += variant.abstained
        twin_refused += twin.abstained
    every = [x for v in kinds.values() for x in v]
    return {
        "pairs": len(every),
        "like_twin": ratio(sum(every), len(every)),
        "variant_refusals": refused,
        "twin_refusals": twin_refused,
        "by_kind": {k: {"n": len(v), "like_twin": ratio(sum(v), len(v))} for k, v in sorted(kinds.items())},
        "misses": [case.id for (case, variant, twin) in rows if not answered_alike(variant, twin)],
    }
