"""The state store (assistant/state.py): conversations, turns, feedback and gaps, on SQLite in tmp_path and on a
real PostgreSQL server (conftest's `postgres_server`; never a mock). Every test that takes `settings` runs on
both; a PostgreSQL test gets a database of its own.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import REPO

from assistant.answer import Answer
from assistant.config import Settings
from assistant.errors import (
    AssistantError,
    ConversationFullError,
    ConversationNotFoundError,
    InputError,
    StateDatabaseError,
    StateSchemaError,
)
from assistant.retrieve import Source

# ------------------------------------------------------------------------------------------------ fixtures and helpers


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path):
    """Settings whose state lives in SQLite under tmp_path, or in a new database on the PostgreSQL server."""
    state_dir = tmp_path / "state"
    if request.param == "sqlite":
        yield Settings(state_dir=state_dir)
        return
    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield Settings(state_dir=state_dir, database_url=server.rsplit("/", 1)[0] + "/" + name)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def store(settings):
    from assistant.state import StateStore

    with StateStore(settings) as s:
        yield s


def source(n: int, highlights: tuple[str, ...] = ()) -> Source:
    return Source(f"id{n:04d}", f"notes/doc{n}.md", f"Title “{n}” — é", f"Heading {n}?", f"Passage {n} text. <b>not html</b> 🤖", 0.5 + n / 100, highlights)


def rich_answer(question: str = "What skills do I need to become an ML engineer?") -> Answer:
    import numpy as np

    cited = (source(1, ("Passage 1 text.",)), source(2, ("Passage 2 text.", "<b>not html</b> 🤖")))
    related = (source(3), source(4, ("kept too",)))
    return Answer(
        question, "Passage 1 text [1]. Passage 2 text [2].", cited, False,
        retrieved=cited + related, query="skills machine learning engineer", note="Quoted from two sections.",
        confidence=np.float32(0.7312), related=related, followup="What does an ML engineer do?",
        reason="answered", suggestions=(),
    )


def refusal(question: str = "What do ML engineers earn in Berlin?") -> Answer:
    return Answer(
        question, "I don't know from these sources: they give no figures.", (), True, query="earn berlin",
        note="The sources give no salary or price figures for any role, place or product.", confidence=0.21,
        related=(source(5),), reason="figures", suggestions=("How do I get my first ML job?", "What skills matter most?"),
    )


def everything(answer: Answer) -> tuple:
    """An answer's fields including those `==` leaves out (its sources' highlights, related)."""
    fields = [f.name for f in dataclasses.fields(Answer) if f.name != "retrieved"]
    return tuple(
        tuple(dataclasses.astuple(s) for s in getattr(answer, name)) if name in ("sources", "related") else getattr(answer, name)
        for name in fields
    )


def run_python(code: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
    )


def wait_ready(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read()


def finish(procs: list[subprocess.Popen]) -> list[str]:
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outs.append(out)
    return outs


def url_args(settings: Settings) -> list[str]:
    return [str(settings.state_dir), settings.database_url]


# ------------------------------------------------------------------------------------------------ answers as JSON


def test_an_answer_comes_back_equal_with_highlights_related_and_suggestions():
    from assistant.state import answer_from_json, answer_to_json

    for answer in (rich_answer(), refusal()):
        text = answer_to_json(answer)
        back = answer_from_json(text)
        assert back == answer
        assert everything(back) == everything(answer)
        assert back.retrieved == ()  # not needed to redraw it, not kept
        assert json.loads(text)["v"] == 1


def test_a_saved_turn_redraws_exactly_after_loading(store):
    conv = store.create_conversation()
    store.append_turn(conv.id, rich_answer().question, rich_answer())
    store.append_turn(conv.id, refusal().question, refusal())
    failed = store.append_turn(conv.id, "What is MLOps?", error="the index is being rebuilt; try again")
    assert failed.answer is None and failed.error.startswith("the index")
    turns = store.conversation(conv.id).turns
    assert [t.position for t in turns] == [0, 1, 2]
    assert everything(turns[0].answer) == everything(rich_answer())
    assert everything(turns[1].answer) == everything(refusal())
    assert turns[2].answer is None and turns[2].error == "the index is being rebuilt; try again"
    assert all(t.feedback is None and t.created_at.tzinfo is not None for t in turns)


def test_a_stored_answer_that_cannot_be_read_is_one_clear_error():
    from assistant.errors import StateError
    from assistant.state import answer_from_json

    for bad in ("not json", "[]", '{"v": 99}', '{"v": 1}'):
        with pytest.raises(StateError, match="a stored answer cannot be read"):
            answer_from_json(bad)


# ------------------------------------------------------------------------------------------------ conversations


def test_conversation_ids_and_share_tokens_are_unguessable_and_distinct(store):
    convs = [store.create_conversation() for _ in range(50)]
    values = [c.id for c in convs] + [c.share_token for c in convs]
    assert len(set(values)) == 100
    for value in values:
        assert len(value) == 22 and all(ch.isalnum() or ch in "-_" for ch in value)
    assert store.conversation("x" * 22) is None and store.conversation("../../etc") is None and store.shared("") is None


def test_the_first_question_names_a_conversation_and_a_rename_replaces_it(store):
    conv = store.create_conversation(owner="Ana@Example.org")
    assert conv.title == "" and conv.owner == "ana@example.org"
    store.append_turn(conv.id, "How do I move from data analysis to ML?", owner="ana@example.org")
    store.append_turn(conv.id, "Which frameworks?", owner="ana@example.org")
    assert store.conversation(conv.id, owner="ana@example.org").title == "How do I move from data analysis to ML?"
    assert store.rename(conv.id, "  My   switch\nplan ", owner="ANA@example.org")
    assert store.conversation(conv.id, owner="ana@example.org").title == "My switch plan"


def test_feedback_is_kept_once_and_a_second_is_ignored_and_says_so(store, caplog):
    conv = store.create_conversation()
    answer = rich_answer()
    store.append_turn(conv.id, answer.question, answer)
    assert store.set_feedback(conv.id, 0, 0) is True
    with caplog.at_level("INFO", logger="assistant.state"):
        assert store.set_feedback(conv.id, 0, 1) is False
    assert "already given" in caplog.text
    assert store.conversation(conv.id).turns[0].feedback == 0
    (record,) = store.feedback()
    assert (record.question, record.answer, record.sources, record.score) == (answer.question, answer.text, ("id0001", "id0002"), 0)
    assert [(g.question, g.reason) for g in store.gaps()] == [(answer.question, "thumbs-down")]  # a thumbs down is a gap
    with pytest.raises(InputError):
        store.set_feedback(conv.id, 0, 5)
    with pytest.raises(ConversationNotFoundError):
        store.set_feedback(conv.id, 7, 1)


def test_feedback_clicked_from_many_threads_at_once_is_kept_once(store):
    conv = store.create_conversation()
    store.append_turn(conv.id, "What is MLOps?", rich_answer("What is MLOps?"))
    barrier = threading.Barrier(8)
    results = []

    def click(score: int) -> None:
        barrier.wait()
        results.append(store.set_feedback(conv.id, 0, score))

    threads = [threading.Thread(target=click, args=(i % 2,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert len(store.feedback()) == 1
    assert store.conversation(conv.id).turns[0].feedback == store.feedback()[0].score


def test_threads_appending_to_one_conversation_number_every_turn_once(store):
    conv = store.create_conversation()
    barrier = threading.Barrier(8)
    errors = []

    def ask(t: int) -> None:
        barrier.wait()
        try:
            for i in range(10):
                store.append_turn(conv.id, f"thread {t} question {i}", refusal(f"thread {t} question {i}"))
        except Exception as exc:  # collected: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    turns = store.conversation(conv.id).turns
    assert [t.position for t in turns] == list(range(80))
    assert sorted(t.question for t in turns) == sorted(f"thread {t} question {i}" for t in range(8) for i in range(10))
    for t in range(8):  # each thread's turns in its own order
        mine = [turn.question for turn in turns if turn.question.startswith(f"thread {t} ")]
        assert mine == [f"thread {t} question {i}" for i in range(10)]


APPEND = r"""
import sys, time
from pathlib import Path
from assistant.answer import Answer
from assistant.config import Settings
from assistant.state import StateStore

