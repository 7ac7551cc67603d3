"""Alerts: incidents with their three-colour escalation and clocks, drift and other alerts,
SLA breaches and takedown tasks; acknowledging and marking incidents are audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from groupops.ops.incidents import IncidentRules
from groupops.web.auth import Principal, require
from groupops.web.context import render, web_context
from groupops.web.operations import (
    acknowledge_alert,
    alert_rows,
    incident_rows,
    mark_incident,
    sla_breaches,
    takedown_rows,
)

router = APIRouter(include_in_schema=False)


@router.get("/alerts")
def alerts_page(
    request: Request, principal: Annotated[Principal, Depends(require("alerts.view"))]
) -> Response:
    context, now, rules = web_context(request), datetime.now(UTC), IncidentRules()
    with context.workspace.database.session() as session:
        incidents = incident_rows(session, rules, now)
        alerts = [row for row in alert_rows(session) if row["kind"] != "incident"]
        breaches, breach_total = sla_breaches(session, now, limit=100)
        takedowns = takedown_rows(session, now)
    return render(
        request, "alerts.html", principal, incidents=incidents, alerts=alerts, breaches=breaches,
        breach_total=breach_total, takedowns=takedowns, rules=rules,
    )  # fmt: skip


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(
    request: Request, alert_id: str, principal: Annotated[Principal, Depends(require("alerts.manage"))]
) -> Response:
    with web_context(request).workspace.database.session() as session:
        acknowledge_alert(session, alert_id, principal.name, datetime.now(UTC))
    return RedirectResponse("/alerts", status_code=303)


@router.post("/incidents/{incident_id}/responded")
def incident_responded(
    request: Request, incident_id: str, principal: Annotated[Principal, Depends(require("alerts.manage"))]
) -> Response:
    with web_context(request).workspace.database.session() as session:
        mark_incident(session, incident_id, "responded", principal.name, IncidentRules(), datetime.now(UTC))
    return RedirectResponse("/alerts", status_code=303)


@router.post("/incidents/{incident_id}/resolved")
def incident_resolved(
    request: Request, incident_id: str, principal: Annotated[Principal, Depends(require("alerts.manage"))]
) -> Response:
    with web_context(request).workspace.database.session() as session:
        mark_incident(session, incident_id, "resolved", principal.name, IncidentRules(), datetime.now(UTC))
    return RedirectResponse("/alerts", status_code=303)
