"""``memotrace``: WeChatMsg / MemoTrace CSV exports of personal-WeChat chats.

Columns: ``localId, TalkerId, Type, SubType, IsSender, CreateTime (unix s), Status,
StrContent, StrTime, Remark, NickName, Sender``; ``Remark``/``NickName``/``Sender`` describe
the sender. A group chat is a ``TalkerId`` ending in ``@chatroom`` or, as MemoTrace writes
its numeric talker ids, a file named ``<chatroom id>@chatroom.csv`` (or the ``group_id``
option). Messages go to ``messages`` (``msgid = "mt:" + chat id + ":" + localId``) with the
same columns as ``wecom-archive``; app messages (Type 49) are read from their XML (title,
quoted sender and text). System messages announcing joins (``"X"邀请"Y"加入了群聊``,
``"Y"通过扫描"X"分享的二维码加入群聊``) and removals (``"X"将"Y"移出了群聊``) also become
``membership_changes`` facts. Groups, members (senders) and the exporting staff account are
upserted in the operational store.

Options: ``staff`` (wxids, list or comma-separated, whose messages count as staff),
``self_id`` (the exporting account's wxid, when ``Sender`` is empty on its messages),
``group_id`` / ``group_name`` / ``group_kind`` (for the group of a file).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from groupops.ingest._tabular import (
    FactBatcher,
    RecordError,
    TabularRow,
    check_header,
    check_store_values,
    month_in_zone,
    parse_integer,
    parse_time,
    read_rows,
    run_line_number,
)
from groupops.ingest.registry import IngestContext, register_source
from groupops.ingest.wecom_groups import group_kind_from_name, membership_event_id
from groupops.store.models import Group, Member, Staff

__all__ = ["MESSAGE_TYPES", "import_memotrace", "membership_changes_in"]

MESSAGE_TYPES = {
    1: "text",
    3: "image",
    34: "voice",
    42: "card",
    43: "video",
    47: "emotion",
    48: "location",
    50: "voip",
    10000: "system",
    10002: "system",
}
APP_SUBTYPES = {5: "link", 6: "file", 19: "chatrecord", 33: "weapp", 36: "weapp", 57: "text", 2000: "transfer", 2001: "redpacket"}  # fmt: skip
_COLUMNS = (
    "localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime",
    "Status", "StrContent", "StrTime", "Remark", "NickName", "Sender",
)  # fmt: skip
_ALIASES: dict[str, tuple[str, ...]] = {name: () for name in _COLUMNS}
_REQUIRED = ("localId", "TalkerId", "Type", ("CreateTime", "StrTime"), "StrContent")
_TEXT_TYPES = ("text", "system", "link", "file")
_MEDIA_TYPES = ("image", "voice", "video", "emotion")
_Q = '["“”]'
_PERSON = rf"(?:你|{_Q}[^\"“”]+?{_Q})"
_JOIN_PATTERNS = (
    (re.compile(rf"^(?P<by>{_PERSON})邀请(?P<who>.+?)加入了群聊"), "join", 1),
    (re.compile(rf"^(?P<who>{_PERSON})通过扫描(?P<by>{_PERSON})分享的二维码加入群聊"), "join", 3),
    (re.compile(rf"^(?P<by>{_PERSON})将(?P<who>.+?)移出了群聊"), "leave", None),
)
_QUOTED_NAME = re.compile(rf"{_Q}([^\"“”]+?){_Q}")
_QUOTE = re.compile(r"^「([^：」\n]{1,64})：(.*?)」\n(?:- ?){4,}-?\n(.*)$", re.DOTALL)
_MENTION = re.compile(r"@([^\s@\u2005]{1,32})")
_SELF = "self"


@dataclass(frozen=True)
class MembershipChange:
    """A join or removal announced by a system message, with names as shown in the chat."""

    change: str
    member_name: str
    by_name: str | None
    join_scene: int | None


def _person(text: str) -> str:
    return _SELF if text == "你" else text.strip('"“”')


def _people(text: str) -> list[str]:
    """Names in ``"阿强、小红"`` / ``你和"阿强"`` (``你``, the exporting account, becomes ``self``)."""
    names = [name.strip() for quoted in _QUOTED_NAME.findall(text) for name in quoted.split("、")]
    if "你" in _QUOTED_NAME.sub("", text):
        names.insert(0, _SELF)
    return [name for name in names if name]


def membership_changes_in(text: str) -> list[MembershipChange]:
    """The joins and removals a WeChat system message announces (several names split on 、)."""
    stripped = text.strip()
    for pattern, change, scene in _JOIN_PATTERNS:
        match = pattern.match(stripped)
        if match is not None:
            by = _person(match["by"])
            return [MembershipChange(change, name, by, scene) for name in _people(match["who"])]
    return []


@dataclass
class _FileState:
    """Per file: who spoke (for names → wxids), pending membership changes, groups seen."""

    names: dict[tuple[str, str], str] = field(default_factory=dict)  # (group, display name) → wxid
    members: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # wxid → (name, first message)
    staff: dict[str, str] = field(default_factory=dict)  # wxid → name
    groups: set[str] = field(default_factory=set)
    changes: list[tuple[str, datetime, MembershipChange, int]] = field(default_factory=list)


@dataclass(frozen=True)
class _Setup:
    zone: ZoneInfo
    staff_ids: frozenset[str]
    self_id: str


def _staff_ids(value: Any) -> frozenset[str]:
    if not value:
        return frozenset()
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    return frozenset(str(item).strip() for item in items if str(item).strip())


def _msgtype(kind: int, subtype: int | None) -> str:
    if kind == 49:
        return APP_SUBTYPES.get(subtype or 0, "app")
    return MESSAGE_TYPES.get(kind, "unknown")


def _sent_at(row: TabularRow, zone: ZoneInfo) -> datetime:
    moment = parse_time(row.get("CreateTime"), "CreateTime", zone)
    if moment is None:
        moment = parse_time(row.get("StrTime"), "StrTime", zone)
    if moment is None:
        raise RecordError("column 'CreateTime': empty (and no StrTime)")
    return moment


def _sender(
    row: TabularRow, group_id: str | None, msgtype: str, is_sender: bool, setup: _Setup
) -> str | None:
    sender = row.text("Sender")
    if sender:
        return sender
    if is_sender:
        return setup.self_id
    if group_id is None:
        return row.text("TalkerId")
    if msgtype == "system":
        return None
    raise RecordError("column 'Sender': empty on a group message (whose message is it?)")


def _xml_text(content: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", content, re.DOTALL)
    if match is None:
        return None
    text = match[1].strip()
    if text.startswith("<![CDATA[") and text.endswith("]]>"):
        text = text[9:-3]
    return html.unescape(text) or None


def _app_body(content: str) -> tuple[str | None, str | None, str | None]:
    """Title, and for quotes (引用) the quoted sender and text, from an app message's XML."""
    head, _, refer = content.partition("<refermsg>")
    title = _xml_text(head, "title")
    if not refer:
        return title, None, None
    quoted = _xml_text(refer, "content")
    return (
        title,
        _xml_text(refer, "displayname"),
        None if quoted is None or quoted.startswith("<") else quoted,
    )