state_dir, url, conversation, name, count, go = sys.argv[1:]
store = StateStore(Settings(state_dir=Path(state_dir), database_url=url))
print("ready", flush=True)
deadline = time.monotonic() + 60
while not Path(go).exists() and time.monotonic() < deadline:
    time.sleep(0.001)
for i in range(int(count)):
    question = f"{name} question {i}"
    store.append_turn(conversation, question, Answer(question, f"{name} answer {i} [1]", (), False, reason="answered"))
"""


def test_two_processes_appending_to_one_conversation_number_every_turn_once(settings, store, tmp_path):
    conv = store.create_conversation()
    go = tmp_path / "go"
    procs = [run_python(APPEND, *url_args(settings), conv.id, name, "25", str(go)) for name in ("first", "second")]
    wait_ready(procs)
    go.touch()
    finish(procs)
    turns = store.conversation(conv.id).turns
    assert [t.position for t in turns] == list(range(50))
    for name in ("first", "second"):
        mine = [t for t in turns if t.question.startswith(name)]
        assert [t.question for t in mine] == [f"{name} question {i}" for i in range(25)]
        assert [t.answer.text for t in mine] == [f"{name} answer {i} [1]" for i in range(25)]


# ------------------------------------------------------------------------------------------------ owners and sharing


def test_owners_see_rename_and_delete_only_their_own(store):
    ana_old = store.create_conversation(owner="ana@example.org", title="old")
    bo = store.create_conversation(owner="bo@example.org", title="bo's")
    ana_new = store.create_conversation(owner="ana@example.org", title="new")
    store.append_turn(ana_old.id, "What is MLOps?", rich_answer("What is MLOps?"), owner="ana@example.org")
    store.set_feedback(ana_old.id, 0, 1, owner="ana@example.org")
    # Newest activity first: the turn made the old one the most recent.
    assert [c.id for c in store.conversations("ana@example.org")] == [ana_old.id, ana_new.id]
    assert [c.turns for c in store.conversations("ANA@example.org ")] == [1, 0]
    assert [c.id for c in store.conversations("bo@example.org")] == [bo.id]
    assert store.conversations("") == [] and store.conversations("nobody@example.org") == []
    # Someone else, or nobody signed in, cannot open, write, rename or delete Ana's.
    for intruder in ("bo@example.org", None):
        assert store.conversation(ana_old.id, owner=intruder) is None
        assert not store.rename(ana_old.id, "mine now", owner=intruder)
        assert not store.delete(ana_old.id, owner=intruder)
        with pytest.raises(ConversationNotFoundError):
            store.append_turn(ana_old.id, "sneaky", owner=intruder)
        with pytest.raises(ConversationNotFoundError):
            store.set_feedback(ana_old.id, 0, 0, owner=intruder)
    assert store.conversation(ana_old.id, owner="ana@example.org").title == "old"
    # The owner deletes it, with its turns; the feedback record stays for the maintainer.
    assert store.delete(ana_old.id, owner="ana@example.org")
    assert store.conversation(ana_old.id, owner="ana@example.org") is None
    assert not store.delete(ana_old.id, owner="ana@example.org")
    assert [c.id for c in store.conversations("ana@example.org")] == [ana_new.id]
    assert _count(store, "turns") == 0
    assert [f.question for f in store.feedback()] == ["What is MLOps?"]


def test_a_conversation_without_owner_belongs_to_whoever_has_its_id(store):
    conv = store.create_conversation()
    store.append_turn(conv.id, "What is MLOps?")
    assert store.conversation(conv.id).turns[0].question == "What is MLOps?"
    assert store.conversation(conv.id, owner="ana@example.org") is not None
    assert store.delete(conv.id)
    assert store.conversation(conv.id) is None


def test_a_share_token_opens_the_conversation_read_only(store):
    conv = store.create_conversation(owner="ana@example.org")
    store.append_turn(conv.id, rich_answer().question, rich_answer(), owner="ana@example.org")
    shared = store.shared(conv.share_token)
    assert shared.read_only and shared.id == "" and shared.owner is None  # neither the write key nor the e-mail
    assert everything(shared.turns[0].answer) == everything(rich_answer())
    # The token is no key to write with, nor to open as the owner would.
    assert store.conversation(conv.share_token) is None
    with pytest.raises(ConversationNotFoundError):
        store.append_turn(conv.share_token, "sneaky")
    assert not store.delete(conv.share_token) and not store.rename(conv.share_token, "x")
    assert store.shared(conv.id) is None and store.shared("A" * 22) is None
    assert len(store.conversation(conv.id, owner="ana@example.org").turns) == 1


# ------------------------------------------------------------------------------------------------ bounds


def test_what_is_stored_is_bounded_and_gaps_are_safe_to_print(settings):
    from assistant.state import Limits, StateStore

    limits = Limits(question_chars=60, answer_chars=40, title_chars=20, turns=3, gap_chars=30, error_chars=25, owner_chars=40)
    with StateStore(settings, limits=limits) as store:
        conv = store.create_conversation(title="\x1b[31mred\x1b[0m title that goes on and on")
        assert "\x1b" not in conv.title and len(conv.title) <= 20
        question = "Null\x00 and bell\x07 and escape\x1b[2J " + "x" * 100
        answer = replace_text(rich_answer(question), "y" * 100)
        turn = store.append_turn(conv.id, question, answer, error="")
        assert len(turn.question) == 60 and "\x00" not in turn.question and "\x1b" not in turn.question
        stored = store.conversation(conv.id).turns[0]
        assert stored.question == turn.question and stored.answer.text == "y" * 40
        store.append_turn(conv.id, "two", error="e" * 100)
        assert store.conversation(conv.id).turns[1].error == "e" * 25
        store.append_turn(conv.id, "three")
        with pytest.raises(ConversationFullError, match="start a new chat"):
            store.append_turn(conv.id, "four")
        gap = store.log_gap("\x1b]0;owned\x07 ls \u202eexe.txt\n second line " + "z" * 50, reason="Off Subject!\x1b")
        assert gap.question == store.gaps()[0].question
        assert not any(ch in gap.question for ch in "\x1b\x07\u202e\n") and len(gap.question) <= 30
        assert gap.reason == "offsubject"
        with pytest.raises(InputError):
            store.create_conversation(owner="a" * 41 + "@example.org")


def replace_text(answer: Answer, text: str) -> Answer:
    return dataclasses.replace(answer, text=text)


# ------------------------------------------------------------------------------------------------ the maintainer's records


def test_gaps_and_feedback_outside_a_conversation_are_kept_oldest_first(store):
    store.log_gap("How do I bake bread?")
    store.log_feedback("What is MLOps?", "MLOps is ...", ["a", "b"], 1)
    store.log_feedback("How do I get promoted?", "Unhelpful", ["p1"], 0)
    assert [(g.question, g.reason) for g in store.gaps()] == [("How do I bake bread?", "abstained"), ("How do I get promoted?", "thumbs-down")]
    assert [(f.question, f.sources, f.score) for f in store.feedback()] == [("What is MLOps?", ("a", "b"), 1), ("How do I get promoted?", ("p1",), 0)]
    later = store.gaps()[-1].time
    assert [g.question for g in store.gaps(since=later)] == ["How do I get promoted?"]


# ------------------------------------------------------------------------------------------------ retention


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.now = moment

    def __call__(self) -> datetime:
        return self.now


def test_purge_deletes_what_is_older_than_the_retention_and_keeps_the_rest(settings):
    from assistant.state import Purged, StateStore

    now = datetime.now(UTC)
    clock = Clock(now - timedelta(days=100))
    with StateStore(settings, clock=clock) as store:
        old = store.create_conversation(owner="ana@example.org")
        store.append_turn(old.id, "old question", owner="ana@example.org")
        revived = store.create_conversation(owner="ana@example.org")
        store.log_gap("old gap")
        store.log_feedback("old feedback", "answer", [], 1)
        clock.now = now - timedelta(days=10)
        store.append_turn(revived.id, "asked again lately", owner="ana@example.org")  # activity keeps it
        recent = store.create_conversation()
        store.log_gap("recent gap")
        clock.now = now
        assert store.purge(older_than_days=0) == Purged()  # 0 keeps everything
        assert store.purge() == Purged(conversations=1, turns=1, feedback=1, gaps=1)  # the default 90 days
        assert store.conversation(old.id, owner="ana@example.org") is None
        assert store.conversation(revived.id, owner="ana@example.org") is not None
        assert [g.question for g in store.gaps()] == ["recent gap"] and store.feedback() == []
        assert store.purge(older_than_days=5).conversations == 2
        assert store.conversation(recent.id) is None and store.gaps() == []


def test_opening_the_store_applies_the_retention_unless_it_is_zero(settings):
    from assistant.state import StateStore

    with StateStore(settings, clock=Clock(datetime.now(UTC) - timedelta(days=400))) as store:
        store.log_gap("a year ago")
    with StateStore(dataclasses.replace(settings, retention_days=0)) as store:
        assert [g.question for g in store.gaps()] == ["a year ago"]  # 0: kept forever
    with StateStore(settings) as store:
        assert store.gaps() == []


def test_purge_all_deletes_everything_but_the_old_logs_are_not_imported_again(settings):
    from assistant.state import StateStore

    settings.state_dir.mkdir(parents=True)
    (settings.state_dir / "gaps.jsonl").write_text(json.dumps({"time": _recent(), "question": "imported", "reason": "abstained"}) + "\n")
    with StateStore(settings) as store:
        conv = store.create_conversation()
        store.append_turn(conv.id, "q", rich_answer("q"))
        store.set_feedback(conv.id, 0, 0)
        purged = store.purge_all()
        assert (purged.conversations, purged.turns, purged.feedback, purged.gaps) == (1, 1, 1, 2)
        assert store.gaps() == [] and store.feedback() == [] and store.conversation(conv.id) is None
    (settings.state_dir / "gaps.jsonl").write_text(json.dumps({"time": _recent(), "question": "imported", "reason": "abstained"}) + "\n")
    with StateStore(settings) as store:
        assert store.gaps() == []


# ------------------------------------------------------------------------------------------------ the old logs


def _recent(days: int = 1) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_old_logs(folder: Path, first: str = "") -> None:
    """Old logs as the JSON-lines era wrote them, with the damage a crash or a bad disk leaves."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "gaps.jsonl").open("w", encoding="utf-8") as fh:
        fh.write(json.dumps({"time": first or _recent(3), "question": "How do I bake bread?", "reason": "abstained"}) + "\n")
        fh.write('{"time": "2026-01-01T00:00:00Z", "question": "cut off by a cra\n')  # a crash mid-line
        fh.write("not json at all\n[1, 2, 3]\n" + '{"question": 42}\n')
        fh.write(json.dumps({"time": _recent(2), "question": "Qu'est-ce qu'un réseau ? 🤖", "reason": "not_english"}, ensure_ascii=False) + "\n")
    with (folder / "gaps.jsonl").open("ab") as fh:
        fh.write(b"\xff\xfe broken bytes\n")
    with (folder / "feedback.jsonl").open("w", encoding="utf-8") as fh:
        fh.write(json.dumps({"time": _recent(2), "question": "What is MLOps?", "answer": "MLOps is ...", "sources": ["a1"], "score": 1}) + "\n")
        fh.write(json.dumps({"time": _recent(2), "question": "Bad score", "answer": "", "sources": [], "score": "up"}) + "\n")
        fh.write(json.dumps({"time": _recent(1), "question": "How do I get promoted?", "answer": "Unhelpful", "sources": ["p1"], "score": 0}) + "\n")


