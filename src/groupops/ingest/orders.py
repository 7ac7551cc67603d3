"""``orders``: shop orders as CSV/XLSX, one row per order line (``--preset generic|shopify``, ``--mapping``).

Every row names its order; the order-level columns (member, times, status, amount, discount,
channel) must agree on every line of an order: the first valid line defines the order and later lines
that contradict it are quarantined. Empty order-level cells on later lines repeat the order's
values (Shopify exports leave them empty). Each valid line becomes one ``order_items`` row
(``line_id = order_id#n``, n = the line's position within its order in the file) and each
order one ``orders`` row whose ``refund_amount`` is the sum of its lines' refunds (Shopify
puts the order's refund on its first line only, so the sum is that figure).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from groupops.ingest._tabular import (
    Cell,
    FactBatcher,
    RecordError,
    TabularRow,
    cell_text,
    check_header,
    month_in_zone,
    parse_integer,
    parse_money,
    parse_time,
    read_rows,
    run_line_number,
)
from groupops.ingest.presets import ColumnMap, column_map_from_options
from groupops.ingest.registry import IngestContext, register_source

__all__ = ["ORDER_CHANNELS", "ORDER_STATUSES", "import_orders"]

ORDER_STATUSES = ("paid", "refunded", "partially_refunded", "cancelled", "pending")
ORDER_CHANNELS = ("group", "store", "live", "other")
_ORDER_FIELDS = (
    "order_id",
    "member_id",
    "placed_at",
    "paid_at",
    "cancelled_at",
    "status",
    "amount",
    "discount",
    "channel",
)
_ITEM_FIELDS = ("sku", "product_name", "category", "quantity", "unit_price", "refund_amount")
_MEMBER_TOKEN = re.compile(r"member\s*[:：=]\s*([^\s,;|\"'}\]]+)", re.IGNORECASE)


@dataclass(frozen=True)
class _OrderHeader:
    """The order-level values of a line, typed."""

    member_id: str
    placed_at: datetime
    paid_at: datetime | None
    status: str
    amount: float
    discount: float
    channel: str


@dataclass
class _FileState:
    """What one file has shown so far: lines per order and each order's defining values."""

    lines_seen: dict[str, int] = field(default_factory=dict)
    defined: dict[str, tuple[int, int]] = field(default_factory=dict)  # order → (line, header hash)
    current_order: str | None = None
    current_cells: dict[str, Cell] = field(default_factory=dict)
    last_valid: tuple[str, _OrderHeader] | None = None  # the latest valid line's order and values
    pending: tuple[str, dict[str, Any], int] | None = None  # order row not yet staged (refunds add up)


@dataclass(frozen=True)
class _Setup:
    column_map: ColumnMap
    aliases: dict[str, tuple[str, ...]]
    tag_fields: tuple[str, ...]
    zone: ZoneInfo


def _setup(context: IngestContext) -> _Setup:
    column_map = column_map_from_options(context.options, "generic")
    defaults: dict[str, tuple[str, ...]] = {name: () for name in (*_ORDER_FIELDS, *_ITEM_FIELDS)}
    aliases = column_map.aliases(defaults)
    tag_fields = tuple(f"member_tag_{index}" for index in range(len(column_map.member_id_from_tags)))
    for name, column in zip(tag_fields, column_map.member_id_from_tags, strict=True):
        aliases[name] = (column,)
    return _Setup(column_map, aliases, tag_fields, ZoneInfo(context.settings.timezone))


def _required(setup: _Setup) -> list[str | tuple[str, ...]]:
    return ["order_id", ("member_id", *setup.tag_fields), "placed_at", "status", "amount"]


# -- order-level values ------------------------------------------------------------------------
def _member_id(cells: dict[str, Cell], setup: _Setup) -> str:
    for name in setup.tag_fields:
        match = _MEMBER_TOKEN.search(cell_text(cells.get(name)))
        if match:
            return match[1]
    member = cell_text(cells.get("member_id"))
    if not member:
        raise RecordError("column 'member_id': empty (every order needs the member who placed it)")
    return member


