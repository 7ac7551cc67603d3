"""Tables of the group bot: the outbox, persisted bot state, its projections and the callback log.

- ``bot_outbox``: every outgoing action, keyed by its idempotency key (a second enqueue of
  the same key is a no-op), with its delivery status and attempts.
- ``bot_group_states``: the bot core's state of one group (JSON), versioned for optimistic
  concurrency.
- ``bot_group_state_entries``: the elements of the state's growing collections (a member's
  check-in record, a ledger entry, a recent event id …), one row each, so that a write of the
  state touches only what changed.
- ``bot_member_states``: per group and member — points, streaks, FAQ tickets, rule warnings,
  last care push — kept in step with the group state for queries and pages.
- ``bot_draws``: each draw's public record (commitment, frozen list hash, revealed seed, winners).
- ``bot_polls``: each outfit poll and its counts.
- ``bot_callback_events``: WeCom callbacks by dedupe key, so WeCom's retries act once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from groupops.store.models.base import Base, UTCDateTime, utc_now

__all__ = [
    "OUTBOX_CHANNELS",
    "OUTBOX_STATUSES",
    "BotDraw",
    "BotGroupState",
    "BotGroupStateEntry",
    "BotMemberState",
    "BotPoll",
    "CallbackEventLog",
    "OutboxItem",
]

OUTBOX_CHANNELS = ("robot", "mass_send", "console")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "dead")


class OutboxItem(Base):
    """One outgoing action; ``failed`` needs a person (delivery unknown), ``dead`` will never be sent."""

    __tablename__ = "bot_outbox"
    __table_args__ = (
        Index("ix_bot_outbox_due", "status", "next_attempt_at"),
        Index("ix_bot_outbox_target_due", "channel", "target", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # one of OUTBOX_CHANNELS
    target: Mapped[str] = mapped_column(String(128))  # group id, or a robot key name
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # one of OUTBOX_STATUSES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    wecom_msgid: Mapped[str | None] = mapped_column(String(128))


class BotGroupState(Base):
    """The bot core's whole state for one group, as tagged JSON; ``version`` grows on every write."""

    __tablename__ = "bot_group_states"

    group_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class BotGroupStateEntry(Base):
    """One element of a collection in a group's bot state: ``path`` names the collection, rows in id order."""

    __tablename__ = "bot_group_state_entries"
    __table_args__ = (
        UniqueConstraint("group_id", "path", "entry_key", name="uq_bot_group_state_entries_entry"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(String(128))
    entry_key: Mapped[str] = mapped_column(Text)  # the JSON text of a mapping key, or a tuple index
    value: Mapped[str] = mapped_column(Text)  # the element's JSON text


class BotMemberState(Base):
    """What the bot knows of one member in one group (check-in points and streaks, tickets, warnings)."""

    __tablename__ = "bot_member_states"
    __table_args__ = (UniqueConstraint("group_id", "member_id", name="uq_bot_member_states_member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(String(128), index=True)
    member_id: Mapped[str] = mapped_column(String(128))
    points_balance: Mapped[int] = mapped_column(Integer, default=0)
    checkin_streak: Mapped[int] = mapped_column(Integer, default=0)
    longest_streak: Mapped[int] = mapped_column(Integer, default=0)
    checkin_days: Mapped[int] = mapped_column(Integer, default=0)
    last_checkin_on: Mapped[date | None] = mapped_column(Date)
    points_ledger: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    faq_tickets_opened: Mapped[int] = mapped_column(Integer, default=0)
    rule_warnings: Mapped[int] = mapped_column(Integer, default=0)
    last_warning_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_cared_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class BotDraw(Base):
    """A draw's public record: the seed is stored only once it has been revealed."""

    __tablename__ = "bot_draws"
    __table_args__ = (UniqueConstraint("group_id", "draw_id", name="uq_bot_draws_draw"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(String(128), index=True)
    draw_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[str] = mapped_column(String(16), default="announced")  # announced | frozen | revealed
    commitment: Mapped[str] = mapped_column(String(64))
    eligible_hash: Mapped[str | None] = mapped_column(String(64))
    eligible_count: Mapped[int | None] = mapped_column(Integer)
    seed_revealed: Mapped[str | None] = mapped_column(String(256))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    winners: Mapped[list[str]] = mapped_column(JSON, default=list)
    draw_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class BotPoll(Base):
    """One outfit poll (穿搭小投票) and its vote counts (final once ``closed``)."""

    __tablename__ = "bot_polls"

    poll_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(128), index=True)
    question: Mapped[str] = mapped_column(Text, default="")
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    counts: Mapped[list[int]] = mapped_column(JSON, default=list)
    opened_on: Mapped[date | None] = mapped_column(Date)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class CallbackEventLog(Base):
    """A WeCom callback seen by the receiver; the dedupe key makes WeCom's retries harmless."""

    __tablename__ = "bot_callback_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    event: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="processing")  # processing | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
