"""liveinfo_answers: every Liveinfo Yes/No answer, so a No is never prompted again

Owned by the Liveinfo connector (``bot/outreach.py`` defines the same table).

Revision ID: 0002_liveinfo
Revises: 0001
Create Date: 2026-11-25 23:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_liveinfo"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "liveinfo_answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=3), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", name="uq_liveinfo_answers_request_id"),
    )
    op.create_index(
        "ix_liveinfo_answers_msisdn_campaign", "liveinfo_answers", ["msisdn", "campaign"]
    )


def downgrade() -> None:
    op.drop_index("ix_liveinfo_answers_msisdn_campaign", table_name="liveinfo_answers")
    op.drop_table("liveinfo_answers")
