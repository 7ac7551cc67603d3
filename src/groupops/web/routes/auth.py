"""Sign in, sign out and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from groupops.accounts import authenticate
from groupops.store.workspace import record_audit
from groupops.web.auth import Principal, csrf_token, require, verify_csrf
from groupops.web.context import render, web_context
from groupops.web.i18n import LOCALES

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only same-site absolute paths are followed after login (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", None, next=_safe_next(next))


@router.post("/login", dependencies=[Depends(verify_csrf)])
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    context = web_context(request)
    address = _client_address(request)
    if context.limiter.blocked(username, address):
        return render(
            request, "login.html", None, status_code=429, next=_safe_next(next), error_key="login.too_many"
        )
    with context.workspace.database.session() as session:
        user = authenticate(session, username, password)
        record_audit(
            session,
            username[:64] or "-",
            "login.success" if user else "login.failure",
            "user",
            username[:128],
            address=address,
        )
        user_id = None if user is None else user.id
    if user_id is None:
        context.limiter.record_failure(username, address)
        return render(
            request, "login.html", None, status_code=401, next=_safe_next(next), error_key="login.failed"
        )
    context.limiter.reset(username, address)
    locale = request.session.get("locale")
    request.session.clear()
    request.session.update({"user_id": user_id, **({"locale": locale} if locale else {})})
    csrf_token(request)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
async def logout(
    request: Request, principal: Annotated[Principal, Depends(require("account.manage"))]
) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.post("/lang", dependencies=[Depends(verify_csrf)])
async def switch_language(
    request: Request, locale: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    if locale in LOCALES:
        request.session["locale"] = locale
    return RedirectResponse(_safe_next(next), status_code=303)
