"""Hot-path rows written on the DBAPI cursor read back exactly as SQLAlchemy writes them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from groupops.bot._raw import insert_rows, raw_dialect, update_rows
from groupops.bot.outbox import _outbox_row, enqueue_rows
from groupops.bot.receiver import _claimable, _log_rows
from groupops.store.models.bot import BotMemberState, CallbackEventLog, OutboxItem
from groupops.store.workspace import Workspace

MOMENT = datetime(2024, 6, 3, 10, 0, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
HOSTILE = "'; DROP TABLE bot_outbox; -- <script>alert(1)</script> 签到 \\ % %s ?"


def test_outbox_rows_read_back_and_only_new_keys_are_returned(workspace: Workspace) -> None:
    rows = [
        _outbox_row(f"k{n}", "robot", f"g{n % 3}", {"text": HOSTILE, "n": n}, None, MOMENT)
        for n in range(1_100)
    ]
    with workspace.database.session() as session:
        assert enqueue_rows(session, rows[:10]) == {f"k{n}" for n in range(10)}
    with workspace.database.session() as session:
        assert enqueue_rows(session, rows) == {f"k{n}" for n in range(10, 1_100)}  # 3 statements
    with workspace.database.session() as session:
        stored = session.scalars(select(OutboxItem).where(OutboxItem.idempotency_key == "k1099")).one()
        count = len(session.scalars(select(OutboxItem.id)).all())
    assert count == 1_100 and stored.payload == {"text": HOSTILE, "n": 1099}
    assert stored.next_attempt_at == MOMENT and stored.next_attempt_at.tzinfo is not None
    assert stored.status == "pending" and stored.attempts == 0 and stored.claimed_at is None


def test_timestamps_are_stored_as_sqlalchemy_stores_them(workspace: Workspace) -> None:
    moment = datetime(2024, 6, 3, 2, 0, 0, 7, tzinfo=UTC)
    with workspace.database.session() as session:
        session.add(
            OutboxItem(
                idempotency_key="orm",
                channel="robot",
                target="g",
                payload={},
                next_attempt_at=moment,
                created_at=moment,
            )
        )
        session.flush()
        enqueue_rows(session, [_outbox_row("raw", "robot", "g", {}, None, moment)])
        stored = (
            session.connection()
            .execute(
                text(
                    "SELECT idempotency_key, next_attempt_at, created_at FROM bot_outbox ORDER BY idempotency_key"
                )
            )
            .all()
        )
        due = session.scalars(
            select(OutboxItem.idempotency_key).where(OutboxItem.next_attempt_at <= moment)
        ).all()
    assert stored[0][1:] == stored[1][1:]  # the same text (SQLite) or value (PostgreSQL)
    assert sorted(due) == ["orm", "raw"]


def test_member_rows_insert_and_update(workspace: Workspace) -> None:
    table = BotMemberState.__table__
    row = {
        "group_id": "g",
        "member_id": HOSTILE,
        "points_balance": 5,
        "checkin_streak": 1,
        "longest_streak": 1,
        "checkin_days": 1,
        "last_checkin_on": date(2024, 6, 3),
        "points_ledger": [{"reason": HOSTILE}],
        "faq_tickets_opened": 0,
        "rule_warnings": 0,
        "last_warning_at": None,
        "last_cared_on": None,
        "updated_at": MOMENT,
    }
    with workspace.database.session() as session:
        insert_rows(session.connection(), table, tuple(row), [row])  # type: ignore[arg-type]
    with workspace.database.session() as session:
        member_id = session.scalars(select(BotMemberState.id)).one()
        changed = {"id": member_id, "rule_warnings": 2, "last_warning_at": MOMENT + timedelta(hours=1)}
        assert (
            update_rows(session.connection(), table, "id", ("rule_warnings", "last_warning_at"), [changed])
            == 1
        )  # type: ignore[arg-type]
        assert (
            update_rows(
                session.connection(), table, "id", ("rule_warnings",), [{"id": -5, "rule_warnings": 1}]
            )
            == 0
        )  # type: ignore[arg-type]
    with workspace.database.session() as session:
        stored = session.scalars(select(BotMemberState)).one()
    assert stored.member_id == HOSTILE and stored.points_ledger == [{"reason": HOSTILE}]
    assert stored.last_checkin_on == date(2024, 6, 3) and stored.rule_warnings == 2
    assert stored.last_warning_at == MOMENT + timedelta(hours=1) and stored.updated_at == MOMENT


def test_naive_timestamps_are_refused(workspace: Workspace) -> None:
    with workspace.database.session() as session:
        dialect = raw_dialect(session.connection())
    with pytest.raises(ValueError, match="naive"):
        dialect.time(datetime(2024, 6, 3))
    assert dialect.time(None) is None and dialect.day(None) is None


def test_callback_log_rows_read_on_the_cursor_keep_their_lease(workspace: Workspace) -> None:
    now = datetime.now(UTC)
    with workspace.database.session() as session:
        for key, status, received in (
            ("msg:fresh", "processing", now - timedelta(seconds=5)),
            ("msg:stale", "processing", now - timedelta(minutes=5)),
            ("msg:done", "done", now),
            ("msg:'; DROP TABLE x; --", "failed", now),
        ):
            session.add(CallbackEventLog(dedupe_key=key, event="text", status=status, received_at=received))
    with workspace.database.session() as session:
        rows = _log_rows(
            session, ["msg:fresh", "msg:stale", "msg:done", "msg:'; DROP TABLE x; --", "msg:new"]
        )
        assert _log_rows(session, []) == {}
    assert set(rows) == {"msg:fresh", "msg:stale", "msg:done", "msg:'; DROP TABLE x; --"}
    assert rows["msg:fresh"].received_at.tzinfo is not None
    assert abs((rows["msg:fresh"].received_at - (now - timedelta(seconds=5))).total_seconds()) < 1e-3
    claimable = {key: _claimable(row, now) for key, row in rows.items()}
    assert claimable == {
        "msg:fresh": False,
        "msg:stale": True,
        "msg:done": False,
        "msg:'; DROP TABLE x; --": True,
    }
