"""Deciding whether close sources answer a question (pure logic)."""

import pytest


def test_names_are_capitalised_words_after_the_first_of_each_sentence():
    from assistant.decide import names

    assert names("How much do ML engineers earn in London? Google pays well") == ["London"]
    assert names("is PyTorch better than TensorFlow") == ["PyTorch", "TensorFlow"]
    assert names("What is SQL? Is NLP hard") == []  # acronyms are written too many ways to demand them


def test_a_name_or_a_money_figure_the_sources_lack_is_found():
    from assistant.decide import absent_names, lacks_figures

    texts = ["Junior ML engineers work on well-scoped tasks with guidance.", "PyTorch is common in research."]
    assert absent_names("What do junior ML engineers earn in London?", texts) == ["London"]
    assert absent_names("Is PyTorch used in research?", texts) == []
    assert absent_names("Will a US company sponsor an H-1B visa?", texts) == ["H-1B"]
    assert lacks_figures("What salary does a junior ML engineer get?", texts)
    assert not lacks_figures("What salary does a junior get?", texts + ["Juniors often start near $90,000."])
    assert not lacks_figures("How much maths do I need?", texts)  # "how much" alone is not about money
    assert lacks_figures("How do I negotiate stock options and a signing bonus?", texts)  # pay, if not a salary


@pytest.mark.parametrize(
    "question, writing",
    [
        ("Write me a Python script that scrapes job listings.", True),
        ("Can you draft a cover letter for a junior ML role?", True),
        ("please translate my LinkedIn headline into German", True),
        ("Make me a 12-week study timetable for PyTorch.", True),
        ("How do I write clean, testable ML code?", False),
        ("What should a cover letter for an ML job say?", False),
        ("Explain what a feature store is in simple terms.", False),
        ("List the main things an ML engineer is responsible for.", False),
        ("Make my model faster?", False),
    ],
)
def test_a_request_to_write_something_is_told_from_a_question(question, writing):
    from assistant.decide import asks_for_writing

    assert asks_for_writing(question) is writing
