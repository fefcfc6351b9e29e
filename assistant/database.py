"""Connections to the state database: which database it is, how each back-end is set up, and the transactions
and locks the state store (assistant/state.py) and its schema (assistant/schema.py) run in. Nothing else in
the assistant talks to the database driver.

Which: SQLite in `<state_dir>/assistant.db` by default (nothing to install or start), or PostgreSQL when
`Settings.database_url` (`ASSISTANT_DATABASE_URL`) names one, so that several server processes, on one machine
or several, keep one state (docs/deploy.md). A URL that cannot be used is one line of `StateDatabaseError`
that names the host (or file), never the password; so is a server that cannot be reached.

Why SQLAlchemy Core 2 with psycopg 3, and not an ORM or the raw drivers:

* Core, not the ORM: the store is a dozen short statements whose SQL matters (a turn counted on its
  conversation's row in the statement that inserts it, `UPDATE ... WHERE feedback IS NULL` so that feedback
  is kept once, an advisory lock around migrations). Its values are frozen dataclasses built from rows; an
  ORM's identity map, lazy loads and session-per-thread bookkeeping would add state to manage under
  Streamlit's thread per session, for nothing.
* Not raw `sqlite3` and `psycopg`: they differ in parameter style, time types, transaction control and DDL.
  Core writes each statement once for both, gives a thread-safe connection pool (whose events let us check a
  connection that sat idle, so a restarted server costs no error) and one exception hierarchy to turn into
  messages.
* psycopg 3 (SQLAlchemy 2.1's default PostgreSQL driver): maintained, and its binary wheel carries libpq, so
  nothing needs compiling or an apt package on the application machines.

How the back-ends differ, all of it here: SQLite runs in WAL mode (readers never wait for the writer) with a
busy timeout, and a writing transaction takes the write lock when it begins (`BEGIN IMMEDIATE`); PostgreSQL
gets a pool whose connections are checked after sitting idle, and the store's lock is an advisory lock.

Durability: a commit does not wait for the disk flush (SQLite: WAL with synchronous=NORMAL; PostgreSQL:
synchronous_commit=off on our connections). A crash of an assistant process loses nothing it committed; a
crash of the machine (SQLite) or of the database server (PostgreSQL) can lose the last fraction of a second
of turns and logs, but never corrupts the database or keeps a later write without an earlier one. On
PostgreSQL, waiting for the flush cost several times the rest of saving a turn (docs/deploy.md).

Nothing connects at import, nor when a `Database` is made: its first transaction does.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

from .config import Settings
from .errors import StateDatabaseError

DB_FILE = "assistant.db"
#: Seconds a SQLite writer waits for another's lock before giving up.
SQLITE_BUSY_SECONDS = 30
#: Seconds to wait for a PostgreSQL server to accept a connection.
CONNECT_TIMEOUT_SECONDS = 5
#: A pooled PostgreSQL connection idle for this long is checked before use.
IDLE_PING_SECONDS = 10
#: The advisory lock migrations and the import hold on PostgreSQL (any fixed number of our own).
_LOCK_KEY = zlib.crc32(b"ml-career-assistant state schema")
_EXPECTED = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


class Database:
    """One database's connections, transactions and locks: what a `StateStore` stands on, and all that the
    schema's migrations need. `clock` gives the time of the rows the schema writes for itself."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.engine = _make_engine(settings)
        self._writer = self.engine.execution_options(state_write=True)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.clock = clock
        self.backend: str = self.engine.dialect.name
        #: Where the data lives, for messages and logs: a file, or host:port/database (no password).
        self.where: str = _describe(self.engine.url)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def tx(self, write: bool = False) -> Iterator[sa.Connection]:
        """One transaction; a write one holds SQLite's write lock from its first statement. Failures to
        reach or use the database become one StateDatabaseError naming where it is."""
        try:
            with (self._writer if write else self.engine).begin() as conn:
                yield conn
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            raise StateDatabaseError(self._unavailable(exc)) from None

    def alone(self, statement: sa.Executable, params: dict):
        """Run one statement that is atomic by itself outside a transaction (PostgreSQL: no BEGIN and COMMIT
        round trips) and return the first column of its first row, or None."""
        try:
            with self._autocommit.connect() as conn:
                return conn.execute(statement, params).scalar()
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            raise StateDatabaseError(self._unavailable(exc)) from None

    @contextmanager
    def exclusive(self) -> Iterator[sa.Connection]:
        """A write transaction that also holds the store's lock: one process at a time migrates or imports."""
        with self.tx(write=True) as conn:
            if self.backend == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            yield conn

    def _unavailable(self, exc: sa_exc.DBAPIError) -> str:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        password = self.engine.url.password
        if password:
            reason = reason.replace(str(password), "***")
        if self.backend == "sqlite":
            return f"cannot use the state database {self.where}: {reason}"
        return (
            f"cannot reach the state database at {self.where}: {reason.removeprefix('connection failed: ')} "
            "(check ASSISTANT_DATABASE_URL and that the server is running)"
        )


