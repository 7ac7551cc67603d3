"""The overview: 7 KPIs with change and sparkline, goals scorecard, alerts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from groupops.web.auth import Principal, require
from groupops.web.context import render, web_context

router = APIRouter(include_in_schema=False)


@router.get("/")
def overview(
    request: Request, principal: Annotated[Principal, Depends(require("overview.view"))]
) -> Response:
    data = web_context(request).data
    return render(
        request,
        "overview.html",
        principal,
        overview=data.overview(),
        goals=data.goals(),
        alerts=None,
    )
