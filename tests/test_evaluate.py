"""Answer quality as numbers: the labelled set through the real pipeline, floors asserted.

The floors are the targets measured on the held-out ("test") half of tests/data/questions.jsonl; the
defaults were chosen on the other half (bench/tune.py, docs/evaluation.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, REPO

from assistant.evaluate import evaluate, halves, load_cases, retrieval_metrics

QUESTIONS = DATA / "questions.jsonl"


@pytest.fixture(scope="module")
def held_out(bot):
    return evaluate(bot, load_cases(QUESTIONS, "test"))


def test_metrics_of_a_single_ranking():
    m = retrieval_metrics(["x", "a", "b"], ("a", "b"))
    assert m["hit@1"] == 0.0 and m["hit@5"] == 1.0 and m["mrr@10"] == 0.5
    assert 0 < m["ndcg@5"] < 1


def test_the_split_is_stratified_and_stable():
    cases = load_cases(QUESTIONS)
    half = halves(cases)
    assert half == halves(list(reversed(cases)))
    for kind in {c.type for c in cases}:
        n_tune = sum(1 for c in cases if c.type == kind and half[c.id] == "tune")
        n_test = sum(1 for c in cases if c.type == kind and half[c.id] == "test")
        assert abs(n_tune - n_test) <= 1


def test_hybrid_retrieval_meets_its_floors_and_beats_both_single_rankings(held_out):
    hybrid, dense, bm25 = (held_out["modes"][m] for m in ("hybrid", "dense", "bm25"))
    assert hybrid["hit@5"] >= 0.95 and hybrid["mrr@10"] >= 0.85
    assert hybrid["mrr@10"] > dense["mrr@10"] and hybrid["mrr@10"] > bm25["mrr@10"]
    assert hybrid["hit@5"] > dense["hit@5"] and hybrid["hit@5"] > bm25["hit@5"]


def test_every_citation_resolves_and_answers_cite_an_expected_document(held_out):
    assert held_out["answers"]["citations_resolve"] == 1.0
    # An answer now quotes about one passage, not three: one from a document the label does not list (a
    # newer note that also answers, or a wrong section) counts against it. Measured 0.906.
    assert held_out["answers"]["citation_validity"] >= 0.88


def test_out_of_scope_questions_are_abstained_on(held_out):
    assert held_out["answers"]["abstention_precision"] >= 0.85
    assert held_out["answers"]["abstention_recall"] >= 0.9


def test_answers_quote_what_answers_make_their_points_and_rarely_refuse(held_out):
    reader = held_out["reader"]  # measured: precision 0.838, point recall 0.790, 2 of 98 refused
    assert reader["answer_precision"] >= 0.8
    assert reader["point_recall"] >= 0.75
    assert reader["false_refusal_rate"] <= 0.03
    assert reader["sources_per_answer"] < 1.5  # a second passage only for a part the first does not answer


def test_an_unrelated_second_question_is_answered_as_in_a_new_chat_and_follow_ups_find_their_subject(bot):
    from assistant.evaluate import evaluate_special

    report = evaluate_special(bot, load_cases(DATA / "conversations.jsonl"), "conversations")
    assert report["unrelated"] >= 20 and report["followups"] >= 20
    assert report["unrelated_as_new_chat"] >= 0.95  # measured 0.958 (23 of 24)
    assert report["followup_hit@5"] >= 0.9  # measured 0.95


def test_follow_ups_messily_typed_and_plain_language_questions_find_the_right_documents(held_out):
    by_type = held_out["by_type"]
    assert by_type["followup"]["hit@5"] >= 0.9
    messy = [by_type[kind] for kind in ("short", "typo", "long", "lowercase")]
    hits = sum(t["hit@5"] * t["n"] for t in messy) / sum(t["n"] for t in messy)
    assert hits >= 0.9
    # Plain-language questions, written apart by someone who read only the corpus.
    assert by_type["plain"]["hit@5"] >= 0.9


@pytest.mark.parametrize("name", ["blind.jsonl", "blind-refusals.jsonl"])
def test_blind_sets_written_after_the_defaults_find_cite_and_refuse_nearly_as_well(bot, name):
    # Written by helpers who read only corpus/ (docs/evaluation.md says what was changed after reading
    # them). Retrieval and citations must meet the targets; abstention recall is below its 0.9 target on
    # these sets (near-miss questions on topics the corpus only names), so its floors guard against
    # regression, not for the target.
    report = evaluate(bot, load_cases(DATA / name), modes=("hybrid",))
    assert report["modes"]["hybrid"]["hit@5"] >= 0.95 and report["modes"]["hybrid"]["mrr@10"] >= 0.9
    assert report["answers"]["citations_resolve"] == 1.0
    assert report["answers"]["citation_validity"] >= 0.75  # measured 0.893 and 0.808 (one passage quoted, see above)
    assert report["answers"]["abstention_precision"] >= 0.8 and report["answers"]["abstention_recall"] >= 0.75


def test_eval_command_prints_json_and_saves_the_threshold_plot(real_settings, tmp_path):
    env = {
        **os.environ,
        "ASSISTANT_CORPUS_DIR": str(real_settings.corpus_dir),
        "ASSISTANT_INDEX_DIR": str(real_settings.index_dir),
        "ASSISTANT_STATE_DIR": str(tmp_path / "state"),
    }
    plot = tmp_path / "threshold.png"
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "eval", "--json", "--plot", str(plot), "--split", "test"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["modes"]) == {"hybrid", "dense", "bm25"}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "state" / "gaps.jsonl").exists()  # evaluation does not pollute the gaps log


def test_a_malformed_question_file_is_one_clear_error(tmp_path):
    from assistant.errors import InputError

    bad = Path(tmp_path / "q.jsonl")
    bad.write_text('{"id": "x"}\n')
    with pytest.raises(InputError, match="q.jsonl:1"):
        load_cases(bad)


# ------------------------------------------------------------------------------------------ reader sets
# Written blind, before tuning, by helpers that read only corpus/ and public sources of real questions
# (tests/data/reader/SOURCES-*.md). The dev sets (dev to dev6) were tuned on; the report sets never were (older ones
# served later rounds as checks that nothing got worse), and
# their figures are the ones docs/evaluation.md reports. Floors sit just under the figures measured at the
# end of the 2026-12-01 work, so a change that makes a reader's answers worse fails here.
READER = DATA / "reader"


@pytest.mark.parametrize(
    ("name", "precision", "false_refusals"),
    [
        ("answers-report.jsonl", 0.78, 0.07), ("answers-dev.jsonl", 0.95, 0.01), ("answers-dev2.jsonl", 0.95, 0.0),
        ("answers-dev3.jsonl", 0.0, 0.02), ("answers-report2.jsonl", 0.8, 0.08), ("answers-report4.jsonl", 0.8, 0.08),
    ],  # fmt: skip
)
def test_reader_sets_are_answered_from_the_sections_that_answer_them(bot, name, precision, false_refusals):
    report = evaluate(bot, load_cases(READER / name), modes=("hybrid",))
    assert report["modes"]["hybrid"]["hit@5"] >= 0.97  # measured 0.991, 1.000, 1.000
    assert report["answers"]["citations_resolve"] == 1.0
    reader = report["reader"]
    assert reader["false_refusal_rate"] <= false_refusals  # measured 0.026, 0, 0, 0, 0.075, 0.075
    assert reader["sources_per_answer"] < 1.5
    if precision:  # dev2 and dev3 have no labelled sections
        assert reader["answer_precision"] >= precision  # measured 0.822, 0.969, 0.994, 0.824, 0.814


@pytest.mark.parametrize("name", ["conversations-report.jsonl", "conversations-dev.jsonl"])
def test_reader_conversations_answer_unrelated_questions_as_new_and_find_follow_ups(bot, name):
    from assistant.evaluate import evaluate_special

    report = evaluate_special(bot, load_cases(READER / name), "conversations")
    assert report["unrelated_as_new_chat"] == 1.0  # measured 25 of 25 in both
    assert report["followup_hit@5"] >= 0.95  # measured 20 of 20 in both


@pytest.mark.parametrize(
    ("name", "floor"),
    [
        ("refusals-report.jsonl", 0.75), ("refusals-dev.jsonl", 0.93), ("refusals-dev2.jsonl", 0.88), ("refusals-dev4.jsonl", 0.93),
        ("refusals-report2.jsonl", 0.86), ("refusals-dev5.jsonl", 0.91), ("refusals-report3.jsonl", 0.9),
    ],  # fmt: skip
)
def test_reader_near_domain_questions_are_refused(bot, name, floor):
    from assistant.evaluate import evaluate_special

    report = evaluate_special(bot, load_cases(READER / name), "refusals")
    assert report["near_domain_abstention"] >= floor  # measured 0.778, 0.953, 0.917, 0.964, 0.881, 0.917, 0.905
    off_topic_floor = {"refusals-dev.jsonl": 0.8, "refusals-dev4.jsonl": 0.85, "refusals-dev5.jsonl": 0.85, "refusals-report3.jsonl": 0.7}.get(name, 1.0)
    assert report["off_topic_abstention"] >= off_topic_floor  # 8/8, 5/6, 6/6, 6/7, 7/7, 6/7, 5/7


@pytest.mark.parametrize(
    ("name", "floor"),
    [
        ("variants-report.jsonl", 0.88), ("variants-dev.jsonl", 0.82), ("variants-dev2.jsonl", 0.92), ("variants-report2.jsonl", 0.96),
        ("variants-dev5.jsonl", 0.94), ("variants-report3.jsonl", 0.9),
    ],  # fmt: skip
)
def test_reader_variants_are_answered_like_their_carefully_typed_twins(bot, name, floor):
    from assistant.evaluate import evaluate_special

    report = evaluate_special(bot, load_cases(READER / name), "variants")
    assert report["like_twin"] >= floor  # measured 0.900, 0.844, 0.938, 1.000, 0.946, 0.911
    # The fourth round's sets keep a few variants the sources cannot read ("aviod a suprise cloud bil").
    assert report["variant_refusals"] <= {"variants-dev5.jsonl": 1, "variants-report3.jsonl": 3}.get(name, 0)
    assert report["twin_refusals"] == 0
