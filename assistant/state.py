"""The state store's operations: conversations and their turns, users' feedback and unanswered questions
("gaps"), in one database that every thread and every process of the service shares. This module is what the
rest of the assistant imports: `StateStore`, `open_store`, `existing_store` and the store's values.

What it stands on, each in its own module: the connections, transactions and locks, SQLite or PostgreSQL
(assistant/database.py); the tables, their migrations and the one-time import of the old JSON-lines logs
(assistant/schema.py); the values and the bounds on what is kept (assistant/records.py); an answer as JSON
(`Answer.to_json`, assistant/answer.py).

Concurrency: every call is one short transaction (appending a turn to PostgreSQL, one statement). Appending
a turn counts it on its conversation's row, which PostgreSQL locks (see `_append_sql`) and SQLite writes
under its write lock (`BEGIN IMMEDIATE`, WAL mode, a busy timeout), so processes appending to one
conversation at once number their turns 0, 1, 2, ... without a gap or a clash. Nothing in a `StateStore`
changes after it is opened except a timestamp under a lock: share one per process (`open_store`) between
threads.

Nothing connects at import: the first `open_store` (or `StateStore(...)`) does.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from .answer import Answer
from .config import Settings
from .database import DB_FILE, Database
from .errors import ConversationFullError, ConversationNotFoundError, InputError, StateError
from .records import Conversation, ConversationInfo, Feedback, Gap, Limits, Purged, Turn, is_id, multiline, one_line
from .schema import (
    FEEDBACK_FILE,
    GAPS_FILE,
    LATEST,
    TABLES,
    UtcDateTime,
    conversations_table,
    feedback_table,
    gaps_table,
    import_logs,
    metadata,
    migrate,
    read_jsonl,
    turns_table,
    upgrade,
)

__all__ = [
    "LATEST", "TABLES", "Conversation", "ConversationInfo", "Database", "Feedback", "Gap", "Limits", "Purged",
    "StateStore", "Turn", "answer_from_json", "answer_to_json", "existing_store", "metadata", "open_store",
    "read_jsonl", "upgrade",
]

log = logging.getLogger(__name__)

#: How often a long-running process deletes what is past `retention_days` (it also does on opening).
PURGE_EVERY_SECONDS = 3600
NOT_FOUND = "no such conversation (it may have been deleted, or it is someone else's)"

#: Where these were before `Answer` held them: `answer_to_json(answer)`, `answer_from_json(text)`.
answer_to_json = Answer.to_json
answer_from_json = Answer.from_json


class StateStore:
    """Conversations, feedback and gaps in one database. Open one per process with `open_store(settings)`
    and share it between threads; `StateStore(settings)` opens a private one (tests, benchmarks)."""

    def __init__(self, settings: Settings, limits: Limits | None = None, clock: Callable[[], datetime] | None = None) -> None:
        if settings.retention_days < 0:
            raise InputError("retention_days must be 0 (keep forever) or more")
        self.settings = settings
        self.limits = limits or Limits()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._db = Database(settings, self._clock)
        self.backend: str = self._db.backend
        #: Where the data lives, for messages and logs: a file, or host:port/database (no password).
        self.where: str = self._db.where
        self._purge_lock = threading.Lock()
        self._purged_at = 0.0
        try:
            self.version = migrate(self._db)
            import_logs(self._db, Path(settings.state_dir), self.limits)
            self.purge()
        except BaseException:
            self._db.dispose()
            raise

    def close(self) -> None:
        """Close the pooled connections (a store is usable again after: it reconnects on demand)."""
        self._db.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StateStore({self.backend} at {self.where}, schema {self.version})"

    def _tx(self, write: bool = False):
        return self._db.tx(write)

    def _now(self) -> datetime:
        return self._clock()

    # ------------------------------------------------------------------------------------ conversations

    def create_conversation(self, owner: str | None = None, title: str = "") -> Conversation:
        """A new, empty conversation. Its `id` goes in the chat's address; its `share_token` opens it read-only.
        `title` may stay empty: the first question names it."""
        now = self._now()
        row = {
            "id": secrets.token_urlsafe(16),
            "share_token": secrets.token_urlsafe(16),
            "owner": self.limits.owner(owner),
            "title": self.limits.title(title),
            "turn_count": 0,
            "created_at": now,
            "updated_at": now,
        }
        with self._tx(write=True) as conn:
            conn.execute(sa.insert(conversations_table).values(**row))
        self._maybe_purge()
        return Conversation(row["id"], row["share_token"], row["title"], row["owner"], now, now)

    def conversation(self, conversation_id: str, owner: str | None = None) -> Conversation | None:
        """The conversation with its turns, or None when there is none with this id for this caller: a
        signed-in owner's conversations open for that owner only; one without an owner, for whoever has its id."""
        if not is_id(conversation_id):
            return None
        with self._tx() as conn:
            row = conn.execute(sa.select(conversations_table).where(conversations_table.c.id == conversation_id)).first()
            if row is None or not _may_write(row.owner, self.limits.owner(owner)):
                return None
            return self._load(conn, row, read_only=False)

    def shared(self, share_token: str) -> Conversation | None:
        """The conversation behind a share token, read-only, without its id or owner; None if there is none."""
        if not is_id(share_token):
            return None
        with self._tx() as conn:
            row = conn.execute(sa.select(conversations_table).where(conversations_table.c.share_token == share_token)).first()
            return self._load(conn, row, read_only=True) if row is not None else None

    def _load(self, conn: sa.Connection, row, read_only: bool) -> Conversation:
        rows = conn.execute(
            sa.select(*(turns_table.c[name] for name in ("position", "question", "answer", "error", "feedback", "created_at")))
            .where(turns_table.c.conversation_id == row.id)
            .order_by(turns_table.c.position)
        ).all()
        return Conversation(
            id="" if read_only else row.id,
            share_token=row.share_token,
            title=row.title,
            owner=None if read_only else row.owner,
            created_at=row.created_at,
            updated_at=row.updated_at,
            turns=tuple(_turn(r) for r in rows),
            read_only=read_only,
        )

    def append_turn(
        self, conversation_id: str, question: str, answer: Answer | None = None, error: str = "", owner: str | None = None
    ) -> Turn:
        """Add a turn at the end of the conversation: the question and its answer, or the error message when
        answering failed. Safe from any number of threads and processes at once: turns are numbered in the
        order they commit. Raises ConversationNotFoundError, or ConversationFullError at `Limits.turns`."""
        question = multiline(question, self.limits.question_chars)
        kept = self.limits.answer(answer) if answer is not None else None
        error_text = one_line(error, self.limits.error_chars) or None
        now = self._now()
        if not is_id(conversation_id):
            raise ConversationNotFoundError(NOT_FOUND)
        owner_key = self.limits.owner(owner)
        params = {
            "cid": conversation_id, "who": owner_key, "at": now, "title": self.limits.title(question), "q": question,
            "a": kept.to_json() if kept is not None else None, "err": error_text, "most": self.limits.turns,
        }
        if self.backend == "postgresql":
            # One statement, atomic alone, so no transaction round trips: it counts the turn on the
            # conversation's row (waiting for that row's lock while another process appends, then counting on
            # from that one's count) and inserts the turn at that position.
            position = self._db.alone(_append_sql("postgresql", owner_key is not None), params)
        else:
            bump, insert = _append_sql("sqlite", owner_key is not None)
            with self._tx(write=True) as conn:  # SQLite's write lock is held from the first statement
                position = conn.execute(bump, params).scalar()
                if position is not None:
                    conn.execute(insert, {**params, "pos": position})
        if position is None:
            raise self._why_not_appended(conversation_id, owner_key)
        self._maybe_purge()
        return Turn(position, question, replace(kept, retrieved=()) if kept is not None else None, error_text or "", None, now)

    def _why_not_appended(self, conversation_id: str, owner_key: str | None) -> StateError:
        with self._tx() as conn:
            c = conversations_table.c
            row = conn.execute(sa.select(c.owner, c.turn_count).where(c.id == conversation_id)).first()
        if row is None or not _may_write(row.owner, owner_key):
            return ConversationNotFoundError(NOT_FOUND)
        return ConversationFullError(f"this conversation has {row.turn_count} turns, the most one keeps: start a new chat")

    def set_feedback(self, conversation_id: str, position: int, score: int, owner: str | None = None) -> bool:
        """Record a thumbs up (1) or down (0) on a turn, once: True when recorded; False when the turn already
        had feedback, in which case this one is ignored (and logged as such). It also goes to the feedback
        records the maintainer reads, and a thumbs down to the gaps, in the same transaction."""
        if isinstance(score, bool) or score not in (0, 1):
            raise InputError("feedback is 1 (thumbs up) or 0 (thumbs down)")
        with self._tx(write=True) as conn:
            self._writable(conn, conversation_id, owner, lock=False)
            turn = conn.execute(
                sa.select(turns_table.c.id, turns_table.c.question, turns_table.c.answer, turns_table.c.feedback)
                .where(turns_table.c.conversation_id == conversation_id, turns_table.c.position == position)
                .with_for_update()
            ).first()
            if turn is None:
                raise ConversationNotFoundError(f"this conversation has no turn {position}")
            changed = conn.execute(
                sa.update(turns_table).where(turns_table.c.id == turn.id, turns_table.c.feedback.is_(None)).values(feedback=score)
            ).rowcount
            if not changed:
                log.info("feedback on turn %d was already given (%s); this one (%s) is ignored", position, turn.feedback, score)
                return False
            answer = _answer_or_none(turn.answer)
            text, ids = (answer.text, [s.id for s in answer.sources]) if answer else ("", [])
            now = self._now()
            row = self.limits.feedback_row(turn.question, text, ids, score, now)
            conn.execute(sa.insert(feedback_table).values(turn_id=turn.id, **row))
            if score == 0:
                conn.execute(sa.insert(gaps_table).values(**self.limits.gap_row(turn.question, "thumbs-down", now)))
        return True

    def conversations(self, owner: str, limit: int = 100) -> list[ConversationInfo]:
        """The owner's conversations, most recently active first (none for an empty owner)."""
        owner_key = self.limits.owner(owner)
        if owner_key is None:
            return []
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(conversations_table)
                .where(conversations_table.c.owner == owner_key)
                .order_by(conversations_table.c.updated_at.desc(), conversations_table.c.id)
                .limit(max(0, int(limit)))
            ).all()
        return [ConversationInfo(r.id, r.share_token, r.title, r.created_at, r.updated_at, r.turn_count) for r in rows]

    def rename(self, conversation_id: str, title: str, owner: str | None = None) -> bool:
        """Retitle a conversation; False when there is none with this id for this caller."""
        return self._update_own(conversation_id, owner, title=self.limits.title(title))

    def delete(self, conversation_id: str, owner: str | None = None) -> bool:
        """Delete a conversation and its turns, for its owner only (for an ownerless one: whoever has its id).
        Feedback given on its turns stays, without the link. False when there was nothing to delete."""
        if not is_id(conversation_id):
            return False
        with self._tx(write=True) as conn:
            row = conn.execute(_owner_for_update(conversation_id)).first()
            if row is None or not _may_write(row.owner, self.limits.owner(owner)):
                return False
            _delete_conversations(conn, conversations_table.c.id == conversation_id)
        return True

    def _update_own(self, conversation_id: str, owner: str | None, **values) -> bool:
        if not is_id(conversation_id):
            return False
        owner_key = self.limits.owner(owner)
        with self._tx(write=True) as conn:
            row = conn.execute(_owner_for_update(conversation_id)).first()
            if row is None or not _may_write(row.owner, owner_key):
                return False
            conn.execute(sa.update(conversations_table).where(conversations_table.c.id == conversation_id).values(**values))
        return True

    def _writable(self, conn: sa.Connection, conversation_id: str, owner: str | None, lock: bool):
        c = conversations_table.c
        query = sa.select(c.owner, c.title).where(c.id == conversation_id)
        row = conn.execute(query.with_for_update() if lock else query).first() if is_id(conversation_id) else None
        if row is None or not _may_write(row.owner, self.limits.owner(owner)):
            raise ConversationNotFoundError(NOT_FOUND)
        return row

    # ------------------------------------------------------------------------------------ the maintainer's records

    def log_gap(self, question: str, reason: str = "abstained") -> Gap:
        """Record a question the assistant could not answer, shown later by `python -m assistant gaps`."""
        row = self.limits.gap_row(question, reason, self._now())
        with self._tx(write=True) as conn:
            conn.execute(sa.insert(gaps_table).values(**row))
        self._maybe_purge()
        return Gap(row["question"], row["reason"], row["created_at"])

    def log_feedback(self, question: str, answer: str, source_ids: Sequence[str], score: int) -> Feedback:
        """Record feedback not tied to a stored turn (the old log's way); a thumbs down (0) is also a gap.
        Feedback on a stored turn goes through `set_feedback`, which keeps it once."""
        if isinstance(score, bool) or score not in (0, 1):
            raise InputError("feedback is 1 (thumbs up) or 0 (thumbs down)")
        now = self._now()
        row = self.limits.feedback_row(question, answer, list(source_ids), score, now)
        with self._tx(write=True) as conn:
            conn.execute(sa.insert(feedback_table).values(**row))
            if score == 0:
                conn.execute(sa.insert(gaps_table).values(**self.limits.gap_row(question, "thumbs-down", now)))
        self._maybe_purge()
        return Feedback(row["question"], row["answer"], tuple(json.loads(row["sources"])), score, now)

    def gaps(self, since: datetime | None = None) -> list[Gap]:
        """Logged gaps, oldest first (from `since` on, if given)."""
        c = gaps_table.c
        query = sa.select(c.question, c.reason, c.created_at).order_by(c.created_at, c.id)
        if since is not None:
            query = query.where(gaps_table.c.created_at >= since)
        with self._tx() as conn:
            return [Gap(r.question, r.reason, r.created_at) for r in conn.execute(query)]

    def feedback(self, since: datetime | None = None) -> list[Feedback]:
        """Feedback records, oldest first (from `since` on, if given)."""
        c = feedback_table.c
        query = sa.select(c.question, c.answer, c.sources, c.score, c.created_at).order_by(c.created_at, c.id)
        if since is not None:
            query = query.where(feedback_table.c.created_at >= since)
        with self._tx() as conn:
            return [Feedback(r.question, r.answer, tuple(_ids(r.sources)), r.score, r.created_at) for r in conn.execute(query)]

    # ------------------------------------------------------------------------------------ retention

    def purge(self, older_than_days: int | None = None) -> Purged:
        """Delete gaps, feedback and conversations (with their turns) untouched for more than this many days
        (default `Settings.retention_days`; 0 keeps everything). Runs when the store opens and then at most
        once an hour as it is used."""
        days = self.settings.retention_days if older_than_days is None else older_than_days
        if days < 0:
            raise InputError("the number of days to keep must be 0 (forever) or more")
        with self._purge_lock:
            self._purged_at = time.monotonic()
        if days == 0:
            return Purged()
        cutoff = self._now() - timedelta(days=days)
        with self._tx(write=True) as conn:
            result = _delete_conversations(conn, conversations_table.c.updated_at < cutoff)
            result = replace(
                result,
                feedback=conn.execute(sa.delete(feedback_table).where(feedback_table.c.created_at < cutoff)).rowcount,
                gaps=conn.execute(sa.delete(gaps_table).where(gaps_table.c.created_at < cutoff)).rowcount,
            )
        if any((result.conversations, result.feedback, result.gaps)):
            log.info("purged what was older than %d days: %s", days, result)
        return result

    def purge_all(self) -> Purged:
        """Delete every conversation, turn, feedback record and gap (the schema and the import records stay,
        so the old logs are not imported again)."""
        with self._tx(write=True) as conn:
            result = _delete_conversations(conn, sa.true())
            feedback = conn.execute(sa.delete(feedback_table)).rowcount
            return replace(result, feedback=feedback, gaps=conn.execute(sa.delete(gaps_table)).rowcount)

    def _maybe_purge(self) -> None:
        if not self.settings.retention_days:
            return
        with self._purge_lock:
            due = time.monotonic() - self._purged_at >= PURGE_EVERY_SECONDS
            if due:
                self._purged_at = time.monotonic()
        if due:
            try:
                self.purge()
            except StateError as exc:  # retention can wait an hour; the write that triggered it is done
                log.warning("purge failed: %s", exc)


