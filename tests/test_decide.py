"""Deciding whether the corpus answers: one case per reason, through the real model and the real corpus."""

from __future__ import annotations

import pytest
from conftest import make_settings

from assistant.decide import HEADLINES, Reason


@pytest.mark.parametrize(
    "question, reason, says",
    [
        ("¿Cuál es la diferencia entre un científico de datos y un ingeniero de machine learning?", Reason.NOT_ENGLISH, "in English"),
        ("Can you write me a cover letter for a junior ML engineer job?", Reason.WRITING, "cannot write"),
        ("Here's my GitHub: are my projects good enough to get hired?", Reason.REVIEW, "cannot see or assess"),
        ("What salary can a junior ML engineer expect in Berlin?", Reason.FIGURES, "no salary or price figures"),
        ("How do I become a UX designer?", Reason.OTHER_ROLE, "how to become a UX designer"),
        # Other roles compared: the sentence says what the sources lack, not that the question asks to enter one.
        ("What's the difference between an SRE and a DevOps engineer?", Reason.OTHER_ROLE, "do not describe the work of an SRE"),
        ("Can I get a work visa to do ML in Canada?", Reason.OFF_SUBJECT, "not legal, visa"),
        ("What's a good sourdough bread recipe?", Reason.OFF_SUBJECT, "Nothing in the sources"),
        ("Do ML engineers at Netflix get unlimited vacation?", Reason.EMPLOYER, "not Netflix in particular"),
        ("Does Jane Street hire ML people from non-finance backgrounds?", Reason.EMPLOYER, "not Jane Street in particular"),
        ("Applying at Shopify: where are the postings?", Reason.NOT_MENTIONED, "Shopify"),
        ("Should I learn LangChain or LlamaIndex?", Reason.NOT_MENTIONED, "langchain"),
        ("What qualifications does a chef need?", Reason.NOT_MENTIONED, "chef"),
        ("Is the TensorFlow Developer Certificate still a thing? I heard Google stopped offering it.", Reason.NOT_MENTIONED, "TensorFlow Developer Certificate"),
        # A long message that turns on names no passage mentions, weighed together.
        ("Which laptop should I buy for an ML master's: a Lenovo Legion Pro 5 or an ASUS ROG Zephyrus G14? Budget is tight.", Reason.NOT_MENTIONED, "Zephyrus"),
        ("is the fast.ai practical deep learning course still up to date?", Reason.NOT_MENTIONED, "fast.ai"),
        ("Est-ce que les maths sont vraiment indispensables pour devenir ingénieur en machine learning ?", Reason.NOT_ENGLISH, "in English"),
    ],
)
def test_each_reason_refuses_with_its_headline_and_one_true_sentence(bot, question, reason, says):
    answer = bot.ask(question, log_gaps=False)
    assert answer.abstained and not answer.sources
    assert answer.reason == reason.value
    assert answer.text == HEADLINES[reason]
    assert says.lower() in answer.note.lower()


@pytest.mark.parametrize(
    "question",
    [
        "What is an MLE?",  # the abbreviation of the job itself, from the vocabulary
        "WHAT DOES A MACHINE LEARNING ENGINEER DO",
        "whats the diffrence between precision and recall",
        "How Do I Prepare For An ML System Design Interview?",
        "Do I need a Ph.D. to work as an ML engineer?",
        "Can a data analyst become an ML engineer?",  # names another role, but ours is the goal
        "Is Python enough, or should I learn C++ too?",  # names the corpus writes with a capital
        "What is an embedding, in plain English?",
        "I'm a SWE with 5 YOE. How do I move into ML?",  # abbreviations from the vocabulary
        "When shuold I retrain a model becuase of drift?",  # swapped letters in everyday words
        "Should I use DVC or Git LFS for my datasets, or is it fine to just commit the CSVs to GitHub?",  # a plural
        "Just started my first job as a junior data analyst. What should I check before pasting work data into ChatGPT?",
        "does blogging about projects help?",
        "Which ML-specific things should a code review check?",  # a compound of known words, however capitalised
        "What does an ML engineer need to agree with the product manager before a project starts?",  # a role named, not entered
        "Is LeetCode grinding necessary for ML engineer interviews at places like Meta?",  # a name given as an example
        "I've got an ML offer from a big insurer. How will the work differ from ML at a Meta or Google?",  # kinds of company
        "How should I eval an LLM app? Is LLM-as-a-judge reliable enough on its own?",  # a compound with small words
        "my loss sometimes explodes and other times barely moves. what's going on under the hood",  # "exploding" in the corpus
        "train acc 99%, val acc 70%... whats going on and how do i fix it",  # abbreviations from the vocabulary
        "I'm on a student visa and have sent 120 applications since May with three phone screens and no offers. "
        "Should I keep going the same way, or look at other kinds of roles?",  # the visa is background, not the question  # "blogging" stems to "blogg"; the corpus has "blog"
        "Do I need to grind LeetCode-style algorithm problems for ML engineer coding rounds?",
        # Names in the background of a long message are not what it asks ("Manila", "Tableau").
        "I've been a marketing data analyst at an e-commerce company in Manila for four years, mostly SQL and Tableau. "
        "Which of my skills count towards an ML engineer role, and what do I need to add?",
        # A programme named in passing in a long message is not what the question turns on.
        "I'm a marketing coordinator with no tech background. A bootcamp is offering a 16-week 'AI Engineer' programme "
        "for a lot of money and advertises a high job placement rate. How do I figure out whether a bootcamp is worth it?",
    ],
)
def test_questions_the_corpus_answers_are_answered_however_they_are_typed(bot, question):
    answer = bot.ask(question, log_gaps=False)
    assert not answer.abstained, answer.note
    assert answer.reason == "answered" and answer.sources


def test_suggestions_are_questions_the_corpus_answers_near_the_refused_one(bot):
    answer = bot.ask("Can you write me a cover letter for a junior ML engineer job?", log_gaps=False)
    assert answer.suggestions and all(s.endswith("?") for s in answer.suggestions)
    assert any("CV" in s or "résumé" in s for s in answer.suggestions)  # tailoring a CV is what the corpus offers
    assert bot.ask("What's a good sourdough bread recipe?", log_gaps=False).suggestions == ()  # nothing near helps


def test_the_figures_sentence_is_true_of_a_corpus_that_gives_some_figures(tmp_path, embedder):
    from assistant import Assistant

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "pay.md").write_text(
        "# Pay\n\n## What do junior engineers earn?\n\nJunior machine learning engineers in the example company earn "
        "about $90,000 a year, while interns earn less and seniors considerably more, depending on the city.\n"
    )
    bot = Assistant.load(settings=make_settings(tmp_path), embedder=embedder)
    answered = bot.ask("What do junior machine learning engineers earn?", log_gaps=False)
    assert not answered.abstained and "$90,000" in answered.text
    refused = bot.ask("How much does a GPU cost per hour to rent?", log_gaps=False)
    assert refused.abstained and "any role, place or product" not in refused.note
