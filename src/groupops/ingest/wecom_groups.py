"""``wecom-groups``: WeCom ``externalcontact/groupchat/get`` responses (客户群详情).

A file holds one response, a JSON array of responses, or one response per line (JSON
lines). Each response upserts its group (kind from ``groupops_kind``, the ``group_kind``
option or the group name: 官方/品牌 → brand_official, 分销/代理 → distributor, else
core_user), its staff (``type`` 1) and external members (``type`` 2), one
``GroupMembership`` stay per member and join time, and stages a ``membership_changes`` join
fact per member. A response with ``errcode`` ≠ 0 is quarantined whole with its ``errmsg``;
so are undecodable, oversized or too deeply nested files and lines.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from groupops.errors import ConfigurationError
from groupops.ingest._lines import read_line_blocks
from groupops.ingest._tabular import (
    FactBatcher,
    RecordError,
    check_store_values,
    month_in_zone,
    parse_time,
    run_line_number,
)
from groupops.ingest.registry import IngestContext, register_source
from groupops.store.models import GROUP_KINDS, Group, GroupMembership, Member, Staff

__all__ = ["group_kind_from_name", "import_wecom_groups", "membership_event_id"]

_MAX_DOCUMENT_FACTOR = 100  # a whole-file JSON document may be max_line_bytes × this
_STAFF, _EXTERNAL = 1, 2


def membership_event_id(group_id: str, member_id: str, change: str, occurred_at: datetime) -> str:
    """The natural key of a membership change: sha1 of ``group|member|change|unix seconds``."""
    basis = f"{group_id}|{member_id}|{change}|{int(occurred_at.timestamp())}"
    return hashlib.sha1(basis.encode("utf-8")).hexdigest()


def group_kind_from_name(name: str) -> str:
    """brand_official for 官方/品牌 groups, distributor for 分销/代理 groups, else core_user."""
    if "官方" in name or "品牌" in name:
        return "brand_official"
    if "分销" in name or "代理" in name:
        return "distributor"
    return "core_user"


@dataclass(frozen=True)
class _Document:
    line: int
    label: str  # "response" or "response 3" (position in a JSON array)
    value: Any
    raw: str


@dataclass(frozen=True)
class _Entry:
    """One validated member_list entry."""

    userid: str
    member_type: int
    joined_at: datetime
    join_scene: int | None
    invitor: str | None
    group_nickname: str | None
    name: str
    unionid: str | None


# -- reading documents ---------------------------------------------------------------------
def _first_line(path: Path, limit: int) -> str:
    with path.open("rb") as handle:
        return handle.readline(limit).decode("utf-8-sig", errors="replace").strip()


def _is_json_lines(path: Path, limit: int) -> bool:
    """One complete JSON object on the first line means JSON lines (a compact single response too)."""
    first = _first_line(path, limit)
    if not first.startswith("{"):
        return False
    try:
        return isinstance(json.loads(first), dict)
    except (ValueError, RecursionError):
        return False


def _parse(text: str) -> tuple[Any, str | None]:
    try:
        return json.loads(text), None
    except RecursionError:
        return None, "JSON nested too deeply"
    except ValueError as error:
        return None, f"invalid JSON: {error}"


def _json_lines(path: Path, context: IngestContext) -> Iterator[_Document]:
    for block in read_line_blocks(path, context.settings.max_line_bytes):
        for number, reason, raw in block.bad_lines:
            context.counts.read += 1
            context.quarantine.add(path, number, reason, raw)
        for offset, line in enumerate(block.lines):
            if not line.strip():
                continue
            value, problem = _parse(line)
            if problem is not None:
                context.counts.read += 1
                context.quarantine.add(path, block.first_line + offset, problem, line)
                continue
            yield _Document(block.first_line + offset, "response", value, line)
        context.progress(block.bytes_read)


def _whole_document(path: Path, context: IngestContext) -> Iterator[_Document]:
    limit = context.settings.max_line_bytes * _MAX_DOCUMENT_FACTOR
    size = path.stat().st_size
    context.progress(size)
    if size > limit:
        context.counts.read += 1
        reason = f"file larger than {limit} bytes ({size}); split it into JSON lines, one response per line"
        context.quarantine.add(path, 1, reason, None)
        return
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        context.counts.read += 1
        context.quarantine.add(path, 1, f"not valid UTF-8 at byte {error.start}", None)
        return
    if not text.strip():
        return
    value, problem = _parse(text)
    if problem is not None:
        context.counts.read += 1
        context.quarantine.add(path, 1, problem, text)
        return
    if isinstance(value, list):
        for index, item in enumerate(value, start=1):
            yield _Document(1, f"response {index}", item, "")
    else:
        yield _Document(1, "response", value, "")


def _documents(path: Path, context: IngestContext) -> Iterator[_Document]:
    if _is_json_lines(path, context.settings.max_line_bytes):
        return _json_lines(path, context)
    return _whole_document(path, context)


# -- validating ------------------------------------------------------------------------------
def _text(value: Any, where: str, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise RecordError(f"{where}: missing")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RecordError(f"{where}: expected a string, got {type(value).__name__}")
    return str(value)


def _time(value: Any, where: str, zone: ZoneInfo, *, required: bool = False) -> datetime | None:
    if value is None:
        if required:
            raise RecordError(f"{where}: missing")
        return None
    if not isinstance(value, int | str) or isinstance(value, bool) or value == "":
        raise RecordError(f"{where}: {value!r} is not a unix time in seconds")
    moment = parse_time(value, where, zone)
    if moment is None:
        raise RecordError(f"{where}: missing")
    return moment


def _entry(raw: Any, where: str, zone: ZoneInfo) -> _Entry:
    if not isinstance(raw, dict):
        raise RecordError(f"{where}: not a JSON object")
    userid = _text(raw.get("userid"), f"{where}.userid", required=True) or ""
    member_type = raw.get("type")
    if member_type not in (_STAFF, _EXTERNAL) or isinstance(member_type, bool):
        raise RecordError(f"{where}.type: {member_type!r} is not 1 (staff) or 2 (external contact)")
    scene = raw.get("join_scene")
    if scene is not None and (not isinstance(scene, int) or isinstance(scene, bool) or not 0 <= scene <= 9):
        raise RecordError(f"{where}.join_scene: {scene!r} is not 1, 2 or 3")
    invitor = raw.get("invitor")
    return _Entry(
        userid=userid,
        member_type=int(member_type),
        joined_at=_time(raw.get("join_time"), f"{where}.join_time", zone, required=True) or datetime.min,
        join_scene=scene,
        invitor=_text(invitor.get("userid"), f"{where}.invitor.userid")
        if isinstance(invitor, dict)
        else None,
        group_nickname=_text(raw.get("group_nickname"), f"{where}.group_nickname"),
        name=_text(raw.get("name"), f"{where}.name") or "",
        unionid=_text(raw.get("unionid"), f"{where}.unionid"),
    )


def _check_entry_fits(entry: _Entry, where: str) -> None:
    try:
        check_store_values(Member, {"id": entry.userid, "name": entry.name, "unionid": entry.unionid})
        check_store_values(
            GroupMembership, {"invitor": entry.invitor, "group_nickname": entry.group_nickname}
        )
    except RecordError as error:
        raise RecordError(f"{where}: {error}") from error


def _group_chat(document: _Document) -> dict[str, Any]:
    value = document.value
    if not isinstance(value, dict):
        raise RecordError(f"{document.label}: not a JSON object")
    errcode = value.get("errcode", 0)
    if errcode != 0:
        raise RecordError(f"{document.label}: WeCom error {errcode}: {value.get('errmsg', '')}")
    chat = value.get("group_chat")
    if not isinstance(chat, dict):
        raise RecordError(f"{document.label}: no group_chat object")
    if "groupops_kind" in value and "groupops_kind" not in chat:
        chat = {**chat, "groupops_kind": value["groupops_kind"]}
    return chat


@dataclass(frozen=True)
class _GroupValues:
    id: str
    name: str
    kind: str | None  # explicit kind, or None to derive from the name for a new group
    owner: str | None
    notice: str | None
    created_at: datetime | None
    admins: list[str]


def _group_values(chat: dict[str, Any], label: str, zone: ZoneInfo, option_kind: str | None) -> _GroupValues:
    chat_id = _text(chat.get("chat_id"), f"{label}: group_chat.chat_id", required=True) or ""
    kind = chat.get("groupops_kind") or option_kind
    if kind is not None and kind not in GROUP_KINDS:
        raise RecordError(f"{label}: groupops_kind {kind!r} is not one of {', '.join(GROUP_KINDS)}")
    admins = chat.get("admin_list") or []
    if not isinstance(admins, list):
        raise RecordError(f"{label}: group_chat.admin_list is not a list")
    values = _GroupValues(
        id=chat_id,
        name=_text(chat.get("name"), f"{label}: group_chat.name") or "",
        kind=kind,
        owner=_text(chat.get("owner"), f"{label}: group_chat.owner"),
        notice=_text(chat.get("notice"), f"{label}: group_chat.notice"),
        created_at=_time(chat.get("create_time"), f"{label}: group_chat.create_time", zone),
        admins=[
            str(admin.get("userid")) for admin in admins if isinstance(admin, dict) and admin.get("userid")
        ],
    )
    check_store_values(Group, {"id": values.id, "name": values.name, "owner": values.owner})
    return values


# -- storing ---------------------------------------------------------------------------------
def _upsert_group(session: Session, values: _GroupValues) -> None:
    group = session.get(Group, values.id)
    if group is None:
        group = Group(
            id=values.id, source="wecom-groups", kind=values.kind or group_kind_from_name(values.name)
        )
        session.add(group)
    elif values.kind is not None:
        group.kind = values.kind
    group.name = values.name or group.name
    group.owner = values.owner or group.owner
    group.notice = values.notice if values.notice is not None else group.notice
    group.created_at = values.created_at or group.created_at
    group.admins = values.admins
    session.flush()


def _upsert_people(session: Session, entries: list[_Entry]) -> None:
    staff_ids = [e.userid for e in entries if e.member_type == _STAFF]
    member_ids = [e.userid for e in entries if e.member_type == _EXTERNAL]
    staff = {s.id: s for s in session.scalars(select(Staff).where(Staff.id.in_(staff_ids)))}
    members = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(member_ids)))}
    for entry in entries:
        if entry.member_type == _STAFF:
            if entry.userid not in staff:
                staff[entry.userid] = Staff(id=entry.userid, name=entry.name)
                session.add(staff[entry.userid])
            continue
        member = members.get(entry.userid)
        if member is None:
            member = Member(id=entry.userid, name=entry.name, source="wecom-groups", tags=[])
            members[entry.userid] = member
            session.add(member)
        member.name = entry.name or member.name
        member.unionid = entry.unionid or member.unionid
        if member.first_seen_at is None or entry.joined_at < member.first_seen_at:
            member.first_seen_at = entry.joined_at


def _add_stays(session: Session, group_id: str, entries: list[_Entry]) -> None:
    stored = session.execute(
        select(GroupMembership.member_id, GroupMembership.joined_at).where(
            GroupMembership.group_id == group_id
        )
    )
    known = {(member_id, joined_at) for member_id, joined_at in stored}
    for entry in entries:
        if (entry.userid, entry.joined_at) in known:
            continue
        known.add((entry.userid, entry.joined_at))
        session.add(
            GroupMembership(
                group_id=group_id,
                member_id=entry.userid,
                member_type="staff" if entry.member_type == _STAFF else "external",
                joined_at=entry.joined_at,
                join_scene=entry.join_scene,
                invitor=entry.invitor,
                group_nickname=entry.group_nickname,
                display_name=entry.name or None,
            )
        )


def _fact(group_id: str, entry: _Entry, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "event_id": membership_event_id(group_id, entry.userid, "join", entry.joined_at),
        "group_id": group_id,
        "member_id": entry.userid,
        "change": "join",
        "occurred_at": entry.joined_at,
        "join_scene": entry.join_scene,
        "invitor": entry.invitor,
        "source": "wecom-groups",
        "month": month_in_zone(entry.joined_at, zone),
    }


@dataclass
class _Run:
    context: IngestContext
    facts: FactBatcher
    zone: ZoneInfo
    option_kind: str | None


def _entries(members: Any, document: _Document, path: Path, run: _Run) -> list[_Entry]:
    if members is None:
        return []
    if not isinstance(members, list):
        raise RecordError(f"{document.label}: group_chat.member_list is not a list")
    entries = []
    for index, raw in enumerate(members):
        where = f"{document.label}: member_list[{index}]"
        run.context.counts.read += 1
        try:
            entry = _entry(raw, where, run.zone)
            _check_entry_fits(entry, where)
            entries.append(entry)
        except RecordError as error:
            run.context.quarantine.add(path, document.line, str(error), json.dumps(raw, ensure_ascii=False))
    return entries


def _import_document(document: _Document, path: Path, file_index: int, run: _Run) -> None:
    try:
        chat = _group_chat(document)
        group = _group_values(chat, document.label, run.zone, run.option_kind)
        if not isinstance(chat.get("member_list", []), list):
            raise RecordError(f"{document.label}: group_chat.member_list is not a list")
    except RecordError as error:
        run.context.counts.read += 1
        raw = document.raw or json.dumps(document.value, ensure_ascii=False)[:100_000]
        run.context.quarantine.add(path, document.line, str(error), raw)
        return
    entries = _entries(chat.get("member_list"), document, path, run)
    with run.context.database.session() as session:
        _upsert_group(session, group)
        _upsert_people(session, entries)
        _add_stays(session, group.id, entries)
    for entry in entries:
        run.facts.add(_fact(group.id, entry, run.zone), run_line_number(file_index, document.line))


def _option_kind(context: IngestContext) -> str | None:
    kind = context.options.get("group_kind") or context.options.get("kind")
    if kind is not None and kind not in GROUP_KINDS:
        raise ConfigurationError(f"group kind {kind!r} is not one of {', '.join(GROUP_KINDS)}")
    return str(kind) if kind else None


@register_source(
    "wecom-groups", "WeCom externalcontact/groupchat/get responses (JSON, JSON array or JSON lines)."
)
def import_wecom_groups(paths: Sequence[Path], context: IngestContext) -> None:
    """Upsert groups, staff, members and stays from ``paths``; commit the join facts."""
    option_kind = _option_kind(context)
    with context.warehouse.staged_import("membership_changes", context.run_id) as staged:
        run = _Run(
            context,
            FactBatcher(staged, context.settings.ingest_batch_rows),
            ZoneInfo(context.settings.timezone),
            option_kind,
        )
        for file_index, path in enumerate(paths):
            for document in _documents(path, context):
                _import_document(document, path, file_index, run)
        run.facts.flush()
        result = context.warehouse.commit(staged)
    context.counts.ingested += result.written
    context.counts.duplicates += result.duplicates
