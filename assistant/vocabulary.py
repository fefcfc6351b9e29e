"""The maintainer's vocabulary: the words people type for what the corpus calls something else.

It lives in `corpus/vocabulary.txt` (never indexed as a document) and is read with every build, so a change
to it is live after `python -m assistant index` like any other corpus change. The format is plain lines:

    # comments start with a hash
    MLE, ML eng = machine learning engineer          variants on the left, the corpus's words on the right
    CV = résumé | computer vision                     ambiguous: the meaning closer to the question wins

    [fillers]
    lol, btw, imo                                    words that carry no meaning: known, never expanded

    [roles]
    machine learning engineer, AI engineer           the roles the corpus is about (see `requests.py`)

Matching ignores case and whole words only: "DS" matches "DS" and "ds", never the "ds" in "needs". A
question is searched with each variant's meaning added after it, so both the variant and the corpus's words
count: "What is an MLE?" is searched as "What is an MLE (machine learning engineer)?".

    >>> v = Vocabulary.parse("MLE, ML eng = machine learning engineer\\nCV = résumé | computer vision\\n")
    >>> v.expand("What does an MLE do?")
    'What does an MLE (machine learning engineer) do?'
    >>> v.meanings("cv")
    ('résumé', 'computer vision')
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DocumentError

log = logging.getLogger(__name__)

#: The vocabulary file's name inside the corpus folder.
FILENAME = "vocabulary.txt"
#: Bounds on what a vocabulary file may hold: it is read on every build and every load.
MAX_BYTES = 256 * 1024
MAX_ENTRIES = 5000
MAX_TERM_CHARS = 80

#: Chooses among meanings: (question, meanings) -> index of the meaning that fits the question.
Chooser = Callable[[str, Sequence[str]], int]


@dataclass(frozen=True)
class Vocabulary:
    """Variants and their meanings, and the roles the corpus is about."""

    #: lower-cased variant -> meanings (one, or several when ambiguous)
    entries: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: lower-cased role names the corpus is about ("machine learning engineer", "ai engineer", ...)
    roles: frozenset[str] = frozenset()
    #: lower-cased words that carry no meaning for a search ("lol", "btw"): known, never expanded
    fillers: frozenset[str] = frozenset()
    #: Every variant in one regex, longest first ("ml eng" before "ml"), made once; a possessive counts
    #: ("an MLE's work").
    pattern: re.Pattern | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.entries:
            body = "|".join(re.escape(v).replace(r"\ ", r"\s+") for v in sorted(self.entries, key=len, reverse=True))
            object.__setattr__(self, "pattern", re.compile(rf"(?<![\w.'’-])({body})(?=['’]s\b|(?![\w'’-]|\.\w))", re.I))

    @classmethod
    def parse(cls, text: str, name: str = FILENAME) -> Vocabulary:
        """Read the file's text; a malformed line is skipped with a warning naming it (the rest still counts)."""
        entries: dict[str, tuple[str, ...]] = {}
        roles: set[str] = set()
        fillers: set[str] = set()
        section = ""
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if re.fullmatch(r"\[[a-z ]+\]", line):
                section = line[1:-1].strip()
                continue
            if len(entries) >= MAX_ENTRIES:
                log.warning("%s: more than %d entries; the rest are ignored", name, MAX_ENTRIES)
                break
            if section == "roles":
                roles.update(_norm(r) for r in line.split(",") if _norm(r))
                continue
            if section == "fillers":
                fillers.update(_norm(w) for w in line.split(",") if _norm(w))
                continue
            left, eq, right = line.partition("=")
            variants = [_norm(v) for v in left.split(",") if _norm(v)]
            meanings = tuple(dict.fromkeys(m.strip() for m in right.split("|") if m.strip()))
            too_long = any(len(t) > MAX_TERM_CHARS for t in (*variants, *meanings))
            if not eq or not variants or not meanings or too_long or section not in ("", "variants"):
                log.warning("%s:%d: not an entry ('VARIANT, VARIANT = MEANING | MEANING'); skipped", name, number)
                continue
            for v in variants:
                entries[v] = meanings
        return cls(entries, frozenset(roles), frozenset(fillers))

    @classmethod
    def load(cls, corpus_dir: Path) -> Vocabulary:
        """The corpus folder's vocabulary file, or an empty vocabulary when there is none."""
        path = corpus_dir / FILENAME
        try:
            if path.is_symlink() or not path.is_file():
                return cls()
            if path.stat().st_size > MAX_BYTES:
                raise DocumentError(FILENAME, f"is over {MAX_BYTES // 1024} KB; a vocabulary is a short list of words")
            data = path.read_bytes()
        except OSError as exc:
            raise DocumentError(FILENAME, f"cannot be read ({exc.strerror or exc})") from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DocumentError(FILENAME, "is not UTF-8 text") from None
        return cls.parse(text)

    def to_text(self) -> str:
        """The vocabulary in its own file format (what a build stores beside the index)."""
        lines = [f"{variant} = {' | '.join(meanings)}" for variant, meanings in sorted(self.entries.items())]
        if self.fillers:
            lines += ["", "[fillers]", ", ".join(sorted(self.fillers))]
        if self.roles:
            lines += ["", "[roles]", ", ".join(sorted(self.roles))]
        return "\n".join(lines) + "\n"

    def meanings(self, variant: str) -> tuple[str, ...]:
        return self.entries.get(_norm(variant), ())

    def knows(self, word: str) -> bool:
        """Whether `word` (any case) is a variant the vocabulary explains or a filler it lists."""
        return _norm(word) in self.entries or _norm(word) in self.fillers

    def found(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, variant) of each variant in `text`. A variant of one or two letters ("DS", "DE") counts
        only typed in capitals, or in a text typed all in lower case: "de" in "científico de datos" is no data
        engineer."""
        if self.pattern is None:
            return []
        lower = not any(c.isupper() for c in text)
        return [
            (m.start(), m.end(), _norm(m.group(1)))
            for m in self.pattern.finditer(text)
            if len(m.group(1)) > 2 or m.group(1).isupper() or lower
        ]

    def expand(self, text: str, choose: Chooser | None = None, known: Callable[[str], bool] | None = None) -> str:
        """`text` in the corpus's words: a variant the corpus itself uses (`known`) is followed by its meaning in
        brackets ("LLM (large language model)"), any other is replaced by it ("MLE" -> "machine learning
        engineer"), so a question typed with abbreviations reads like its carefully typed twin. An ambiguous
        variant gets the meaning `choose` picks (the first one without it). A variant whose meaning the text
        already says is left alone."""
        out, pos = [], 0
        low = text.lower()
        for start, end, variant in self.found(text):
            meanings = self.entries[variant]
            meaning = meanings[choose(text, meanings) if choose and len(meanings) > 1 else 0]
            if meaning.lower() == variant or meaning.lower() in low:
                out.append(text[pos:end])
            elif known is None or known(variant):
                out.append(f"{text[pos:end]} ({meaning})")
            else:
                out.append(f"{text[pos:start]}{meaning}")
            pos = end
        out.append(text[pos:])
        return "".join(out)


def _norm(term: str) -> str:
    return " ".join(term.lower().split())
