"""``groupops member show``, ``groupops members refresh|classes`` and ``groupops tasks [done]``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from groupops.cli._common import DataOption, JsonOption, console, emit_json, fail_on_errors, settings_for
from groupops.errors import NotFoundError

if TYPE_CHECKING:
    from groupops.store.workspace import Workspace

from groupops.ops.task_kinds import TASK_KINDS, TASK_STATUSES

member_app = typer.Typer(
    help="One member: the six-dimension profile and what the models say.", no_args_is_help=True
)
members_app = typer.Typer(
    help="All members: refresh the mart and models, classes (种子/潜力/培育/流失风险).", no_args_is_help=True
)
tasks_app = typer.Typer(help="The operator's tasks: care, win-back, KOC invitations, VIP care.")

AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Date (YYYY-MM-DD, end of day in the brand zone) or ISO date-time."),
]


def _check_choice(value: str | None, allowed: tuple[str, ...], option: str) -> None:
    if value is not None and value not in allowed:
        raise typer.BadParameter(f"must be one of {', '.join(allowed)}", param_hint=option)


@member_app.command("show")
def member_show(member_id: str, data: DataOption = None, json_output: JsonOption = False) -> None:
    """A member's profile (basic, consumption, interaction, needs, behaviour, sentiment) and model outputs."""
    from groupops.ops.member_intelligence import member_card
    from groupops.store.workspace import Workspace

    with fail_on_errors():
        card = member_card(Workspace(settings_for(data)), member_id)
    if json_output:
        emit_json(card)
        return
    for dimension in ("basic", "consumption", "interaction", "needs", "behaviour", "sentiment"):
        table = Table(title=f"{card['member_id']} · {dimension}", show_header=False)
        for key, value in card[dimension].items():
            table.add_row(key, "—" if value is None else str(value))
        console.print(table)
    intelligence = card["intelligence"]
    if intelligence is None:
        console.print("No member mart yet: run `groupops members refresh`.")
        return
    table = Table(title="class, value and risk", show_header=False)
    for key, value in intelligence.items():
        table.add_row(key, "—" if value is None else str(value))
    console.print(table)


@members_app.command("refresh")
def members_refresh(
    as_of: AsOfOption = None, data: DataOption = None, json_output: JsonOption = False
) -> None:
    """Recompute profiles, classes, CLV, churn risk and recommendations; write the mart and model figures."""
    from groupops.ops.member_intelligence import refresh_member_intelligence
    from groupops.store.workspace import Workspace

    with fail_on_errors():
        run = refresh_member_intelligence(Workspace(settings_for(data)), as_of)
    if json_output:
        emit_json(run.as_dict())
        return
    churn = run.evaluation.get("churn", {})
    holdout = run.evaluation.get("clv", {}).get("holdout", {})
    hits = run.evaluation.get("recommendations", {})
    console.print(f"{run.members} members as of {run.as_of.isoformat()} → {run.mart_path}")
    console.print(
        f"churn AUC {_figure(churn.get('auc'))} (7-day rule and P(alive): {churn.get('baselines')})"
    )
    console.print(
        f"CLV holdout MAE {_figure(holdout.get('mae'))}, aggregate error {_figure(holdout.get('aggregate_relative_error'))}"
    )
    console.print(
        f"hit-rate@10 {_figure(hits.get('hit_rate'))} vs popularity {_figure(hits.get('popularity_hit_rate'))}"
    )


def _figure(value: Any) -> str:
    return "—" if not isinstance(value, int | float) else f"{value:.3f}"


