"""``groupops funnel``: 种草→收藏→加购→支付 and follow → buy conversion funnels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from groupops.cli._common import DataOption, JsonOption, console, emit_json, fail_on_errors
from groupops.cli.kpi import EngineOption, analytics_engine, parse_day

if TYPE_CHECKING:
    from groupops.analytics.funnel import FunnelResult

__all__ = ["register"]


def funnel_command(
    funnel: Annotated[
        str, typer.Option("--funnel", help="shop (view→favorite→add_to_cart→pay) or follow_to_buy.")
    ] = "shop",
    steps: Annotated[
        str | None,
        typer.Option("--steps", help="Comma-separated custom steps of the shop events, e.g. view,pay."),
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="ordered, strict or any_order (PostHog semantics).")
    ] = "ordered",
    window_days: Annotated[
        int | None,
        typer.Option("--window", min=1, max=3650, help="Conversion window in days (default: setting, 14)."),
    ] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First day an attempt may start.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day an attempt may start.")] = None,
    engine: EngineOption = None,
    data: DataOption = None,
    json_output: JsonOption = False,
) -> None:
    """Members reaching each step within the window, step and overall conversion, time to convert."""
    from groupops.analytics.funnel import FUNNEL_MODES, compute_funnel

    if mode not in FUNNEL_MODES:
        raise typer.BadParameter(f"{mode!r}: choose one of {', '.join(FUNNEL_MODES)}", param_hint="--mode")
    chosen = tuple(step.strip() for step in steps.split(",") if step.strip()) if steps else None
    start, end = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    with fail_on_errors(), analytics_engine(data, engine) as opened:
        result = compute_funnel(
            opened,
            funnel=funnel,
            steps=chosen,
            mode=mode,
            window_days=window_days,
            date_from=start,
            date_to=end,
        )
    if json_output:
        emit_json(result.to_json())
        return
    console.print(_funnel_table(result))


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _funnel_table(result: FunnelResult) -> Table:
    table = Table(title=f"Funnel {result.funnel} · {result.mode} · {result.window_days}-day window")
    for column in ("step", "members", "from previous", "overall", "median time"):
        table.add_column(column, justify="right" if column != "step" else "left")
    for step in result.steps:
        median = step.median_seconds_to_convert
        table.add_row(
            f"{step.step}. {step.name}",
            f"{step.members:,}",
            _percent(step.conversion_from_previous),
            _percent(step.conversion_overall),
            "—" if median is None else f"{median / 3600:.1f} h",
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the ``funnel`` command."""
    app.command("funnel")(funnel_command)
