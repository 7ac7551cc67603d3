"""The CS queue: tickets with their SLA countdown, statuses set by hand, and SLA compliance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from groupops.ops.tickets import sla_summary
from groupops.web.auth import Principal, require
from groupops.web.context import render, web_context
from groupops.web.operations import (
    MANUAL_TICKET_STATUSES,
    TICKET_KINDS,
    TICKET_STATUSES,
    set_ticket_status,
    ticket_rows,
)

router = APIRouter(include_in_schema=False)


def _known(value: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else ""


@router.get("/tickets")
def tickets_page(
    request: Request,
    principal: Annotated[Principal, Depends(require("tickets.view"))],
    kind: Annotated[str, Query(max_length=16)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    group: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    context, now = web_context(request), datetime.now(UTC)
    kind, status = _known(kind, TICKET_KINDS), _known(status, TICKET_STATUSES)
    with context.workspace.database.session() as session:
        rows, total = ticket_rows(session, now, kind=kind, status=status, group_id=group)
    summary = sla_summary(context.workspace, as_of=now).to_json()
    return render(
        request, "tickets.html", principal, tickets=rows, total=total, sla=summary, kinds=TICKET_KINDS,
        statuses=TICKET_STATUSES, manual_statuses=MANUAL_TICKET_STATUSES, kind=kind, status=status,
        group=group, groups=context.data.group_names(),
    )  # fmt: skip


@router.post("/tickets/{ticket_id}/status")
def ticket_status(
    request: Request,
    ticket_id: str,
    principal: Annotated[Principal, Depends(require("tickets.manage"))],
    status: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=512)] = "/tickets",
) -> Response:
    with web_context(request).workspace.database.session() as session:
        set_ticket_status(session, ticket_id, status, principal.name, datetime.now(UTC))
    target = next if next.startswith("/tickets") and not next.startswith("//") else "/tickets"
    return RedirectResponse(target, status_code=303)
