"""``groupops goals``: the goals scorecard (red / amber / green against the linear trajectory)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from groupops.cli._common import DataOption, JsonOption, console, emit_json, fail_on_errors
from groupops.cli.kpi import EngineOption, analytics_engine, parse_day

__all__ = ["register"]

_COLOURS = {"green": "green", "amber": "yellow", "red": "red", "no_data": "dim"}


def goals_command(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Measure at this day (default: last day with data).")
    ] = None,
    goals_file: Annotated[
        Path | None,
        typer.Option("--goals", help="A goals YAML file (default: the plan's targets).", dir_okay=False),
    ] = None,
    engine: EngineOption = None,
    data: DataOption = None,
    json_output: JsonOption = False,
) -> None:
    """Each goal's current value, expected value on its trajectory, status and weekly/daily steps."""
    from groupops.analytics.pipeline import goals_report

    day = parse_day(as_of, "--as-of")
    with fail_on_errors(), analytics_engine(data, engine) as opened:
        document = goals_report(opened, as_of=day, goals_path=goals_file)
    if json_output:
        emit_json({key: document[key] for key in ("as_of", "goals", "metrics")})
        return
    console.print(_goal_table(document))


def _number(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _goal_table(document: dict[str, Any]) -> Table:
    table = Table(title=f"Goals scorecard · as of {document['as_of']}")
    for column in ("goal", "owner", "current", "expected", "target", "deadline", "status", "needed / week"):
        table.add_column(column)
    for goal in document["goals"]:
        colour = _COLOURS[goal["status"]]
        table.add_row(
            goal["title"],
            goal["owner"],
            _number(goal["current"]),
            _number(goal["expected"]),
            _number(goal["target"]),
            goal["deadline"],
            f"[{colour}]{goal['status']}[/{colour}]",
            _number(goal["decomposition"]["per_week_needed"]),
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the ``goals`` command."""
    app.command("goals")(goals_command)