# ---------------------------------------------------------------------------------------------------- one store per process


_STORES: OrderedDict[tuple, StateStore] = OrderedDict()
_STORES_LOCK = threading.Lock()
#: Stores kept open per process (a server has one; a test session opens many folders).
_STORES_KEPT = 8


def open_store(settings: Settings) -> StateStore:
    """The process's store for these settings' database and state folder: opened (schema upgraded, old logs
    imported) on first use, then shared by every thread. A forked process opens its own."""
    folder = str(Path(settings.state_dir).resolve())
    key = (os.getpid(), settings.database_url.strip(), folder, settings.retention_days)
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is not None:
            _STORES.move_to_end(key)
            return store
        store = StateStore(settings)
        _STORES[key] = store
        while len(_STORES) > _STORES_KEPT:
            _, old = _STORES.popitem(last=False)
            if old is not store:
                old.close()
        return store


def existing_store(settings: Settings) -> StateStore | None:
    """The store if there is anything to read: always for PostgreSQL; for SQLite only when the database file
    or old logs to import exist, so that reading an empty state folder creates nothing."""
    if not settings.database_url.strip():
        folder = Path(settings.state_dir)
        if not any((folder / name).is_file() for name in (DB_FILE, GAPS_FILE, FEEDBACK_FILE)):
            return None
    return open_store(settings)


