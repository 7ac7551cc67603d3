"""The dashboard's 7 KPIs (plan §4.4) with their written definitions.

``compute_kpis(workspace_or_engine, group=..., date_from=..., date_to=...)`` returns a
:class:`KpiReport` whose ``to_json()`` is the ``groupops kpi --json`` contract. Every number
is one Ibis query over the warehouse, so DuckDB and Spark give the same values.
``METRIC_DEFINITIONS`` is the one source of every definition (``docs/metrics.md`` quotes it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from groupops.analytics.engine import AnalyticsEngine, Facts, open_engine
from groupops.analytics.marts import (
    ATTRIBUTION_WINDOW_DAYS,
    member_daily_activity,
    membership_transitions,
    orders_attributed,
)
from groupops.errors import ConfigurationError, InputFormatError, NotFoundError
from groupops.store.workspace import Workspace

__all__ = [
    "KPI_NAMES",
    "METRIC_DEFINITIONS",
    "KpiInputs",
    "KpiReport",
    "KpiScope",
    "compute_kpis",
    "data_last_day",
    "day_number_of",
    "kpi_values",
    "kpis_from_inputs",
]

EPOCH = date(1970, 1, 1)
KPI_NAMES = (
    "active_users",
    "interaction_rate",
    "conversion_rate",
    "aov",
    "repurchase_rate",
    "churn_rate",
    "ltv",
)

METRIC_DEFINITIONS: dict[str, str] = {
    "active_users": (
        "Members of the scope (present in its groups at the end of the period, or who interacted "
        "in them during it) who interacted in the scope's groups or placed a valid order during "
        "the period. A count."
    ),
    "interaction_rate": (
        "Average daily interaction rate: member-days with at least one interaction in the scope's "
        "groups during the period, divided by (scope members x days in the period). A fraction."
    ),
    "conversion_rate": (
        "Scope members who placed at least one valid order during the period, divided by scope "
        "members. A fraction."
    ),
    "aov": (
        "Average order value: total amount (yuan, after discount) of the valid orders the scope's "
        "members placed during the period, divided by their number."
    ),
    "repurchase_rate": (
        "单次→复购: of the scope members with at least one valid order placed on or before the "
        "period's last day, the share with at least two. A fraction."
    ),
    "churn_rate": (
        "Churn over the last churn window (churn_window_days, default 30): of the members active "
        "in the scope during the window before it (and members then), the share not active in the "
        "last window or no longer members at the period's end. A fraction; target below 0.08."
    ),
    "ltv": (
        "Historical lifetime value: net revenue (amount minus refunds, yuan) of every paid order the "
        "scope's members placed on or before the period's last day, divided by the scope members "
        "with at least one valid order."
    ),
    "interaction": (
        "A customer's message in a group that counts: action 'send'; msgtype not revoke, switch, "
        "agree or disagree; not recalled; not sent by staff or a robot. One-to-one chats are not "
        "group interactions."
    ),
    "active_member": (
        "A member is active on a day when they interacted in a group or placed a valid order that "
        "day (days in the brand time zone)."
    ),
    "valid_order": (
        "An order with status paid or partially_refunded (refunded, cancelled and pending orders "
        "are not valid); its day is the day it was placed. Paid orders also include refunded ones "
        "(for refund rate and net revenue)."
    ),
    "group_attributed_sales": (
        "Valid orders with channel 'group', or placed by a member who interacted in a group on the "
        f"order's day or in the {ATTRIBUTION_WINDOW_DAYS} days before it; their share of all valid "
        "order amount is the group sales share (plan: 8% → 20%)."
    ),
    "revenue_per_interaction": (
        "Group-attributed sales amount divided by the number of interactions in the same period "
        "(plan: 0.8 yuan per interaction message)."
    ),
    "refund_rate": "Refund amount of paid orders divided by their amount, in the same period.",
    "dau_wau_mau": (
        "Distinct active members on the day (DAU), in the 7 days (WAU) and in the 30 days (MAU) "
        "ending on the day; stickiness = DAU / MAU."
    ),
    "active_ratio": (
        "Active-member ratio: members active in the last active_window_days (default 30) divided "
        "by members present (plan: 15% → 35%)."
    ),
    "daily_interaction_rate": (
        "Members who interacted on the day divided by members present that day (plan: <5% today, "
        ">25% during the 7-day nurture)."
    ),
    "lifecycle": (
        "Per week or month: new (first active period), returning (active in the previous period "
        "too), resurrecting (active again after at least one inactive period) and dormant (active in "
        "the previous period, not in this one)."
    ),
    "group_health": (
        "Per group and month: members at month end, joins, leaves, speakers, messages, staff share "
        "of messages, and repeated share (text messages whose exact text occurs at least twice in "
        "the group that month: the content-homogeneity proxy, plan baseline 65%)."
    ),
    "funnel": (
        "Members reaching each step within the conversion window (default 14 days) of the first "
        "step. ordered: steps in order, other events may happen in between; strict: each step is "
        "the member's very next event after the previous step; any_order: all steps within the "
        "window in any order. Step conversion = members at step / members at the previous step; "
        "overall = members at step / members at step 1; time to convert = median of each member's "
        "shortest completed attempt."
    ),
    "awareness_funnel": (
        "Plan §4.3 three-stage funnel over a period: awareness = scope members present, emotion = "
        "those who interacted, behaviour = those who interacted and placed a group-attributed valid "
        "order. ROI per stage = revenue of the stage's members (awareness: all their valid orders; "
        "emotion: valid orders of members who interacted; behaviour: group-attributed orders) "
        "divided by the stage's cost (target ≥ 1.5)."
    ),
    "retention": (
        "Cohort tables by month. first_time: a member's cohort is their first active month; "
        "recurring: every active month starts a cohort. Period k retention (N-day style) = cohort "
        "members active in month cohort+k; unbounded = active in month cohort+k or later."
    ),
    "monthly_churn": (
        "Calendar-month churn: members active in the previous month and not active in this month, "
        "divided by members active in the previous month (target < 8%)."
    ),
}


@dataclass(frozen=True)
class KpiScope:
    """What the KPIs cover: the brand, one group or one group kind, over [date_from, date_to]."""

    date_from: date
    date_to: date
    group: str | None = None
    group_kind: str | None = None

    @property
    def level(self) -> str:
        if self.group:
            return "group"
        return "group_kind" if self.group_kind else "brand"

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "group": self.group,
            "group_kind": self.group_kind,
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "days": self.days,
        }


@dataclass(frozen=True)
class KpiReport:
    """The 7 KPIs of one scope, with the counts behind them and their definitions."""

    as_of: date
    scope: KpiScope
    kpis: dict[str, float | int | None]
    counts: dict[str, float | int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``kpi --json`` contract (plus ``counts``, the numerators and denominators)."""
        return {
            "as_of": self.as_of.isoformat(),
            "scope": self.scope.to_json(),
            "kpis": {name: self.kpis[name] for name in KPI_NAMES},
            "definitions": {name: METRIC_DEFINITIONS[name] for name in KPI_NAMES},
            "counts": dict(self.counts),
        }


