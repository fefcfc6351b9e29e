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
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DocumentError
from .text import split_sentences

log = logging.getLogger(__name__)

#: The file types the corpus accepts, by suffix.
FORMATS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".pdf": "pdf", ".html": "html", ".htm": "html"}

HEADING_SEP = " › "
#: Bump when the same file and settings would be cut into other passages (a parsing or chunking change):
#: the next build then re-chunks every document instead of reusing the passages stored for unchanged files.
CHUNKER_VERSION = 2


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


def discover(root: Path) -> list[Path]:
    """The corpus files below `root`, sorted, as paths relative to `root` (the vocabulary file aside)."""
    if not root.is_dir():
        return []
    found = [p.relative_to(root) for p in root.rglob("*") if p.is_file()]
    return sorted(p for p in found if is_corpus_file(p) and p != VOCABULARY_FILE)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------- loading


def load_document(root: Path, rel: Path | str) -> Document:
    """Read and parse one file. Raises `DocumentError` naming the file when it cannot be used."""
    rel_path = Path(rel)
    name = rel_path.as_posix()
    path = root / rel_path
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(name, f"cannot be read ({exc.strerror or exc})") from None
    return parse_document(name, data)


def parse_document(name: str, data: bytes) -> Document:
    """Parse bytes that claim to be the file `name` (the suffix decides the format)."""
    fmt = FORMATS.get(Path(name).suffix.lower())
    if fmt is None:
        allowed = ", ".join(sorted(FORMATS))
        raise DocumentError(name, f"unsupported file type (allowed: {allowed})")
    if not data.strip():
        raise DocumentError(name, "the file is empty")
    parser = {"markdown": _parse_markdown, "text": _parse_text, "pdf": _parse_pdf, "html": _parse_html}[fmt]
    title, sections, meta = parser(name, data)
    asked = meta.pop(ASKED_KEY, {}) if fmt == "markdown" else {}
    sections = [(h, tuple(b for b in blocks if b.strip())) for h, blocks in sections]
    sections = [(h, blocks) for h, blocks in sections if blocks]
    if not sections:
        raise DocumentError(name, "no readable text was found in it")
    return Document(name, title, fmt, sha256_bytes(data), meta, tuple(sections), tuple((h, tuple(q)) for h, q in asked.items()))


