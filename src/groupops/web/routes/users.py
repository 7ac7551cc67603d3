"""Users admin (admin only): create users, change roles, enable/disable, read the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from groupops.accounts import create_user
from groupops.errors import ConfigurationError, NotFoundError
from groupops.store.models import ROLES
from groupops.web.auth import Principal, require
from groupops.web.context import render, web_context
from groupops.web.user_admin import list_users, recent_audit, set_user_active, set_user_role

router = APIRouter(include_in_schema=False)


def _users_page(
    request: Request,
    principal: Principal,
    status_code: int = 200,
    error: str | None = None,
    created: dict[str, str] | None = None,
) -> Response:
    with web_context(request).workspace.database.session() as session:
        users = list_users(session)
    return render(
        request,
        "users.html",
        principal,
        status_code=status_code,
        users=users,
        roles=ROLES,
        error=error,
        created=created,
    )


@router.get("/admin/users")
def users_page(
    request: Request, principal: Annotated[Principal, Depends(require("users.manage"))]
) -> Response:
    return _users_page(request, principal)


@router.post("/admin/users")
def add_user(
    request: Request,
    principal: Annotated[Principal, Depends(require("users.manage"))],
    name: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=16)],
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    try:
        with web_context(request).workspace.database.session() as session:
            created = create_user(session, name, role, password or None, actor=principal.name)
    except ConfigurationError as error:
        return _users_page(request, principal, 400, error=str(error))
    shown = {"name": name, "password": "" if password else created}
    return _users_page(request, principal, created=shown)


@router.post("/admin/users/{name}/role")
def change_role(
    request: Request,
    name: str,
    principal: Annotated[Principal, Depends(require("users.manage"))],
    role: Annotated[str, Form(max_length=16)],
) -> Response:
    try:
        with web_context(request).workspace.database.session() as session:
            set_user_role(session, name, role, actor=principal.name)
    except (ConfigurationError, NotFoundError) as error:
        return _users_page(request, principal, 400, error=str(error))
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{name}/active")
def change_active(
    request: Request,
    name: str,
    principal: Annotated[Principal, Depends(require("users.manage"))],
    active: Annotated[str, Form(max_length=5)],
) -> Response:
    try:
        with web_context(request).workspace.database.session() as session:
            set_user_active(session, name, active == "true", actor=principal.name)
    except (ConfigurationError, NotFoundError) as error:
        return _users_page(request, principal, 400, error=str(error))
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/audit")
def audit_page(request: Request, principal: Annotated[Principal, Depends(require("audit.view"))]) -> Response:
    with web_context(request).workspace.database.session() as session:
        rows = recent_audit(session)
    return render(request, "audit.html", principal, rows=rows)
