"""The per-app state every route reads: workspace, data, rate limiter and template rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from groupops.config import Settings
from groupops.store.workspace import Workspace
from groupops.web.auth import LoginRateLimiter, Principal, csrf_token
from groupops.web.data import WebData
from groupops.web.formatting import FILTERS
from groupops.web.i18n import LOCALES, normalise_locale, translate
from groupops.web.permissions import permissions_of

__all__ = ["WebContext", "current_locale", "render", "web_context"]

_TEMPLATES = Path(__file__).parent / "templates"


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    environment.filters.update(FILTERS)
    return environment


@dataclass
class WebContext:
    """Everything the routes share; stored on ``app.state.web``."""

    workspace: Workspace
    limiter: LoginRateLimiter
    data: WebData = field(init=False)
    templates: Jinja2Templates = field(init=False)

    def __post_init__(self) -> None:
        self.data = WebData(self.workspace)
        self.templates = Jinja2Templates(env=_environment())

    @property
    def settings(self) -> Settings:
        return self.workspace.settings


def web_context(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context


def current_locale(request: Request) -> str:
    """The session's language, else the configured default."""
    default = normalise_locale(web_context(request).settings.locale)
    return normalise_locale(request.session.get("locale"), default)


def render(
    request: Request, template: str, principal: Principal | None, status_code: int = 200, **values: Any
) -> HTMLResponse:
    """Render ``template`` with the translator, CSRF token, user and their permissions."""
    locale = current_locale(request)
    values.update(
        request=request,
        t=lambda key, **params: translate(locale, key, **params),
        locale=locale,
        locales=LOCALES,
        csrf_token=csrf_token(request),
        principal=principal,
        can=permissions_of(principal.role) if principal else frozenset(),
    )
    return web_context(request).templates.TemplateResponse(request, template, values, status_code=status_code)
