"""The maintainer's logs: unanswered questions (gaps) and feedback, kept by the state store (SQLite in the
state folder here; PostgreSQL when a database URL is set), and the words recurring in refused questions."""

from __future__ import annotations

import json

from assistant import logs
from assistant.config import Settings


def test_append_gap_keeps_question_reason_and_time_in_the_store_under_state_dir(tmp_path):
    state = tmp_path / "state" / "nested"
    logs.append_gap(state, "How do I bake bread?")
    logs.append_gap(state, "Qu'est-ce qu'un réseau de neurones ? 🤖", reason="no-index")
    records = logs.gaps(state)
    assert [r["question"] for r in records] == ["How do I bake bread?", "Qu'est-ce qu'un réseau de neurones ? 🤖"]
    assert [r["reason"] for r in records] == ["abstained", "no-index"]
    assert all(set(r) == {"time", "question", "reason"} for r in records)
    assert all(r["time"].endswith("Z") and "T" in r["time"] for r in records)
    assert (state / "assistant.db").is_file()


def test_nothing_but_the_database_is_written_in_the_state_folder(tmp_path):
    settings = Settings(state_dir=tmp_path / "state")
    logs.append_gap(settings, "How do I bake bread?")
    logs.append_feedback(settings, "What is MLOps?", "MLOps is ...", ["a"], 0)
    assert sorted(p.name for p in (tmp_path / "state").iterdir() if not p.name.startswith("assistant.db")) == []
    assert [r["reason"] for r in logs.gaps(settings)] == ["abstained", "thumbs-down"]


def test_long_questions_are_cut_in_the_log(tmp_path):
    logs.append_gap(tmp_path, "x" * 5000)
    assert len(logs.gaps(tmp_path)[0]["question"]) == 500


def test_append_feedback_keeps_question_answer_sources_and_score(tmp_path):
    logs.append_feedback(tmp_path, "What is MLOps?", "MLOps is ...", ["abc123", "def456"], 1)
    records = logs.feedback(tmp_path)
    assert len(records) == 1
    r = records[0]
    assert (r["question"], r["answer"], r["sources"], r["score"]) == ("What is MLOps?", "MLOps is ...", ["abc123", "def456"], 1)
    assert logs.gaps(tmp_path) == []  # a thumbs-up is not a gap


def test_thumbs_down_also_logs_a_gap(tmp_path):
    logs.append_feedback(tmp_path, "How do I get promoted?", "Unhelpful answer", ["p1"], 0)
    assert logs.feedback(tmp_path)[0]["score"] == 0
    gaps = logs.gaps(tmp_path)
    assert len(gaps) == 1
    assert gaps[0]["question"] == "How do I get promoted?"
    assert gaps[0]["reason"] == "thumbs-down"


def test_gap_groups_group_similar_questions_with_counts_biggest_first(tmp_path):
    for q in [
        "What salary does an ML engineer earn?",
        "How do I bake sourdough bread?",
        "What salary does an ML engineer earn?",
        "What salary do ML engineers earn?",
        "How to bake sourdough bread",
        "What is the capital of Australia?",
        "What salary does an ML engineer earn?",
    ]:
        logs.append_gap(tmp_path, q)
    groups = logs.gap_groups(tmp_path)
    assert [g["count"] for g in groups] == [4, 2, 1]
    salary, bread, capital = groups
    assert salary["question"] == "What salary does an ML engineer earn?"  # the most asked wording represents
    assert set(salary["questions"]) == {"What salary does an ML engineer earn?", "What salary do ML engineers earn?"}
    assert set(bread["questions"]) == {"How do I bake sourdough bread?", "How to bake sourdough bread"}
    assert capital["questions"] == ["What is the capital of Australia?"]
    assert all(g["last"] for g in groups)
    assert sum(g["count"] for g in groups) == 7


def test_gap_groups_of_an_empty_state_dir_is_empty_and_reading_creates_nothing(tmp_path):
    assert logs.gap_groups(tmp_path / "never-written") == []
    assert logs.gaps(tmp_path / "never-written") == []
    assert logs.feedback(tmp_path / "never-written") == []
    assert not (tmp_path / "never-written").exists()


def test_an_old_log_with_corrupted_lines_is_imported_with_the_rest_kept(tmp_path):
    from datetime import UTC, datetime

    today = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
    with (tmp_path / "gaps.jsonl").open("w", encoding="utf-8") as fh:
        fh.write(json.dumps({"time": today, "question": "What does an ML engineer do?", "reason": "abstained"}) + "\n")
        fh.write('{"time": "2026-01-01T00:00:00Z", "question": "cut off by a cra\n')  # a crash mid-line
        fh.write("not json at all\n")
        fh.write("[1, 2, 3]\n")
        fh.write('{"question": 42}\n')
    with (tmp_path / "gaps.jsonl").open("ab") as fh:
        fh.write(b"\xff\xfe broken bytes\n")
    logs.append_gap(tmp_path, "What does an ML engineer do all day?")  # opens the store: the old file is imported
    records = logs.gaps(tmp_path)
    assert [r["question"] for r in records] == ["What does an ML engineer do?", "What does an ML engineer do all day?"]
    assert records[0]["time"] == today
    groups = logs.gap_groups(tmp_path)
    assert sum(g["count"] for g in groups) == 2
    assert (tmp_path / "gaps.jsonl.imported").is_file()


def test_gap_groups_keep_questions_without_content_words_apart(tmp_path):
    for q in ["?", "why?", "why?"]:
        logs.append_gap(tmp_path, q)
    groups = logs.gap_groups(tmp_path)
    assert [g["count"] for g in groups] == [2, 1]
    assert {q for g in groups for q in g["questions"]} == {"?", "why?"}


def test_words_recurring_in_refused_questions_that_nothing_knows_are_candidates_for_the_vocabulary():
    from assistant.logs import candidate_terms

    questions = ["what is an MLE?", "MLE salary in Berlin", "is an mle a swe", "what is a chef"]
    terms = candidate_terms(questions, knows={"salary", "swe", "chef"}.__contains__)
    assert terms == [{"term": "mle", "count": 3}]  # "berlin" once only: not yet a pattern


def test_the_logs_go_to_postgresql_when_a_database_url_is_set(tmp_path, postgres_server):
    settings = Settings(state_dir=tmp_path / "state", database_url=postgres_server)
    question = f"What is a feature store? ({tmp_path.name})"  # the server's default database is shared
    logs.append_feedback(settings, question, "Unhelpful", ["p1"], 0)
    assert any(g["question"] == question for g in logs.gap_groups(settings))
    assert any(r["question"] == question and r["score"] == 0 for r in logs.feedback(settings))
    assert not (tmp_path / "state").exists()  # nothing written in the state folder
