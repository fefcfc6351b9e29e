"""Compose an answer from retrieved passages: the fewest whole sentences that answer the question, each cited.

The composer never writes a word of its own into a claim. It quotes whole sentences (or list items) and ends
each with `[n]`, where `n` numbers the cited passages in the order they first appear; `Answer.sources` holds
exactly those passages, so `[n]` is `sources[n-1]`. Passages retrieved but not quoted become `Answer.related`.

How it chooses, in three steps:

1. **The section that answers.** Our notes are sections whose heading is a question and whose first sentence
   answers it, each with questions a reader might ask (`<!-- asked: -->`). The section chosen is the one whose
   heading or asked question is closest to the question, weighed with its best sentence and its retrieval rank.
2. **Its direct answer.** The section's best sentence is always quoted (a lead-in that only announces it
   never replaces it). When the question asks what the heading asks, the opening sentence comes too: it was
   written to answer the heading on its own. A few more sentences join only when they are nearly as close to
   the question as the best one; a "which …" question gets the list its answer is.
3. **Another section only when it adds what was asked.** A second passage is quoted when its best sentence is
   close to the question and covers question words the answer does not yet cover ("X or Y?", "… and how long
   does that take?"): never to fill space, never to show every retrieved passage.

    Q: How long does it take to become job-ready?
    A: A career changer studying part-time typically needs roughly one to two years of steady study … [1].
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .answer import Answer, abstain
from .retrieve import Retrieval, Source
from .text import is_instruction, sentence_units, tokenize

#: Passages whose similarity is this far below the best passage's are never quoted.
WEAK_MARGIN = 0.25
#: The section that answers is one of the first CANDIDATES retrieved, scored by its best sentence, how close
#: its heading or nearest asked question is, and its rank: best + MATCH_WEIGHT·match + RANK_WEIGHT / (1 + rank).
#: On 303 labelled questions (the blind dev set and our own) this picks a labelled section for 85.5%, against
#: 82.5% for retrieval's first passage; adding the heading's shared words gained nothing, and adding retrieval's
#: fused score (weight 0.5, rank weight 0.3) gained 0.7 points on four blind dev sets but lost three
#: variant-twin pairs and was mixed on a fresh report set (docs/evaluation.md).
CANDIDATES = 3
MATCH_WEIGHT = 0.5
RANK_WEIGHT = 0.2
#: A question is narrower than its section's heading when the heading (and asked questions) are this far
#: from it and its best sentence is this much closer than the opening: then the opening is not quoted
#: ("When do I use HAVING instead of WHERE?" in the section on joins and aggregations).
NARROW_MATCH = 0.5
NARROW_GAP = 0.15
#: Whatever the heading's match, an opening this much further from the question than the section's best
#: sentence answers another question than the one asked ("can R squared be negative?" quoted the opening
#: of the section on choosing a regression metric). Chosen on the reader-graded dev sets: of 160 answers, 8 openings
#: lay this far off, 5 of them graded off-topic by the reader.
NARROW_GAP_ANY = 0.28
#: Sentences of the section within this much of its best sentence's cosine are quoted too, in the
#: section's order, up to about MAX_WORDS words. Was 0.2; at 0.08, on a blind dev set graded by two readers
#: (75 of 120 answers changed, each graded beside its earlier version), answers with an off-topic sentence
#: fell from 28 to 15 and full answers rose from 37 to 41, at the cost of two more that missed the point.
CLOSE = 0.08
MAX_WORDS = 150
#: A list an answer quotes keeps at most this many items.
MAX_ITEMS = 8
#: A question that asks several things gets, for each, the sentence closest to it: its cosine to the thing
#: asked plus PART_WORDS times the share of that thing's own words it has ("how do I ask an ex-coworker" and
#: "When asking for a referral, …"). From the chosen section when one scores PART_FLOOR_IN, else from another
#: section scoring PART_FLOOR.
PART_WORDS = 0.2
PART_FLOOR_IN = 0.3
PART_FLOOR = 0.45

#: A sentence that opens by pointing back ("It also …", "These checks …") means little alone: quoting it
#: brings the sentence before it.
_POINTS_BACK = re.compile(
    r"^(it|its|this|that|these|those|they|their|them|such|both|however|but|also|instead|otherwise|then|so|"
    r"therefore|likewise|similarly|in practice|for example|for instance|each|here)\b",
    re.I,
)


@dataclass(frozen=True)
class Unit:
    """A quotable sentence or list item of one retrieved passage."""

    source: int  # rank of its passage in the retrieval
    position: int  # order within the passage
    text: str  # without the list marker
    is_item: bool
    cosine: float  # similarity of its meaning to the question's (0 when unknown)
    terms: frozenset[str]
    parts: tuple[float, ...] = ()  # similarity to each thing the question asks (see `reading.parts`)

    @property
    def lead_in(self) -> bool:
        """A sentence that only announces what follows ("Key responsibilities include:")."""
        return self.text.endswith(":")

    @property
    def words(self) -> int:
        return len(self.text.split())

    @property
    def points_back(self) -> bool:
        """Whether the unit leans on the one before it (see `_POINTS_BACK`); list items stand alone."""
        return not self.is_item and bool(_POINTS_BACK.match(self.text))


@dataclass(frozen=True)
class Section:
    """One retrieved passage, as the composer sees it."""

    rank: int
    units: tuple[Unit, ...]
    heading: float  # its heading's cosine to the question
    match: float  # the closer of its heading and its nearest asked question to the question

    @property
    def best(self) -> Unit:
        return max(self.units, key=lambda u: (u.cosine, -u.position))


def question_kind(question: str) -> str:
    """'define', 'list', 'steps' or 'other', from the question's opening words."""
    q = question.lower().strip()
    if re.match(r"^(what\s+(is|are|does)\s+(an?\s+|the\s+)?[\w\- ]{1,40}\??$|define\b|meaning of\b|what('s| is) meant by)", q) and not re.search(
        r"\b(skills?|tools?|need|steps?)\b", q
    ):
        return "define"
    if re.search(r"\b(which|what)\b.*\b(skills?|tools?|languages?|frameworks?|libraries|platforms?|metrics?|topics?|responsibilities)\b", q) or q.startswith(("list ", "name ")):
        return "list"
    if re.match(r"^(how (do|can|should|would) (i|you|one|we)|how to|steps?\b|what steps)", q):
        return "steps"
    return "other"