def _decode(name: str, data: bytes) -> str:
    """UTF-8 (with or without BOM), else UTF-16 with a BOM; anything else is refused, not guessed."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
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
    stem = Path(name).stem.replace("-", " ").replace("_", " ").strip()
    return stem[:1].upper() + stem[1:] if stem else name


# Markdown -------------------------------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")


def _front_matter(name: str, text: str) -> tuple[dict, str]:
    """Split YAML front matter (between `---` lines at the top) from the body."""
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---", 4)
    if end == -1:
        return {}, text
    raw, body = text[4:end], text[end + 4 :]
    body = body.split("\n", 1)[1] if "\n" in body else ""
    import yaml  # only Markdown with front matter needs it

    try:
        meta = yaml.safe_load(raw)
    except yaml.YAMLError:
        log.warning("%s: front matter is not valid YAML; it is ignored", name)
        return {}, body
    return (meta if isinstance(meta, dict) else {}), body


_COMMENT = re.compile(r"[ \t]*<!--(.*?)-->", re.S)
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


def markdown_sections(text: str, asked: dict[str, list[str]] | None = None) -> tuple[str | None, list[tuple[str, list[str]]]]:
    """Split Markdown into (first H1 text, [(heading path, blocks)]).

    Blocks are paragraphs, whole lists (one item per line, marked "- ") and code blocks; headings inside
    code fences are not headings. HTML comments are not content (a reader of the rendered page never
    sees them); an `<!-- asked: ... -->` comment's questions go to `asked[heading path]` when given.
    """
    if "<!--" in text:
        text = _strip_comments(text)
    sections: list[tuple[str, list[str]]] = []
    stack: list[tuple[int, str]] = []
    h1: str | None = None
    blocks: list[str] = []
    current: list[str] = []
    in_fence = False

    def flush_block() -> None:
        if current:
            blocks.append("\n".join(current).strip())
            current.clear()

    def flush_section() -> None:
        flush_block()
        heading = HEADING_SEP.join(t for _, t in stack)
        if blocks:
            sections.append((heading, list(blocks)))
        blocks.clear()

    for line in text.split("\n"):
        if line.startswith(_ASKED_LINE):  # never inside a fence: `_strip_comments` keeps those comments
            if asked is not None:
                asked.setdefault(HEADING_SEP.join(t for _, t in stack), []).append(line[len(_ASKED_LINE) :])
            continue
        if _FENCE.match(line):
            in_fence = not in_fence
            current.append(line)
            continue
        if in_fence:
            current.append(line)
            continue
        m = _HEADING.match(line)
        if m:
            flush_section()
            level, title = len(m.group(1)), _inline(m.group(2))
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
        in_list = bool(current) and current[0].startswith("- ")
        if current and not is_item and (line.startswith("  ") or not in_list):
            # A wrapped line continues the paragraph or list item above it: one sentence, one line.
            current[-1] = f"{current[-1]} {_inline(line).strip()}"
            continue
        # A list starts a new block unless the block is already a list.
        if current and is_item != in_list:
            flush_block()
        current.append(_BULLET.sub("- ", _inline(line)) if is_item else _inline(line).strip())
    flush_section()
    return h1, sections


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPH = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")


def _inline(text: str) -> str:
    """Markdown inline markup to plain words: links keep their text, emphasis loses its stars."""
    return _EMPH.sub(r"\2", _LINK.sub(r"\1", text))


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


def _parse_markdown(name: str, data: bytes) -> tuple[str, list, dict]:
    text = _decode(name, data)
    meta, body = _front_matter(name, text)
    asked: dict[str, list[str]] = {}
    h1, sections = markdown_sections(body, asked)
    title = str(meta.get("title") or h1 or _stem_title(name)).strip()
    return title, sections, {**meta, ASKED_KEY: asked} if asked else meta


# Plain text ------------------------------------------------------------------------------------------


def _parse_text(name: str, data: bytes) -> tuple[str, list, dict]:
    """Paragraphs separated by blank lines; a short first line without a full stop is the title."""
    text = _decode(name, data)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    title = _stem_title(name)
    if paragraphs:
        first = paragraphs[0]
        if "\n" not in first and len(first.split()) <= 14 and not first.endswith((".", "!", "?")):
            title = first
            paragraphs = paragraphs[1:]
    blocks = [_BULLET.sub("- ", p) if _BULLET.match(p) else " ".join(p.split()) for p in paragraphs]
    return title, [("", blocks)], {}


# PDF -------------------------------------------------------------------------------------------------


def _parse_pdf(name: str, data: bytes) -> tuple[str, list, dict]:
    """The text layer, one section per page ("Page 3"); a scanned PDF has none and is refused."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.lstrip().startswith(b"%PDF"):
        raise DocumentError(name, "is not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError(name, "is an encrypted PDF; save an unencrypted copy and add that")
        pages = [page.extract_text() or "" for page in reader.pages]
        info_title = (reader.metadata.title if reader.metadata else None) or ""
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError, AttributeError) as exc:
        raise DocumentError(name, f"is a malformed PDF ({type(exc).__name__})") from None
    sections = []
    for number, page in enumerate(pages, start=1):
        text = _clean(page)
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
        if len(paragraphs) <= 1 and text.strip():
            paragraphs = _pdf_paragraphs(text)
        sections.append((f"Page {number}", paragraphs))
    if not any(p for _, p in sections):
        raise DocumentError(name, "has no text layer (a scanned PDF?); only PDFs with selectable text work")
    title = str(info_title).strip() or _first_line(sections) or _stem_title(name)
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


def _parse_html(name: str, data: bytes) -> tuple[str, list, dict]:
    """Readable text only: headings, paragraphs, list items, code. Script, style and chrome are dropped.

    The markup is parsed as data (never rendered, never executed) and turned into Markdown so the
    Markdown sectioner does the rest.
    """
    from bs4 import BeautifulSoup

    text = _decode(name, data)
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "footer", "header", "aside", "form", "svg", "iframe"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    body = soup.body or soup
    lines: list[str] = []
    for el in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td"]):
        if el.find_parent(["li", "blockquote", "pre"]) and el.name != "li":
            continue
        words = " ".join(el.get_text(" ", strip=True).split())
        if not words:
            continue
        if el.name.startswith("h"):
            lines += ["", "#" * int(el.name[1]) + " " + words, ""]
        elif el.name == "li":
            lines.append("- " + words)
        else:
            lines += ["", words, ""]
    if not any(line.strip() for line in lines):  # no block elements: take the bare text
        lines = [body.get_text("\n", strip=True)]
    h1, sections = markdown_sections("\n".join(lines))
    return (title or h1 or _stem_title(name)), sections, {}


# --------------------------------------------------------------------------------------------- chunking

def _word_count(text: str) -> int:
    return len(text.split())


