"""``groupops run``: compute every mart and write it as Parquet under ``settings.marts_dir``.

Layout: ``<marts>/<mart>/month=YYYY-MM/part-<id>.parquet`` for monthly partitioned marts and
``<marts>/<mart>/part-<id>.parquet`` for whole ones, each listed in ``<mart>/_manifest.json``
(replaced atomically, like the warehouse), plus ``<marts>/summary.json``: the brand KPIs,
the goals scorecard and the three-stage funnel, small enough for the web UI to read at once.

Incremental runs: ``_state.json`` keeps, per input table and month, a fingerprint of the
warehouse files. A partitioned mart recomputes only the months whose own or neighbouring
input months changed (``MartSpec.inputs``); whole marts are recomputed from the partitioned
marts (small) every run. ``full=True`` recomputes everything; both give identical marts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from groupops.analytics import funnel as funnels
from groupops.analytics import goals as goal_module
from groupops.analytics import marts
from groupops.analytics.engine import AnalyticsEngine, Facts, open_engine
from groupops.analytics.kpis import (
    EPOCH,
    KpiInputs,
    KpiReport,
    KpiScope,
    data_last_day,
    day_number_of,
    kpis_from_inputs,
)
from groupops.analytics.retention import cohort_table_of_periods, monthly_churn_of_periods
from groupops.errors import StoreError
from groupops.store.workspace import Workspace

__all__ = [
    "PARTITIONED_MARTS",
    "WHOLE_MARTS",
    "PipelineResult",
    "goal_metric_values",
    "goals_report",
    "read_mart",
    "run_pipeline",
]

_STATE = "_state.json"
_MANIFEST = "_manifest.json"
_WRITER_THREADS = max(1, min(4, os.cpu_count() or 1))  # month files written side by side
SUMMARY_FILE = "summary.json"
RETENTION_MAX_MONTHS = 12  # months of offsets kept in the retention cohort mart


@dataclass
class _Shared:
    """Tables several partitioned marts read, computed once per run."""

    facts: Facts
    senders: ir.Table  # marts.sender_days: the one aggregation of the messages
    unrepeated: ir.Table  # marts.unrepeated_texts: the one pass over the texts
    activity: ir.Table


def _mart_member_activity(shared: _Shared) -> ir.Table:
    return shared.activity


def _mart_orders(shared: _Shared) -> ir.Table:
    return marts.orders_attributed(shared.facts, shared.activity)


def _mart_group_daily(shared: _Shared) -> ir.Table:
    return marts.group_daily_from_sender_days(shared.senders, shared.unrepeated)


PARTITIONED_MARTS: dict[str, tuple[dict[str, tuple[int, int]], Callable[[_Shared], ir.Table]]] = {
    # name: (input table -> (months before, months after) read for one month, builder)
    "member_daily_activity": ({"messages": (0, 1)}, _mart_member_activity),
    "orders_attributed": ({"orders": (0, 0), "messages": (1, 1)}, _mart_orders),
    "group_daily_activity": ({"messages": (0, 1)}, _mart_group_daily),
}
WHOLE_MARTS = (
    "brand_daily_activity",
    "group_health",
    "lifecycle",
    "retention_cohorts",
    "monthly_churn",
    "funnel_steps",
)


@dataclass
class PipelineResult:
    """What one run did."""

    engine: str
    as_of: date | None
    full: bool
    recomputed_months: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    summary_path: Path | None = None
    # per stage of the run, wall-clock and process CPU seconds (diagnostics, not in the JSON)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    stage_cpu_seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the wall-clock and CPU time of the block to the stage's totals."""
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + time.perf_counter() - wall
            used = time.process_time() - cpu
            self.stage_cpu_seconds[stage] = self.stage_cpu_seconds.get(stage, 0.0) + used

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "full": self.full,
            "recomputed_months": self.recomputed_months,
            "rows": self.rows,
            "summary": str(self.summary_path) if self.summary_path else None,
        }


# -- state and dirty months ----------------------------------------------------------------