def _status(cells: dict[str, Cell], column_map: ColumnMap) -> str:
    if cell_text(cells.get("cancelled_at")):
        return "cancelled"
    given = cell_text(cells.get("status"))
    status = column_map.status_map.get(given.lower(), given.lower())
    if status not in ORDER_STATUSES:
        raise RecordError(
            f"column 'status': unknown status {given!r}; allowed: {', '.join(ORDER_STATUSES)} "
            "(other values can be mapped with status_map in a mapping file)"
        )
    return status


def _channel(cells: dict[str, Cell], column_map: ColumnMap) -> str:
    given = cell_text(cells.get("channel")).lower()
    channel = column_map.channel_map.get(given, given)
    return channel if channel in ORDER_CHANNELS else "other"


def _required_value(value: Any, column: str) -> Any:
    if value is None:
        raise RecordError(f"column {column!r}: empty (a value is required)")
    return value


def _order_header(cells: dict[str, Cell], setup: _Setup) -> _OrderHeader:
    zone, time_format = setup.zone, setup.column_map.time_format
    amount = _required_value(parse_money(cells.get("amount"), "amount"), "amount")
    return _OrderHeader(
        member_id=_member_id(cells, setup),
        placed_at=_required_value(
            parse_time(cells.get("placed_at"), "placed_at", zone, time_format), "placed_at"
        ),
        paid_at=parse_time(cells.get("paid_at"), "paid_at", zone, time_format),
        status=_status(cells, setup.column_map),
        amount=amount,
        discount=parse_money(cells.get("discount"), "discount") or 0.0,
        channel=_channel(cells, setup.column_map),
    )


def _conflict_reason(order_id: str, header: _OrderHeader, defined: _OrderHeader | None, line: int) -> str:
    if defined is None:
        return f"order {order_id!r}: order-level columns differ from the order's line {line}"
    differing = [
        f"{name} {getattr(header, name)!s} here but {getattr(defined, name)!s} on line {line}"
        for name in _OrderHeader.__dataclass_fields__
        if getattr(header, name) != getattr(defined, name)
    ]
    return f"order {order_id!r}: conflicting order-level column(s): " + "; ".join(differing)


# -- lines -------------------------------------------------------------------------------------
def _line_cells(row: TabularRow, state: _FileState, order_id: str, setup: _Setup) -> dict[str, Cell]:
    """Order-level cells of ``row``, empty ones taken from the order's previous line."""
    names = (*_ORDER_FIELDS, *setup.tag_fields)
    cells = {name: row.get(name) for name in names}
    if state.current_order == order_id:
        for name in names:
            if not cell_text(cells[name]):
                cells[name] = state.current_cells.get(name)
    state.current_order, state.current_cells = order_id, cells
    return cells


def _item(row: TabularRow, order_id: str, position: int, header: _OrderHeader) -> dict[str, Any]:
    quantity = parse_integer(row.get("quantity"), "quantity")
    return {
        "line_id": f"{order_id}#{position}",
        "order_id": order_id,
        "sku": row.text("sku") or None,
        "product_name": row.text("product_name") or None,
        "category": row.text("category") or None,
        "quantity": 1 if quantity is None else quantity,
        "unit_price": parse_money(row.get("unit_price"), "unit_price"),
        "placed_at": header.placed_at,
    }


def _order_row(order_id: str, header: _OrderHeader, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "member_id": header.member_id,
        "placed_at": header.placed_at,
        "paid_at": header.paid_at,
        "status": header.status,
        "amount": header.amount,
        "discount": header.discount,
        "refund_amount": 0.0,
        "channel": header.channel,
        "source": "orders",
        "month": month_in_zone(header.placed_at, zone),
    }


