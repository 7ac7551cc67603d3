"""All tables of the operational store; importing this module registers every table on ``Base``."""

from groupops.store.models.base import Base, UTCDateTime, utc_now
from groupops.store.models.bot import OutboxItem as OutboxItem  # registers the bot tables
from groupops.store.models.content import ContentItem, ContentTransition
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
from groupops.store.models.ops import Alert, Incident, Task, Ticket
from groupops.store.models.web import ApiToken as ApiToken

__all__ = [
    "GROUP_KINDS",
    "ROLES",
    "Alert",
    "AuditLog",
    "Base",
    "ContentItem",
    "ContentTransition",
    "Group",
    "GroupMembership",
    "ImportRun",
    "Incident",
    "Member",
    "Product",
    "Staff",
    "Task",
    "Ticket",
    "UTCDateTime",
    "User",
    "utc_now",
]
