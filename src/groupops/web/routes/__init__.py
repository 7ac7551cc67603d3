"""One router per page area; ``ROUTERS`` is what the app includes (API first)."""

from fastapi import APIRouter

from groupops.web.routes import (
    account,
    api,
    auth,
    compliance,
    groups,
    members,
    network,
    overview,
    users,
)

__all__ = ["PUBLIC_ROUTES", "ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    api.router,
    api.docs_router,
    auth.router,
    overview.router,
    groups.router,
    members.router,
    compliance.router,
    network.router,
    account.router,
    users.router,
)

# (method, path) reachable without signing in; every other route declares a permission
PUBLIC_ROUTES = frozenset({("GET", "/login"), ("POST", "/login"), ("POST", "/lang")})
