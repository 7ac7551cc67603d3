"""bot state in parts: the growing collections of a group's state, one row per element

Revision ID: 0008_bot_batch
Revises: 0007_bot_perf
Create Date: 2026-11-27 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_bot_batch"
down_revision = "0007_bot_perf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bot_group_state_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=128), nullable=False),
        sa.Column("entry_key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_group_state_entries")),
        sa.UniqueConstraint("group_id", "path", "entry_key", name="uq_bot_group_state_entries_entry"),
    )


def downgrade() -> None:
    # States written in parts lose their collections: delete them so that the bot starts afresh
    # for those groups rather than reading a state row that refers to missing parts.
    op.execute(
        "DELETE FROM bot_group_states WHERE group_id IN (SELECT DISTINCT group_id FROM bot_group_state_entries)"
    )
    op.drop_table("bot_group_state_entries")