def _fingerprints(workspace: Workspace) -> dict[str, dict[str, str]]:
    """Per table and month, a hash of the committed file list (it changes when files are added)."""
    result: dict[str, dict[str, str]] = {}
    for table in ("messages", "membership_changes", "orders", "shop_events"):
        per_month: dict[str, list[str]] = {}
        for entry in workspace.warehouse.manifest(table)["files"]:
            per_month.setdefault(entry["month"], []).append(f"{entry['path']}:{entry['rows']}")
        result[table] = {
            month: hashlib.sha256("\n".join(sorted(paths)).encode()).hexdigest()
            for month, paths in per_month.items()
        }
    return result


def _shift(month: str, months: int) -> str:
    year, number = int(month[:4]), int(month[5:7])
    index = year * 12 + number - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _dirty_months(
    inputs: dict[str, tuple[int, int]], old: dict[str, dict[str, str]], new: dict[str, dict[str, str]]
) -> set[str]:
    """Months of a mart whose input months (within before/after) changed since the last run."""
    dirty: set[str] = set()
    for table, (before, after) in inputs.items():
        old_table, new_table = old.get(table, {}), new.get(table, {})
        for month in set(old_table) | set(new_table):
            if old_table.get(month) != new_table.get(month):
                dirty.update(_shift(month, offset) for offset in range(-after, before + 1))
    return dirty


def _input_months(inputs: dict[str, tuple[int, int]], months: set[str]) -> dict[str, set[str] | None]:
    return {
        table: {_shift(month, offset) for month in months for offset in range(-before, after + 1)}
        for table, (before, after) in inputs.items()
    }


# -- writing ---------------------------------------------------------------------------------


def _normalise(table: pa.Table, *, ordered: bool = False) -> pa.Table:
    """Same types on both engines (int64, float64, date32) and a deterministic row order.

    ``ordered``: the engine already sorted the rows by ``_row_order`` (large marts).
    """
    columns, fields = [], []
    for column_field, column in zip(table.schema, table.columns, strict=True):
        kind = column_field.type
        if pa.types.is_integer(kind):
            column, kind = column.cast(pa.int64()), pa.int64()
        elif pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            column, kind = column.cast(pa.float64()), pa.float64()
        elif pa.types.is_large_string(kind):
            column, kind = column.cast(pa.string()), pa.string()
        columns.append(column)
        fields.append(pa.field(column_field.name, kind))
    result = pa.Table.from_arrays(columns, schema=pa.schema(fields))
    if "day_number" in result.column_names and "day" not in result.column_names:
        result = result.append_column("day", result.column("day_number").cast(pa.int32()).cast(pa.date32()))
    keys = [
        (name, "ascending")
        for name, kind in zip(result.column_names, result.schema.types, strict=True)
        if not pa.types.is_floating(kind)
    ]
    return result.sort_by(keys) if keys and result.num_rows and not ordered else result


def _row_order(expression: ir.Table) -> ir.Table:
    """``expression`` sorted by its non-float columns, nulls last: ``_normalise``'s order, in the engine.

    A ``month`` key right before ``day_number`` is left out: the month follows from the day, so
    the order is the same, and comparing integers first is much cheaper than comparing text.
    """
    names = [
        name for name, kind in expression.schema().items() if not (kind.is_floating() or kind.is_decimal())
    ]
    if names[:2] == ["month", "day_number"]:
        names = names[1:]
    keys = [ibis.asc(name, nulls_first=False) for name in names]
    return expression.order_by(keys) if keys else expression


def _write_atomically(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, path)


def _write_json_atomically(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=1, default=str)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _read_json(path: Path, default: Any) -> Any:
    if not path.exists():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise StoreError(f"{path} is unreadable: {error}; run with --full") from error


def _mart_files(marts_dir: Path, name: str) -> list[Path]:
    manifest = _read_json(marts_dir / name / _MANIFEST, {"files": []})
    return [marts_dir / name / entry["path"] for entry in manifest["files"]]


def read_mart(marts_dir: Path, name: str) -> pa.Table:
    """A written mart as one Arrow table (empty when it has no files)."""
    files = _mart_files(marts_dir, name)
    if not files:
        return pa.table({})
    return pa.concat_tables([pq.read_table(path) for path in files], promote_options="default")


