"""The command line, run as a user runs it: `python -m assistant ...` in a subprocess, real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO


def run(*args: str, env_extra: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env, cwd=cwd or REPO, timeout=300
    )


@pytest.fixture(scope="module")
def env(real_settings, tmp_path_factory):
    state = tmp_path_factory.mktemp("cli-state")
    return {
        "ASSISTANT_CORPUS_DIR": str(real_settings.corpus_dir),
        "ASSISTANT_INDEX_DIR": str(real_settings.index_dir),
        "ASSISTANT_STATE_DIR": str(state),
    }


def test_ask_json_answers_from_the_article_with_valid_citations(env):
    result = run("ask", "--json", "What skills do I need to become a machine learning engineer?", env_extra=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"question", "answer", "abstained", "reason", "note", "followup", "suggestions", "sources", "related"}
    assert data["abstained"] is False and data["reason"] == "answered"
    assert data["sources"][0]["doc"] == "how-to-become-a-machine-learning-engineer.md"
    numbers = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", data["answer"])}
    assert numbers == {s["n"] for s in data["sources"]}
    assert set(data["sources"][0]) == {"n", "id", "doc", "title", "heading", "text", "score"}


def test_ask_out_of_scope_abstains_in_json(env):
    result = run("ask", "--json", "What is the capital of Australia?", env_extra=env)
    data = json.loads(result.stdout)
    assert result.returncode == 0 and data["abstained"] is True and data["sources"] == []


def test_a_near_miss_question_is_refused_with_a_note_saying_what_is_missing(env):
    result = run("ask", "What qualifications does a chef need?", env_extra=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("I don't know from these sources: they never mention what this question turns on.")
    assert "Note: The sources never mention “chef”." in result.stdout
    assert "The sources do answer questions like these:" in result.stdout
    assert "Sources:" not in result.stdout


def test_empty_question_exits_2_with_one_line(env):
    result = run("ask", "   ", env_extra=env)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: the question is empty")
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_k_exits_2(env):
    result = run("ask", "-k", "0", "What is MLOps?", env_extra=env)
    assert result.returncode == 2 and "error:" in result.stderr and "Traceback" not in result.stderr


def test_help_does_not_import_torch():
    code = "import sys\nfrom assistant.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules, 'faiss' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.stdout.strip().endswith("False False"), result.stdout


def test_list_without_an_index_names_the_fix(tmp_path):
    result = run("list", env_extra={"ASSISTANT_INDEX_DIR": str(tmp_path / "none")})
    assert result.returncode == 1
    assert "python -m assistant index" in result.stderr and "Traceback" not in result.stderr


def test_corrupt_index_is_one_clear_message(tmp_path, real_settings):
    import shutil

    index = tmp_path / "index"
    shutil.copytree(real_settings.index_dir, index)
    gen = index / (index / "CURRENT").read_text().strip()
    (gen / "dense.faiss").write_bytes(b"garbage")
    result = run("ask", "What is MLOps?", env_extra={"ASSISTANT_INDEX_DIR": str(index), "ASSISTANT_STATE_DIR": str(tmp_path / "s")})
    assert result.returncode == 1
    assert "damaged" in result.stderr and "python -m assistant index" in result.stderr
    assert "Traceback" not in result.stderr


def test_index_add_list_remove_round_trip(tmp_path, copy_corpus):
    corpus = copy_corpus()
    env = {"ASSISTANT_CORPUS_DIR": str(corpus), "ASSISTANT_INDEX_DIR": str(tmp_path / "index"), "ASSISTANT_STATE_DIR": str(tmp_path / "s")}
    built = run("index", "--quiet", env_extra=env)
    assert built.returncode == 0, built.stderr
    note = tmp_path / "hiring-panels.md"
    note.write_text("# Hiring panels\n\nA hiring panel for zebra-stripe forecasting engineers asks candidates to explain stripe drift to managers.\n")
    added = run("add", str(note), env_extra=env)
    assert added.returncode == 0, added.stderr
    assert "added uploads/hiring-panels.md" in added.stdout
    listed = run("list", "--json", env_extra=env)
    assert "uploads/hiring-panels.md" in {row["doc"] for row in json.loads(listed.stdout)}
    answer = json.loads(run("ask", "--json", "What does a zebra-stripe forecasting hiring panel ask?", env_extra=env).stdout)
    assert answer["sources"][0]["doc"] == "uploads/hiring-panels.md"
    removed = run("remove", "uploads/hiring-panels.md", env_extra=env)
    assert removed.returncode == 0, removed.stderr
    listed = run("list", "--json", env_extra=env)
    assert "uploads/hiring-panels.md" not in {row["doc"] for row in json.loads(listed.stdout)}


def test_gaps_lists_abstained_questions(env):
    run("ask", "How long should I boil an egg?", env_extra=env)
    result = run("gaps", env_extra=env)
    assert result.returncode == 0 and "boil an egg" in result.stdout
    assert "<!-- asked:" in result.stdout  # how a maintainer teaches a section the reader's wording


def test_gaps_names_words_that_recur_in_refused_questions_as_vocabulary_candidates(env):
    for question in ("What does a zorblat engineer do?", "Is zorblat hard to learn?"):
        run("ask", question, env_extra=env)
    result = run("gaps", "--json", env_extra=env)
    assert result.returncode == 0, result.stderr
    terms = {t["term"]: t["count"] for t in json.loads(result.stdout)["candidate_terms"]}
    assert terms.get("zorblat") == 2
    assert "corpus/vocabulary.txt" in run("gaps", env_extra=env).stdout


def test_invalid_utf8_in_a_question_is_one_line_not_a_traceback(env):
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", b"What is \xff\xfe MLOps?"],
        capture_output=True, text=True, env={**os.environ, **env}, cwd=REPO, timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: the question contains invalid characters")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_invalid_utf8_in_a_document_name_is_one_line_not_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "remove", b"uploads/\xff.md"],
        capture_output=True, text=True, env={**os.environ, "ASSISTANT_CORPUS_DIR": str(tmp_path), "ASSISTANT_INDEX_DIR": str(tmp_path / "i")},
        cwd=REPO, timeout=300,
    )
    assert result.returncode == 2 and result.stderr.startswith("error: no document") and "Traceback" not in result.stderr


def test_list_calls_a_damaged_index_damaged_as_ask_does(tmp_path, real_settings):
    import shutil

    index = tmp_path / "index"
    shutil.copytree(real_settings.index_dir, index)
    gen = index / (index / "CURRENT").read_text().strip()
    env = {"ASSISTANT_INDEX_DIR": str(index), "ASSISTANT_STATE_DIR": str(tmp_path / "s")}
    for damage in ("manifest", "dense"):
        target = gen / ("manifest.json" if damage == "manifest" else "dense.faiss")
        saved = target.read_bytes()
        target.write_bytes(b"{not json" if damage == "manifest" else b"garbage")
        asked, listed = run("ask", "What is MLOps?", env_extra=env), run("list", env_extra=env)
        assert asked.returncode == listed.returncode == 1
        assert "damaged" in listed.stderr, listed.stderr  # was: "no index"
        assert listed.stderr == asked.stderr and "python -m assistant index" in listed.stderr
        target.write_bytes(saved)
    (index / "CURRENT").write_bytes(b"gen-\xff\n")
    listed = run("list", env_extra=env)
    assert listed.returncode == 1 and "CURRENT is damaged" in listed.stderr and "Traceback" not in listed.stderr


def test_index_with_a_missing_corpus_folder_fails_and_leaves_the_index_alone(tmp_path, real_settings):
    import shutil

    index = tmp_path / "index"
    shutil.copytree(real_settings.index_dir, index)
    before = (index / "CURRENT").read_text()
    result = run("index", env_extra={"ASSISTANT_CORPUS_DIR": str(tmp_path / "no-such-folder"), "ASSISTANT_INDEX_DIR": str(index)})
    assert result.returncode == 1, result.stdout  # was: "18 removed", an empty index and exit 0
    assert result.stderr.startswith("error: the corpus folder") and len(result.stderr.strip().splitlines()) == 1
    assert (index / "CURRENT").read_text() == before
    listed = run("list", "--json", env_extra={"ASSISTANT_INDEX_DIR": str(index)})
    assert len(json.loads(listed.stdout)) == len(json.loads(run("list", "--json", env_extra={"ASSISTANT_INDEX_DIR": str(real_settings.index_dir)}).stdout))


@pytest.fixture
def own_state(env, tmp_path):
    """The shared corpus and index with a state folder of this test's own."""
    return {**env, "ASSISTANT_STATE_DIR": str(tmp_path / "state")}


