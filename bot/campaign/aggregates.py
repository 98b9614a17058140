"""Pre-aggregated funnel counts: the change of every count, appended by triggers.

PostgreSQL only (Alembic ``0005_campaign_funnel``). A statement-level trigger on
``campaign_targets`` appends, for every statement that inserts, updates or deletes
targets, one row per touched group (campaign, channel, province, store) with the change
of each count, and one row per (day, step, group) for the daily figures. Writers only
ever *insert* here — there is no shared counter row for concurrent senders to wait or
deadlock on — and whoever writes a step (importer, ``record_step``, the sender,
``funnel.sync``, a hand-written ``UPDATE``) is counted without knowing about this module.

:func:`compact` folds a campaign's rows into one per group (run before reading and after
an import), so the funnel reads a few hundred rows, not a million targets. Reading sums
folded rows and any deltas appended since, in one statement (one snapshot), so a
compaction running alongside never changes a result.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    false,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine

from bot.campaign.schema import EXITS, STEPS, BigId, metadata

# campaign_targets column → count column here ("invited_at" → "invited"; "id" → targets).
COUNT_COLUMNS: dict[str, str] = {
    "id": "targets",
    **{column: column.removesuffix("_at") for column, _ in STEPS + EXITS},
}
GROUP = ("channel", "province_code", "province_name", "team_id", "team_name")
DAY_GROUP = ("channel", "province_code", "team_id")
_LOCK_CLASS = 70_050  # pg_try_advisory_xact_lock(class, campaign id): one compaction at a time

funnel_counts = Table(
    "campaign_funnel_counts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, nullable=False),
    Column("channel", String(32), nullable=True),
    Column("province_code", String(8), nullable=True),
    Column("province_name", String(100), nullable=True),
    Column("team_id", String(64), nullable=True),
    Column("team_name", String(200), nullable=True),
    *(Column(name, BigInteger, nullable=False) for name in COUNT_COLUMNS.values()),
    # False: a delta appended by the trigger; True: the sum written by compact().
    Column("folded", Boolean, nullable=False, server_default=false()),
    Index("ix_campaign_funnel_counts_campaign_id", "campaign_id"),
)

funnel_daily = Table(
    "campaign_funnel_daily",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, nullable=False),
    Column("day", Date, nullable=False),  # calendar day in Asia/Ho_Chi_Minh
    Column("step", String(16), nullable=False),  # a COUNT_COLUMNS value except targets
    Column("channel", String(32), nullable=True),
    Column("province_code", String(8), nullable=True),
    Column("team_id", String(64), nullable=True),
    Column("n", BigInteger, nullable=False),
    Column("folded", Boolean, nullable=False, server_default=false()),
    Index("ix_campaign_funnel_daily_campaign_id", "campaign_id"),
)


def _fold_counts_sql() -> str:
    group = ", ".join(("campaign_id", *GROUP))
    counts = list(COUNT_COLUMNS.values())
    sums = ", ".join(f"sum({name})" for name in counts)
    nonzero = " OR ".join(f"sum({name}) <> 0" for name in counts)
    return (  # identifiers are this module's constants
        "WITH gone AS (DELETE FROM campaign_funnel_counts WHERE campaign_id = :cid "  # noqa: S608
        "RETURNING *) "
        f"INSERT INTO campaign_funnel_counts ({group}, {', '.join(counts)}, folded) "
        f"SELECT {group}, {sums}, true FROM gone GROUP BY {group} HAVING {nonzero}"
    )


def _fold_daily_sql() -> str:
    group = ", ".join(("campaign_id", "day", "step", *DAY_GROUP))
    return (
        "WITH gone AS (DELETE FROM campaign_funnel_daily WHERE campaign_id = :cid "  # noqa: S608
        "RETURNING *) "
        f"INSERT INTO campaign_funnel_daily ({group}, n, folded) "
        f"SELECT {group}, sum(n), true FROM gone GROUP BY {group} HAVING sum(n) <> 0"
    )


_FOLD_COUNTS = text(_fold_counts_sql())
_FOLD_DAILY = text(_fold_daily_sql())


def pending(conn: Connection, cid: int) -> bool:
    """Whether deltas wait to be folded for this campaign."""
    for table in (funnel_counts, funnel_daily):
        found = conn.scalar(
            select(table.c.id).where(table.c.campaign_id == cid, table.c.folded.is_(False)).limit(1)
        )
        if found is not None:
            return True
    return False


def compact(engine: Engine, cid: int) -> bool:
    """Fold the campaign's deltas into one row per group; False when nothing was done
    (nothing pending, another compaction running, or not PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        if not pending(conn, cid):
            return False
    with engine.begin() as conn:
        locked = conn.scalar(
            text("SELECT pg_try_advisory_xact_lock(:k, :cid)"), {"k": _LOCK_CLASS, "cid": cid}
        )
        if not locked:
            return False  # the other compaction folds them; readers sum deltas meanwhile
        conn.execute(_FOLD_COUNTS, {"cid": cid})
        conn.execute(_FOLD_DAILY, {"cid": cid})
    return True