def _write_partitions(marts_dir: Path, name: str, table: pa.Table, months: set[str]) -> int:
    directory = marts_dir / name
    manifest = _read_json(directory / _MANIFEST, {"files": []})
    kept = [entry for entry in manifest["files"] if entry["month"] not in months]
    replaced = [directory / entry["path"] for entry in manifest["files"] if entry["month"] in months]
    parts = [(month, part) for month, part in _month_parts(table, months) if part.num_rows]
    written = [f"month={month}/part-{uuid.uuid4().hex[:12]}.parquet" for month, _ in parts]
    with ThreadPoolExecutor(max_workers=_WRITER_THREADS) as writers:  # pyarrow writes without the GIL
        list(writers.map(_write_atomically, [directory / path for path in written], [p for _, p in parts]))
    kept.extend(
        {"month": month, "path": path, "rows": part.num_rows}
        for (month, part), path in zip(parts, written, strict=True)
    )
    kept.sort(key=lambda entry: entry["month"])
    _write_json_atomically(directory / _MANIFEST, {"files": kept})
    for path in replaced:
        path.unlink(missing_ok=True)
    return sum(entry["rows"] for entry in kept)


def _month_parts(table: pa.Table, months: set[str]) -> list[tuple[str, pa.Table]]:
    """The rows of each of ``months``: zero-copy slices when the rows come month by month."""
    if not table.num_rows:
        return [(month, table) for month in sorted(months)]
    runs = pc.run_end_encode(table.column("month").combine_chunks())
    values, ends = runs.values.to_pylist(), runs.run_ends.to_pylist()
    if len(set(values)) < len(values):  # a month in several runs: select its rows
        return [(month, table.filter(pc.equal(table.column("month"), month))) for month in sorted(months)]
    starts = [0, *ends[:-1]]
    slices = {value: (start, end - start) for value, start, end in zip(values, starts, ends, strict=True)}
    return [
        (month, table.slice(*slices[month]) if month in slices else table.slice(0, 0))
        for month in sorted(months)
    ]


def _write_whole(marts_dir: Path, name: str, table: pa.Table) -> int:
    directory = marts_dir / name
    old = _mart_files(marts_dir, name)
    relative = f"part-{uuid.uuid4().hex[:12]}.parquet"
    _write_atomically(directory / relative, table)
    _write_json_atomically(
        directory / _MANIFEST, {"files": [{"month": None, "path": relative, "rows": table.num_rows}]}
    )
    for path in old:
        path.unlink(missing_ok=True)
    return table.num_rows


# -- the run ---------------------------------------------------------------------------------


def _months_present(fingerprints: dict[str, dict[str, str]], inputs: dict[str, tuple[int, int]]) -> set[str]:
    return {month for table in inputs for month in fingerprints.get(table, {})}


def _plan_partitions(
    marts_dir: Path, full: bool, old: dict[str, Any], new: dict[str, Any]
) -> dict[str, tuple[set[str], set[str]]]:
    """Per partitioned mart: (months to recompute, months to drop)."""
    plan: dict[str, tuple[set[str], set[str]]] = {}
    for name, (inputs, _builder) in PARTITIONED_MARTS.items():
        present = _months_present(new, inputs)
        if full:
            plan[name] = (present, set())
            continue
        written = {
            entry["month"] for entry in _read_json(marts_dir / name / _MANIFEST, {"files": []})["files"]
        }
        months = _dirty_months(inputs, old, new) & present
        if not (marts_dir / name / _MANIFEST).exists():
            months = present
        plan[name] = (months, written - present)
    return plan


def _shared_tables(
    engine: AnalyticsEngine, plan: dict[str, tuple[set[str], set[str]]], full: bool
) -> _Shared:
    wanted: dict[str, set[str] | None] = {}
    for name, (months, _stale) in plan.items():
        for table, needed in _input_months(PARTITIONED_MARTS[name][0], months).items():
            current = wanted.setdefault(table, set())
            if current is not None and needed is not None:
                current.update(needed)
    facts = _with_kept_staff(engine, engine.facts(None if full else wanted))
    senders = engine.materialize(marts.sender_days(facts))
    unrepeated = engine.materialize(marts.unrepeated_texts(facts))
    activity = marts.member_daily_activity(facts, senders)
    return _Shared(facts=facts, senders=senders, unrepeated=unrepeated, activity=activity)


