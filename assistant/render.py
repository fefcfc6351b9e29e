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
from collections.abc import Iterable

from .answer import Answer

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def escape_markdown(text: str) -> str:
    """Text shown literally by a Markdown renderer that also accepts HTML (entities escaped too)."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def answer_markdown(text: str) -> str:
    """An answer's text, escaped, with its own list markers and citation numbers kept readable."""
    out = []
    for line in text.split("\n"):
        if line.startswith("- "):
            out.append("- " + escape_markdown(line[2:]))
        else:
            out.append(escape_markdown(line))
    # "\[1\]" renders as "[1]" already; make citations stand out a little.
    return re.sub(r"\\\[(\d+)\\\]", r"**[\1]**", "\n".join(out))


def highlighted_passage(text: str, highlights: Iterable[str]) -> str:
    """The passage, escaped, with each sentence the answer used wrapped in `<mark>`."""
    spans: list[tuple[int, int]] = []
    for sentence in highlights:
        start = text.find(sentence)
        if start >= 0:
            spans.append((start, start + len(sentence)))
    spans.sort()
    out, pos = [], 0
    for start, end in spans:
        if start < pos:
            continue
        out.append(escape_markdown(text[pos:start]))
        out.append("<mark>" + escape_markdown(text[start:end]) + "</mark>")
        pos = end
    out.append(escape_markdown(text[pos:]))
    return "".join(out).replace("\n", "  \n")


def source_label(n: int, title: str, heading: str, score: float, uploaded: bool = False) -> str:
    where = f"{title} › {heading}" if heading else title
    tag = " · uploaded" if uploaded else ""
    return f"[{n}] {where} · relevance {score:.2f}{tag}"


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
        lines += [answer.text, ""]
        for n, s in enumerate(answer.sources, start=1):
            where = f"{s.title} › {s.heading}" if s.heading else s.title
            quoted = "\n".join("> " + line for line in s.text.splitlines())
            lines += [f"[{n}] {where} ({s.doc})", "", quoted, ""]
    return "\n".join(lines).rstrip() + "\n"
