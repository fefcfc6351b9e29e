"""Safe display text: nothing from a document or a question becomes live markup."""

from assistant.answer import Answer
from assistant.render import (
    answer_markdown,
    conversation_markdown,
    escape_markdown,
    highlighted_passage,
    source_label,
    suggestion_question,
)
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


def test_highlighted_passage_escapes_markup_inside_and_outside_the_highlight():
    out = highlighted_passage("Safe <b>x</b>. Bad <script>alert(1)</script> here.", ["Bad <script>alert(1)</script> here."])
    assert "<script>" not in out and "<b>" not in out
    assert "<mark>Bad &lt;script&gt;alert\\(1\\)&lt;/script&gt; here.</mark>" in out


def test_highlighted_passage_keeps_list_items_and_paragraphs():
    text = "Key skills:\n- Python for data work.\n- SQL for queries.\nAfter the list.\n\nA new paragraph\nwith a break."
    out = highlighted_passage(text, ["SQL for queries.", "with a break."])
    assert out == (
        "Key skills:\n\n- Python for data work.\n- <mark>SQL for queries.</mark>\n\nAfter the list.\n\n"
        "A new paragraph\n<mark>with a break.</mark>"
    )


def test_highlighted_passage_finds_sentences_across_line_breaks_and_spaces():
    out = highlighted_passage("First one.\nIt spans\ntwo  lines. Last.", ["It spans two lines."])
    assert out == "First one.\n<mark>It spans</mark>\n<mark>two  lines.</mark> Last."


def test_highlighted_passage_ignores_sentences_it_cannot_find_and_overlaps():
    assert highlighted_passage("Alpha beta. Gamma.", ["Not there.", "Alpha beta.", "beta."]) == "<mark>Alpha beta.</mark> Gamma."


def test_source_label_names_document_heading_relevance_and_upload():
    assert source_label(1, "Skills", "Maths", 0.7512) == "[1] Skills › Maths · relevance 0.75"
    assert source_label(2, "Notes", "", 0.5, uploaded=True) == "[2] Notes · relevance 0.50 · uploaded"
    assert source_label(3, "Same", "Same", 0.5) == "[3] Same · relevance 0.50"


def test_source_label_escapes_document_titles():
    label = source_label(1, "[click](javascript:alert(1)) <img src=x>", "**loud**", 0.4)
    assert label.startswith("[1] \\[click\\]\\(javascript") and "<img" not in label and "\\*\\*loud\\*\\*" in label


def test_suggestion_question_turns_headings_into_questions():
    assert suggestion_question("Epoch") == "Tell me about epoch"
    assert suggestion_question("SQL for analysts") == "Tell me about SQL for analysts"
    assert suggestion_question("How do ML engineers keep learning?") == "How do ML engineers keep learning?"
    assert suggestion_question("  Stage 3:\nDeep learning ") == "Tell me about stage 3: Deep learning"


def test_conversation_export_marks_abstentions_and_keeps_text_as_written():
    abstained = Answer("Bread?", "I don't know from these sources.", (), True)
    source = Source("u1", "uploads/q.md", "Q *notes*", "", "Line one.\nLine two.", 0.6)
    answer = Answer("<b>Q</b>?", "Line one [1].", (source,), False)
    md = conversation_markdown([("Bread?", abstained, ""), ("<b>Q</b>?", answer, "")])
    assert "## Q: Bread?\n\nI don't know from these sources." in md
    assert "## Q: <b>Q</b>?" in md and "[1] Q *notes* (uploads/q.md)" in md and "> Line one.\n> Line two." in md
    assert md.endswith("\n") and md.startswith("# ML career assistant: conversation")


def test_highlighted_passage_does_not_turn_numbered_lines_into_lists():
    assert highlighted_passage("Steps follow.\n2. Then more.", ["2. Then more."]) == "Steps follow.\n<mark>2\\. Then more.</mark>"
