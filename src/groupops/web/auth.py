"""Sign-in, sessions, CSRF, login rate limiting and the permission dependency of every route.

Pages use a signed session cookie (HttpOnly, SameSite=Lax) holding only the user id, the
CSRF token and the language; every unsafe request made with the cookie must carry the
session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``). ``/api`` uses
bearer tokens only, so cookies never authorise an API call.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from groupops.config import Settings
from groupops.store.models import User
from groupops.web.permissions import role_may
from groupops.web.tokens import user_for_token

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "AuthenticationRequired",
    "CsrfRejected",
    "Forbidden",
    "LoginRateLimiter",
    "PermissionDependency",
    "Principal",
    "csrf_token",
    "is_api_path",
    "load_secret_key",
    "require",
    "verify_csrf",
]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuthenticationRequired(Exception):
    """No valid session (pages) or bearer token (API)."""


class Forbidden(Exception):
    """The signed-in user's role lacks the route's permission."""


class CsrfRejected(Exception):
    """An unsafe request without the session's CSRF token."""


@dataclass(frozen=True)
class Principal:
    """The user acting on a request."""

    user_id: int
    name: str
    role: str
    via_token: bool = False


def load_secret_key(settings: Settings) -> str:
    """``settings.secret_key``, else the key in ``<data>/secret.key`` (created 0600 on first use)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data) / "secret.key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key


class LoginRateLimiter:
    """At most ``attempts_per_minute`` failed logins per (user, address) in any 60 s window."""

    def __init__(self, attempts_per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts_per_minute = attempts_per_minute
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures[key]
        horizon = self._clock() - 60.0
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures

    def blocked(self, user_name: str, address: str) -> bool:
        return len(self._recent((user_name.lower(), address))) >= self.attempts_per_minute

    def record_failure(self, user_name: str, address: str) -> None:
        self._recent((user_name.lower(), address)).append(self._clock())

    def reset(self, user_name: str, address: str) -> None:
        self._failures.pop((user_name.lower(), address), None)


def is_api_path(path: str) -> bool:
    return path == "/api/v1" or path.startswith("/api/v1/")


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use)."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


async def verify_csrf(request: Request) -> None:
    """Refuse an unsafe request whose header or form token differs from the session's."""
    if request.method in _SAFE_METHODS:
        return
    expected = request.session.get(CSRF_FIELD)
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not given or not secrets.compare_digest(expected, given):
        raise CsrfRejected()


def _bearer_principal(request: Request) -> Principal | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    with request.app.state.web.workspace.database.session() as session:
        user = user_for_token(session, token.strip())
        return None if user is None else Principal(user.id, user.name, user.role, via_token=True)


def _session_principal(request: Request) -> Principal | None:
    user_id = request.session.get("user_id")
    if not isinstance(user_id, int):
        return None
    with request.app.state.web.workspace.database.session() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            return None
        return Principal(user.id, user.name, user.role)


class PermissionDependency:
    """FastAPI dependency: the acting principal, refused unless their role holds ``permission``."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:
        api = is_api_path(request.url.path)
        principal = _bearer_principal(request) if api else _session_principal(request)
        if principal is None:
            raise AuthenticationRequired()
        if not role_may(principal.role, self.permission):
            raise Forbidden()
        if not api:
            await verify_csrf(request)
        request.state.principal = principal
        return principal


def require(permission: str) -> PermissionDependency:
    """The dependency every non-public route declares."""
    return PermissionDependency(permission)
