"""Shared fixtures: real temporary data directories on SQLite and (when available) PostgreSQL.

PostgreSQL tests need ``GROUPOPS_TEST_POSTGRES_URL`` (an admin URL such as
``postgresql://postgres@127.0.0.1:5433/postgres``; ``.ci/run`` starts a throwaway cluster and
sets it). Without it they skip with a loud reason locally and fail in CI (``CI=true``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from groupops.config import Settings
from groupops.store.workspace import Workspace

POSTGRES_ADMIN_URL = os.environ.get("GROUPOPS_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_service(available: bool, reason: str) -> None:
    """Skip loudly when a service is missing; in CI a missing service is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI requires this service: {reason}")
    pytest.skip(f"SERVICE MISSING — {reason}")


@pytest.fixture(scope="session")
def _postgres_admin_engine():  # type: ignore[no-untyped-def]
    if not POSTGRES_ADMIN_URL:
        yield None
        return
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, _postgres_admin_engine) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, empty operational-store URL: SQLite in tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'groupops.db'}"
        return
    require_service(_postgres_admin_engine is not None, "PostgreSQL (set GROUPOPS_TEST_POSTGRES_URL)")
    name = f"groupops_test_{uuid.uuid4().hex[:12]}"
    with _postgres_admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    yield url.render_as_string(hide_password=False)
    with _postgres_admin_engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for a fresh data directory, on each operational-store backend."""
    return Settings(data=tmp_path / "data", database_url=database_url)


@pytest.fixture
def workspace(settings: Settings) -> Iterator[Workspace]:
    """A fresh workspace (data directory + migrated store), on each backend."""
    opened = Workspace(settings)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace on SQLite only, for tests that do not touch backend differences."""
    opened = Workspace(Settings(data=tmp_path / "data"))
    yield opened
    opened.close()
