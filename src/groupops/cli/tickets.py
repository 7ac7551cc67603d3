"""``groupops tickets``, ``incidents`` and ``health``: CS queue and SLAs, 舆情, sentiment and homogeneity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from groupops.cli._common import DataOption, JsonOption, console, emit_json, fail_on_errors, settings_for

RefreshOption = Annotated[
    bool,
    typer.Option("--refresh/--no-refresh", help="Label new messages and rebuild from the archive first."),
]


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def tickets_command(
    refresh: RefreshOption = True, data: DataOption = None, json_output: JsonOption = False
) -> None:
    """Questions and complaints found in the archive, SLA compliance and the unanswered list."""
    from groupops.ops.tickets import refresh_tickets, sla_summary
    from groupops.store.workspace import Workspace

    workspace = Workspace(settings_for(data))
    with fail_on_errors():
        if refresh:
            refresh_tickets(workspace)
        summary = sla_summary(workspace)
    if json_output:
        emit_json(summary.to_json())
        return
    table = Table(title="SLA compliance (first response within the service level)")
    for column in ("kind", "tickets", "within SLA", "compliance", "median minutes"):
        table.add_column(column)
    for row in [{"kind": "all", **summary.overall}, *summary.by_kind]:
        median = row["median_response_minutes"]
        table.add_row(
            row["kind"], str(row["tickets"]), str(row["within_sla"]), _percent(row["compliance"]),
            "—" if median is None else f"{median:.1f}",
        )  # fmt: skip
    console.print(table)
    console.print(f"Unanswered: {len(summary.unanswered)} (oldest first with `--json`)")


def incidents_command(
    refresh: RefreshOption = True, data: DataOption = None, json_output: JsonOption = False
) -> None:
    """Negative incidents (spikes on one topic across members) with their 1 h / 2 h / 24 h clocks."""
    from sqlalchemy import select

    from groupops.ops.incidents import IncidentRules, incident_level, refresh_incidents
    from groupops.store.models import Incident
    from groupops.store.workspace import Workspace

    workspace = Workspace(settings_for(data))
    rules, now = IncidentRules(), datetime.now(UTC)
    with fail_on_errors():
        if refresh:
            refresh_incidents(workspace, rules, now)
        with workspace.database.session() as session:
            rows: list[dict[str, Any]] = [
                {"id": i.id, "topic": i.topic, "severity": i.severity, "tier": i.tier, "members": i.members,
                 "messages": i.messages, "groups": i.group_ids, "first_message_at": i.first_message_at.isoformat(),
                 "detected_at": i.detected_at.isoformat(), "level": incident_level(i, rules, now)}
                for i in session.scalars(select(Incident).order_by(Incident.detected_at.desc()))
            ]  # fmt: skip
    if json_output:
        emit_json({"incidents": rows})
        return
    table = Table(title="Incidents (舆情)")
    for column in ("detected", "topic", "members", "messages", "severity", "tier", "level"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["detected_at"][:16], row["topic"], str(row["members"]), str(row["messages"]),
            row["severity"], row["tier"], row["level"],
        )  # fmt: skip
    console.print(table)


def health_command(
    refresh: RefreshOption = True, data: DataOption = None, json_output: JsonOption = False
) -> None:
    """Daily sentiment index (brand and groups) and the share of repeated promotions per group and week."""
    from groupops.ops.group_health import group_health_report
    from groupops.ops.labels import label_new_messages
    from groupops.store.workspace import Workspace

    workspace = Workspace(settings_for(data))
    with fail_on_errors():
        if refresh:
            label_new_messages(workspace.warehouse)
        report = group_health_report(workspace)
    if json_output:
        emit_json(report)
        return
    table = Table(title="Brand sentiment, last 14 days")
    for column in ("day", "messages", "mean score", "negative", "7-day trend"):
        table.add_column(column)
    for row in report["sentiment_brand"][-14:]:
        table.add_row(
            str(row["day"]), str(row["messages"]), f"{row['mean_score']:+.2f}", _percent(row["negative_share"]),
            f"{row['trend_7d']:+.2f}",
        )  # fmt: skip
    console.print(table)
    console.print(f"Repeated promotions (plan baseline 65%): {_percent(report['repeated_promotion_share'])}")


def register(app: typer.Typer) -> None:
    app.command("tickets")(tickets_command)
    app.command("incidents")(incidents_command)
    app.command("health")(health_command)