@dataclass(frozen=True)
class KpiInputs:
    """The member-level tables the KPIs are computed from (facts or the stored marts)."""

    activity: ir.Table  # member_daily_activity
    orders: ir.Table  # orders_attributed
    transitions: ir.Table  # membership_transitions
    group_kinds: ir.Table

    @classmethod
    def from_facts(cls, facts: Facts, engine: AnalyticsEngine) -> KpiInputs:
        """Compute the member-level tables from the facts once (kept by ``engine``)."""
        activity = engine.materialize(member_daily_activity(facts))
        return cls(
            activity=activity,
            orders=engine.materialize(orders_attributed(facts, activity)),
            transitions=engine.materialize(membership_transitions(facts)),
            group_kinds=facts.group_kinds,
        )


def day_number_of(day: date) -> int:
    """Days since 1970-01-01."""
    return (day - EPOCH).days


def _flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    return condition.cast("int64")


def _member_flags(inputs: KpiInputs, scope: KpiScope, churn_window_days: int) -> ir.Table:
    """One row per member with the per-member counts and flags the 7 KPIs aggregate.

    Each source (interactions, orders, membership) is aggregated per member once; the parts
    are stacked (UNION ALL) and summed, which needs no outer joins and no subqueries.
    """
    start, end = day_number_of(scope.date_from), day_number_of(scope.date_to)
    previous_end = end - churn_window_days
    previous_start = previous_end - churn_window_days + 1
    groups = _scope_groups(inputs, scope)
    activity, transitions = inputs.activity, inputs.transitions
    if groups is not None:
        activity = activity.filter(activity.group_id.isin(groups.group_id))
        transitions = transitions.filter(transitions.group_id.isin(groups.group_id))
    day = activity.day_number
    spoke = activity.group_by("member_id").aggregate(
        speaker_days=ibis.ifelse(day.between(start, end), day, None).nunique(),
        spoke_before=_flag(day.between(previous_start, previous_end)).max(),
        spoke_now=_flag(day.between(previous_end + 1, end)).max(),
    )
    orders = inputs.orders.filter(inputs.orders.paid, inputs.orders.day_number <= end)
    day, valid = orders.day_number, orders.valid
    bought = orders.group_by("member_id").aggregate(
        period_orders=_flag(valid & day.between(start, end)).sum(),
        period_revenue=ibis.ifelse(valid & day.between(start, end), orders.amount, 0.0).sum(),
        valid_orders=_flag(valid).sum(),
        net_revenue=orders.net_amount.sum(),
        bought_before=_flag(valid & day.between(previous_start, previous_end)).max(),
        bought_now=_flag(valid & day.between(previous_end + 1, end)).max(),
    )
    stays = transitions.group_by("group_id", "member_id").aggregate(
        state_end=ibis.ifelse(transitions.day_number <= end, transitions.delta, 0).sum(),
        state_before=ibis.ifelse(transitions.day_number <= previous_end, transitions.delta, 0).sum(),
    )
    present = stays.group_by("member_id").aggregate(
        present_end=_flag(stays.state_end > 0).max(), present_before=_flag(stays.state_before > 0).max()
    )
    stacked = _stack([spoke, bought, present])
    return stacked.group_by("member_id").aggregate(
        **{name: stacked[name].sum() for name in stacked.columns if name != "member_id"}
    )


