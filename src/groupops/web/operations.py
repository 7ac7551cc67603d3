"""Operations rows for the pages: content review, the CS queue, alerts and incidents, tasks.

Reads go through the models and the ops libraries. The few writes those libraries do not offer
(a ticket status set by hand, acknowledging an alert, marking an incident responded or
resolved) are made here, each one audited with the acting user's name.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from groupops.errors import InputFormatError, NotFoundError
from groupops.ops.incidents import IncidentRules, incident_level
from groupops.ops.review import REVIEW_STEPS
from groupops.ops.task_kinds import LISTED_TASK_KINDS, TASK_STATUSES
from groupops.store.models import Alert, ContentItem, ContentTransition, Incident, Task, Ticket
from groupops.store.workspace import Workspace, record_audit

__all__ = [
    "CONTENT_STATES",
    "INCIDENT_MARKS",
    "MANUAL_TICKET_STATUSES",
    "TASK_FILTER_KINDS",
    "TASK_FILTER_STATUSES",
    "TICKET_KINDS",
    "TICKET_STATUSES",
    "acknowledge_alert",
    "alert_rows",
    "alerts_digest",
    "allowed_actions",
    "complete_tasks",
    "content_detail",
    "content_items",
    "content_state_counts",
    "incident_rows",
    "mark_incident",
    "set_ticket_status",
    "sla_breaches",
    "split_findings",
    "takedown_rows",
    "task_rows",
    "ticket_rows",
]

CONTENT_STATES = ("draft", "self_checked", "qc_passed", "legal_approved", "published", "taken_down")
TICKET_KINDS = ("question", "inquiry", "complaint")
TICKET_STATUSES = ("open", "answered", "resolved", "closed")
MANUAL_TICKET_STATUSES = ("answered", "resolved", "closed")
INCIDENT_MARKS = ("responded", "resolved")
TASK_FILTER_KINDS = LISTED_TASK_KINDS
TASK_FILTER_STATUSES = TASK_STATUSES
_ROW_LIMIT = 500


def _choice(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    if not value:
        return None
    if value not in allowed:
        raise InputFormatError(f"{what} must be one of {', '.join(allowed)}")
    return value


# -- content review ---------------------------------------------------------------------------


def _content_row(item: ContentItem) -> dict[str, Any]:
    return {
        "id": item.id, "title": item.title, "kind": item.kind, "group_id": item.group_id, "sku": item.sku,
        "state": item.state, "author": item.author, "verdict": item.verdict,
        "findings": len(item.findings or []), "created_at": item.created_at, "updated_at": item.updated_at,
        "published_at": item.published_at, "taken_down_at": item.taken_down_at,
    }  # fmt: skip


def content_items(session: Session, state: str | None = None) -> list[dict[str, Any]]:
    """Content items (one state, or all), most recently changed first."""
    query = select(ContentItem).order_by(ContentItem.updated_at.desc(), ContentItem.id.desc())
    chosen = _choice(state, CONTENT_STATES, "state")
    if chosen:
        query = query.where(ContentItem.state == chosen)
    return [_content_row(item) for item in session.scalars(query.limit(_ROW_LIMIT))]


def content_state_counts(session: Session) -> dict[str, int]:
    """Items per review state (every state listed, zero when empty)."""
    counts = dict(session.execute(select(ContentItem.state, func.count()).group_by(ContentItem.state)).all())
    return {state: int(counts.get(state, 0)) for state in CONTENT_STATES}


def allowed_actions(role: str, state: str) -> list[str]:
    """The review actions ``role`` may take on an item in ``state`` (per ``REVIEW_STEPS``)."""
    return [
        action for action, step in REVIEW_STEPS.items() if state in step.from_states and role in step.roles
    ]


def split_findings(
    title: str, findings: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The checker reads ``title + "\\n" + body``: its findings as (title findings, body findings)."""
    in_title, in_body = [], []
    offset = len(title) + 1
    for finding in findings:
        start, end = int(finding["start"]), int(finding["end"])
        if end <= len(title):
            in_title.append(finding)
        elif start >= offset:
            in_body.append({**finding, "start": start - offset, "end": end - offset})
    return in_title, in_body


def content_detail(session: Session, item_id: int) -> dict[str, Any]:
    """One item with its text, findings (split into title and body offsets) and review history."""
    item = session.get(ContentItem, item_id)
    if item is None:
        raise NotFoundError(f"content item {item_id} does not exist")
    findings = list(item.findings or [])
    title_findings, body_findings = split_findings(item.title, findings)
    history = session.scalars(
        select(ContentTransition).where(ContentTransition.item_id == item_id).order_by(ContentTransition.id)
    )
    return {
        **_content_row(item), "body": item.body, "findings": findings,
        "title_findings": title_findings, "body_findings": body_findings,
        "transitions": [
            {"action": t.action, "from_state": t.from_state, "to_state": t.to_state, "actor": t.actor,
             "actor_role": t.actor_role, "at": t.at, "verdict": t.verdict, "findings": len(t.findings or []),
             "reason": t.reason, "override": t.override}
            for t in history
        ],
    }  # fmt: skip


