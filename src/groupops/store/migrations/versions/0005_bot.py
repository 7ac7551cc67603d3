"""bot tables: outbox, group and member state, draws, polls, callback log

Revision ID: 0005_bot
Revises: 0001_core
Create Date: 2026-11-25 12:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import groupops.store.models.base

revision = "0005_bot"
down_revision = "0001_core"
branch_labels = None
depends_on = None

_UTC = groupops.store.models.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "bot_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _UTC(timezone=True), nullable=False),
        sa.Column("claimed_at", _UTC(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.Column("sent_at", _UTC(timezone=True), nullable=True),
        sa.Column("wecom_msgid", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_bot_outbox_idempotency_key")),
    )
    with op.batch_alter_table("bot_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_bot_outbox_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "bot_group_states",
        sa.Column("group_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_bot_group_states")),
    )

    op.create_table(
        "bot_member_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.String(length=128), nullable=False),
        sa.Column("member_id", sa.String(length=128), nullable=False),
        sa.Column("points_balance", sa.Integer(), nullable=False),
        sa.Column("checkin_streak", sa.Integer(), nullable=False),
        sa.Column("longest_streak", sa.Integer(), nullable=False),
        sa.Column("checkin_days", sa.Integer(), nullable=False),
        sa.Column("last_checkin_on", sa.Date(), nullable=True),
        sa.Column("points_ledger", sa.JSON(), nullable=False),
        sa.Column("faq_tickets_opened", sa.Integer(), nullable=False),
        sa.Column("rule_warnings", sa.Integer(), nullable=False),
        sa.Column("last_warning_at", _UTC(timezone=True), nullable=True),
        sa.Column("last_cared_on", sa.Date(), nullable=True),
        sa.Column("updated_at", _UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_member_states")),
        sa.UniqueConstraint("group_id", "member_id", name="uq_bot_member_states_member"),
    )
    with op.batch_alter_table("bot_member_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bot_member_states_group_id"), ["group_id"], unique=False)

    op.create_table(
        "bot_draws",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.String(length=128), nullable=False),
        sa.Column("draw_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("commitment", sa.String(length=64), nullable=False),
        sa.Column("eligible_hash", sa.String(length=64), nullable=True),
        sa.Column("eligible_count", sa.Integer(), nullable=True),
        sa.Column("seed_revealed", sa.String(length=256), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("winners", sa.JSON(), nullable=False),
        sa.Column("draw_at", _UTC(timezone=True), nullable=True),
        sa.Column("updated_at", _UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_draws")),
        sa.UniqueConstraint("group_id", "draw_id", name="uq_bot_draws_draw"),
    )
    with op.batch_alter_table("bot_draws", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bot_draws_group_id"), ["group_id"], unique=False)

    op.create_table(
        "bot_polls",
        sa.Column("poll_id", sa.String(length=160), nullable=False),
        sa.Column("group_id", sa.String(length=128), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=True),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("poll_id", name=op.f("pk_bot_polls")),
    )
    with op.batch_alter_table("bot_polls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bot_polls_group_id"), ["group_id"], unique=False)

    op.create_table(
        "bot_callback_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", _UTC(timezone=True), nullable=False),
        sa.Column("processed_at", _UTC(timezone=True), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_callback_events")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_bot_callback_events_dedupe_key")),
    )
    with op.batch_alter_table("bot_callback_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bot_callback_events_received_at"), ["received_at"], unique=False)


def downgrade() -> None:
    for table, indexes in (
        ("bot_callback_events", ["ix_bot_callback_events_received_at"]),
        ("bot_polls", ["ix_bot_polls_group_id"]),
        ("bot_draws", ["ix_bot_draws_group_id"]),
        ("bot_member_states", ["ix_bot_member_states_group_id"]),
        ("bot_group_states", []),
        ("bot_outbox", ["ix_bot_outbox_due"]),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index in indexes:
                batch_op.drop_index(index)
        op.drop_table(table)
