"""Groups by kind with health, and one group's activity, speakers and funnel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from groupops.store.models import GROUP_KINDS
from groupops.web.auth import Principal, require
from groupops.web.context import render, web_context
from groupops.web.export import TABLE_FORMATS, table_response
from groupops.web.permissions import permissions_of

router = APIRouter(include_in_schema=False)

_EXPORT_COLUMNS = (
    "id",
    "name",
    "kind",
    "members",
    "messages",
    "speakers",
    "active_ratio",
    "staff_share",
    "repeated_share",
    "month",
    "status",
)


@router.get("/groups")
def groups_page(
    request: Request, principal: Annotated[Principal, Depends(require("groups.view"))], kind: str = ""
) -> Response:
    rows = web_context(request).data.groups()
    if kind:
        rows = [row for row in rows if row["kind"] == kind]
    return render(request, "groups.html", principal, groups=rows, kinds=GROUP_KINDS, kind=kind)


@router.get("/groups.{fmt}")
def groups_export(
    request: Request, fmt: str, principal: Annotated[Principal, Depends(require("data.export"))]
) -> Response:
    rows = web_context(request).data.groups()
    return (
        table_response(fmt, "groups", _EXPORT_COLUMNS, rows)
        if fmt in TABLE_FORMATS
        else Response(status_code=404)
    )


@router.get("/groups/{group_id}")
def group_page(
    request: Request, group_id: str, principal: Annotated[Principal, Depends(require("groups.view"))]
) -> Response:
    data = web_context(request).data
    group = data.group(group_id)
    return render(
        request, "group.html", principal, group=group, funnel=data.funnel(group_id),
        sentiment=data.group_sentiment(group_id), promotions=data.group_promotions(group_id),
        graph=data.group_graph(group_id) if "network.view" in permissions_of(principal.role) else None,
    )  # fmt: skip
