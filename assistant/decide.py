"""Deciding whether the corpus answers a question: one place, one reason code, one true sentence.

Similarity alone cannot tell that "How much does a junior ML engineer earn in London?" is not answered by the
passages about junior roles: most of its words are the corpus's own. So a question is answered only when
none of these holds, checked in this order (the first that holds is the reason given):

    NOT_ENGLISH    it is not in English (the sources are)
    WRITING        it asks the assistant to write something; an extractive assistant can only quote
    REVIEW         it asks the assistant to judge the reader's own CV, code or chances
    FIGURES        it asks for pay or prices, and the sources give no such figures
    OTHER_ROLE     it is about entering a role the corpus is not about ("How do I become a UX designer?"),
                   or compares other roles ("SRE vs DevOps engineer?")
    EMPLOYER       it asks how a particular company hires, interviews or works ("Does Jane Street hire …?",
                   "Netflix's culture"), and no passage close to it mentions that company: the sources
                   describe kinds of employers, never one in particular
    OFF_SUBJECT    it asks for legal, visa or tax advice, or nothing in the sources is close to it (the best
                   sentence, or an asked question less `Settings.asked_offset`, is below `Settings.threshold`)
    NOT_MENTIONED  a short question names a company, place, product or course no passage close to it
                   mentions ("Netflix", "RTX 4090", "LangChain"), or turns on a word the corpus never uses
                   ("What does a chef need?": without the word it means something else); a long message
                   turns on names no passage mentions, weighed together ("Lenovo Legion or ASUS ROG?")

NOT_MENTIONED is never given when a section's heading or asked question is this very question (`WRITTEN_FOR`).

The checks of a question's form live in `requests.py`; this module weighs them with what retrieval found.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import requests
from .config import Settings
from .keywords import KeywordIndex
from .reading import Reading, capitalised
from .retrieve import Retrieval, Source
from .spelling import is_english
from .text import STOPWORDS, tokenize, words
from .vocabulary import Vocabulary

logger = logging.getLogger(__name__)

#: Names and unknown words are weighed in questions of at most this many content words: a longer message
#: mostly gives background ("I'm a Java developer at a fintech …"), and no single word carries it.
MAX_HINGE_WORDS = 12
MAX_CANDIDATES = 6
#: A question this close to a section's heading or asked question is one the corpus was written to answer, and
#: no word it lacks is what the question turns on: on the blind dev sets, answerable questions refused for a
#: word the corpus lacks came this close ("AI engineer vs ML engineer - is it the same job with a trendier
#: name?" 0.84, "… is uptime enough?" 0.79), near-domain questions refused for one never closer than 0.72.
WRITTEN_FOR = 0.77
#: A long message's names that no passage mentions are weighed together: background ("a nurse in Manila",
#: "I use Tableau") barely moves the message when they all go (0.83 or closer for every answerable question of
#: the blind dev sets), while a choice between named laptops or named tools does ("Lenovo Legion or ASUS ROG
#: Zephyrus G14?" 0.78, "BentoML or Ray Serve on a VM?" 0.76, "Jetson Orin Nano or Raspberry Pi 5?" 0.72).
LONG_NAMES_HINGE = 0.8
#: "LeetCode-style", "Kubernetes-heavy": the word before the suffix is the one to know.
_SUFFIXED = re.compile(r"-(style|like|heavy|based|focused|related|type|ish|oriented|driven|friendly|only|first)$", re.I)
#: Names given as examples ("at places like Meta", "tools such as Airflow or Dagster") illustrate the question;
#: it does not turn on them, nor does one that names a kind of company ("ML at a Meta or Google").
_EXAMPLES = re.compile(
    r"\b(?:like|such as|e\.g\.?|including|for example|for instance|an?(?=\s+[A-Z][\w.&'-]*\s+or\s+(?:an?\s+)?[A-Z]))\s+"
    r"((?:[A-Z][\w.&'-]*(?:\s*(?:,|and|or)\s*|\s+)?){1,4})"
)
#: "fast.ai", "vast.ai", "node.js": a word with a dotted ending is a product's or site's name however typed.
_DOTTED = re.compile(r"\b[a-z0-9]+(?:\.[a-z0-9]+)*\.(?:ai|io|js|com|org|net|dev|co|app|so|sh)\b", re.I)
#: Model numbers and acronyms of capitals and digits ("G14", "AI-102", "RTX") are names in a cased question.
_CODE_NAME = re.compile(r"\b[A-Z][A-Z0-9]*[0-9][A-Z0-9-]*\b|\b[A-Z]{2,}(?:-[0-9]+)\b")
#: A name counts as covered when one of the first passages retrieved mentions it.
NAME_SOURCES = 3
#: Suggestions come from retrieved sections at least this close to the question.
SUGGESTION_FLOOR = 0.3


class Reason(enum.Enum):
    """Why a question was answered or not; the value is the code the CLI's JSON and the logs use."""

    ANSWERED = "answered"
    NOT_ENGLISH = "not_english"
    WRITING = "writing"
    REVIEW = "review"
    FIGURES = "figures"
    OTHER_ROLE = "other_role"
    OFF_SUBJECT = "off_subject"
    NOT_MENTIONED = "not_mentioned"
    EMPLOYER = "employer"


