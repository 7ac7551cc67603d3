"""The application factory: ``create_app(settings_or_workspace) -> FastAPI``."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from groupops.config import Settings
from groupops.errors import InputFormatError, NotFoundError
from groupops.store.workspace import Workspace
from groupops.web.auth import (
    AuthenticationRequired,
    CsrfRejected,
    Forbidden,
    LoginRateLimiter,
    is_api_path,
    load_secret_key,
)
from groupops.web.context import WebContext, render
from groupops.web.routes import ROUTERS

__all__ = ["SESSION_COOKIE", "create_app"]

SESSION_COOKIE = "groupops_session"
_SESSION_SECONDS = 12 * 3600
_STATIC = Path(__file__).parent / "static"
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def create_app(settings_or_workspace: Settings | Workspace) -> FastAPI:
    """The web UI and API over one data directory."""
    workspace = (
        settings_or_workspace
        if isinstance(settings_or_workspace, Workspace)
        else Workspace(settings_or_workspace)
    )
    settings = workspace.settings
    app = FastAPI(
        title="GroupOps API",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        description="Data of the GroupOps dashboard. Send `Authorization: Bearer <token>`.",
    )
    app.state.web = WebContext(workspace, LoginRateLimiter(settings.login_attempts_per_minute))
    app.add_middleware(
        SessionMiddleware,
        secret_key=load_secret_key(settings),
        session_cookie=SESSION_COOKIE,
        max_age=_SESSION_SECONDS,
        same_site="lax",
        https_only=False,
    )
    app.middleware("http")(_security_headers)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    _install_error_handlers(app)
    return app


async def _security_headers(request: Request, call_next: Any) -> Response:
    response: Response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AuthenticationRequired, _unauthenticated)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(InputFormatError, _bad_input)


def _error(request: Request, status: int, key: str, message: str) -> Response:
    if is_api_path(request.url.path):
        return JSONResponse({"detail": message}, status_code=status)
    if request.headers.get("hx-request"):
        return PlainTextResponse(message, status_code=status)
    principal = getattr(request.state, "principal", None)
    return render(request, "error.html", principal, status_code=status, error_key=key, message=message)


async def _unauthenticated(request: Request, _error_: Exception) -> Response:
    if is_api_path(request.url.path):
        return JSONResponse(
            {"detail": "authentication required: send a bearer token"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def _forbidden(request: Request, _error_: Exception) -> Response:
    return _error(request, 403, "error.forbidden", "forbidden: your role does not allow this")


async def _csrf_rejected(request: Request, _error_: Exception) -> Response:
    return _error(request, 403, "error.csrf", "forbidden: missing or wrong CSRF token")


async def _not_found(request: Request, error: Exception) -> Response:
    return _error(request, 404, "error.not_found", str(error))


async def _bad_input(request: Request, error: Exception) -> Response:
    return _error(request, 400, "error.bad_input", str(error))
