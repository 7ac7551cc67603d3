"""Callback XML → typed events."""

from __future__ import annotations

import pytest

from groupops.errors import InputFormatError
from groupops.wecom.messages import (
    ExternalChatChange,
    ExternalContactChange,
    MessageAuditNotify,
    UnknownCallback,
    parse_callback_event,
)

ADD_MEMBER = """<xml>
<ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>
<FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>1403610513</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[change_external_chat]]></Event>
<ChatId><![CDATA[wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA]]></ChatId>
<ChangeType><![CDATA[update]]></ChangeType>
<UpdateDetail><![CDATA[add_member]]></UpdateDetail>
<JoinScene>3</JoinScene>
<MemChangeCnt>2</MemChangeCnt>
<MemChangeList><Item>wmEAlECwAAHrbWYDOK5u3Af13xlYDDNQ</Item><Item>wmEAlECwAAHrbWYDOK5u3Af13xlYDDNR</Item></MemChangeList>
<LastMemVer>9c3f97c2ada667dfb5f6d03308d963e1</LastMemVer>
<CurMemVer>71217227bbd112ecfe3a49c482195cb4</CurMemVer>
</xml>"""


def _chat(change_type: str, detail: str = "", extra: str = "") -> str:
    detail_xml = f"<UpdateDetail><![CDATA[{detail}]]></UpdateDetail>" if detail else ""
    return (
        "<xml><ToUserName>ww1</ToUserName><FromUserName>sys</FromUserName><CreateTime>1700000000</CreateTime>"
        "<MsgType>event</MsgType><Event>change_external_chat</Event><ChatId>wrChat</ChatId>"
        f"<ChangeType>{change_type}</ChangeType>{detail_xml}{extra}</xml>"
    )


def test_add_member_event() -> None:
    event = parse_callback_event(ADD_MEMBER)
    assert isinstance(event, ExternalChatChange)
    assert event.change_type == "update" and event.update_detail == "add_member"
    assert event.chat_id == "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
    assert event.join_scene == 3 and event.member_change_count == 2
    assert event.member_change_list == (
        "wmEAlECwAAHrbWYDOK5u3Af13xlYDDNQ",
        "wmEAlECwAAHrbWYDOK5u3Af13xlYDDNR",
    )
    assert event.header.create_time == 1403610513 and event.header.to_user_name == "ww1436e0e65a779aee"
    assert event.member_version == "71217227bbd112ecfe3a49c482195cb4"


def test_del_member_carries_quit_scene() -> None:
    event = parse_callback_event(
        _chat("update", "del_member", "<QuitScene>1</QuitScene><MemChangeCnt>1</MemChangeCnt>")
    )
    assert isinstance(event, ExternalChatChange)
    assert event.quit_scene == 1 and event.join_scene is None


@pytest.mark.parametrize("detail", ["change_owner", "change_name", "change_notice"])
def test_other_update_details(detail: str) -> None:
    event = parse_callback_event(_chat("update", detail))
    assert isinstance(event, ExternalChatChange) and event.update_detail == detail


@pytest.mark.parametrize("change_type", ["create", "dismiss"])
def test_create_and_dismiss(change_type: str) -> None:
    event = parse_callback_event(_chat(change_type))
    assert isinstance(event, ExternalChatChange)
    assert event.change_type == change_type and event.update_detail is None and event.member_change_list == ()


@pytest.mark.parametrize(
    ("change_type", "extra", "field", "value"),
    [
        (
            "add_external_contact",
            "<State>qr-store-7</State><WelcomeCode>WELCOME</WelcomeCode>",
            "welcome_code",
            "WELCOME",
        ),
        ("del_external_contact", "<Source>DELETE_BY_TRANSFER</Source>", "source", "DELETE_BY_TRANSFER"),
        ("del_follow_user", "", "state", None),
        ("transfer_fail", "<FailReason>customer_refused</FailReason>", "fail_reason", "customer_refused"),
    ],
)
def test_external_contact_changes(change_type: str, extra: str, field: str, value: str | None) -> None:
    xml = (
        "<xml><ToUserName>ww1</ToUserName><FromUserName>sys</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>event</MsgType><Event>change_external_contact</Event>"
        f"<ChangeType>{change_type}</ChangeType><UserID>zhangsan</UserID><ExternalUserID>wmX</ExternalUserID>{extra}</xml>"
    )
    event = parse_callback_event(xml)
    assert isinstance(event, ExternalContactChange)
    assert (
        event.change_type == change_type and event.user_id == "zhangsan" and event.external_user_id == "wmX"
    )
    assert getattr(event, field) == value


def test_msgaudit_notify() -> None:
    event = parse_callback_event(
        "<xml><ToUserName>ww1</ToUserName><FromUserName>sys</FromUserName><CreateTime>5</CreateTime>"
        "<MsgType>event</MsgType><AgentID>2000004</AgentID><Event>msgaudit_notify</Event></xml>"
    )
    assert isinstance(event, MessageAuditNotify)
    assert event.raw["AgentID"] == "2000004" and event.header.create_time == 5


def test_unknown_events_are_kept_raw() -> None:
    event = parse_callback_event(
        "<xml><MsgType>text</MsgType><Content><![CDATA[<script>alert(1)</script>]]></Content></xml>"
    )
    assert isinstance(event, UnknownCallback)
    assert event.raw["Content"] == "<script>alert(1)</script>"


def test_chat_event_with_an_unknown_change_type_is_kept_raw() -> None:
    assert isinstance(parse_callback_event(_chat("explode")), UnknownCallback)


@pytest.mark.parametrize(
    "xml",
    ["", "not xml", "<xml>", '<!DOCTYPE x [<!ENTITY e "e">]><xml>&e;</xml>'],
)
def test_unreadable_callbacks_are_refused(xml: str) -> None:
    with pytest.raises(InputFormatError):
        parse_callback_event(xml)


def test_non_integer_fields_are_refused() -> None:
    with pytest.raises(InputFormatError, match="JoinScene"):
        parse_callback_event(_chat("update", "add_member", "<JoinScene>three</JoinScene>"))