def _with_kept_staff(engine: AnalyticsEngine, facts: Facts) -> Facts:
    """``facts`` with the staff ids computed once (every use would scan the messages again)."""
    return replace(facts, all_staff=engine.materialize(marts.staff_members(facts)))


def _run_partitioned(
    engine: AnalyticsEngine,
    marts_dir: Path,
    full: bool,
    old: dict[str, Any],
    new: dict[str, Any],
    result: PipelineResult,
) -> Facts | None:
    """Recompute the planned partitions; return the facts they read (None when nothing ran)."""
    plan = _plan_partitions(marts_dir, full, old, new)
    if not any(months or stale for months, stale in plan.values()):
        result.recomputed_months.update({name: [] for name in plan})
        return None
    with result.timed("base tables (sender days, unrepeated texts)"):
        shared = _shared_tables(engine, plan, full)
    for name, (months, stale) in plan.items():
        result.recomputed_months[name] = sorted(months)
        if not months and not stale:
            continue
        if full:
            shutil.rmtree(marts_dir / name, ignore_errors=True)
        expression = PARTITIONED_MARTS[name][1](shared)
        if not full:
            expression = expression.filter(expression.month.isin(sorted(months)))
        with result.timed(name):
            computed = engine.to_arrow(_row_order(expression)) if months else None
            result.rows[name] = _write_computed(marts_dir, name, computed, months | stale)
    return shared.facts


def _write_computed(marts_dir: Path, name: str, computed: pa.Table | None, months: set[str]) -> int:
    """Normalise a computed partitioned mart and write its ``months`` (none computed: drop them)."""
    if computed is None:
        table = pa.table({"month": pa.array([], pa.string())})
    else:
        table = _normalise(computed, ordered=True)
    return _write_partitions(marts_dir, name, table, months)


def _calendar(engine: AnalyticsEngine, first: date, last: date) -> ir.Table:
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    table = pa.table(
        {
            "day_number": pa.array([day_number_of(day) for day in days], pa.int64()),
            "month": pa.array([day.strftime("%Y-%m") for day in days], pa.string()),
        }
    )
    return engine.table_from_arrow(table)


def _stored_inputs(engine: AnalyticsEngine, marts_dir: Path, facts: Facts) -> KpiInputs:
    """The KPI inputs read back from the written partitioned marts."""
    activity = engine.read_parquet(
        _mart_files(marts_dir, "member_daily_activity"), _EMPTY_SCHEMAS["member_daily_activity"]
    )
    orders = engine.read_parquet(
        _mart_files(marts_dir, "orders_attributed"), _EMPTY_SCHEMAS["orders_attributed"]
    )
    transitions = engine.materialize(marts.membership_transitions(facts))
    return KpiInputs(activity=activity, orders=orders, transitions=transitions, group_kinds=facts.group_kinds)


_EMPTY_SCHEMAS = {
    "member_daily_activity": pa.schema(
        [
            ("month", pa.string()),
            ("day_number", pa.int64()),
            ("group_id", pa.string()),
            ("member_id", pa.string()),
            ("interactions", pa.int64()),
        ]
    ),
    "orders_attributed": pa.schema(
        [
            ("month", pa.string()),
            ("day_number", pa.int64()),
            ("order_id", pa.string()),
            ("member_id", pa.string()),
            ("status", pa.string()),
            ("channel", pa.string()),
            ("valid", pa.bool_()),
            ("paid", pa.bool_()),
            ("amount", pa.float64()),
            ("refund_amount", pa.float64()),
            ("net_amount", pa.float64()),
            ("group_channel", pa.bool_()),
            ("group_attributed", pa.bool_()),
        ]
    ),
    "group_daily_activity": pa.schema(
        [
            ("month", pa.string()),
            ("day_number", pa.int64()),
            ("group_id", pa.string()),
            ("messages", pa.int64()),
            ("customer_messages", pa.int64()),
            ("staff_messages", pa.int64()),
            ("speakers", pa.int64()),
            ("repeated_messages", pa.int64()),
        ]
    ),
}