def test_the_old_logs_are_imported_once_bad_lines_skipped_the_rest_kept(settings):
    from assistant.state import StateStore

    folder = settings.state_dir
    first = _recent(3)
    write_old_logs(folder, first)
    with StateStore(settings) as store:
        gaps = store.gaps()
        assert [(g.question, g.reason) for g in gaps] == [("How do I bake bread?", "abstained"), ("Qu'est-ce qu'un réseau ? 🤖", "not_english")]
        assert gaps[0].time.strftime("%Y-%m-%dT%H:%M:%SZ") == first  # its own time kept
        assert [(f.question, f.sources, f.score) for f in store.feedback()] == [("What is MLOps?", ("a1",), 1), ("How do I get promoted?", ("p1",), 0)]
        rows = _rows(store, "SELECT kept, skipped FROM imports ORDER BY skipped")
        assert rows == [(2, 1), (2, 5)]  # feedback: 2 kept, 1 bad score; gaps: 2 kept, 5 bad lines
    assert not (folder / "gaps.jsonl").exists() and (folder / "gaps.jsonl.imported").is_file()
    assert (folder / "feedback.jsonl.imported").is_file()
    # A file at the same place again (the transitional copy the logs keep writing) is never imported twice.
    write_old_logs(folder)
    with StateStore(settings) as store:
        assert len(store.gaps()) == 2 and len(store.feedback()) == 2
    assert (folder / "gaps.jsonl").is_file()


