"""The marts, written once as Ibis expressions (they run unchanged on DuckDB and on Spark).

Building blocks (definitions in ``groupops.analytics.kpis.METRIC_DEFINITIONS``):

* an **interaction** is a customer's group message that counts: ``action`` send, ``msgtype``
  not revoke/switch/agree/disagree, not recalled, in a group, not sent by staff or a robot;
* a member is **active** on a day when they interacted in a group or placed a valid order;
* a **valid order** has status ``paid`` or ``partially_refunded``; its day is the day it was
  placed (brand time zone);
* an order is **group-attributed** when its channel is ``group`` or the buyer interacted in a
  group on the order's day or in the ``ATTRIBUTION_WINDOW_DAYS`` days before it.

Day arithmetic uses the integer ``day_number`` (days since 1970-01-01 in the brand zone);
columns named in a mart's ``date_columns`` are turned back into dates when written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import ibis
import ibis.expr.types as ir

from groupops.analytics.engine import Facts

__all__ = [
    "ATTRIBUTION_WINDOW_DAYS",
    "NON_INTERACTION_MESSAGE_TYPES",
    "VALID_ORDER_STATUSES",
    "MartSpec",
    "active_member_days",
    "active_periods",
    "brand_daily_activity",
    "countable_group_messages",
    "group_daily_activity",
    "group_daily_from_sender_days",
    "group_messages",
    "group_health",
    "left_join_on",
    "lifecycle",
    "lifecycle_of_periods",
    "member_daily_activity",
    "month_index_of_day",
    "membership_transitions",
    "members_present",
    "month_label_of_day",
    "orders_attributed",
    "repeated_bodies",
    "repeated_text_messages",
    "rolling_distinct_members",
    "sender_days",
    "staff_members",
    "unrepeated_texts",
    "with_previous_active_day",
]

NON_INTERACTION_MESSAGE_TYPES = ("revoke", "switch", "agree", "disagree")
VALID_ORDER_STATUSES = ("paid", "partially_refunded")
PAID_ORDER_STATUSES = ("paid", "partially_refunded", "refunded")
ATTRIBUTION_WINDOW_DAYS = 7
EPOCH_DATE = date(1970, 1, 1)


@dataclass(frozen=True)
class MartSpec:
    """A mart the pipeline writes: partitioned by month (with the input months it reads) or whole."""

    name: str
    description: str
    partitioned: bool = False
    # input table -> (months before, months after) a partition reads
    inputs: dict[str, tuple[int, int]] = field(default_factory=dict)
    date_columns: tuple[str, ...] = ()
    month_index_columns: tuple[str, ...] = ()
    sort_keys: tuple[str, ...] = ()
    builder: Callable[..., ir.Table] | None = None


# -- messages and members -----------------------------------------------------------------


def countable_group_messages(messages: ir.Table) -> ir.Table:
    """Group messages that count (sent, not a system type, not recalled)."""
    return messages.filter(
        messages.group_id.notnull(),
        messages.action.fill_null("send") == "send",
        ~messages.msgtype.fill_null("unknown").isin(NON_INTERACTION_MESSAGE_TYPES),
        ~messages.revoked.fill_null(False),
    )


def staff_members(facts: Facts) -> ir.Table:
    """Ids of staff and robots: the staff table plus every sender flagged as staff."""
    if facts.all_staff is not None:
        return facts.all_staff
    messages = facts.unrecalled_messages if facts.unrecalled_messages is not None else facts.messages
    flagged = messages.filter(messages.sender_is_staff.fill_null(False)).select(staff_id=messages.sender_id)
    return facts.staff_ids.select("staff_id").union(flagged, distinct=True)


def group_messages(facts: Facts, *, with_text: bool = True, with_bodies: bool = False) -> ir.Table:
    """Countable group messages with an ``is_staff`` flag: the one scan of the messages table.

    ``with_text=False`` leaves the raw message text out; ``with_bodies`` adds ``body``, the
    trimmed text of text messages (null for other types), all that repetition needs. A run
    keeps the narrow form (bodies, no text) in memory.
    """
    messages = countable_group_messages(facts.messages)
    staff = staff_members(facts)
    is_staff = messages.sender_is_staff.fill_null(False) | messages.sender_id.isin(staff.staff_id)
    columns: dict[str, ir.Value] = {
        "month": messages.local_month,
        "day_number": messages.day_number,
        "group_id": messages.group_id,
        "sender_id": messages.sender_id,
        "msgtype": messages.msgtype,
    }
    if with_text:
        columns["text"] = messages.text
    if with_bodies:
        columns["body"] = ibis.ifelse(messages.msgtype == "text", messages.text.strip(), None)
    return messages.select(**columns, is_staff=is_staff)


def sender_days(facts: Facts) -> ir.Table:
    """The compact base of a run: per local day, group, sender and staff flag, the messages sent.

    One aggregation of the countable group messages (no text read): ``messages`` counts them,
    ``text_messages`` the text ones. Member and group activity are sums over it.
    """
    messages = countable_group_messages(facts.messages)
    staff = staff_members(facts)
    narrow = messages.select(
        day_number=messages.day_number,
        group_id=messages.group_id,
        sender_id=messages.sender_id,
        is_staff=messages.sender_is_staff.fill_null(False) | messages.sender_id.isin(staff.staff_id),
        is_text=(messages.msgtype == "text").fill_null(False),
    )
    return narrow.group_by("day_number", "group_id", "sender_id", "is_staff").aggregate(
        messages=narrow.count(), text_messages=narrow.is_text.cast("int64").sum()
    )


def member_daily_activity(facts: Facts, messages: ir.Table | None = None) -> ir.Table:
    """One row per member, group and day with at least one interaction.

    ``messages`` is ``group_messages`` (one row per message) or ``sender_days`` (one row per
    sender and day); by default the activity is summed from ``sender_days(facts)``.
    """
    prepared = messages if messages is not None else sender_days(facts)
    customers = prepared.filter(~prepared.is_staff)
    if "text_messages" in prepared.columns:
        return customers.select(
            month=month_label_of_day(customers.day_number),
            day_number=customers.day_number,
            group_id=customers.group_id,
            member_id=customers.sender_id,
            interactions=customers.messages,
        )
    return customers.group_by(
        month=customers.month,
        day_number=customers.day_number,
        group_id=customers.group_id,
        member_id=customers.sender_id,
    ).aggregate(interactions=customers.count())


def orders_attributed(facts: Facts, activity: ir.Table) -> ir.Table:
    """Every order with its day, validity, net amount and group attribution."""
    orders = facts.orders.filter(facts.orders.order_id.notnull())
    # the buyers' activity rows are joined directly (a distinct over all activity costs more)
    spoke = activity.select(spoke_member=activity.member_id, spoke_day=activity.day_number)
    joined = orders.join(
        spoke,
        [
            orders.member_id == spoke.spoke_member,
            spoke.spoke_day <= orders.day_number,
            spoke.spoke_day >= orders.day_number - ATTRIBUTION_WINDOW_DAYS,
        ],
    )
    after_speaking = joined.select(attributed_order=joined.order_id).distinct()
    valid = orders.status.isin(VALID_ORDER_STATUSES)
    refund = orders.refund_amount.fill_null(0.0)
    amount = orders.amount.fill_null(0.0)
    return orders.select(
        month=orders.local_month,
        day_number=orders.day_number,
        order_id=orders.order_id,
        member_id=orders.member_id,
        status=orders.status,
        channel=orders.channel,
        valid=valid,
        paid=orders.status.isin(PAID_ORDER_STATUSES),
        amount=amount,
        refund_amount=refund,
        net_amount=ibis.ifelse(orders.status.isin(PAID_ORDER_STATUSES), amount - refund, 0.0),
        group_channel=orders.channel.fill_null("") == "group",
        group_attributed=valid
        & ((orders.channel.fill_null("") == "group") | orders.order_id.isin(after_speaking.attributed_order)),
    )


def group_daily_activity(facts: Facts, messages: ir.Table | None = None) -> ir.Table:
    """Per group and day: messages, customer and staff messages, speakers, repeated texts.

    A text message is *repeated* when its exact (trimmed) text occurs at least twice in the
    group that month. By default the counts come from ``sender_days`` and the repetition
    from ``unrepeated_texts``; ``messages`` (``group_messages``) counts message rows instead,
    with the texts from its ``body`` column when it has one, from the facts otherwise.
    """
    if messages is None:
        return group_daily_from_sender_days(sender_days(facts), unrepeated_texts(facts))
    prepared = messages
    has_bodies = "body" in prepared.columns
    repeated = repeated_bodies(prepared) if has_bodies else repeated_text_messages(facts)
    counts = prepared.group_by(
        month=prepared.month, day_number=prepared.day_number, group_id=prepared.group_id
    ).aggregate(
        messages=prepared.count(),
        customer_messages=(~prepared.is_staff).sum().cast("int64"),
        staff_messages=prepared.is_staff.sum().cast("int64"),
        speakers=ibis.ifelse(prepared.is_staff, None, prepared.sender_id).nunique(),
    )
    joined = left_join_on(counts, repeated, ["group_id", "month", "day_number"])
    return joined.mutate(repeated_messages=joined.repeated_messages.fill_null(0))


def group_daily_from_sender_days(senders: ir.Table, unrepeated: ir.Table) -> ir.Table:
    """``group_daily_activity`` summed from ``sender_days`` and ``unrepeated_texts``.

    Repeated texts = text messages - the day's unrepeated ones (blank, or alone in the month).
    """
    # a sender's rows of one day share the flag, so customer rows with a sender are distinct speakers
    staff = senders.is_staff
    counts = senders.group_by("day_number", "group_id").aggregate(
        messages=senders.messages.sum().cast("int64"),
        customer_messages=ibis.ifelse(~staff, senders.messages, 0).sum().cast("int64"),
        staff_messages=ibis.ifelse(staff, senders.messages, 0).sum().cast("int64"),
        speakers=ibis.ifelse(staff.fill_null(False) | senders.sender_id.isnull(), 0, 1).sum().cast("int64"),
        text_messages=senders.text_messages.sum().cast("int64"),
    )
    joined = left_join_on(counts, unrepeated, ["group_id", "day_number"])
    return joined.select(
        month=month_label_of_day(joined.day_number),
        day_number=joined.day_number,
        group_id=joined.group_id,
        messages=joined.messages,
        customer_messages=joined.customer_messages,
        staff_messages=joined.staff_messages,
        speakers=joined.speakers,
        repeated_messages=(joined.text_messages - joined.unrepeated.fill_null(0)).cast("int64"),
    )


def unrepeated_texts(facts: Facts) -> ir.Table:
    """Per group and day, the countable text messages that are not repeated.

    Blank texts (null or only spaces) never count; the others are counted per (group,
    month, trimmed text), and a text seen once that month is unrepeated on its only day.
    One aggregation: blank texts are keyed by their day, the others by their text.
    """
    countable = countable_group_messages(facts.messages)
    texts = countable.filter(countable.msgtype == "text")
    body = texts.text.strip()
    blank = body.isnull() | (body.length() == 0)
    keyed = texts.select(
        group_id=texts.group_id,
        month_index=month_index_of_day(texts.day_number),
        body=ibis.ifelse(blank, None, body),
        blank_day=ibis.ifelse(blank, texts.day_number, None),
        day_number=texts.day_number,
    )
    per_key = keyed.group_by("group_id", "month_index", "body", "blank_day").aggregate(
        in_key=keyed.count(), day_number=keyed.day_number.min()
    )
    alone = per_key.filter(per_key.blank_day.notnull() | (per_key.in_key == 1))
    return alone.group_by("group_id", "day_number").aggregate(unrepeated=alone.in_key.sum().cast("int64"))


def repeated_text_messages(facts: Facts) -> ir.Table:
    """Per group and day, the countable text messages whose trimmed text repeats in the month."""
    countable = countable_group_messages(facts.messages)
    texts = countable.filter(countable.msgtype == "text").select(
        group_id=countable.group_id,
        month=countable.local_month,
        day_number=countable.day_number,
        body=countable.text.strip(),
    )
    return repeated_bodies(texts)


def repeated_bodies(messages: ir.Table) -> ir.Table:
    """Per group and day, the messages whose ``body`` occurs at least twice in the group that month.

    The (group, month, body) keys seen at least twice are found first; the messages are then
    kept by a semi join on them and counted per day (no window over the texts). Null and
    empty bodies never count.
    """
    texts = messages.filter(messages.body.notnull(), messages.body.length() > 0)
    per_month = texts.group_by(
        month_group=texts.group_id, month_key=texts.month, month_body=texts.body
    ).aggregate(in_month=texts.count())
    per_month = per_month.filter(per_month.in_month >= 2)
    repeated = texts.semi_join(
        per_month,
        [
            texts.group_id == per_month.month_group,
            texts.month == per_month.month_key,
            texts.body == per_month.month_body,
        ],
    )
    return repeated.group_by("group_id", "month", "day_number").aggregate(
        repeated_messages=repeated.count().cast("int64")
    )


# -- membership -----------------------------------------------------------------------------


def membership_transitions(facts: Facts) -> ir.Table:
    """Days a customer starts (+1) or stops (-1) being present in a group.

    Present = the latest change is ``join`` or ``snapshot``; staff ids are left out.
    """
    changes = facts.membership_changes.filter(
        facts.membership_changes.member_id.notnull(),
        facts.membership_changes.group_id.notnull(),
        ~facts.membership_changes.member_id.isin(staff_members(facts).staff_id),
    )
    present = changes.change.isin(("join", "snapshot"))
    window = ibis.window(
        group_by=[changes.group_id, changes.member_id], order_by=[changes.epoch_us, changes.event_id]
    )
    stated = changes.mutate(present=present, was_present=present.lag().over(window).fill_null(False))
    moved = stated.filter(stated.present != stated.was_present)
    return moved.select(
        group_id=moved.group_id,
        member_id=moved.member_id,
        month=moved.local_month,
        day_number=moved.day_number,
        delta=ibis.ifelse(moved.present, 1, -1).cast("int64"),
        is_join=(moved.change == "join") & moved.present,
        is_leave=~moved.present,
    )


def members_present(transitions: ir.Table, day_number: int, groups: ir.Table | None = None) -> ir.Table:
    """Distinct customers present, at the end of ``day_number``, in any group (or in ``groups``)."""
    upto = transitions.filter(transitions.day_number <= day_number)
    if groups is not None:
        upto = upto.filter(upto.group_id.isin(groups.group_id))
    per_stay = upto.group_by("group_id", "member_id").aggregate(state=upto.delta.sum())
    return per_stay.filter(per_stay.state > 0).select("member_id").distinct()


# -- activity ---------------------------------------------------------------------------------


def active_member_days(activity: ir.Table, orders: ir.Table) -> ir.Table:
    """Distinct (member, day) on which a member interacted or placed a valid order."""
    spoke = activity.select(member_id=activity.member_id, day_number=activity.day_number.cast("int64"))
    valid = orders.filter(orders.valid)
    bought = valid.select(member_id=valid.member_id, day_number=valid.day_number.cast("int64"))
    return spoke.union(bought, distinct=True)


def with_previous_active_day(member_days: ir.Table) -> ir.Table:
    """``member_days`` plus ``previous_day``: the member's active day before (null for the first)."""
    order = ibis.window(group_by=member_days.member_id, order_by=member_days.day_number)
    return member_days.mutate(previous_day=member_days.day_number.lag().over(order))