def sections_of(retrieval: Retrieval) -> list[Section]:
    """The retrieved passages as sections of quotable units (lines aimed at a model are never quotable)."""
    out = []
    for rank, source in enumerate(retrieval.sources):
        cosines = retrieval.sentences.get(source.id, {})
        per_part = [part.get(source.id, {}) for part in retrieval.parts]
        part_terms = [set(tokenize(t)) for t in retrieval.part_texts]
        units = []
        for pos, text, is_item in sentence_units(source.text):
            if is_instruction(text):
                continue
            terms = frozenset(tokenize(text))
            fits = tuple(
                p.get(text, 0.0) + (PART_WORDS * len(terms & own) / len(own) if own else 0.0)
                for p, own in zip(per_part, part_terms or [set()] * len(per_part))
            )
            units.append(Unit(rank, pos, text, is_item, cosines.get(text, 0.0), terms, fits))
        units = tuple(units)
        if units:
            heading = retrieval.headings.get(source.id, 0.0)
            out.append(Section(rank, units, heading, max(heading, retrieval.asked.get(source.id, 0.0))))
    return out


def answering_section(sections: list[Section]) -> Section:
    """The section that answers: best sentence, heading or asked-question match, and rank (see `CANDIDATES`)."""
    candidates = sorted(sections, key=lambda s: s.rank)[:CANDIDATES]
    return max(candidates, key=lambda s: (s.best.cosine + MATCH_WEIGHT * s.match + RANK_WEIGHT / (1 + s.rank), -s.rank))


def direct_answer(section: Section, kind: str, parts: int = 0) -> list[Unit]:
    """The units of `section` that answer: its opening (unless the question is narrower than the heading),
    its best sentence, the closest sentence to each thing asked, sentences nearly as close as the best, and
    the list a quoted lead-in introduces."""
    units = list(section.units)
    best = section.best
    opening = units[0]
    gap = best.cosine - opening.cosine
    narrow = (section.match < NARROW_MATCH and gap >= NARROW_GAP) or gap >= NARROW_GAP_ANY
    chosen = [best] if narrow or opening is best else [opening, best]
    for i in range(parts):
        closest = max(units, key=lambda u: (u.parts[i], -u.position))
        if closest.parts[i] >= PART_FLOOR_IN and closest not in chosen:
            chosen.append(closest)
    for u in units:  # in the section's order, as long as they stay close and the answer short
        if sum(c.words for c in chosen) + u.words > MAX_WORDS:
            break
        if u not in chosen and not u.lead_in and not u.is_item and u.cosine >= best.cosine - CLOSE:
            chosen.append(u)
    # A sentence that points back comes with the one before it (twice at most: "It …" after "This …").
    for _ in range(2):
        for u in list(chosen):
            i = units.index(u)
            if u.points_back and i > 0 and units[i - 1] not in chosen:
                chosen.append(units[i - 1])
    # A list: quoted (up to MAX_ITEMS) when its lead-in or one of its items was chosen, when the opening
    # leads straight into it, or when the question asks "which …" and the section holds one list.
    runs = _item_runs(units)
    for lead, items in runs:
        first = units.index(items[0])
        opens_it = opening in chosen and first <= 2 and (lead is not None or first == 1)
        wanted = (lead is not None and lead in chosen) or any(i in chosen for i in items) or opens_it or (kind == "list" and len(runs) == 1)
        if wanted:
            if lead is not None and lead not in chosen:
                chosen.append(lead)
            chosen += [i for i in items[:MAX_ITEMS] if i not in chosen]
    # A lead-in whose list was not quoted announces nothing: drop it. Nor is one needed when a sentence of
    # the answer already comes before its list: "What to learn:" or "Each layer catches a different kind of
    # problem:" between that sentence and the items reads to a reader as a sentence that says nothing.
    quoted_items = {u.position for u in chosen if u.is_item}
    said = [c.position for c in chosen if not c.is_item and not c.lead_in]
    chosen = [
        u for u in chosen
        if not (u.lead_in and (not any(p > u.position for p in quoted_items) or any(p < u.position for p in said)))
    ]  # fmt: skip
    return sorted(chosen or [best], key=lambda u: u.position)