def _pieces(blocks: Iterable[str], max_words: int, cut: int | None = None) -> Iterator[str]:
    """Blocks no longer than `max_words`; longer ones split on sentences (a giant sentence on words) into
    pieces of at most `cut` words, which leaves room for the overlap that `_pack` prepends."""
    for block in blocks:
        if _word_count(block) <= max_words:
            yield block
            continue
        size = cut or max_words
        buf: list[str] = []
        joiner = "\n" if block.lstrip().startswith("- ") else " "
        for sentence in split_sentences(block):
            words = sentence.split()
            if len(words) > size:  # one huge "sentence": cut on words, the only boundary there is
                if buf:
                    yield joiner.join(buf)
                    buf = []
                for i in range(0, len(words), size):
                    yield " ".join(words[i : i + size])
                continue
            if buf and _word_count(joiner.join(buf + [sentence])) > size:
                yield joiner.join(buf)
                buf = []
            buf.append(sentence)
        if buf:
            yield joiner.join(buf)


def _tail(text: str, words: int) -> str:
    """The last whole sentences of `text` that fit in `words` words (for overlap)."""
    if words <= 0:
        return ""
    out: list[str] = []
    for sentence in reversed(split_sentences(text)):
        if _word_count(" ".join(out + [sentence])) > words:
            break
        out.insert(0, sentence)
    return "\n".join(out) if out and out[0].startswith("- ") else " ".join(out)


def _pack(blocks: list[str], max_words: int, overlap: int) -> list[str]:
    """Greedy packing of blocks into passages of at most about `max_words`, with sentence overlap."""
    pieces = list(_pieces(blocks, max_words, cut=max_words - overlap))
    passages: list[str] = []
    buf: list[str] = []
    for piece in pieces:
        if buf and _word_count("\n\n".join(buf + [piece])) > max_words:
            # A lead-in ("You will need:") goes with what it introduces, not alone at the end of a passage;
            # it may take the new passage up to the overlap's worth past max_words.
            if buf[-1].rstrip().endswith(":") and _word_count(buf[-1]) + _word_count(piece) <= max_words + overlap:
                lead = buf.pop()
                if buf:
                    passages.append("\n\n".join(buf))
                buf = [lead]
            else:
                passages.append("\n\n".join(buf))
                tail = _tail(buf[-1], overlap)
                buf = [tail] if tail and _word_count(tail) + _word_count(piece) <= max_words else []
        buf.append(piece)
    if buf:
        passages.append("\n\n".join(buf))
    return passages


def _merge_small(sections: list[tuple[str, list[str], list[str]]], min_words: int, max_words: int) -> list[tuple[str, list[str], list[str]]]:
    """Merge sections under `min_words` into a neighbour of the same document when the result fits.

    A short section goes into the next one (an intro before its first sub-heading reads well there), or
    else into the previous one. The merged section's own heading is kept as a line of the text, and its
    asked questions (the third element) join the neighbour's.
    """
    merged = [(h, list(b), list(q)) for h, b, q in sections]
    i = 0
    while i < len(merged):
        heading, blocks, asked = merged[i]
        size = sum(_word_count(b) for b in blocks)
        if size >= min_words or len(merged) == 1:
            i += 1
            continue
        if i + 1 < len(merged):
            nxt_heading, nxt_blocks, nxt_asked = merged[i + 1]
            label = _leaf(nxt_heading) if nxt_heading != heading else ""
            if size + _word_count(label) + sum(_word_count(b) for b in nxt_blocks) <= max_words:
                merged[i] = (heading, blocks + ([label] if label else []) + nxt_blocks, asked + nxt_asked)
                del merged[i + 1]
                continue
        if i > 0:
            prev_heading, prev_blocks, prev_asked = merged[i - 1]
            label = _leaf(heading) if heading != prev_heading else ""
            if size + _word_count(label) + sum(_word_count(b) for b in prev_blocks) <= max_words:
                merged[i - 1] = (prev_heading, prev_blocks + ([label] if label else []) + blocks, prev_asked + asked)
                del merged[i]
                continue
        i += 1
    return merged


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
    """Cut a parsed document into passages (see the module docstring for the rules)."""
    asked = dict(document.asked)
    sections = _merge_small([(h, list(b), list(asked.get(h, ()))) for h, b in document.sections], min_words, max_words)
    passages: list[Passage] = []
    seen: set[str] = set()
    for heading, blocks, questions in sections:
        # Every passage of a section carries its questions: whichever part holds the answer can be found.
        questions = tuple(dict.fromkeys(questions))
        for text in _pack(blocks, max_words, overlap_words):
            pid = passage_id(document.path, document.title, heading, text, questions)
            if pid in seen:  # the same text twice under the same heading: once is enough
                continue
            seen.add(pid)
            passages.append(Passage(pid, document.path, document.title, heading, text, questions))
    return passages
