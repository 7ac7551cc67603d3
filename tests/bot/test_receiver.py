"""The WeCom callback receiver, mounted on a bare FastAPI app: verification, events, retries, archive pulls."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from groupops.bot.receiver import (
    CHURN_SIGNAL_TAG,
    ArchiveBatch,
    ArchiveFetcher,
    CallbackProcessor,
    DirectoryArchiveFetcher,
    wecom_callback_router,
)
from groupops.config import Settings
from groupops.ingest.wecom_groups import membership_event_id
from groupops.store.models import AuditLog, GroupMembership, Member
from groupops.store.models.bot import CallbackEventLog, OutboxItem
from groupops.store.workspace import Workspace
from groupops.wecom.crypto import WeComCrypto

TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
CHAT = "wrOgQhDgAAcwMTB7YmDkbeBsgT_AAAA"

with warnings.catch_warnings():  # this Starlette asks for httpx2 and warns when it uses httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient
JOIN_TIME = 1717401600  # 2024-06-03 08:00 UTC = 16:00 Shanghai


def _wecom_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"wecom_token": TOKEN, "wecom_aes_key": AES_KEY, "wecom_corp_id": CORP_ID, "quiet_hours": ""}
    )


@pytest.fixture
def wecom_workspace(settings: Settings) -> Iterator[Workspace]:
    opened = Workspace(_wecom_settings(settings))
    yield opened
    opened.close()


@pytest.fixture
def sqlite_wecom_workspace(tmp_path: Path) -> Iterator[Workspace]:
    opened = Workspace(_wecom_settings(Settings(data=tmp_path / "data")))
    yield opened
    opened.close()


def _app(workspace: Workspace, fetcher: ArchiveFetcher | None = None) -> TestClient:
    app = FastAPI()
    app.include_router(wecom_callback_router(workspace, fetcher=fetcher), prefix="/wecom/callback")
    return TestClient(app)


def _post(
    client: TestClient, plain: str, nonce: str = "n1", timestamp: str = "1717401600"
) -> tuple[int, str]:
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    envelope = crypto.encrypt_message(plain, nonce, timestamp)
    signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    encrypted = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    response = client.post(
        "/wecom/callback",
        params={"msg_signature": signature, "timestamp": timestamp, "nonce": nonce},
        content=body.encode("utf-8"),
    )
    return response.status_code, response.text


def _chat_change(detail: str, *members: str, change_type: str = "update", when: int = JOIN_TIME) -> str:
    items = "".join(f"<Item><![CDATA[{member}]]></Item>" for member in members)
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{when}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_chat]]></Event>"
        f"<ChatId><![CDATA[{CHAT}]]></ChatId><ChangeType><![CDATA[{change_type}]]></ChangeType>"
        f"<UpdateDetail><![CDATA[{detail}]]></UpdateDetail><JoinScene>3</JoinScene><QuitScene>0</QuitScene>"
        f"<MemChangeCnt>{len(members)}</MemChangeCnt><MemChangeList>{items}</MemChangeList></xml>"
    )


def _contact_change(change_type: str, external: str = "wmCustomer1", when: int = JOIN_TIME) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{when}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_contact]]></Event>"
        f"<ChangeType><![CDATA[{change_type}]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>"
        f"<ExternalUserID><![CDATA[{external}]]></ExternalUserID></xml>"
    )


def _text_message(msg_id: str, text: str, sender: str = "wmAsker", when: int = JOIN_TIME) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{when}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId><ChatId><![CDATA[{CHAT}]]></ChatId></xml>"
    )


def _membership_facts(workspace: Workspace) -> list[dict[str, object]]:
    return workspace.warehouse.read_table("membership_changes").to_pylist()


def _outbox(workspace: Workspace) -> list[OutboxItem]:
    with workspace.database.session() as session:
        return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))


# --- URL verification ---------------------------------------------------------------------------
def test_get_verification_answers_the_published_echo(sqlite_wecom_workspace: Workspace) -> None:
    client = _app(sqlite_wecom_workspace)
    params = {
        "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
        "timestamp": "1409659589",
        "nonce": "263014780",
        "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
    }
    response = client.get("/wecom/callback", params=params)
    assert (response.status_code, response.text) == (200, "1616140317555161061")
    tampered = client.get("/wecom/callback", params=params | {"msg_signature": "0" * 40})
    assert tampered.status_code == 403 and "-40001" in tampered.text
    assert client.get("/wecom/callback", params={"echostr": "x"}).status_code == 422


def test_unconfigured_callback_answers_503(sqlite_workspace: Workspace) -> None:
    client = _app(sqlite_workspace)
    response = client.get(
        "/wecom/callback", params={"msg_signature": "a", "timestamp": "1", "nonce": "1", "echostr": "x"}
    )
    assert response.status_code == 503 and "GROUPOPS_WECOM_TOKEN" in response.text


# --- membership ---------------------------------------------------------------------------------
def test_add_member_becomes_a_fact_a_stay_and_a_welcome(wecom_workspace: Workspace) -> None:
    client = _app(wecom_workspace)
    assert _post(client, _chat_change("add_member", "wmNewMember1", "zhangsan")) == (200, "success")
    facts = _membership_facts(wecom_workspace)
    assert sorted((fact["member_id"], fact["change"]) for fact in facts) == [
        ("wmNewMember1", "join"),
        ("zhangsan", "join"),
    ]
    fact = next(fact for fact in facts if fact["member_id"] == "wmNewMember1")
    assert fact["group_id"] == CHAT and fact["join_scene"] == 3 and fact["source"] == "callback"
    assert fact["month"] == "2024-06"
    with wecom_workspace.database.session() as session:
        stays = {stay.member_id: stay.member_type for stay in session.scalars(select(GroupMembership))}
    assert stays == {"wmNewMember1": "external", "zhangsan": "staff"}
    welcomes = _outbox(wecom_workspace)
    assert len(welcomes) == 1  # staff get no welcome
    assert welcomes[0].payload["skill"] == "welcome" and welcomes[0].target == CHAT
    assert welcomes[0].payload["mentioned_user_ids"] == ["wmNewMember1"]


def test_wecom_retries_of_one_callback_produce_one_fact(wecom_workspace: Workspace) -> None:
    client = _app(wecom_workspace)
    plain = _chat_change("add_member", "wmRetried1")
    for nonce in ("first", "retry1", "retry2"):  # WeCom re-sends the same event, freshly encrypted
        assert _post(client, plain, nonce=nonce) == (200, "success")
    facts = _membership_facts(wecom_workspace)
    assert len(facts) == 1
    assert facts[0]["event_id"] == membership_event_id(CHAT, "wmRetried1", "join", facts[0]["occurred_at"])
    with wecom_workspace.database.session() as session:
        assert session.scalar(select(func.count()).select_from(GroupMembership)) == 1
        log = session.scalars(select(CallbackEventLog)).all()
    assert [(row.status, row.attempts) for row in log] == [("done", 1)]
    assert log[0].detail["facts_written"] == 1
    assert len(_outbox(wecom_workspace)) == 1


def test_leaving_closes_the_stay_and_writes_a_leave_fact(sqlite_wecom_workspace: Workspace) -> None:
    client = _app(sqlite_wecom_workspace)
    _post(client, _chat_change("add_member", "wmLeaver1"))
    _post(client, _chat_change("del_member", "wmLeaver1", when=JOIN_TIME + 3600))
    changes = sorted(fact["change"] for fact in _membership_facts(sqlite_wecom_workspace))
    assert changes == ["join", "leave"]
    with sqlite_wecom_workspace.database.session() as session:
        stay = session.scalars(select(GroupMembership)).one()
        assert stay.left_at is not None and int(stay.left_at.timestamp()) == JOIN_TIME + 3600


def test_dismiss_marks_the_group_and_closes_every_stay(sqlite_wecom_workspace: Workspace) -> None:
    client = _app(sqlite_wecom_workspace)
    _post(client, _chat_change("add_member", "wmA1", "wmB2"))
    _post(client, _chat_change("", change_type="dismiss", when=JOIN_TIME + 60))
    with sqlite_wecom_workspace.database.session() as session:
        assert all(stay.left_at is not None for stay in session.scalars(select(GroupMembership)))
        actions = set(session.scalars(select(AuditLog.action)))
    assert "wecom.group.dismiss" in actions


def test_del_follow_user_is_a_churn_signal(wecom_workspace: Workspace) -> None:
    client = _app(wecom_workspace)
    assert _post(client, _contact_change("add_external_contact"))[0] == 200
    assert _post(client, _contact_change("del_follow_user", when=JOIN_TIME + 86400))[0] == 200
    facts = sorted(_membership_facts(wecom_workspace), key=lambda fact: str(fact["occurred_at"]))
    assert [(fact["change"], fact["group_id"], fact["invitor"]) for fact in facts] == [
        ("contact_add", None, "zhangsan"),
        ("follow_deleted", None, "zhangsan"),
    ]
    with wecom_workspace.database.session() as session:
        member = session.get(Member, "wmCustomer1")
        assert member is not None and CHURN_SIGNAL_TAG in member.tags
        audit = session.scalars(
            select(AuditLog).where(AuditLog.action == "wecom.contact.del_follow_user")
        ).one()
        assert audit.detail["churn_signal"] is True


# --- messages and the bot -------------------------------------------------------------------------
def test_a_text_message_goes_through_the_bot_to_the_outbox(sqlite_wecom_workspace: Workspace) -> None:
    client = _app(sqlite_wecom_workspace)
    _post(client, _text_message("10001", "签到"))
    _post(
        client,
        _text_message("10001", "签到"),
    )  # WeCom retry
    _post(
        client,
        _text_message("10002", "加我微信 vx123456 兼职日结"),
    )
    texts = [item.payload["text"] for item in _outbox(sqlite_wecom_workspace)]
    assert len(texts) == 2
    assert "签到成功" in texts[0] and "群规" in texts[1]


# --- bad input ------------------------------------------------------------------------------------
def test_tampered_garbage_and_hostile_posts_are_refused(sqlite_wecom_workspace: Workspace) -> None:
    client = _app(sqlite_wecom_workspace)
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    envelope = crypto.encrypt_message(_contact_change("add_external_contact"), "n9", "1717401600")
    encrypted = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    params = {"msg_signature": "f" * 40, "timestamp": "1717401600", "nonce": "n9"}
    assert client.post("/wecom/callback", params=params, content=body).status_code == 403
    doctype = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>'
    assert client.post("/wecom/callback", params=params, content=doctype).status_code == 400
    assert client.post("/wecom/callback", params=params, content=b"\xff\xfe not xml").status_code in (
        400,
        403,
    )
    huge = b"<xml><Encrypt>" + b"A" * 1_100_000 + b"</Encrypt></xml>"
    assert client.post("/wecom/callback", params=params, content=huge).status_code == 413
    assert client.post("/wecom/callback", content=body).status_code == 422
    assert _outbox(sqlite_wecom_workspace) == [] and _membership_facts(sqlite_wecom_workspace) == []


def test_hostile_ids_are_stored_verbatim_not_executed(sqlite_wecom_workspace: Workspace) -> None:
    client = _app(sqlite_wecom_workspace)
    hostile = "wm'); DROP TABLE members;--<script>"
    assert _post(client, _chat_change("add_member", hostile))[0] == 200
    with sqlite_wecom_workspace.database.session() as session:
        assert session.get(Member, hostile) is not None


def test_a_failed_callback_is_answered_500_and_applied_on_the_retry(
    sqlite_wecom_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _app(sqlite_wecom_workspace)
    calls = {"count": 0}
    original = CallbackProcessor._external_contact

    def flaky(self: CallbackProcessor, event: object, outcome: object) -> None:
        calls["count"] += 1
        if calls["count"] == 1:
            raise RuntimeError("store unavailable")
        original(self, event, outcome)  # type: ignore[arg-type]

    monkeypatch.setattr(CallbackProcessor, "_external_contact", flaky)
    plain = _contact_change("del_follow_user")
    assert _post(client, plain, nonce="a")[0] == 500
    assert _post(client, plain, nonce="b") == (200, "success")
    with sqlite_wecom_workspace.database.session() as session:
        row = session.scalars(select(CallbackEventLog)).one()
    assert (row.status, row.attempts, row.error) == ("done", 2, None)
    assert len(_membership_facts(sqlite_wecom_workspace)) == 1


# --- archive pulls ----------------------------------------------------------------------------------
def _archive_line(msgid: str, text: str) -> str:
    record = {
        "msgid": msgid,
        "action": "send",
        "from": "wmArchived1",
        "tolist": ["zhangsan"],
        "roomid": CHAT,
        "msgtime": JOIN_TIME * 1000,
        "msgtype": "text",
        "text": {"content": text},
    }
    return json.dumps(record, ensure_ascii=False)


def _audit_notify() -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        "<CreateTime>1717401600</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[msgaudit_notify]]></Event><AgentID>2000004</AgentID></xml>"
    )


def test_msgaudit_notify_pulls_the_archive_through_the_fetcher(
    sqlite_wecom_workspace: Workspace, tmp_path: Path
) -> None:
    inbox = tmp_path / "archive-inbox"
    inbox.mkdir()
    (inbox / "batch-1.jsonl").write_text(
        _archive_line("a1", "这件卫衣有S码吗？") + "\n" + _archive_line("a2", "好看") + "\n", encoding="utf-8"
    )
    client = _app(sqlite_wecom_workspace, DirectoryArchiveFetcher(inbox))
    assert _post(client, _audit_notify()) == (200, "success")
    messages = sqlite_wecom_workspace.warehouse.read_table("messages").to_pylist()
    assert sorted(message["msgid"] for message in messages) == ["a1", "a2"]
    assert not (inbox / "batch-1.jsonl").exists() and (inbox / "done" / "batch-1.jsonl").exists()
    assert _post(client, _audit_notify(), nonce="again") == (200, "success")  # a retry pulls nothing new
    assert sqlite_wecom_workspace.warehouse.row_count("messages") == 2


def test_directory_fetcher_only_takes_json_files_inside_the_inbox(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    outside = tmp_path / "secret.json"
    outside.write_text("{}")
    (inbox / "a.jsonl").write_text("{}")
    (inbox / "sub" / "b.json").write_text("{}")
    (inbox / "notes.txt").write_text("x")
    (inbox / ".hidden.json").write_text("{}")
    os.symlink(outside, inbox / "link.json")
    (inbox / "done").mkdir()
    (inbox / "done" / "old.json").write_text("{}")
    fetcher = DirectoryArchiveFetcher(inbox)
    batch = fetcher.fetch()
    assert sorted(path.name for path in batch.paths) == ["a.jsonl", "b.json"]
    (inbox / "done" / "a.jsonl").write_text("earlier")
    fetcher.acknowledge(batch)
    assert fetcher.fetch() == ArchiveBatch(())
    assert (inbox / "done" / "a.1.jsonl").exists() and outside.exists()
    assert DirectoryArchiveFetcher(tmp_path / "missing").fetch().paths == ()
