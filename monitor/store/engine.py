"""Engines (one per database per process) and the migrations run at open.

SQLite: WAL, so the review page reads while the monitor writes; writers take the lock up front
(``BEGIN IMMEDIATE``) instead of failing halfway on a busy database; readers begin deferred. A new
connection per use (no pool), as the sqlite3 code before: a fresh connection sees the latest
commits, and a store file replaced on disk is never read through a stale handle.

PostgreSQL (psycopg 3): a small pool per process; migrations take an advisory lock, so nodes
starting together migrate once.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from . import legacy
from .rows import now_db
from .urls import StoreError, StoreURL

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
# Alembic logs a line per plugin and per step at INFO; the store logs the one line that matters.
# (Alembic is imported only when a store opens: loading a config, check-config, need not pay for it.)
logging.getLogger("alembic").setLevel(logging.WARNING)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant: the key of PostgreSQL's advisory lock held while migrating.
PG_MIGRATION_LOCK = 0x4C534857
READ_ONLY = "lakeshore_read"

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
# Databases this process has migrated: later opens (the review page opens one per request) skip
# the version check.
_ready: set[str] = set()


def _alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


@functools.cache
def known_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions())


def _sqlite_engine(url: StoreURL) -> Engine:
    engine = create_engine(
        url.url, poolclass=NullPool,
        # isolation_level=None: the driver leaves transactions to us (the events below).
        connect_args={"timeout": 30, "check_same_thread": False, "isolation_level": None},
    )  # fmt: skip

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _rec: Any) -> None:
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "" if conn.get_execution_options().get(READ_ONLY) else " IMMEDIATE"
        conn.exec_driver_sql("BEGIN" + mode)

    return engine


def get_engine(url: StoreURL) -> Engine:
    key = url.url.render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            if url.sqlite_path is not None:
                engine = _sqlite_engine(url)
            else:
                engine = create_engine(url.url, pool_size=5, max_overflow=20, pool_pre_ping=True)
            _engines[key] = engine
    return engine


def dispose_all() -> None:
    """Close every pooled connection (tests dropping a database; a forked process)."""
    from .notify import stop_all

    stop_all()
    with _engines_lock:
        for e in _engines.values():
            e.dispose()
        _engines.clear()
        _ready.clear()


def _wal(engine: Engine) -> None:
    """Switch a new database to WAL. The switch needs the database to itself and SQLite does not
    wait for it (no busy handler): when a camera thread, the review page or a test opens the same
    new store at that moment, "database is locked" comes at once. Try again for a while."""
    deadline = time.monotonic() + 30
    while True:
        raw = engine.raw_connection()  # outside any transaction: the switch refuses to run in one
        try:
            raw.driver_connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[union-attr]
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        finally:
            raw.close()


def _current(c: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(c).get_current_revision()


def _check_not_newer(rev: str | None, where: str) -> None:
    if rev is not None and rev not in known_revisions():
        raise StoreError(
            f"{where} has schema revision {rev}, newer than this program's {head_revision()}: "
            "update the program rather than use an old one on it"
        )


def migrate(engine: Engine, where: str) -> None:
    """Bring the schema to the newest revision, in one transaction that holds the migration lock.

    Cheap when nothing is to do (one read of the version). Old SQLite stores of the sqlite3 code
    (its ``schema_version`` 1-5) are first brought to version 5, which is revision 0001.
    """
    from alembic import command

    with engine.connect().execution_options(**{READ_ONLY: True}) as c:
        try:
            rev = _current(c)
        except SQLAlchemyError:
            rev = None
    _check_not_newer(rev, where)
    if rev == head_revision():
        return
    with engine.begin() as c:  # SQLite: BEGIN IMMEDIATE, so concurrent openers queue here
        if c.dialect.name == "postgresql":
            c.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
        rev = _current(c)
        _check_not_newer(rev, where)
        if rev == head_revision():
            return
        if rev is None and c.dialect.name == "sqlite":
            old = legacy.legacy_version(c)
            if old is not None:
                if old > legacy.LEGACY_VERSION:
                    raise StoreError(
                        f"{where} has schema version {old}, newer than this program knows: update the "
                        "program rather than use an old one on it"
                    )
                legacy.upgrade_to_last(c, old, now_db())
                command.stamp(_alembic_config(c), "0001")
                log.info("alert store %s: schema version %d of the old store taken over", where, old)
            elif "alerts" in inspect(c).get_table_names():
                raise StoreError(f"{where} holds an alerts table but no schema version: not an alert store")
        command.upgrade(_alembic_config(c), "head")
    log.info("alert store %s migrated to schema revision %s", where, head_revision())


def open_engine(url: StoreURL) -> Engine:
    """The engine of ``url``, its database reachable and migrated; StoreError says what is wrong."""
    where = url.display
    key = url.url.render_as_string(hide_password=False)
    try:
        if key in _ready and (url.sqlite_path is None or url.sqlite_path.exists()):
            return get_engine(url)
        if url.sqlite_path is not None:
            url.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        engine = get_engine(url)
        if url.sqlite_path is not None:
            _wal(engine)
        migrate(engine, where)
        _ready.add(key)
        return engine
    except StoreError:
        raise
    except OSError as e:
        raise StoreError(f"cannot open the alert store {where}: {e}") from e
    except sqlite3.OperationalError as e:
        raise StoreError(f"cannot open the alert store {where}: {e}") from None
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{where} is not a usable alert store: {e}") from None
    except DBAPIError as e:
        orig = e.orig
        if isinstance(orig, sqlite3.DatabaseError) and not isinstance(orig, sqlite3.OperationalError):
            raise StoreError(f"{where} is not a usable alert store: {orig}") from None
        raise StoreError(f"cannot open the alert store {where}: {str(orig).strip()}") from None
    except SQLAlchemyError as e:
        raise StoreError(f"cannot open the alert store {where}: {e}") from None
