"""Content items and their triple review (self-check → QC → legal), every step kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from groupops.store.models.base import Base, UTCDateTime, utc_now

__all__ = ["ContentItem", "ContentTransition"]


class ContentItem(Base):
    """A piece of outgoing content (group post, product copy, promotion) and where it stands."""

    __tablename__ = "content_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32), default="post")  # post | product | promotion | poster
    group_id: Mapped[str | None] = mapped_column(String(128))
    sku: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(24), default="draft", index=True)
    author: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16), default="clean")  # the checker's last verdict
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    taken_down_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ContentTransition(Base):
    """One step of an item's review: who moved it, when, and what the checker found at that moment."""

    __tablename__ = "content_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("content_items.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    verdict: Mapped[str] = mapped_column(String(16))
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(Text)  # rejection reason or override justification
    override: Mapped[bool] = mapped_column(default=False)
