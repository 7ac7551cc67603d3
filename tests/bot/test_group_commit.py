"""Group commit: many callbacks in one transaction, answered only after it, one bad event isolated."""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import Future
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

import groupops.bot.service as service_module
from groupops.bot._locks import FairReentrantLock
from groupops.bot.core import BotOutcome, Event, GroupBotState, GroupProfile
from groupops.bot.outbox import OutboxPolicy, OutboxWorker, enqueue
from groupops.bot.receiver import (
    CallbackEndpoint,
    CallbackFastPath,
    CallbackProcessor,
    SubmittedCallback,
    wecom_callback_router,
)
from groupops.bot.service import BotService, ServiceResult
from groupops.config import Settings
from groupops.store.models.bot import BotGroupState, BotMemberState, CallbackEventLog, OutboxItem
from groupops.store.workspace import Workspace
from groupops.wecom.crypto import WeComCrypto
from groupops.wecom.senders import OutgoingMessage, SendReceipt

SHANGHAI = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2024, 6, 3, 10, 0, tzinfo=SHANGHAI)
GATE_TEXT = "签到 gate"
TOKEN, AES_KEY, CORP_ID = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"


def _message(msg_id: str, sender: str, text: str = "签到", group: str = "wrCommitA") -> str:
    return (
        f"<xml><ToUserName>corp</ToUserName><FromUserName>{sender}</FromUserName>"
        f"<CreateTime>1717401600</CreateTime><MsgType>text</MsgType><Content><![CDATA[{text}]]></Content>"
        f"<MsgId>{msg_id}</MsgId><ChatId>{group}</ChatId></xml>"
    )


