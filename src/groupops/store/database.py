"""Engines, sessions and schema migrations of the operational store (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from groupops.errors import StoreError

__all__ = ["Database", "alembic_config", "create_store_engine", "upgrade_schema"]

_MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_store_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout; its folder is created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the packaged migrations and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_schema(engine: Engine) -> None:
    """Apply every migration not yet applied (all branches: ``heads``), all or nothing.

    On a SQLite file the migrations run in one explicit transaction: Python's sqlite3 commits
    each ``CREATE TABLE`` on its own otherwise, so a process killed while creating the schema
    left half of it behind and every later start failed on "table … already exists".
    """
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    migrating = _transactional_ddl_engine(engine) or engine
    try:
        with migrating.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
    except SQLAlchemyError as error:
        raise StoreError(f"could not migrate the operational store at {engine.url!r}: {error}") from error
    finally:
        if migrating is not engine:
            migrating.dispose()


def _transactional_ddl_engine(engine: Engine) -> Engine | None:
    """For a SQLite file, an engine whose transactions cover DDL too (``BEGIN IMMEDIATE`` … ``COMMIT``).

    ``BEGIN IMMEDIATE`` also takes the write lock at once, so two processes opening a new store
    at the same time migrate one after the other. ``None`` for other databases.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    migrating = create_engine(url, connect_args={"check_same_thread": False}, poolclass=NullPool)
    event.listen(migrating, "connect", _sqlite_pragmas)
    event.listen(migrating, "connect", _without_implicit_transactions)
    event.listen(migrating, "begin", _begin_immediate)
    return migrating


def _without_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver emits no BEGIN of its own


def _begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The operational store: one engine and a session factory; migrated when opened."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = create_store_engine(url)
        if migrate:
            upgrade_schema(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


@lru_cache(maxsize=8)
def _cached_database(url: str) -> Database:
    return Database(url)
