from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, event, inspect, select

from groupops.store import database as database_module
from groupops.store.database import Database
from groupops.store.models import AuditLog, Base, Group, GroupMembership, Member, Product
from groupops.store.workspace import Workspace, record_audit


def test_migrations_create_every_table_and_match_the_models(workspace: Workspace) -> None:
    engine = workspace.database.engine
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == [], f"models and migrations disagree: {differences}"


def test_migrating_twice_is_harmless(workspace: Workspace) -> None:
    Database(workspace.database.url)  # second open runs `upgrade heads` again


def test_times_come_back_timezone_aware_utc(workspace: Workspace) -> None:
    shanghai = timezone(timedelta(hours=8))
    with workspace.database.session() as session:
        session.add(
            Group(
                id="wr1",
                name="核心会员群",
                kind="core_user",
                created_at=datetime(2026, 1, 2, 8, tzinfo=shanghai),
            )
        )
    with workspace.database.session() as session:
        group = session.get(Group, "wr1")
        assert group is not None
        assert group.created_at == datetime(2026, 1, 2, 0, tzinfo=UTC)
        assert group.created_at.tzinfo is not None


def test_naive_datetimes_are_refused(workspace: Workspace) -> None:
    with pytest.raises(Exception, match="naive datetime"), workspace.database.session() as session:
        session.add(Member(id="wm1", first_seen_at=datetime(2026, 1, 1)))


def test_hostile_strings_are_stored_verbatim(workspace: Workspace) -> None:
    hostile = "Robert'); DROP TABLE members;-- <script>alert(1)</script>"
    with workspace.database.session() as session:
        session.add(Member(id="wm-hostile", name=hostile, tags=["a", hostile]))
        session.add(Group(id="g", name=hostile))
        session.add(GroupMembership(group_id="g", member_id="wm-hostile", group_nickname=hostile))
    with workspace.database.session() as session:
        member = session.get(Member, "wm-hostile")
        assert member is not None and member.name == hostile and member.tags == ["a", hostile]
        assert session.scalar(select(GroupMembership.group_nickname)) == hostile


def test_rollback_on_error_keeps_the_store_as_it_was(workspace: Workspace) -> None:
    with pytest.raises(RuntimeError), workspace.database.session() as session:
        session.add(Product(sku="SKU1", name="卫衣"))
        raise RuntimeError("crash mid-way")
    with workspace.database.session() as session:
        assert session.get(Product, "SKU1") is None


def test_audit_log_records_actor_and_detail(workspace: Workspace) -> None:
    with workspace.database.session() as session:
        record_audit(
            session, "alice", "product.update", "product", "SKU1", field="name", before="a", after="b"
        )
    with workspace.database.session() as session:
        entry = session.scalars(select(AuditLog)).one()
        assert (entry.actor, entry.action, entry.target_id) == ("alice", "product.update", "SKU1")
        assert entry.detail == {"field": "name", "before": "a", "after": "b"}
        assert entry.at.tzinfo is not None


def test_a_migration_that_dies_midway_leaves_no_half_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: the schema is created in one transaction, so a crash leaves nothing to trip over."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    original = database_module._transactional_ddl_engine
    created: list[str] = []

    def dying_engine(engine: Engine) -> Engine | None:
        migrating = original(engine)
        assert migrating is not None

        def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("CREATE TABLE"):
                created.append(statement)
                if len(created) == 5:
                    raise RuntimeError("killed while creating the schema")

        event.listen(migrating, "before_cursor_execute", before)
        return migrating

    monkeypatch.setattr(database_module, "_transactional_ddl_engine", dying_engine)
    with pytest.raises(RuntimeError):
        Database(url)
    tables = sqlite3.connect(tmp_path / "store.db").execute("SELECT name FROM sqlite_master").fetchall()
    assert len(created) == 5 and tables == []
    monkeypatch.setattr(database_module, "_transactional_ddl_engine", original)
    reopened = Database(url)  # a later start migrates from scratch
    assert "audit_log" in inspect(reopened.engine).get_table_names()
