"""The outbox: idempotent enqueue, claiming, retries, dead letters, compliance and crash recovery."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from groupops.bot.core import Action
from groupops.bot.outbox import (
    ComplianceDecision,
    OutboxPolicy,
    OutboxRouting,
    OutboxWorker,
    compliance_decision,
    enqueue,
    enqueue_actions,
    outbox_counts,
    release_for_resend,
)
from groupops.errors import ConfigurationError, NotFoundError
from groupops.store.models.bot import OutboxItem
from groupops.store.workspace import Workspace
from groupops.wecom.client import WeComClient
from groupops.wecom.senders import ConsoleSender, OutgoingMessage, RobotSender, SendReceipt
from wecom.fake_wecom_server import FakeWeComServer

START = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)


class Clock:
    """A fake wall clock (datetime) and monotonic clock (float) that move only when told or slept on."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.now.timestamp()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class SimulatedCrash(BaseException):
    """The process dies: not an Exception, so nothing in the worker catches it."""


class CrashAfterSend:
    """Delivers through ``inner`` and then 'dies' before the worker can record the receipt."""

    def __init__(self, inner: RobotSender, crash_before: bool = False) -> None:
        self.name = inner.name
        self.inner = inner
        self.crash_before = crash_before

    def send(self, message: OutgoingMessage) -> SendReceipt:
        if self.crash_before:
            raise SimulatedCrash
        self.inner.send(message)
        raise SimulatedCrash


class ConfirmingSender:
    """A sender that can tell after a crash whether a key went out."""

    name = "console"

    def __init__(self, delivered: set[str]) -> None:
        self.delivered = delivered
        self.sent: list[str] = []

    def send(self, message: OutgoingMessage) -> SendReceipt:
        self.sent.append(message.idempotency_key)
        self.delivered.add(message.idempotency_key)
        return SendReceipt(message.idempotency_key, self.name, "sent", 0.0)

    def confirm_delivery(self, idempotency_key: str) -> bool | None:
        return idempotency_key in self.delivered


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake_wecom() -> Iterator[FakeWeComServer]:
    with FakeWeComServer() as server:
        yield server


def _client(server: FakeWeComServer, clock: Clock, **options: float) -> WeComClient:
    settings: dict[str, float] = {"max_rate_limit_wait_seconds": 0.0, "backoff_base_seconds": 1.0} | options
    return WeComClient(
        "wwfakecorp",
        "fake-secret",
        base_url=server.base_url,
        clock=clock.monotonic,
        sleep=clock.sleep,
        max_attempts=2,
        robot_messages_per_minute=int(settings.pop("per_minute", 20)),
        **settings,  # type: ignore[arg-type]
    )


def _queue_texts(workspace: Workspace, texts: list[str], group: str = "g1", channel: str = "robot") -> None:
    with workspace.database.session() as session:
        for number, text in enumerate(texts):
            enqueue(session, f"key-{group}-{number}", channel, group, {"text": text}, now=START)


def _statuses(workspace: Workspace) -> dict[str, str]:
    with workspace.database.session() as session:
        return {row.idempotency_key: row.status for row in session.scalars(select(OutboxItem))}


def _item(workspace: Workspace, key: str) -> OutboxItem:
    with workspace.database.session() as session:
        item = session.scalar(select(OutboxItem).where(OutboxItem.idempotency_key == key))
        assert item is not None
        return item


def _no_compliance(text: str) -> ComplianceDecision | None:
    return None


def test_a_second_enqueue_of_the_same_key_is_a_no_op(workspace: Workspace) -> None:
    with workspace.database.session() as session:
        assert enqueue(session, "k1", "robot", "g1", {"text": "第一次"}, now=START) is True
    with workspace.database.session() as session:
        assert enqueue(session, "k1", "robot", "g1", {"text": "第二次"}, now=START) is False
    assert outbox_counts(workspace.database) == {"pending": 1}
    assert _item(workspace, "k1").payload == {"text": "第一次"}


