"""Words, stems and sentences (pure logic)."""

from assistant.text import stem, tokenize


def test_tokenize_drops_stopwords_and_stems_plurals():
    assert tokenize("What are the models used for?") == ["model"]
    assert stem("learning") == "learn" and stem("class") == "class"


def test_tokenize_keeps_cplusplus_and_csharp():
    assert "c++" in tokenize("Where does C++ fit?") and "c#" in tokenize("and C#")


BACKGROUND = (
    "I managed building projects for ten years, with budgets, clients and stubborn engineers. I'm learning "
    "Python in the evenings and I love it. My worry is that everyone online talks only about code, models and maths."
)


def test_a_long_message_is_also_searched_by_the_sentences_that_ask():
    from assistant.text import asking_sentences

    ask = "Do people skills like mine count for anything in ML engineering?"
    assert asking_sentences(f"{BACKGROUND} {ask}") == ask
    assert asking_sentences(f"I manage projects. {ask}") == ""  # short: its asking sentence leans on the rest
    assert asking_sentences(f"{BACKGROUND} {BACKGROUND}") == ""  # nothing asks
    assert asking_sentences(f"{ask} {ask} {ask} {ask}") == ""  # every sentence asks: no narrower question
