"""Who is called what in which group: the names quotes and @-mentions refer to."""

from __future__ import annotations

from sqlalchemy import select

from groupops.store.models import GroupMembership, Member
from groupops.store.workspace import Workspace

__all__ = ["member_display_names"]


def member_display_names(workspace: Workspace) -> list[tuple[str, str, str]]:
    """Distinct (group id, member id, name) for every group nickname, display name and member name."""
    rows: dict[tuple[str, str, str], None] = {}
    with workspace.database.session() as session:
        query = select(
            GroupMembership.group_id, GroupMembership.member_id, GroupMembership.group_nickname,
            GroupMembership.display_name, Member.name,
        ).outerjoin(Member, Member.id == GroupMembership.member_id)  # fmt: skip
        for group_id, member_id, *names in session.execute(query):
            for name in names:
                if name:
                    rows[(group_id, member_id, name)] = None
    return list(rows)
