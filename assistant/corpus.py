"""The corpus: read documents (Markdown, text, PDF, HTML) and cut them into passages along their headings.

No numpy or torch here: loading and chunking are plain text work, so they stay cheap and testable.

Every format is first turned into *sections* (a heading path and its blocks of text), then sections are
packed into passages of roughly `min_words`..`max_words` words:

    # Skills                      ->  Passage(heading="Skills", text="Maths matters ...")
    Maths matters ...
    ## Python                     ->  Passage(heading="Skills › Python", text="Python is ...")
    Python is ...

A section longer than `max_words` is split on paragraph, then sentence boundaries, and each piece repeats
the last `overlap_words` words of the one before, so a fact that straddles a cut is still found. A section
shorter than `min_words` is merged into its neighbour in the same document, keeping its heading as a line.

Every file is untrusted. Reading and cutting one is linear in its size (no parser here rescans what it has
read: see `markdown_sections` and `_BlockText`), bounded in time, pages, passages, title, word and passage
length and asked questions (the limits below, each with why its value), and never follows a symbolic link
(`scan`, `read_file`). Whatever goes wrong is a `DocumentError` naming the file (docs/security.md).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DocumentError
from .text import split_sentences

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------------------ limits
# Every document is untrusted input: each limit below bounds the time or memory one file can cost, and a file
# over a limit is refused with a `DocumentError` naming it (or, where a part can be cut without losing what a
# reader needs, that part is cut). The values sit far above anything the real corpus needs (measured figures
# in each comment) and far below what hurts. docs/security.md lists them with the tests that check them.

#: Seconds one document may take to parse and cut into passages. The largest real note takes 44 ms and a 20 MB
#: upload of ordinary text about 4 s; without a bound, one crafted file held the build lock for minutes.
PARSE_SECONDS = 30.0
#: Pages read from one PDF. A long textbook has under 1,000; a 16 MB PDF of 100,000 near-empty pages became
#: 14,285 passages and held the build lock for 7 minutes. A longer PDF is refused: split it.
MAX_PDF_PAGES = 1000
#: Passages one document may become. The largest real document makes 11; 2,000 passages is about 500,000
#: words (several books), which the bundled model embeds in about 2.5 minutes on two cores (13 passages/s),
#: all under the build lock: longer is refused.
MAX_PASSAGES_PER_DOCUMENT = 2000
#: YAML front matter bytes. The real notes use under 500; YAML is parsed only up to this size, and never
#: with aliases (a 973-byte front matter of nested aliases expanded to a multi-GB title).
MAX_FRONT_MATTER_BYTES = 8192
#: Characters of a title or of one heading. The longest real title has 55; a title is shown on every source
#: card, so a longer one is cut (with "…").
MAX_TITLE_CHARS = 200
#: Characters of one "word" (a run without spaces). The longest real word has 23 and a long URL about 100;
#: a 5,000,000-character word once became one passage and a 5 MB answer. A longer run is cut (with "…").
MAX_WORD_CHARS = 100
#: Characters per word a passage may average: with `max_words` words this bounds a passage's characters
#: (3,000 at the default 250 words; the longest real passage has 1,322), so a passage of long tokens is split.
PASSAGE_CHARS_PER_WORD = 12
#: Asked questions (`<!-- asked: -->`) under one heading, and in one document. The real notes have 3 per
#: section and at most 33 per document; each one is embedded, and a file of 50,000 hidden questions took
#: 130 s to build. More are refused: the document names the section.
MAX_ASKED_PER_SECTION = 20
MAX_ASKED_PER_DOCUMENT = 200
#: Characters of one asked question (the longest real one has 158); a longer one is cut at a word.
MAX_ASKED_CHARS = 300

#: The file types the corpus accepts, by suffix.
FORMATS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".pdf": "pdf", ".html": "html", ".htm": "html"}

HEADING_SEP = " › "
#: Bump when the same file and settings would be cut into other passages (a parsing or chunking change):
#: the next build then re-chunks every document instead of reusing the passages stored for unchanged files.
CHUNKER_VERSION = 3  # 3: words over MAX_WORD_CHARS cut, passages bounded in characters, streaming HTML


@dataclass(frozen=True)
class Passage:
    """A piece of a document small enough to embed and to cite on its own."""

    id: str  # stable: a hash of the document path, heading and text
    doc: str  # corpus-relative POSIX path
    title: str
    heading: str  # heading path, e.g. "Skills › Python"; "" before the first heading
    text: str
    # Questions a reader might type that this passage's section answers, in their own words (Markdown
    # `<!-- asked: ... -->` under a heading): matched question to question, they find a section whose
    # wording a career-changer does not share ("peeked at the answers" for "data leakage").
    asked: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.asked, tuple):  # read back from JSON as a list
            object.__setattr__(self, "asked", tuple(self.asked))

    @property
    def words(self) -> int:
        return len(self.text.split())

    def embedding_text(self) -> str:
        """What the model sees: the title and heading give a short passage its context."""
        head = self.title if not self.heading else f"{self.title} — {self.heading}"
        return f"{head}\n{self.text}"

    def keyword_text(self) -> str:
        """What the keyword index sees: the embedding text and the asked questions, so a reader's own words
        ("graphics card", "workday") count as words the corpus uses, and match, where the questions do."""
        return "\n".join((self.embedding_text(), *self.asked))


@dataclass(frozen=True)
class Document:
    """One file of the corpus, read and parsed."""

    path: str  # corpus-relative POSIX path
    title: str
    format: str
    sha256: str  # of the file's bytes: a change of any byte means re-chunking
    meta: dict = field(default_factory=dict, compare=False)
    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (heading path, blocks)
    asked: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (heading path, questions): see `Passage.asked`


# --------------------------------------------------------------------------------------------- discovery


def is_corpus_file(path: Path) -> bool:
    """Allowed suffix, not hidden (no part of the path starts with a dot)."""
    return path.suffix.lower() in FORMATS and not any(part.startswith(".") for part in path.parts)


#: The maintainer's vocabulary (`vocabulary.py`) at the top of the corpus folder: read by builds, never a document.
VOCABULARY_FILE = Path("vocabulary.txt")


@dataclass(frozen=True)
class Scan:
    """What `scan` found below a folder: the corpus files, and the symbolic links it did not follow."""

    files: tuple[Path, ...]  # relative to the folder, sorted
    links: tuple[Path, ...]  # relative to the folder, sorted: links to files or folders, never followed


def scan(root: Path) -> Scan:
    """The corpus files below `root` (the vocabulary file aside) and the symbolic links there.

    Links are never followed, to files or to folders: a link is a way for a file from anywhere on the machine
    (/etc/passwd, another user's notes) to be indexed and quoted, and for `remove` to delete what it points
    to. Hidden folders (the pending changes in `.trash/`, `.git/`) are not entered.
    """
    files: list[Path] = []
    links: list[Path] = []
    if not root.is_dir():
        return Scan((), ())
    pending = [Path()]
    while pending:
        rel_dir = pending.pop()
        try:
            entries = list(os.scandir(root / rel_dir))
        except OSError as exc:  # unreadable folder: what is below it cannot be indexed
            log.warning("cannot read the folder %s (%s)", root / rel_dir, exc.strerror or exc)
            continue
        for entry in entries:
            rel = rel_dir / entry.name
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                if is_corpus_file(rel) or entry.is_dir():
                    links.append(rel)
                continue
            if entry.is_dir(follow_symlinks=False):
                pending.append(rel)
            elif entry.is_file(follow_symlinks=False) and is_corpus_file(rel) and rel != VOCABULARY_FILE:
                files.append(rel)
    return Scan(tuple(sorted(files)), tuple(sorted(links)))


def discover(root: Path) -> list[Path]:
    """The corpus files below `root`, sorted, as paths relative to `root` (see `scan`: links are skipped)."""
    return list(scan(root).files)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def too_big(name: str, size: int, limit: int) -> DocumentError:
    """The error for a file of `size` bytes over a `limit` of bytes."""
    return DocumentError(name, f"is {size / 1e6:.1f} MB, over the {limit / 1024 / 1024:g} MB limit")


def read_file(path: Path, name: str, limit: int) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them, never through a symbolic link.

    The size is checked (fstat of the opened file) before anything is read and no more than `limit` + 1 bytes
    are ever read, so a huge file or a device costs nothing. `O_NOFOLLOW` refuses a link in the last place
    even if one appeared since the folder was scanned. Raises `DocumentError` naming the file (as `name`).
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DocumentError(name, "is a symbolic link; links are never followed") from None
        raise DocumentError(name, f"cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DocumentError(name, "is not a regular file")
        if info.st_size > limit:
            raise too_big(name, info.st_size, limit)
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            block = os.read(fd, min(remaining, 1 << 20))
            if not block:
                break
            chunks.append(block)
            remaining -= len(block)
    except OSError as exc:
        raise DocumentError(name, f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:  # it grew after the size check
        raise too_big(name, len(data), limit)
    return data


# --------------------------------------------------------------------------------------------- loading

#: The size `load_document` reads when given no limit: the default upload limit (`Settings.max_upload_mb`).
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


def load_document(root: Path, rel: Path | str, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Read and parse one file (at most `max_bytes`). Raises `DocumentError` naming the file when it cannot be used."""
    rel_path = Path(rel)
    name = rel_path.as_posix()
    return parse_document(name, read_file(root / rel_path, name, max_bytes))


class _Clock:
    """The parse-time budget of one document (`PARSE_SECONDS`): parsers call `check` as they go."""

    __slots__ = ("name", "until")

    def __init__(self, name: str) -> None:
        self.name = name
        self.until = time.monotonic() + PARSE_SECONDS

    def check(self) -> None:
        if time.monotonic() > self.until:
            raise DocumentError(self.name, f"took more than {PARSE_SECONDS:g} s to read; split it or simplify it")


def parse_document(name: str, data: bytes) -> Document:
    """Parse bytes that claim to be the file `name` (the suffix decides the format).

    Every failure is a `DocumentError` naming the file: a parser library's own exception on hostile bytes
    (pypdf's `LimitReachedError` on a compression bomb, say) included, so one bad file never stops a batch.
    """
    fmt = FORMATS.get(Path(name).suffix.lower())
    if fmt is None:
        allowed = ", ".join(sorted(FORMATS))
        raise DocumentError(name, f"unsupported file type (allowed: {allowed})")
    if not data.strip():
        raise DocumentError(name, "the file is empty")
    parser = {"markdown": _parse_markdown, "text": _parse_text, "pdf": _parse_pdf, "html": _parse_html}[fmt]
    clock = _Clock(name)
    try:
        title, sections, meta = parser(name, data, clock)
        asked = _bounded_asked(name, meta.pop(ASKED_KEY, {})) if fmt == "markdown" else {}
        sections = [(h, tuple(_cut_words(b) for b in blocks if b.strip())) for h, blocks in sections]
        clock.check()
    except DocumentError:
        raise
    except Exception as exc:  # a parser's own failure on hostile input: this file only, never the batch
        log.info("%s: the %s parser failed", name, fmt, exc_info=True)
        raise DocumentError(name, f"cannot be read as {fmt.upper() if fmt in ('pdf', 'html') else fmt} ({type(exc).__name__})") from None
    sections = [(h, blocks) for h, blocks in sections if blocks]
    if not sections:
        raise DocumentError(name, "no readable text was found in it")
    title = bounded_title(title) or _stem_title(name)
    return Document(name, title, fmt, sha256_bytes(data), meta, tuple(sections), tuple((h, tuple(q)) for h, q in asked.items()))


def bounded_title(text: object) -> str:
    """A title or heading as one line of at most `MAX_TITLE_CHARS` characters (cut with "…").

    >>> bounded_title("  Skills   for\nML  "), len(bounded_title("x" * 5000))
    ('Skills for ML', 200)
    """
    line = " ".join(str(text).split()) if text is not None else ""
    return line if len(line) <= MAX_TITLE_CHARS else line[: MAX_TITLE_CHARS - 1].rstrip() + "…"


_GIANT_WORD = re.compile(rf"\S{{{MAX_WORD_CHARS + 1},}}")


def _cut_words(text: str) -> str:
    """`text` with every run of more than `MAX_WORD_CHARS` non-space characters cut to that many and "…"."""
    return _GIANT_WORD.sub(lambda m: m.group()[:MAX_WORD_CHARS] + "…", text)


def _bounded_asked(name: str, asked: dict[str, list[str]]) -> dict[str, list[str]]:
    """The asked questions within `MAX_ASKED_PER_SECTION` / `MAX_ASKED_PER_DOCUMENT` (else `DocumentError`),
    each cut to `MAX_ASKED_CHARS` at a word."""
    total = 0
    for heading, questions in asked.items():
        if len(questions) > MAX_ASKED_PER_SECTION:
            where = f"under \"{heading}\"" if heading else "before its first heading"
            raise DocumentError(
                name, f"has {len(questions)} asked questions {where}, over the limit of {MAX_ASKED_PER_SECTION} per section"
            )
        total += len(questions)
    if total > MAX_ASKED_PER_DOCUMENT:
        raise DocumentError(name, f"has {total} asked questions, over the limit of {MAX_ASKED_PER_DOCUMENT} per document")
    return {h: [_cut_question(q) for q in qs] for h, qs in asked.items()}


def _cut_question(question: str) -> str:
    question = _cut_words(question)
    if len(question) <= MAX_ASKED_CHARS:
        return question
    cut = question[:MAX_ASKED_CHARS]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def _decode(name: str, data: bytes) -> str:
    """UTF-8 (with or without BOM), else UTF-16 with a BOM; anything else is refused, not guessed."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _clean(data.decode("utf-16"))
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(name, f"is not UTF-8 text (undecodable byte at position {exc.start})") from None
    if "\x00" in text:
        raise DocumentError(name, "contains NUL bytes; it looks binary, not text")
    return _clean(text)


_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str) -> str:
    """Normalise line ends and drop zero-width and control characters that would split words."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", _INVISIBLE.sub("", text))


