"""SLA escalation once: ``sim_requests.escalated_at`` and the index of requests awaiting it

The dispatcher escalates a request with ``UPDATE sim_requests SET escalated_at = ...
WHERE id = ... AND escalated_at IS NULL AND status IN ('new', 'assigned')`` and queues the
escalation only when that updated a row, so two dispatchers racing on the same overdue
request cannot both escalate it (before, a "no escalation row yet" read followed by an
insert let both through). Requests escalated before this revision get the time of their
first escalation outbox row. A partial index keeps the periodic SLA scan to the requests
still awaiting acceptance.

The predicate is spelt out here (a migration is frozen; the code may change).

Revision ID: 0006_escalation_once
Revises: 0005_campaign_funnel
Create Date: 2026-11-26 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_escalation_once"
down_revision = "0005_campaign_funnel"
branch_labels = None
depends_on = None

_AWAITING = "escalated_at IS NULL AND status IN ('new', 'assigned')"


def upgrade() -> None:
    op.add_column(
        "sim_requests", sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE sim_requests SET escalated_at = ("
        " SELECT min(o.created_at) FROM outbox o"
        " WHERE o.request_id = sim_requests.id AND o.kind = 'escalation')"
        " WHERE EXISTS (SELECT 1 FROM outbox o"
        " WHERE o.request_id = sim_requests.id AND o.kind = 'escalation')"
    )
    op.create_index(
        "ix_sim_requests_awaiting_escalation",
        "sim_requests",
        ["created_at"],
        postgresql_where=sa.text(_AWAITING),
        sqlite_where=sa.text(_AWAITING),
    )


def downgrade() -> None:
    op.drop_index("ix_sim_requests_awaiting_escalation", table_name="sim_requests")
    with op.batch_alter_table("sim_requests") as batch:
        batch.drop_column("escalated_at")
