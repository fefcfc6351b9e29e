"""Reading a question: dots, case, vocabulary, spelling, and the things it asks (pure logic, tiny index)."""

from __future__ import annotations

from assistant.keywords import KeywordIndex
from assistant.reading import capitalised, parts, read, trusted_case, undot
from assistant.vocabulary import Vocabulary

KEYWORDS = KeywordIndex.build(
    ["Regularisation keeps a machine learning engineer's models simple.", "Learning the maths of machine learning takes time."]
)
VOCABULARY = Vocabulary.parse("MLE = machine learning engineer\nPhD = PhD\n")


def test_a_question_is_read_the_same_however_it_is_typed():
    typed = [
        "Do I need a Ph.D. to become an MLE? regularization scares me",
        "DO I NEED A PHD TO BECOME AN MLE? REGULARIZATION SCARES ME",
        "do i need a phd to become an mle regularization scares me",
    ]
    texts = [read(q, VOCABULARY, KEYWORDS).text.lower().replace("?", "") for q in typed]
    assert len(set(texts)) == 1
    # "MLE" is not a word of the corpus: it is read in the corpus's words.
    assert "become an machine learning engineer" in texts[0] and "regularisation" in texts[0] and "phd" in texts[0]


def test_dotted_degrees_lose_their_dots_but_lower_case_abbreviations_keep_them():
    assert undot("A Ph.D., an M.Sc. or a B.Tech.?") == "A PhD, an MSc or a BTech?"
    assert undot("e.g. or i.e. stay") == "e.g. or i.e. stay"


def test_capitals_are_trusted_only_when_the_question_is_typed_normally():
    assert trusted_case("Does Netflix hire ML engineers in Berlin?")
    assert not trusted_case("Does Netflix Hire Ml Engineers In Berlin?")
    assert not trusted_case("DOES NETFLIX HIRE ML ENGINEERS?")
    assert capitalised("What does Google ask? London pays well.") == ["Google"]


def test_names_typed_with_a_capital_are_never_spelling_repaired():
    reading = read("Should I learn Learnng or Ollama?", VOCABULARY, KEYWORDS)
    assert "Ollama" in reading.text and "Learnng" in reading.text


def test_a_question_that_asks_two_things_is_read_as_two_parts():
    assert parts("Do referrals help? and how do I ask an ex-coworker for one") == ("Do referrals help?", "how do I ask an ex-coworker for one")
    assert parts("I'm 34 and work in accounting. How long will it take me?") == ()  # background is not a part
    assert parts("What is overfitting?") == ()
