"""campaign outreach: campaigns, targets with funnel timestamps, opt-outs, sends

Owned by ``bot/campaign`` (``bot/campaign/schema.py`` defines the same tables).

Revision ID: 0003_campaign
Revises: 0002_liveinfo
Create Date: 2026-11-26 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_campaign"
down_revision = "0002_liveinfo"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("script_ref", sa.String(length=200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.UniqueConstraint("name", name="uq_campaigns_name"),
    )
    op.create_table(
        "campaign_targets",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("phone_e164", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=True),
        sa.Column("address_text", sa.Text(), nullable=True),
        sa.Column("province_code", sa.String(length=8), nullable=True),
        sa.Column("province_name", sa.String(length=100), nullable=True),
        sa.Column("ward_code", sa.String(length=8), nullable=True),
        sa.Column("ward_name", sa.String(length=100), nullable=True),
        sa.Column("old_district_name", sa.String(length=100), nullable=True),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("team_name", sa.String(length=200), nullable=True),
        sa.Column("route_rule", sa.String(length=200), nullable=True),
        sa.Column("staff_name", sa.String(length=200), nullable=True),
        sa.Column("staff_phone", sa.String(length=32), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.Column("imported_at", _TS, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("invited_at", _TS, nullable=True),
        sa.Column("answered_at", _TS, nullable=True),
        sa.Column("conversation_at", _TS, nullable=True),
        sa.Column("address_at", _TS, nullable=True),
        sa.Column("confirmed_at", _TS, nullable=True),
        sa.Column("accepted_at", _TS, nullable=True),
        sa.Column("done_at", _TS, nullable=True),
        sa.Column("refused_at", _TS, nullable=True),
        sa.Column("opted_out_at", _TS, nullable=True),
        sa.Column("unreachable_at", _TS, nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_campaign_targets_campaign_id_campaigns"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_targets"),
        sa.UniqueConstraint(
            "campaign_id", "phone_e164", name="uq_campaign_targets_campaign_id_phone_e164"
        ),
    )
    op.create_index(
        "ix_campaign_targets_campaign_team",
        "campaign_targets",
        ["campaign_id", "team_id", "ward_code"],
    )
    op.create_index("ix_campaign_targets_phone_e164", "campaign_targets", ["phone_e164"])
    op.create_table(
        "campaign_optouts",
        sa.Column("phone_e164", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("phone_e164", name="pk_campaign_optouts"),
    )
    op.create_table(
        "campaign_sends",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("target_id", _BIG, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=True),
        sa.Column("gateway_ref", sa.String(length=128), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["campaign_targets.id"],
            name="fk_campaign_sends_target_id_campaign_targets",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_campaign_sends_campaign_id_campaigns"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_sends"),
        sa.UniqueConstraint("target_id", "channel", name="uq_campaign_sends_target_id_channel"),
    )
    op.create_index(
        "ix_campaign_sends_campaign_status",
        "campaign_sends",
        ["campaign_id", "channel", "status"],
    )


def downgrade() -> None:
    op.drop_index("ix_campaign_sends_campaign_status", table_name="campaign_sends")
    op.drop_table("campaign_sends")
    op.drop_table("campaign_optouts")
    op.drop_index("ix_campaign_targets_phone_e164", table_name="campaign_targets")
    op.drop_index("ix_campaign_targets_campaign_team", table_name="campaign_targets")
    op.drop_table("campaign_targets")
    op.drop_table("campaigns")