def rolling_distinct_members(member_days: ir.Table, calendar: ir.Table, window_days: int) -> ir.Table:
    """Distinct members active within the ``window_days`` days ending on each calendar day.

    Each active day covers ``[day, day + window)``; overlapping cover of one member is
    merged with the previous active day, so a running sum of starts and ends counts each
    member once. ``member_days`` may already carry ``previous_day`` (``with_previous_active_day``).
    """
    if "previous_day" not in member_days.columns:
        member_days = with_previous_active_day(member_days)
    previous = member_days.previous_day
    fresh = previous.isnull() | (member_days.day_number - previous >= window_days)
    covered = member_days.select(
        start=ibis.ifelse(fresh, member_days.day_number, previous + window_days).cast("int64"),
        end=(member_days.day_number + window_days).cast("int64"),
    )
    starts = covered.select(day_number=covered.start, delta=ibis.literal(1, "int64"))
    ends = covered.select(day_number=covered.end, delta=ibis.literal(-1, "int64"))
    zero = calendar.select(day_number=calendar.day_number, delta=ibis.literal(0, "int64"))
    deltas = starts.union(ends).union(zero)
    per_day = deltas.group_by("day_number").aggregate(delta=deltas.delta.sum())
    running = per_day.mutate(
        members=per_day.delta.sum().over(ibis.window(order_by=per_day.day_number, rows=(None, 0)))
    )
    return running.filter(running.day_number.isin(calendar.day_number)).select("day_number", "members")


