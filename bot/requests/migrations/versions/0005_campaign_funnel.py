"""campaign funnel pre-aggregation: count deltas kept by triggers (PostgreSQL)

Owned by ``bot/campaign`` (``bot/campaign/aggregates.py`` defines the same tables and
reads them). Every statement that inserts, updates or deletes ``campaign_targets`` rows
— the importer, ``record_step``, the sender, ``funnel.sync``, a hand-written UPDATE —
appends, through a statement-level trigger with transition tables, one row per touched
group (campaign, channel, province, store) holding the *change* of each step count, and
one row per (day, step, group) to the daily table. Rows are only ever inserted by
writers (no shared counter row to lock, so no waits or deadlocks between senders);
``aggregates.compact`` folds them into one row per group. The funnel is then a sum over
a few hundred rows instead of a scan of the targets. SQLite gets the tables but no
triggers: there the funnel is counted directly (embedded use, small lists).

The step columns are spelt out here (a migration is frozen; the code may change).

Revision ID: 0005_campaign_funnel
Revises: 0004_campaign_sends
Create Date: 2026-11-26 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_campaign_funnel"
down_revision = "0004_campaign_sends"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# campaign_targets timestamp column → count column (funnel steps, then exits).
_STEPS = (
    ("invited_at", "invited"),
    ("answered_at", "answered"),
    ("conversation_at", "conversation"),
    ("address_at", "address"),
    ("confirmed_at", "confirmed"),
    ("accepted_at", "accepted"),
    ("done_at", "done"),
    ("refused_at", "refused"),
    ("opted_out_at", "opted_out"),
    ("unreachable_at", "unreachable"),
)
_GROUP = ("campaign_id", "channel", "province_code", "province_name", "team_id", "team_name")
_DAY_GROUP = ("campaign_id", "channel", "province_code", "team_id")
# Calendar days of the operator (Vietnam has no daylight saving time).
_ZONE = "Asia/Ho_Chi_Minh"


def _counts_sql(source: str) -> str:
    """INSERT appending the count changes of the rows in ``source`` (alias ``d``, with a
    ``sign`` column: +1 for a row as it is now, -1 for a row as it was)."""
    group = ", ".join(_GROUP)
    sums = ", ".join(f"sum(CASE WHEN {col} IS NOT NULL THEN sign ELSE 0 END)" for col, _ in _STEPS)
    counts = ", ".join(name for _, name in _STEPS)
    changed = " OR ".join(
        ["sum(sign) <> 0"]
        + [f"sum(CASE WHEN {col} IS NOT NULL THEN sign ELSE 0 END) <> 0" for col, _ in _STEPS]
    )
    # Identifiers and step names are this module's constants; no value comes from outside.
    return f"""
    INSERT INTO campaign_funnel_counts ({group}, targets, {counts})
    SELECT {group}, sum(sign), {sums}
    FROM {source} GROUP BY {group} HAVING {changed};"""  # noqa: S608


def _daily_sql(source: str) -> str:
    """INSERT appending, per (day, step, group), the change of the rows in ``source``."""
    day_group = ", ".join("d." + column for column in _DAY_GROUP)
    steps = ", ".join(f"('{name}', d.{col})" for col, name in _STEPS)
    return f"""
    INSERT INTO campaign_funnel_daily (campaign_id, day, step, channel, province_code,
                                       team_id, n)
    SELECT d.campaign_id, (s.at AT TIME ZONE '{_ZONE}')::date, s.step, d.channel,
           d.province_code, d.team_id, sum(d.sign)
    FROM {source} CROSS JOIN LATERAL (VALUES {steps}) AS s(step, at)
    WHERE s.at IS NOT NULL
    GROUP BY {day_group}, 2, s.step
    HAVING sum(d.sign) <> 0;"""  # noqa: S608


def _delta_sql(source: str) -> str:
    return _counts_sql(source) + _daily_sql(source)


_NEW = "(SELECT 1 AS sign, * FROM new_rows) AS d"
_OLD = "(SELECT -1 AS sign, * FROM old_rows) AS d"
_BOTH = "(SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1, * FROM old_rows) AS d"
# Imported rows carry no step yet: skip the daily pass unless one does (a cheap scan
# that stops at the first stamped row).
_ANY_STEP = " OR ".join(f"{col} IS NOT NULL" for col, _ in _STEPS)

_FUNCTION = f"""
CREATE OR REPLACE FUNCTION campaign_funnel_delta() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_counts_sql(_NEW)}
    IF EXISTS (SELECT 1 FROM new_rows WHERE {_ANY_STEP}) THEN
      {_daily_sql(_NEW)}
    END IF;
  ELSIF TG_OP = 'DELETE' THEN
    {_delta_sql(_OLD)}
  ELSE
    {_delta_sql(_BOTH)}
  END IF;
  RETURN NULL;
END $$;
"""  # noqa: S608

_TRUNCATE_FUNCTION = """
CREATE OR REPLACE FUNCTION campaign_funnel_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM campaign_funnel_counts;
  DELETE FROM campaign_funnel_daily;
  RETURN NULL;
END $$;
"""

_TRIGGERS = (
    "CREATE TRIGGER campaign_funnel_insert AFTER INSERT ON campaign_targets "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION campaign_funnel_delta()",
    "CREATE TRIGGER campaign_funnel_update AFTER UPDATE ON campaign_targets "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION campaign_funnel_delta()",
    "CREATE TRIGGER campaign_funnel_delete AFTER DELETE ON campaign_targets "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION campaign_funnel_delta()",
    "CREATE TRIGGER campaign_funnel_truncate AFTER TRUNCATE ON campaign_targets "
    "FOR EACH STATEMENT EXECUTE FUNCTION campaign_funnel_truncate()",
)


def upgrade() -> None:
    op.create_table(
        "campaign_funnel_counts",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("province_code", sa.String(length=8), nullable=True),
        sa.Column("province_name", sa.String(length=100), nullable=True),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("team_name", sa.String(length=200), nullable=True),
        sa.Column("targets", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for _, name in _STEPS),
        sa.Column("folded", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_funnel_counts"),
    )
    op.create_index(
        "ix_campaign_funnel_counts_campaign_id", "campaign_funnel_counts", ["campaign_id"]
    )
    op.create_table(
        "campaign_funnel_daily",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("province_code", sa.String(length=8), nullable=True),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("folded", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_funnel_daily"),
    )
    op.create_index(
        "ix_campaign_funnel_daily_campaign_id", "campaign_funnel_daily", ["campaign_id"]
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_FUNCTION)
    op.execute(_TRUNCATE_FUNCTION)
    for statement in _TRIGGERS:
        op.execute(statement)
    # Targets imported before this revision: their counts, as one delta per group.
    op.execute(
        "DO $$ BEGIN "  # noqa: S608
        + _delta_sql("(SELECT 1 AS sign, * FROM campaign_targets) AS d")
        + " END $$;"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS campaign_funnel_{name} ON campaign_targets")
        op.execute("DROP FUNCTION IF EXISTS campaign_funnel_delta()")
        op.execute("DROP FUNCTION IF EXISTS campaign_funnel_truncate()")
    op.drop_index("ix_campaign_funnel_daily_campaign_id", table_name="campaign_funnel_daily")
    op.drop_table("campaign_funnel_daily")
    op.drop_index("ix_campaign_funnel_counts_campaign_id", table_name="campaign_funnel_counts")
    op.drop_table("campaign_funnel_counts")
