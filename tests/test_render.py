"""Safe display text: nothing from a document or a question becomes live markup."""

from assistant.answer import Answer
from assistant.render import answer_markdown, conversation_markdown, escape_markdown, highlighted_passage
from assistant.retrieve import Source


def test_html_and_markdown_in_text_are_escaped():
    out = escape_markdown('<img src=x onerror="alert(1)"> **bold** [link](javascript:alert(1))')
    assert "<img" not in out and "&lt;img" in out
    assert "\\*\\*bold\\*\\*" in out and "\\[link\\]\\(javascript" in out


def test_answer_markdown_keeps_list_markers_and_bolds_citations():
    out = answer_markdown("- Python <b>first</b> [1]\nPlain sentence [2].")
    assert out.startswith("- Python &lt;b&gt;first&lt;/b&gt; **[1]**")
    assert "**[2]**." in out


def test_highlighted_passage_marks_used_sentences_only():
    out = highlighted_passage("One <x>. Two here. Three.", ["Two here."])
    assert out == "One &lt;x&gt;. <mark>Two here.</mark> Three."


def test_conversation_export_has_questions_answers_and_cited_passages():
    source = Source("abc", "notes/a.md", "Title", "Head", "Passage text.", 0.7)
    answer = Answer("What?", "Passage text [1].", (source,), False)
    md = conversation_markdown([("What?", answer, ""), ("Broken?", None, "error: no index")])
    assert "## Q: What?" in md and "[1] Title › Head (notes/a.md)" in md and "> Passage text." in md
    assert "error: no index" in md