def test_enqueue_refuses_bad_keys_and_channels(sqlite_workspace: Workspace) -> None:
    with sqlite_workspace.database.session() as session:
        with pytest.raises(ConfigurationError):
            enqueue(session, "", "robot", "g1", {"text": "x"})
        with pytest.raises(ConfigurationError):
            enqueue(session, "k" * 129, "robot", "g1", {"text": "x"})
        with pytest.raises(ConfigurationError):
            enqueue(session, "k", "'; DROP TABLE bot_outbox;--", "g1", {"text": "x"})


def test_enqueue_actions_routes_sends_and_admin_notices_and_skips_the_rest(
    sqlite_workspace: Workspace,
) -> None:
    actions = [
        Action("send_text", "g1", idempotency_key="a", text="群消息", mentioned_member_ids=("wm1",)),
        Action("send_private_text", "g1", idempotency_key="b", text="关怀", member_id="wm2"),
        Action("notify_admins", "g1", idempotency_key="c", text="违规", mentioned_member_ids=("admin",)),
        Action("award_points", "g1", idempotency_key="d", member_id="wm1"),
        Action("send_text", "g1", idempotency_key="e", text="   "),
        Action("send_text", "g1", idempotency_key="f", text="夜里发", not_before=START + timedelta(hours=6)),
    ]
    routing = OutboxRouting(admin_target="admins-robot")
    with sqlite_workspace.database.session() as session:
        assert enqueue_actions(session, actions, routing, event_id="evt-1", now=START) == 4
    with sqlite_workspace.database.session() as session:
        rows = {row.idempotency_key: row for row in session.scalars(select(OutboxItem))}
    assert set(rows) == {"a", "b", "c", "f"}
    assert (rows["a"].channel, rows["a"].target) == ("robot", "g1")
    assert (rows["b"].channel, rows["b"].payload["mentioned_user_ids"]) == ("console", ["wm2"])
    assert (rows["c"].channel, rows["c"].target) == ("robot", "admins-robot")
    assert rows["a"].payload["event_id"] == "evt-1"
    assert rows["f"].next_attempt_at == START + timedelta(hours=6)


def test_an_action_without_a_key_is_refused(sqlite_workspace: Workspace) -> None:
    with sqlite_workspace.database.session() as session, pytest.raises(ConfigurationError):
        enqueue_actions(session, [Action("send_text", "g1", text="无键")])


def test_worker_sends_in_order_and_marks_sent(workspace: Workspace, clock: Clock) -> None:
    _queue_texts(workspace, ["一", "二", "三"])
    stream = io.StringIO()
    worker = OutboxWorker(workspace.database, {"robot": ConsoleSender(stream)}, clock=clock, compliance=None)
    report = worker.run_until_idle()
    assert (report.claimed, report.sent) == (3, 3)
    assert [line.split()[-1] for line in stream.getvalue().splitlines()] == ["一", "二", "三"]
    item = _item(workspace, "key-g1-0")
    assert (item.status, item.attempts, item.sent_at) == ("sent", 1, START)
    assert worker.run_once().claimed == 0


def test_items_are_not_sent_before_their_time(sqlite_workspace: Workspace, clock: Clock) -> None:
    with sqlite_workspace.database.session() as session:
        enqueue(
            session,
            "later",
            "console",
            "g1",
            {"text": "早安"},
            not_before=START + timedelta(hours=1),
            now=START,
        )
    stream = io.StringIO()
    worker = OutboxWorker(
        sqlite_workspace.database, {"console": ConsoleSender(stream)}, clock=clock, compliance=None
    )
    assert worker.run_once().claimed == 0
    clock.advance(3600)
    assert worker.run_once().sent == 1
    assert "早安" in stream.getvalue()