def _body(content: str, msgtype: str, kind: int) -> tuple[str | None, str | None, str | None]:
    """(text, quote name, quote text): app XML is read for its title and quote; media have no text."""
    if msgtype in _MEDIA_TYPES:
        return None, None, None
    if content.lstrip().startswith("<"):
        return _app_body(content) if kind == 49 else (None, None, None)
    if msgtype not in _TEXT_TYPES:
        return content or None, None, None
    quoted = _QUOTE.match(content) if content.startswith("「") else None
    if quoted is not None:
        return quoted[3], quoted[1], quoted[2]
    return content, None, None


def _check_people(row: TabularRow, talker: str, sender: str | None) -> None:
    """Ids and names must fit the operational store (they are upserted there)."""
    check_store_values(Group, {"id": talker}, {"id": "TalkerId"})
    name = row.text("NickName") or row.text("Remark")
    check_store_values(Member, {"id": sender, "name": name}, {"id": "Sender", "name": "NickName"})


def _chat_group(talker: str, file_group: str | None) -> str | None:
    """The group of a row: an ``@chatroom`` TalkerId, or the file's group for MemoTrace's numeric ids."""
    if talker.endswith("@chatroom"):
        return talker
    return file_group if talker.isdigit() else None


def _message(row: TabularRow, setup: _Setup, file_group: str | None) -> dict[str, Any]:
    if row.error is not None:
        raise RecordError(row.error)
    local_id, talker = row.text("localId"), row.text("TalkerId")
    if not local_id or not talker:
        raise RecordError(f"column {'localId' if not local_id else 'TalkerId'!r}: empty")
    kind = parse_integer(row.get("Type"), "Type")
    if kind is None:
        raise RecordError("column 'Type': empty")
    msgtype = _msgtype(kind, parse_integer(row.get("SubType"), "SubType"))
    is_sender = row.text("IsSender") == "1"
    group_id = _chat_group(talker, file_group)
    sender = _sender(row, group_id, msgtype, is_sender, setup)
    _check_people(row, group_id or talker, sender)
    sent_at = _sent_at(row, setup.zone)
    content = row.text("StrContent")
    text, quote_name, quote_text = _body(content, msgtype, kind)
    plain = msgtype == "text" and kind == 1
    raw = (
        None
        if plain
        else json.dumps(dict(zip(_COLUMNS, map(row.text, _COLUMNS), strict=True)), ensure_ascii=False)
    )
    return {
        "msgid": f"mt:{group_id or talker}:{local_id}",
        "source": "memotrace",
        "action": "send",
        "group_id": group_id,
        "sender_id": sender,
        "sender_is_staff": is_sender or (sender in setup.staff_ids),
        "sent_at": sent_at,
        "msgtype": msgtype,
        "text": text,
        "mention_names": _MENTION.findall(text) if text and "@" in text else [],
        "quote_name": quote_name,
        "quote_text": quote_text,
        "recalled_msgid": None,
        "revoked": False,
        "raw": raw,
        "month": month_in_zone(sent_at, setup.zone),
    }


