"""The interaction network: ECharts force graph, roles and communities."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from groupops.web.auth import Principal, require
from groupops.web.context import render, web_context

router = APIRouter(include_in_schema=False)


@router.get("/network")
def network_page(
    request: Request,
    principal: Annotated[Principal, Depends(require("network.view"))],
    group: Annotated[str, Query(max_length=128)] = "",
    days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> Response:
    data = web_context(request).data
    graph = data.network(group or None, days)
    return render(
        request, "network.html", principal, graph=graph, group=group, days=days, groups=data.groups()
    )