def test_fake_server_rate_limit_defers_without_counting_attempts(
    sqlite_workspace: Workspace, fake_wecom: FakeWeComServer, clock: Clock
) -> None:
    client = _client(fake_wecom, clock, per_minute=3)
    sender = RobotSender(client, {"g1": "robot-a"})
    _queue_texts(sqlite_workspace, [f"消息{n}" for n in range(5)])
    worker = OutboxWorker(sqlite_workspace.database, {"robot": sender}, clock=clock, compliance=None)
    first = worker.run_once()
    assert (first.sent, first.deferred) == (3, 2)
    assert len(fake_wecom.received) == 3
    deferred = _item(sqlite_workspace, "key-g1-3")
    assert deferred.status == "pending" and deferred.attempts == 0
    assert deferred.next_attempt_at > START
    assert worker.run_once().claimed == 0  # still inside the minute
    clock.advance(61)
    assert worker.run_until_idle().sent == 2
    assert len(fake_wecom.received) == 5 and fake_wecom.duplicates() == []


def test_fake_server_busy_is_retried_with_backoff_then_sent(
    workspace: Workspace, fake_wecom: FakeWeComServer, clock: Clock
) -> None:
    client = _client(fake_wecom, clock)
    sender = RobotSender(client, "robot-a")
    _queue_texts(workspace, ["忙时消息"])
    fake_wecom.inject_errors("webhook/send", -1, -1, 45009)  # client gives up after 2, outbox retries
    policy = OutboxPolicy(backoff_base_seconds=30)
    worker = OutboxWorker(workspace.database, {"robot": sender}, clock=clock, compliance=None, policy=policy)
    assert worker.run_once().retried == 1
    item = _item(workspace, "key-g1-0")
    assert (item.status, item.attempts) == ("pending", 1)
    assert item.next_attempt_at == clock.now + timedelta(seconds=30)
    assert "WeComSystemBusyError" in (item.last_error or "")
    clock.advance(30)
    assert worker.run_once().sent == 1  # 45009 retried inside the client, then ok
    assert fake_wecom.requests_to("webhook/send") == 4
    assert len(fake_wecom.received) == 1
    assert _item(workspace, "key-g1-0").attempts == 2


def test_dead_letter_after_max_attempts(
    sqlite_workspace: Workspace, fake_wecom: FakeWeComServer, clock: Clock
) -> None:
    sender = RobotSender(_client(fake_wecom, clock), "robot-a")
    _queue_texts(sqlite_workspace, ["总是忙"])
    fake_wecom.inject_errors("webhook/send", *([-1] * 20))
    policy = OutboxPolicy(max_attempts=3, backoff_base_seconds=1)
    worker = OutboxWorker(
        sqlite_workspace.database, {"robot": sender}, clock=clock, compliance=None, policy=policy
    )
    outcomes = []
    for _ in range(5):
        report = worker.run_once()
        outcomes.append((report.retried, report.dead))
        clock.advance(3600)
    assert outcomes[:3] == [(1, 0), (1, 0), (0, 1)]
    item = _item(sqlite_workspace, "key-g1-0")
    assert item.status == "dead" and "gave up after 3 attempts" in (item.last_error or "")
    assert fake_wecom.received == []


def test_permanent_refusals_go_dead_at_once(
    sqlite_workspace: Workspace, fake_wecom: FakeWeComServer, clock: Clock
) -> None:
    sender = RobotSender(_client(fake_wecom, clock), {"g1": "robot-a"})
    with sqlite_workspace.database.session() as session:
        enqueue(session, "too-long", "robot", "g1", {"text": "长" * 700}, now=START)  # 2100 bytes
        enqueue(session, "no-robot", "robot", "g-unknown", {"text": "没有机器人"}, now=START)
        enqueue(session, "no-sender", "mass_send", "g1", {"text": "没有群发"}, now=START)
    worker = OutboxWorker(sqlite_workspace.database, {"robot": sender}, clock=clock, compliance=None)
    assert worker.run_until_idle().dead == 3
    assert "2048" in (_item(sqlite_workspace, "too-long").last_error or "")
    assert "no group robot webhook key" in (_item(sqlite_workspace, "no-robot").last_error or "")
    assert "no sender" in (_item(sqlite_workspace, "no-sender").last_error or "")
    assert fake_wecom.received == []


