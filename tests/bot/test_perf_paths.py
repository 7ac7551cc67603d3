"""The fast paths: incremental state encoding, one transaction per callback, robot budget deferral."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from groupops.bot._codec import GroupStateEncoder, decode_group_state, encode_group_state
from groupops.bot.core import Event, GroupBotState, GroupProfile, handle_event
from groupops.bot.outbox import OutboxPolicy, OutboxWorker, enqueue
from groupops.bot.receiver import CallbackProcessor
from groupops.bot.service import BotService
from groupops.store.models.bot import BotGroupState, CallbackEventLog, OutboxItem
from groupops.store.workspace import Workspace
from groupops.wecom.client import RobotRateLimitExceededError
from groupops.wecom.senders import OutgoingMessage, SendReceipt

SHANGHAI = ZoneInfo("Asia/Shanghai")
GROUP = "wrPerfGroup"
MORNING = datetime(2024, 6, 3, 10, 0, tzinfo=SHANGHAI)


def _message(msg_id: str, sender: str, text: str, group: str = GROUP) -> str:
    return (
        f"<xml><ToUserName>corp</ToUserName><FromUserName>{sender}</FromUserName>"
        f"<CreateTime>1717401600</CreateTime><MsgType>text</MsgType><Content><![CDATA[{text}]]></Content>"
        f"<MsgId>{msg_id}</MsgId><ChatId>{group}</ChatId></xml>"
    )


def test_incremental_encoding_equals_the_full_encoding_over_many_states() -> None:
    profile = GroupProfile(group_id=GROUP, quiet_hours="")
    encoder, state = GroupStateEncoder(), GroupBotState(GROUP)
    texts = ["签到", "我的积分", "签到", "加我微信 vx123 兼职", "<script>alert(1)</script>", "签到"]
    for number in range(60):
        when = MORNING + timedelta(days=number // 20, minutes=number)
        event = Event(
            f"e{number}", "message", GROUP, when, member_id=f"wm{number % 7}", text=texts[number % 6]
        )
        state = handle_event(state, event, profile).state
        encoded = encoder.encode(state)
        assert json.loads(encoded) == json.loads(json.dumps(encode_group_state(state)))
    assert decode_group_state(GROUP, json.loads(encoded)) == state


def test_a_message_callback_is_logged_in_the_same_transaction_as_its_action(workspace: Workspace) -> None:
    processor = CallbackProcessor(workspace)
    first = processor.process(_message("900", "wmAnna", "签到"))
    again = processor.process(_message("900", "wmAnna", "签到"))  # WeCom's retry
    assert not first.duplicate and again.duplicate
    with workspace.database.session() as session:
        log = session.scalars(select(CallbackEventLog)).one()
        rows = session.scalars(select(OutboxItem)).all()
    assert (log.status, log.attempts, log.detail["actions_enqueued"]) == ("done", 1, 1)
    assert [row.payload["event_id"] for row in rows] == ["msg:900"]


def test_a_failing_message_leaves_no_state_and_no_action_and_is_applied_on_retry(
    sqlite_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    processor = CallbackProcessor(sqlite_workspace)
    calls = {"count": 0}
    original = BotService._store

    def failing_store(self: BotService, *args: object) -> None:
        calls["count"] += 1
        if calls["count"] == 1:
            raise RuntimeError("disk full")
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(BotService, "_store", failing_store)
    with pytest.raises(RuntimeError):
        processor.process(_message("901", "wmBo", "签到"))
    with sqlite_workspace.database.session() as session:
        assert session.scalars(select(OutboxItem)).all() == []
        assert session.get(BotGroupState, GROUP) is None
        log = session.scalars(select(CallbackEventLog)).one()
        assert log.status == "failed" and "disk full" in (log.error or "")
    assert not processor.process(_message("901", "wmBo", "签到")).duplicate
    with sqlite_workspace.database.session() as session:
        log = session.scalars(select(CallbackEventLog)).one()
        assert (log.status, log.attempts, log.error) == ("done", 2, None)
        assert len(session.scalars(select(OutboxItem)).all()) == 1


class _SpentRobot:
    """A robot whose budget is spent: every send is refused client-side."""

    name = "robot"

    def __init__(self) -> None:
        self.calls = 0

    def send(self, message: OutgoingMessage) -> SendReceipt:
        self.calls += 1
        raise RobotRateLimitExceededError("robot…", 42.0)


def test_a_spent_robot_defers_its_whole_queue_in_one_go(workspace: Workspace) -> None:
    start = datetime(2024, 6, 3, 2, 0, tzinfo=SHANGHAI)
    with workspace.database.session() as session:
        for number in range(30):
            enqueue(session, f"k{number}", "robot", "g1", {"text": f"消息 {number}"}, now=start)
        enqueue(session, "other", "robot", "g2", {"text": "别的群"}, now=start)
    robot = _SpentRobot()
    worker = OutboxWorker(workspace.database, {"robot": robot}, clock=lambda: start, compliance=None)
    report = worker.run_once()  # at most 5 rows of g1, so g2 gets its turn in the same round
    assert (report.claimed, report.deferred) == (6, 6)
    assert robot.calls == 2  # one send attempt per spent robot, not one per row
    assert worker.run_once().claimed == 0  # both queues were pushed past the wait: nothing is due
    assert robot.calls == 2
    with workspace.database.session() as session:
        rows = session.scalars(select(OutboxItem)).all()
    assert {row.status for row in rows} == {"pending"}
    assert all(row.attempts == 0 for row in rows)
    by_id = sorted(rows, key=lambda row: row.id)
    g1 = [row.next_attempt_at - start for row in by_id if row.target == "g1"]
    assert g1[:5] == [timedelta(seconds=42)] * 5  # the claimed ones wait for the budget
    assert g1[5:] == [timedelta(seconds=45 + 3 * slot) for slot in range(25)]  # the rest: a slot each
    worker.policy = OutboxPolicy(deferral_spacing_seconds=3.0)
    with workspace.database.session() as session:
        enqueue(session, "late", "robot", "g1", {"text": "后来的"}, now=start)
        enqueue(session, "later", "robot", "g1", {"text": "更后来的"}, now=start)
    assert worker.run_once().claimed == 0  # a robot known to be out of budget: slotted, never claimed
    assert robot.calls == 2
    with workspace.database.session() as session:
        latest = session.scalars(select(OutboxItem).where(OutboxItem.idempotency_key == "later")).one()
        late = session.scalars(select(OutboxItem).where(OutboxItem.idempotency_key == "late")).one()
        first = session.scalars(select(OutboxItem).where(OutboxItem.idempotency_key == "k0")).one()
    assert late.next_attempt_at == start + timedelta(seconds=45 + 3 * 25)  # after the others, none moved
    assert latest.next_attempt_at == start + timedelta(seconds=45 + 3 * 26)
    assert first.next_attempt_at == start + timedelta(seconds=42)


def test_the_service_queues_a_spent_robots_rows_at_their_slots(workspace: Workspace) -> None:
    start = datetime(2024, 6, 3, 2, 0, tzinfo=SHANGHAI)
    with workspace.database.session() as session:
        enqueue(session, "first", "robot", GROUP, {"text": "消息"}, now=start)
    robot = _SpentRobot()
    worker = OutboxWorker(
        workspace.database,
        {"robot": robot},
        clock=lambda: start,
        compliance=None,
        policy=OutboxPolicy(deferral_spacing_seconds=3.0),
    )
    assert worker.run_once().deferred == 1  # now the worker knows: out of budget for 42 s
    assert worker.reserve_slot("robot", "another-group", start) is None  # other robots: due now
    service = BotService(
        workspace.database, workspace.settings, clock=lambda: start, outbox_slots=worker.reserve_slot
    )
    processor = CallbackProcessor(workspace, service=service)
    for number in range(3):
        processor.process(_message(f"m{number}", f"wmMember{number}", "签到"))
    with workspace.database.session() as session:
        rows = session.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
    waits = [row.next_attempt_at - start for row in rows]
    assert waits == [timedelta(seconds=42)] + [timedelta(seconds=45 + 3 * n) for n in range(3)]
    assert worker.run_once().claimed == 0  # nothing due, nothing to move
    assert robot.calls == 1


def test_the_started_heap_is_frozen_and_full_collections_are_rarer() -> None:
    import gc

    from groupops.bot.runtime import FULL_COLLECTION_EVERY, freeze_startup_heap

    before = gc.get_threshold()
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (before[0], before[1], FULL_COLLECTION_EVERY)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