#: The first line of a refusal, per reason.
HEADLINES = {
    Reason.NOT_ENGLISH: "I can only answer in English: my sources are in English.",
    Reason.WRITING: "I can't write that for you: I only quote what my sources say.",
    Reason.REVIEW: "I can't judge your own work or chances: I only quote what my sources say.",
    Reason.FIGURES: "I don't know from these sources: they give no figures for pay or prices.",
    Reason.OTHER_ROLE: "I don't know from these sources: they are about becoming an ML engineer, not this role.",
    Reason.OFF_SUBJECT: "I don't know from these sources: nothing in them is close to this question.",
    Reason.NOT_MENTIONED: "I don't know from these sources: they never mention what this question turns on.",
    Reason.EMPLOYER: "I don't know from these sources: they describe kinds of employers, not particular companies.",
}


@dataclass(frozen=True)
class Decision:
    """Whether to answer, and if not, why: a reason code and one sentence that is true."""

    reason: Reason
    sentence: str = ""
    terms: tuple[str, ...] = ()  # the names, words or role it turned on

    @property
    def answer(self) -> bool:
        return self.reason is Reason.ANSWERED

    @property
    def headline(self) -> str:
        return HEADLINES.get(self.reason, "")


ANSWER = Decision(Reason.ANSWERED)


def _quoted(terms: Sequence[str]) -> str:
    """“a”, “b” or “c”"""
    q = [f"“{t}”" for t in terms]
    return q[0] if len(q) == 1 else f"{', '.join(q[:-1])} or {q[-1]}"


