"""User accounts: creation, argon2 password hashes and verification."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from groupops.errors import ConfigurationError, NotFoundError
from groupops.store.models import ROLES, User
from groupops.store.workspace import record_audit

__all__ = [
    "authenticate",
    "create_user",
    "generate_password",
    "hash_password",
    "reset_password",
    "verify_password",
]

_HASHER = PasswordHasher()
_MIN_PASSWORD_LENGTH = 10


def generate_password() -> str:
    """A random password of 16 URL-safe characters."""
    return secrets.token_urlsafe(12)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _validate(name: str, role: str, password: str) -> None:
    if not name or len(name) > 64 or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise ConfigurationError("user name: 1–64 letters, digits, '.', '-' or '_'")
    if role not in ROLES:
        raise ConfigurationError(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")
    if len(password) < _MIN_PASSWORD_LENGTH:
        raise ConfigurationError(f"password too short: at least {_MIN_PASSWORD_LENGTH} characters")


def create_user(
    session: Session, name: str, role: str, password: str | None = None, actor: str = "cli"
) -> str:
    """Create a user and return the password (generated when not given)."""
    password = password or generate_password()
    _validate(name, role, password)
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise ConfigurationError(f"user {name!r} already exists")
    session.add(User(name=name, role=role, password_hash=hash_password(password)))
    record_audit(session, actor, "user.create", "user", name, role=role)
    return password


def reset_password(session: Session, name: str, password: str | None = None, actor: str = "cli") -> str:
    """Set a new password (generated when not given) and return it."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFoundError(f"no user named {name!r}")
    password = password or generate_password()
    _validate(name, user.role, password)
    user.password_hash = hash_password(password)
    record_audit(session, actor, "user.reset_password", "user", name)
    return password


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The active user with this name and password, or None."""
    user = session.scalar(select(User).where(User.name == name, User.active.is_(True)))
    if user is None or not verify_password(user.password_hash, password):
        return None
    return user