# -- CS queue -------------------------------------------------------------------------------


def _seconds_left(due: datetime | None, now: datetime) -> float | None:
    return None if due is None else (due - now).total_seconds()


def _ticket_row(ticket: Ticket, now: datetime) -> dict[str, Any]:
    waiting = ticket.status == "open"
    left = _seconds_left(ticket.response_due_at, now) if waiting else None
    return {
        "id": ticket.id, "group_id": ticket.group_id, "member_id": ticket.member_id, "kind": ticket.kind,
        "topic": ticket.topic, "text": ticket.text, "messages": ticket.messages, "opened_at": ticket.opened_at,
        "response_due_at": ticket.response_due_at, "resolution_due_at": ticket.resolution_due_at,
        "first_response_at": ticket.first_response_at, "first_responder": ticket.first_responder,
        "resolved_at": ticket.resolved_at, "status": ticket.status, "status_set_by": ticket.status_set_by,
        "assignee": ticket.assignee, "seconds_left": left, "overdue": left is not None and left < 0,
    }  # fmt: skip


def ticket_rows(
    session: Session,
    now: datetime,
    *,
    kind: str | None = None,
    status: str | None = None,
    group_id: str | None = None,
    limit: int = _ROW_LIMIT,
) -> tuple[list[dict[str, Any]], int]:
    """Tickets matching the filters, most urgent first (earliest response due), and their total."""
    query = select(Ticket)
    for column, value in (
        (Ticket.kind, _choice(kind, TICKET_KINDS, "kind")),
        (Ticket.status, _choice(status, TICKET_STATUSES, "status")),
        (Ticket.group_id, group_id or None),
    ):
        if value is not None:
            query = query.where(column == value)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    ordered = query.order_by(Ticket.response_due_at, Ticket.id).limit(limit)
    return [_ticket_row(ticket, now) for ticket in session.scalars(ordered)], total


def set_ticket_status(session: Session, ticket_id: str, status: str, actor: str, now: datetime) -> None:
    """A person marks a ticket answered, resolved or closed (kept over later ticket refreshes)."""
    if status not in MANUAL_TICKET_STATUSES:
        raise InputFormatError(f"status must be one of {', '.join(MANUAL_TICKET_STATUSES)}")
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFoundError(f"no ticket {ticket_id[:128]!r}")
    record_audit(session, actor, "ticket.status", "ticket", ticket.id, before=ticket.status, after=status)
    ticket.status, ticket.status_set_by = status, actor
    if status in ("resolved", "closed") and ticket.resolved_at is None:
        ticket.resolved_at = now


def sla_breaches(
    session: Session, now: datetime, limit: int = _ROW_LIMIT
) -> tuple[list[dict[str, Any]], int]:
    """Open tickets past their response deadline (most overdue first) and their number."""
    where = (Ticket.status == "open", Ticket.response_due_at < now)
    total = int(session.scalar(select(func.count()).select_from(Ticket).where(*where)) or 0)
    query = select(Ticket).where(*where).order_by(Ticket.response_due_at, Ticket.id).limit(limit)
    return [_ticket_row(ticket, now) for ticket in session.scalars(query)], total


# -- alerts and incidents ------------------------------------------------------------------------


def _clock(start: datetime, minutes: int, done_at: datetime | None, now: datetime) -> dict[str, Any]:
    due = start + timedelta(minutes=minutes)
    return {"due_at": due, "done_at": done_at, "seconds_left": None if done_at else (due - now).total_seconds(),
            "met": None if done_at is None else done_at <= due}  # fmt: skip


def incident_rows(session: Session, rules: IncidentRules, now: datetime) -> list[dict[str, Any]]:
    """Incidents, newest first, with their colour and the 1 h detect / 2 h respond / 24 h resolve clocks."""
    incidents = session.scalars(select(Incident).order_by(Incident.detected_at.desc()).limit(_ROW_LIMIT))
    rows = []
    for incident in incidents:
        detect_due = incident.first_message_at + timedelta(minutes=rules.detect_minutes)
        rows.append({
            "id": incident.id, "topic": incident.topic, "group_ids": list(incident.group_ids or []),
            "first_message_at": incident.first_message_at, "detected_at": incident.detected_at,
            "members": incident.members, "messages": incident.messages, "severity": incident.severity,
            "tier": incident.tier, "level": incident_level(incident, rules, now),
            "detect": {"due_at": detect_due, "done_at": incident.detected_at, "seconds_left": None,
                       "met": incident.detected_at <= detect_due},
            "respond": _clock(incident.detected_at, rules.respond_minutes, incident.responded_at, now),
            "resolve": _clock(incident.detected_at, rules.resolve_minutes, incident.resolved_at, now),
        })  # fmt: skip
    return rows