@dataclass
class _Outputs:
    orders: FactBatcher
    items: FactBatcher


def _import_line(row: TabularRow, state: _FileState, setup: _Setup, outputs: _Outputs, order: int) -> None:
    if row.error is not None:
        raise RecordError(row.error)
    order_id = row.text("order_id")
    if not order_id:
        raise RecordError("column 'order_id': empty (every line needs its order id)")
    position = state.lines_seen.get(order_id, 0) + 1
    state.lines_seen[order_id] = position
    header = _order_header(_line_cells(row, state, order_id, setup), setup)
    item = _item(row, order_id, position, header)
    refund = parse_money(row.get("refund_amount"), "refund_amount") or 0.0
    _add_to_order(order_id, header, refund, row.line, state, setup, outputs, order)
    item["month"] = month_in_zone(header.placed_at, setup.zone)
    outputs.items.add(item, order)


def _add_to_order(
    order_id: str,
    header: _OrderHeader,
    refund: float,
    line: int,
    state: _FileState,
    setup: _Setup,
    outputs: _Outputs,
    order: int,
) -> None:
    """Define the order on its first valid line; check later lines against it; sum refunds."""
    defined = state.defined.get(order_id)
    pending = state.pending if state.pending is not None and state.pending[0] == order_id else None
    if defined is not None and defined[1] != hash(header):
        last = state.last_valid
        known = last[1] if last is not None and last[0] == order_id else None
        raise RecordError(_conflict_reason(order_id, header, known, defined[0]))
    if defined is not None and pending is None and refund:
        raise RecordError(
            f"column 'refund_amount': order {order_id!r} began on line {defined[0]} and other orders "
            "followed; a refund can only be added to the order from consecutive lines"
        )
    if defined is None:
        _stage_pending(state, outputs)
        state.defined[order_id] = (line, hash(header))
        pending = state.pending = (order_id, _order_row(order_id, header, setup.zone), order)
    if pending is not None:
        pending[1]["refund_amount"] += refund
    state.last_valid = (order_id, header)


def _stage_pending(state: _FileState, outputs: _Outputs) -> None:
    if state.pending is not None:
        _, order_row, order = state.pending
        outputs.orders.add(order_row, order)
        state.pending = None


def _import_file(
    path: Path, file_index: int, setup: _Setup, outputs: _Outputs, context: IngestContext
) -> None:
    state = _FileState()
    rows = read_rows(path, setup.aliases, _required(setup), context.settings.max_line_bytes, context.progress)
    for row in rows:
        context.counts.read += 1
        try:
            _import_line(row, state, setup, outputs, run_line_number(file_index, row.line))
        except RecordError as error:
            context.quarantine.add(path, row.line, str(error), row.raw())
    _stage_pending(state, outputs)


@register_source(
    "orders", "Shop orders CSV/XLSX, one row per order line (--preset generic|shopify, --mapping)."
)
def import_orders(paths: Sequence[Path], context: IngestContext) -> None:
    """Validate every order line of ``paths`` and commit ``orders`` and ``order_items``."""
    setup = _setup(context)
    for path in paths:
        check_header(path, setup.aliases, _required(setup), context.settings.max_line_bytes)
    batch_rows = context.settings.ingest_batch_rows
    warehouse = context.warehouse
    with (
        warehouse.staged_import("orders", context.run_id) as staged_orders,
        warehouse.staged_import("order_items", context.run_id) as staged_items,
    ):
        outputs = _Outputs(FactBatcher(staged_orders, batch_rows), FactBatcher(staged_items, batch_rows))
        for file_index, path in enumerate(paths):
            _import_file(path, file_index, setup, outputs, context)
        outputs.orders.flush()
        outputs.items.flush()
        warehouse.commit(staged_orders)
        result = warehouse.commit(staged_items)
    context.counts.ingested += result.written
    context.counts.duplicates += result.duplicates
