"""Sign-in, session cookie, CSRF, login rate limiting, redirects and the secret key file."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from groupops.config import Settings
from groupops.web import create_app
from groupops.web.app import SESSION_COOKIE
from groupops.web.auth import LoginRateLimiter, load_secret_key

from .conftest import PASSWORD, TestClient, csrf_of, login


def test_login_sets_an_httponly_samesite_cookie_and_redirects(client_for: Any) -> None:
    client = client_for(None)
    response = login(client, "manager")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith(SESSION_COOKIE) and "httponly" in cookie and "samesite=lax" in cookie
    assert client.get("/").status_code == 200


def test_wrong_password_and_unknown_user_are_refused(client_for: Any) -> None:
    client = client_for(None)
    assert login(client, "manager", "wrong-password-123").status_code == 401
    assert login(client, "nobody", PASSWORD).status_code == 401
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_without_csrf_token_is_refused(client_for: Any) -> None:
    client = client_for(None)
    client.get("/login")
    response = client.post("/login", data={"username": "manager", "password": PASSWORD})
    assert response.status_code == 403
    forged = client.post("/login", data={"username": "manager", "password": PASSWORD, "csrf_token": "forged"})
    assert forged.status_code == 403


def test_writes_without_csrf_are_refused_and_change_nothing(client_for: Any) -> None:
    client = client_for("admin")
    refused = client.post("/admin/users", data={"name": "sneaky", "role": "admin", "password": PASSWORD})
    assert refused.status_code == 403
    assert "sneaky" not in client.get("/admin/users").text
    header = client.post(
        "/compliance",
        data={"text": "最好的"},
        headers={"X-CSRF-Token": csrf_of(client), "HX-Request": "true"},
    )
    assert header.status_code == 200


def test_next_parameter_cannot_redirect_off_site(client_for: Any) -> None:
    client = client_for(None)
    client.get("/login")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        data = {"username": "viewer", "password": PASSWORD, "csrf_token": csrf_of(client), "next": target}
        assert client.post("/login", data=data, follow_redirects=False).headers["location"] == "/"
        client.cookies.clear()
    data = {"username": "viewer", "password": PASSWORD, "csrf_token": csrf_of(client), "next": "/members?q=1"}
    assert client.post("/login", data=data, follow_redirects=False).headers["location"] == "/members?q=1"


def test_logout_ends_the_session(client_for: Any) -> None:
    client = client_for("viewer")
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_rate_limit_per_user_and_address(brand_dir: Path) -> None:
    app = create_app(Settings(data=brand_dir, login_attempts_per_minute=3))
    with TestClient(app) as client:
        for _ in range(3):
            assert login(client, "operator", "wrong-password-123").status_code == 401
        blocked = login(client, "operator", PASSWORD)
        assert blocked.status_code == 429
        assert login(client, "cs").status_code == 303  # another user from the same address is not blocked


def test_rate_limiter_window_slides() -> None:
    now = [1000.0]
    limiter = LoginRateLimiter(2, clock=lambda: now[0])
    limiter.record_failure("Ann", "10.0.0.1")
    limiter.record_failure("ann", "10.0.0.1")
    assert limiter.blocked("ANN", "10.0.0.1") and not limiter.blocked("ann", "10.0.0.2")
    now[0] += 61
    assert not limiter.blocked("ann", "10.0.0.1")


def test_disabled_user_loses_access(tmp_path: Path) -> None:
    from groupops.accounts import create_user
    from groupops.store.workspace import Workspace
    from groupops.web.user_admin import set_user_active

    workspace = Workspace(Settings(data=tmp_path / "data"))
    with workspace.database.session() as session:
        create_user(session, "boss", "admin", PASSWORD)
        create_user(session, "temp", "viewer", PASSWORD)
    with TestClient(create_app(workspace)) as client:
        assert login(client, "temp").status_code == 303
        with workspace.database.session() as session:
            set_user_active(session, "temp", False, actor="boss")
        assert client.get("/", follow_redirects=False).status_code == 303
    workspace.close()


def test_secret_key_is_generated_once_with_owner_only_permissions(tmp_path: Path) -> None:
    settings = Settings(data=tmp_path / "data")
    first = load_secret_key(settings)
    mode = stat.S_IMODE((tmp_path / "data" / "secret.key").stat().st_mode)
    assert mode == 0o600 and len(first) >= 40
    assert load_secret_key(settings) == first
    assert load_secret_key(Settings(data=tmp_path / "data", secret_key="given")) == "given"


def test_security_headers_on_pages(client_for: Any) -> None:
    response = client_for(None).get("/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