def _item_runs(units: list[Unit]) -> list[tuple[Unit | None, list[Unit]]]:
    """Each run of consecutive list items with the lead-in sentence just before it (if it ends in ":")."""
    runs: list[tuple[Unit | None, list[Unit]]] = []
    for i, u in enumerate(units):
        if not u.is_item:
            continue
        if i > 0 and units[i - 1].is_item and runs:
            runs[-1][1].append(u)
        else:
            lead = units[i - 1] if i > 0 and units[i - 1].lead_in else None
            runs.append((lead, [u]))
    return runs


def part_units(sections: list[Section], primary: Section, parts: int, threshold: float) -> list[Unit]:
    """For each thing the question asks that the chosen section has no close sentence for, the closest
    sentence of another section ("Will my Java count, and should I learn C++?": the C++ section's)."""
    out: list[Unit] = []
    others = [s for s in sorted(sections, key=lambda s: s.rank) if s is not primary][: CANDIDATES + 1]
    for i in range(parts):
        if max(u.parts[i] for u in primary.units) >= PART_FLOOR_IN:
            continue
        pool = [u for s in others for u in s.units if not u.lead_in and not u.is_item and not u.points_back]
        if not pool:
            continue
        closest = max(pool, key=lambda u: (u.parts[i], -u.source, -u.position))
        if closest.parts[i] >= max(PART_FLOOR, threshold) and closest not in out:
            out.append(closest)
    return out


def _cite(text: str, n: int) -> str:
    """Put `[n]` before the closing punctuation: "It scales." -> "It scales [1]." """
    text = text.rstrip()
    m = re.search(r"([.!?:;]+)([\"'”’)]*)$", text)
    if m:
        return f"{text[: m.start()].rstrip()} [{n}]{m.group(1)}{m.group(2)}"
    return f"{text} [{n}]"


def render(groups: list[list[Unit]], sources: list[Source]) -> tuple[str, tuple[Source, ...]]:
    """Text with citations and the cited sources (with the quoted sentences as highlights), one group of
    units per passage, in the order given (groups of one passage are joined, in the passage's order)."""
    merged: dict[int, list[Unit]] = {}
    for units in groups:
        merged.setdefault(units[0].source, []).extend(u for u in units if u not in merged.get(units[0].source, []))
    groups = [sorted(units, key=lambda u: u.position) for units in merged.values()]
    blocks: list[str] = []
    cited: list[Source] = []
    for n, units in enumerate(groups, start=1):
        para: list[str] = []
        items: list[str] = []
        for u in units:
            if u.is_item:
                if para:
                    blocks.append(" ".join(para))
                    para = []
                items.append(f"- {_cite(u.text, n)}")
            else:
                if items:
                    blocks.append("\n".join(items))
                    items = []
                para.append(_cite(u.text, n))
        if para:
            blocks.append(" ".join(para))
        if items:
            blocks.append("\n".join(items))
        cited.append(replace(sources[units[0].source], highlights=tuple(u.text for u in units)))
    return "\n\n".join(blocks), tuple(cited)


def compose(question: str, retrieval: Retrieval, threshold: float) -> Answer:
    """An extractive, cited answer from passages `decide.py` judged to answer (an abstention when none
    holds a quotable sentence)."""
    sources = list(retrieval.sources)
    if not sources:
        return abstain(question, retrieval)
    floor = max(s.score for s in sources) - WEAK_MARGIN
    sections = [s for s in sections_of(retrieval) if sources[s.rank].score >= floor]
    if not sections:
        return abstain(question, retrieval)
    query = retrieval.query or question
    primary = answering_section(sections)
    parts = len(retrieval.parts)
    chosen = direct_answer(primary, question_kind(query), parts)
    extras = part_units(sections, primary, parts, threshold)
    groups = [chosen] + [[u] for u in extras]
    text, cited = render(groups, sources)
    quoted = {s.id for s in cited}
    related = tuple(s for s in sources if s.id not in quoted)
    return Answer(question, text, cited, False, tuple(sources), retrieval.query, confidence=retrieval.relevance, related=related)
