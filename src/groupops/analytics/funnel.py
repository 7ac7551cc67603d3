"""Conversion funnels: 种草→收藏→加购→支付 (view → favorite → add_to_cart → pay), follow → buy,
and the plan's three-stage awareness → emotion → behaviour funnel with ROI per stage.

Modes (the semantics of PostHog's funnel step order, which Mixpanel shares):

``ordered``    steps happen in order, other events may happen in between; every step
               within ``window_days`` of the step-1 event (PostHog "sequential").
``strict``     each step is the member's very next event after the previous step (any other
               event of the member in between breaks the attempt; PostHog "strict order").
``any_order``  all steps happen within the window of the attempt's first event, in any order;
               "step k" means any k of the steps (PostHog "any order").

Events at the same instant count as in order. A member counts once per step (their best
attempt); time to convert is the median over members of their shortest completed attempt.
Everything is Ibis window functions, so DuckDB and Spark give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from groupops.analytics.engine import AnalyticsEngine, Facts, open_engine
from groupops.analytics.kpis import KpiInputs, KpiScope, day_number_of
from groupops.analytics.marts import VALID_ORDER_STATUSES, staff_members
from groupops.errors import ConfigurationError
from groupops.store.workspace import Workspace

__all__ = [
    "FOLLOW_TO_BUY_STEPS",
    "FUNNEL_MODES",
    "SHOP_FUNNEL_STEPS",
    "FunnelResult",
    "FunnelStep",
    "StageResult",
    "awareness_funnel",
    "compute_funnel",
    "funnel_events",
    "funnel_step_table",
    "member_funnel_progress",
    "steps_from_row",
]

FUNNEL_MODES = ("ordered", "strict", "any_order")
SHOP_FUNNEL_STEPS = ("view", "favorite", "add_to_cart", "pay")
FOLLOW_TO_BUY_STEPS = ("follow", "buy")
FUNNELS = {"shop": SHOP_FUNNEL_STEPS, "follow_to_buy": FOLLOW_TO_BUY_STEPS}
MICROSECONDS_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class FunnelStep:
    """One step: members reaching it, conversion from the previous step and from step 1."""

    step: int
    name: str
    members: int
    conversion_from_previous: float | None
    conversion_overall: float | None
    median_seconds_to_convert: float | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class FunnelResult:
    """A funnel's steps, with the mode and window it was computed with."""

    funnel: str
    mode: str
    window_days: int
    steps: list[FunnelStep]
    date_from: date | None = None
    date_to: date | None = None

    @property
    def overall_conversion(self) -> float | None:
        return self.steps[-1].conversion_overall if self.steps else None

    def to_json(self) -> dict[str, Any]:
        return {
            "funnel": self.funnel,
            "mode": self.mode,
            "window_days": self.window_days,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "overall_conversion": self.overall_conversion,
            "steps": [step.to_json() for step in self.steps],
        }


def funnel_events(facts: Facts, funnel: str) -> ir.Table:
    """The event stream (member_id, event, epoch_us, day_number, event_id) a funnel reads."""
    if funnel == "shop":
        events = facts.shop_events.filter(facts.shop_events.member_id.notnull())
        return events.select("member_id", "event", "epoch_us", "day_number", "event_id")
    if funnel == "follow_to_buy":
        changes = facts.membership_changes
        joins = changes.filter(
            changes.change == "join", ~changes.member_id.isin(staff_members(facts).staff_id)
        )
        follow = joins.select(
            member_id=joins.member_id,
            event=ibis.literal("follow"),
            epoch_us=joins.epoch_us,
            day_number=joins.day_number,
            event_id=joins.event_id,
        )
        orders = facts.orders.filter(facts.orders.status.isin(VALID_ORDER_STATUSES))
        buy = orders.select(
            member_id=orders.member_id,
            event=ibis.literal("buy"),
            epoch_us=orders.epoch_us,
            day_number=orders.day_number,
            event_id=orders.order_id,
        )
        return follow.union(buy).filter(ibis._.member_id.notnull())
    raise ConfigurationError(f"unknown funnel {funnel!r}; known: {', '.join(FUNNELS)}")


