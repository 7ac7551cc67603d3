"""``groupops retention``: cohort retention tables and monthly churn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from groupops.cli._common import DataOption, JsonOption, console, emit_json, fail_on_errors
from groupops.cli.kpi import EngineOption, analytics_engine, parse_day

if TYPE_CHECKING:
    from groupops.analytics.retention import RetentionResult

__all__ = ["register"]


def retention_command(
    kind: Annotated[str, typer.Option("--kind", help="first_time or recurring cohorts.")] = "first_time",
    period: Annotated[str, typer.Option("--period", help="day, week or month.")] = "month",
    periods: Annotated[
        int, typer.Option("--periods", min=0, max=400, help="Periods after the cohort's own.")
    ] = 6,
    date_from: Annotated[str | None, typer.Option("--from", help="Ignore activity before this day.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Ignore activity after this day.")] = None,
    engine: EngineOption = None,
    data: DataOption = None,
    json_output: JsonOption = False,
) -> None:
    """Cohorts of active members: retained on period k (N-period) and on-or-after k (unbounded)."""
    from groupops.analytics.retention import COHORT_KINDS, PERIODS, compute_retention

    if kind not in COHORT_KINDS:
        raise typer.BadParameter(f"{kind!r}: choose one of {', '.join(COHORT_KINDS)}", param_hint="--kind")
    if period not in PERIODS:
        raise typer.BadParameter(f"{period!r}: choose one of {', '.join(PERIODS)}", param_hint="--period")
    start, end = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    with fail_on_errors(), analytics_engine(data, engine) as opened:
        result = compute_retention(
            opened, kind=kind, period=period, max_periods=periods, date_from=start, date_to=end
        )
    if json_output:
        emit_json(result.to_json())
        return
    console.print(_cohort_table(result))
    console.print(_churn_table(result))


def _cohort_table(result: RetentionResult) -> Table:
    table = Table(title=f"Retention · {result.kind} · by {result.period}")
    table.add_column("cohort")
    table.add_column("size", justify="right")
    for offset in range(result.max_periods + 1):
        table.add_column(f"+{offset}", justify="right")
    for cohort in result.cohorts:
        rates = [
            f"{item['rate'] * 100:.0f}%" if item["rate"] is not None else "—" for item in cohort["periods"]
        ]
        table.add_row(cohort["cohort"], str(cohort["size"]), *rates)
    return table


def _churn_table(result: RetentionResult) -> Table:
    table = Table(title="Monthly churn (target < 8%)")
    for column in ("month", "active before", "churned", "rate"):
        table.add_column(column, justify="right" if column != "month" else "left")
    for row in result.churn:
        table.add_row(
            row["month"], str(row["active_previous"]), str(row["churned"]), f"{row['churn_rate'] * 100:.1f}%"
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the ``retention`` command."""
    app.command("retention")(retention_command)