def _remember(row: TabularRow, message: dict[str, Any], state: _FileState, order: int) -> None:
    group_id, sender, sent_at = message["group_id"], message["sender_id"], message["sent_at"]
    if group_id:
        state.groups.add(group_id)
    if message["msgtype"] == "system" and group_id:
        for change in membership_changes_in(message["text"] or ""):
            state.changes.append((group_id, sent_at, change, order))
        return
    if not sender or sender == _SELF:
        return
    name = row.text("NickName") or row.text("Remark")
    if group_id and name:
        state.names[(group_id, name)] = sender
        if row.text("Remark"):
            state.names.setdefault((group_id, row.text("Remark")), sender)
    if message["sender_is_staff"]:
        state.staff[sender] = name
    elif sender not in state.members or sent_at < state.members[sender][1]:
        state.members[sender] = (name, sent_at)


def _resolve(state: _FileState, group_id: str, name: str | None, setup: _Setup) -> str | None:
    if name is None:
        return None
    if name == _SELF:
        return setup.self_id
    return state.names.get((group_id, name), f"nick:{name}")


def _stage_changes(state: _FileState, setup: _Setup, batcher: FactBatcher) -> None:
    for group_id, occurred_at, change, order in state.changes:
        member_id = _resolve(state, group_id, change.member_name, setup) or ""
        batcher.add(
            {
                "event_id": membership_event_id(group_id, member_id, change.change, occurred_at),
                "group_id": group_id,
                "member_id": member_id,
                "change": change.change,
                "occurred_at": occurred_at,
                "join_scene": change.join_scene,
                "invitor": _resolve(state, group_id, change.by_name, setup),
                "source": "memotrace",
                "month": month_in_zone(occurred_at, setup.zone),
            },
            order,
        )


