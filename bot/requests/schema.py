"""Tables of the request store (SQLAlchemy Core, shared by the service and Alembic).

Names are prefixed or specific (``sim_requests``, ``request_events``...) because
Rasa's SQL tracker store may live in the same PostgreSQL database and owns ``events``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

# Stable constraint names, so Alembic migrations can refer to them on both dialects.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# The one-open-request rule, as SQL both PostgreSQL and SQLite accept in a partial index.
OPEN_PREDICATE = "status NOT IN ('done', 'unreachable', 'cancelled')"

# Requests the SLA check may still escalate: not accepted yet and never escalated. Spelt
# as literal SQL (no bound parameters) so SQLite's planner can match the partial index.
AWAITING_ESCALATION_PREDICATE = "escalated_at IS NULL AND status IN ('new', 'assigned')"

teams = Table(
    "teams",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("province_code", String(8), nullable=True),
    Column("region_id", String(64), nullable=True),
    Column("chat_id", BigInteger, nullable=True),
    Column("escalation_chat_id", BigInteger, nullable=True),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

sim_requests = Table(
    "sim_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(16), nullable=False, unique=True),
    Column("request_type", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("phone_e164", String(16), nullable=False),
    Column("carrier", String(32), nullable=True),
    Column("contact_name", String(200), nullable=True),
    Column("address_text", Text, nullable=True),
    Column("province_code", String(8), nullable=False),
    Column("province_name", String(100), nullable=True),
    Column("ward_code", String(8), nullable=True),
    Column("ward_name", String(100), nullable=True),
    Column("old_province_name", String(100), nullable=True),
    Column("old_district_name", String(100), nullable=True),
    Column("old_ward_name", String(100), nullable=True),
    Column("resolution_confidence", Float, nullable=True),
    Column("units", JSON, nullable=True),
    Column("channel", String(32), nullable=False),
    Column("sender_id", String(200), nullable=False),
    Column("campaign", String(100), nullable=True),
    Column("note", Text, nullable=True),
    Column("callback_requested", Boolean, nullable=False, server_default=text("false")),
    Column("team_id", String(64), ForeignKey("teams.id"), nullable=False),
    Column("route_rule", String(200), nullable=False),
    Column("delivery_note", Text, nullable=True),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    # Set once, by the conditional UPDATE that wins the right to escalate (the database
    # serialises racing dispatchers on the row): a request is escalated at most once.
    Column("escalated_at", DateTime(timezone=True), nullable=True),
    Index(
        "uq_sim_requests_open_phone_type",
        "phone_e164",
        "request_type",
        unique=True,
        postgresql_where=text(OPEN_PREDICATE),
        sqlite_where=text(OPEN_PREDICATE),
    ),
    Index("ix_sim_requests_phone_e164", "phone_e164"),
    Index("ix_sim_requests_province_status", "province_code", "status", "created_at"),
    Index("ix_sim_requests_team_status", "team_id", "status"),
    Index("ix_sim_requests_created_at", "created_at"),
    Index("ix_sim_requests_sender_created", "sender_id", "created_at"),
    Index(
        "ix_sim_requests_awaiting_escalation",
        "created_at",
        postgresql_where=text(AWAITING_ESCALATION_PREDICATE),
        sqlite_where=text(AWAITING_ESCALATION_PREDICATE),
    ),
)

request_events = Table(
    "request_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "request_id",
        Integer,
        ForeignKey("sim_requests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "request_id",
        Integer,
        ForeignKey("sim_requests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("team_id", String(64), ForeignKey("teams.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_outbox_pending", "delivered_at", "next_attempt_at"),
)

# Messages posted to team chats, so a button press (chat id + message id) finds its
# request and the dispatcher can edit every message of a request when its status changes.
team_messages = Table(
    "team_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "request_id",
        Integer,
        ForeignKey("sim_requests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("outbox_id", Integer, ForeignKey("outbox.id", ondelete="SET NULL"), nullable=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("uq_team_messages_chat_message", "chat_id", "message_id", unique=True),
)
