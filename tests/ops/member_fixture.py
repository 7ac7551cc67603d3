"""A small hand-built brand for the member-intelligence tests: every figure is countable by hand.

As of 2026-03-31 (Shanghai), group ``g1`` (owner ``op1``):

* ``mA`` 小A — 3 messages on 2 days (one more after the cut-off, ignored); quoted once by 小B,
  @-mentioned once by staff; orders: paid 300 (卫衣 ×2 at 100, T恤 ×1 at 100) and
  partially refunded 200 (refund 50; 卫衣 ×1); labels: question, complaint (−0.6), positive (0.8);
  12,000 followers (waist tier), store tag VIP.
* ``mB`` 小B — 1 message quoting 小A, 1 recalled message; views 2, add_to_cart 1, favorite 1.
* ``mC`` 小C — on the roster since 2026-02-01, never active.
* ``mD`` 小D — one fully refunded order of 150 (refund amount missing).
* ``S1`` — staff.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from groupops.store.models import Group, GroupMembership, Member, Staff
from groupops.store.schemas import FACT_SCHEMAS
from groupops.store.warehouse import LINE_COLUMN
from groupops.store.workspace import Workspace

AS_OF = date(2026, 3, 31)


def at(day: int, hour: int = 4, month: int = 3) -> datetime:
    """A UTC time (04:00 UTC is noon in Shanghai, far from any day edge)."""
    return datetime(2026, month, day, hour, tzinfo=UTC)


def stage(workspace: Workspace, table: str, rows: list[dict[str, Any]]) -> None:
    """Commit ``rows`` (missing columns null, month from the time) into a warehouse table."""
    schema = FACT_SCHEMAS[table]
    time_column = {"messages": "sent_at", "orders": "placed_at", "order_items": "placed_at",
                   "shop_events": "occurred_at", "message_labels": "sent_at"}[table]  # fmt: skip
    full = []
    for row in rows:
        record = {name: row.get(name) for name in schema.names}
        record["month"] = row[time_column].strftime("%Y-%m")
        full.append(record)
    arrow = pa.Table.from_pylist(full, schema=schema)
    arrow = arrow.append_column(LINE_COLUMN, pa.array(range(len(full)), pa.int64()))
    with workspace.warehouse.staged_import(table) as staged:
        staged.add(arrow)
        workspace.warehouse.commit(staged)


def message(msgid: str, sender: str, when: datetime, **extra: Any) -> dict[str, Any]:
    return {"msgid": msgid, "source": "wecom-archive", "action": "send", "group_id": "g1", "sender_id": sender,
            "sender_is_staff": sender.startswith("S"), "sent_at": when, "msgtype": "text", "text": "hi",
            "mention_names": [], "revoked": False, **extra}  # fmt: skip


def label(
    msgid: str, sender: str, when: datetime, sentiment: str, score: float, **flags: Any
) -> dict[str, Any]:
    return {"msgid": msgid, "group_id": "g1", "sender_id": sender, "sent_at": when, "sentiment": sentiment,
            "score": score, "complaint": flags.get("complaint", False), "question": flags.get("question", False),
            "intents": flags.get("intents", []), "spam": False}  # fmt: skip


def build_small_brand(workspace: Workspace) -> Workspace:
    """Stage the facts and roster described in the module docstring."""
    stage(workspace, "messages", [
        message("a1", "mA", at(10), text="有S码吗？"),
        message("a2", "mA", at(10, 5), text="洗了就缩水"),
        message("a3", "mA", at(20), text="很满意"),
        message("a4", "mA", at(2, month=4)),  # after the cut-off
        message("b1", "mB", at(5), quote_name="小A", quote_text="有S码吗？"),
        message("b2", "mB", at(6)),
        {**message("r1", "mB", at(6, 5)), "action": "recall", "recalled_msgid": "b2"},
        message("s1", "S1", at(11), mention_names=["小A", "小A"], text="@小A 有的"),
        message("s2", "S1", at(11, 6), mention_names=["无名"], text="@无名 你好"),
    ])  # fmt: skip
    stage(workspace, "message_labels", [
        label("a1", "mA", at(10), "neutral", 0.1, question=True, intents=["size_fit"]),
        label("a2", "mA", at(10, 5), "negative", -0.6, complaint=True, intents=["after_sales", "size_fit"]),
        label("a3", "mA", at(20), "positive", 0.8, intents=["praise"]),
    ])  # fmt: skip
    stage(workspace, "orders", [
        {"order_id": "o1", "member_id": "mA", "placed_at": at(10), "status": "paid", "amount": 300.0, "refund_amount": 0.0},
        {"order_id": "o2", "member_id": "mA", "placed_at": at(20), "status": "partially_refunded", "amount": 200.0,
         "refund_amount": 50.0},
        {"order_id": "o3", "member_id": "mD", "placed_at": at(15), "status": "refunded", "amount": 150.0},
        {"order_id": "o4", "member_id": "mA", "placed_at": at(25), "status": "cancelled", "amount": 999.0},
    ])  # fmt: skip
    stage(workspace, "order_items", [
        {"line_id": "o1#1", "order_id": "o1", "sku": "H1", "category": "卫衣", "quantity": 2, "unit_price": 100.0,
         "placed_at": at(10)},
        {"line_id": "o1#2", "order_id": "o1", "sku": "T1", "category": "T恤", "quantity": 1, "unit_price": 100.0,
         "placed_at": at(10)},
        {"line_id": "o2#1", "order_id": "o2", "sku": "H2", "category": "卫衣", "quantity": 1, "unit_price": 200.0,
         "placed_at": at(20)},
        {"line_id": "o3#1", "order_id": "o3", "sku": "J1", "category": "外套", "quantity": 1, "unit_price": 150.0,
         "placed_at": at(15)},
    ])  # fmt: skip
    stage(workspace, "shop_events", [
        {"event_id": f"e{n}", "member_id": "mB", "occurred_at": at(28), "event": kind, "sku": "H1"}
        for n, kind in enumerate(["view", "view", "add_to_cart", "favorite"])
    ])  # fmt: skip
    with workspace.database.session() as session:
        session.add(Group(id="g1", name="核心会员群", owner="op1"))
        session.add(Staff(id="S1", name="客服小美"))
        session.add_all([
            Member(id="mA", name="A本名", gender="female", age_band="18-25", region="上海", tags=["VIP", "通勤"],
                   followers=12_000),
            Member(id="mB", name="B本名", followers=800),
            Member(id="mC", name="C本名", first_seen_at=at(1, month=2)),
            Member(id="mD", name="D本名"),
        ])  # fmt: skip
        for member, nickname in (("mA", "小A"), ("mB", "小B"), ("mC", "小C"), ("mD", "小D")):
            session.add(GroupMembership(group_id="g1", member_id=member, group_nickname=nickname,
                                        joined_at=at(1, month=2)))  # fmt: skip
        session.add(
            GroupMembership(group_id="g1", member_id="S1", member_type="staff", group_nickname="客服小美")
        )
    return workspace
