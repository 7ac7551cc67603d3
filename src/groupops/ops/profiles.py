"""Six-dimension member profiles (用户画像, plan §5.3), computed in DuckDB over the warehouse.

One row per member as of a moment: **basic** (age band, gender, region, tags, followers and
KOC tier), **consumption** (orders, frequency, AOV, spend net of refunds, category preference),
**interaction** (messages, active days, replies/quotes and @-mentions received), **needs**
(questions, complaints, main intent), **behaviour** (views, favourites, carts, shares,
returns) and **sentiment** (mean score, negative/positive messages; NPS is not imported yet
and stays null). Everything is aggregated by SQL; Python only loads the roster from the store.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import pyarrow as pa
from sqlalchemy import select

from groupops.analytics.network_warehouse import follower_tier
from groupops.errors import ConfigurationError, InputFormatError, NotFoundError
from groupops.store.models import GroupMembership, Member, Staff
from groupops.store.workspace import Workspace

__all__ = [
    "PROFILE_DIMENSIONS",
    "PURCHASE_STATUSES",
    "build_member_profiles",
    "latest_activity_time",
    "member_profile",
    "resolve_as_of",
]

PURCHASE_STATUSES = ("paid", "partially_refunded")
"""Order statuses that count as a purchase (a fully refunded order is a return, not a purchase)."""

PROFILE_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "basic": ("name", "age_band", "gender", "region", "tags", "followers", "follower_tier", "groups",
              "primary_group_id", "first_seen_at", "tenure_days"),
    "consumption": ("orders", "orders_90d", "orders_per_30_days", "purchase_days", "gross_spend", "refunds",
                    "net_spend", "net_spend_90d", "aov", "first_order_at", "last_order_at",
                    "days_since_last_order", "top_category", "top_category_share", "categories_bought"),
    "interaction": ("messages", "messages_30d", "active_days", "active_days_30d", "groups_spoken_in",
                    "replies_received", "mentions_received", "last_message_at", "last_active_at",
                    "days_since_last_active", "never_active"),
    "needs": ("questions", "complaints", "top_intent"),
    "behaviour": ("views", "favorites", "add_to_cart", "shares", "returns", "refund_rate"),
    "sentiment": ("labelled_messages", "sentiment_score", "negative_messages", "positive_messages",
                  "complaints", "nps"),
}  # fmt: skip
"""Profile columns by dimension (``member_id`` and ``as_of`` come first in the table)."""

_STORE_MEMBERS = pa.schema(
    [("id", pa.string()), ("name", pa.string()), ("gender", pa.string()), ("age_band", pa.string()),
     ("region", pa.string()), ("tags", pa.list_(pa.string())), ("followers", pa.int64()),
     ("first_seen_at", pa.timestamp("us", tz="UTC"))]
)  # fmt: skip
_STORE_MEMBERSHIPS = pa.schema(
    [("group_id", pa.string()), ("member_id", pa.string()), ("member_type", pa.string()),
     ("joined_at", pa.timestamp("us", tz="UTC")), ("left_at", pa.timestamp("us", tz="UTC")),
     ("group_nickname", pa.string()), ("display_name", pa.string())]
)  # fmt: skip


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _brand_zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigurationError(f"unknown time zone {timezone!r} (setting timezone)") from error


def latest_activity_time(workspace: Workspace) -> datetime | None:
    """The latest message, order or shop event in the warehouse (None when it is empty)."""
    with workspace.warehouse.connect() as connection:
        row = connection.execute(
            "SELECT greatest((SELECT max(sent_at) FROM messages), (SELECT max(placed_at) FROM orders),"
            " (SELECT max(occurred_at) FROM shop_events))"
        ).fetchone()
    return _utc(row[0]) if row and row[0] is not None else None


def resolve_as_of(workspace: Workspace, as_of: datetime | date | str | None) -> datetime:
    """The moment a profile describes, in UTC.

    ``None``: the latest fact in the warehouse, or now when it is earlier or empty (an old export
    is judged as of its own end). A date (or ``YYYY-MM-DD``) means the end of that day in the
    brand time zone; a naive datetime is read in the brand time zone.
    """
    zone = _brand_zone(workspace.settings.timezone)
    if as_of is None:
        now = datetime.now(UTC)
        latest = latest_activity_time(workspace)
        return min(latest, now) if latest is not None else now
    if isinstance(as_of, str):
        try:
            as_of = (
                datetime.fromisoformat(as_of.strip())
                if "T" in as_of or " " in as_of.strip()
                else date.fromisoformat(as_of.strip())
            )
        except ValueError as error:
            raise InputFormatError(f"as_of: {as_of!r} is not an ISO date or date-time") from error
    if not isinstance(as_of, datetime):
        return datetime.combine(as_of, time.max, zone).astimezone(UTC)
    return as_of.astimezone(UTC) if as_of.tzinfo is not None else as_of.replace(tzinfo=zone).astimezone(UTC)


def _store_tables(workspace: Workspace) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Members, group memberships and staff ids from the operational store, as Arrow."""
    with workspace.database.session() as session:
        members = [
            {"id": m.id, "name": m.name, "gender": m.gender, "age_band": m.age_band, "region": m.region,
             "tags": [str(tag) for tag in (m.tags or [])], "followers": m.followers,
             "first_seen_at": _utc(m.first_seen_at)}
            for m in session.scalars(select(Member))
        ]  # fmt: skip
        memberships = [
            {"group_id": g.group_id, "member_id": g.member_id, "member_type": g.member_type,
             "joined_at": _utc(g.joined_at), "left_at": _utc(g.left_at), "group_nickname": g.group_nickname,
             "display_name": g.display_name}
            for g in session.scalars(select(GroupMembership))
        ]  # fmt: skip
        staff = list(session.scalars(select(Staff.id)))
    return (
        pa.Table.from_pylist(members, schema=_STORE_MEMBERS),
        pa.Table.from_pylist(memberships, schema=_STORE_MEMBERSHIPS),
        pa.table({"id": pa.array(staff, pa.string())}),
    )