def _check(steps: tuple[str, ...], mode: str, window_days: int) -> None:
    if mode not in FUNNEL_MODES:
        raise ConfigurationError(f"unknown funnel mode {mode!r}; choose one of {', '.join(FUNNEL_MODES)}")
    if len(steps) < 2 or len(set(steps)) != len(steps):
        raise ConfigurationError("a funnel needs at least two different steps")
    if window_days < 1:
        raise ConfigurationError("the conversion window must be at least one day")


def _start_allowed(events: ir.Table, first: int | None, last: int | None) -> ir.BooleanValue:
    allowed = ibis.literal(True)
    if first is not None:
        allowed = allowed & (events.day_number >= first)
    if last is not None:
        allowed = allowed & (events.day_number <= last)
    return allowed


def _ordered_durations(
    events: ir.Table, steps: tuple[str, ...], window: int, strict: bool, start_ok: ir.BooleanValue
) -> ir.Table:
    """Per event row, ``start_k``: the latest valid step-1 time of a chain ending at this step-k row."""
    if strict:
        return _strict_durations(events, steps, start_ok)
    table = events.mutate(start_1=ibis.ifelse((events.event == steps[0]) & start_ok, events.epoch_us, None))
    for index in range(1, len(steps)):
        previous = table[f"start_{index}"]
        valid = ibis.ifelse(table.epoch_us - previous <= window, previous, None)
        upto = ibis.window(group_by=table.member_id, order_by=table.epoch_us, range=(None, 0))
        carried = valid.max().over(upto)
        table = table.mutate(
            **{f"start_{index + 1}": ibis.ifelse(table.event == steps[index], carried, None)}
        )
    return table


def _strict_durations(events: ir.Table, steps: tuple[str, ...], start_ok: ir.BooleanValue) -> ir.Table:
    """Strict order: a step-k row continues a chain when the k-1 rows before it are steps 1..k-1.

    ``start_k`` is the time of the row k-1 places back; all the lags share one window.
    """
    table = events.mutate(allowed=start_ok)
    rows = ibis.window(group_by=table.member_id, order_by=[table.epoch_us, table.event_id])
    lagged = {
        back: (
            table.event.lag(back).over(rows),
            table.epoch_us.lag(back).over(rows),
            table.allowed.lag(back).over(rows),
        )
        for back in range(1, len(steps))
    }
    starts: dict[str, ir.Value] = {
        "start_1": ibis.ifelse((table.event == steps[0]) & table.allowed, table.epoch_us, None)
    }
    for index in range(1, len(steps)):
        chain = table.event == steps[index]
        for back in range(1, index + 1):
            chain = chain & (lagged[back][0] == steps[index - back])
        chain = chain & lagged[index][2]
        starts[f"start_{index + 1}"] = ibis.ifelse(chain, lagged[index][1], None)
    return table.mutate(**starts)


def _any_order_durations(
    events: ir.Table, steps: tuple[str, ...], window: int, start_ok: ir.BooleanValue
) -> ir.Table:
    following = ibis.window(group_by=events.member_id, order_by=events.epoch_us, range=(0, None))
    nexts = {
        f"next_{index}": ibis.ifelse(events.event == step, events.epoch_us, None).min().over(following)
        for index, step in enumerate(steps)
    }
    table = events.mutate(**nexts)
    anchors = table.filter(table.event.isin(steps), start_ok)
    within = [
        ibis.ifelse(anchors[f"next_{index}"] - anchors.epoch_us <= window, 1, 0).fill_null(0)
        for index in range(len(steps))
    ]
    reached = within[0]
    for flag in within[1:]:
        reached = reached + flag
    last = ibis.greatest(*[anchors[f"next_{index}"] for index in range(len(steps))])
    return anchors.mutate(reached=reached, completion_us=last - anchors.epoch_us)


