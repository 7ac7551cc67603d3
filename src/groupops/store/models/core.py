"""Core tables: groups, members, memberships, staff, products, users and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from groupops.roles import ROLES
from groupops.store.models.base import Base, UTCDateTime, utc_now

__all__ = [
    "GROUP_KINDS",
    "ROLES",
    "AuditLog",
    "Group",
    "GroupMembership",
    "ImportRun",
    "Member",
    "Product",
    "Staff",
    "User",
]

GROUP_KINDS = ("brand_official", "core_user", "distributor")


class Group(Base):
    """A customer group (客户群): WeCom external group chat or a personal-WeChat group."""

    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # chat_id / roomid / wxid@chatroom
    name: Mapped[str] = mapped_column(String(256), default="")
    kind: Mapped[str] = mapped_column(String(32), default="core_user")  # one of GROUP_KINDS
    owner: Mapped[str | None] = mapped_column(String(128))
    notice: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    admins: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(32), default="")

    memberships: Mapped[list[GroupMembership]] = relationship(back_populates="group")


class Member(Base):
    """A customer: WeCom external contact (external_userid) or personal-WeChat wxid."""

    __tablename__ = "members"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    unionid: Mapped[str | None] = mapped_column(String(128))
    gender: Mapped[str | None] = mapped_column(String(16))  # male | female | unknown
    age_band: Mapped[str | None] = mapped_column(String(16))  # e.g. 18-25
    region: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    followers: Mapped[int | None] = mapped_column(Integer)  # followers on other platforms (KOC tiers)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # PIPL consent time
    first_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(32), default="")


class GroupMembership(Base):
    """One stay of a member (or staff account) in a group: joined, and left when ``left_at`` is set."""

    __tablename__ = "group_memberships"
    __table_args__ = (UniqueConstraint("group_id", "member_id", "joined_at", name="uq_membership_stay"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[str] = mapped_column(String(128), index=True)  # member or staff id
    member_type: Mapped[str] = mapped_column(String(16), default="external")  # external | staff
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    join_scene: Mapped[int | None] = mapped_column(Integer)  # 1 direct invite, 2 link, 3 QR code
    invitor: Mapped[str | None] = mapped_column(String(128))
    group_nickname: Mapped[str | None] = mapped_column(String(256))
    display_name: Mapped[str | None] = mapped_column(String(256))

    group: Mapped[Group] = relationship(back_populates="memberships")


class Staff(Base):
    """A brand employee's WeCom account (or a robot) that speaks in groups."""

    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # WeCom userid
    name: Mapped[str] = mapped_column(String(256), default="")
    role: Mapped[str] = mapped_column(String(32), default="operator")  # operator | cs | robot | ...
    is_robot: Mapped[bool] = mapped_column(Boolean, default=False)


class Product(Base):
    """A product (SKU) with the textile label fields of GB/T 5296.4 and GB 18401."""

    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    list_price: Mapped[float | None] = mapped_column(Float)
    manufacturer: Mapped[str | None] = mapped_column(String(256))
    manufacturer_address: Mapped[str | None] = mapped_column(String(512))
    size_spec: Mapped[str | None] = mapped_column(String(128))  # 号型, e.g. 160/84A
    fibre_composition: Mapped[str | None] = mapped_column(String(512))  # e.g. 棉 95% 氨纶 5%
    care_instructions: Mapped[str | None] = mapped_column(Text)
    product_standard: Mapped[str | None] = mapped_column(String(128))  # e.g. FZ/T 73020-2019
    safety_category: Mapped[str | None] = mapped_column(String(8))  # A | B | C
    usage_notes: Mapped[str | None] = mapped_column(Text)
    storage_notes: Mapped[str | None] = mapped_column(Text)


class User(Base):
    """A person who signs in to GroupOps, with one role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # one of ROLES
    password_hash: Mapped[str] = mapped_column(String(256))
    locale: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class AuditLog(Base):
    """Who did what, when: every write made through GroupOps."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # user name, or "system" / "cli"
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ImportRun(Base):
    """One ``groupops ingest`` call and its counts."""

    __tablename__ = "import_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    files: Mapped[list[str]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read: Mapped[int] = mapped_column(Integer, default=0)
    ingested: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    quarantine_file: Mapped[str | None] = mapped_column(String(1024))
