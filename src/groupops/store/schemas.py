"""Arrow schemas of the warehouse fact tables (Parquet under ``<data>/warehouse/<table>/``).

These are the columns every importer writes and every analysis reads. Times are UTC
(``timestamp[us, tz=UTC]``); ``month`` is the partition column (``YYYY-MM`` of the time in
the brand time zone). Natural keys are listed in ``NATURAL_KEYS``.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["FACT_SCHEMAS", "NATURAL_KEYS", "PARTITION_TIME_COLUMN"]

_UTC = pa.timestamp("us", tz="UTC")

MESSAGES = pa.schema(
    [
        ("msgid", pa.string()),  # natural key (archive msgid; memotrace: "mt:" + talker + localId)
        ("source", pa.string()),  # wecom-archive | memotrace | callback
        ("action", pa.string()),  # send | recall | switch
        ("group_id", pa.string()),  # roomid / chat id; null for one-to-one chats
        ("sender_id", pa.string()),  # external_userid (wm…/wo…), staff userid, or wxid
        ("sender_is_staff", pa.bool_()),  # internal staff / robot rather than a customer
        ("sent_at", _UTC),
        ("msgtype", pa.string()),  # text, image, voice, …, revoke, agree, disagree, unknown
        ("text", pa.string()),  # text content or a readable summary (link title, file name …)
        ("mention_names", pa.list_(pa.string())),  # "@name" tokens found in the text
        ("quote_name", pa.string()),  # display name of the quoted sender, when the message quotes one
        ("quote_text", pa.string()),  # quoted text
        ("recalled_msgid", pa.string()),  # for action=recall: the message it revokes
        ("revoked", pa.bool_()),  # this message was later recalled
        ("raw", pa.string()),  # original JSON for types not mapped to columns (never dropped)
        ("month", pa.string()),
    ]
)

MEMBERSHIP_CHANGES = pa.schema(
    [
        ("event_id", pa.string()),  # natural key: hash of group, member, change, time
        ("group_id", pa.string()),
        ("member_id", pa.string()),
        ("change", pa.string()),  # join | leave | snapshot
        ("occurred_at", _UTC),
        ("join_scene", pa.int32()),  # 1 invited directly, 2 via link, 3 via QR code (WeCom)
        ("invitor", pa.string()),
        ("source", pa.string()),
        ("month", pa.string()),
    ]
)

ORDERS = pa.schema(
    [
        ("order_id", pa.string()),  # natural key
        ("member_id", pa.string()),
        ("placed_at", _UTC),
        ("paid_at", _UTC),
        ("status", pa.string()),  # paid | refunded | partially_refunded | cancelled | pending
        ("amount", pa.float64()),  # yuan, after discount
        ("discount", pa.float64()),
        ("refund_amount", pa.float64()),
        ("channel", pa.string()),  # group | store | live | other
        ("source", pa.string()),
        ("month", pa.string()),
    ]
)

ORDER_ITEMS = pa.schema(
    [
        ("line_id", pa.string()),  # natural key: order_id + "#" + line number
        ("order_id", pa.string()),
        ("sku", pa.string()),
        ("product_name", pa.string()),
        ("category", pa.string()),
        ("quantity", pa.int32()),
        ("unit_price", pa.float64()),
        ("placed_at", _UTC),
        ("month", pa.string()),
    ]
)

SHOP_EVENTS = pa.schema(
    [
        ("event_id", pa.string()),  # natural key
        ("member_id", pa.string()),
        ("occurred_at", _UTC),
        ("event", pa.string()),  # view | favorite | add_to_cart | pay | share
        ("sku", pa.string()),
        ("campaign", pa.string()),
        ("month", pa.string()),
    ]
)

MESSAGE_LABELS = pa.schema(
    [
        ("msgid", pa.string()),  # natural key: the labelled message (derived table, see groupops.ops.labels)
        ("group_id", pa.string()),
        ("sender_id", pa.string()),
        ("sent_at", _UTC),
        ("sentiment", pa.string()),  # negative | neutral | positive
        ("score", pa.float64()),  # -1 .. 1
        ("complaint", pa.bool_()),
        ("question", pa.bool_()),
        ("intents", pa.list_(pa.string())),
        ("spam", pa.bool_()),
        ("month", pa.string()),
    ]
)

FACT_SCHEMAS: dict[str, pa.Schema] = {
    "messages": MESSAGES,
    "membership_changes": MEMBERSHIP_CHANGES,
    "orders": ORDERS,
    "order_items": ORDER_ITEMS,
    "shop_events": SHOP_EVENTS,
    "message_labels": MESSAGE_LABELS,
}

NATURAL_KEYS: dict[str, str] = {
    "messages": "msgid",
    "membership_changes": "event_id",
    "orders": "order_id",
    "order_items": "line_id",
    "shop_events": "event_id",
    "message_labels": "msgid",
}

PARTITION_TIME_COLUMN: dict[str, str] = {
    "messages": "sent_at",
    "membership_changes": "occurred_at",
    "orders": "placed_at",
    "order_items": "placed_at",
    "shop_events": "occurred_at",
    "message_labels": "sent_at",
}
