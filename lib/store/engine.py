"""Opening the history database: URL resolution, engine set-up, migrations, readable errors.

SQLite (the default, one file per user) is tuned for many threads and processes writing at
once: WAL (readers never block the writer), a busy timeout, and write transactions that take
the write lock up front (BEGIN IMMEDIATE) so a waiting writer always honours the busy timeout
instead of failing with "database is locked" when a read transaction tries to upgrade.
PostgreSQL uses psycopg 3 and the same code.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

SETTING = "SEEDSCOPE_DATABASE_URL"
BUSY_TIMEOUT_MS = 30_000
# Execution option that marks a connection as a writer (BEGIN IMMEDIATE on SQLite).
WRITE_OPTION = "seedscope_write"
# Any fixed 64-bit number: serialises concurrent start-up migrations on PostgreSQL.
_PG_MIGRATION_LOCK = 0x5EED5C09E


class StoreError(Exception):
    """The history database cannot be used; the message says why and names the setting."""


def default_database_url() -> str:
    """SQLite file in the per-user data directory (created if missing)."""
    directory = platformdirs.user_data_path("seedscope", appauthor=False)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(
            f"cannot create the data directory {directory} ({error.strerror}); "
            f"set {SETTING} to a writable location"
        ) from None
    return URL.create("sqlite", database=str(directory / "seedscope.db")).render_as_string()


def resolve_url(raw: str) -> URL:
    """Parse and normalise a database URL; only SQLite and PostgreSQL are supported."""
    try:
        url = make_url(raw.strip())
    except (exc.ArgumentError, ValueError):
        raise StoreError(
            f"{SETTING} is not a database URL: expected e.g. sqlite:////path/seedscope.db "
            "or postgresql+psycopg://user:password@host/dbname"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise StoreError(
                f"{SETTING} uses the driver {driver!r}; Seedscope talks to PostgreSQL with "
                "psycopg 3: write the URL as postgresql+psycopg://..."
            )
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise StoreError(f"{SETTING}: the SQLite driver {driver!r} is not supported")
        return url.set(drivername="sqlite+pysqlite")
    raise StoreError(
        f"{SETTING} names the database {backend!r}; Seedscope supports sqlite and postgresql"
    )


def display_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _check_sqlite_path(url: URL) -> None:
    if _is_memory(url) or str(url.database).startswith("file:"):
        return
    path = Path(str(url.database)).expanduser()
    parent = path.parent
    problem = None
    if path.is_dir():
        problem = "it is a directory"
    elif not parent.exists():
        problem = f"the directory {parent} does not exist"
    elif not parent.is_dir():
        problem = f"{parent} is not a directory"
    elif not os.access(parent, os.W_OK | os.X_OK):
        problem = f"the directory {parent} is not writable"
    elif path.exists() and not os.access(path, os.R_OK | os.W_OK):
        problem = "the file is not readable and writable"
    if problem:
        raise StoreError(
            f"cannot use the SQLite database {path}: {problem}; set {SETTING} to a writable path"
        )


def _set_sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Autocommit at the driver level: transactions are begun explicitly in _begin_sqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        # NORMAL is durable against process crashes in WAL mode (committed runs survive a
        # SIGKILL); only an OS crash or power cut can lose the last commits.
        cursor.execute("PRAGMA synchronous = NORMAL")
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() not in ("wal", "memory"):
            _enable_wal(cursor)
    finally:
        cursor.close()


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    # Switching to WAL needs a moment of exclusive access; when several processes create the
    # file at once, the busy handler is not always consulted, so retry briefly.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _begin_sqlite(connection: Any) -> None:
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    # Straight to the driver: exec_driver_sql's event machinery cost as much as the commit.
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _guard_fork(engine: Engine) -> None:
    # A pooled connection must never cross a fork: the child gets fresh connections.
    @event.listens_for(engine, "connect")
    def _remember_pid(_dbapi_connection: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    def _check_pid(_dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if record.info.get("pid") != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None
            raise exc.DisconnectionError("connection was created in another process")


def create_store_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        _check_sqlite_path(url)
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if _is_memory(url):
            kwargs["poolclass"] = StaticPool  # one shared in-memory database, not one per thread
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _set_sqlite_pragmas)
        event.listen(engine, "begin", _begin_sqlite)
    else:
        engine = create_engine(
            url,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10, "application_name": "seedscope"},
        )
    _guard_fork(engine)
    return engine


def explain_error(error: BaseException, url: URL, doing: str) -> StoreError:
    """A StoreError for a database failure: what failed, where, and which setting to check."""
    where = display_url(url)
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    if isinstance(error, exc.IntegrityError):
        return StoreError(f"{doing} was refused by {where}: {detail}")
    if url.get_backend_name() == "sqlite" and "locked" in detail:
        hint = f"another process kept the database busy for over {BUSY_TIMEOUT_MS // 1000} s"
    elif url.get_backend_name() == "sqlite":
        hint = f"check that {url.database} is a writable SQLite file or set {SETTING}"
    else:
        hint = f"check that the server is running and {SETTING} is right"
    return StoreError(f"{doing} failed for {where}: {detail} ({hint})")


@contextmanager
def translated_errors(url: URL, doing: str) -> Iterator[None]:
    try:
        yield
    except StoreError:
        raise
    except (exc.SQLAlchemyError, sqlite3.Error, OSError) as error:
        raise explain_error(error, url, doing) from error
    except ModuleNotFoundError as error:
        raise StoreError(
            f"{SETTING} needs the {error.name!r} package: pip install 'seedscope[postgres]'"
        ) from None


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "seedscope.store:migrations")
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe when several processes start at once."""
    config = _alembic_config()
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    current = current_revision(engine)
    if current is not None and current not in known:
        raise StoreError(
            f"the database was written by a newer Seedscope (schema revision {current}); "
            f"upgrade Seedscope or point {SETTING} at another database"
        )
    if revision == "head" and current == head_revision():
        return
    writer = engine.execution_options(**{WRITE_OPTION: True})
    # Inside one write transaction: the loser of a start-up race waits here, then finds the
    # schema already current and does nothing.
    with (
        writer.connect() as connection,
        _sqlite_foreign_keys_off(connection),
        connection.begin(),
    ):
        if engine.dialect.name == "postgresql":
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            connection.execute(lock, {"key": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, revision)
        except CommandError as error:
            raise StoreError(f"database migration failed: {error}") from None
        if engine.dialect.name == "sqlite":
            # With foreign keys off nothing checked them: check before committing.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise StoreError(f"database migration broke {len(broken)} run references")


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite's recommended way to rebuild a table others refer to (batch migrations): with
    foreign keys on, dropping the old `experiments` would cascade-delete every run. The pragma
    only takes effect outside a transaction, so it is set on the driver connection first."""
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    driver.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys = ON")
