"""Operations tables: service tickets, incidents (舆情) and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from groupops.store.models.base import Base, UTCDateTime, utc_now

__all__ = ["Alert", "Incident", "Task", "Ticket"]


class Ticket(Base):
    """A customer question or complaint found in the archive, with its SLA clocks."""

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_status_due", "status", "response_due_at"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # msgid of the opening message
    group_id: Mapped[str] = mapped_column(String(128), index=True)
    member_id: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # question | inquiry | complaint
    topic: Mapped[str] = mapped_column(String(32), default="")  # main intent
    text: Mapped[str] = mapped_column(Text, default="")
    messages: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    response_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_responder: Mapped[str | None] = mapped_column(String(128))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | answered | resolved | closed
    status_set_by: Mapped[str | None] = mapped_column(String(64))  # a person who set the status by hand
    assignee: Mapped[str | None] = mapped_column(String(64))


class Incident(Base):
    """A spike of negative messages on one topic across members (plan §6.4: 1 h / 2 h / 24 h)."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    topic: Mapped[str] = mapped_column(String(128))
    group_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_message_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    members: Mapped[int] = mapped_column(Integer, default=0)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[str] = mapped_column(String(16))  # low | medium | high
    tier: Mapped[str] = mapped_column(String(16))  # cs | manager | director
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sample_msgids: Mapped[list[str]] = mapped_column(JSON, default=list)


class Alert(Base):
    """Something a person should look at: anomaly, network drift, incident, SLA breach."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_kind_at", "kind", "raised_at"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # deterministic: re-runs never duplicate
    kind: Mapped[str] = mapped_column(String(32))  # anomaly | drift | incident | sla_breach | takedown
    level: Mapped[str] = mapped_column(String(8))  # red | amber | green
    title: Mapped[str] = mapped_column(String(256))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scope: Mapped[str] = mapped_column(String(128), default="brand")  # brand or a group id
    value: Mapped[float | None] = mapped_column(Float)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Task(Base):
    """A to-do for a person: care, win-back step, KOC invitation, VIP care, takedown …

    ``id`` is deterministic (kind + target + period), so re-running a task generator never
    duplicates a task.
    """

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_status_due", "status", "due_at"),)

    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    kind: Mapped[str] = mapped_column(
        String(32), index=True
    )  # care | winback | koc_invite | vip_care | takedown
    title: Mapped[str] = mapped_column(String(256))
    suggestion: Mapped[str] = mapped_column(Text, default="")  # suggested message or action
    member_id: Mapped[str | None] = mapped_column(String(128), index=True)
    group_id: Mapped[str | None] = mapped_column(String(128))
    target_type: Mapped[str | None] = mapped_column(String(32))  # e.g. content_item for takedowns
    target_id: Mapped[str | None] = mapped_column(String(128))
    step: Mapped[int | None] = mapped_column(Integer)  # position in a sequence (win-back 1..3)
    assignee: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | skipped
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))  # e.g. came_back | no_response
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