class Judge:
    """Decides for one loaded index (its words, vocabulary and model)."""

    def __init__(
        self, embedder, keywords: KeywordIndex, vocabulary: Vocabulary, settings: Settings, corpus_has_figures: bool, passages: Sequence = ()
    ) -> None:
        self.embedder = embedder
        self.keywords = keywords
        self.vocabulary = vocabulary
        self.settings = settings
        self.corpus_has_figures = corpus_has_figures
        self.passages = passages
        self._proper: dict[str, bool] = {}
        self._corpus_text: str | None = None  # every passage, lower case, spaces normalised (`mentioned`)

    def knows(self, word: str) -> bool:
        """A word the corpus, the vocabulary or everyday English has (case-insensitive)."""
        low = word.lower()
        return self.keywords.knows(low) or self.vocabulary.knows(low) or is_english(low)

    def close(self, word: str) -> bool:
        """Whether `word` is a typo of a word the corpus knows (one or two letters off)."""
        match = self.keywords.close_word(word) if len(word) >= 4 else None
        return match is not None and abs(len(match) - len(word)) <= 2

    def decide(self, reading: Reading, retrieval: Retrieval) -> Decision:
        s = self.settings
        question, text = reading.question, reading.text
        if not requests.looks_english(question, self.knows, self.close):
            return Decision(Reason.NOT_ENGLISH, "The sources are in English; please ask your question in English.")
        if requests.asks_for_writing(question):
            return Decision(Reason.WRITING, "This assistant only quotes its sources: it cannot write, draft or translate for you.")
        if requests.asks_for_review(question):
            return Decision(
                Reason.REVIEW, "This assistant cannot see or assess your own CV, code, projects or chances; it can tell you what the sources say about them in general."
            )
        texts = [source.text for source in retrieval.sources]
        if requests.asks_for_figures(text) and not (self.corpus_has_figures and any(requests.MONEY_FIGURE.search(t) for t in texts)):
            where = "any role, place or product" if not self.corpus_has_figures else "this question"
            return Decision(Reason.FIGURES, f"The sources give no salary or price figures for {where}.")
        role, stated = requests.other_role(text, self.vocabulary)
        headings = " ".join(source.heading for source in retrieval.sources[:NAME_SOURCES]).lower()
        # A role the closest sections discuss is ours to answer, and so is one the corpus writes about that the
        # question only names ("what does an MLE agree with the product manager?"): a role to enter is refused
        # for being another role, and so are other roles compared with each other ("SRE vs DevOps engineer?")
        # or one the sources never mention at all.
        named = {p.lower() for _, _, p in requests.role_phrases(text)}
        if role and (stated or (role.lower() not in headings and (len(named) >= 2 or not self.mentioned(role)))):
            if not stated:  # named, compared or asked about, not a role the question says it wants to enter
                return Decision(Reason.OTHER_ROLE, f"The sources cover becoming a machine learning engineer; they do not describe the work of {_article(role)} {role}.", (role,))
            what = f"how to become {_article(role)} {role}" if not role.lower().endswith(("job", "role", "position", "career")) else f"{_article(role)} {role}"
            return Decision(Reason.OTHER_ROLE, f"The sources cover becoming a machine learning engineer; they do not cover {what}.", (role,))
        # A particular employer's culture, hiring or interviews: the sources describe kinds of employers only.
        employers = [n for n in requests.employer_names(question) if not self.vocabulary.knows(n.lower())] if reading.cased else []
        if employers:  # the closest passages are read only when a question names an employer
            top = " ".join(" ".join(source.text.lower().split()) for source in retrieval.sources[:NAME_SOURCES])
            employers = [n for n in employers if not _mentions(top, n)]
        if employers:
            return Decision(
                Reason.EMPLOYER, f"The sources describe kinds of employers, not {employers[0]} in particular: not how it hires, interviews or works.", tuple(employers)
            )
        if requests.asks_for_legal(question):
            return Decision(Reason.OFF_SUBJECT, "The sources give career advice, not legal, visa, contract or tax advice.")
        if not retrieval.sources or retrieval.relevance < s.threshold:
            return Decision(Reason.OFF_SUBJECT, "Nothing in the sources is close enough to this question to answer it.")
        if self.written_for(retrieval):
            return ANSWER
        # A named certificate, exam or course the sources never mention, when the question turns on it (it
        # moves without it, as `missing_terms` weighs words): what it costs or covers is not theirs to say,
        # however long the question ("Is the TensorFlow Developer Certificate still offered?"); a programme
        # named in passing in a long message about choosing a bootcamp is not what it asks.
        spans = [(n, typed) for n, typed in requests.credential_spans(question) if reading.cased and not self.mentioned(n)]
        if spans:
            cosines = similarity_without(self.embedder, text, retrieval.vector, [t for _, t in spans])
            unnamed = [n for (n, _), c in zip(spans, cosines) if c < s.unknown_word_hinge]
            if unnamed:
                return Decision(Reason.NOT_MENTIONED, f"The sources never mention {_quoted(unnamed)}.", tuple(unnamed))
        names = self.unmentioned_names(reading, retrieval)
        if names:
            return Decision(Reason.NOT_MENTIONED, f"The sources never mention {_quoted(names)}.", tuple(names))
        missing, absent_everywhere = self.missing_terms(reading, retrieval)
        if missing:
            if absent_everywhere:
                return Decision(Reason.NOT_MENTIONED, f"The sources never mention {_quoted(missing)}.", tuple(missing))
            return Decision(Reason.NOT_MENTIONED, f"None of the passages closest to this question mentions {_quoted(missing)}.", tuple(missing))
        return ANSWER

    @staticmethod
    def written_for(retrieval: Retrieval) -> bool:
        """Whether one of the closest sections was written to answer this very question: its heading or an
        asked question is at least `WRITTEN_FOR` close. Then no name or word the question adds outweighs it."""
        return any(max(retrieval.headings.get(s.id, 0.0), retrieval.asked.get(s.id, 0.0)) >= WRITTEN_FOR for s in retrieval.sources[:NAME_SOURCES])

    def unmentioned_names(self, reading: Reading, retrieval: Retrieval) -> list[str]:
        """The names a long message turns on that no passage mentions (see `LONG_NAMES_HINGE`); short
        questions weigh each name on its own (`missing_terms`)."""
        question = reading.question
        if len(set(words(question))) <= MAX_HINGE_WORDS:
            return []
        found = _DOTTED.findall(question)
        if reading.cased:
            found += capitalised(question) + _CODE_NAME.findall(question) + re.findall(r"\b[A-Z]{2,6}\b", question)
        names = [
            n for n in dict.fromkeys(found)
            if not self.mentioned(n) and not self.vocabulary.knows(n.lower()) and not self.keywords.knows(n.lower())
        ]
        if not names:
            return []
        text = reading.text
        for n in names:
            text = _without(text, n)
        import numpy as np

        moved = float(np.asarray(self.embedder.encode([text], query=True))[0] @ np.asarray(retrieval.vector))
        logger.debug("names %s: the message without them is %.3f from itself", names, moved)
        return names[:MAX_CANDIDATES] if moved < LONG_NAMES_HINGE else []

    def known_compound(self, word: str) -> bool:
        """Whether a hyphenated word is made of words the corpus or the vocabulary knows, small words aside
        ("ml-specific", "LLM-as-a-judge")."""
        parts = [p for p in word.split("-") if p]
        return len(parts) > 1 and all(p in STOPWORDS or self.keywords.knows(p) or self.vocabulary.knows(p) for p in parts)

    def known_plural(self, word: str) -> bool:
        """Whether `word` is the plural of a word the corpus or the vocabulary knows ("CSVs", "PRs")."""
        return word.endswith("s") and len(word) > 3 and (self.keywords.knows(word[:-1]) or self.vocabulary.knows(word[:-1]))

    def mentioned(self, name: str) -> bool:
        """Whether any passage of the corpus mentions `name` (case-insensitive, as a whole word or phrase)."""
        if self._corpus_text is None:  # once, on the first name weighed: not on every question
            self._corpus_text = "\x00".join(" ".join(p.text.lower().split()) for p in self.passages)
        return _mentions(self._corpus_text, " ".join(name.split()))  # as a word: "Dell" is not in "modelling"

    def missing_terms(self, reading: Reading, retrieval: Retrieval) -> tuple[list[str], bool]:
        """The names and words a short question turns on that the sources do not mention, and whether the
        whole corpus never mentions them (else only the passages closest to the question do not).

        Names are words the corpus writes with a capital ("Google", "Python"), words capitalised in a question
        whose capitals can be trusted that the corpus does not write in lower case ("Netflix", "Berlin"), none
        of them mentioned by the first `NAME_SOURCES` passages, and words neither the corpus, the vocabulary
        nor everyday English has ("langchain", "rtx"); they count unless the question barely moves without
        them (`Settings.name_hinge`).
        Everyday words the corpus never uses ("chef") count when the question hinges on them
        (`Settings.unknown_word_hinge`).
        """
        text = reading.text
        if len(set(words(reading.question))) > MAX_HINGE_WORDS:
            return [], False
        content = list(dict.fromkeys(words(text)))
        keywords, vocabulary = self.keywords, self.vocabulary
        explained = {w for variant in reading.variants for w in words(variant)}  # "alg" of "lin alg"
        unknown = [
            w for w in content
            if len(w) >= 3 and w not in explained and not keywords.knows(_SUFFIXED.sub("", w)) and not keywords.starts_word(w) and not vocabulary.knows(w)
            and not self.known_compound(w)
            and not self.known_plural(w)
        ]
        top = " ".join(source.text for source in retrieval.sources[:NAME_SOURCES]).lower()
        examples = {w.lower() for m in _EXAMPLES.finditer(reading.question) for w in re.findall(r"[\w.&'-]+", m.group(1))}
        typed = [
            _SUFFIXED.sub("", w) for w in capitalised(reading.question) if w.lower() not in examples and not self.known_compound(w.lower())
        ] if reading.cased else []
        proper = [w for w in content if keywords.knows(w) and self.proper_noun(w) and w not in examples]  # "google" however typed
        strong = [
            n for n in dict.fromkeys(typed + proper)
            if not _mentions(top, n) and not vocabulary.knows(n) and n.lower() not in explained and not self.known_plural(n.lower())
            and (not keywords.knows(n.lower()) or self.proper_noun(n.lower()))
        ]
        # Tokens with digits ("p95", "2gb", "13k") are figures or versions, not names; a name beside them
        # ("RTX 4090") is weighed on its own.
        # Acronyms typed in capitals that neither the corpus nor the vocabulary knows ("IBM", "OMSCS") are names
        # however common the letters are as a word.
        acronyms = {w.lower() for w in re.findall(r"\b[A-Z]{2,6}\b", reading.question)}
        dotted = [d for d in dict.fromkeys(_DOTTED.findall(reading.question)) if not self.mentioned(d)]
        namelike = dotted + strong + [
            w for w in unknown
            if (not is_english(w) or w in acronyms) and not any(c.isdigit() for c in w) and w not in {n.lower() for n in strong}
        ]
        everyday = [w for w in unknown if is_english(w) and not any(c.isdigit() for c in w) and w not in {n.lower() for n in strong}]
        candidates = list(dict.fromkeys(namelike + everyday))[:MAX_CANDIDATES]
        if not candidates:
            return [], False
        cosines = similarity_without(self.embedder, text, retrieval.vector, candidates)
        hinge = self.settings.unknown_word_hinge
        missing = [w for w, c in zip(candidates, cosines) if c < (self.settings.name_hinge if w in namelike else hinge)]
        # "Never mention" must be true of the text, not just of the word index ("ML-specific" is one word to
        # the index but written in the corpus).
        never = [w for w in missing if not keywords.knows(w.lower()) and not self.mentioned(w)]
        return (never, True) if never else (missing, False)


    def proper_noun(self, word: str) -> bool:
        """Whether the corpus writes `word` (lower case) as a name: with a capital and not all capitals
        ("Google", "Python"; not "master", not "ML"), in the passages that use it most."""
        known = self._proper.get(word)
        if known is None:
            texts = [self.passages[pos].text for pos in self.keywords.ranking(tokenize(word), 5)] if self.passages else []
            pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", re.I)
            # Sentence openings say nothing: "Besides" opens sentences but is no name.
            seen = [m.group(0) for t in texts for m in pattern.finditer(t) if not _opens_sentence(t, m.start())]
            known = bool(seen) and all(w[0].isupper() and not w.isupper() for w in seen)
            if len(self._proper) < 100_000:
                self._proper[word] = known
        return known


