"""Retention cohorts (first-time and recurring; N-period and unbounded) and monthly churn.

A member is active in a period when they interacted in a group or placed a valid order in
it (see ``METRIC_DEFINITIONS``). Periods are days, Monday weeks or calendar months in the
brand time zone, numbered as integers (``cohort_index``) and labelled when returned.

* **first_time**: a member's cohort is their first active period.
* **recurring**: every period a member is active in starts a cohort of its own.
* **retained** (N-period, "on period k"): cohort members active in period cohort + k.
* **retained_unbounded** ("on or after period k"): active in period cohort + k or later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from groupops.analytics.engine import AnalyticsEngine, open_engine
from groupops.analytics.kpis import EPOCH, KpiInputs
from groupops.analytics.marts import active_member_days, active_periods
from groupops.errors import ConfigurationError
from groupops.store.workspace import Workspace

__all__ = [
    "COHORT_KINDS",
    "PERIODS",
    "RetentionResult",
    "cohort_table",
    "cohort_table_of_periods",
    "compute_retention",
    "member_periods",
    "monthly_churn",
    "monthly_churn_of_periods",
    "period_label",
]

COHORT_KINDS = ("first_time", "recurring")
PERIODS = ("day", "week", "month")


def member_periods(member_days: ir.Table, period: str) -> ir.Table:
    """Distinct (member_id, period_index) of active members."""
    if period not in PERIODS:
        raise ConfigurationError(f"unknown period {period!r}; choose one of {', '.join(PERIODS)}")
    return active_periods(member_days, period)


def _offsets(max_periods: int) -> ir.Table:
    return ibis.memtable(pa.table({"offset": pa.array(range(max_periods + 1), pa.int64())}))


def _check_cohorts(kind: str, max_periods: int) -> None:
    if kind not in COHORT_KINDS:
        raise ConfigurationError(f"unknown cohort kind {kind!r}; choose one of {', '.join(COHORT_KINDS)}")
    if max_periods < 0:
        raise ConfigurationError("max periods cannot be negative")


def cohort_table(member_days: ir.Table, *, kind: str, period: str, max_periods: int) -> ir.Table:
    """Rows (cohort_index, offset, cohort_size, retained, retained_unbounded)."""
    _check_cohorts(kind, max_periods)
    return cohort_table_of_periods(member_periods(member_days, period), kind=kind, max_periods=max_periods)


def cohort_table_of_periods(active: ir.Table, *, kind: str, max_periods: int) -> ir.Table:
    """``cohort_table`` from the distinct active (member_id, period_index) of ``member_periods``."""
    _check_cohorts(kind, max_periods)
    span = active.group_by("member_id").aggregate(
        first=active.period_index.min(), last=active.period_index.max()
    )
    if kind == "first_time":
        starts = span.select(member_id=span.member_id, cohort_index=span.first)
    else:
        starts = active.select(member_id=active.member_id, cohort_index=active.period_index)
    later = active.rename(later_index="period_index", later_member="member_id")
    pairs = starts.join(
        later,
        [
            starts.member_id == later.later_member,
            later.later_index >= starts.cohort_index,
            later.later_index <= starts.cohort_index + max_periods,
        ],
    )
    retained = pairs.group_by(
        cohort_index=pairs.cohort_index, offset=(pairs.later_index - pairs.cohort_index).cast("int64")
    ).aggregate(retained=pairs.count())
    spans = span.select(span_member=span.member_id, last=span.last)
    reach = starts.join(spans, starts.member_id == spans.span_member)
    grid = reach.cross_join(_offsets(max_periods))
    grid = grid.filter(grid.cohort_index + grid.offset <= grid.last)
    unbounded = grid.group_by("cohort_index", "offset").aggregate(retained_unbounded=grid.count())
    sizes = starts.group_by("cohort_index").aggregate(cohort_size=starts.count())
    table = unbounded.left_join(retained, ["cohort_index", "offset"]).select(
        unbounded.cohort_index, unbounded.offset, unbounded.retained_unbounded, retained.retained
    )
    table = table.join(sizes, "cohort_index")
    return table.select(
        "cohort_index",
        "offset",
        "cohort_size",
        retained=table.retained.fill_null(0),
        retained_unbounded=table.retained_unbounded,
    )


def monthly_churn(member_days: ir.Table) -> ir.Table:
    """Per month: members active the month before, how many of them are not active this month, rate."""
    return monthly_churn_of_periods(member_periods(member_days, "month"))


def monthly_churn_of_periods(active: ir.Table) -> ir.Table:
    """``monthly_churn`` from the distinct active (member_id, period_index) months."""
    order = ibis.window(group_by=active.member_id, order_by=active.period_index)
    marked = active.mutate(following=active.period_index.lead().over(order))
    last_month = active.period_index.max().as_scalar()
    first_month = active.period_index.min().as_scalar()
    base = active.group_by(month_index=(active.period_index + 1).cast("int64")).aggregate(
        active_previous=active.count()
    )
    lost = marked.filter(marked.following.isnull() | (marked.following > marked.period_index + 1))
    churned = lost.group_by(month_index=(lost.period_index + 1).cast("int64")).aggregate(churned=lost.count())
    table = base.left_join(churned, "month_index").select(
        base.month_index, base.active_previous, churned=churned.churned.fill_null(0)
    )
    table = table.filter(table.month_index <= last_month, table.month_index > first_month)
    return table.mutate(churn_rate=table.churned.cast("float64") / table.active_previous.cast("float64"))


def period_label(period: str, index: int) -> str:
    """A readable label: ``2024-03-05`` (day, week start Monday) or ``2024-03`` (month)."""
    if period == "month":
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    days = index if period == "day" else index * 7 - 3
    return (EPOCH + timedelta(days=days)).isoformat()


@dataclass(frozen=True)
class RetentionResult:
    """A cohort table plus monthly churn, labelled for people and JSON."""

    kind: str
    period: str
    max_periods: int
    cohorts: list[dict[str, Any]] = field(default_factory=list)
    churn: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "period": self.period,
            "max_periods": self.max_periods,
            "cohorts": self.cohorts,
            "monthly_churn": self.churn,
        }


def _cohort_rows(rows: list[dict[str, Any]], period: str, max_periods: int) -> list[dict[str, Any]]:
    """Nested cohorts; offsets with nobody retained (up to the last period with data) read 0."""
    if not rows:
        return []
    last_index = max(row["cohort_index"] + row["offset"] for row in rows)
    found = {(row["cohort_index"], row["offset"]): row for row in rows}
    cohorts = []
    for cohort_index in sorted({row["cohort_index"] for row in rows}):
        size = found[(cohort_index, 0)]["cohort_size"]
        periods = []
        for offset in range(min(max_periods, last_index - cohort_index) + 1):
            row = found.get((cohort_index, offset), {"retained": 0, "retained_unbounded": 0})
            periods.append(
                {
                    "offset": offset,
                    "retained": row["retained"],
                    "rate": row["retained"] / size if size else None,
                    "retained_unbounded": row["retained_unbounded"],
                    "rate_unbounded": row["retained_unbounded"] / size if size else None,
                }
            )
        cohorts.append({"cohort": period_label(period, cohort_index), "size": size, "periods": periods})
    return cohorts


def compute_retention(
    workspace_or_engine: Workspace | AnalyticsEngine,
    *,
    kind: str = "first_time",
    period: str = "month",
    max_periods: int = 6,
    date_from: date | None = None,
    date_to: date | None = None,
) -> RetentionResult:
    """Cohorts of active members (optionally only activity between the dates) and monthly churn."""
    if isinstance(workspace_or_engine, AnalyticsEngine):
        return _retention_on(workspace_or_engine, kind, period, max_periods, date_from, date_to)
    with open_engine(workspace_or_engine) as engine:
        return _retention_on(engine, kind, period, max_periods, date_from, date_to)


def _retention_on(
    engine: AnalyticsEngine,
    kind: str,
    period: str,
    max_periods: int,
    date_from: date | None,
    date_to: date | None,
) -> RetentionResult:
    inputs = KpiInputs.from_facts(engine.facts(), engine)
    days = active_member_days(inputs.activity, inputs.orders)
    if date_from:
        days = days.filter(days.day_number >= (date_from - EPOCH).days)
    if date_to:
        days = days.filter(days.day_number <= (date_to - EPOCH).days)
    cohorts = engine.to_arrow(cohort_table(days, kind=kind, period=period, max_periods=max_periods))
    churn = engine.to_arrow(monthly_churn(days)).to_pylist()
    churn_rows = [
        {
            "month": period_label("month", row["month_index"]),
            "active_previous": row["active_previous"],
            "churned": row["churned"],
            "churn_rate": row["churn_rate"],
        }
        for row in sorted(churn, key=lambda item: item["month_index"])
    ]
    return RetentionResult(
        kind, period, max_periods, _cohort_rows(cohorts.to_pylist(), period, max_periods), churn_rows
    )