# ---------------------------------------------------------------------------------------------------- which database


def _describe(url: sa.URL) -> str:
    """Where a URL points, for messages: host, port and database, never the user's password."""
    if url.get_backend_name() == "sqlite":
        return url.database or "(memory)"
    where = url.host or "localhost"
    if url.port:
        where += f":{url.port}"
    return f"{where}/{url.database}" if url.database else where


def _parse_url(text: str) -> sa.URL:
    """A SQLAlchemy URL for `ASSISTANT_DATABASE_URL`: PostgreSQL through psycopg 3, or a SQLite file."""
    try:
        url = sa.make_url(text)
    except (sa_exc.ArgumentError, ValueError):
        scheme = text.split("://", 1)[0] if "://" in text else ""
        host = _host_of(text)
        raise StateDatabaseError(
            "ASSISTANT_DATABASE_URL is not a database URL"
            + (f" (scheme {scheme!r}, host {host!r})" if host else "")
            + f": expected {_EXPECTED}"
        ) from None
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg", "postgres", "postgresql", "psycopg2"):
        if not url.host:
            raise StateDatabaseError(f"ASSISTANT_DATABASE_URL names no host: expected {_EXPECTED}")
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        if not url.database or url.database == ":memory:":
            raise StateDatabaseError("ASSISTANT_DATABASE_URL names an in-memory SQLite database, which no other process sees")
        return url.set(drivername="sqlite+pysqlite")
    raise StateDatabaseError(
        f"ASSISTANT_DATABASE_URL names a {url.drivername} database at {_describe(url)}: this assistant keeps its state "
        "in PostgreSQL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE) or, without the variable, in SQLite"
    )


def _host_of(text: str) -> str:
    """The host part of a URL we could not parse (after any `user:password@`), for the message only."""
    rest = text.split("://", 1)[1] if "://" in text else ""
    rest = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return rest.split(":", 1)[0][:100]


# ---------------------------------------------------------------------------------------------------- engines


def _make_engine(settings: Settings) -> sa.Engine:
    if settings.database_url.strip():
        url = _parse_url(settings.database_url.strip())
    else:
        folder = Path(settings.state_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateDatabaseError(f"cannot create the state folder {folder}: {exc.strerror or exc}") from None
        url = sa.URL.create("sqlite+pysqlite", database=str(folder / DB_FILE))
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = sa.create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        pool_timeout=30,
        hide_parameters=True,  # questions are users' words: keep them out of error messages and logs
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": "ml-career-assistant",
            # Commits return without waiting for the disk flush, as SQLite's synchronous=NORMAL does: a crash
            # of the database machine can lose the last moment's turns and logs, never corrupt or reorder
            # them. Waiting for the flush cost more than the rest of saving a turn (docs/deploy.md).
            "options": "-c synchronous_commit=off",
        },
    )
    event.listen(engine, "connect", _mark_used)
    event.listen(engine, "checkout", _ping_if_idle)
    event.listen(engine, "checkin", _mark_used)
    return engine


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """Check a pooled connection that sat idle for a while before using it (a restarted or failed-over server
    leaves dead ones in the pool): the pool then replaces it, and the caller never sees the error. A connection
    in steady use is not pinged, which saves a round trip on every question (SQLAlchemy's `pool_pre_ping`
    pings on every checkout). One that dies while in use fails that one call, as StateDatabaseError."""
    if time.monotonic() - record.info.get("used", 0.0) < IDLE_PING_SECONDS:
        return
    try:
        _ping(dbapi_connection)
    except Exception:  # any failure means this connection cannot be trusted; the pool tries a new one
        raise sa_exc.DisconnectionError() from None


def _ping(dbapi_connection) -> None:
    """A round trip on a psycopg connection, leaving no transaction open."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # no transaction left open by the ping
    try:
        dbapi_connection.execute("SELECT 1")
    finally:
        dbapi_connection.autocommit = autocommit


def _mark_used(_dbapi_connection, record) -> None:
    record.info["used"] = time.monotonic()


def _sqlite_connect(dbapi_connection, _record) -> None:
    # SQLAlchemy, not the sqlite3 module, decides when a transaction begins (see `_sqlite_begin`).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across crashes of the process in WAL mode
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A writing transaction takes the write lock when it begins (waiting up to the busy timeout for another
    # process's), never halfway through, where SQLite could only fail it.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("state_write") else "BEGIN")
