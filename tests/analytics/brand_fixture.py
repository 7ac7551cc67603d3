"""A hand-made brand small enough to compute every metric by hand (Asia/Shanghai, March 2024).

Groups: g1 (brand_official) with m01-m08 and staff s1; g2 (core_user) with m09-m12, and m05
since February. m08 leaves g1 on 03-20, m12 leaves g2 on 02-15. The expected values in the
tests are derived in their docstrings from the rows below.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from groupops.config import Settings
from groupops.store.models import Group, Staff
from groupops.store.schemas import FACT_SCHEMAS
from groupops.store.workspace import Workspace

SHANGHAI = timezone(timedelta(hours=8))


def local(text: str) -> datetime:
    """A Shanghai wall-clock time ``YYYY-MM-DD HH:MM`` as a UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI).astimezone(UTC)


def month_of(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m")


MEMBERSHIP = [
    # (group, member, change, local time)
    *[("g1", f"m0{n}", "join", "2024-01-05 10:00") for n in range(1, 9)],
    *[("g2", f"m{n:02d}", "join", "2024-01-10 10:00") for n in range(9, 13)],
    ("g2", "m05", "join", "2024-02-01 09:00"),
    ("g1", "m08", "leave", "2024-03-20 12:00"),
    ("g2", "m12", "leave", "2024-02-15 12:00"),
    ("g1", "s1", "join", "2024-01-01 09:00"),
    ("g2", "m11", "snapshot", "2024-03-01 08:00"),
]

MESSAGES = [
    # (msgid, group, sender, is_staff, local time, msgtype, action, text, recalled msgid)
    ("s-1", "g1", "s1", True, "2024-03-05 09:00", "text", "send", "新品上架 限时优惠", None),
    ("s-2", "g1", "s1", True, "2024-03-06 09:00", "text", "send", "新品上架 限时优惠", None),
    ("s-3", "g2", "s1", True, "2024-03-07 09:00", "text", "send", "早安", None),
    ("a-1", "g1", "m01", False, "2024-02-10 20:00", "text", "send", "好看", None),
    ("a-2", "g1", "m01", False, "2024-03-05 20:00", "text", "send", "有S码吗", None),
    ("a-3", "g1", "m01", False, "2024-03-05 21:00", "image", "send", None, None),
    ("a-4", "g1", "m01", False, "2024-03-10 10:00", "text", "send", "收到了", None),
    ("b-1", "g1", "m02", False, "2024-02-20 10:00", "text", "send", "谢谢", None),
    ("c-1", "g1", "m03", False, "2024-03-15 10:00", "text", "send", "这件怎么搭", None),
    ("c-2", "g1", "m03", False, "2024-03-16 10:00", "text", "send", "发错了", None),
    ("c-3", "g1", "m03", False, "2024-03-16 10:01", "revoke", "recall", None, "c-2"),
    ("d-1", "g1", "m04", False, "2024-03-12 10:00", "agree", "send", None, None),
    ("e-1", "g1", "m05", False, "2024-02-25 10:00", "text", "send", "赞", None),
    ("e-2", "g2", "m05", False, "2024-03-20 10:00", "text", "send", "赞", None),
    ("f-1", None, "m06", False, "2024-03-08 10:00", "text", "send", "私聊", None),
    ("i-1", "g2", "m09", False, "2024-03-31 23:30", "text", "send", "晚安", None),
    ("j-1", "g2", "m10", False, "2024-04-01 00:10", "text", "send", "早", None),
    ("k-1", "g2", "m11", False, "2024-02-05 10:00", "text", "send", "你好", None),
]

ORDERS = [
    # (order id, member, local time, status, amount, refund, channel)
    ("o1", "m01", "2024-03-06 12:00", "paid", 200.0, 0.0, "group"),
    ("o2", "m01", "2024-03-20 12:00", "paid", 100.0, 0.0, "store"),
    ("o3", "m02", "2024-01-20 12:00", "paid", 300.0, 0.0, "store"),
    ("o4", "m02", "2024-03-25 12:00", "refunded", 150.0, 150.0, "store"),
    ("o5", "m03", "2024-03-16 12:00", "partially_refunded", 400.0, 100.0, "store"),
    ("o6", "m06", "2024-03-08 12:00", "paid", 50.0, 0.0, "live"),
    ("o7", "m09", "2024-02-10 12:00", "paid", 120.0, 0.0, "group"),
    ("o8", "m09", "2024-03-31 12:00", "cancelled", 80.0, 0.0, "store"),
    ("o9", "x99", "2024-03-10 12:00", "paid", 999.0, 0.0, "store"),
    ("o10", "m12", "2024-03-05 12:00", "paid", 60.0, 0.0, "store"),
]


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = FACT_SCHEMAS[name]
    columns = {field.name: [row.get(field.name) for row in rows] for field in schema}
    table = pa.table(columns, schema=schema)
    return table.append_column("_line", pa.array(range(len(rows)), pa.int64()))


def write_facts(workspace: Workspace, name: str, rows: list[dict[str, Any]]) -> None:
    """Commit ``rows`` (dicts keyed by the schema's column names) to the warehouse table ``name``."""
    warehouse = workspace.warehouse
    with warehouse.staged_import(name) as staged:
        staged.add(_table(name, rows))
        warehouse.commit(staged)


def message_rows(messages: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    rows = []
    for msgid, group, sender, staff, when, msgtype, action, text, recalled in messages:
        moment = local(when)
        rows.append(
            {
                "msgid": msgid,
                "source": "test",
                "action": action,
                "group_id": group,
                "sender_id": sender,
                "sender_is_staff": staff,
                "sent_at": moment,
                "msgtype": msgtype,
                "text": text,
                "mention_names": [],
                "recalled_msgid": recalled,
                "revoked": False,
                "month": month_of(moment),
            }
        )
    return rows


def membership_rows(changes: Sequence[tuple[str, str, str, str]]) -> list[dict[str, Any]]:
    rows = []
    for index, (group, member, change, when) in enumerate(changes):
        moment = local(when)
        rows.append(
            {
                "event_id": f"mc-{index}",
                "group_id": group,
                "member_id": member,
                "change": change,
                "occurred_at": moment,
                "join_scene": 3,
                "source": "test",
                "month": month_of(moment),
            }
        )
    return rows


def order_rows(orders: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    rows = []
    for order_id, member, when, status, amount, refund, channel in orders:
        moment = local(when)
        rows.append(
            {
                "order_id": order_id,
                "member_id": member,
                "placed_at": moment,
                "paid_at": moment if status != "pending" else None,
                "status": status,
                "amount": amount,
                "discount": 0.0,
                "refund_amount": refund,
                "channel": channel,
                "source": "test",
                "month": month_of(moment),
            }
        )
    return rows


def shop_event_rows(events: Sequence[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """Events as (member, event, local time with seconds ``YYYY-MM-DD HH:MM``)."""
    rows = []
    for index, (member, event, when) in enumerate(events):
        moment = local(when)
        rows.append(
            {
                "event_id": f"ev-{index:04d}",
                "member_id": member,
                "occurred_at": moment,
                "event": event,
                "sku": "SKU-1",
                "campaign": None,
                "month": month_of(moment),
            }
        )
    return rows


def new_workspace(root: Path) -> Workspace:
    """An empty workspace in ``root`` (Shanghai time, default windows)."""
    return Workspace(Settings(data=root, timezone="Asia/Shanghai", _env_file=None))  # type: ignore[call-arg]


def build_small_brand(root: Path) -> Workspace:
    """The hand-made brand described in this module's docstring."""
    workspace = new_workspace(root)
    with workspace.database.session() as session:
        session.add_all(
            [
                Group(id="g1", name="官方福利群", kind="brand_official"),
                Group(id="g2", name="核心用户群", kind="core_user"),
                Staff(id="s1", name="小助理", role="operator"),
            ]
        )
    write_facts(workspace, "membership_changes", membership_rows(MEMBERSHIP))
    write_facts(workspace, "messages", message_rows(MESSAGES))
    write_facts(workspace, "orders", order_rows(ORDERS))
    return workspace
