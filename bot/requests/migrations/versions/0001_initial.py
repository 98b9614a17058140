"""initial schema: requests, events, teams, outbox, team messages

Revision ID: 0001
Revises:
Create Date: 2026-11-25 23:29:37.048000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=True),
        sa.Column("region_id", sa.String(length=64), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("escalation_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    op.create_table(
        "sim_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("request_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phone_e164", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=True),
        sa.Column("contact_name", sa.String(length=200), nullable=True),
        sa.Column("address_text", sa.Text(), nullable=True),
        sa.Column("province_code", sa.String(length=8), nullable=False),
        sa.Column("province_name", sa.String(length=100), nullable=True),
        sa.Column("ward_code", sa.String(length=8), nullable=True),
        sa.Column("ward_name", sa.String(length=100), nullable=True),
        sa.Column("old_province_name", sa.String(length=100), nullable=True),
        sa.Column("old_district_name", sa.String(length=100), nullable=True),
        sa.Column("old_ward_name", sa.String(length=100), nullable=True),
        sa.Column("resolution_confidence", sa.Float(), nullable=True),
        sa.Column("units", sa.JSON(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("campaign", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "callback_requested", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("route_rule", sa.String(length=200), nullable=False),
        sa.Column("delivery_note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_sim_requests_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_requests")),
        sa.UniqueConstraint("reference", name=op.f("uq_sim_requests_reference")),
    )
    op.create_index("ix_sim_requests_created_at", "sim_requests", ["created_at"], unique=False)
    op.create_index("ix_sim_requests_phone_e164", "sim_requests", ["phone_e164"], unique=False)
    op.create_index(
        "ix_sim_requests_province_status",
        "sim_requests",
        ["province_code", "status", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_sim_requests_team_status", "sim_requests", ["team_id", "status"], unique=False
    )
    op.create_index(
        "uq_sim_requests_open_phone_type",
        "sim_requests",
        ["phone_e164", "request_type"],
        unique=True,
        postgresql_where=sa.text("status NOT IN ('done', 'unreachable', 'cancelled')"),
        sqlite_where=sa.text("status NOT IN ('done', 'unreachable', 'cancelled')"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["sim_requests.id"],
            name=op.f("fk_outbox_request_id_sim_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_outbox_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_pending", "outbox", ["delivered_at", "next_attempt_at"], unique=False
    )
    op.create_index(op.f("ix_outbox_request_id"), "outbox", ["request_id"], unique=False)
    op.create_table(
        "request_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["sim_requests.id"],
            name=op.f("fk_request_events_request_id_sim_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_events")),
    )
    op.create_index(
        op.f("ix_request_events_request_id"), "request_events", ["request_id"], unique=False
    )
    op.create_table(
        "team_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_team_messages_outbox_id_outbox"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["sim_requests.id"],
            name=op.f("fk_team_messages_request_id_sim_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_messages")),
    )
    op.create_index(
        op.f("ix_team_messages_request_id"), "team_messages", ["request_id"], unique=False
    )
    op.create_index(
        "uq_team_messages_chat_message", "team_messages", ["chat_id", "message_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_team_messages_chat_message", table_name="team_messages")
    op.drop_index(op.f("ix_team_messages_request_id"), table_name="team_messages")
    op.drop_table("team_messages")
    op.drop_index(op.f("ix_request_events_request_id"), table_name="request_events")
    op.drop_table("request_events")
    op.drop_index(op.f("ix_outbox_request_id"), table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(
        "uq_sim_requests_open_phone_type",
        table_name="sim_requests",
        postgresql_where=sa.text("status NOT IN ('done', 'unreachable', 'cancelled')"),
        sqlite_where=sa.text("status NOT IN ('done', 'unreachable', 'cancelled')"),
    )
    op.drop_index("ix_sim_requests_team_status", table_name="sim_requests")
    op.drop_index("ix_sim_requests_phone_e164", table_name="sim_requests")
    op.drop_index("ix_sim_requests_province_status", table_name="sim_requests")
    op.drop_index("ix_sim_requests_created_at", table_name="sim_requests")
    op.drop_table("sim_requests")
    op.drop_table("teams")
