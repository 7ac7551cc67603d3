"""Administering users from the web: list, change role, enable or disable (each write audited)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from groupops.errors import ConfigurationError, NotFoundError
from groupops.store.models import ROLES, AuditLog, User
from groupops.store.workspace import record_audit

__all__ = ["list_users", "recent_audit", "set_user_active", "set_user_role"]


def list_users(session: Session) -> list[dict[str, Any]]:
    """Every user (never the password hash)."""
    users = session.scalars(select(User).order_by(User.name))
    return [
        {"id": u.id, "name": u.name, "role": u.role, "active": u.active, "created_at": u.created_at}
        for u in users
    ]


def _user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFoundError(f"no user {name!r}")
    return user


def _other_active_admins(session: Session, name: str) -> int:
    query = select(User).where(User.role == "admin", User.active.is_(True), User.name != name)
    return len(list(session.scalars(query)))


def set_user_role(session: Session, name: str, role: str, actor: str) -> None:
    """Give ``name`` another role; the last active admin cannot be demoted."""
    if role not in ROLES:
        raise ConfigurationError(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")
    user = _user(session, name)
    if user.role == "admin" and role != "admin" and not _other_active_admins(session, name):
        raise ConfigurationError("the last active admin keeps the admin role")
    record_audit(session, actor, "user.role", "user", name, before=user.role, after=role)
    user.role = role


def set_user_active(session: Session, name: str, active: bool, actor: str) -> None:
    """Enable or disable ``name``; the last active admin cannot be disabled."""
    user = _user(session, name)
    if not active and user.role == "admin" and not _other_active_admins(session, name):
        raise ConfigurationError("the last active admin cannot be disabled")
    record_audit(session, actor, "user.enable" if active else "user.disable", "user", name)
    user.active = active


def recent_audit(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """The newest audit-log rows."""
    rows = session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit))
    return [
        {
            "at": r.at,
            "actor": r.actor,
            "action": r.action,
            "target": f"{r.target_type}:{r.target_id}",
            "detail": r.detail,
        }
        for r in rows
    ]