def _whole_marts(
    engine: AnalyticsEngine,
    marts_dir: Path,
    facts: Facts,
    inputs: KpiInputs,
    span: tuple[date, date],
    result: PipelineResult,
) -> dict[str, pa.Table]:
    """Every whole mart but the funnels, from the partitioned marts and the transitions."""
    first, last = span
    calendar = _calendar(engine, first, last)
    group_daily = engine.read_parquet(
        _mart_files(marts_dir, "group_daily_activity"), _EMPTY_SCHEMAS["group_daily_activity"]
    )
    with result.timed("active member days and periods"):
        member_days = engine.materialize(
            marts.with_previous_active_day(marts.active_member_days(inputs.activity, inputs.orders))
        )
        months = engine.materialize(marts.active_periods(member_days, "month"))
        weeks = marts.active_periods(member_days, "week")
    cohorts = [
        cohort_table_of_periods(months, kind=kind, max_periods=RETENTION_MAX_MONTHS).mutate(
            kind=ibis.literal(kind)
        )
        for kind in ("first_time", "recurring")
    ]
    expressions = {
        "brand_daily_activity": marts.brand_daily_activity(
            inputs.activity, inputs.orders, inputs.transitions, calendar, member_days
        ),
        "group_health": marts.group_health(
            group_daily, inputs.activity, inputs.transitions, facts.group_kinds
        ),
        "lifecycle": marts.lifecycle_of_periods(weeks, "week").union(
            marts.lifecycle_of_periods(months, "month")
        ),
        "retention_cohorts": cohorts[0].union(cohorts[1]),
        "monthly_churn": monthly_churn_of_periods(months),
    }
    tables = {}
    for name, expression in expressions.items():
        with result.timed(name):
            tables[name] = _normalise(engine.to_arrow(expression))
    return tables


def _kept_funnel_events(engine: AnalyticsEngine, facts: Facts) -> dict[str, ir.Table]:
    """The event stream of every funnel, computed once for the funnel mart and the goals."""
    return {name: engine.materialize(funnels.funnel_events(facts, name)) for name in funnels.FUNNELS}


