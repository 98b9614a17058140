"""Campaign tables (SQLAlchemy Core), created by the Alembic revision ``0003_campaign``.

A separate ``MetaData`` from the request store's, because this package owns its tables;
the names keep the store's naming convention so the migration and the code agree.
One row per (campaign, subscriber) in ``campaign_targets``; every funnel step is a
timestamp column on it, so the funnel is one ``GROUP BY`` with ``count(column)``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# Funnel steps in order: (column, label). "answered" is a Liveinfo Yes or a link click.
STEPS: tuple[tuple[str, str], ...] = (
    ("invited_at", "invited"),
    ("answered_at", "answered_yes_or_clicked"),
    ("conversation_at", "conversation_started"),
    ("address_at", "address_given"),
    ("confirmed_at", "request_confirmed"),
    ("accepted_at", "accepted_by_team"),
    ("done_at", "done"),
)
# Exits from the funnel.
EXITS: tuple[tuple[str, str], ...] = (
    ("refused_at", "answered_no"),
    ("opted_out_at", "opted_out"),
    ("unreachable_at", "unreachable"),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Same width as liveinfo_answers.campaign, which names campaigns the same way.
    Column("name", String(64), nullable=False, unique=True),
    Column("script_ref", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

campaign_targets = Table(
    "campaign_targets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id"), nullable=False),
    Column("phone_e164", String(16), nullable=False),
    Column("carrier", String(32), nullable=True),
    Column("address_text", Text, nullable=True),
    Column("province_code", String(8), nullable=True),
    Column("province_name", String(100), nullable=True),
    Column("ward_code", String(8), nullable=True),
    Column("ward_name", String(100), nullable=True),
    Column("old_district_name", String(100), nullable=True),
    # Segmentation: the team (store, ward sales force, province team) and its staff.
    Column("team_id", String(64), nullable=True),
    Column("team_name", String(200), nullable=True),
    Column("route_rule", String(200), nullable=True),
    Column("staff_name", String(200), nullable=True),
    Column("staff_phone", String(32), nullable=True),
    Column("source_line", Integer, nullable=True),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    # Funnel (see STEPS, EXITS); channel = the channel of the first invitation.
    Column("channel", String(32), nullable=True),
    Column("invited_at", DateTime(timezone=True), nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("conversation_at", DateTime(timezone=True), nullable=True),
    Column("address_at", DateTime(timezone=True), nullable=True),
    Column("confirmed_at", DateTime(timezone=True), nullable=True),
    Column("accepted_at", DateTime(timezone=True), nullable=True),
    Column("done_at", DateTime(timezone=True), nullable=True),
    Column("refused_at", DateTime(timezone=True), nullable=True),
    Column("opted_out_at", DateTime(timezone=True), nullable=True),
    Column("unreachable_at", DateTime(timezone=True), nullable=True),
    Column("request_id", Integer, nullable=True),
    UniqueConstraint("campaign_id", "phone_e164"),
    Index("ix_campaign_targets_campaign_team", "campaign_id", "team_id", "ward_code"),
    Index("ix_campaign_targets_phone_e164", "phone_e164"),
)

# Subscribers who asked never to be invited again, on any campaign.
campaign_optouts = Table(
    "campaign_optouts",
    metadata,
    Column("phone_e164", String(16), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per (target, channel): claimed before the gateway is called, so a crash or a
# second sender never sends the same invitation twice.
campaign_sends = Table(
    "campaign_sends",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "target_id",
        BigId,
        ForeignKey("campaign_targets.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("campaign_id", Integer, ForeignKey("campaigns.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    # claimed | sent | failed | skipped (excluded after the claim, never sent)
    Column("status", String(16), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("gateway_ref", String(128), nullable=True),
    Column("error", Text, nullable=True),
    # 0004_campaign_sends: HTTP attempts, last change, and the subscriber key of the
    # personal link sent (``bot.outreach.subscriber_key``), looked up when it is opened.
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("link_key", String(16), nullable=True),
    UniqueConstraint("target_id", "channel"),
    Index("ix_campaign_sends_campaign_status", "campaign_id", "channel", "status"),
    Index("ix_campaign_sends_link_key", "link_key"),
)