_PART_COLUMNS: dict[str, str] = {
    "speaker_days": "int64",
    "spoke_before": "int64",
    "spoke_now": "int64",
    "period_orders": "int64",
    "period_revenue": "float64",
    "valid_orders": "int64",
    "net_revenue": "float64",
    "bought_before": "int64",
    "bought_now": "int64",
    "present_end": "int64",
    "present_before": "int64",
}


def _stack(parts: list[ir.Table]) -> ir.Table:
    """UNION ALL of per-member parts, each padded with zeros to the same columns."""
    aligned = []
    for part in parts:
        columns: dict[str, Any] = {"member_id": part.member_id}
        for name, dtype in _PART_COLUMNS.items():
            value = part[name].fill_null(0) if name in part.columns else ibis.literal(0)
            columns[name] = value.cast(dtype)
        aligned.append(part.select(**columns))
    stacked = aligned[0]
    for part in aligned[1:]:
        stacked = stacked.union(part)
    return stacked


def _scope_groups(inputs: KpiInputs, scope: KpiScope) -> ir.Table | None:
    if scope.group:
        return ibis.memtable(pa.table({"group_id": pa.array([scope.group], pa.string())}))
    if scope.group_kind:
        kinds = inputs.group_kinds
        return kinds.filter(kinds.kind == scope.group_kind).select("group_id")
    return None


def _kpi_row(members: ir.Table) -> ir.Table:
    in_population = (members.present_end > 0) | (members.speaker_days > 0)
    active_before = (members.spoke_before > 0) | (members.bought_before > 0)
    in_base = active_before & ((members.present_before > 0) | (members.spoke_before > 0))
    active_now = (members.spoke_now > 0) | (members.bought_now > 0)
    counted = _flag(in_population)
    return members.aggregate(
        members=counted.sum(),
        active_users=_flag(in_population & ((members.speaker_days > 0) | (members.period_orders > 0))).sum(),
        speaker_days=(counted * members.speaker_days).sum(),
        buyers=_flag(in_population & (members.period_orders > 0)).sum(),
        orders=(counted * members.period_orders).sum(),
        revenue=ibis.ifelse(in_population, members.period_revenue, 0.0).sum(),
        customers=_flag(in_population & (members.valid_orders >= 1)).sum(),
        repeat_customers=_flag(in_population & (members.valid_orders >= 2)).sum(),
        net_revenue=ibis.ifelse(in_population, members.net_revenue, 0.0).sum(),
        churn_base=_flag(in_base).sum(),
        churned=_flag(in_base & ~(active_now & in_population)).sum(),
    )


def _share(numerator: float, denominator: float) -> float | None:
    return float(numerator) / float(denominator) if denominator else None


def kpi_values(counts: dict[str, Any], days: int) -> dict[str, float | int | None]:
    """The 7 KPIs from the counts of ``_kpi_row`` (None when a denominator is zero)."""
    members = int(counts["members"])
    return {
        "active_users": int(counts["active_users"]),
        "interaction_rate": _share(counts["speaker_days"], members * days),
        "conversion_rate": _share(counts["buyers"], members),
        "aov": _share(counts["revenue"], counts["orders"]),
        "repurchase_rate": _share(counts["repeat_customers"], counts["customers"]),
        "churn_rate": _share(counts["churned"], counts["churn_base"]),
        "ltv": _share(counts["net_revenue"], counts["customers"]),
    }


