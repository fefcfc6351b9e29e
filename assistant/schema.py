"""The state database's schema, and what brings any database up to it when a store opens: its tables, the
migrations from each version to the next, and the one-time import of the old JSON-lines logs.

Schema (version `LATEST`; `schema_version` lists the versions applied):

    conversations  id (22 url-safe chars, the chat's address) · share_token (another 22, read-only) ·
                   owner (e-mail or NULL) · title · turn_count · created_at · updated_at
    turns          conversation_id → conversations (deleted with it) · position (0, 1, ...) · question ·
                   answer (JSON, `Answer.to_json`) · error · feedback (0/1 once given) · created_at
    feedback       turn_id → turns (NULL once the conversation is deleted, or from the old log) · question ·
                   answer (text) · sources (JSON list of ids) · score · created_at
    gaps           question · reason · created_at
    imports        one row per JSON-lines file imported (never twice)

Migrations run when a store opens (`migrate`; `upgrade` runs them alone): one version per transaction, under
the store's lock (`Database.exclusive`: PostgreSQL, an advisory lock; SQLite, `BEGIN IMMEDIATE`), so that
processes opening a database at once upgrade it once. A database newer than this code is refused, and so is
one holding tables of these names that are not ours. Then the old logs (`gaps.jsonl`, `feedback.jsonl` in
`state_dir`) are imported once, under the same lock, and renamed `*.imported` (`import_logs`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from .config import Settings
from .database import Database
from .errors import StateSchemaError
from .records import Limits

log = logging.getLogger(__name__)

GAPS_FILE = "gaps.jsonl"
FEEDBACK_FILE = "feedback.jsonl"


class UtcDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes on both back-ends (SQLite keeps no zone: it stores UTC and gets UTC back)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the state store keeps aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id_column(name: str, *args, **kw) -> sa.Column:
    return sa.Column(name, sa.String(32), *args, **kw)


# ---------------------------------------------------------------------------------------------------- tables

# The current schema, for the store's statements. Each migration declares the tables as they were at its
# version, so that upgrading an old database never depends on what the code looks like today.
metadata = sa.MetaData()
schema_version_table = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)
gaps_table = sa.Table(
    "gaps", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
)
feedback_table = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("sources", sa.Text, nullable=False),
    sa.Column("score", sa.SmallInteger, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    sa.Column("turn_id", sa.Integer, sa.ForeignKey("turns.id", ondelete="SET NULL"), nullable=True, unique=True),
)
imports_table = sa.Table(
    "imports", metadata,
    sa.Column("name", sa.String(1000), primary_key=True),
    sa.Column("kept", sa.Integer, nullable=False),
    sa.Column("skipped", sa.Integer, nullable=False),
    sa.Column("imported_at", UtcDateTime, nullable=False),
)
conversations_table = sa.Table(
    "conversations", metadata,
    _id_column("id", primary_key=True),
    _id_column("share_token", nullable=False, unique=True),
    sa.Column("owner", sa.String(320), nullable=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("turn_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False, index=True),
    sa.Index("ix_conversations_owner_updated", "owner", "updated_at"),
)
turns_table = sa.Table(
    "turns", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _id_column("conversation_id", sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("feedback", sa.SmallInteger, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("conversation_id", "position", name="uq_turns_conversation_position"),
)
TABLES = ("schema_version", "gaps", "feedback", "imports", "conversations", "turns")


# ---------------------------------------------------------------------------------------------------- migrations


def _v1_logs(conn: sa.Connection) -> None:
    """Version 1: the two logs of the JSON-lines era, and the record of imported files."""
    md = sa.MetaData()
    sa.Table(
        "schema_version", md,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("applied_at", UtcDateTime, nullable=False),
    )
    sa.Table(
        "gaps", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    )
    sa.Table(
        "feedback", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("score", sa.SmallInteger, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    )
    sa.Table(
        "imports", md,
        sa.Column("name", sa.String(1000), primary_key=True),
        sa.Column("kept", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("imported_at", UtcDateTime, nullable=False),
    )
    md.create_all(conn)


def _v2_conversations(conn: sa.Connection) -> None:
    """Version 2: conversations and their turns; feedback points at the turn it was given on (once)."""
    md = sa.MetaData()
    sa.Table(
        "conversations", md,
        _id_column("id", primary_key=True),
        _id_column("share_token", nullable=False, unique=True),
        sa.Column("owner", sa.String(320), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("turn_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False, index=True),
        sa.Index("ix_conversations_owner_updated", "owner", "updated_at"),
    )
    sa.Table(
        "turns", md,
        sa.Column("id", sa.Integer, primary_key=True),
        _id_column("conversation_id", sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("feedback", sa.SmallInteger, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("conversation_id", "position", name="uq_turns_conversation_position"),
    )
    md.create_all(conn)
    conn.exec_driver_sql("ALTER TABLE feedback ADD COLUMN turn_id INTEGER REFERENCES turns (id) ON DELETE SET NULL")
    conn.exec_driver_sql("CREATE UNIQUE INDEX ix_feedback_turn_id ON feedback (turn_id)")


#: Migration n+1 brings a database from version n to n+1. Append; never change one that has shipped.
MIGRATIONS: tuple[Callable[[sa.Connection], None], ...] = (_v1_logs, _v2_conversations)
LATEST = len(MIGRATIONS)


def migrate(db: Database, target: int = LATEST) -> int:
    """Bring the schema up to `target`, one version per transaction under the store's lock; returns the
    version. Quick when it is current: one read, no lock."""
    version = current_version(db)
    if version >= target:
        return version
    while True:
        with db.exclusive() as conn:
            version = current_version(db, conn)
            if version >= target:
                return version
            MIGRATIONS[version](conn)
            conn.execute(sa.insert(schema_version_table).values(version=version + 1, applied_at=db.clock()))
        log.info("state database %s upgraded to schema version %d", db.where, version + 1)


def current_version(db: Database, conn: sa.Connection | None = None) -> int:
    """The schema version (0 for an empty database). Refuses one newer than this code, or one that holds
    tables of these names but no version (not this store's)."""
    if conn is None:
        with db.tx() as c:
            return current_version(db, c)
    names = set(sa.inspect(conn).get_table_names())
    if "schema_version" not in names:
        ours = sorted(names & set(TABLES))
        if ours:
            raise StateSchemaError(
                f"the state database {db.where} has tables named {', '.join(ours)} but no schema_version: "
                "it is not this assistant's; point ASSISTANT_DATABASE_URL at a database of its own"
            )
        return 0
    version = conn.execute(sa.select(sa.func.max(schema_version_table.c.version))).scalar() or 0
    if version > LATEST:
        raise StateSchemaError(
            f"the state database {db.where} is at schema version {version}, newer than this version of the "
            f"assistant knows ({LATEST}): upgrade the assistant, or point it at another database"
        )
    return version


def upgrade(settings: Settings, target: int = LATEST) -> int:
    """Create or upgrade the schema (to `target`, the latest by default) and close; returns the version. Opening
    a store does this anyway; a deployment can run it once before starting its servers."""
    db = Database(settings, lambda: datetime.now(UTC))
    try:
        return migrate(db, target)
    finally:
        db.dispose()


# ---------------------------------------------------------------------------------------------------- the old logs


def import_logs(db: Database, folder: Path, limits: Limits) -> None:
    """Import `gaps.jsonl` and `feedback.jsonl` from `folder` (the state folder) once: bad lines are skipped,
    the rest kept with their times, cut and cleaned as the store does (`limits`); each file is recorded in
    `imports` by its absolute path, so that nothing at that path is imported again, whoever opens the store
    (a file written there again later is not counted twice), and renamed `*.imported`."""
    files = [folder / name for name in (GAPS_FILE, FEEDBACK_FILE) if (folder / name).is_file()]
    if not files:
        return
    done: list[Path] = []
    with db.exclusive() as conn:
        for path in files:
            name = str(path.resolve())
            if conn.execute(sa.select(imports_table.c.name).where(imports_table.c.name == name)).first():
                continue
            records, skipped = read_jsonl(path)
            fallback = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            if path.name == GAPS_FILE:
                rows = [limits.gap_row(r["question"], str(r.get("reason", "abstained")), _time(r, fallback)) for r in records]
                kept = _insert_many(conn, gaps_table, rows)
            else:
                rows = [row for r in records if (row := _legacy_feedback_row(limits, r, fallback)) is not None]
                skipped += len(records) - len(rows)
                kept = _insert_many(conn, feedback_table, rows)
            record = {"name": name[:1000], "kept": kept, "skipped": skipped, "imported_at": db.clock()}
            conn.execute(sa.insert(imports_table).values(**record))
            log.info("imported %d records from %s into the state database (%d bad lines skipped)", kept, path, skipped)
            done.append(path)
    for path in done:
        _rename_imported(path)


def read_jsonl(path: Path) -> tuple[list[dict], int]:
    """(the records of a JSON-lines log that have a text `question`, how many lines were skipped): a line cut
    by a crash, broken bytes or anything else is skipped and the rest kept."""
    records, skipped = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            skipped += 1
            continue
        if isinstance(record, dict) and isinstance(record.get("question"), str):
            records.append(record)
        else:
            skipped += 1
    return records, skipped


def _legacy_feedback_row(limits: Limits, record: dict, fallback: datetime) -> dict | None:
    score = record.get("score")
    if isinstance(score, bool) or score not in (0, 1):
        return None
    sources = record.get("sources")
    ids = [str(s) for s in sources] if isinstance(sources, list) else []
    return limits.feedback_row(record["question"], str(record.get("answer", "")), ids, int(score), _time(record, fallback))


def _time(record: dict, fallback: datetime) -> datetime:
    raw = record.get("time")
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return fallback


def _insert_many(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> int:
    for start in range(0, len(rows), 1000):
        conn.execute(sa.insert(table), rows[start : start + 1000])
    return len(rows)


def _rename_imported(path: Path) -> None:
    target = path.with_name(path.name + ".imported")
    n = 2
    while target.exists():
        target = path.with_name(f"{path.name}.imported-{n}")
        n += 1
    try:
        path.rename(target)
    except OSError as exc:  # recorded as imported already: it will not be imported again
        log.warning("imported %s but could not rename it: %s", path, exc)