def _brand_presence_per_day(transitions: ir.Table, calendar: ir.Table) -> ir.Table:
    """Distinct customers present in at least one group at the end of each calendar day."""
    per_member_day = transitions.group_by("member_id", "day_number").aggregate(delta=transitions.delta.sum())
    order = ibis.window(group_by=per_member_day.member_id, order_by=per_member_day.day_number, rows=(None, 0))
    counted = per_member_day.mutate(groups=per_member_day.delta.sum().over(order))
    order_previous = ibis.window(group_by=counted.member_id, order_by=counted.day_number)
    flagged = counted.mutate(before=counted.groups.lag().over(order_previous).fill_null(0))
    change = ibis.ifelse(
        (flagged.groups > 0) & (flagged.before <= 0),
        1,
        ibis.ifelse((flagged.groups <= 0) & (flagged.before > 0), -1, 0),
    ).cast("int64")
    deltas = flagged.select(day_number=flagged.day_number, delta=change).union(
        calendar.select(day_number=calendar.day_number, delta=ibis.literal(0, "int64"))
    )
    per_day = deltas.group_by("day_number").aggregate(delta=deltas.delta.sum())
    running = per_day.mutate(
        members=per_day.delta.sum().over(ibis.window(order_by=per_day.day_number, rows=(None, 0)))
    )
    return running.filter(running.day_number.isin(calendar.day_number)).select("day_number", "members")


