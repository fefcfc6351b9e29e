"""Keyword side of retrieval and follow-up condensing (pure logic)."""

import pytest

from assistant.api import condense
from assistant.retrieve import stem, tokenize


def test_tokenize_drops_stopwords_and_stems_plurals():
    assert tokenize("What are the models used for?") == ["model"]
    assert stem("learning") == "learn" and stem("class") == "class"


def test_tokenize_keeps_cplusplus_and_csharp():
    assert "c++" in tokenize("Where does C++ fit?") and "c#" in tokenize("and C#")


def test_a_short_follow_up_borrows_the_previous_questions_terms():
    assert condense("Which frameworks?", ["What do I need for deep learning?"]) == "Which frameworks? deep learning"


def test_a_follow_up_that_refers_back_borrows_terms_even_when_long():
    out = condense("Why does it matter so much for this career path?", [{"role": "user", "content": "What is calculus?"}])
    assert "calculus" in out


def test_a_full_new_question_stands_alone():
    q = "What is SQL used for in data cleaning work?"
    assert condense(q, ["What is MLOps?"]) == q


def test_only_user_turns_are_used_as_history():
    history = [{"role": "user", "content": "Tell me about Kubernetes"}, {"role": "assistant", "content": "Docker images [1]."}]
    assert "kubernetes" in condense("Why?", history).lower() and "docker" not in condense("Why?", history).lower()


# ------------------------------------------------------------------------------- spelling and coverage


def test_real_words_and_other_forms_are_not_taken_for_typos():
    from assistant.retrieve import is_english, other_form

    assert is_english("bread") and is_english("pilot") and not is_english("lerning") and not is_english("chian")
    assert other_form("developer", "development") and other_form("secretly", "secrets")
    assert not other_form("machin", "machine") and not other_form("enginer", "engineer")


def test_two_swapped_letters_are_repaired_from_the_vocabulary():
    from assistant.retrieve import swapped_letters

    vocab = frozenset({"join", "model", "work"})
    assert swapped_letters("jion", vocab) == "join" and swapped_letters("modle", vocab) == "model"
    assert swapped_letters("bread", vocab) is None


def test_names_are_capitalised_words_after_the_first_of_each_sentence():
    from assistant.retrieve import names

    assert names("How much do ML engineers earn in London? Google pays well") == ["London"]
    assert names("is PyTorch better than TensorFlow") == ["PyTorch", "TensorFlow"]
    assert names("What is SQL? Is NLP hard") == []  # acronyms are written too many ways to demand them


def test_a_name_or_a_money_figure_the_sources_lack_is_found():
    from assistant.retrieve import absent_names, lacks_figures

    texts = ["Junior ML engineers work on well-scoped tasks with guidance.", "PyTorch is common in research."]
    assert absent_names("What do junior ML engineers earn in London?", texts) == ["London"]
    assert absent_names("Is PyTorch used in research?", texts) == []
    assert absent_names("Will a US company sponsor an H-1B visa?", texts) == ["H-1B"]
    assert lacks_figures("What salary does a junior ML engineer get?", texts)
    assert not lacks_figures("What salary does a junior get?", texts + ["Juniors often start near $90,000."])
    assert not lacks_figures("How much maths do I need?", texts)  # "how much" alone is not about money
    assert lacks_figures("How do I negotiate stock options and a signing bonus?", texts)  # pay, if not a salary


def test_the_rerank_promotes_a_passage_whose_best_sentence_leads():
    from assistant.retrieve import rerank

    # 12 is 3rd fused but 1st by sentence: 1/8 + 1.5/6 = 0.375 beats 11 (1/7 + 1.5/7 = 0.357) and
    # 10 (1/6 + 1.5/8 = 0.354).
    order = [10, 11, 12]
    best = {10: 0.30, 11: 0.35, 12: 0.80}
    assert rerank(order, best, weight=1.5, rrf_k=5) == [12, 11, 10]
    assert rerank(order, best, weight=0.0, rrf_k=5) == order


BACKGROUND = (
    "I managed building projects for ten years, with budgets, clients and stubborn engineers. I'm learning "
    "Python in the evenings and I love it. My worry is that everyone online talks only about code, models and maths."
)


def test_a_long_message_is_also_searched_by_the_sentences_that_ask():
    from assistant.retrieve import asking_sentences

    ask = "Do people skills like mine count for anything in ML engineering?"
    assert asking_sentences(f"{BACKGROUND} {ask}") == ask
    assert asking_sentences(f"I manage projects. {ask}") == ""  # short: its asking sentence leans on the rest
    assert asking_sentences(f"{BACKGROUND} {BACKGROUND}") == ""  # nothing asks
    assert asking_sentences(f"{ask} {ask} {ask} {ask}") == ""  # every sentence asks: no narrower question


def test_fusion_weighs_the_asking_sentences_rankings_like_the_whole_messages():
    from dataclasses import replace

    from assistant.retrieve import Rankings, fuse

    whole = Rankings(query="q", vector=None, dense=[(1, 0.9), (2, 0.8)], bm25=[1, 2], best_cosine=0.9, cosine={}, asked={1: 0.8, 2: 0.7})
    assert fuse(whole, 1.0, 1.0, 5, 1.0) == [1, 2]
    # Passage 2 is 2nd for the whole message and 1st for its asking sentence: 3/7 + 3/6 beats 1's 3/6.
    focused = replace(whole, focus=([(2, 0.7), (3, 0.6)], [2, 3], {2: 0.7, 3: 0.6}))
    assert fuse(focused, 1.0, 1.0, 5, 1.0) == [2, 1, 3]


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
    from assistant.retrieve import asks_for_writing

    assert asks_for_writing(question) is writing
