"""Follow-ups: which questions may lean on the one before, and when the context is kept (pure logic)."""

from __future__ import annotations

import pytest

from assistant.followup import may_lean_on, points_back, prefer_context, previous_question, with_context


@pytest.mark.parametrize(
    "question, leans",
    [
        ("Which frameworks?", True),
        ("and how long does that take?", True),
        ("what about the behavioural part?", True),
        ("Do I need it for that?", True),
        ("How should I structure an answer in an ML system design interview?", False),
        ("Is it worth doing a master's for machine learning engineering?", False),
        ("Is it normal to want to give up after dozens of rejections?", False),
        ("What is MLOps?", False),  # short, but a whole question
        ("Does it matter for deep learning too?", True),
        ("Is Kaggle worth it?", False),
    ],
)
def test_only_short_continuing_or_pointing_questions_may_lean_on_the_one_before(question, leans):
    assert may_lean_on(question) is leans


def test_the_context_is_the_earlier_questions_subject_words():
    assert with_context("Which frameworks?", "What do I need for deep learning?") == "Which frameworks? deep learning"


def test_only_user_turns_are_context():
    history = [{"role": "user", "content": "Tell me about Kubernetes"}, {"role": "assistant", "content": "Docker images [1]."}]
    assert previous_question(history) == "Tell me about Kubernetes"
    assert previous_question(["What is MLOps?", "   "]) == "What is MLOps?"
    assert previous_question(None) == ""


def test_the_context_is_kept_only_when_it_changes_what_is_found_and_the_evidence_says_so():
    assert prefer_context(alone=0.30, joined=0.60, threshold=0.35)  # not answerable alone, answerable with it
    assert prefer_context(alone=0.55, joined=0.66, threshold=0.35)
    assert not prefer_context(alone=0.55, joined=0.57, threshold=0.35)  # no clear gain: read alone
    assert not prefer_context(alone=0.75, joined=0.90, threshold=0.35)  # close enough alone: read alone
    assert not prefer_context(alone=0.20, joined=0.30, threshold=0.35)  # neither answers
    assert prefer_context(alone=0.59, joined=0.56, threshold=0.35, leans=True)  # "Which framework for that?"
    assert not prefer_context(alone=0.40, joined=0.70, threshold=0.35, leans=True, same_first=True)  # adds nothing


def test_a_question_points_back_when_it_names_nothing_it_refers_to():
    assert points_back("Which Python framework do people use for that?") and points_back("What about the first one?")
    assert not points_back("Is it worth doing a master's?") and not points_back("Is Kaggle worth it?")