def _profile_sql(timezone: str, only_wanted: bool) -> str:
    """The profile query; ``$as_of`` is the cut-off (UTC), ``{tz}`` the brand zone (validated)."""
    tz = timezone.replace("'", "''")
    local = f"CAST(timezone('{tz}', {{column}}) AS DATE)"
    purchase = "status IN (" + ", ".join(f"'{status}'" for status in PURCHASE_STATUSES) + ")"
    wanted = "WHERE member_id IN (SELECT member_id FROM wanted)" if only_wanted else ""
    return f"""
WITH params AS (SELECT $as_of::TIMESTAMPTZ AS as_of, {local.format(column="$as_of::TIMESTAMPTZ")} AS as_of_day),
staff_ids AS (
  SELECT id FROM store_staff UNION SELECT member_id FROM store_memberships WHERE member_type = 'staff'
),
msgs AS (
  SELECT group_id, sender_id, sender_is_staff, sent_at, mention_names, quote_name FROM messages
  WHERE action = 'send' AND NOT revoked AND sent_at <= $as_of::TIMESTAMPTZ
),
customer_msgs AS (
  SELECT *, {local.format(column="sent_at")} AS day FROM msgs
  WHERE NOT sender_is_staff AND sender_id NOT IN (SELECT id FROM staff_ids)
),
orders_f AS (
  SELECT *, {local.format(column="placed_at")} AS day,
         coalesce(refund_amount, CASE WHEN status = 'refunded' THEN amount ELSE 0 END) AS refund_value
  FROM orders WHERE placed_at <= $as_of::TIMESTAMPTZ AND member_id IS NOT NULL
),
events_f AS (SELECT * FROM shop_events WHERE occurred_at <= $as_of::TIMESTAMPTZ AND member_id IS NOT NULL),
stays AS (
  SELECT * FROM store_memberships
  WHERE member_type <> 'staff' AND (joined_at IS NULL OR joined_at <= $as_of::TIMESTAMPTZ)
),
universe AS (
  -- the private-domain members: on a member list, in a group, or heard in one; a shop
  -- customer known only from orders or shop events is not a member to care for
  SELECT member_id FROM (
    SELECT id AS member_id FROM store_members WHERE first_seen_at IS NULL OR first_seen_at <= $as_of::TIMESTAMPTZ
    UNION SELECT sender_id FROM customer_msgs
    UNION SELECT member_id FROM stays
  ) WHERE member_id IS NOT NULL AND member_id NOT IN (SELECT id FROM staff_ids)
),
chosen AS (SELECT member_id FROM universe {wanted}),
names AS (
  SELECT group_id, name, min(member_id) AS member_id FROM (
    SELECT group_id, member_id, group_nickname AS name FROM store_memberships
    UNION SELECT group_id, member_id, display_name FROM store_memberships
    UNION SELECT s.group_id, s.member_id, m.name FROM store_memberships s JOIN store_members m ON m.id = s.member_id
  ) WHERE name IS NOT NULL AND name <> ''
  GROUP BY group_id, name HAVING count(DISTINCT member_id) = 1
),
message_stats AS (
  SELECT sender_id AS member_id, count(*) AS messages,
    count(*) FILTER (WHERE sent_at > $as_of::TIMESTAMPTZ - INTERVAL 30 DAY) AS messages_30d,
    count(DISTINCT day) AS active_days,
    count(DISTINCT day) FILTER (WHERE day > (SELECT as_of_day FROM params) - 30) AS active_days_30d,
    count(DISTINCT group_id) AS groups_spoken_in,
    min(sent_at) AS first_message_at, max(sent_at) AS last_message_at
  FROM customer_msgs GROUP BY sender_id
),
main_group AS (
  SELECT sender_id AS member_id, list(group_id ORDER BY n DESC, group_id)[1] AS spoken_group
  FROM (SELECT sender_id, group_id, count(*) AS n FROM customer_msgs WHERE group_id IS NOT NULL GROUP BY ALL)
  GROUP BY sender_id
),
mention_stats AS (
  SELECT n.member_id, count(*) AS mentions_received
  FROM (SELECT group_id, sender_id, unnest(list_distinct(mention_names)) AS name FROM msgs
        WHERE group_id IS NOT NULL AND len(mention_names) > 0) x
  JOIN names n ON n.group_id = x.group_id AND n.name = x.name
  WHERE n.member_id <> x.sender_id GROUP BY n.member_id
),
quote_stats AS (
  SELECT n.member_id, count(*) AS replies_received
  FROM msgs x JOIN names n ON n.group_id = x.group_id AND n.name = x.quote_name
  WHERE x.quote_name IS NOT NULL AND n.member_id <> x.sender_id GROUP BY n.member_id
),
label_stats AS (
  SELECT sender_id AS member_id, count(*) AS labelled_messages,
    count(*) FILTER (WHERE question) AS questions, count(*) FILTER (WHERE complaint) AS complaints,
    count(*) FILTER (WHERE sentiment = 'negative') AS negative_messages,
    count(*) FILTER (WHERE sentiment = 'positive') AS positive_messages,
    avg(score) AS sentiment_score
  FROM message_labels WHERE sent_at <= $as_of::TIMESTAMPTZ AND NOT coalesce(spam, false) GROUP BY sender_id
),
intent_stats AS (
  SELECT member_id, list(intent ORDER BY n DESC, intent)[1] AS top_intent FROM (
    SELECT sender_id AS member_id, intent, count(*) AS n
    FROM (SELECT sender_id, unnest(intents) AS intent FROM message_labels
          WHERE sent_at <= $as_of::TIMESTAMPTZ AND NOT coalesce(spam, false) AND len(intents) > 0)
    GROUP BY ALL
  ) GROUP BY member_id
),
order_stats AS (
  SELECT member_id,
    count(*) FILTER (WHERE {purchase}) AS orders,
    count(*) FILTER (WHERE {purchase} AND placed_at > $as_of::TIMESTAMPTZ - INTERVAL 90 DAY) AS orders_90d,
    count(*) FILTER (WHERE status IN ('refunded', 'partially_refunded')) AS returns,
    count(*) FILTER (WHERE {purchase} OR status = 'refunded') AS paid_orders,
    count(DISTINCT day) FILTER (WHERE {purchase}) AS purchase_days,
    coalesce(sum(amount) FILTER (WHERE {purchase} OR status = 'refunded'), 0) AS gross_spend,
    coalesce(sum(refund_value) FILTER (WHERE {purchase} OR status = 'refunded'), 0) AS refunds,
    coalesce(sum(amount - refund_value) FILTER (WHERE ({purchase} OR status = 'refunded')
                 AND placed_at > $as_of::TIMESTAMPTZ - INTERVAL 90 DAY), 0) AS net_spend_90d,
    min(placed_at) FILTER (WHERE {purchase}) AS first_order_at,
    max(placed_at) FILTER (WHERE {purchase}) AS last_order_at,
    max(placed_at) AS last_order_activity_at, min(placed_at) AS first_order_activity_at
  FROM orders_f GROUP BY member_id
),
category_stats AS (
  SELECT member_id, list(category ORDER BY units DESC, category)[1] AS top_category,
    max(units) / sum(units) AS top_category_share, count(*) AS categories_bought
  FROM (SELECT o.member_id, i.category, sum(coalesce(i.quantity, 1))::DOUBLE AS units
        FROM order_items i JOIN orders_f o USING (order_id)
        WHERE o.{purchase} AND i.category IS NOT NULL AND i.category <> '' GROUP BY ALL)
  GROUP BY member_id
),
event_stats AS (
  SELECT member_id, count(*) FILTER (WHERE event = 'view') AS views,
    count(*) FILTER (WHERE event = 'favorite') AS favorites,
    count(*) FILTER (WHERE event = 'add_to_cart') AS add_to_cart,
    count(*) FILTER (WHERE event = 'share') AS shares,
    min(occurred_at) AS first_event_at, max(occurred_at) AS last_event_at
  FROM events_f GROUP BY member_id
),
stay_stats AS (
  SELECT member_id, count(DISTINCT group_id) FILTER (WHERE left_at IS NULL OR left_at > $as_of::TIMESTAMPTZ) AS groups,
    min(joined_at) AS first_joined_at,
    list(group_id ORDER BY joined_at DESC NULLS LAST, group_id)
      FILTER (WHERE left_at IS NULL OR left_at > $as_of::TIMESTAMPTZ)[1] AS joined_group
  FROM stays GROUP BY member_id
),
joined AS (
  SELECT c.member_id, m.name, m.age_band, m.gender, m.region, coalesce(m.tags, []::VARCHAR[]) AS tags,
    m.followers, coalesce(st.groups, 0) AS groups, coalesce(mg.spoken_group, st.joined_group) AS primary_group_id,
    least(m.first_seen_at, st.first_joined_at, ms.first_message_at, os.first_order_activity_at, es.first_event_at)
      AS first_seen_at,
    greatest(ms.last_message_at, os.last_order_activity_at, es.last_event_at) AS last_active_at,
    ms.*, os.*, cs.*, es.*, ls.*, it.top_intent,
    coalesce(qs.replies_received, 0) AS replies_received, coalesce(mn.mentions_received, 0) AS mentions_received
  FROM chosen c
  LEFT JOIN store_members m ON m.id = c.member_id
  LEFT JOIN stay_stats st ON st.member_id = c.member_id
  LEFT JOIN main_group mg ON mg.member_id = c.member_id
  LEFT JOIN message_stats ms ON ms.member_id = c.member_id
  LEFT JOIN order_stats os ON os.member_id = c.member_id
  LEFT JOIN category_stats cs ON cs.member_id = c.member_id
  LEFT JOIN event_stats es ON es.member_id = c.member_id
  LEFT JOIN label_stats ls ON ls.member_id = c.member_id
  LEFT JOIN intent_stats it ON it.member_id = c.member_id
  LEFT JOIN quote_stats qs ON qs.member_id = c.member_id
  LEFT JOIN mention_stats mn ON mn.member_id = c.member_id
)
SELECT
  j.member_id, (SELECT as_of FROM params) AS as_of,
  j.name, j.age_band, j.gender, j.region, j.tags, j.followers::BIGINT AS followers, j.groups::BIGINT AS groups,
  j.primary_group_id, j.first_seen_at,
  CASE WHEN j.first_seen_at IS NULL THEN NULL
       ELSE (SELECT as_of_day FROM params) - {local.format(column="j.first_seen_at")} + 1 END::BIGINT AS tenure_days,
  coalesce(j.orders, 0)::BIGINT AS orders, coalesce(j.orders_90d, 0)::BIGINT AS orders_90d,
  coalesce(j.purchase_days, 0)::BIGINT AS purchase_days,
  round(coalesce(j.gross_spend, 0), 2)::DOUBLE AS gross_spend, round(coalesce(j.refunds, 0), 2)::DOUBLE AS refunds,
  round(coalesce(j.gross_spend, 0) - coalesce(j.refunds, 0), 2)::DOUBLE AS net_spend,
  round(coalesce(j.net_spend_90d, 0), 2)::DOUBLE AS net_spend_90d,
  CASE WHEN coalesce(j.orders, 0) > 0
       THEN round((coalesce(j.gross_spend, 0) - coalesce(j.refunds, 0)) / j.orders, 2) END::DOUBLE AS aov,
  j.first_order_at, j.last_order_at,
  ((SELECT as_of_day FROM params) - {local.format(column="j.last_order_at")})::BIGINT AS days_since_last_order,
  j.top_category, j.top_category_share::DOUBLE AS top_category_share,
  coalesce(j.categories_bought, 0)::BIGINT AS categories_bought,
  coalesce(j.messages, 0)::BIGINT AS messages, coalesce(j.messages_30d, 0)::BIGINT AS messages_30d,
  coalesce(j.active_days, 0)::BIGINT AS active_days, coalesce(j.active_days_30d, 0)::BIGINT AS active_days_30d,
  coalesce(j.groups_spoken_in, 0)::BIGINT AS groups_spoken_in,
  j.replies_received::BIGINT AS replies_received, j.mentions_received::BIGINT AS mentions_received,
  j.last_message_at, j.last_active_at,
  ((SELECT as_of_day FROM params) - {local.format(column="coalesce(j.last_active_at, j.first_seen_at)")})::BIGINT
    AS days_since_last_active,
  j.last_active_at IS NULL AS never_active,
  coalesce(j.questions, 0)::BIGINT AS questions, coalesce(j.complaints, 0)::BIGINT AS complaints, j.top_intent,
  coalesce(j.views, 0)::BIGINT AS views, coalesce(j.favorites, 0)::BIGINT AS favorites,
  coalesce(j.add_to_cart, 0)::BIGINT AS add_to_cart, coalesce(j.shares, 0)::BIGINT AS shares,
  coalesce(j.returns, 0)::BIGINT AS returns,
  CASE WHEN coalesce(j.paid_orders, 0) > 0 THEN j.returns / j.paid_orders END::DOUBLE AS refund_rate,
  coalesce(j.labelled_messages, 0)::BIGINT AS labelled_messages, j.sentiment_score::DOUBLE AS sentiment_score,
  coalesce(j.negative_messages, 0)::BIGINT AS negative_messages,
  coalesce(j.positive_messages, 0)::BIGINT AS positive_messages,
  NULL::DOUBLE AS nps
FROM joined j
ORDER BY j.member_id
"""