def member_funnel_progress(
    events: ir.Table,
    steps: tuple[str, ...],
    *,
    window_days: int,
    mode: str,
    first_day: int | None = None,
    last_day: int | None = None,
) -> ir.Table:
    """One row per member: ``seconds_k`` = shortest time from step 1 to step k (null: not reached)."""
    _check(steps, mode, window_days)
    window = window_days * MICROSECONDS_PER_DAY
    relevant = events if mode == "strict" else events.filter(events.event.isin(steps))
    start_ok = _start_allowed(relevant, first_day, last_day)
    if mode == "any_order":
        anchors = _any_order_durations(relevant, steps, window, start_ok)
        seconds = {
            f"seconds_{k}": ibis.ifelse(anchors.reached >= k, 0.0, None).min()
            if k < len(steps)
            else ibis.ifelse(anchors.reached >= k, anchors.completion_us / 1e6, None).min()
            for k in range(1, len(steps) + 1)
        }
        return anchors.group_by("member_id").aggregate(**seconds)
    table = _ordered_durations(relevant, steps, window, mode == "strict", start_ok)
    seconds = {}
    for k in range(1, len(steps) + 1):
        start = table[f"start_{k}"]
        elapsed = table.epoch_us - start
        seconds[f"seconds_{k}"] = ibis.ifelse(elapsed <= window, elapsed / 1e6, None).min()
    return table.group_by("member_id").aggregate(**seconds)


def funnel_step_table(progress: ir.Table, steps: tuple[str, ...], mode: str) -> ir.Table:
    """Members per step and median seconds to reach it (null for intermediate any-order steps)."""
    aggregates: dict[str, Any] = {}
    for k in range(1, len(steps) + 1):
        column = progress[f"seconds_{k}"]
        aggregates[f"members_{k}"] = column.count()
        if mode != "any_order" or k == len(steps):
            aggregates[f"median_{k}"] = column.median()
    return progress.aggregate(**aggregates)


def steps_from_row(row: dict[str, Any], steps: tuple[str, ...]) -> list[FunnelStep]:
    result: list[FunnelStep] = []
    first = int(row["members_1"] or 0)
    previous = first
    for k, name in enumerate(steps, start=1):
        members = int(row[f"members_{k}"] or 0)
        median = row.get(f"median_{k}")
        result.append(
            FunnelStep(
                step=k,
                name=name,
                members=members,
                conversion_from_previous=members / previous if previous else None,
                conversion_overall=members / first if first else None,
                median_seconds_to_convert=float(median) if median is not None and k > 1 else None,
            )
        )
        previous = members
    return result


