"""Turning answers and passages into safe display text: escaped Markdown/HTML and a Markdown export.

The chat page shows text that came from documents anyone may have uploaded, so nothing from a document is
ever interpreted as markup: HTML is escaped and Markdown syntax is backslash-escaped. Only the markup made
here (list markers, `<mark>` around the sentences an answer used) is live.

    >>> print(escape_markdown("**bold** <script>x</script>"))
    \\*\\*bold\\*\\* &lt;script&gt;x&lt;/script&gt;
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable

from .answer import Answer

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def escape_markdown(text: str) -> str:
    """Text shown literally by a Markdown renderer that also accepts HTML (entities escaped too)."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def answer_markdown(text: str, card: Callable[[int], str] | None = None) -> str:
    """An answer's text, escaped, with its own list markers kept. Each citation [n] becomes a link to its
    source card (`card(n)` names the card) when `card` is given, else bold.

    >>> answer_markdown("It *scales* [1].", lambda n: f"src_0_{n}")
    'It \\\\*scales\\\\* <a class="cite" href="#src_0_1" data-card="src_0_1" title="Open source 1">[1]</a>.'
    """
    out = []
    for line in text.split("\n"):
        if line.startswith("- "):
            out.append("- " + escape_markdown(line[2:]))
        else:
            out.append(escape_markdown(line))
    joined = "\n".join(out)
    if card is None:  # "\[1\]" renders as "[1]" already; make citations stand out a little.
        return re.sub(r"\\\[(\d+)\\\]", r"**[\1]**", joined)

    def link(m: re.Match) -> str:
        key = card(int(m.group(1)))
        return f'<a class="cite" href="#{key}" data-card="{key}" title="Open source {m.group(1)}">[{m.group(1)}]</a>'

    return re.sub(r"\\\[(\d+)\\\]", link, joined)


def _find(text: str, sentence: str, start: int = 0) -> tuple[int, int] | None:
    """Where `sentence` occurs in `text`, tolerant of differences in whitespace (line breaks, double spaces)."""
    pos = text.find(sentence, start)
    if pos >= 0:
        return pos, pos + len(sentence)
    parts = sentence.split()
    if not parts:
        return None
    m = re.compile(r"\s+".join(map(re.escape, parts))).search(text, start)
    return (m.start(), m.end()) if m else None


def _marked(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> str:
    """text[start:end], escaped, with the parts inside `spans` wrapped in `<mark>`."""
    out, pos = [], start
    for a, b in spans:
        a, b = max(a, start), min(b, end)
        if a >= b or a < pos:
            continue
        out.append(escape_markdown(text[pos:a]))
        out.append("<mark>" + escape_markdown(text[a:b]) + "</mark>")
        pos = b
    out.append(escape_markdown(text[pos:end]))
    return "".join(out)


def highlighted_passage(text: str, highlights: Iterable[str]) -> str:
    """The passage, escaped, with each sentence the answer used wrapped in `<mark>`.

    The passage's own "- " list items stay a list and blank lines separate paragraphs; other line breaks
    are soft (the text reflows to the width of the card, as Markdown paragraphs do). Everything else in it
    is literal text.
    """
    spans: list[tuple[int, int]] = []
    for sentence in highlights:
        span = _find(text, sentence)
        if span:
            spans.append(span)
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    blocks: list[tuple[bool, list[str]]] = []  # (is a list, rendered lines)
    offset = 0
    for line in text.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        if not line.strip():
            blocks.append((False, []))  # a paragraph break
            continue
        item = line.startswith("- ")
        if item:
            rendered = "- " + _marked(text, start + 2, end, merged)
        else:  # "2. " at a line start would turn the line into a numbered list
            rendered = re.sub(r"^((?:<mark>)?\d+)\.", r"\1\\.", _marked(text, start, end, merged))
        if blocks and blocks[-1][0] == item and blocks[-1][1]:
            blocks[-1][1].append(rendered)
        else:
            blocks.append((item, [rendered]))
    parts = ["\n".join(lines) for _, lines in blocks if lines]
    return "\n\n".join(parts)


def source_label(n: int, title: str, heading: str, score: float, uploaded: bool = False) -> str:
    """A source card's one-line label: "[n] Title › Heading · relevance 0.62 · uploaded".

    Title and heading come from documents, so they are escaped like any other document text; the label
    is rendered as Markdown by Streamlit.
    """
    where = escape_markdown(f"{title} › {heading}" if heading and heading != title else title)
    tag = " · uploaded" if uploaded else ""
    return f"[{n}] {where} · relevance {score:.2f}{tag}"


def suggestion_question(heading: str) -> str:
    """A question to ask for a suggested topic: headings that are questions stay as they are.

    >>> suggestion_question("Epoch"), suggestion_question("SQL basics"), suggestion_question("What is MLOps?")
    ('Tell me about epoch', 'Tell me about SQL basics', 'What is MLOps?')
    """
    heading = " ".join(heading.split())
    if heading.endswith("?"):
        return heading
    if heading[1:2].islower():  # "Batch versus online" reads as "batch versus online"; "SQL" stays
        heading = heading[0].lower() + heading[1:]
    return f"Tell me about {heading}"


def conversation_markdown(turns: Iterable[tuple[str, Answer | None, str]]) -> str:
    """The chat as a Markdown document: each question, its answer and the passages it cites.

    `turns` yields (question, answer, error message); the text is kept as written (it is a download,
    not rendered by us).
    """
    lines = ["# ML career assistant: conversation", ""]
    for question, answer, error in turns:
        lines += [f"## Q: {question}", ""]
        if answer is None:
            lines += [error or "(no answer)", ""]
            continue
        if answer.followup:
            lines += [f"_Read as a follow-up to “{answer.followup}”._", ""]
        lines += [answer.text, ""]
        if answer.note:
            lines += [f"_{answer.note}_", ""]
        if answer.suggestions:
            lines += ["The sources do answer questions like these:", ""] + [f"- {suggestion_question(h)}" for h in answer.suggestions] + [""]
        for n, s in enumerate(answer.sources, start=1):
            where = f"{s.title} › {s.heading}" if s.heading else s.title
            quoted = "\n".join("> " + line for line in s.text.splitlines())
            lines += [f"[{n}] {where} ({s.doc})", "", quoted, ""]
    return "\n".join(lines).rstrip() + "\n"
