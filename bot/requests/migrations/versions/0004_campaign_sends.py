"""campaign sends: attempts, last update, and the personal link's subscriber key

``campaign send`` (``bot/campaign/sender.py``) counts the gateway attempts of each
invitation, stamps its last change, and keeps the subscriber key of the link it sent so
the web page can tell, when the link is opened, which subscriber and campaign it is for.

Revision ID: 0004_campaign_sends
Revises: 0003_campaign
Create Date: 2026-11-26 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_campaign_sends"
down_revision = "0003_campaign"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "campaign_sends",
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column("campaign_sends", sa.Column("updated_at", sa.DateTime(timezone=True)))
    op.add_column("campaign_sends", sa.Column("link_key", sa.String(length=16)))
    op.create_index("ix_campaign_sends_link_key", "campaign_sends", ["link_key"])


def downgrade() -> None:
    op.drop_index("ix_campaign_sends_link_key", table_name="campaign_sends")
    with op.batch_alter_table("campaign_sends") as batch:
        batch.drop_column("link_key")
        batch.drop_column("updated_at")
        batch.drop_column("attempts")
