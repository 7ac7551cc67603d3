"""The overview: 7 KPIs with change and sparkline, goals scorecard, alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from groupops.ops.incidents import IncidentRules
from groupops.web.auth import Principal, require
from groupops.web.context import render, web_context
from groupops.web.operations import alerts_digest

router = APIRouter(include_in_schema=False)

ALERTS_REFRESH_SECONDS = 30.0  # the alerts box counts are recomputed at most this often


@router.get("/")
def overview(
    request: Request, principal: Annotated[Principal, Depends(require("overview.view"))]
) -> Response:
    data = web_context(request).data

    def digest() -> dict[str, Any]:
        with data.workspace.database.session() as session:
            return alerts_digest(session, IncidentRules(), datetime.now(UTC))

    alerts = data.recent(("alerts_digest",), digest, seconds=ALERTS_REFRESH_SECONDS)
    return render(
        request,
        "overview.html",
        principal,
        overview=data.overview(),
        goals=data.goals(),
        alerts=alerts,
    )