def _run_profile_query(workspace: Workspace, as_of: datetime, member_ids: list[str] | None) -> pa.Table:
    members, memberships, staff = _store_tables(workspace)
    try:
        with workspace.warehouse.connect(memory_limit="4GB") as connection:
            connection.register("store_members", members)
            connection.register("store_memberships", memberships)
            connection.register("store_staff", staff)
            if member_ids is not None:
                connection.register("wanted", pa.table({"member_id": pa.array(member_ids, pa.string())}))
            sql = _profile_sql(workspace.settings.timezone, member_ids is not None)
            return connection.sql(sql, params={"as_of": as_of}).to_arrow_table()
    except duckdb.Error as error:
        raise InputFormatError(f"member profiles could not be computed: {error}") from error


def _with_derived_columns(table: pa.Table) -> pa.Table:
    """Add the KOC tier (plan §4.1 bounds) and orders per 30 days of tenure."""
    followers = table.column("followers").to_pylist()
    tiers = pa.array([follower_tier(value) for value in followers], pa.string())
    table = table.add_column(table.schema.get_field_index("followers") + 1, "follower_tier", tiers)
    orders, tenure = table.column("orders").to_pylist(), table.column("tenure_days").to_pylist()
    frequency = [
        round(count * 30.0 / days, 4) if days else None for count, days in zip(orders, tenure, strict=True)
    ]
    position = table.schema.get_field_index("orders_90d") + 1
    return table.add_column(position, "orders_per_30_days", pa.array(frequency, pa.float64()))


