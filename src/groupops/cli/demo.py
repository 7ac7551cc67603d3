"""``groupops demo``: generate a realistic demo brand, import it and run the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from groupops.cli._common import (
    DataOption,
    JsonOption,
    console,
    emit_json,
    error_console,
    fail_on_errors,
    settings_for,
)
from groupops.cli._progress import step_progress

if TYPE_CHECKING:
    from groupops.store.workspace import Workspace


def _ensure_admin(workspace: Workspace) -> str | None:
    """Create the first admin (password returned once) when there are no users yet."""
    from sqlalchemy import func, select

    from groupops.accounts import create_user
    from groupops.store.models import User

    with workspace.database.session() as session:
        if session.scalar(select(func.count()).select_from(User)):
            return None
        return create_user(session, "admin", "admin", actor="demo")


def _run_pipeline(workspace: Workspace, on_stage: Callable[[str], None]) -> dict[str, Any]:
    from groupops.analytics.kpis import compute_kpis
    from groupops.analytics.pipeline import run_pipeline
    from groupops.ops.refresh import refresh_operations

    on_stage("marts")
    run_pipeline(workspace)
    refresh_operations(workspace, on_stage=on_stage)
    return compute_kpis(workspace).to_json()


def _print_summary(reports: list[dict[str, Any]], kpis: dict[str, Any] | None) -> None:
    table = Table(title="Imported")
    for column in ("kind", "files", "read", "ingested", "duplicates", "quarantined"):
        table.add_column(column, justify="right" if column != "kind" else "left")
    for report in reports:
        table.add_row(
            report["kind"],
            str(len(report["files"])),
            *(f"{report[k]:,}" for k in ("read", "ingested", "duplicates", "quarantined")),
        )
    console.print(table)
    if kpis:
        kpi_table = Table(title=f"KPIs as of {kpis['as_of']}")
        kpi_table.add_column("KPI")
        kpi_table.add_column("value", justify="right")
        for name, value in kpis["kpis"].items():
            kpi_table.add_row(name, "—" if value is None else f"{value:,.4g}")
        console.print(kpi_table)


def demo_command(
    members: Annotated[
        int, typer.Option("--members", min=10, help="Number of members in the demo brand.")
    ] = 1500,
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="Days of history to simulate.")] = 60,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed gives identical data.")
    ] = 11,
    data: DataOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write a demo brand's raw exports to DATA/raw, import them and compute the marts."""
    from groupops.simulate.demo import build_demo_brand
    from groupops.store.workspace import Workspace

    workspace = Workspace(settings_for(data))

    def on_stage(stage: str) -> None:
        if not json_output:
            error_console.print(f"· {stage}")

    with fail_on_errors(), step_progress("generating demo brand", 1, not json_output) as update:
        build = build_demo_brand(
            workspace, members=members, days=days, seed=seed, on_stage=on_stage, progress=update
        )
    reports = [report.to_json() for report in build.reports]
    with fail_on_errors():
        kpis = _run_pipeline(workspace, on_stage)
    password = _ensure_admin(workspace)
    if json_output:
        emit_json({"raw_dir": str(build.raw_dir), "ingest": reports, "kpi": kpis, "admin_password": password})
        return
    _print_summary(reports, kpis)
    settings = workspace.settings
    console.print(f"Dashboard: http://{settings.host}:{settings.port}  (start it with `groupops serve`)")
    if password:
        console.print(f"Admin login: [bold]admin[/bold] / [bold]{password}[/bold] (shown once; keep it)")
    else:
        console.print(
            "Sign in with your existing users; `groupops users passwd admin` sets a new admin password."
        )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