def compute_funnel(
    workspace_or_engine: Workspace | AnalyticsEngine,
    *,
    funnel: str = "shop",
    steps: tuple[str, ...] | None = None,
    mode: str = "ordered",
    window_days: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> FunnelResult:
    """A funnel over the warehouse; attempts start (step 1) between ``date_from`` and ``date_to``."""
    if isinstance(workspace_or_engine, AnalyticsEngine):
        return _funnel_on(workspace_or_engine, funnel, steps, mode, window_days, date_from, date_to)
    with open_engine(workspace_or_engine) as engine:
        return _funnel_on(engine, funnel, steps, mode, window_days, date_from, date_to)


def _funnel_on(
    engine: AnalyticsEngine,
    funnel: str,
    steps: tuple[str, ...] | None,
    mode: str,
    window_days: int | None,
    date_from: date | None,
    date_to: date | None,
) -> FunnelResult:
    chosen = tuple(steps) if steps else FUNNELS.get(funnel)
    if chosen is None:
        raise ConfigurationError(f"unknown funnel {funnel!r}; known: {', '.join(FUNNELS)}")
    window = window_days or engine.workspace.settings.funnel_window_days
    events = funnel_events(engine.facts(), funnel)
    progress = member_funnel_progress(
        events,
        chosen,
        window_days=window,
        mode=mode,
        first_day=day_number_of(date_from) if date_from else None,
        last_day=day_number_of(date_to) if date_to else None,
    )
    row = engine.to_arrow(funnel_step_table(progress, chosen, mode)).to_pylist()[0]
    return FunnelResult(funnel, mode, window, steps_from_row(row, chosen), date_from, date_to)


# -- the plan's three-stage funnel (§4.3) ------------------------------------------------------


@dataclass(frozen=True)
class StageResult:
    """One stage of awareness → emotion → behaviour, with its revenue and ROI when costed."""

    stage: str
    members: int
    conversion_from_previous: float | None
    revenue: float
    cost: float | None
    roi: float | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class AwarenessFunnel:
    scope: KpiScope
    stages: list[StageResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"scope": self.scope.to_json(), "stages": [stage.to_json() for stage in self.stages]}


def _stage_row(inputs: KpiInputs, scope: KpiScope) -> ir.Table:
    start, end = day_number_of(scope.date_from), day_number_of(scope.date_to)
    activity = inputs.activity.filter(inputs.activity.day_number.between(start, end))
    transitions = inputs.transitions.filter(inputs.transitions.day_number <= end)
    if scope.group:
        activity = activity.filter(activity.group_id == scope.group)
        transitions = transitions.filter(transitions.group_id == scope.group)
    stays = transitions.group_by("group_id", "member_id").aggregate(state=transitions.delta.sum())
    present = stays.filter(stays.state > 0).select("member_id")
    speakers = activity.select("member_id").distinct()
    aware = present.union(speakers, distinct=True)
    orders = inputs.orders.filter(inputs.orders.valid, inputs.orders.day_number.between(start, end))
    spent = orders.group_by("member_id").aggregate(
        revenue=orders.amount.sum(),
        attributed=ibis.ifelse(orders.group_attributed, orders.amount, 0.0).sum(),
    )
    members = aware.left_join(spent, "member_id").select(
        member_id=aware.member_id,
        revenue=spent.revenue.fill_null(0.0),
        attributed=spent.attributed.fill_null(0.0),
    )
    members = members.mutate(emotion=members.member_id.isin(speakers.member_id))
    behaviour = members.emotion & (members.attributed > 0)
    return members.aggregate(
        awareness=members.count(),
        awareness_revenue=members.revenue.sum(),
        emotion=members.emotion.cast("int64").sum(),
        emotion_revenue=ibis.ifelse(members.emotion, members.revenue, 0.0).sum(),
        behaviour=behaviour.cast("int64").sum(),
        behaviour_revenue=ibis.ifelse(behaviour, members.attributed, 0.0).sum(),
    )


def awareness_funnel(
    engine: AnalyticsEngine,
    scope: KpiScope,
    costs: dict[str, float] | None = None,
    inputs: KpiInputs | None = None,
) -> AwarenessFunnel:
    """认知 → 情感 → 行为 with ROI = stage revenue / stage cost when ``costs`` names the stage."""
    costs = costs or {}
    unknown = set(costs) - {"awareness", "emotion", "behaviour"}
    if unknown:
        raise ConfigurationError(f"unknown funnel stage(s) in costs: {', '.join(sorted(unknown))}")
    if any(value < 0 for value in costs.values()):
        raise ConfigurationError("stage costs cannot be negative")
    used = inputs or KpiInputs.from_facts(engine.facts(), engine)
    row = engine.to_arrow(_stage_row(used, scope)).to_pylist()[0]
    stages, previous = [], None
    for stage in ("awareness", "emotion", "behaviour"):
        members, revenue, cost = int(row[stage] or 0), float(row[f"{stage}_revenue"] or 0.0), costs.get(stage)
        stages.append(
            StageResult(
                stage=stage,
                members=members,
                conversion_from_previous=None
                if previous is None
                else (members / previous if previous else None),
                revenue=revenue,
                cost=cost,
                roi=revenue / cost if cost else None,
            )
        )
        previous = members
    return AwarenessFunnel(scope=scope, stages=stages)