@members_app.command("classes")
def members_classes(
    as_of: AsOfOption = None, data: DataOption = None, json_output: JsonOption = False
) -> None:
    """Members per class with thresholds, the plan's strategy, and week-over-week movement."""
    from groupops.ops.member_intelligence import member_class_report
    from groupops.store.workspace import Workspace

    with fail_on_errors():
        report = member_class_report(Workspace(settings_for(data)), as_of)
    if json_output:
        emit_json(report)
        return
    table = Table(title=f"Member classes as of {report['as_of'][:10]} ({report['rules']})")
    for column in ("class", "members", "spend", "interaction", "strategy"):
        table.add_column(column)
    for row in report["classes"]:
        table.add_row(
            row["name_zh"], str(row["members"]), "high" if row["high_spend"] else "low",
            "high" if row["high_interaction"] else "low", row["strategy_zh"],
        )  # fmt: skip
    console.print(table)
    console.print(f"thresholds: {report['thresholds']}")
    movement = Table(title="Movement since a week before")
    for column in ("from", "to", "members"):
        movement.add_column(column)
    for row in report["movement"]:
        movement.add_row(row["from_class"], row["to_class"], str(row["members"]))
    console.print(movement)


@tasks_app.callback(invoke_without_command=True)
def tasks_list(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option("--kind", help=f"One of {', '.join(TASK_KINDS)}.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help=f"One of {', '.join(TASK_STATUSES)}.")
    ] = None,
    export: Annotated[
        Path | None, typer.Option("--export", help="Also write the list to a .csv or .xlsx file.")
    ] = None,
    refresh: Annotated[
        bool,
        typer.Option("--refresh/--no-refresh", help="Generate today's tasks from the member mart first."),
    ] = True,
    data: DataOption = None,
    json_output: JsonOption = False,
) -> None:
    """List tasks (generating today's first); `groupops tasks done TASK_ID` completes one."""
    if ctx.invoked_subcommand is not None:
        return
    from groupops.ops.tasks import export_tasks, list_tasks
    from groupops.store.workspace import Workspace

    _check_choice(kind, TASK_KINDS, "--kind")
    _check_choice(status, TASK_STATUSES, "--status")
    if export is not None and export.suffix.lower() not in (".csv", ".xlsx"):
        raise typer.BadParameter("the file must end in .csv or .xlsx", param_hint="--export")
    workspace = Workspace(settings_for(data))
    with fail_on_errors():
        if refresh:
            _generate(workspace)
        rows = list_tasks(workspace, kind=kind, status=status)
        exported = export_tasks(workspace, export, kind=kind, status=status) if export is not None else None
    if json_output:
        emit_json({"tasks": rows, "exported": exported, "export_file": str(export) if export else None})
        return
    _print_tasks(rows)
    if export is not None:
        console.print(f"Exported {exported} tasks to {export}")


def _generate(workspace: Workspace) -> None:
    from groupops.ops.member_intelligence import refresh_member_intelligence
    from groupops.ops.tasks import generate_tasks

    try:
        generate_tasks(workspace)
    except NotFoundError:
        refresh_member_intelligence(workspace)
        generate_tasks(workspace)


def _print_tasks(rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"Tasks ({len(rows)})")
    for column in ("id", "kind", "title", "assignee", "due", "status", "outcome"):
        table.add_column(column)
    for row in rows[:200]:
        table.add_row(
            row["id"], row["kind"], row["title"], row["assignee"] or "—", row["due_at"].isoformat()[:16],
            row["status"], row["outcome"] or "—",
        )  # fmt: skip
    console.print(table)
    if len(rows) > 200:
        console.print(f"… {len(rows) - 200} more (all with --json or --export)")


@tasks_app.command("done")
def tasks_done(
    task_id: str,
    outcome: Annotated[
        str | None, typer.Option("--outcome", help="What happened, e.g. came_back (≤ 32 chars).")
    ] = None,
    data: DataOption = None,
    json_output: JsonOption = False,
) -> None:
    """Mark a task done, with an optional outcome."""
    from groupops.ops.tasks import complete_task
    from groupops.store.workspace import Workspace

    with fail_on_errors():
        task = complete_task(Workspace(settings_for(data)), task_id, outcome)
    if json_output:
        emit_json(task)
        return
    console.print(f"done: {task['id']} ({task['outcome'] or 'no outcome'})")


def register(app: typer.Typer) -> None:
    app.add_typer(member_app, name="member")
    app.add_typer(members_app, name="members")
    app.add_typer(tasks_app, name="tasks")