OPEN = r"""
import sys, time
from pathlib import Path
from assistant.config import Settings
from assistant.state import StateStore

state_dir, url, go = sys.argv[1:]
print("ready", flush=True)
deadline = time.monotonic() + 60
while not Path(go).exists() and time.monotonic() < deadline:
    time.sleep(0.001)
store = StateStore(Settings(state_dir=Path(state_dir), database_url=url))
print(store.version, len(store.gaps()), len(store.feedback()), flush=True)
"""


def test_processes_opening_a_new_database_at_once_create_the_schema_and_import_once(settings, tmp_path):
    from assistant.state import LATEST, StateStore

    write_old_logs(settings.state_dir)
    go = tmp_path / "go"
    procs = [run_python(OPEN, *url_args(settings), str(go)) for _ in range(3)]
    wait_ready(procs)
    go.touch()
    outs = finish(procs)
    assert [out.split() for out in outs] == [[str(LATEST), "2", "2"]] * 3
    with StateStore(settings) as store:
        assert _rows(store, "SELECT version FROM schema_version ORDER BY version") == [(v,) for v in range(1, LATEST + 1)]
        assert len(_rows(store, "SELECT name FROM imports")) == 2


# ------------------------------------------------------------------------------------------------ migrations


def test_an_older_schema_is_upgraded_and_keeps_its_rows(settings):
    import sqlalchemy as sa

    from assistant.state import LATEST, Database, StateStore, upgrade

    assert upgrade(settings, target=1) == 1
    db = Database(settings, lambda: datetime.now(UTC))
    with db.tx(write=True) as conn:
        assert "conversations" not in sa.inspect(conn).get_table_names()
        conn.execute(
            sa.text("INSERT INTO gaps (question, reason, created_at) VALUES (:q, 'abstained', :t)"),
            {"q": "from version 1", "t": datetime.now(UTC).replace(tzinfo=None) if db.backend == "sqlite" else datetime.now(UTC)},
        )
    db.dispose()
    with StateStore(settings) as store:
        assert store.version == LATEST
        assert _rows(store, "SELECT version FROM schema_version ORDER BY version") == [(v,) for v in range(1, LATEST + 1)]
        assert [g.question for g in store.gaps()] == ["from version 1"]
        conv = store.create_conversation()  # version 2's tables work
        store.append_turn(conv.id, "q", rich_answer("q"))
        assert store.set_feedback(conv.id, 0, 1) and not store.set_feedback(conv.id, 0, 1)


