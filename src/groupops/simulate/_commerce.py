"""Orders, shop events and the chat messages that follow from them (complaints, praise, 催发货).

Purchase rates follow a gamma-mixed Poisson per member, scaled by chat activity and by KOC
influence in the member's groups, so active and KOC-influenced members buy more and some buy
again. Refunds have causes; most defect and size refunds produce a complaint in the group.
The injected incident is a bad batch of one SKU whose buyers complain in a burst on one day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from groupops.simulate._calendar import DAY, HOUR, iso_local_many
from groupops.simulate._catalogue import Catalogue
from groupops.simulate._phrases import fill_template, load_phrases
from groupops.simulate._population import NEVER, Population

__all__ = [
    "EVENT_COLUMNS", "HOURLY_WEIGHTS", "ORDER_COLUMNS", "STORE_ORDERS_PER_GROUP_ORDER", "Commerce", "Incident",
    "ScheduledMessages", "build_commerce", "event_rows", "order_rows", "shopper_id", "times_of_day",
]  # fmt: skip

ORDER_COLUMNS = [
    "order_id", "member_id", "placed_at", "paid_at", "status", "amount", "discount", "channel", "sku",
    "product_name", "category", "quantity", "unit_price", "refund_amount",
]  # fmt: skip
EVENT_COLUMNS = ["event_id", "member_id", "occurred_at", "event", "sku", "campaign"]

# Share of the day's messages / orders by local hour: peaks at lunch and 20:00–23:00.
HOURLY_WEIGHTS = np.asarray(
    [0.6, 0.3, 0.15, 0.1, 0.1, 0.15, 0.4, 1.2, 2.2, 3.0, 3.2, 3.4, 5.6, 5.4, 3.2, 3.0, 3.1, 3.3, 3.8,
     4.4, 6.4, 7.2, 7.0, 3.2]
)  # fmt: skip
_REFUND_CAUSES = ["尺码偏小", "色差", "起球", "缩水", "开线", "掉色", "发错货", "不喜欢"]
_REFUND_CAUSE_SHARES = np.asarray([0.33, 0.14, 0.1, 0.08, 0.08, 0.08, 0.07, 0.12])
_CAMPAIGNS = ["", "秒杀", "拼团", "7天试穿", "会员日"]
_CAMPAIGN_SHARES = np.asarray([0.45, 0.15, 0.15, 0.15, 0.10])
_FAVORITE_RATE = np.asarray([0.15, 0.13, 0.14, 0.22, 0.15])  # by campaign: 7天试穿 lifts 种草→收藏
_NON_PURCHASE_CART_RATE = np.asarray([0.27, 0.16, 0.25, 0.27, 0.27])  # 秒杀 lifts 加购→支付
_INCIDENT_CAUSES = {"卫衣": "起球", "针织衫": "起球", "T恤": "起球", "牛仔裤": "掉色"}


def times_of_day(rng: np.random.Generator, count: int) -> np.ndarray:
    """Seconds after local midnight following :data:`HOURLY_WEIGHTS`."""
    hours = rng.choice(24, size=count, p=HOURLY_WEIGHTS / HOURLY_WEIGHTS.sum())
    return hours * HOUR + rng.integers(0, HOUR, size=count)


@dataclass
class Incident:
    """A product defect spike: buyers of one bad batch complain on ``day_ts``'s day."""

    sku: str
    product_name: str
    cause: str
    day_ts: int
    members: list[int]


@dataclass
class ScheduledMessages:
    """Member messages the chat must contain at given times (about their own orders)."""

    member: list[int] = field(default_factory=list)
    time: list[int] = field(default_factory=list)
    category: list[str] = field(default_factory=list)  # complaint | praise | logistics_question
    text: list[str] = field(default_factory=list)
    incident: list[bool] = field(default_factory=list)

    def add(self, member: int, time: int, category: str, text: str, incident: bool = False) -> None:
        self.member.append(member)
        self.time.append(time)
        self.category.append(category)
        self.text.append(text)
        self.incident.append(incident)