def brand_daily_activity(
    activity: ir.Table,
    orders: ir.Table,
    transitions: ir.Table,
    calendar: ir.Table,
    member_days: ir.Table | None = None,
) -> ir.Table:
    """Per day: DAU/WAU/MAU, stickiness, members, speakers, interactions, daily interaction rate.

    ``member_days`` is ``active_member_days(activity, orders)`` when already kept (best with
    ``previous_day``: the three rolling counts then share one window).
    """
    if member_days is None:
        member_days = active_member_days(activity, orders)
    if "previous_day" not in member_days.columns:
        member_days = with_previous_active_day(member_days)
    dau = rolling_distinct_members(member_days, calendar, 1).rename(dau="members")
    wau = rolling_distinct_members(member_days, calendar, 7).rename(wau="members")
    mau = rolling_distinct_members(member_days, calendar, 30).rename(mau="members")
    present = _brand_presence_per_day(transitions, calendar)
    talk = activity.group_by("day_number").aggregate(
        interactions=activity.interactions.sum().cast("int64"), speakers=activity.member_id.nunique()
    )
    valid = orders.filter(orders.valid)
    bought = valid.group_by("day_number").aggregate(buyers=valid.member_id.nunique())
    joined = calendar.select("day_number", "month")
    for part in (dau, wau, mau, present, talk, bought):
        joined = left_join_on(joined, part, ["day_number"])
    filled = joined.mutate(
        interactions=joined.interactions.fill_null(0),
        speakers=joined.speakers.fill_null(0),
        buyers=joined.buyers.fill_null(0),
    )
    return filled.mutate(
        stickiness=_ratio(filled.dau, filled.mau),
        interaction_rate=_ratio(filled.speakers, filled.members),
        active_ratio=_ratio(filled.mau, filled.members),
    )