def test_compliance_violation_blocks_the_send_and_records_why(
    sqlite_workspace: Workspace, clock: Clock
) -> None:
    _queue_texts(
        sqlite_workspace,
        ["这是全网最低价，国家级认证，100%有效！", "今天的穿搭小投票开始啦"],
        channel="console",
    )
    stream = io.StringIO()
    worker = OutboxWorker(sqlite_workspace.database, {"console": ConsoleSender(stream)}, clock=clock)
    report = worker.run_until_idle()
    assert (report.blocked, report.sent) == (1, 1)
    blocked = _item(sqlite_workspace, "key-g1-0")
    assert blocked.status == "dead" and blocked.last_error is not None
    assert blocked.last_error.startswith("blocked by the compliance check")
    assert "最" in blocked.last_error or "国家级" in blocked.last_error
    assert "全网最低价" not in stream.getvalue() and "穿搭小投票" in stream.getvalue()


def test_compliance_decision_uses_the_checker() -> None:
    decision = compliance_decision("全网第一，最好的羽绒服")
    assert decision is not None and decision.verdict == "violation" and decision.reasons
    clean = compliance_decision("今天降温，记得添衣")
    assert clean is not None and clean.verdict == "clean"


def test_crash_between_send_and_acknowledge_never_sends_twice(
    workspace: Workspace, fake_wecom: FakeWeComServer, clock: Clock
) -> None:
    _queue_texts(workspace, ["开奖啦", "第二条"])
    crashing = CrashAfterSend(RobotSender(_client(fake_wecom, clock), "robot-a"))
    worker = OutboxWorker(workspace.database, {"robot": crashing}, clock=clock, compliance=None)  # type: ignore[dict-item]
    with pytest.raises(SimulatedCrash):
        worker.run_once()
    assert len(fake_wecom.received) == 1
    assert _statuses(workspace) == {"key-g1-0": "sending", "key-g1-1": "sending"}

    # restart: a new process, a new sender with no memory of what went out
    restarted = OutboxWorker(
        workspace.database,
        {"robot": RobotSender(_client(fake_wecom, clock), "robot-a")},
        clock=clock,
        compliance=None,
    )
    assert restarted.reconcile_stuck().needs_review == []  # not stale yet: another worker may own them
    clock.advance(OutboxPolicy().stale_after_seconds + 1)
    report = restarted.reconcile_stuck()
    assert sorted(report.needs_review) == ["key-g1-0", "key-g1-1"]
    assert restarted.run_until_idle().claimed == 0
    assert len(fake_wecom.received) == 1 and fake_wecom.duplicates() == []
    item = _item(workspace, "key-g1-0")
    assert item.status == "failed" and "delivery unknown" in (item.last_error or "")

    # a person checked the group: the second message never arrived, so it is released
    release_for_resend(workspace.database, "key-g1-1", actor="ops-li", now=clock.now)
    assert restarted.run_until_idle().sent == 1
    bodies = [json.loads(message.body)["text"]["content"] for message in fake_wecom.received]
    assert bodies == ["开奖啦", "第二条"]


def test_crash_recovery_trusts_a_sender_that_can_confirm(sqlite_workspace: Workspace, clock: Clock) -> None:
    _queue_texts(sqlite_workspace, ["已送达", "未送达"], channel="console")
    delivered: set[str] = set()
    with sqlite_workspace.database.session() as session:  # both claimed, only the first went out
        for row in session.scalars(select(OutboxItem)):
            row.status, row.attempts, row.claimed_at = "sending", 1, START
    delivered.add("key-g1-0")
    clock.advance(1000)
    sender = ConfirmingSender(delivered)
    worker = OutboxWorker(sqlite_workspace.database, {"console": sender}, clock=clock, compliance=None)
    report = worker.reconcile_stuck()
    assert (report.confirmed_sent, report.requeued, report.needs_review) == (1, 1, [])
    worker.run_until_idle()
    assert sender.sent == ["key-g1-1"]
    assert _statuses(sqlite_workspace) == {"key-g1-0": "sent", "key-g1-1": "sent"}