def build_member_profiles(
    workspace: Workspace, as_of: datetime | date | str | None = None, member_ids: list[str] | None = None
) -> pa.Table:
    """The six-dimension profile of every member (or of ``member_ids``) as of ``as_of``.

    Members are everyone in the store's member list, the group rosters, the archive (customer
    senders), orders and shop events, minus staff. Facts after ``as_of`` are ignored.
    """
    _brand_zone(workspace.settings.timezone)
    moment = resolve_as_of(workspace, as_of)
    return _with_derived_columns(_run_profile_query(workspace, moment, member_ids))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def member_profile(
    workspace: Workspace, member_id: str, as_of: datetime | date | str | None = None
) -> dict[str, Any]:
    """One member's profile grouped by dimension: ``{"member_id", "as_of", "basic": {...}, ...}``."""
    if not member_id or len(member_id) > 128:
        raise InputFormatError("member id must be 1 to 128 characters")
    rows = build_member_profiles(workspace, as_of, member_ids=[member_id]).to_pylist()
    if not rows:
        raise NotFoundError(f"member {member_id!r} not found")
    row = {key: _json_value(value) for key, value in rows[0].items()}
    profile: dict[str, Any] = {"member_id": row["member_id"], "as_of": row["as_of"]}
    for dimension, columns in PROFILE_DIMENSIONS.items():
        profile[dimension] = {column: row[column] for column in columns}
    profile["sentiment"]["nps_available"] = False
    return profile