def left_join_on(left: ir.Table, right: ir.Table, keys: list[str]) -> ir.Table:
    """``left`` LEFT JOIN ``right`` USING ``keys``, keeping the left key columns once."""
    joined = left.left_join(right, keys)
    extra = [name for name in right.columns if name not in keys]
    return joined.select(*[left[name] for name in left.columns], *[right[name] for name in extra])


def _ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """numerator / denominator as a float, null when the denominator is 0 or null."""
    return ibis.ifelse(denominator > 0, numerator.cast("float64") / denominator.cast("float64"), None)


def active_periods(member_days: ir.Table, period: str) -> ir.Table:
    """Distinct (member_id, period_index) of active members; ``period`` is ``day``, ``week`` or ``month``.

    ``period_index``: the day number, the week number since 1969-12-29 (Monday weeks) or
    ``year * 12 + month - 1``.
    """
    if period == "day":
        index = member_days.day_number.cast("int64")
    elif period == "week":
        index = ((member_days.day_number + 3) // 7).cast("int64")
    elif period == "month":
        index = month_index_of_day(member_days.day_number)
    else:
        raise ValueError(f"unknown period {period!r}")
    return member_days.select(member_id=member_days.member_id, period_index=index).distinct()


def lifecycle(member_days: ir.Table, period: str) -> ir.Table:
    """PostHog-style lifecycle per period: new, returning, resurrecting and dormant members.

    ``period`` is ``week`` (Monday-based) or ``month``; ``period_index`` is the week number
    since 1969-12-29 or ``year * 12 + month - 1``.
    """
    if period not in ("week", "month"):
        raise ValueError(f"unknown period {period!r}")
    return lifecycle_of_periods(active_periods(member_days, period), period)


def lifecycle_of_periods(periods: ir.Table, period: str) -> ir.Table:
    """``lifecycle`` from the distinct active (member_id, period_index) of ``active_periods``."""
    order = ibis.window(group_by=periods.member_id, order_by=periods.period_index)
    marked = periods.mutate(
        previous=periods.period_index.lag().over(order), following=periods.period_index.lead().over(order)
    )
    last_period = periods.period_index.max().as_scalar()
    status = ibis.cases(
        (marked.previous.isnull(), "new"),
        (marked.previous == marked.period_index - 1, "returning"),
        else_="resurrecting",
    )
    active = marked.select(period_index=marked.period_index, status=status)
    gone = marked.filter(
        marked.following.isnull() | (marked.following > marked.period_index + 1),
        marked.period_index + 1 <= last_period,
    ).select(period_index=(marked.period_index + 1).cast("int64"), status=ibis.literal("dormant"))
    rows = active.union(gone)
    counts = rows.group_by("period_index").aggregate(
        **{
            name: (rows.status == name).sum().cast("int64")
            for name in ("new", "returning", "resurrecting", "dormant")
        }
    )
    return counts.mutate(period=ibis.literal(period))


def _date_of_day(day_number: ir.IntegerValue) -> ir.TimestampValue:
    """The calendar date of a day number (1970-01-01 plus that many days)."""
    return ibis.literal(EPOCH_DATE) + day_number.as_interval("D")


def month_label_of_day(day_number: ir.IntegerValue) -> ir.StringValue:
    """``YYYY-MM`` of a day number (the ``local_month`` of the rows on that day)."""
    return _date_of_day(day_number).strftime("%Y-%m")


def month_index_of_day(day_number: ir.IntegerValue) -> ir.IntegerValue:
    """``year * 12 + month - 1`` of a day number (a short expression: it is inlined wherever used)."""
    day = _date_of_day(day_number)
    # the parts are cast: Spark computes the extracts as int whatever Ibis infers for the sum
    return day.year().cast("int64") * 12 + day.month().cast("int64") - 1


# -- groups -----------------------------------------------------------------------------------


def group_health(
    group_daily: ir.Table, activity: ir.Table, transitions: ir.Table, group_kinds: ir.Table
) -> ir.Table:
    """Per group and month: members at month end, joins, leaves, speakers, staff share, repetition."""
    months = group_daily.group_by("group_id", "month").aggregate(
        messages=group_daily.messages.sum().cast("int64"),
        customer_messages=group_daily.customer_messages.sum().cast("int64"),
        staff_messages=group_daily.staff_messages.sum().cast("int64"),
        repeated_messages=group_daily.repeated_messages.sum().cast("int64"),
    )
    speakers = activity.group_by("group_id", "month").aggregate(speakers=activity.member_id.nunique())
    moves = transitions.group_by("group_id", "month").aggregate(
        delta=transitions.delta.sum().cast("int64"),
        joins=transitions.is_join.sum().cast("int64"),
        leaves=transitions.is_leave.sum().cast("int64"),
    )
    keys = months.select("group_id", "month").union(moves.select("group_id", "month"), distinct=True)
    table = keys
    for part in (months, speakers, moves):
        table = left_join_on(table, part, ["group_id", "month"])
    counts = ("messages", "customer_messages", "staff_messages", "repeated_messages", "speakers")
    table = table.mutate(**{name: table[name].fill_null(0) for name in (*counts, "delta", "joins", "leaves")})
    running = ibis.window(group_by=table.group_id, order_by=table.month, rows=(None, 0))
    table = table.mutate(members=table.delta.sum().over(running).cast("int64")).drop("delta")
    table = left_join_on(table, group_kinds.select("group_id", "kind"), ["group_id"])
    return table.mutate(
        kind=table.kind.fill_null("unknown"),
        staff_share=_ratio(table.staff_messages, table.messages),
        repeated_share=_ratio(table.repeated_messages, table.messages),
        active_ratio=_ratio(table.speakers, table.members),
    )
