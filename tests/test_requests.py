"""What a question asks for, from its words alone: writing, review, figures, law, another role, a language."""

from __future__ import annotations

import pytest

from assistant import requests
from assistant.vocabulary import Vocabulary

ROLES = Vocabulary(roles=frozenset({"machine learning engineer", "ml engineer", "mle", "ai engineer"}))


@pytest.mark.parametrize(
    "question, writing",
    [
        ("Write me a Python script that scrapes job listings.", True),
        ("Can you draft a cover letter for a junior ML role?", True),
        ("please translate my LinkedIn headline into German", True),
        ("Make me a 12-week study timetable for PyTorch.", True),
        ("Turn this into a STAR answer: I deployed a model that broke checkout and rolled it back.", True),
        ("Give me 10 LinkedIn headline options for a career changer going into AI.", True),
        ("How do I turn a notebook into a package?", False),
        ("How do I write clean, testable ML code?", False),
        ("What should a cover letter for an ML job say?", False),
        ("Explain what a feature store is in simple terms.", False),
        ("List the main things an ML engineer is responsible for.", False),
        ("Make my model faster?", False),
    ],
)
def test_a_request_to_write_something_is_told_from_a_question(question, writing):
    assert requests.asks_for_writing(question) is writing


@pytest.mark.parametrize(
    "question, review",
    [
        ("Can you look at my GitHub and tell me if my projects are good enough?", True),
        ("Here's my CV summary: data analyst, 3 years of SQL. What do you think?", True),
        ("Honestly, what are my chances of getting an ML job at 45?", True),
        ("Is my Kaggle profile good enough for a junior ML role?", True),
        ("Could you check my take-home solution before I submit it?", True),
        ("Here's the README for my churn prediction project. Can you give me feedback on it?", True),
        ("I wrote a cover letter for an MLE role. Can you proofread it? 'Dear hiring team, ...'", True),
        ("here's my sql query, why is it slow? SELECT * FROM orders", True),
        ("0 callbacks from 40 applications. What's wrong with my CV?", True),
        ("Does my cover letter opening sound too generic? 'I am writing to express my strong interest'", True),
        ("Does the badge wall on my GitHub profile README look unprofessional?", True),
        ("Here's the README from my take-home. Can you grade it out of 10?", True),
        ("Does my CV need a summary section?", False),
        ("How should I critique a paper I read for a reading group?", False),
        ("How should I check my model for data leakage?", False),
        ("How do I make my portfolio stand out?", False),
        ("Should my CV list Kaggle competitions?", False),
        ("What makes a good portfolio project?", False),
    ],
)
def test_a_request_to_judge_the_readers_own_work_is_told_from_advice(question, review):
    assert requests.asks_for_review(question) is review


@pytest.mark.parametrize(
    "question, figures",
    [
        ("What salary does a junior ML engineer get?", True),
        ("How much does Colab Pro cost per month?", True),
        ("What hourly rate should I charge as a freelancer?", True),
        ("How much do ML engineers make in Berlin?", True),
        ("What's the pay range for research scientists with a PhD?", True),
        ("How much maths do I need?", False),
        ("Is a paid course worth the money?", False),
        ("How much data do I need to train a model?", False),
    ],
)
def test_a_question_about_pay_or_prices_is_told_from_one_that_says_how_much(question, figures):
    assert requests.asks_for_figures(question) is figures


@pytest.mark.parametrize(
    "question, names",
    [
        ("Does Jane Street hire ML people from non-finance backgrounds?", ["Jane Street"]),
        ("What's OpenAI's interview process for research engineers like?", ["OpenAI"]),
        ("Is the Netflix 'keeper test' culture real for people on their ML platform team?", ["Netflix"]),
        ("Can ML engineers at Spotify work fully remote?", ["Spotify"]),
        ("I have an onsite loop next month with Netflix for an ML platform role.", ["Netflix"]),
        ("How do I prepare for ML interviews at a start-up?", []),
        ("I'm a new grad in Bangalore interviewing at a 15-person fintech.", []),  # a place, not an employer
        ("My job at Accenture involves a lot of Excel. How do I move into ML?", []),  # where the asker works
    ],
)
def test_a_question_about_a_particular_employer_is_told_from_one_that_names_where_the_asker_works(question, names):
    assert requests.employer_names(question) == names


