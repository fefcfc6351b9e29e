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