def test_the_migrated_schema_is_the_one_the_code_queries(store):
    import sqlalchemy as sa

    from assistant import state

    inspector = sa.inspect(store._db.engine)
    assert set(inspector.get_table_names()) == set(state.TABLES)
    for name in state.TABLES:
        assert {c["name"] for c in inspector.get_columns(name)} == set(state.metadata.tables[name].columns.keys()), name


def test_a_database_newer_than_the_code_is_refused_with_a_clear_message(settings):
    import sqlalchemy as sa

    from assistant.state import LATEST, Database, StateStore, upgrade

    upgrade(settings)
    db = Database(settings, lambda: datetime.now(UTC))
    with db.tx(write=True) as conn:
        conn.execute(sa.text("INSERT INTO schema_version (version, applied_at) VALUES (:v, :t)"), {"v": LATEST + 5, "t": datetime(2030, 1, 1)})
    db.dispose()
    with pytest.raises(StateSchemaError) as caught:
        StateStore(settings)
    message = str(caught.value)
    assert f"schema version {LATEST + 5}" in message and "newer" in message and "\n" not in message


def test_a_database_with_tables_of_these_names_but_not_ours_is_refused(settings):
    from assistant.state import Database, StateStore

    db = Database(settings, lambda: datetime.now(UTC))
    with db.tx(write=True) as conn:
        conn.exec_driver_sql("CREATE TABLE conversations (x INTEGER)")
    db.dispose()
    with pytest.raises(StateSchemaError, match="not this assistant's"):
        StateStore(settings)