def test_feedback_reports_the_counts_and_the_latest_answers_marked_not_helpful(own_state, tmp_path):
    from assistant import logs
    from assistant.config import Settings

    settings = Settings(state_dir=tmp_path / "state")
    logs.append_feedback(settings, "What is MLOps?", "MLOps is the practice [1].", ["a"], 1)
    logs.append_feedback(settings, "How long does it take?", "A passage about maths [1].", ["b"], 0)
    result = run("feedback", env_extra=own_state)
    assert result.returncode == 0, result.stderr
    assert "Helpful: 1   Not helpful: 1" in result.stdout
    assert "How long does it take?" in result.stdout and "A passage about maths" in result.stdout
    data = json.loads(run("feedback", "--json", "--recent", "0", env_extra=own_state).stdout)
    assert (data["helpful"], data["not_helpful"], data["recent_not_helpful"]) == (1, 1, [])


def test_feedback_with_nothing_logged_says_so_and_creates_nothing(own_state, tmp_path):
    result = run("feedback", env_extra=own_state)
    assert result.returncode == 0 and "No feedback given yet." in result.stdout
    assert run("feedback", "--recent", "-1", env_extra=own_state).returncode != 0


def test_purge_deletes_what_is_past_retention_and_all_deletes_everything(own_state, tmp_path):
    from datetime import UTC, datetime, timedelta

    from assistant import logs
    from assistant.config import Settings
    from assistant.state import StateStore

    old = datetime.now(UTC) - timedelta(days=10)  # within the default 90 days, so opening the store keeps it
    with StateStore(Settings(state_dir=tmp_path / "state"), clock=lambda: old) as store:
        store.log_gap("an old unanswered question")
        store.create_conversation()
    logs.append_gap(Settings(state_dir=tmp_path / "state"), "a new unanswered question")
    result = run("purge", env_extra=own_state)  # the default retention, 90 days: nothing is that old
    assert result.returncode == 0 and "more than 90 days: 0 conversations" in result.stdout, result.stderr
    result = run("purge", "--older-than", "5", env_extra=own_state)
    assert result.returncode == 0, result.stderr
    assert "more than 5 days: 1 conversations (0 turns), 0 feedback records, 1 unanswered questions" in result.stdout
    assert [g["question"] for g in logs.gaps(tmp_path / "state")] == ["a new unanswered question"]
    assert "Nothing deleted" in run("purge", env_extra={**own_state, "ASSISTANT_RETENTION_DAYS": "0"}).stdout
    result = run("purge", "--all", env_extra=own_state)
    assert result.returncode == 0 and "everything kept" in result.stdout and "1 unanswered questions" in result.stdout
    assert logs.gaps(tmp_path / "state") == []
    assert run("purge", "--older-than", "-3", env_extra=own_state).returncode != 0


def test_eval_gaps_asks_the_logged_questions_again_and_logs_nothing_new(own_state, tmp_path):
    from assistant import logs

    logs.append_gap(tmp_path / "state", "What is MLOps?")  # answered by the corpus now
    logs.append_gap(tmp_path / "state", "How long should I boil an egg?")
    logs.append_gap(tmp_path / "state", "how long should I boil an egg?")  # the same question once
    result = run("eval", "--gaps", env_extra=own_state)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 of 2 logged unanswered questions are answered now.")
    assert "✓ What is MLOps?" in result.stdout and "still refused (off_subject)" in result.stdout
    assert len(logs.gaps(tmp_path / "state")) == 3
