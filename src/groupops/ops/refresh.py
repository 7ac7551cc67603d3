"""Refresh everything operators act on after new data arrives, in dependency order.

Message labels → service tickets → incidents → network drift alerts → member intelligence and
task lists. Each step is incremental or idempotent, so running this after every import is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from groupops.store.workspace import Workspace

__all__ = ["OperationsRefresh", "refresh_operations"]


@dataclass
class OperationsRefresh:
    """What one refresh produced, step by step."""

    steps: dict[str, Any] = field(default_factory=dict)


def refresh_operations(
    workspace: Workspace, *, now: datetime | None = None, on_stage: Callable[[str], None] = lambda stage: None
) -> OperationsRefresh:
    """Run every operations step on the workspace's current data."""
    from groupops.analytics.network_warehouse import refresh_network_drift_alerts
    from groupops.ops.incidents import refresh_incidents
    from groupops.ops.labels import label_new_messages
    from groupops.ops.tickets import refresh_tickets

    now = now or datetime.now(UTC)
    result = OperationsRefresh()
    on_stage("label messages")
    result.steps["labelled_messages"] = label_new_messages(workspace.warehouse).labelled
    on_stage("tickets")
    result.steps["tickets"] = refresh_tickets(workspace, as_of=now)
    on_stage("incidents")
    result.steps["incidents"] = refresh_incidents(workspace, now=now)
    on_stage("network drift")
    result.steps["drift_alerts"] = len(refresh_network_drift_alerts(workspace))
    _refresh_members(workspace, result, on_stage)
    return result


def _refresh_members(
    workspace: Workspace, result: OperationsRefresh, on_stage: Callable[[str], None]
) -> None:
    from groupops.ops.member_intelligence import refresh_member_intelligence
    from groupops.ops.tasks import generate_tasks

    on_stage("member intelligence")
    refresh_member_intelligence(workspace)
    on_stage("tasks")
    result.steps["tasks"] = asdict(generate_tasks(workspace))
