"""Members: search and filter, export, and one member's profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from groupops.web.auth import Principal, require
from groupops.web.context import render, web_context
from groupops.web.export import TABLE_FORMATS, table_response

router = APIRouter(include_in_schema=False)

_EXPORT_COLUMNS = ("id", "name", "gender", "age_band", "region", "tags", "followers", "source")
_EXPORT_LIMIT = 100_000


@router.get("/members")
def members_page(
    request: Request,
    principal: Annotated[Principal, Depends(require("members.view"))],
    q: Annotated[str, Query(max_length=100)] = "",
    tag: Annotated[str, Query(max_length=100)] = "",
    region: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    data = web_context(request).data
    rows, total = data.members(q, tag, region, page)
    return render(
        request, "members.html", principal, members=rows, total=total, page=page, q=q, tag=tag, region=region,
        filters=data.member_filters(), page_size=50,
    )  # fmt: skip


@router.get("/members.{fmt}")
def members_export(
    request: Request,
    fmt: str,
    principal: Annotated[Principal, Depends(require("data.export"))],
    q: Annotated[str, Query(max_length=100)] = "",
    tag: Annotated[str, Query(max_length=100)] = "",
    region: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    if fmt not in TABLE_FORMATS:
        return Response(status_code=404)
    rows, _total = web_context(request).data.members(q, tag, region, 1, _EXPORT_LIMIT)
    for row in rows:
        row["tags"] = ", ".join(row["tags"])
    return table_response(fmt, "members", _EXPORT_COLUMNS, rows)


@router.get("/members/{member_id}")
def member_page(
    request: Request, member_id: str, principal: Annotated[Principal, Depends(require("members.view"))]
) -> Response:
    member = web_context(request).data.member(member_id)
    return render(request, "member.html", principal, member=member)