def mark_incident(
    session: Session, incident_id: str, mark: str, actor: str, rules: IncidentRules, now: datetime
) -> None:
    """Record that an incident was responded to or resolved, and recolour its alert."""
    if mark not in INCIDENT_MARKS:
        raise InputFormatError(f"mark must be one of {', '.join(INCIDENT_MARKS)}")
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"no incident {incident_id[:128]!r}")
    if mark == "responded" and incident.responded_at is None:
        incident.responded_at = now
    if mark == "resolved" and incident.resolved_at is None:
        incident.resolved_at = now
        incident.responded_at = incident.responded_at or now
    record_audit(session, actor, f"incident.{mark}", "incident", incident.id)
    alert = session.get(Alert, f"alert-{incident.id}")
    if alert is not None:
        alert.level = incident_level(incident, rules, now)


def _alert_row(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id, "kind": alert.kind, "level": alert.level, "title": alert.title,
        "detail": alert.detail, "scope": alert.scope, "value": alert.value, "raised_at": alert.raised_at,
        "acknowledged_by": alert.acknowledged_by, "acknowledged_at": alert.acknowledged_at,
    }  # fmt: skip


def alert_rows(
    session: Session, kind: str | None = None, include_acknowledged: bool = True
) -> list[dict[str, Any]]:
    """Stored alerts (anomaly, drift, incident …), red first, newest first."""
    query = select(Alert)
    if kind:
        query = query.where(Alert.kind == kind)
    if not include_acknowledged:
        query = query.where(Alert.acknowledged_at.is_(None))
    rows = [_alert_row(alert) for alert in session.scalars(query.order_by(Alert.raised_at.desc()))]
    order = {"red": 0, "amber": 1, "green": 2}
    return sorted(rows, key=lambda row: order.get(str(row["level"]), 3))[:_ROW_LIMIT]


def acknowledge_alert(session: Session, alert_id: str, actor: str, now: datetime) -> None:
    """Mark an alert seen by ``actor`` (the first acknowledgement is kept)."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"no alert {alert_id[:128]!r}")
    if alert.acknowledged_at is None:
        alert.acknowledged_by, alert.acknowledged_at = actor, now
    record_audit(session, actor, "alert.acknowledge", "alert", alert.id, kind=alert.kind)


def takedown_rows(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Open takedown tasks of published content that now violates, with time left."""
    query = select(Task).where(Task.kind == "takedown", Task.status == "open").order_by(Task.due_at)
    return [
        {"id": task.id, "title": task.title, "suggestion": task.suggestion, "target_id": task.target_id,
         "due_at": task.due_at, "seconds_left": (task.due_at - now).total_seconds()}
        for task in session.scalars(query.limit(_ROW_LIMIT))
    ]  # fmt: skip


def alerts_digest(session: Session, rules: IncidentRules, now: datetime) -> dict[str, Any]:
    """What the overview's alerts box shows: counts by source and the most urgent items."""
    incidents = [row for row in incident_rows(session, rules, now) if row["level"] != "green"]
    open_alerts = [
        row for row in alert_rows(session, include_acknowledged=False) if row["kind"] != "incident"
    ]
    _breaches, breach_count = sla_breaches(session, now, limit=1)
    takedowns = takedown_rows(session, now)
    kinds = Counter(str(row["kind"]) for row in open_alerts)
    items = [{"level": row["level"], "kind": "incident", "title": row["topic"], "at": row["detected_at"]}
             for row in incidents[:5]]  # fmt: skip
    items += [{"level": row["level"], "kind": row["kind"], "title": row["title"], "at": row["raised_at"]}
              for row in open_alerts[:5]]  # fmt: skip
    return {
        "incidents": len(incidents),
        "red_incidents": sum(1 for row in incidents if row["level"] == "red"),
        "alerts": dict(kinds),
        "sla_breaches": breach_count,
        "takedowns": len(takedowns),
        "items": items,
    }


# -- tasks --------------------------------------------------------------------------------------


def task_rows(
    workspace: Workspace,
    *,
    kind: str | None = None,
    status: str | None = None,
    assignee: str | None = None,
    limit: int = _ROW_LIMIT,
) -> tuple[list[dict[str, Any]], int]:
    """Tasks (through ``groupops.ops.tasks.list_tasks``) filtered by kind, status and assignee."""
    from groupops.ops.tasks import list_tasks

    chosen_kind = _choice(kind, TASK_FILTER_KINDS, "kind")
    rows = list_tasks(workspace, status=_choice(status, TASK_FILTER_STATUSES, "status"))
    if chosen_kind:
        rows = [row for row in rows if row["kind"] == chosen_kind]
    if assignee:
        rows = [row for row in rows if row["assignee"] == assignee]
    return rows[:limit], len(rows)


def complete_tasks(workspace: Workspace, task_ids: list[str], actor: str) -> int:
    """Mark the open tasks among ``task_ids`` done (audited by the tasks library); returns how many."""
    from groupops.ops.tasks import complete_task

    with workspace.database.session() as session:
        open_ids = set(session.scalars(select(Task.id).where(Task.id.in_(task_ids), Task.status == "open")))
    for task_id in dict.fromkeys(task_ids):
        if task_id in open_ids:
            complete_task(workspace, task_id, actor=actor)
    return len(open_ids)
