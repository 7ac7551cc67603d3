"""Per-user API bearer tokens: created once (shown once), stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from groupops.errors import ConfigurationError, NotFoundError
from groupops.store.models import User, utc_now
from groupops.store.models.web import ApiToken
from groupops.store.workspace import record_audit

__all__ = [
    "TOKEN_PREFIX",
    "create_api_token",
    "hash_token",
    "list_api_tokens",
    "revoke_api_token",
    "user_for_token",
]

TOKEN_PREFIX = "gop_"
_MAX_TOKEN_LENGTH = 200


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(session: Session, user_name: str, token_name: str = "", actor: str = "cli") -> str:
    """Create a token for ``user_name`` and return its secret (never stored in clear)."""
    user = session.scalar(select(User).where(User.name == user_name))
    if user is None:
        raise NotFoundError(f"no user {user_name!r}")
    if len(token_name) > 64:
        raise ConfigurationError("token name: at most 64 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=token_name, token_hash=hash_token(token)))
    record_audit(session, actor, "token.create", "user", user_name, token_name=token_name)
    return token


def list_api_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """The user's tokens that are not revoked, newest first."""
    query = select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    return list(session.scalars(query.order_by(ApiToken.id.desc())))


def revoke_api_token(session: Session, user_id: int, token_id: int, actor: str) -> None:
    """Revoke one of the user's tokens."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id or token.revoked_at is not None:
        raise NotFoundError(f"no token {token_id}")
    token.revoked_at = utc_now()
    record_audit(session, actor, "token.revoke", "api_token", str(token_id))


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning this unrevoked token (its last use is recorded), or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > _MAX_TOKEN_LENGTH:
        return None
    found = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    )
    if found is None:
        return None
    user = session.get(User, found.user_id)
    if user is None or not user.active:
        return None
    found.last_used_at = utc_now()
    return user