def _clean_counts(row: dict[str, Any]) -> dict[str, float | int]:
    cleaned: dict[str, float | int] = {}
    for name, value in row.items():
        if value is None:
            cleaned[name] = 0
        elif isinstance(value, float) and name in {"revenue", "net_revenue"}:
            cleaned[name] = float(value)
        else:
            cleaned[name] = int(value)
    return cleaned


def kpis_from_inputs(engine: AnalyticsEngine, inputs: KpiInputs, scope: KpiScope, as_of: date) -> KpiReport:
    """Run the one KPI query for ``scope`` on ``engine``."""
    window = engine.workspace.settings.churn_window_days
    row = engine.to_arrow(_kpi_row(_member_flags(inputs, scope, window))).to_pylist()[0]
    counts = _clean_counts(row)
    return KpiReport(as_of=as_of, scope=scope, kpis=kpi_values(counts, scope.days), counts=counts)


def data_last_day(engine: AnalyticsEngine, facts: Facts) -> date | None:
    """The last brand-zone day with any message, order, membership change or shop event.

    The latest instant is found first; only rows within two days of it can fall on a later
    local day (no zone's offset moves by 48 hours), so the zone conversion runs on those alone.
    """
    messages = facts.unrecalled_messages if facts.unrecalled_messages is not None else facts.messages
    tables = (messages, facts.orders, facts.membership_changes, facts.shop_events)
    latest = _stacked([table.aggregate(epoch_us=table.epoch_us.max()) for table in tables])
    instants = [
        value for value in engine.to_arrow(latest).column("epoch_us").to_pylist() if value is not None
    ]
    if not instants:
        return None
    since = max(instants) - _TWO_DAYS_US
    days = _stacked(
        [
            table.filter(table.epoch_us >= since).select(day_number=table.day_number.cast("int64"))
            for table in tables
        ]
    )
    value = engine.to_arrow(days.aggregate(last=days.day_number.max())).column("last")[0].as_py()
    return None if value is None else EPOCH + timedelta(days=int(value))


def _stacked(parts: list[ir.Table]) -> ir.Table:
    stacked = parts[0]
    for part in parts[1:]:
        stacked = stacked.union(part)
    return stacked


_TWO_DAYS_US = 2 * 86_400_000_000


def _resolve_scope(
    engine: AnalyticsEngine,
    facts: Facts,
    *,
    group: str | None,
    group_kind: str | None,
    date_from: date | None,
    date_to: date | None,
    as_of: date | None,
) -> tuple[KpiScope, date]:
    if group and group_kind:
        raise ConfigurationError("give either a group or a group kind, not both")
    last_day = as_of or date_to or data_last_day(engine, facts) or date.today()
    end = date_to or last_day
    start = date_from or end - timedelta(days=engine.workspace.settings.active_window_days - 1)
    if start > end:
        raise InputFormatError(f"--from {start} is after --to {end}")
    if group and not _group_exists(engine, facts, group):
        raise NotFoundError(f"no group {group!r} in the store or the warehouse")
    return KpiScope(date_from=start, date_to=end, group=group, group_kind=group_kind), last_day


def _group_exists(engine: AnalyticsEngine, facts: Facts, group: str) -> bool:
    kinds = facts.group_kinds.filter(facts.group_kinds.group_id == group).select("group_id")
    spoken = facts.messages.filter(facts.messages.group_id == group).select("group_id")
    changed = facts.membership_changes.filter(facts.membership_changes.group_id == group).select("group_id")
    found = kinds.union(spoken).union(changed).limit(1)
    return engine.to_arrow(found).num_rows > 0


def compute_kpis(
    workspace_or_engine: Workspace | AnalyticsEngine,
    *,
    group: str | None = None,
    group_kind: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    as_of: date | None = None,
) -> KpiReport:
    """The 7 KPIs for the brand, a group or a group kind over [date_from, date_to].

    Defaults: ``date_to`` = ``as_of`` = the last day with data; ``date_from`` =
    ``date_to`` minus ``active_window_days - 1``.
    """
    if isinstance(workspace_or_engine, AnalyticsEngine):
        return _compute_on(workspace_or_engine, group, group_kind, date_from, date_to, as_of)
    with open_engine(workspace_or_engine) as engine:
        return _compute_on(engine, group, group_kind, date_from, date_to, as_of)


def _compute_on(
    engine: AnalyticsEngine,
    group: str | None,
    group_kind: str | None,
    date_from: date | None,
    date_to: date | None,
    as_of: date | None,
) -> KpiReport:
    facts = engine.facts()
    scope, last_day = _resolve_scope(
        engine, facts, group=group, group_kind=group_kind, date_from=date_from, date_to=date_to, as_of=as_of
    )
    return kpis_from_inputs(engine, KpiInputs.from_facts(facts, engine), scope, last_day)
