"""Reader measures on hand-made answers (pure logic)."""

from __future__ import annotations

from assistant.answer import Answer
from assistant.evaluate import Case
from assistant.quality import (
    answer_measures,
    conversation_measures,
    family_measures,
    points_made,
    quoted_units,
    relevant_units,
    variant_measures,
)
from assistant.retrieve import Source


def src(i: int, heading: str, doc: str = "notes/a.md") -> Source:
    return Source(f"id{i}", doc, "Title", heading, "text", 0.6)


def case(**fields) -> Case:
    base = {"id": "c", "question": "q", "expected": ("notes/a.md",), "type": "direct"}
    return Case(**{**base, **fields})


ANSWER = Answer(
    "q", "It takes about a year [1]. Portfolios matter [2].\n\n- Python [1]", (src(1, "How long?"), src(2, "Other › Portfolios")), False
)


def test_units_are_split_at_their_citations():
    assert quoted_units(ANSWER.text) == ["It takes about a year [1].", "Portfolios matter [2].", "- Python [1]"]


def test_precision_counts_units_from_labelled_sections_and_falls_back_to_documents():
    assert relevant_units(ANSWER, ("notes/a.md",), ("How long?",)) == (2, 3)
    assert relevant_units(ANSWER, ("notes/a.md",), ()) == (3, 3)


def test_a_point_is_made_by_any_of_its_alternatives():
    assert points_made(ANSWER.text, [["a year", "12 months"], ["portfolio"], ["mentor"]]) == (2, 3)


def test_answer_measures_count_refusals_apart():
    refused = Answer("q", "I don't know", (), True)
    m = answer_measures([(ANSWER, case(sections=("How long?",), points=(("a year",),))), (refused, case())])
    assert m["false_refusals"] == 1 and m["answer_precision"] == round(2 / 3, 4) and m["point_recall"] == 1.0


def test_an_unrelated_question_must_match_the_new_chat_answer_and_not_be_read_as_a_follow_up():
    same = Answer("q", "x [1].", (src(1, "h"),), False)
    followed = Answer("q", "x [1].", (src(1, "h"),), False, followup="earlier")
    rows = [(case(id="u1", kind="unrelated"), same, same), (case(id="u2", kind="unrelated"), followed, same)]
    m = conversation_measures(rows)
    assert m["unrelated_as_new_chat"] == 0.5 and m["misses"] == ["u2"]


def test_families_and_variants():
    yes, no = Answer("q", "I don't know", (), True), Answer("q", "x [1].", (src(1, "h"),), False)
    fam = family_measures([(case(id="a", family="pay", expected=()), yes), (case(id="b", family="off_topic", expected=()), no)])
    assert fam["near_domain_abstention"] == 1.0 and fam["off_topic_abstention"] == 0.0 and fam["answered"] == ["b"]
    var = variant_measures([(case(id="v", kind="abbreviation", twin="t"), no, no), (case(id="w", kind="all_caps", twin="t"), yes, no)])
    assert var["like_twin"] == 0.5 and var["variant_refusals"] == 1 and var["misses"] == ["w"]


def test_a_variant_citing_the_same_first_passage_with_another_score_is_like_its_twin():
    from dataclasses import replace

    twin = Answer("q", "x [1].", (src(1, "h"),), False)
    variant = Answer("q", "x [1].", (replace(src(1, "h"), score=0.41),), False)  # its own wording's similarity
    other = Answer("q", "y [1].", (src(2, "other"),), False)
    rows = [(case(id="v", kind="abbreviation", twin="t"), variant, twin), (case(id="w", kind="clipped", twin="t"), other, twin)]
    var = variant_measures(rows)
    assert var["like_twin"] == 0.5 and var["misses"] == ["w"]
