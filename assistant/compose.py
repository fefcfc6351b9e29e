"""Compose an answer from retrieved passages: extractive, every sentence cited, no LLM needed.

The composer never writes a word of its own into a claim: it picks whole sentences (or list items) from
the passages, most relevant first, and ends each with `[n]`, where `n` numbers the cited passages in the
order they first appear. `Answer.sources` holds exactly those passages, in that order, so `[n]` is
`sources[n-1]`:

    Q: What does a machine learning engineer do?
    A: A machine learning engineer bridges the gap between data scientists and software engineers [1].
       - Deploying models into production environments [1]
       An ML engineer spends much of the day on ... [2].

How a sentence is chosen: its overlap with the question's terms (rarer terms weigh more), the rank of its
passage, its place in the passage, and the question's shape ("what is" favours a definition, "which
skills" favours list items). Near-duplicates of a chosen sentence are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .answer import Answer, abstain
from .retrieve import Retrieval, Source
from .text import is_instruction, sentence_units, tokenize

#: Words so common in this corpus that they say little about which sentence answers a question.
GENERIC = frozenset(tokenize("machine learning engineer engineers ML model models become role job work data"))

#: Passages whose similarity is this far below the best passage's are shown as sources but not quoted.
WEAK_MARGIN = 0.25

#: How much the meaning of a passage's best sentence counts, against its retrieval rank, in choosing the
#: passages to quote (`_quoted`), and the k of that reciprocal-rank fusion. Equal weights, not tuned: any
#: weight from 0.5 to 2 gave the same citation validity on the tune half and a blind set
#: (docs/evaluation.md).
SEED_SEMANTIC = 1.0
SEED_K = 1.0


@dataclass
class _Unit:
    source: int  # rank of its passage in the retrieval
    position: int  # order within the passage
    text: str  # without the list marker
    is_item: bool
    terms: frozenset[str]
    score: float = 0.0
    overlap: float = 0.0  # the part of the score from the question's own terms
    cosine: float = 0.0  # similarity of its meaning to the question's (0 when unknown)


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


def _units(sources: list[Source], cosines: dict[str, dict[str, float]] | None = None) -> list[_Unit]:
    units = []
    for rank, source in enumerate(sources):
        known = (cosines or {}).get(source.id, {})
        for pos, text, is_item in sentence_units(source.text):
            if is_instruction(text):  # a line aimed at a model is no answer
                continue
            units.append(_Unit(rank, pos, text, is_item, frozenset(tokenize(text)), cosine=known.get(text, 0.0)))
    return units


def _score(units: list[_Unit], question: str, kind: str) -> None:
    q_terms = set(tokenize(question))
    focus = q_terms - GENERIC or q_terms
    # Rarer terms among the candidates say more: weight = 1 / (number of units that have the term).
    df = {t: sum(1 for u in units if t in u.terms) for t in focus}
    subject = _subject(question) if kind == "define" else ""
    for u in units:
        overlap = sum(1.0 / df[t] ** 0.5 for t in focus if t in u.terms and df[t])
        u.overlap = overlap
        generic = 0.2 * len((q_terms & GENERIC) & u.terms)
        u.score = overlap + generic + 1.2 / (1 + u.source) + (0.3 if u.position == 0 else 0.0)
        if kind == "define" and subject and re.match(rf"^(an?\s+|the\s+)?{re.escape(subject)}\b.{{0,40}}\b(is|are|means|refers)\b", u.text.lower()):
            u.score += 3.0
        if kind == "list" and u.is_item:
            u.score += 0.6
        if u.text.endswith(":"):  # a lead-in ("Key responsibilities include:") is no answer on its own
            u.score -= 1.0


def _subject(question: str) -> str:
    m = re.match(r"^\s*(?:what\s+(?:is|are|does)|define|meaning of|what's)\s+(?:an?\s+|the\s+)?(.+?)[\s?.!]*$", question.lower())
    if not m:
        return ""
    subject = re.sub(r"\s+(mean|stand for)$", "", m.group(1)).strip()
    return subject if len(subject.split()) <= 5 else ""


def _similar(a: _Unit, b: _Unit) -> bool:
    if not a.terms or not b.terms:
        return a.text == b.text
    return len(a.terms & b.terms) / len(a.terms | b.terms) > 0.6


def _select(units: list[_Unit], budget: int, max_sources: int = 3) -> list[_Unit]:
    """The best sentence of each of the top passages first (retrieval ranked them; the answer should show
    each one's evidence), then greedy by score, skipping near-duplicates, within a word budget."""
    ranked = sorted(units, key=lambda u: (-u.score, u.source, u.position))
    quoted = set(_quoted(units, max_sources))
    seeds: dict[int, _Unit] = {}
    for u in ranked:
        if u.source in quoted and u.source not in seeds:
            seeds[u.source] = u
    chosen: list[_Unit] = []
    words = 0
    for u in sorted(seeds.values(), key=lambda u: u.source) + ranked:
        n = len(u.text.split())
        if u in chosen or (chosen and words + n > budget * 1.25):
            continue
        if any(_similar(u, c) for c in chosen):
            continue
        if len({c.source for c in chosen} | {u.source}) > max_sources:
            continue
        if u.score < 0.5 and chosen and u not in seeds.values():  # nothing left that bears on the question
            break
        chosen.append(u)
        words += n
        if words >= budget:
            break
    return chosen


def _quoted(units: list[_Unit], n: int) -> list[int]:
    """The `n` passages to quote: by retrieval rank and by the rank of their best sentence's meaning,
    fused. A long question can rank a passage first for its setting ("ML engineering job") while another
    passage holds the one sentence that answers what it asks.
    """
    best: dict[int, float] = {}
    for u in units:
        best[u.source] = max(best.get(u.source, 0.0), u.cosine)
    by_meaning = {s: r for r, s in enumerate(sorted(best, key=lambda s: (-best[s], s)))}
    score = {s: 1.0 / (SEED_K + s) + SEED_SEMANTIC / (SEED_K + by_meaning[s]) for s in best}
    return sorted(best, key=lambda s: (-score[s], s))[:n]


def _cite(text: str, n: int) -> str:
    """Put `[n]` before the closing punctuation: "It scales." -> "It scales [1]." """
    text = text.rstrip()
    m = re.search(r"([.!?:;]+)([\"'”’)]*)$", text)
    if m:
        return f"{text[: m.start()].rstrip()} [{n}]{m.group(1)}{m.group(2)}"
    return f"{text} [{n}]"


def _render(chosen: list[_Unit], kind: str, sources: list[Source]) -> tuple[str, tuple[Source, ...]]:
    # Readable order: the best passage's sentences first, each passage's sentences in their own order;
    # for a definition question, the defining sentence leads.
    by_source: dict[int, list[_Unit]] = {}
    for u in chosen:
        by_source.setdefault(u.source, []).append(u)
    order = sorted(by_source, key=lambda s: min(u.source for u in by_source[s]))
    if kind == "define":
        lead = max(chosen, key=lambda u: u.score)
        order.remove(lead.source)
        order.insert(0, lead.source)
    numbers: dict[int, int] = {}
    blocks: list[str] = []
    for s in order:
        units = sorted(by_source[s], key=lambda u: u.position)
        if kind == "define":
            units.sort(key=lambda u: u is not max(chosen, key=lambda x: x.score))
        n = numbers.setdefault(s, len(numbers) + 1)
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
    cited = []
    for s in order:
        highlights = tuple(u.text for u in sorted(by_source[s], key=lambda u: u.position))
        cited.append(replace(sources[s], highlights=highlights))
    return "\n\n".join(blocks), tuple(cited)


def compose(question: str, retrieval: Retrieval, threshold: float, budget: int = 120) -> Answer:
    """An extractive, cited answer, or an honest abstention when retrieval found nothing relevant."""
    sources = list(retrieval.sources)
    if not retrieval.relevant(threshold):
        return abstain(question, retrieval, f"Close passages exist, but {retrieval.uncovered}." if retrieval.uncovered else "")
    kind = question_kind(question)
    # Quote only passages near the best one: a 0.3 passage beside a 0.8 one is noise, not evidence.
    floor = max(s.score for s in sources) - WEAK_MARGIN
    units = [u for u in _units(sources, retrieval.sentences) if sources[u.source].score >= floor]
    if not units:
        return abstain(question, retrieval)
    _score(units, retrieval.query or question, kind)
    chosen = _select(units, budget)
    text, cited = _render(chosen, kind, sources)
    return Answer(question, text, cited, False, tuple(sources), retrieval.query, confidence=retrieval.relevance)