# ------------------------------------------------------------------------------------------------ where the database is


def test_an_unreachable_server_is_one_clear_message_naming_the_host_not_the_password(tmp_path):
    import socket

    from assistant.state import StateStore

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(StateDatabaseError) as caught:
        StateStore(Settings(state_dir=tmp_path, database_url=f"postgresql://ana:hunter2secret@127.0.0.1:{port}/assistant"))
    message = str(caught.value)
    assert f"127.0.0.1:{port}/assistant" in message and "ASSISTANT_DATABASE_URL" in message
    assert "hunter2secret" not in message and "\n" not in message
    assert isinstance(caught.value, AssistantError) and isinstance(caught.value, OSError)  # optional logs go on
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("url", "shows"),
    [
        ("mysql://ana:hunter2secret@db.example.org:3306/assistant", "db.example.org"),
        ("postgresql://ana:hunter2secret@/assistant", "no host"),
        ("postgresql://ana:hunter2secret@db.example.org:notaport/assistant", "db.example.org"),
        ("sqlite://", "in-memory"),
        ("just some words", "not a database URL"),
    ],
)
def test_a_bad_url_is_one_clear_message_without_the_password(tmp_path, url, shows):
    from assistant.state import StateStore

    with pytest.raises(StateDatabaseError) as caught:
        StateStore(Settings(state_dir=tmp_path, database_url=url))
    message = str(caught.value)
    assert shows in message and "hunter2secret" not in message and "\n" not in message