def _funnel_table(engine: AnalyticsEngine, events_by_funnel: dict[str, ir.Table]) -> pa.Table:
    window = engine.workspace.settings.funnel_window_days
    rows = []
    for funnel_name, steps in funnels.FUNNELS.items():
        events = events_by_funnel[funnel_name]
        for mode in funnels.FUNNEL_MODES:
            progress = funnels.member_funnel_progress(events, steps, window_days=window, mode=mode)
            row = engine.to_arrow(funnels.funnel_step_table(progress, steps, mode)).to_pylist()[0]
            for step in funnels.steps_from_row(row, steps):
                rows.append({"funnel": funnel_name, "mode": mode, "window_days": window, **step.to_json()})
    schema = pa.schema(
        [
            ("funnel", pa.string()),
            ("mode", pa.string()),
            ("window_days", pa.int64()),
            ("step", pa.int64()),
            ("name", pa.string()),
            ("members", pa.int64()),
            ("conversion_from_previous", pa.float64()),
            ("conversion_overall", pa.float64()),
            ("median_seconds_to_convert", pa.float64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def goal_metric_values(
    engine: AnalyticsEngine,
    facts: Facts,
    inputs: KpiInputs,
    report: KpiReport,
    funnel_events: dict[str, ir.Table] | None = None,
) -> dict[str, float | None]:
    """The current value of every goal metric this module can measure (others stay missing).

    ``funnel_events`` maps a funnel name to its kept event stream (computed from ``facts``
    when missing).
    """
    counts, scope = report.counts, report.scope
    start, end = day_number_of(scope.date_from), day_number_of(scope.date_to)
    orders = inputs.orders.filter(inputs.orders.valid, inputs.orders.day_number.between(start, end))
    activity = inputs.activity.filter(inputs.activity.day_number.between(start, end))
    sales = engine.to_arrow(
        orders.aggregate(
            total=orders.amount.sum(),
            attributed=ibis.ifelse(orders.group_attributed, orders.amount, 0.0).sum(),
        )
    ).to_pylist()[0]
    talk = engine.to_arrow(activity.aggregate(interactions=activity.interactions.sum())).to_pylist()[0]
    total, attributed = sales["total"] or 0.0, sales["attributed"] or 0.0
    interactions = talk["interactions"] or 0
    values: dict[str, float | None] = {
        name: (float(value) if value is not None else None) for name, value in report.kpis.items()
    }
    values["active_ratio"] = counts["active_users"] / counts["members"] if counts["members"] else None
    values["group_sales_share"] = attributed / total if total else None
    values["revenue_per_interaction"] = attributed / interactions if interactions else None
    values["daily_interactions"] = interactions / scope.days
    values["daily_speakers"] = counts["speaker_days"] / scope.days
    values.update(_funnel_goal_values(engine, facts, scope, funnel_events or {}))
    return values


def _funnel_goal_values(
    engine: AnalyticsEngine, facts: Facts, scope: KpiScope, kept_events: dict[str, ir.Table]
) -> dict[str, float | None]:
    """Two-step conversions of attempts that started in the period and had a full window."""
    window = engine.workspace.settings.funnel_window_days
    last = day_number_of(scope.date_to) - window
    first = last - scope.days + 1
    pairs = {
        "follow_to_buy": ("follow_to_buy", ("follow", "buy")),
        "view_to_favorite": ("shop", ("view", "favorite")),
        "cart_to_pay": ("shop", ("add_to_cart", "pay")),
    }
    values: dict[str, float | None] = {}
    for metric, (funnel_name, steps) in pairs.items():
        events = kept_events.get(funnel_name)
        if events is None:
            events = funnels.funnel_events(facts, funnel_name)
        progress = funnels.member_funnel_progress(
            events, steps, window_days=window, mode="ordered", first_day=first, last_day=last
        )
        row = engine.to_arrow(funnels.funnel_step_table(progress, steps, "ordered")).to_pylist()[0]
        values[metric] = funnels.steps_from_row(row, steps)[1].conversion_from_previous
    return values


def _first_day(engine: AnalyticsEngine, inputs: KpiInputs) -> date | None:
    """The first day with a member message or an order: where the whole marts and goals begin.

    Membership changes count only when there is neither: a member list carries join dates from
    long before the chat archive, and a goal's months would be over before the first message.
    """
    behaviour = [
        table.select(day_number=table.day_number.cast("int64"), behaviour=ibis.literal(True))
        for table in (inputs.activity, inputs.orders)
    ]
    joins = inputs.transitions.select(
        day_number=inputs.transitions.day_number.cast("int64"), behaviour=ibis.literal(False)
    )
    days = behaviour[0].union(behaviour[1]).union(joins)
    firsts = days.aggregate(
        first_behaviour=ibis.ifelse(days.behaviour, days.day_number, None).min(),
        first_any=days.day_number.min(),
    )
    row = engine.to_arrow(firsts).to_pylist()[0]
    value = row["first_behaviour"] if row["first_behaviour"] is not None else row["first_any"]
    return None if value is None else EPOCH + timedelta(days=int(value))


def goals_report(
    workspace_or_engine: Workspace | AnalyticsEngine,
    *,
    as_of: date | None = None,
    goals_path: Path | None = None,
) -> dict[str, Any]:
    """The goals scorecard at ``as_of`` (default: last day with data) as JSON-ready data."""
    goals = goal_module.load_goals(goals_path)
    if isinstance(workspace_or_engine, AnalyticsEngine):
        return _goals_on(workspace_or_engine, goals, as_of)
    with open_engine(workspace_or_engine) as engine:
        return _goals_on(engine, goals, as_of)


def _goals_on(engine: AnalyticsEngine, goals: list[goal_module.Goal], as_of: date | None) -> dict[str, Any]:
    facts = engine.facts()
    inputs = KpiInputs.from_facts(facts, engine)
    return _scorecard_document(engine, facts, inputs, goals, as_of)


def _scorecard_document(
    engine: AnalyticsEngine,
    facts: Facts,
    inputs: KpiInputs,
    goals: list[goal_module.Goal],
    as_of: date | None,
    funnel_events: dict[str, ir.Table] | None = None,
    first_day: date | None = None,
) -> dict[str, Any]:
    last = as_of or data_last_day(engine, facts) or date.today()
    first = first_day or _first_day(engine, inputs) or last
    window = engine.workspace.settings.active_window_days
    scope = KpiScope(date_from=last - timedelta(days=window - 1), date_to=last)
    report = kpis_from_inputs(engine, inputs, scope, last)
    values = goal_metric_values(engine, facts, inputs, report, funnel_events)
    progress = goal_module.scorecard(goals, values, last, first)
    return {
        "as_of": last.isoformat(),
        "metrics": values,
        "goals": [item.to_json() for item in progress],
        "kpis": report.to_json(),
    }


def run_pipeline(
    workspace: Workspace,
    engine: str | AnalyticsEngine = "duckdb",
    as_of: date | None = None,
    full: bool = False,
) -> PipelineResult:
    """Compute every mart (incrementally unless ``full``) and the summary; return what was done."""
    if isinstance(engine, AnalyticsEngine):
        return _run_on(engine, as_of, full)
    with open_engine(workspace, engine) as opened:
        return _run_on(opened, as_of, full)


def _run_on(engine: AnalyticsEngine, as_of: date | None, full: bool) -> PipelineResult:
    workspace = engine.workspace
    marts_dir = workspace.settings.marts_dir
    marts_dir.mkdir(parents=True, exist_ok=True)
    state = {} if full else _read_json(marts_dir / _STATE, {})
    new = _fingerprints(workspace)
    full = full or state.get("timezone") != engine.timezone
    result = PipelineResult(engine=engine.name, as_of=None, full=full)
    kept = _run_partitioned(engine, marts_dir, full, state.get("fingerprints", {}), new, result)
    with result.timed("inputs, first and last day"):
        facts = kept if full and kept is not None else _with_kept_staff(engine, engine.facts())
        inputs = _stored_inputs(engine, marts_dir, facts)
        last = as_of or data_last_day(engine, facts)
        first = _first_day(engine, inputs)
    result.as_of = last
    if last is not None and first is not None:
        _write_whole_marts_and_summary(engine, facts, inputs, (first, last), result)
    _write_json_atomically(marts_dir / _STATE, {"timezone": engine.timezone, "fingerprints": new})
    return result


def _write_whole_marts_and_summary(
    engine: AnalyticsEngine, facts: Facts, inputs: KpiInputs, span: tuple[date, date], result: PipelineResult
) -> None:
    """The whole marts from the first day to the last (or only the last when it comes first), the summary."""
    first, last = span
    marts_dir = engine.workspace.settings.marts_dir
    tables = _whole_marts(engine, marts_dir, facts, inputs, (min(first, last), last), result)
    with result.timed("funnel_steps"):
        events = _kept_funnel_events(engine, facts)
        tables["funnel_steps"] = _funnel_table(engine, events)
    with result.timed("writing whole marts"):
        for name, table in tables.items():
            result.rows[name] = _write_whole(marts_dir, name, table)
    with result.timed("summary (KPIs, goals, awareness funnel)"):
        goals = goal_module.load_goals()
        document = _scorecard_document(engine, facts, inputs, goals, last, events, first_day=first)
        document["engine"] = engine.name
        stages = funnels.awareness_funnel(engine, _summary_scope(document), inputs=inputs)
        document["awareness_funnel"] = stages.to_json()
        document["marts"] = dict(result.rows)
        _write_json_atomically(marts_dir / SUMMARY_FILE, document)
    result.summary_path = marts_dir / SUMMARY_FILE


def _summary_scope(document: dict[str, Any]) -> KpiScope:
    scope = document["kpis"]["scope"]
    return KpiScope(date_from=date.fromisoformat(scope["from"]), date_to=date.fromisoformat(scope["to"]))