# ---------------------------------------------------------------------------------------------------- helpers


def _owner_for_update(conversation_id: str) -> sa.Select:
    """The conversation's owner, its row locked until the end of the transaction (PostgreSQL)."""
    c = conversations_table.c
    return sa.select(c.owner).where(c.id == conversation_id).with_for_update()


def _delete_conversations(conn: sa.Connection, where) -> Purged:
    chosen = sa.select(conversations_table.c.id).where(where)
    deleted_turns = conn.execute(sa.delete(turns_table).where(turns_table.c.conversation_id.in_(chosen))).rowcount
    deleted = conn.execute(sa.delete(conversations_table).where(where)).rowcount
    return Purged(conversations=deleted, turns=deleted_turns)


@functools.cache
def _append_sql(backend: str, owned: bool):
    """`append_turn`'s statements, built once: they run for every question asked.

    Both count the turn on the conversation's row (`turn_count`), if this caller may write to it and it is not
    full, marking it active and naming it after its first question; the count before is the new turn's
    position. The row's lock orders appends from every process; PostgreSQL, when a statement waits for that
    lock, re-reads the row once it is free, so the count is the latest. PostgreSQL: one statement (an INSERT
    fed by an UPDATE ... RETURNING). SQLite, which runs no UPDATE inside a WITH: (the UPDATE, the INSERT)."""
    bp = sa.bindparam
    c = conversations_table.c
    writable = c.owner.is_(None)
    if owned:
        writable = sa.or_(writable, c.owner == bp("who", type_=sa.String))
    bump = (
        sa.update(conversations_table)
        .where(c.id == bp("cid", type_=sa.String), c.turn_count < bp("most", type_=sa.Integer), writable)
        .values(
            turn_count=c.turn_count + 1,
            updated_at=bp("at", type_=UtcDateTime),
            title=sa.case((c.title == "", bp("title", type_=sa.String)), else_=c.title),
        )
        .returning((c.turn_count - 1).label("position"))
    )
    columns = ["conversation_id", "position", "question", "answer", "error", "created_at"]
    values = [
        bp("cid", type_=sa.String), None, bp("q", type_=sa.Text), bp("a", type_=sa.Text), bp("err", type_=sa.Text),
        bp("at", type_=UtcDateTime),
    ]
    if backend == "sqlite":
        values[1] = bp("pos", type_=sa.Integer)
        return bump, sa.insert(turns_table).values(dict(zip(columns, values)))
    counted = bump.cte("counted")
    values[1] = counted.c.position
    return sa.insert(turns_table).from_select(columns, sa.select(*values)).add_cte(counted).returning(turns_table.c.position)


def _may_write(row_owner: str | None, owner: str | None) -> bool:
    """An owner's conversation is theirs alone; one without an owner belongs to whoever holds its id."""
    return row_owner is None or row_owner == owner

def _ids(text: str) -> list[str]:
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _answer_or_none(text: str | None) -> Answer | None:
    if text is None:
        return None
    try:
        return Answer.from_json(text)
    except StateError as exc:
        log.warning("%s", exc)
        return None


def _turn(row) -> Turn:
    answer = _answer_or_none(row.answer)
    error = row.error or ("" if answer is not None or row.answer is None else "this answer could not be read back")
    return Turn(row.position, row.question, answer, error, row.feedback, row.created_at)
