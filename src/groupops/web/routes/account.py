"""The signed-in user's own API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from groupops.web.auth import Principal, require
from groupops.web.context import render, web_context
from groupops.web.tokens import create_api_token, list_api_tokens, revoke_api_token

router = APIRouter(include_in_schema=False)


def _tokens_page(request: Request, principal: Principal, new_token: str | None = None) -> Response:
    with web_context(request).workspace.database.session() as session:
        tokens = [
            {"id": t.id, "name": t.name, "created_at": t.created_at, "last_used_at": t.last_used_at}
            for t in list_api_tokens(session, principal.user_id)
        ]
    return render(request, "tokens.html", principal, tokens=tokens, new_token=new_token)


@router.get("/account/tokens")
def tokens_page(
    request: Request, principal: Annotated[Principal, Depends(require("account.manage"))]
) -> Response:
    return _tokens_page(request, principal)


@router.post("/account/tokens")
def create_token(
    request: Request,
    principal: Annotated[Principal, Depends(require("account.manage"))],
    name: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    with web_context(request).workspace.database.session() as session:
        token = create_api_token(session, principal.name, name, actor=principal.name)
    return _tokens_page(request, principal, new_token=token)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    request: Request, token_id: int, principal: Annotated[Principal, Depends(require("account.manage"))]
) -> Response:
    with web_context(request).workspace.database.session() as session:
        revoke_api_token(session, principal.user_id, token_id, actor=principal.name)
    return RedirectResponse("/account/tokens", status_code=303)