@dataclass
class Commerce:
    """Order lines and events as arrays, plus what the chat must say about them."""

    lines: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    scheduled: ScheduledMessages
    incident: Incident
    store_lines: dict[str, np.ndarray]
    """Orders of shoppers outside the groups (``member`` indexes ``shopper_id``)."""


def _presence(population: Population) -> tuple[np.ndarray, np.ndarray]:
    """Per member the window in the period when they are in a group and not yet silent."""
    period, members, memberships = population.period, population.members, population.memberships
    first_join = np.full(len(members.ids), NEVER, dtype=np.int64)
    np.minimum.at(first_join, memberships.member, memberships.join_ts)
    low = np.maximum(first_join, period.start_ts)
    high = np.minimum(members.silent_from_ts, period.end_ts)
    return low, np.maximum(high, low)


def _purchase_rates(rng: np.random.Generator, population: Population) -> np.ndarray:
    """Orders per day: gamma heterogeneity × chat activity × KOC influence (plan: 78% follow KOCs)."""
    members, memberships = population.members, population.memberships
    big_koc = np.asarray([tier in ("head", "waist") for tier in members.koc_tier])
    group_has_koc = np.zeros(len(population.groups.chat_ids))
    np.maximum.at(group_has_koc, memberships.group, big_koc[memberships.member].astype(float))
    exposure = np.zeros(len(members.ids))
    np.add.at(exposure, memberships.member, group_has_koc[memberships.group])
    memberships_per_member = np.bincount(memberships.member, minlength=len(members.ids))
    influence = 1.0 + 0.4 * exposure / np.maximum(memberships_per_member, 1)
    activity = (members.activity / members.activity.mean()) ** 0.5
    koc = np.asarray([tier != "" for tier in members.koc_tier])
    heterogeneity = rng.gamma(0.9, 1 / 0.9, size=len(members.ids))
    rates = 0.0065 * heterogeneity * (0.35 + 0.65 * activity) * influence * np.where(koc, 1.5, 1.0)
    return np.asarray(np.where(members.spammer, 0.0, rates))


def _at_local_time(timestamps: np.ndarray, seconds_of_day: np.ndarray) -> np.ndarray:
    midnight = (timestamps + 8 * HOUR) // DAY * DAY - 8 * HOUR
    return np.asarray(midnight + seconds_of_day)


def _order_heads(rng: np.random.Generator, population: Population) -> tuple[np.ndarray, np.ndarray]:
    """(member, placed time) of every regular order, in the members' presence windows."""
    low, high = _presence(population)
    counts = rng.poisson(_purchase_rates(rng, population) * (high - low) / DAY)
    member = np.repeat(np.arange(counts.size), counts)
    raw = low[member] + (rng.random(member.size) * (high - low)[member]).astype(np.int64)
    placed = _at_local_time(raw, times_of_day(rng, member.size))
    inside = (placed >= low[member]) & (placed < high[member])
    return member, np.where(inside, placed, raw)


def _incident(rng: np.random.Generator, population: Population, catalogue: Catalogue) -> Incident:
    period, members = population.period, population.members
    prone = [index for index, category in enumerate(catalogue.categories) if category in _INCIDENT_CAUSES]
    product = prone[int(rng.integers(len(prone)))] if prone else 0
    day_ts = period.start_ts + int(period.days * 0.6) * DAY
    low, high = _presence(population)
    eligible = (low <= day_ts - 12 * DAY) & (high >= day_ts + 3 * DAY) & ~members.spammer
    if not eligible.any():
        eligible = (low <= day_ts) & (high > day_ts + DAY)
    weights = members.activity * eligible
    size = min(int(eligible.sum()), max(6, round(0.008 * len(members.ids))))
    chosen = (
        rng.choice(len(members.ids), size=size, replace=False, p=weights / weights.sum())
        if size
        else np.zeros(0, np.int64)
    )
    return Incident(
        sku=catalogue.skus[product],
        product_name=catalogue.names[product],
        cause=_INCIDENT_CAUSES.get(catalogue.categories[product], "开线"),
        day_ts=day_ts,
        members=sorted(int(member) for member in chosen),
    )


def _popularity(rng: np.random.Generator, products: int) -> np.ndarray:
    weights = 1.0 / (rng.permutation(products) + 2.0) ** 0.9
    return np.asarray(weights / weights.sum())


