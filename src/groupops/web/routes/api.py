"""``/api/v1``: the dashboard's data as JSON (bearer tokens), and its documentation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from groupops.text.compliance import check_text
from groupops.web.auth import Principal, require
from groupops.web.context import render, web_context

router = APIRouter(prefix="/api/v1", tags=["data"])
docs_router = APIRouter(include_in_schema=False)

NOT_COMPUTED = "not computed yet — run `groupops run`"
_MAX_TEXTS = 1000


class ComplianceRequest(BaseModel):
    """Texts to check: ``text`` for one, ``texts`` for many (one result each, ``line`` from 1)."""

    text: str | None = Field(None, max_length=20_000)
    texts: list[Annotated[str, Field(max_length=20_000)]] | None = Field(None, max_length=_MAX_TEXTS)


def _available(value: Any) -> Any:
    if value is None:
        raise HTTPException(status_code=503, detail=NOT_COMPUTED)
    return value


@router.get("/kpis", summary="The 7 KPIs (kpi --json contract)")
def kpis(
    request: Request,
    _principal: Annotated[Principal, Depends(require("kpis.view"))],
    group: Annotated[str | None, Query(max_length=128)] = None,
    days: Annotated[int | None, Query(ge=1, le=366)] = None,
) -> Any:
    return _available(web_context(request).data.kpi_report(group, days))


@router.get("/overview", summary="KPI cards: value, previous period, change, weekly series")
def overview(request: Request, _principal: Annotated[Principal, Depends(require("kpis.view"))]) -> Any:
    return _available(web_context(request).data.overview())


@router.get("/funnel", summary="Awareness → emotion → behaviour funnel")
def funnel(
    request: Request,
    _principal: Annotated[Principal, Depends(require("kpis.view"))],
    group: Annotated[str | None, Query(max_length=128)] = None,
) -> Any:
    return {"steps": _available(web_context(request).data.funnel(group))}


@router.get("/retention", summary="Monthly first-time cohort retention and monthly churn")
def retention(request: Request, _principal: Annotated[Principal, Depends(require("kpis.view"))]) -> Any:
    return _available(web_context(request).data.retention())


@router.get("/goals", summary="Goal scorecard (red / amber / green / no_data)")
def goals(request: Request, _principal: Annotated[Principal, Depends(require("kpis.view"))]) -> Any:
    return {"goals": _available(web_context(request).data.goals())}


@router.get("/groups", summary="Groups with kind, members and latest-month health")
def groups(request: Request, _principal: Annotated[Principal, Depends(require("groups.view"))]) -> Any:
    return {"groups": web_context(request).data.groups()}


@router.get("/groups/{group_id}", summary="One group: health, daily activity, top speakers")
def group(
    request: Request, group_id: str, _principal: Annotated[Principal, Depends(require("groups.view"))]
) -> Any:
    data = web_context(request).data
    group = data.group(group_id)
    return {
        **group,
        "sentiment": data.group_sentiment(group_id),
        "promotions": data.group_promotions(group_id),
    }


@router.get("/groups/{group_id}/network", summary="One group's interaction network (ECharts graph JSON)")
def group_network(
    request: Request, group_id: str, _principal: Annotated[Principal, Depends(require("network.view"))]
) -> Any:
    data = web_context(request).data
    data.group(group_id)
    return _available(data.group_graph(group_id))


@router.get("/members", summary="Members matching a search and filters, one page of 50")
def members(
    request: Request,
    _principal: Annotated[Principal, Depends(require("members.view"))],
    q: Annotated[str, Query(max_length=100)] = "",
    tag: Annotated[str, Query(max_length=100)] = "",
    region: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Any:
    rows, total = web_context(request).data.members(q, tag, region, page)
    return {"total": total, "page": page, "members": rows}


@router.get(
    "/members/{member_id}", summary="One member: profile, groups, orders, messages, CLV and churn risk"
)
def member(
    request: Request, member_id: str, _principal: Annotated[Principal, Depends(require("members.view"))]
) -> Any:
    return web_context(request).data.member(member_id)


@router.get("/network", summary="ECharts force-graph JSON of the interaction network")
def network(
    request: Request,
    _principal: Annotated[Principal, Depends(require("network.view"))],
    group: Annotated[str | None, Query(max_length=128)] = None,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> Any:
    return _available(web_context(request).data.network(group, days))


@router.post("/compliance/check", summary="Check texts (compliance check --json contract)")
def compliance_check(
    body: ComplianceRequest, _principal: Annotated[Principal, Depends(require("compliance.check"))]
) -> Any:
    texts = body.texts if body.texts is not None else [body.text or ""]
    return {"results": [check_text(text).to_dict(line) for line, text in enumerate(texts, start=1)]}


@docs_router.get("/api/openapi.json")
def openapi_document(
    request: Request, _principal: Annotated[Principal, Depends(require("api.docs"))]
) -> Response:
    return JSONResponse(request.app.openapi())


@docs_router.get("/api/docs")
def api_docs(request: Request, principal: Annotated[Principal, Depends(require("api.docs"))]) -> Response:
    schema = request.app.openapi()
    endpoints = [
        {"method": method.upper(), "path": path, "summary": operation.get("summary", ""),
         "parameters": [p["name"] for p in operation.get("parameters", [])]}
        for path, operations in schema.get("paths", {}).items()
        for method, operation in operations.items()
    ]  # fmt: skip
    return render(request, "api_docs.html", principal, endpoints=endpoints)