def test_visas_contracts_and_tax_are_legal_questions():
    assert requests.asks_for_legal("Will a UK company sponsor my work visa?")
    assert requests.asks_for_legal("Is a 12-month non-compete clause enforceable?")
    assert requests.asks_for_legal("Should I set up a limited company because of IR35?")
    assert not requests.asks_for_legal("Why should ML engineers care about ethics?")


@pytest.mark.parametrize(
    "question, role",
    [
        ("How do I become a UX designer for AI products?", "UX designer"),
        ("What's the roadmap to become a cybersecurity analyst?", "cybersecurity analyst"),
        ("How can I become an AI product manager?", "AI product manager"),
        ("What's the difference between an SRE and a DevOps engineer?", "SRE"),
        ("Can a data analyst become an ML engineer?", ""),
        ("I'm a data analyst; what should I learn for ML?", ""),
        ("How is an ML engineer different from a data engineer?", ""),
        ("How do I become an NLP engineer?", ""),
        ("What should I put on my GitHub so that recruiters take my projects seriously?", ""),
        ("My team lead says my notebook is not production-ready. Why?", ""),
        ("MLOps vs DevOps?", ""),
        ("How do I switch from software engineering to product manager at a tech company?", "product manager"),
        ("How do I move from data analyst to ML engineer?", ""),
        # A role the asker says they do not want is not the one they ask about.
        ("I'm an SRE with zero interest in becoming a data scientist. Which ML role values infrastructure skills?", ""),
        ("I don't want to become a data scientist; which ML role fits a backend developer?", ""),
    ],
)
def test_a_question_about_entering_another_role_is_told_from_one_about_ours(question, role):
    assert requests.other_role(question, ROLES)[0] == role


def test_a_role_taken_on_the_way_to_ml_or_named_as_background_is_not_another_role():
    assert requests.other_role("Should I become a data analyst first, then move into ML?", ROLES) == ("", False)
    assert requests.other_role("I work as a backend developer; how do I switch into machine learning?", ROLES) == ("", False)
    assert requests.other_role("How do I write a cover letter for a teaching job?", ROLES) == ("teaching job", True)


def test_the_askers_own_job_and_a_program_that_runs_are_not_roles_to_enter():
    own = "Just started my first job as a junior data analyst at a law firm. What should I check before using ChatGPT at work?"
    assert requests.other_role(own, ROLES) == ("", False)
    assert requests.other_role("Should my churn scores be computed in a nightly batch job or served live?", ROLES) == ("", False)
    assert requests.other_role("How do I become a data engineer? I've used SQL for years, should I learn Kafka first?", ROLES)[0] == "data engineer"


def test_named_certificates_and_courses_are_found_with_the_text_they_were_typed_as():
    assert requests.credential_spans("Is NVIDIA's 'Fundamentals of Deep Learning' course free?") == [
        ("Fundamentals of Deep Learning course", "Fundamentals of Deep Learning' course")
    ]
    assert requests.named_credentials("Is the Google Professional Machine Learning Engineer certification worth it?") == [
        "Google Professional Machine Learning Engineer certification"
    ]
    assert requests.named_credentials("Are cloud certifications worth it?") == []


ENGLISH = frozenset("what is data leakage the difference between a and how do i become machine learning engineer".split())


@pytest.mark.parametrize(
    "question, english",
    [
        ("What is data leakage?", True),
        ("LangChain or LlamaIndex?", True),  # too short to tell: names, not a language
        ("¿Cuál es la diferencia entre un científico de datos y un ingeniero de machine learning?", False),
        ("Brauche ich einen Doktortitel, um als Machine-Learning-Ingenieur zu arbeiten?", False),
        ("ML engineer banne ke liye kya seekhna chahiye?", False),
        ("机器学习工程师的面试一般有哪些环节？", False),
    ],
)
def test_a_question_in_another_language_is_recognised(question, english):
    assert requests.looks_english(question, ENGLISH.__contains__) is english
