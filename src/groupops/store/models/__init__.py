"""All tables of the operational store; importing this module registers every table on ``Base``."""

from groupops.store.models.base import Base, UTCDateTime, utc_now
from groupops.store.models.core import (
    GROUP_KINDS,
    ROLES,
    AuditLog,
    Group,
    GroupMembership,
    ImportRun,
    Member,
    Product,
    Staff,
    User,
)

__all__ = [
    "GROUP_KINDS",
    "ROLES",
    "AuditLog",
    "Base",
    "Group",
    "GroupMembership",
    "ImportRun",
    "Member",
    "Product",
    "Staff",
    "UTCDateTime",
    "User",
    "utc_now",
]