def _group_name(path: Path, state: _FileState, options: dict[str, Any]) -> str:
    if len(state.groups) != 1:
        return ""
    given = options.get("group_name")
    if given:
        return str(given)
    return "" if path.stem.endswith("@chatroom") else path.stem[:256]


def _store_people(path: Path, state: _FileState, context: IngestContext) -> None:
    name = _group_name(path, state, context.options)
    with context.database.session() as session:
        for group in session.scalars(select(Group).where(Group.id.in_(state.groups))):
            state.groups.discard(group.id)
            group.name = group.name or name
        kind = context.options.get("group_kind") or group_kind_from_name(name)
        for group_id in state.groups:
            session.add(Group(id=group_id, name=name, kind=kind, source="memotrace", admins=[]))
        known_staff = set(session.scalars(select(Staff.id).where(Staff.id.in_(list(state.staff)))))
        for staff_id, staff_name in state.staff.items():
            if staff_id not in known_staff:
                session.add(Staff(id=staff_id, name=staff_name))
        _store_members(session, state)


def _store_members(session: Any, state: _FileState) -> None:
    ids = list(state.members)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stored = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(chunk)))}
        for member_id in chunk:
            name, first_seen = state.members[member_id]
            member = stored.get(member_id)
            if member is None:
                session.add(
                    Member(
                        id=member_id,
                        name=name,
                        source="memotrace",
                        tags=[],
                        first_seen_at=first_seen,
                    )
                )
                continue
            member.name = member.name or name
            if member.first_seen_at is None or first_seen < member.first_seen_at:
                member.first_seen_at = first_seen


@dataclass
class _Outputs:
    messages: FactBatcher
    changes: FactBatcher


def _import_file(
    path: Path, file_index: int, setup: _Setup, outputs: _Outputs, context: IngestContext
) -> None:
    state = _FileState()
    limit = context.settings.max_line_bytes
    file_group = context.options.get("group_id") or (path.stem if path.stem.endswith("@chatroom") else None)
    for row in read_rows(path, _ALIASES, _REQUIRED, limit, context.progress):
        context.counts.read += 1
        order = run_line_number(file_index, row.line)
        try:
            message = _message(row, setup, file_group)
        except RecordError as error:
            context.quarantine.add(path, row.line, str(error), row.raw())
            continue
        outputs.messages.add(message, order)
        _remember(row, message, state, order)
    _stage_changes(state, setup, outputs.changes)
    _store_people(path, state, context)


@register_source("memotrace", "WeChatMsg/MemoTrace CSV export of personal-WeChat chats (UTF-8 with BOM).")
def import_memotrace(paths: Sequence[Path], context: IngestContext) -> None:
    """Validate every message row of ``paths``; commit ``messages`` and ``membership_changes``."""
    limit = context.settings.max_line_bytes
    for path in paths:
        check_header(path, _ALIASES, _REQUIRED, limit)
    setup = _Setup(
        zone=ZoneInfo(context.settings.timezone),
        staff_ids=_staff_ids(context.options.get("staff")),
        self_id=str(context.options.get("self_id") or _SELF),
    )
    warehouse, batch_rows = context.warehouse, context.settings.ingest_batch_rows
    with (
        warehouse.staged_import("messages", context.run_id) as staged_messages,
        warehouse.staged_import("membership_changes", context.run_id) as staged_changes,
    ):
        outputs = _Outputs(FactBatcher(staged_messages, batch_rows), FactBatcher(staged_changes, batch_rows))
        for file_index, path in enumerate(paths):
            _import_file(path, file_index, setup, outputs, context)
        outputs.messages.flush()
        outputs.changes.flush()
        result = warehouse.commit(staged_messages)
        warehouse.commit(staged_changes)
    context.counts.ingested += result.written
    context.counts.duplicates += result.duplicates
