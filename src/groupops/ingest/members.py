"""``members``: a member list as CSV/XLSX, upserted into the operational store.

Columns (case-, space- and underscore-insensitive; Chinese headers accepted):
``external_userid`` or ``wxid`` (会员ID), ``name`` (昵称), ``gender`` (性别: male/female/unknown,
男/女), ``age_band`` (年龄段), ``region`` (地区), ``tags`` (标签, separated by ``;`` ``,`` or ``|``),
``followers`` (粉丝数: 12000, 1.2万, 1.2w), ``consent_time`` (授权时间), ``unionid``.
Only the columns a file has are written. A row equal to the stored member counts as a
duplicate; a new or changed one as ingested.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from groupops.ingest._tabular import (
    RecordError,
    TabularRow,
    cell_text,
    check_header,
    check_store_values,
    parse_count,
    parse_time,
    read_rows,
    split_tags,
    upsert_records,
)
from groupops.ingest.presets import ColumnMap, column_map_from_options
from groupops.ingest.registry import IngestContext, register_source
from groupops.store.models import Member

__all__ = ["GENDERS", "import_members", "parse_gender"]

GENDERS = ("male", "female", "unknown")
_GENDER_WORDS = {
    "male": "male",
    "m": "male",
    "man": "male",
    "男": "male",
    "男性": "male",
    "1": "male",
    "female": "female",
    "f": "female",
    "woman": "female",
    "女": "female",
    "女性": "female",
    "2": "female",
    "unknown": "unknown",
    "未知": "unknown",
    "保密": "unknown",
    "0": "unknown",
}
_ALIASES: dict[str, tuple[str, ...]] = {
    "external_userid": ("wxid", "member_id", "userid", "会员id", "客户id", "微信号"),
    "name": ("nickname", "昵称", "姓名", "名称"),
    "gender": ("sex", "性别"),
    "age_band": ("age", "年龄段", "年龄"),
    "region": ("city", "province", "地区", "城市", "所在地"),
    "tags": ("tag", "标签"),
    "followers": ("粉丝数", "粉丝", "followers_count"),
    "consent_time": ("consent_at", "授权时间", "同意时间"),
    "unionid": ("union_id",),
}
_REQUIRED = ("external_userid",)
_SESSION_ROWS = 1000


def parse_gender(value: str) -> str | None:
    """``male`` / ``female`` / ``unknown`` from English, Chinese or WeCom's 0/1/2; empty gives ``None``."""
    text = value.strip()
    if not text:
        return None
    gender = _GENDER_WORDS.get(text.lower())
    if gender is None:
        raise RecordError(f"column 'gender': {text!r} is not one of male, female, unknown (男/女)")
    return gender


def _member_values(row: TabularRow, zone: ZoneInfo, column_map: ColumnMap) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if row.header is None:
        return values
    text_fields = {"name": "name", "age_band": "age_band", "region": "region", "unionid": "unionid"}
    for field_name, column in text_fields.items():
        if row.header.has(field_name):
            text = row.text(field_name)
            values[column] = text if column == "name" else (text or None)
    if row.header.has("gender"):
        values["gender"] = parse_gender(row.text("gender"))
    if row.header.has("tags"):
        values["tags"] = split_tags(row.get("tags"))
    if row.header.has("followers"):
        values["followers"] = parse_count(row.get("followers"), "followers")
    if row.header.has("consent_time"):
        values["consent_at"] = parse_time(
            row.get("consent_time"), "consent_time", zone, column_map.time_format
        )
    return values


def _parse_member(row: TabularRow, zone: ZoneInfo, column_map: ColumnMap) -> tuple[str, dict[str, Any]]:
    if row.error is not None:
        raise RecordError(row.error)
    member_id = cell_text(row.get("external_userid"))
    if not member_id:
        raise RecordError("column 'external_userid': empty (every member needs an id)")
    values = _member_values(row, zone, column_map)
    check_store_values(Member, {"id": member_id, **values})
    return member_id, values


def _flush(batch: list[tuple[str, dict[str, Any]]], context: IngestContext) -> None:
    if not batch:
        return
    with context.database.session() as session:
        counts = upsert_records(session, Member, "id", batch, "members")
    context.counts.ingested += counts.ingested
    context.counts.duplicates += counts.duplicates
    batch.clear()


@register_source(
    "members", "Member list CSV/XLSX (external_userid or wxid, name, gender, tags, followers …)."
)
def import_members(paths: Sequence[Path], context: IngestContext) -> None:
    """Validate every member row of ``paths`` and upsert it into ``members``."""
    column_map = column_map_from_options(context.options, presets=False)
    aliases = column_map.aliases(_ALIASES)
    limit = context.settings.max_line_bytes
    for path in paths:
        check_header(path, aliases, _REQUIRED, limit)
    zone = ZoneInfo(context.settings.timezone)
    batch: list[tuple[str, dict[str, Any]]] = []
    for path in paths:
        for row in read_rows(path, aliases, _REQUIRED, limit, context.progress):
            context.counts.read += 1
            try:
                batch.append(_parse_member(row, zone, column_map))
            except RecordError as error:
                context.quarantine.add(path, row.line, str(error), row.raw())
            if len(batch) >= _SESSION_ROWS:
                _flush(batch, context)
    _flush(batch, context)
