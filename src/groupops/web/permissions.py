"""The one permission matrix: which role may do what. Every route declares one permission."""

from __future__ import annotations

from groupops.store.models import ROLES

__all__ = ["PERMISSIONS", "ROLE_PERMISSIONS", "permissions_of", "role_may", "roles_with"]

_EVERYONE = frozenset(ROLES)
_ANALYSTS = frozenset({"admin", "manager", "operator", "viewer"})
_MEMBER_READERS = frozenset({"admin", "manager", "operator", "cs", "viewer"})
_WRITERS = frozenset({"admin", "manager", "operator", "reviewer", "cs"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "overview.view": _EVERYONE,  # 7 KPIs, goals, alerts
    "kpis.view": _EVERYONE,  # KPI / funnel / retention / goals API
    "groups.view": _MEMBER_READERS,
    "members.view": _MEMBER_READERS,
    "data.export": frozenset({"admin", "manager", "operator"}),
    "network.view": _ANALYSTS,
    "compliance.check": _WRITERS,
    "content.view": frozenset({"admin", "manager", "operator", "reviewer", "viewer"}),
    "content.write": frozenset({"admin", "manager", "operator"}),  # create and edit drafts
    "content.review": frozenset({"admin", "manager", "operator", "reviewer"}),  # steps: see REVIEW_STEPS
    "tickets.view": _MEMBER_READERS,
    "tickets.manage": frozenset({"admin", "manager", "cs"}),  # set a status by hand
    "alerts.view": _EVERYONE,
    "alerts.manage": frozenset({"admin", "manager", "operator", "cs"}),  # acknowledge, incidents
    "tasks.view": _EVERYONE,
    "tasks.manage": _WRITERS,  # complete tasks
    "account.manage": _EVERYONE,  # own API tokens
    "api.docs": _EVERYONE,
    "users.manage": frozenset({"admin"}),
    "audit.view": frozenset({"admin"}),
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    role: frozenset(name for name, roles in PERMISSIONS.items() if role in roles) for role in ROLES
}


def role_may(role: str, permission: str) -> bool:
    """True when ``role`` holds ``permission`` (unknown permissions are refused to everyone)."""
    return role in PERMISSIONS.get(permission, frozenset())


def roles_with(permission: str) -> frozenset[str]:
    """The roles holding ``permission``."""
    return PERMISSIONS.get(permission, frozenset())


def permissions_of(role: str) -> frozenset[str]:
    """Every permission ``role`` holds."""
    return ROLE_PERMISSIONS.get(role, frozenset())
