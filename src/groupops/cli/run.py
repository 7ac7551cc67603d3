"""``groupops run``: recompute the marts (incrementally; ``--full`` for everything)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from groupops.cli._common import DataOption, JsonOption, console, emit_json, error_console, fail_on_errors
from groupops.cli.kpi import EngineOption, analytics_engine, parse_day

if TYPE_CHECKING:
    from groupops.analytics.pipeline import PipelineResult

__all__ = ["register"]


def run_command(
    engine: EngineOption = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Summarise as of this day (default: last day with data).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Recompute every month, not only changed ones.")
    ] = False,
    operations: Annotated[
        bool,
        typer.Option(
            "--operations/--marts-only",
            help="Also refresh message labels, tickets, incidents, drift alerts, member intelligence and tasks.",
        ),
    ] = True,
    data: DataOption = None,
    json_output: JsonOption = False,
) -> None:
    """Compute every mart from the warehouse and write it under <data>/marts; then refresh operations."""
    from groupops.analytics.pipeline import run_pipeline
    from groupops.ops.refresh import refresh_operations

    day = parse_day(as_of, "--as-of")
    with fail_on_errors(), analytics_engine(data, engine) as opened:
        result = run_pipeline(opened.workspace, opened, as_of=day, full=full)
        refreshed = (
            refresh_operations(opened.workspace, on_stage=_stage_printer(json_output)) if operations else None
        )
    if json_output:
        emit_json({**result.to_json(), "operations": refreshed.steps if refreshed else None})
        return
    console.print(_result_table(result))
    if refreshed:
        console.print(
            "Operations: "
            + ", ".join(f"{k} {v}" for k, v in refreshed.steps.items() if not isinstance(v, dict))
        )


def _stage_printer(quiet: bool) -> Callable[[str], None]:
    def print_stage(stage: str) -> None:
        if not quiet:
            error_console.print(f"· {stage}")

    return print_stage


def _result_table(result: PipelineResult) -> Table:
    mode = "full" if result.full else "incremental"
    table = Table(title=f"Marts · {result.engine} · {mode} · as of {result.as_of or '—'}")
    table.add_column("mart")
    table.add_column("rows", justify="right")
    table.add_column("months recomputed")
    for name, rows in result.rows.items():
        months = result.recomputed_months.get(name)
        table.add_row(name, f"{rows:,}", "all" if months is None else (", ".join(months) or "none"))
    return table


def register(app: typer.Typer) -> None:
    """Add the ``run`` command."""
    app.command("run")(run_command)