def test_release_for_resend_refuses_unknown_and_unfailed_items(sqlite_workspace: Workspace) -> None:
    _queue_texts(sqlite_workspace, ["x"])
    with pytest.raises(NotFoundError):
        release_for_resend(sqlite_workspace.database, "missing")
    with pytest.raises(ConfigurationError):
        release_for_resend(sqlite_workspace.database, "key-g1-0")


def test_concurrent_workers_never_claim_the_same_item(workspace: Workspace) -> None:
    texts = [f"并发{n}" for n in range(60)]
    _queue_texts(workspace, texts, channel="console")
    stream = io.StringIO()
    sender = ConsoleSender(stream)
    claimed: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        worker = OutboxWorker(
            workspace.database, {"console": sender}, compliance=None, policy=OutboxPolicy(batch_size=5)
        )
        report = worker.run_until_idle()
        with lock:
            claimed.append(report.claimed)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(claimed) == 60
    lines = stream.getvalue().splitlines()
    assert sorted(line.split()[-1] for line in lines) == sorted(texts)
    assert outbox_counts(workspace.database) == {"sent": 60}


def test_routing_refuses_unknown_channels() -> None:
    with pytest.raises(ConfigurationError):
        OutboxRouting(group_channel="sms")
    assert _no_compliance("x") is None


class _RecordingCompliance:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, text: str) -> ComplianceDecision | None:
        self.texts.append(text)
        return None


def test_warm_up_builds_the_checker_without_touching_the_queue(sqlite_workspace: Workspace) -> None:
    _queue_texts(
        sqlite_workspace, ["<script>alert(1)</script>", "'; DROP TABLE outbox_items; --"], channel="console"
    )
    recording = _RecordingCompliance()
    worker = OutboxWorker(
        sqlite_workspace.database, {"console": ConsoleSender(io.StringIO())}, compliance=recording
    )
    worker.warm_up()
    worker.warm_up()
    assert recording.texts == ["", ""]
    assert set(_statuses(sqlite_workspace).values()) == {"pending"}


def test_warm_up_without_a_compliance_check_does_nothing(sqlite_workspace: Workspace) -> None:
    _queue_texts(sqlite_workspace, ["hello"], channel="console")
    stream = io.StringIO()
    worker = OutboxWorker(sqlite_workspace.database, {"console": ConsoleSender(stream)}, compliance=None)
    worker.warm_up()
    assert stream.getvalue() == "" and set(_statuses(sqlite_workspace).values()) == {"pending"}


def test_warm_up_compiles_the_default_checker_once(sqlite_workspace: Workspace) -> None:
    from groupops.text.compliance import default_checker

    worker = OutboxWorker(sqlite_workspace.database, {"console": ConsoleSender(io.StringIO())})
    worker.warm_up()
    assert default_checker.cache_info().currsize == 1
    misses = default_checker.cache_info().misses
    assert compliance_decision("全网第一") is not None
    assert default_checker.cache_info().misses == misses


def test_run_forever_warms_up_before_its_first_round(sqlite_workspace: Workspace) -> None:
    _queue_texts(sqlite_workspace, ["今天的穿搭小投票开始啦"], channel="console")
    recording = _RecordingCompliance()
    stream = io.StringIO()
    worker = OutboxWorker(sqlite_workspace.database, {"console": ConsoleSender(stream)}, compliance=recording)
    stop = threading.Event()
    stop.set()  # no round at all: only the start-up work runs
    worker.run_forever(stop, poll_seconds=0.01)
    assert recording.texts == [""]
    assert stream.getvalue() == "" and set(_statuses(sqlite_workspace).values()) == {"pending"}
