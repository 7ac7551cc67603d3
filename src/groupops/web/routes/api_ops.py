"""``/api/v1`` for the operations pages: content review, tickets and SLA, alerts, tasks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from groupops.errors import ConfigurationError, PermissionDeniedError
from groupops.ops.incidents import IncidentRules
from groupops.ops.review import Actor, ReviewBlockedError, create_content, transition
from groupops.ops.tickets import sla_summary
from groupops.web.auth import Principal, require
from groupops.web.context import web_context
from groupops.web.operations import (
    acknowledge_alert,
    alert_rows,
    complete_tasks,
    content_detail,
    content_items,
    incident_rows,
    mark_incident,
    set_ticket_status,
    sla_breaches,
    takedown_rows,
    task_rows,
    ticket_rows,
)

router = APIRouter(prefix="/api/v1", tags=["operations"])

_Filter = Annotated[str, Query(max_length=128)]


class ContentRequest(BaseModel):
    """A new draft."""

    title: str = Field(max_length=256)
    body: str = Field(max_length=20_000)
    kind: str = Field("post", pattern="^(post|product|promotion|poster)$")
    group_id: str | None = Field(None, max_length=128)


class TransitionRequest(BaseModel):
    """One review step: ``action`` of REVIEW_STEPS, a rejection ``reason``, or an ``override_reason``."""

    action: str = Field(max_length=32)
    reason: str | None = Field(None, max_length=2_000)
    override_reason: str | None = Field(None, max_length=2_000)


class TicketStatusRequest(BaseModel):
    status: str = Field(max_length=16)


class TaskCompletionRequest(BaseModel):
    ids: list[Annotated[str, Field(max_length=160)]] = Field(max_length=500)


def _review_call(call: Any) -> Any:
    """Run a review-library call, mapping its errors to HTTP statuses."""
    try:
        return call()
    except PermissionDeniedError as error:
        raise HTTPException(status_code=403, detail=str(error)) from error
    except ReviewBlockedError as error:
        raise HTTPException(status_code=409, detail=str(error)) from error
    except ConfigurationError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error


@router.get("/content", summary="Content items, optionally of one review state")
def content_list(
    request: Request,
    _principal: Annotated[Principal, Depends(require("content.view"))],
    state: Annotated[str, Query(max_length=24)] = "",
) -> Any:
    with web_context(request).workspace.database.session() as session:
        return {"items": content_items(session, state or None)}


@router.get("/content/{item_id}", summary="One content item: text, findings and review history")
def content_item(
    request: Request, item_id: int, _principal: Annotated[Principal, Depends(require("content.view"))]
) -> Any:
    with web_context(request).workspace.database.session() as session:
        return content_detail(session, item_id)


@router.post("/content", summary="Create a draft (the checker runs at once)", status_code=201)
def content_create(
    request: Request, body: ContentRequest, principal: Annotated[Principal, Depends(require("content.write"))]
) -> Any:
    def create() -> int:
        with web_context(request).workspace.database.session() as session:
            item = create_content(
                session, Actor(principal.name, principal.role), body.title, body.body,
                kind=body.kind, group_id=body.group_id,
            )  # fmt: skip
            return item.id

    item_id = _review_call(create)
    with web_context(request).workspace.database.session() as session:
        return content_detail(session, item_id)


@router.post("/content/{item_id}/transitions", summary="Move an item one review step")
def content_transition(
    request: Request,
    item_id: int,
    body: TransitionRequest,
    principal: Annotated[Principal, Depends(require("content.review"))],
) -> Any:
    def move() -> None:
        with web_context(request).workspace.database.session() as session:
            transition(
                session, Actor(principal.name, principal.role), item_id, body.action,
                reason=body.reason, override_reason=body.override_reason,
            )  # fmt: skip

    _review_call(move)
    with web_context(request).workspace.database.session() as session:
        return content_detail(session, item_id)


@router.get("/tickets", summary="CS tickets with their SLA countdown (seconds_left, overdue)")
def tickets(
    request: Request,
    _principal: Annotated[Principal, Depends(require("tickets.view"))],
    kind: _Filter = "",
    status: _Filter = "",
    group: _Filter = "",
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Any:
    with web_context(request).workspace.database.session() as session:
        rows, total = ticket_rows(
            session, datetime.now(UTC), kind=kind, status=status, group_id=group, limit=limit
        )
    return {"total": total, "tickets": rows}


@router.get("/tickets/sla", summary="SLA compliance overall and by kind, group, staff and day")
def tickets_sla(request: Request, _principal: Annotated[Principal, Depends(require("tickets.view"))]) -> Any:
    return sla_summary(web_context(request).workspace).to_json()


@router.post("/tickets/{ticket_id}/status", summary="Mark a ticket answered, resolved or closed")
def ticket_status(
    request: Request,
    ticket_id: str,
    body: TicketStatusRequest,
    principal: Annotated[Principal, Depends(require("tickets.manage"))],
) -> Any:
    with web_context(request).workspace.database.session() as session:
        set_ticket_status(session, ticket_id, body.status, principal.name, datetime.now(UTC))
    return {"id": ticket_id, "status": body.status, "status_set_by": principal.name}


@router.get("/alerts", summary="Incidents (colour, clocks), stored alerts, SLA breaches, takedown tasks")
def alerts(request: Request, _principal: Annotated[Principal, Depends(require("alerts.view"))]) -> Any:
    now = datetime.now(UTC)
    with web_context(request).workspace.database.session() as session:
        breaches, breach_total = sla_breaches(session, now)
        return {
            "incidents": incident_rows(session, IncidentRules(), now),
            "alerts": [row for row in alert_rows(session) if row["kind"] != "incident"],
            "sla_breaches": {"total": breach_total, "tickets": breaches},
            "takedowns": takedown_rows(session, now),
        }


@router.post("/alerts/{alert_id}/acknowledge", summary="Acknowledge an alert")
def alert_acknowledge(
    request: Request, alert_id: str, principal: Annotated[Principal, Depends(require("alerts.manage"))]
) -> Any:
    with web_context(request).workspace.database.session() as session:
        acknowledge_alert(session, alert_id, principal.name, datetime.now(UTC))
    return {"id": alert_id, "acknowledged_by": principal.name}


@router.post("/incidents/{incident_id}/{mark}", summary="Mark an incident responded or resolved")
def incident_mark(
    request: Request,
    incident_id: str,
    mark: str,
    principal: Annotated[Principal, Depends(require("alerts.manage"))],
) -> Any:
    with web_context(request).workspace.database.session() as session:
        mark_incident(session, incident_id, mark, principal.name, IncidentRules(), datetime.now(UTC))
    return {"id": incident_id, "mark": mark}


@router.get("/tasks", summary="Tasks filtered by kind, status, assignee (mine=true: yours)")
def tasks(
    request: Request,
    principal: Annotated[Principal, Depends(require("tasks.view"))],
    kind: _Filter = "",
    status: _Filter = "",
    assignee: _Filter = "",
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Any:
    rows, total = task_rows(
        web_context(request).workspace, kind=kind, status=status,
        assignee=principal.name if mine else assignee, limit=limit,
    )  # fmt: skip
    return {"total": total, "tasks": rows}


@router.post("/tasks/complete", summary="Mark tasks done: body {ids: [...]}")
def tasks_complete(
    request: Request,
    body: TaskCompletionRequest,
    principal: Annotated[Principal, Depends(require("tasks.manage"))],
) -> Any:
    return {"completed": complete_tasks(web_context(request).workspace, body.ids, principal.name)}
