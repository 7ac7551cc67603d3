"""Every registered route: anonymous access refused, under-privileged roles refused (403)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute

from groupops.store.models import ROLES
from groupops.web.auth import PermissionDependency
from groupops.web.permissions import PERMISSIONS, permissions_of, role_may, roles_with
from groupops.web.routes import PUBLIC_ROUTES

from .conftest import API_TOKENS

_PATH_VALUES = {
    "group_id": "g-core", "member_id": "m001", "name": "viewer", "token_id": "1", "fmt": "csv",
    "item_id": "1", "ticket_id": "t-1", "alert_id": "a-1", "incident_id": "inc-1", "mark": "resolved",
}  # fmt: skip


def _permission_of(route: APIRoute) -> str | None:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, PermissionDependency):
            return dependency.call.permission
        pending.extend(dependency.dependencies)
    return None


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI may keep them as lazy wrappers)."""
    flat: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            flat.append(route)
        elif hasattr(route, "original_router"):
            flat.extend(_api_routes(list(route.original_router.routes)))
    return flat


def _routes(app: Any) -> list[tuple[str, str, str | None]]:
    found = []
    for route in _api_routes(list(app.routes)):
        if True:
            path = re.sub(r"\{(\w+)\}", lambda m: _PATH_VALUES[m.group(1)], route.path)
            found.extend(
                (method, path, _permission_of(route)) for method in sorted(route.methods) if method != "HEAD"
            )
    return found


def test_every_route_declares_a_known_permission_unless_public(brand_app: Any) -> None:
    routes = _routes(brand_app)
    assert len(routes) > 25
    for method, path, permission in routes:
        if (method, path) in PUBLIC_ROUTES:
            assert permission is None
        else:
            assert permission in PERMISSIONS, f"{method} {path} declares no permission"


def test_anonymous_requests_are_sent_to_login_or_refused_with_401(client_for: Any, brand_app: Any) -> None:
    client = client_for(None)
    for method, path, permission in _routes(brand_app):
        if permission is None:
            continue
        response = client.request(method, path, follow_redirects=False)
        if path.startswith("/api/v1"):
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"
        else:
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login?next=")


def test_under_privileged_roles_get_403_on_pages_and_api(client_for: Any, brand_app: Any) -> None:
    clients = {role: client_for(role) for role in ROLES}
    checked = 0
    for method, path, permission in _routes(brand_app):
        if permission is None:
            continue
        for role in sorted(set(ROLES) - roles_with(permission)):
            headers = {"Authorization": f"Bearer {API_TOKENS[role]}"} if path.startswith("/api/v1") else {}
            response = clients[role].request(method, path, headers=headers, follow_redirects=False)
            assert response.status_code == 403, (role, method, path)
            checked += 1
    assert checked > 40


def test_a_cookie_never_authorises_the_api(client_for: Any) -> None:
    assert client_for("admin").get("/api/v1/kpis").status_code == 401


def test_matrix_shape() -> None:
    assert role_may("admin", "users.manage") and not role_may("manager", "users.manage")
    assert not role_may("viewer", "compliance.check")
    assert not role_may("admin", "no.such.permission")
    assert all(roles <= set(ROLES) for roles in PERMISSIONS.values())
    assert "overview.view" in permissions_of("cs")
    assert permissions_of("nobody") == frozenset()


@pytest.mark.parametrize("role", ROLES)
def test_navigation_only_offers_permitted_pages(client_for: Any, role: str) -> None:
    page = client_for(role).get("/").text
    assert ('href="/admin/users"' in page) == role_may(role, "users.manage")
    assert ('href="/network"' in page) == role_may(role, "network.view")