def test_the_settings_repr_hides_the_database_url():
    assert "hunter2secret" not in repr(Settings.from_env({"ASSISTANT_DATABASE_URL": "postgresql://a:hunter2secret@h/d"}))


def test_sqlite_is_the_default_in_the_state_folder_in_wal_mode(tmp_path):
    from assistant.state import StateStore

    with StateStore(Settings(state_dir=tmp_path / "nested" / "state")) as store:
        assert store.backend == "sqlite" and store.where == str(tmp_path / "nested" / "state" / "assistant.db")
        assert _rows(store, "PRAGMA journal_mode") == [("wal",)]
        assert _rows(store, "PRAGMA busy_timeout")[0][0] >= 1000


def test_help_imports_neither_sqlalchemy_nor_the_store_and_importing_the_store_connects_nothing(tmp_path):
    probe = (
        "import sys\nfrom assistant.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('sqlalchemy' in sys.modules, 'assistant.state' in sys.modules, file=sys.stderr)\n"
        "import assistant.state\nprint('psycopg' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO), "ASSISTANT_DATABASE_URL": "postgresql://a:b@127.0.0.1:1/x"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.split() == ["False", "False", "False"]
    assert list(tmp_path.iterdir()) == []  # no state folder, no database file


# ------------------------------------------------------------------------------------------------ helpers that read the tables


def _rows(store, sql: str) -> list[tuple]:
    with store._db.tx() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


def _count(store, table: str) -> int:
    return _rows(store, f"SELECT count(*) FROM {table}")[0][0]


def test_connections_a_restarted_server_dropped_are_replaced_without_an_error(postgres_server, monkeypatch):
    import psycopg

    from assistant import database
    from assistant.state import StateStore

    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        url = postgres_server.rsplit("/", 1)[0] + "/" + name
        with StateStore(Settings(state_dir=Path("/nonexistent"), database_url=url)) as store:
            store.log_gap("before the restart")
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                (name, "ml-career-assistant"),
            ).fetchone()[0]
            assert killed >= 1
            monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0)  # as if the pool had sat idle
            store.log_gap("after the restart")
            assert [g.question for g in store.gaps()] == ["before the restart", "after the restart"]
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
