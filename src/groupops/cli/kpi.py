"""``groupops kpi``: the dashboard's 7 KPIs and their definitions (plan §4.4)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from groupops.cli._common import DataOption, JsonOption, console, emit_json, fail_on_errors, settings_for

if TYPE_CHECKING:
    from groupops.analytics.engine import AnalyticsEngine
    from groupops.analytics.kpis import KpiReport

__all__ = ["EngineOption", "analytics_engine", "parse_day", "register"]

EngineOption = Annotated[
    str | None,
    typer.Option("--engine", help="Analytics engine: duckdb (default setting) or spark.", show_default=False),
]


@contextmanager
def analytics_engine(data: Path | None, engine: str | None) -> Iterator[AnalyticsEngine]:
    """The workspace of ``--data`` opened on ``--engine`` (closed afterwards)."""
    from groupops.analytics.engine import ENGINE_NAMES, open_engine
    from groupops.store.workspace import Workspace

    if engine is not None and engine.lower() not in ENGINE_NAMES:
        raise typer.BadParameter(
            f"{engine!r}: choose one of {', '.join(ENGINE_NAMES)}", param_hint="--engine"
        )
    workspace = Workspace(settings_for(data))
    try:
        with open_engine(workspace, engine) as opened:
            yield opened
    finally:
        workspace.close()


def parse_day(value: str | None, option: str) -> date | None:
    """A ``YYYY-MM-DD`` option value (usage error, exit 2, when malformed)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from error


def kpi_command(
    group: Annotated[str | None, typer.Option("--group", help="Only this group (chat id).")] = None,
    group_kind: Annotated[
        str | None,
        typer.Option("--kind", help="Only groups of this kind (brand_official, core_user, distributor)."),
    ] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last day (YYYY-MM-DD; default: last day with data).")
    ] = None,
    engine: EngineOption = None,
    data: DataOption = None,
    json_output: JsonOption = False,
) -> None:
    """The 7 KPIs: active users, interaction rate, conversion, AOV, repurchase, churn, LTV."""
    from groupops.analytics.kpis import compute_kpis

    start, end = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    if start and end and start > end:
        raise typer.BadParameter(f"{start} is after {end}", param_hint="--from")
    with fail_on_errors(), analytics_engine(data, engine) as opened:
        report = compute_kpis(opened, group=group, group_kind=group_kind, date_from=start, date_to=end)
    if json_output:
        emit_json(report.to_json())
        return
    console.print(_kpi_table(report))


def _format(name: str, value: float | int | None) -> str:
    if value is None:
        return "—"
    if name in {"aov", "ltv"}:
        return f"¥{value:,.2f}"
    if name == "active_users":
        return f"{int(value):,}"
    return f"{value * 100:.1f}%"


def _kpi_table(report: KpiReport) -> Table:
    from groupops.analytics.kpis import KPI_NAMES

    scope = report.scope
    where = scope.group or scope.group_kind or "brand"
    table = Table(title=f"KPIs · {where} · {scope.date_from} → {scope.date_to}")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for name in KPI_NAMES:
        table.add_row(name, _format(name, report.kpis[name]))
    return table


def register(app: typer.Typer) -> None:
    """Add the ``kpi`` command."""
    app.command("kpi")(kpi_command)