def _all_order_heads(
    rng: np.random.Generator, population: Population, incident: Incident, incident_product: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Regular and bad-batch orders sorted by time: (member, placed, forced product or -1)."""
    member, placed = _order_heads(rng, population)
    bad_members = np.asarray(incident.members, dtype=np.int64)
    lead_days = max(1, min(12, (incident.day_ts - population.period.start_ts) // DAY))
    bad_placed = incident.day_ts - rng.integers(DAY, lead_days * DAY + 1, size=bad_members.size)
    bad_placed = _at_local_time(bad_placed, times_of_day(rng, bad_members.size))
    bad_placed = np.clip(bad_placed, population.period.start_ts, incident.day_ts - HOUR)
    member = np.concatenate([member, bad_members])
    placed = np.concatenate([placed, bad_placed])
    forced = np.concatenate(
        [np.full(member.size - bad_members.size, -1), np.full(bad_members.size, incident_product)]
    )
    order = np.lexsort((member, placed))
    return member[order], placed[order], forced[order]


def _order_lines(
    rng: np.random.Generator, population: Population, catalogue: Catalogue, incident: Incident,
    popularity: np.ndarray,
) -> dict[str, np.ndarray]:  # fmt: skip
    incident_product = catalogue.skus.index(incident.sku)
    member, placed, forced = _all_order_heads(rng, population, incident, incident_product)
    lines = _lines_of_orders(rng, catalogue, popularity, member, placed, forced, incident.cause)
    lines["channel"] = _channels(rng, population, member)[lines["order"]]
    return lines


def _lines_of_orders(
    rng: np.random.Generator, catalogue: Catalogue, popularity: np.ndarray, member: np.ndarray,
    placed: np.ndarray, forced: np.ndarray, incident_cause: str | None,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Products, prices, discounts, payment, cancellations and refunds of the orders (member, placed)."""
    lines_per_order = np.where(forced >= 0, 1, 1 + np.minimum(rng.poisson(0.35, size=member.size), 3))
    order = np.repeat(np.arange(member.size), lines_per_order)
    first_line = np.concatenate([[0], np.cumsum(lines_per_order)[:-1]]).astype(np.int64)
    product = rng.choice(len(catalogue.skus), size=order.size, p=popularity)
    product[first_line] = np.where(forced >= 0, forced, product[first_line])
    quantity = np.where(rng.random(order.size) < 0.9, 1, 2)
    price_factor = rng.choice([1.0, 0.9, 0.85, 0.8, 0.7], size=order.size, p=[0.35, 0.2, 0.15, 0.2, 0.1])
    unit_price = np.floor(catalogue.list_prices[product] * price_factor)
    subtotal = np.bincount(order, weights=unit_price * quantity, minlength=member.size)
    coupon = rng.random(member.size)
    discount = np.select(
        [(subtotal >= 299) & (coupon < 0.5), (subtotal >= 199) & (coupon < 0.3), coupon < 0.1],
        [40.0, 20.0, 10.0],
        0.0,
    )
    cancelled = rng.random(member.size) < 0.03
    paid = np.where(cancelled, -1, placed + rng.integers(20, 900, size=member.size))
    bad = np.zeros(order.size, dtype=bool)
    bad[first_line] = forced >= 0
    refund_cause = rng.choice(len(_REFUND_CAUSES), size=order.size, p=_REFUND_CAUSE_SHARES)
    refunded = (rng.random(order.size) < 0.04) | (bad & (rng.random(order.size) < 0.85))
    refunded &= ~cancelled[order]
    if incident_cause is not None:  # the bad batch's refunds give its defect as the cause
        refund_cause = np.where(bad, _REFUND_CAUSES.index(incident_cause), refund_cause)
    return {
        "order": order, "member": member[order], "placed": placed[order], "paid": paid[order],
        "cancelled": cancelled[order], "amount": (subtotal - discount)[order], "discount": discount[order],
        "product": product, "quantity": quantity, "unit_price": unit_price, "refunded": refunded,
        "refund_cause": refund_cause, "incident": bad,
    }  # fmt: skip


STORE_ORDERS_PER_GROUP_ORDER = 5.0
"""Orders of shoppers who are in no group, per order of a group member: the store's other
customers, so that group-attributed sales are a share of a realistic store total (plan §3.1:
about 8% today, 20% as the goal)."""
_ORDERS_PER_STORE_SHOPPER = 1.6


def _store_only_lines(
    rng: np.random.Generator, population: Population, catalogue: Catalogue, popularity: np.ndarray,
    group_orders: int,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Orders of shoppers outside the groups, spread over the period; store or live, never group."""
    count = round(STORE_ORDERS_PER_GROUP_ORDER * group_orders)
    shoppers = max(1, round(count / _ORDERS_PER_STORE_SHOPPER))
    start = population.period.start_ts
    end = start + population.period.days * DAY
    raw = rng.integers(start, end, size=count) if count else np.zeros(0, np.int64)
    placed = np.sort(np.clip(_at_local_time(raw, times_of_day(rng, count)), start, end - 1))
    member = rng.integers(shoppers, size=count)
    lines = _lines_of_orders(rng, catalogue, popularity, member, placed, np.full(count, -1), None)
    lines["channel"] = np.where(rng.random(count) < 0.7, 1, 2)[lines["order"]]
    return lines


def shopper_id(index: int) -> str:
    """The shop's customer id of a shopper outside the groups."""
    return f"shop-customer-{index + 1:07d}"


def _channels(rng: np.random.Generator, population: Population, member: np.ndarray) -> np.ndarray:
    """0 group, 1 store, 2 live; group-attributed share rises with chat activity (~8–20% overall)."""
    activity = population.members.activity
    rank = np.argsort(np.argsort(activity, kind="stable"), kind="stable") / max(activity.size - 1, 1)
    group_share = 0.03 + 0.22 * rank[member] ** 1.5
    draw = rng.random(member.size)
    return np.where(draw < group_share, 0, np.where(draw < group_share + (1 - group_share) * 0.62, 1, 2))


def _schedule_messages(
    rng: np.random.Generator, population: Population, catalogue: Catalogue, lines: dict[str, np.ndarray],
    incident: Incident,
) -> ScheduledMessages:  # fmt: skip
    """Complaints after defect/size refunds, the incident burst, praise after delivery, 催发货."""
    phrases = load_phrases()
    templates: dict[str, list[str]] = phrases["scheduled"]
    slots: dict[str, list[str]] = phrases["slots"]
    products = catalogue.product_names()
    scheduled = ScheduledMessages()
    draws = rng.random((lines["order"].size, 3))
    delay = rng.integers(2 * DAY, 6 * DAY, size=lines["order"].size)
    clock = times_of_day(rng, lines["order"].size)
    pile_on = int(times_of_day(rng, 1)[0]) + rng.exponential(25 * 60, size=clock.size).astype(np.int64)
    for line in np.flatnonzero(lines["paid"] >= 0).tolist():
        member, paid, product = (
            int(lines["member"][line]),
            int(lines["paid"][line]),
            int(lines["product"][line]),
        )
        fixed = {"product": products.names[product], "category": products.categories[product]}
        cause = _REFUND_CAUSES[int(lines["refund_cause"][line])]
        if lines["incident"][line]:
            # the first buyer to notice posts, the others pile on within the hour (我的也是)
            when = int(_at_local_time(np.asarray([incident.day_ts]), pile_on[line : line + 1])[0])
            when += int(draws[line, 1] < 0.3) * DAY * (1 + int(draws[line, 2] < 0.4))
            key, category, fixed["cause"] = "complaint_defect", "complaint", incident.cause
        elif lines["refunded"][line] and cause != "不喜欢" and draws[line, 0] < 0.6:
            key = {"尺码偏小": "complaint_size", "发错货": "complaint_wrong_item"}.get(
                cause, "complaint_defect"
            )
            category, fixed["cause"] = "complaint", cause
            when = int(_at_local_time(np.asarray([paid + delay[line]]), clock[line : line + 1])[0])
        elif not lines["refunded"][line] and draws[line, 0] < 0.08:
            key, category = "praise_delivery", "praise"
            when = int(_at_local_time(np.asarray([paid + delay[line] + DAY]), clock[line : line + 1])[0])
        elif draws[line, 0] > 0.93:
            key, category = "logistics_order", "logistics_question"
            when = paid + DAY + int(draws[line, 1] * DAY)
        else:
            continue
        if when < population.members.silent_from_ts[member] and when < population.period.end_ts:
            choices = templates[key]
            text = fill_template(choices[int(draws[line, 2] * len(choices))], rng, slots, products, fixed)
            scheduled.add(member, when, category, text, bool(lines["incident"][line]))
    return scheduled


def _session_arrays(
    rng: np.random.Generator, lines: dict[str, np.ndarray], population: Population, popularity: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Browsing sessions: one per order line (bought) plus ~9 per paid line that end without paying."""
    paid_line = lines["paid"] >= 0
    extra = int(paid_line.sum()) * 9
    low, high = _presence(population)
    weights = population.members.activity * (high > low)
    browsers = (
        rng.choice(weights.size, size=extra, p=weights / weights.sum()) if extra else np.zeros(0, np.int64)
    )
    start = low[browsers] + (rng.random(extra) * (high - low)[browsers]).astype(np.int64)
    start = _at_local_time(start, times_of_day(rng, extra))
    start = np.clip(start, low[browsers], np.maximum(high[browsers] - 1, low[browsers]))
    products = popularity.size
    member = np.concatenate([lines["member"], browsers])
    product = np.concatenate([lines["product"], rng.choice(products, size=extra, p=popularity)])
    cart_ts = np.concatenate(
        [lines["placed"] - rng.integers(60, 1800, size=lines["order"].size), start + 600]
    )
    pay_ts = np.concatenate([lines["paid"], np.full(extra, -1)])
    bought = np.concatenate([np.ones(lines["order"].size, dtype=bool), np.zeros(extra, dtype=bool)])
    return member, product, cart_ts, pay_ts, bought


def _events(
    rng: np.random.Generator, lines: dict[str, np.ndarray], population: Population, popularity: np.ndarray
) -> dict[str, np.ndarray]:
    """view → favorite → add_to_cart → pay (pay = the order's paid_at) and share, by campaign."""
    member, product, cart_ts, pay_ts, bought = _session_arrays(rng, lines, population, popularity)
    campaign = rng.choice(len(_CAMPAIGNS), size=member.size, p=_CAMPAIGN_SHARES)
    view_ts = cart_ts - rng.integers(120, 3 * DAY, size=member.size)
    favorite = rng.random(member.size) < _FAVORITE_RATE[campaign]
    carted = bought | (rng.random(member.size) < _NON_PURCHASE_CART_RATE[campaign])
    koc = np.asarray([tier != "" for tier in population.members.koc_tier])
    shared = rng.random(member.size) < np.where(koc[member], 0.2, 0.03)
    favorite_ts = view_ts + ((cart_ts - view_ts) * rng.random(member.size)).astype(np.int64)
    parts = [
        (np.ones(member.size, dtype=bool), view_ts, 0), (favorite, favorite_ts, 1), (carted, cart_ts, 2),
        (pay_ts >= 0, pay_ts, 3), (shared, view_ts + rng.integers(5, 600, size=member.size), 4),
    ]  # fmt: skip
    kinds = np.concatenate([np.full(int(mask.sum()), code) for mask, _, code in parts])
    times = np.concatenate([ts[mask] for mask, ts, _ in parts])
    members = np.concatenate([member[mask] for mask, _, _ in parts])
    skus = np.concatenate([product[mask] for mask, _, _ in parts])
    campaigns = np.concatenate([campaign[mask] for mask, _, _ in parts])
    keep = times >= population.period.start_ts
    order = np.lexsort((kinds[keep], members[keep], times[keep]))
    return {
        "time": times[keep][order], "member": members[keep][order], "event": kinds[keep][order],
        "product": skus[keep][order], "campaign": campaigns[keep][order],
    }  # fmt: skip


def build_commerce(rng: np.random.Generator, population: Population, catalogue: Catalogue) -> Commerce:
    """Orders, events and the order-driven chat messages, with the injected incident."""
    incident_rng, order_rng, message_rng, event_rng, store_rng = rng.spawn(5)
    incident = _incident(incident_rng, population, catalogue)
    popularity = _popularity(incident_rng, len(catalogue.skus))
    lines = _order_lines(order_rng, population, catalogue, incident, popularity)
    scheduled = _schedule_messages(message_rng, population, catalogue, lines, incident)
    events = _events(event_rng, lines, population, popularity)
    group_orders = int(lines["order"].max()) + 1 if lines["order"].size else 0
    store = _store_only_lines(store_rng, population, catalogue, popularity, group_orders)
    return Commerce(lines, events, scheduled, incident, store)


_STATUS = np.asarray(["paid", "refunded", "partially_refunded", "cancelled"])
_CHANNELS = np.asarray(["group", "store", "live"])
_EVENTS = np.asarray(["view", "favorite", "add_to_cart", "pay", "share"])


def _order_status(lines: dict[str, np.ndarray]) -> np.ndarray:
    orders = int(lines["order"].max()) + 1 if lines["order"].size else 0
    line_count = np.bincount(lines["order"], minlength=orders)
    refunded = np.bincount(lines["order"], weights=lines["refunded"].astype(float), minlength=orders)
    status = np.where(refunded == 0, 0, np.where(refunded == line_count, 1, 2))
    return np.asarray(np.where(lines["cancelled"], 3, status[lines["order"]]))


def order_rows(commerce: Commerce, population: Population, catalogue: Catalogue) -> list[list[str]]:
    """``orders.csv`` rows (generic preset), one per order line, in order of placement.

    The group members' orders and the store's other shoppers' orders, merged by time.
    """
    lines = commerce.lines
    group_orders = int(lines["order"].max()) + 1 if lines["order"].size else 0
    store = commerce.store_lines
    rows = _line_rows(lines, population.members.ids.__getitem__, 0, catalogue)
    rows += _line_rows(store, shopper_id, group_orders, catalogue)
    times = np.concatenate([lines["placed"], store["placed"]])
    return [rows[index] for index in np.argsort(times, kind="stable").tolist()]


def _line_rows(
    lines: dict[str, np.ndarray], customer_id: Callable[[int], str], first_order: int, catalogue: Catalogue
) -> list[list[str]]:
    placed = iso_local_many(lines["placed"])
    paid = iso_local_many(np.maximum(lines["paid"], 0))
    dates = [text[:10].replace("-", "") for text in placed]
    status = _STATUS[_order_status(lines)].tolist()
    channel = _CHANNELS[lines["channel"]].tolist()
    line_total = lines["unit_price"] * lines["quantity"]
    refund = np.where(lines["refunded"] & ~lines["cancelled"], line_total, 0.0)
    rows = []
    for line in range(lines["order"].size):
        product = int(lines["product"][line])
        rows.append([
            f"QM{dates[line]}{first_order + int(lines['order'][line]) + 1:07d}",
            customer_id(int(lines["member"][line])), placed[line],
            "" if lines["paid"][line] < 0 else paid[line], status[line], f"{lines['amount'][line]:.2f}",
            f"{lines['discount'][line]:.2f}", channel[line], catalogue.skus[product], catalogue.rows[product]["name"],
            catalogue.categories[product], str(int(lines["quantity"][line])), f"{lines['unit_price'][line]:.2f}",
            f"{refund[line]:.2f}",
        ])  # fmt: skip
    return rows


def event_rows(commerce: Commerce, population: Population, catalogue: Catalogue) -> list[list[str]]:
    """``events.csv`` rows in time order."""
    events = commerce.events
    times = iso_local_many(events["time"])
    kinds = _EVENTS[events["event"]].tolist()
    campaigns = np.asarray(_CAMPAIGNS)[events["campaign"]].tolist()
    ids, skus = population.members.ids, catalogue.skus
    members, products = events["member"].tolist(), events["product"].tolist()
    return [
        [
            f"EV{index + 1:010d}",
            ids[members[index]],
            times[index],
            kinds[index],
            skus[products[index]],
            campaigns[index],
        ]
        for index in range(len(times))
    ]
