"""One router per page area; ``ROUTERS`` is what the app includes (API first)."""

from fastapi import APIRouter

from groupops.web.routes import (
    account,
    alerts,
    api,
    api_ops,
    auth,
    compliance,
    content,
    groups,
    members,
    network,
    overview,
    tasks,
    tickets,
    users,
)

__all__ = ["PUBLIC_ROUTES", "ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    api.router,
    api_ops.router,
    api.docs_router,
    auth.router,
    overview.router,
    groups.router,
    members.router,
    compliance.router,
    network.router,
    content.router,
    tickets.router,
    alerts.router,
    tasks.router,
    account.router,
    users.router,
)

# (method, path) reachable without signing in; every other route declares a permission
PUBLIC_ROUTES = frozenset({("GET", "/login"), ("POST", "/login"), ("POST", "/lang")})
