"""bot outbox: index by target, so the worker can defer one robot's queue in a single statement

Revision ID: 0007_bot_perf
Revises: 0005_bot
Create Date: 2026-11-26 09:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0007_bot_perf"
down_revision = "0005_bot"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_bot_outbox_target_due", "bot_outbox", ["channel", "target", "status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_bot_outbox_target_due", table_name="bot_outbox")
