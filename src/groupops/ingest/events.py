"""``events``: shop behaviour events as CSV/XLSX (``event_id, member_id, occurred_at, event, sku, campaign``).

``event`` is one of view / favorite / add_to_cart / pay / share (common Chinese and
spelling variants are accepted). A file without an ``event_id`` column, or a row with an
empty one, gets a stable id hashed from member, time, event and SKU, so re-imports dedupe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from groupops.ingest._tabular import (
    FactBatcher,
    RecordError,
    TabularRow,
    check_header,
    month_in_zone,
    parse_time,
    read_rows,
    run_line_number,
)
from groupops.ingest.presets import ColumnMap, column_map_from_options
from groupops.ingest.registry import IngestContext, register_source

__all__ = ["SHOP_EVENTS", "import_events"]

SHOP_EVENTS = ("view", "favorite", "add_to_cart", "pay", "share")
_EVENT_ALIASES = {
    "浏览": "view",
    "favourite": "favorite",
    "fav": "favorite",
    "收藏": "favorite",
    "cart": "add_to_cart",
    "add-to-cart": "add_to_cart",
    "addtocart": "add_to_cart",
    "加购": "add_to_cart",
    "加入购物车": "add_to_cart",
    "payment": "pay",
    "支付": "pay",
    "付款": "pay",
    "分享": "share",
}
_ALIASES: dict[str, tuple[str, ...]] = {
    "event_id": ("事件id", "事件编号"),
    "member_id": ("external_userid", "wxid", "会员id", "用户id"),
    "occurred_at": ("time", "timestamp", "发生时间", "时间"),
    "event": ("event_type", "事件", "行为"),
    "sku": ("商品编码", "货号"),
    "campaign": ("活动", "utm_campaign"),
}
_REQUIRED = ("member_id", "occurred_at", "event")


def _event_name(value: str) -> str:
    given = value.strip()
    event = given.lower().replace(" ", "_")
    event = _EVENT_ALIASES.get(event, event)
    if event not in SHOP_EVENTS:
        raise RecordError(f"column 'event': unknown event {given!r}; allowed: {', '.join(SHOP_EVENTS)}")
    return event


def _event_row(row: TabularRow, zone: ZoneInfo, column_map: ColumnMap) -> dict[str, Any]:
    if row.error is not None:
        raise RecordError(row.error)
    member_id = row.text("member_id")
    if not member_id:
        raise RecordError("column 'member_id': empty (every event needs its member)")
    occurred_at = parse_time(row.get("occurred_at"), "occurred_at", zone, column_map.time_format)
    if occurred_at is None:
        raise RecordError("column 'occurred_at': empty (a time is required)")
    event = _event_name(row.text("event"))
    sku = row.text("sku") or None
    event_id = row.text("event_id")
    if not event_id:
        basis = f"{member_id}|{occurred_at.isoformat()}|{event}|{sku or ''}"
        event_id = "ev:" + hashlib.sha1(basis.encode("utf-8")).hexdigest()
    return {
        "event_id": event_id,
        "member_id": member_id,
        "occurred_at": occurred_at,
        "event": event,
        "sku": sku,
        "campaign": row.text("campaign") or None,
        "month": month_in_zone(occurred_at, zone),
    }


@register_source("events", "Shop behaviour events CSV/XLSX: view, favorite, add_to_cart, pay, share.")
def import_events(paths: Sequence[Path], context: IngestContext) -> None:
    """Validate every event row of ``paths`` and commit them to ``shop_events``."""
    column_map = column_map_from_options(context.options, presets=False)
    aliases = column_map.aliases(_ALIASES)
    limit = context.settings.max_line_bytes
    for path in paths:
        check_header(path, aliases, _REQUIRED, limit)
    zone = ZoneInfo(context.settings.timezone)
    with context.warehouse.staged_import("shop_events", context.run_id) as staged:
        batcher = FactBatcher(staged, context.settings.ingest_batch_rows)
        for file_index, path in enumerate(paths):
            for row in read_rows(path, aliases, _REQUIRED, limit, context.progress):
                context.counts.read += 1
                try:
                    batcher.add(_event_row(row, zone, column_map), run_line_number(file_index, row.line))
                except RecordError as error:
                    context.quarantine.add(path, row.line, str(error), row.raw())
        batcher.flush()
        result = context.warehouse.commit(staged)
    context.counts.ingested += result.written
    context.counts.duplicates += result.duplicates
