"""Decrypted WeCom callback XML → typed events.

Covers the customer-group and customer-contact events GroupOps acts on
(``change_external_chat``, ``change_external_contact``, ``msgaudit_notify``); every other
event or message is kept whole as an :class:`UnknownCallback` so nothing is lost.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from groupops.errors import InputFormatError
from groupops.wecom.crypto import WeComCryptoError, parse_xml_safely

__all__ = [
    "EXTERNAL_CHAT_CHANGE_TYPES",
    "EXTERNAL_CHAT_UPDATE_DETAILS",
    "EXTERNAL_CONTACT_CHANGE_TYPES",
    "CallbackEvent",
    "CallbackHeader",
    "ExternalChatChange",
    "ExternalContactChange",
    "MessageAuditNotify",
    "UnknownCallback",
    "parse_callback_event",
]

EXTERNAL_CHAT_CHANGE_TYPES = ("create", "update", "dismiss")
EXTERNAL_CHAT_UPDATE_DETAILS = ("add_member", "del_member", "change_owner", "change_name", "change_notice")
EXTERNAL_CONTACT_CHANGE_TYPES = (
    "add_external_contact",
    "edit_external_contact",
    "add_half_external_contact",
    "del_external_contact",
    "del_follow_user",
    "transfer_fail",
)

ExternalChatChangeType = Literal["create", "update", "dismiss"]


@dataclass(frozen=True)
class CallbackHeader:
    """Fields every callback carries."""

    to_user_name: str
    from_user_name: str
    create_time: int
    msg_type: str
    event: str


@dataclass(frozen=True)
class ExternalChatChange:
    """``change_external_chat``: a customer group was created, updated or dismissed.

    ``join_scene``: 0 invited by a member, 3 via QR code (WeCom's values); ``quit_scene``:
    0 left by themselves, 1 removed by the owner.
    """

    header: CallbackHeader
    chat_id: str
    change_type: str
    update_detail: str | None = None
    join_scene: int | None = None
    quit_scene: int | None = None
    member_change_count: int | None = None
    member_change_list: tuple[str, ...] = ()
    last_member_version: str | None = None
    member_version: str | None = None
    raw: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ExternalContactChange:
    """``change_external_contact``: a customer added, removed or was removed by a staff member.

    ``del_follow_user`` (the customer deleted the staff member) is the churn signal.
    """

    header: CallbackHeader
    change_type: str
    user_id: str
    external_user_id: str
    state: str | None = None
    welcome_code: str | None = None
    source: str | None = None
    fail_reason: str | None = None
    raw: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class MessageAuditNotify:
    """``msgaudit_notify``: new archived messages are ready to be pulled."""

    header: CallbackHeader
    raw: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class UnknownCallback:
    """Any other callback, kept raw (top-level element names → text)."""

    header: CallbackHeader
    raw: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


CallbackEvent = ExternalChatChange | ExternalContactChange | MessageAuditNotify | UnknownCallback


def _text_fields(root: ElementTree.Element) -> dict[str, str]:
    return {child.tag: (child.text or "").strip() for child in root if len(child) == 0}


def _optional_int(fields: dict[str, str], name: str) -> int | None:
    value = fields.get(name, "")
    if not value:
        return None
    try:
        return int(value)
    except ValueError as error:
        raise InputFormatError(f"callback field {name} is not an integer: {value!r}") from error


def _header(fields: dict[str, str]) -> CallbackHeader:
    return CallbackHeader(
        to_user_name=fields.get("ToUserName", ""),
        from_user_name=fields.get("FromUserName", ""),
        create_time=_optional_int(fields, "CreateTime") or 0,
        msg_type=fields.get("MsgType", ""),
        event=fields.get("Event", ""),
    )


def _member_change_list(root: ElementTree.Element) -> tuple[str, ...]:
    container = root.find("MemChangeList")
    if container is None:
        return ()
    return tuple((item.text or "").strip() for item in container.findall("Item") if (item.text or "").strip())


def _external_chat_change(root: ElementTree.Element, fields: dict[str, str]) -> ExternalChatChange:
    return ExternalChatChange(
        header=_header(fields),
        chat_id=fields.get("ChatId", ""),
        change_type=fields.get("ChangeType", ""),
        update_detail=fields.get("UpdateDetail") or None,
        join_scene=_optional_int(fields, "JoinScene"),
        quit_scene=_optional_int(fields, "QuitScene"),
        member_change_count=_optional_int(fields, "MemChangeCnt"),
        member_change_list=_member_change_list(root),
        last_member_version=fields.get("LastMemVer") or None,
        member_version=fields.get("CurMemVer") or None,
        raw=MappingProxyType(fields),
    )


def _external_contact_change(fields: dict[str, str]) -> ExternalContactChange:
    return ExternalContactChange(
        header=_header(fields),
        change_type=fields.get("ChangeType", ""),
        user_id=fields.get("UserID", ""),
        external_user_id=fields.get("ExternalUserID", ""),
        state=fields.get("State") or None,
        welcome_code=fields.get("WelcomeCode") or None,
        source=fields.get("Source") or None,
        fail_reason=fields.get("FailReason") or None,
        raw=MappingProxyType(fields),
    )


def parse_callback_event(xml_text: str) -> CallbackEvent:
    """Parse one decrypted callback; unknown kinds come back as :class:`UnknownCallback`."""
    try:
        root = parse_xml_safely(xml_text)
    except WeComCryptoError as error:
        raise InputFormatError(f"callback is not readable XML: {error.reason}") from error
    fields = _text_fields(root)
    event = fields.get("Event", "")
    if event == "change_external_chat" and fields.get("ChangeType") in EXTERNAL_CHAT_CHANGE_TYPES:
        return _external_chat_change(root, fields)
    if event == "change_external_contact" and fields.get("ChangeType"):
        return _external_contact_change(fields)
    if event == "msgaudit_notify":
        return MessageAuditNotify(header=_header(fields), raw=MappingProxyType(fields))
    return UnknownCallback(header=_header(fields), raw=MappingProxyType(fields))