def _opens_sentence(text: str, at: int) -> bool:
    """Whether position `at` of `text` starts a sentence, a line or a list item."""
    before = text[:at].rstrip(" \"'“‘(")
    return not before or before[-1] in ".!?:\n-•"


def _article(phrase: str) -> str:
    """"a" or "an" before `phrase`: by sound for an acronym ("an SRE", "a UX designer")."""
    first = phrase.split()[0] if phrase.split() else ""
    if first.isupper() and len(first) > 1:
        return "an" if first[0] in "AEFHILMNORSX" else "a"
    return "an" if first[:1].lower() in "aeiou" else "a"


def _mentions(body: str, name: str) -> bool:
    return bool(re.search(rf"(?<![a-z0-9]){re.escape(name.lower())}(?![a-z0-9])", body))


def _without(text: str, word: str) -> str:
    """`text` with every whole-word occurrence of `word` (any case) blanked out."""
    return re.sub(rf"(?i)(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", " ", text)


def similarity_without(embedder, query: str, vector, candidates: Sequence[str]) -> list[float]:
    """For each candidate word or name of `query`, the question's similarity to itself without it (one batch):
    "What qualifications does a chef need?" without "chef" is 0.70 from itself; a long paraphrase without
    "brilliant" 0.94."""
    if not candidates:
        return []
    import numpy as np

    variants = [_without(query, w) for w in candidates]
    return [float(c) for c in np.asarray(embedder.encode(variants, query=True)) @ np.asarray(vector)]


def suggestions(decision: Decision, sources: Sequence[Source], asked: Callable[[str], Sequence[str]], question: str, n: int = 3) -> list[str]:
    """Questions the corpus answers near this one: the headings of the closest sections that are questions,
    else the first question a reader asked of them. None for a question in another language or off the
    subject (nothing near it would help)."""
    if decision.reason in (Reason.NOT_ENGLISH, Reason.OFF_SUBJECT, Reason.ANSWERED):
        return []
    out: dict[str, None] = {}
    for source in sources:
        if source.score < SUGGESTION_FLOOR:
            continue
        heading = source.heading.split(" › ")[-1] if source.heading else ""
        candidate = heading if heading.endswith("?") else next(iter(asked(source.id)), "")
        if candidate and candidate.lower() != question.lower():
            out.setdefault(candidate, None)
        if len(out) >= n:
            break
    return list(out)
