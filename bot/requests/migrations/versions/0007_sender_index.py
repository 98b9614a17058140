"""The requests a conversation sent, newest first: index on ``(sender_id, created_at)``

A customer asks how their request stands ("yêu cầu của em đến đâu rồi"): the bot shows the
latest request sent from that conversation (``RequestService.latest_by_sender``), never
one found by a phone number typed, which anyone can type. The index keeps that look-up a
seek however many requests the table holds.

Revision ID: 0007_sender_index
Revises: 0006_escalation_once
Create Date: 2026-11-28 02:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0007_sender_index"
down_revision = "0006_escalation_once"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sim_requests_sender_created", "sim_requests", ["sender_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_sim_requests_sender_created", table_name="sim_requests")