def _stem_title(name: str) -> str:
    stem = bounded_title(Path(name).stem.replace("-", " ").replace("_", " "))
    return stem[:1].upper() + stem[1:] if stem else bounded_title(name)


# Markdown -------------------------------------------------------------------------------------------

_HEADING_MARK = re.compile(r"#{1,6}[ \t]")
_FENCE = re.compile(r"^\s*(```|~~~)")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")


def _heading(line: str) -> tuple[int, str] | None:
    """(level, text) of an ATX heading line ("## Skills ##"), else None. Written without a backtracking
    regex: `^(#{1,6})\\s+(.+?)\\s*#*\\s*$` took quadratic time on a heading line of many spaces."""
    m = _HEADING_MARK.match(line)
    if m is None:
        return None
    level = m.end() - 1
    text = line[m.end() :].strip()
    bare = text.rstrip("#").rstrip()
    text = bare if bare else text[:1]  # "# ###" keeps one "#", as the old pattern did
    return (level, text) if text else None


def _no_alias_loader():
    """A `yaml.SafeLoader` that refuses anchors and aliases: with them a few hundred bytes of YAML can stand
    for gigabytes (each alias repeats a whole earlier node), and front matter never needs them."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # noqa: D401 - PyYAML's hook
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise yaml.YAMLError("YAML anchors and aliases are not allowed in front matter")
            return super().compose_node(parent, index)

    return NoAliasLoader


def _front_matter(name: str, text: str) -> tuple[dict, str]:
    """Split YAML front matter (between `---` lines at the top) from the body.

    Front matter that is not valid YAML, longer than `MAX_FRONT_MATTER_BYTES`, or uses anchors or aliases is
    ignored with a warning (the body is still read): it is metadata, and the file's text is what matters.
    """
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---", 4)
    if end == -1:
        return {}, text
    raw, body = text[4:end], text[end + 4 :]
    body = body.split("\n", 1)[1] if "\n" in body else ""
    if len(raw.encode("utf-8")) > MAX_FRONT_MATTER_BYTES:
        log.warning("%s: front matter is over %d bytes; it is ignored", name, MAX_FRONT_MATTER_BYTES)
        return {}, body
    import yaml  # only Markdown with front matter needs it

    try:
        meta = yaml.load(raw, Loader=_no_alias_loader())  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        log.warning("%s: front matter is not usable YAML (%s); it is ignored", name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return {}, body
    return (meta if isinstance(meta, dict) else {}), body


_COMMENT = re.compile(r"(?<![ \t])[ \t]*<!--(.*?)-->", re.S)
ASKED_KEY = "\x00asked"  # where `_parse_markdown` hands the asked questions to `parse_document`
_ASKED_LINE = "\x00asked\x00"  # marks a question line between `_strip_comments` and `markdown_sections`


def asked_questions(comment: str) -> list[str]:
    r"""The questions of an `asked:` comment's body, else [] (any other comment is no content).

    >>> asked_questions(" asked: Why do I need maths? | Is Python enough? ")
    ['Why do I need maths?', 'Is Python enough?']
    >>> asked_questions("asked:\n- Do I need a degree?\n- Can I learn at home?\n")
    ['Do I need a degree?', 'Can I learn at home?']
    """
    body = comment.strip()
    if not body.lower().startswith("asked:"):
        return []
    parts = re.split(r"\n|\s\|\s", body[len("asked:") :])
    return [q for q in (" ".join(_BULLET.sub("", p).split()) for p in parts) if q]


def markdown_sections(
    text: str, asked: dict[str, list[str]] | None = None, clock: _Clock | None = None
) -> tuple[str | None, list[tuple[str, list[str]]]]:
    """Split Markdown into (first H1 text, [(heading path, blocks)]).

    Blocks are paragraphs, whole lists (one item per line, marked "- ") and code blocks; headings inside
    code fences are not headings. HTML comments are not content (a reader of the rendered page never
    sees them); an `<!-- asked: ... -->` comment's questions go to `asked[heading path]` when given.
    Linear in the text: a paragraph's lines are collected and joined once (joining them one by one took
    quadratic time on a file of many short lines), and `clock` is checked as lines go by.
    """
    if "<!--" in text:
        text = _strip_comments(text)
    sections: list[tuple[str, list[str]]] = []
    stack: list[tuple[int, str]] = []
    h1: str | None = None
    blocks: list[str] = []
    current: list[list[str]] = []  # the block's lines, each as its parts (a wrapped line continues the one above)
    in_fence = False

    def flush_block() -> None:
        if current:
            blocks.append("\n".join(" ".join(parts) for parts in current).strip())
            current.clear()

    def flush_section() -> None:
        flush_block()
        heading = HEADING_SEP.join(t for _, t in stack)
        if blocks:
            sections.append((heading, list(blocks)))
        blocks.clear()

    for number, line in enumerate(text.split("\n")):
        if clock is not None and not number & 1023:
            clock.check()
        if line.startswith(_ASKED_LINE):  # never inside a fence: `_strip_comments` keeps those comments
            if asked is not None:
                asked.setdefault(HEADING_SEP.join(t for _, t in stack), []).append(line[len(_ASKED_LINE) :])
            continue
        if _FENCE.match(line):
            in_fence = not in_fence
            current.append([line])
            continue
        if in_fence:
            current.append([line])
            continue
        heading = _heading(line)
        if heading:
            flush_section()
            level, title = heading[0], bounded_title(_inline(heading[1]))
            if level == 1 and h1 is None:
                h1 = title
                stack = []
                continue
            stack = [(lvl, t) for lvl, t in stack if lvl < level] + [(level, title)]
            continue
        if not line.strip():
            flush_block()
            continue
        is_item = bool(_BULLET.match(line))
        in_list = bool(current) and current[0][0].startswith("- ")
        if current and not is_item and (line.startswith("  ") or not in_list):
            # A wrapped line continues the paragraph or list item above it: one sentence, one line.
            current[-1].append(_inline(line).strip())
            continue
        # A list starts a new block unless the block is already a list.
        if current and is_item != in_list:
            flush_block()
        current.append([_BULLET.sub("- ", _inline(line)) if is_item else _inline(line).strip()])
    flush_section()
    return h1, sections


# Linear, all of them: no scan runs past the next delimiter of its own kind, so no start of a match can rescan
# what another start already scanned. ("[[[[...", "](](](..." and "*# *# *#..." took quadratic time with
# [^\]]*, [^)]* and (.+?): each opening delimiter scanned on to the end of the line.)
_LINK = re.compile(r"!?\[([^\[\]]*)\]\([^()]*\)")
_EMPH = re.compile(
    r"\*\*(?=\S)((?:[^*]|\*(?!\*))+?)(?<=\S)\*\*"
    r"|__(?=\S)((?:[^_]|_(?!_))+?)(?<=\S)__"
    r"|\*(?=\S)([^*]+?)(?<=\S)\*"
    r"|`(?=\S)([^`]+?)(?<=\S)`"
)


def _emphasised(match: re.Match) -> str:
    return next(group for group in match.groups() if group is not None)


def _inline(text: str) -> str:
    """Markdown inline markup to plain words: links keep their text, emphasis loses its stars."""
    if "](" in text:
        text = _LINK.sub(r"\1", text)
    if "*" in text or "_" in text or "`" in text:
        text = _EMPH.sub(_emphasised, text)
    return text


def _strip_comments(text: str) -> str:
    """`text` without HTML comments outside code fences. An asked comment leaves one `_ASKED_LINE` line
    per question, which `markdown_sections` files under the heading it is reading."""
    out: list[str] = []
    in_fence = False
    pending: list[str] = []  # lines of a comment that spans lines
    for line in text.split("\n"):
        if pending:
            pending.append(line)
            if "-->" not in line:
                continue
            line, pending = "\n".join(pending), []
        elif not in_fence and "<!--" in line and "-->" not in line.split("<!--", 1)[1]:
            pending = [line]
            continue
        if _FENCE.match(line):
            in_fence = not in_fence
        if in_fence or "<!--" not in line:
            out.append(line)
            continue
        out.extend(_ASKED_LINE + q for comment in _COMMENT.findall(line) for q in asked_questions(comment))
        rest = _COMMENT.sub("", line)
        if rest.strip() or "\n" not in line:
            out.append(rest if rest.strip() else "")
    if pending:  # an unclosed comment: keep its text rather than lose the rest of the document
        out.extend(pending)
    return "\n".join(out)


def _parse_markdown(name: str, data: bytes, clock: _Clock) -> tuple[str, list, dict]:
    text = _decode(name, data)
    meta, body = _front_matter(name, text)
    asked: dict[str, list[str]] = {}
    h1, sections = markdown_sections(body, asked, clock)
    title = meta.get("title")
    if not isinstance(title, str | int | float) or isinstance(title, bool):
        title = None  # a list or mapping is no title
    title = bounded_title(title) or h1 or _stem_title(name)
    return title, sections, {**meta, ASKED_KEY: asked} if asked else meta


# Plain text ------------------------------------------------------------------------------------------


def _parse_text(name: str, data: bytes, clock: _Clock) -> tuple[str, list, dict]:
    """Paragraphs separated by blank lines; a short first line without a full stop is the title."""
    text = _decode(name, data)
    paragraphs = [p.strip() for p in re.split(r"\n[ \t]*\n\s*", text) if p.strip()]
    clock.check()
    title = _stem_title(name)
    if paragraphs:
        first = paragraphs[0]
        if "\n" not in first and len(first.split()) <= 14 and not first.endswith((".", "!", "?")):
            title = first
            paragraphs = paragraphs[1:]
    blocks = [_BULLET.sub("- ", p) if _BULLET.match(p) else " ".join(p.split()) for p in paragraphs]
    return title, [("", blocks)], {}


# PDF -------------------------------------------------------------------------------------------------


def _parse_pdf(name: str, data: bytes, clock: _Clock) -> tuple[str, list, dict]:
    """The text layer, one section per page ("Page 3"); a scanned PDF has none and is refused.

    At most `MAX_PDF_PAGES` pages (the count is read before any text is extracted); pypdf's own limits stop a
    compression bomb, and any pypdf error is a `DocumentError` naming the file.
    """
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not data.lstrip().startswith(b"%PDF"):
        raise DocumentError(name, "is not a PDF file (no %PDF header)")
    pages: list[str] = []
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError(name, "is an encrypted PDF; save an unencrypted copy and add that")
        count = len(reader.pages)
        if count > MAX_PDF_PAGES:
            raise DocumentError(name, f"has {count} pages, over the limit of {MAX_PDF_PAGES}; split it into smaller PDFs")
        for page in reader.pages:
            clock.check()
            pages.append(page.extract_text() or "")
        info_title = (reader.metadata.title if reader.metadata else None) or ""
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError, AttributeError, IndexError, ZeroDivisionError) as exc:
        raise DocumentError(name, f"is a malformed PDF ({type(exc).__name__})") from None
    sections = []
    for number, page in enumerate(pages, start=1):
        text = _clean(page)
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n[ \t]*\n\s*", text) if p.strip()]
        if len(paragraphs) <= 1 and text.strip():
            paragraphs = _pdf_paragraphs(text)
        sections.append((f"Page {number}", paragraphs))
    if not any(p for _, p in sections):
        raise DocumentError(name, "has no text layer (a scanned PDF?); only PDFs with selectable text work")
    title = bounded_title(info_title) or _first_line(sections) or _stem_title(name)
    return title, sections, {}


def _pdf_paragraphs(text: str) -> list[str]:
    """PDF text often has one line per visual line: join lines, break where a line ends a sentence short."""
    paragraphs, current = [], []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        current.append(line)
        if line.endswith((".", "!", "?", ":")) and len(line) < 60:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def _first_line(sections: list) -> str:
    for _, blocks in sections:
        for block in blocks:
            line = block.split(".")[0].strip()
            if line and len(line.split()) <= 14:
                return line
    return ""


# HTML ------------------------------------------------------------------------------------------------

#: Elements whose content is never text for a reader: code, styling and page chrome.
_HTML_SKIP = frozenset({"script", "style", "noscript", "nav", "footer", "header", "aside", "form", "svg", "iframe", "template"})
#: Elements read as blocks: headings, paragraphs, list items, code, quotes and table cells.
_HTML_BLOCKS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td"})
#: Blocks that keep the blocks inside them as their own text (a paragraph in a list item is the item).
_HTML_CONTAINERS = frozenset({"li", "blockquote", "pre"})
#: Inline elements: no space is put where they start or end ("<b>Py</b>thon" is one word).
_HTML_INLINE = frozenset(
    {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd", "mark", "q", "s", "samp",
     "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr"}
)  # fmt: skip
#: Open blocks tracked at once. Unclosed tags nest without end ("<li>" 12,000 times is 12,000 levels); past
#: this depth the innermost block is ended before the next starts, so memory and time stay linear.
MAX_HTML_DEPTH = 256


_TAG_OPEN = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:_-]{0,63})")
_RAW_TEXT_END = {name: re.compile(rf"</{name}[\s>/]", re.I) for name in ("script", "style")}


class _BlockText:
    """A streaming HTML reader that collects block text in one pass over the markup.

    Linear in the input, by construction: the tokenizer never looks for the end of a construct twice (a
    comment, a tag or a script runs to its own end, and `find` from there), and end tags find their block
    through a count of open blocks by name, never by walking a tree. (BeautifulSoup's find_all + find_parent
    took quadratic time on unclosed nested tags, 112 KB in 91 s; and the standard library's `HTMLParser`
    of Python 3.11 rescans the rest of the document for each unclosed `<!--`, `</` or `<a `.)
    """

    def __init__(self, clock: _Clock) -> None:
        from collections import Counter

        self.clock = clock
        self.lines: list[str] = []  # Markdown: headings, paragraphs and list items
        self.loose: list[str] = []  # text outside any block, used only when there are no blocks
        self.title: list[str] = []
        self.in_title = False
        self.title_done = False
        self.skipping: Counter[str] = Counter()
        self.skip_depth = 0
        self.stack: list[tuple[str, list[str]]] = []  # open blocks: (tag, text parts)
        self.open: Counter[str] = Counter()
        self.ticks = 0

    def feed(self, text: str) -> None:
        """Tokenize the whole document: text, start and end tags; comments, declarations and scripts skipped."""
        from html import unescape

        n = len(text)
        last_gt = text.rfind(">")  # no tag can start after it: the rest is text
        last_comment_end = text.rfind("-->")
        pos = 0
        while pos < n:
            self._tick()
            lt = text.find("<", pos)
            if lt < 0 or lt > last_gt:
                self.handle_data(unescape(text[pos:]))
                break
            if lt > pos:
                self.handle_data(unescape(text[pos:lt]))
            if text.startswith("<!--", lt):
                close = text.find("-->", lt + 4) if lt + 4 <= last_comment_end else -1
                if close < 0:
                    break  # an unclosed comment runs to the end, as in a browser
                pos = close + 3
                continue
            m = _TAG_OPEN.match(text, lt)
            if m is None:
                if text.startswith(("<!", "<?"), lt):  # a declaration or processing instruction
                    pos = text.find(">", lt) + 1
                else:
                    self.handle_data("<")
                    pos = lt + 1
                continue
            gt = text.find(">", m.end())  # found: `lt` is before the last ">", and a name has none
            name = m.group(2).lower()
            pos = gt + 1
            if m.group(1):
                self.handle_endtag(name)
                continue
            if text[gt - 1] == "/" and gt - 1 >= m.end():
                self.handle_startendtag(name)
                continue
            self.handle_starttag(name)
            if name in _RAW_TEXT_END:  # script and style: their text is code, never markup
                end = _RAW_TEXT_END[name].search(text, pos)
                if end is None:
                    break
                self.handle_data(text[pos : end.start()])
                pos = end.start()

    def _tick(self) -> None:
        self.ticks += 1
        if not self.ticks & 255:
            self.clock.check()

    def _emit(self, tag: str, parts: list[str]) -> None:
        words = " ".join("".join(parts).split())
        parts.clear()
        if not words:
            return
        if tag[0] == "h":
            self.lines += ["", "#" * int(tag[1]) + " " + words, ""]
        elif tag == "li":
            self.lines.append("- " + words)
        else:
            self.lines += ["", words, ""]

    def _pop(self) -> None:
        tag, parts = self.stack.pop()
        self.open[tag] -= 1
        self._emit(tag, parts)

    def handle_starttag(self, tag: str) -> None:
        self._tick()
        if tag in _HTML_SKIP:
            self.skipping[tag] += 1
            self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if tag == "title" and not self.title_done:
            self.in_title = True
            return
        if tag not in _HTML_INLINE:
            self._text(" ")
        if tag not in _HTML_BLOCKS:
            return
        if self.stack:
            outer, parts = self.stack[-1]
            if outer in _HTML_CONTAINERS and tag != "li":
                return  # part of the container's own text
            self._emit(outer, parts)  # the text so far comes before the new block
            if len(self.stack) >= MAX_HTML_DEPTH:
                self._pop()
        self.stack.append((tag, []))
        self.open[tag] += 1

    def handle_startendtag(self, tag: str) -> None:
        if tag in _HTML_SKIP or tag in _HTML_BLOCKS:
            return  # <svg/>, <p/>: nothing inside
        self.handle_starttag(tag)

    def handle_endtag(self, tag: str) -> None:
        self._tick()
        if tag in _HTML_SKIP:
            if self.skipping[tag]:
                self.skipping[tag] -= 1
                self.skip_depth -= 1
            return
        if self.skip_depth:
            return
        if tag == "title":
            if self.in_title:
                self.in_title = False
                self.title_done = True
            return
        if tag not in _HTML_INLINE:
            self._text(" ")
        if tag in _HTML_BLOCKS and self.open[tag]:
            while self.stack:  # each block is pushed once and popped once: linear overall
                name = self.stack[-1][0]
                self._pop()
                if name == tag:
                    break

    def handle_data(self, data: str) -> None:
        if self.skip_depth or not data:
            return
        if self.in_title:
            self.title.append(data)
            return
        self._text(data)

    def _text(self, data: str) -> None:
        if self.stack:
            self.stack[-1][1].append(data)
        elif data.strip():
            self.loose.append(data.strip())

    def finish(self) -> None:
        while self.stack:
            self._pop()


def _parse_html(name: str, data: bytes, clock: _Clock) -> tuple[str, list, dict]:
    """Readable text only: headings, paragraphs, list items, code. Script, style and chrome are dropped.

    The markup is parsed as data (never rendered, never executed), in one streaming pass, and turned into
    Markdown so the Markdown sectioner does the rest.
    """
    text = _decode(name, data)
    parser = _BlockText(clock)
    parser.feed(text)
    parser.finish()
    lines = parser.lines
    if not any(line.strip() for line in lines):  # no block elements: take the bare text
        lines = ["\n".join(parser.loose)]
    h1, sections = markdown_sections("\n".join(lines), clock=clock)
    title = bounded_title("".join(parser.title))
    return (title or h1 or _stem_title(name)), sections, {}


# --------------------------------------------------------------------------------------------- chunking

def _word_count(text: str) -> int:
    return len(text.split())


def _max_chars(max_words: int) -> int:
    """The most characters a passage of `max_words` words may have (`PASSAGE_CHARS_PER_WORD`)."""
    return max_words * PASSAGE_CHARS_PER_WORD


def _fits(text: str, words: int, chars: int) -> bool:
    return len(text) <= chars and _word_count(text) <= words


def _cut(words: list[str], size: int, chars: int) -> Iterator[str]:
    """Consecutive runs of `words` of at most `size` words and `chars` characters (a word is never longer
    than `MAX_WORD_CHARS` + 1, see `parse_document`; a longer one here is cut to fit)."""
    buf: list[str] = []
    length = 0
    for word in words:
        word = word[:chars]
        if buf and (len(buf) >= size or length + 1 + len(word) > chars):
            yield " ".join(buf)
            buf, length = [], 0
        length += len(word) + (1 if buf else 0)
        buf.append(word)
    if buf:
        yield " ".join(buf)


def _pieces(blocks: Iterable[str], max_words: int, cut: int | None = None, max_chars: int | None = None) -> Iterator[str]:
    """Blocks no longer than `max_words` (and `max_chars`); longer ones split on sentences (a giant sentence
    on words) into pieces of at most `cut` words, which leaves room for the overlap that `_pack` prepends."""
    max_chars = max_chars or _max_chars(max_words)
    size = cut or max_words
    size_chars = max_chars * size // max_words
    for block in blocks:
        if _fits(block, max_words, max_chars):
            yield block
            continue
        buf: list[str] = []
        buf_words = buf_chars = 0
        joiner = "\n" if block.lstrip().startswith("- ") else " "
        for sentence in split_sentences(block):
            words = sentence.split()
            if len(words) > size or len(sentence) > size_chars:  # one huge "sentence": cut on words, the only boundary there is
                if buf:
                    yield joiner.join(buf)
                    buf, buf_words, buf_chars = [], 0, 0
                yield from _cut(words, size, size_chars)
                continue
            if buf and (buf_words + len(words) > size or buf_chars + 1 + len(sentence) > size_chars):
                yield joiner.join(buf)
                buf, buf_words, buf_chars = [], 0, 0
            buf.append(sentence)
            buf_words += len(words)
            buf_chars += len(sentence) + (1 if buf_chars else 0)
        if buf:
            yield joiner.join(buf)


def _tail(text: str, words: int, chars: int | None = None) -> str:
    """The last whole sentences of `text` that fit in `words` words (and `chars` characters), for overlap."""
    if words <= 0:
        return ""
    out: list[str] = []
    count = length = 0
    for sentence in reversed(split_sentences(text)):
        count += _word_count(sentence)
        length += len(sentence) + 1
        if count > words or (chars is not None and length > chars):
            break
        out.insert(0, sentence)
    return "\n".join(out) if out and out[0].startswith("- ") else " ".join(out)


def _pack(blocks: list[str], max_words: int, overlap: int, clock: _Clock | None = None) -> list[str]:
    """Greedy packing of blocks into passages of at most about `max_words`, with sentence overlap.

    Characters are bounded too (`PASSAGE_CHARS_PER_WORD`), so a passage of long tokens is no longer than
    one of ordinary words.
    """
    max_chars = _max_chars(max_words)
    pieces = list(_pieces(blocks, max_words, cut=max_words - overlap, max_chars=max_chars))
    overlap_chars = _max_chars(overlap)
    passages: list[str] = []
    buf: list[str] = []

    def size(parts: list[str]) -> tuple[int, int]:
        return sum(_word_count(p) for p in parts), sum(len(p) + 2 for p in parts)

    buf_words = buf_chars = 0
    for number, piece in enumerate(pieces):
        if clock is not None and not number & 255:
            clock.check()
        piece_words, piece_chars = _word_count(piece), len(piece) + 2
        if buf and (buf_words + piece_words > max_words or buf_chars + piece_chars > max_chars):
            # A lead-in ("You will need:") goes with what it introduces, not alone at the end of a passage;
            # it may take the new passage up to the overlap's worth past max_words.
            lead_words, lead_chars = size(buf[-1:])
            if (
                buf[-1].rstrip().endswith(":")
                and lead_words + piece_words <= max_words + overlap
                and lead_chars + piece_chars <= max_chars + overlap_chars
            ):
                lead = buf.pop()
                if buf:
                    passages.append("\n\n".join(buf))
                buf = [lead]
            else:
                passages.append("\n\n".join(buf))
                tail = _tail(buf[-1], overlap, overlap_chars)
                tail_words, tail_chars = size([tail]) if tail else (0, 0)
                fits = tail_words + piece_words <= max_words and tail_chars + piece_chars <= max_chars
                buf = [tail] if tail and fits else []
            buf_words, buf_chars = size(buf)
        buf.append(piece)
        buf_words += piece_words
        buf_chars += piece_chars
    if buf:
        passages.append("\n\n".join(buf))
    return passages


def _merge_small(sections: list[tuple[str, list[str], list[str]]], min_words: int, max_words: int) -> list[tuple[str, list[str], list[str]]]:
    """Merge sections under `min_words` into a neighbour of the same document when the result fits.

    A short section goes into the next one (an intro before its first sub-heading reads well there), or
    else into the previous one. The merged section's own heading is kept as a line of the text, and its
    asked questions (the third element) join the neighbour's. One pass: the sections already settled and
    the ones still to come are two lists, never an element deleted from the middle of one (which made a
    file of 100,000 tiny sections quadratic).
    """
    todo = [(h, list(b), list(q)) for h, b, q in reversed(sections)]  # the next section is todo[-1]
    done: list[tuple[str, list[str], list[str]]] = []
    sizes: list[int] = []  # words of each section in `done`
    if not todo:
        return done
    current = todo.pop()
    current_size = sum(_word_count(b) for b in current[1])
    while True:
        heading, blocks, asked = current
        alone = not done and not todo
        if current_size >= min_words or alone:
            done.append(current)
            sizes.append(current_size)
        else:
            merged = False
            if todo:
                nxt_heading, nxt_blocks, nxt_asked = todo[-1]
                label = _leaf(nxt_heading) if nxt_heading != heading else ""
                nxt_size = sum(_word_count(b) for b in nxt_blocks)
                if current_size + _word_count(label) + nxt_size <= max_words:
                    todo.pop()
                    current = (heading, blocks + ([label] if label else []) + nxt_blocks, asked + nxt_asked)
                    current_size += _word_count(label) + nxt_size
                    continue
            if done:
                prev_heading, prev_blocks, prev_asked = done[-1]
                label = _leaf(heading) if heading != prev_heading else ""
                if current_size + _word_count(label) + sizes[-1] <= max_words:
                    done[-1] = (prev_heading, prev_blocks + ([label] if label else []) + blocks, prev_asked + asked)
                    sizes[-1] += _word_count(label) + current_size
                    merged = True
            if not merged:
                done.append(current)
                sizes.append(current_size)
        if not todo:
            return done
        current = todo.pop()
        current_size = sum(_word_count(b) for b in current[1])


def _leaf(heading: str) -> str:
    return heading.split(HEADING_SEP)[-1] if heading else ""


def passage_id(doc: str, title: str, heading: str, text: str, asked: tuple[str, ...] = ()) -> str:
    """16 hex digits of SHA-256 over path, title, heading, text and asked questions: the same content
    always gets the same id, and a change to anything the model sees (the title is part of
    `embedding_text`, the asked questions have vectors of their own) gets a new one, so an incremental
    build cannot keep a vector made for the old wording."""
    extra = "\x1f" + "\x1e".join(asked) if asked else ""  # passages without questions keep their ids
    return hashlib.sha256(f"{doc}\x1f{title}\x1f{heading}\x1f{text}{extra}".encode()).hexdigest()[:16]


def chunk(document: Document, min_words: int = 60, max_words: int = 250, overlap_words: int = 30) -> list[Passage]:
    """Cut a parsed document into passages (see the module docstring for the rules).

    Raises `DocumentError` when the document would make more than `MAX_PASSAGES_PER_DOCUMENT` passages, or
    when cutting it takes more than `PARSE_SECONDS`.
    """
    clock = _Clock(document.path)
    asked = dict(document.asked)
    sections = _merge_small([(h, list(b), list(asked.get(h, ()))) for h, b in document.sections], min_words, max_words)
    passages: list[Passage] = []
    seen: set[str] = set()
    for heading, blocks, questions in sections:
        # Every passage of a section carries its questions: whichever part holds the answer can be found.
        questions = tuple(dict.fromkeys(questions))
        for text in _pack(blocks, max_words, overlap_words, clock):
            pid = passage_id(document.path, document.title, heading, text, questions)
            if pid in seen:  # the same text twice under the same heading: once is enough
                continue
            seen.add(pid)
            passages.append(Passage(pid, document.path, document.title, heading, text, questions))
            if len(passages) > MAX_PASSAGES_PER_DOCUMENT:
                raise DocumentError(
                    document.path, f"makes more than {MAX_PASSAGES_PER_DOCUMENT} passages (about 500,000 words); split it into smaller files"
                )
    return passages