class _Gate:
    """Holds the applier inside the core on the event whose text is GATE_TEXT until opened."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, poison: str = "") -> None:
        self.entered, self.opened = threading.Event(), threading.Event()
        self.batches: list[int] = []
        original = self.original = service_module.handle_event
        poison_text = poison

        def gated(state: GroupBotState, event: Event, profile: GroupProfile, registry: Any) -> BotOutcome:
            if event.text == GATE_TEXT:
                self.entered.set()
                assert self.opened.wait(10)
            if poison_text and event.text == poison_text:
                raise RuntimeError("poisoned event")
            return original(state, event, profile, registry)

        monkeypatch.setattr(service_module, "handle_event", gated)
        apply_once = BotService._apply_once

        def counting(service: BotService, batch: list[Any]) -> list[ServiceResult]:
            self.batches.append(len(batch))
            return apply_once(service, batch)

        monkeypatch.setattr(BotService, "_apply_once", counting)


def _submit_behind_gate(
    processor: CallbackProcessor, gate: _Gate, plains: list[str]
) -> list[SubmittedCallback]:
    """The first callback holds the applier; the others queue and go out together in the next batch."""
    first = processor.submit(_message("gate", "wmGate", GATE_TEXT))
    assert first is not None and gate.entered.wait(10)
    queued = [processor.submit(plain) for plain in plains]
    gate.opened.set()
    first.future.result(timeout=30)
    assert all(item is not None for item in queued)
    return [item for item in queued if item is not None]


def _rows(workspace: Workspace) -> tuple[list[OutboxItem], list[CallbackEventLog]]:
    with workspace.database.session() as session:
        outbox = list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))
        log = list(session.scalars(select(CallbackEventLog).order_by(CallbackEventLog.dedupe_key)))
    return outbox, log


def test_waiting_callbacks_share_one_transaction_and_each_gets_its_result(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = _Gate(monkeypatch)
    processor = CallbackProcessor(workspace)
    plains = [_message(f"m{n}", f"wm{n:03d}", group=f"wrCommit{n % 3}") for n in range(12)]
    submitted = _submit_behind_gate(processor, gate, plains)
    results = [item.future.result(timeout=30) for item in submitted]
    assert gate.batches == [1, 12]  # the gate alone, then all twelve in one transaction
    assert [result.enqueued for result in results] == [1] * 12
    assert not any(item.finished().duplicate for item in submitted)
    outbox, log = _rows(workspace)
    assert len(outbox) == 12 and {row.status for row in log} == {"done"}  # the gate text asks nothing
    assert {row.dedupe_key for row in log} == {f"msg:m{n}" for n in range(12)} | {"msg:gate"}
    with workspace.database.session() as session:
        versions = dict(session.execute(select(BotGroupState.group_id, BotGroupState.version)).all())
        members = session.scalar(select(func.count()).select_from(BotMemberState))
    assert versions == {"wrCommitA": 1, "wrCommit0": 1, "wrCommit1": 1, "wrCommit2": 1}  # one write a group
    assert members == 12


def test_a_failing_event_does_not_poison_its_batch(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = _Gate(monkeypatch, poison="签到 <script>alert(1)</script>")
    processor = CallbackProcessor(workspace)
    plains = [_message(f"p{n}", f"wm{n:03d}") for n in range(5)]
    plains.insert(2, _message("bad", "wmBad", "签到 <script>alert(1)</script>"))
    submitted = _submit_behind_gate(processor, gate, plains)
    bad = submitted.pop(2)
    with pytest.raises(RuntimeError, match="poisoned"):
        bad.future.result(timeout=30)
    processor.record_failure(bad.outcome, RuntimeError("poisoned event"))
    assert [item.future.result(timeout=30).enqueued for item in submitted] == [1] * 5
    outbox, log = _rows(workspace)
    assert sorted(row.payload["event_id"] for row in outbox) == sorted([f"msg:p{n}" for n in range(5)])
    statuses = {row.dedupe_key: (row.status, row.attempts) for row in log}
    assert statuses["msg:bad"] == ("failed", 1)
    assert all(status == ("done", 1) for key, status in statuses.items() if key != "msg:bad")
    monkeypatch.setattr(service_module, "handle_event", gate.original)
    retried = processor.submit(_message("bad", "wmBad", "签到"))  # WeCom's retry of the same MsgId
    assert retried is not None and retried.future.result(timeout=30).enqueued == 1
    assert not retried.finished().duplicate
    _, log = _rows(workspace)
    assert {row.dedupe_key: (row.status, row.attempts) for row in log}["msg:bad"] == ("done", 2)


def test_the_same_callback_twice_in_one_batch_acts_once(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = _Gate(monkeypatch)
    processor = CallbackProcessor(workspace)
    plain = _message("twice", "wmTwice")
    first, second = _submit_behind_gate(processor, gate, [plain, plain])
    results = [first.future.result(timeout=30), second.future.result(timeout=30)]
    assert [result.enqueued for result in results] == [1, 0]
    assert (first.finished().duplicate, second.finished().duplicate) == (False, True)
    outbox, log = _rows(workspace)
    assert [row.payload["event_id"] for row in outbox].count("msg:twice") == 1
    assert [(row.status, row.attempts) for row in log if row.dedupe_key == "msg:twice"] == [("done", 1)]


def test_the_answer_comes_only_after_the_commit(workspace: Workspace) -> None:
    processor = CallbackProcessor(workspace)
    seen: list[tuple[int, str | None]] = []
    released = threading.Event()

    def on_done(future: Future[ServiceResult]) -> None:  # runs the moment the waiter is released
        with workspace.database.session() as session:
            rows = int(session.scalar(select(func.count()).select_from(OutboxItem)) or 0)
            status = session.scalar(
                select(CallbackEventLog.status).where(CallbackEventLog.dedupe_key == "msg:c1")
            )
        seen.append((rows, status))
        released.set()

    submitted = processor.submit(_message("c1", "wmCommitted"))
    assert submitted is not None
    submitted.future.add_done_callback(on_done)
    assert released.wait(30)
    assert seen == [(1, "done")]


def test_events_already_in_the_state_are_replays_inside_a_batch(workspace: Workspace) -> None:
    service = BotService(workspace.database, workspace.settings)
    event = Event("job-1", "message", "wrCommitA", MORNING, member_id="wmA", text="签到")
    futures = [service.submit(event), service.submit(event)]
    results = [future.result(timeout=30) for future in futures]
    assert sorted(result.duplicate for result in results) == [False, True]
    assert sum(result.enqueued for result in results) == 1


def test_fair_lock_is_reentrant_and_served_in_arrival_order() -> None:
    lock, order = FairReentrantLock(), []
    lock.acquire()
    lock.acquire()  # reentrant
    started = []

    def waiter(name: str) -> None:
        started.append(name)
        with lock:
            order.append(name)

    threads = []
    for name in ("worker", "applier", "scheduler"):
        thread = threading.Thread(target=waiter, args=(name,))
        thread.start()
        while len(started) < len(threads) + 1 or len(lock._waiters) < len(threads) + 1:
            threading.Event().wait(0.001)
        threads.append(thread)
    lock.release()
    assert order == []  # still held once
    lock.release()
    for thread in threads:
        thread.join(10)
    assert order == ["worker", "applier", "scheduler"]
    with pytest.raises(RuntimeError):
        lock.release()


class _Recorder:
    name = "robot"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, message: OutgoingMessage) -> SendReceipt:
        self.sent.append(message.idempotency_key)
        key = message.idempotency_key
        return SendReceipt(key, self.name, "sent", 0.0, remote_id=f"r-{key}")


def test_the_worker_records_a_round_in_one_go_before_reporting_sends(workspace: Workspace) -> None:
    with workspace.database.session() as session:
        for number in range(7):
            enqueue(session, f"ack{number}", "robot", "wrG", {"text": f"消息 {number}"}, now=MORNING)
    statuses_seen: list[str] = []

    def on_sent(key: str, payload: dict[str, Any]) -> None:
        with workspace.database.session() as session:
            statuses_seen.append(
                str(session.scalar(select(OutboxItem.status).where(OutboxItem.idempotency_key == key)))
            )

    robot = _Recorder()
    worker = OutboxWorker(
        workspace.database,
        {"robot": robot},
        policy=OutboxPolicy(per_target_batch=10),
        clock=lambda: MORNING,
        compliance=None,
        on_sent=on_sent,
    )
    report = worker.run_once()
    assert (report.claimed, report.sent) == (7, 7) and robot.sent == [f"ack{n}" for n in range(7)]
    assert statuses_seen == ["sent"] * 7
    with workspace.database.session() as session:
        rows = session.scalars(select(OutboxItem)).all()
    assert {(row.status, row.attempts) for row in rows} == {("sent", 1)}
    assert all(row.wecom_msgid == f"r-{row.idempotency_key}" for row in rows)


def _fast_client(workspace: Workspace) -> Any:
    with warnings.catch_warnings():  # this Starlette asks for httpx2 and warns when it uses httpx
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    endpoint = CallbackEndpoint(workspace)
    app = FastAPI()
    app.include_router(wecom_callback_router(workspace, endpoint=endpoint), prefix="/wecom/callback")
    app.add_middleware(CallbackFastPath, endpoint=endpoint, path="/wecom/callback")

    @app.post("/elsewhere")
    def elsewhere() -> dict[str, str]:
        return {"route": "elsewhere"}

    return TestClient(app)


def _encrypted(plain: str, nonce: str) -> tuple[dict[str, str], bytes]:
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    envelope = crypto.encrypt_message(plain, nonce, "1717401600")
    signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    encrypted = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    params = {"msg_signature": signature, "timestamp": "1717401600", "nonce": nonce}
    return params, f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()


def test_the_fast_path_answers_the_callback_post_before_routing(settings: Settings) -> None:
    workspace = Workspace(
        settings.model_copy(update={"wecom_token": TOKEN, "wecom_aes_key": AES_KEY, "wecom_corp_id": CORP_ID})
    )
    try:
        client = _fast_client(workspace)
        params, body = _encrypted(_message("fast1", "wmFast"), "n1")
        assert (client.post("/wecom/callback", params=params, content=body).text) == "success"
        retry_params, retry_body = _encrypted(_message("fast1", "wmFast"), "n2")  # WeCom's retry
        assert client.post("/wecom/callback/", params=retry_params, content=retry_body).text == "success"
        outbox, log = _rows(workspace)
        assert [row.payload["event_id"] for row in outbox] == ["msg:fast1"]
        assert [(row.status, row.attempts) for row in log] == [("done", 1)]
        assert client.post("/wecom/callback", content=body).status_code == 422  # no signature
        overlong = params | {"nonce": "n" * 129}
        assert client.post("/wecom/callback", params=overlong, content=body).status_code == 422
        huge = b"<xml><Encrypt>" + b"A" * 1_100_000 + b"</Encrypt></xml>"
        assert client.post("/wecom/callback", params=params, content=huge).status_code == 413
        tampered = params | {"msg_signature": "0" * 40}
        assert client.post("/wecom/callback", params=tampered, content=body).status_code == 403
        hostile = b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><xml/>"
        assert client.post("/wecom/callback", params=params, content=hostile).status_code in (400, 403)
        assert client.post("/elsewhere").json() == {"route": "elsewhere"}  # other requests go on
        verify = client.get("/wecom/callback", params={"echostr": "x"})
        assert verify.status_code == 422  # the GET verification is still the routed one
    finally:
        workspace.close()


def test_apply_now_applies_a_callers_batch_in_one_transaction(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = _Gate(monkeypatch, poison="签到 ' OR 1=1 --")
    woken: list[int] = []
    service = BotService(workspace.database, workspace.settings, on_enqueued=lambda: woken.append(1))
    processor = CallbackProcessor(workspace, service=service)
    plains = [_message(f"n{n}", f"wm{n:03d}", group=f"wrNow{n % 2}") for n in range(6)]
    plains += [plains[0], _message("poison", "wmPoison", "签到 ' OR 1=1 --")]
    prepared = [processor.prepare_message(plain) for plain in plains]
    assert processor.prepare_message(_chat_change_xml()) is None  # not a group text message
    items = [item for item in prepared if item is not None]
    outcomes = service.apply_now(items)
    assert gate.batches[0] == 8  # tried as one batch; the poison made it go one by one after
    assert [getattr(outcome, "enqueued", None) for outcome in outcomes[:7]] == [1] * 6 + [0]
    assert isinstance(outcomes[7], RuntimeError)
    assert [journal.claimed for _, journal in items[:7]] == [True] * 6 + [False]  # the copy: a duplicate
    assert woken == [1]  # the worker is woken once for the batch
    outbox, _ = _rows(workspace)
    assert sorted(row.payload["event_id"] for row in outbox) == sorted(f"msg:n{n}" for n in range(6))


def _chat_change_xml() -> str:
    return (
        "<xml><ToUserName>corp</ToUserName><FromUserName>sys</FromUserName><CreateTime>1717401600</CreateTime>"
        "<MsgType>event</MsgType><Event>change_external_chat</Event><ChatId>wrNow0</ChatId>"
        "<ChangeType>update</ChangeType><UpdateDetail>add_member</UpdateDetail></xml>"
    )
