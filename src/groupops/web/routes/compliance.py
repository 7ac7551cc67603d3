"""The compliance checker: paste text, see findings highlighted inline at their offsets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from groupops.text.compliance import check_text
from groupops.web.auth import Principal, require
from groupops.web.context import render

router = APIRouter(include_in_schema=False)

MAX_CHECK_CHARACTERS = 20_000


@router.get("/compliance")
def compliance_page(
    request: Request, principal: Annotated[Principal, Depends(require("compliance.check"))]
) -> Response:
    return render(request, "compliance.html", principal, text="", result=None)


@router.post("/compliance")
def compliance_check(
    request: Request,
    principal: Annotated[Principal, Depends(require("compliance.check"))],
    text: Annotated[str, Form(max_length=MAX_CHECK_CHARACTERS)] = "",
) -> Response:
    result = check_text(text).to_dict(1) if text.strip() else None
    template = "_compliance_result.html" if request.headers.get("hx-request") else "compliance.html"
    return render(request, template, principal, text=text, result=result)
