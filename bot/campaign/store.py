"""Campaign rows in the request store's database: get-or-create campaigns, opt-outs, steps.

Small helpers shared by the importer, the exporter, the sender and the funnel, so each
of them speaks of a campaign by name and the id look-up lives in one place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from bot.campaign.schema import EXITS, STEPS, campaign_optouts, campaign_targets, campaigns

STEP_COLUMNS = frozenset(column for column, _ in STEPS + EXITS)


class UnknownCampaign(LookupError):
    """No campaign of that name has been imported."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def upsert_insert(conn: Connection, table):  # noqa: ANN001, ANN201 - dialect-specific insert
    """``INSERT`` with ``ON CONFLICT`` support on both dialects."""
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def ensure_campaign(engine: Engine, name: str, script_ref: str | None = None) -> int:
    """The campaign's id, created on first use (idempotent, race-safe)."""
    name = name.strip()
    if not name or len(name) > 64:
        raise ValueError("a campaign name is 1 to 64 characters")
    with engine.begin() as conn:
        stmt = upsert_insert(conn, campaigns).values(
            name=name, script_ref=script_ref, created_at=now()
        )
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        if script_ref:
            conn.execute(
                update(campaigns).where(campaigns.c.name == name).values(script_ref=script_ref)
            )
        return int(conn.scalar(select(campaigns.c.id).where(campaigns.c.name == name)))


def campaign_id(conn: Connection, name: str) -> int:
    """Id of an existing campaign, else :class:`UnknownCampaign`."""
    found = conn.scalar(select(campaigns.c.id).where(campaigns.c.name == name))
    if found is None:
        raise UnknownCampaign(f"unknown campaign {name!r}")
    return int(found)


def opt_out(engine: Engine, e164: str, source: str = "sms") -> None:
    """Never invite this subscriber again, on any campaign (STOP reply, call, request)."""
    with engine.begin() as conn:
        stmt = upsert_insert(conn, campaign_optouts).values(
            phone_e164=e164, source=source, created_at=now()
        )
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["phone_e164"]))
        conn.execute(
            update(campaign_targets)
            .where(
                campaign_targets.c.phone_e164 == e164,
                campaign_targets.c.opted_out_at.is_(None),
            )
            .values(opted_out_at=now())
        )


def record_step(
    engine: Engine,
    campaign: str,
    e164: str,
    step: str,
    *,
    at: dt.datetime | None = None,
    channel: str | None = None,
    request_id: int | None = None,
) -> bool:
    """Stamp one funnel step (``conversation_at``, ``address_at``...) for a subscriber.

    Only the first time counts (a step is never moved later), so callers may call it on
    every turn. ``channel`` is kept only when the target has none yet (the channel that
    reached the subscriber first); ``request_id`` links the target to its request once.
    Returns whether the subscriber is a target of that campaign.
    """
    if step not in STEP_COLUMNS:
        raise ValueError(f"unknown funnel step {step!r}")
    column = campaign_targets.c[step]
    values: dict[str, object] = {step: at or now()}
    with engine.begin() as conn:
        try:
            cid = campaign_id(conn, campaign)
        except UnknownCampaign:
            return False
        where = and_(campaign_targets.c.campaign_id == cid, campaign_targets.c.phone_e164 == e164)
        exists = conn.scalar(select(campaign_targets.c.id).where(where))
        if exists is None:
            return False
        conn.execute(update(campaign_targets).where(where, column.is_(None)).values(**values))
        if channel:
            conn.execute(
                update(campaign_targets)
                .where(where, campaign_targets.c.channel.is_(None))
                .values(channel=channel)
            )
        if request_id is not None:
            conn.execute(
                update(campaign_targets)
                .where(where, campaign_targets.c.request_id.is_(None))
                .values(request_id=request_id)
            )
        return True


def record_answers(
    engine: Engine, answers: Iterable[tuple[str, str, str, dt.datetime]], channel: str = "liveinfo"
) -> None:
    """Stamp Liveinfo answers, ``(campaign, e164, "YES"|"NO", answered_at)``, in one go.

    YES → ``answered_at``, NO → ``refused_at``, first answer wins; set-based per campaign
    (``executemany``) so a batch of thousands of answers is a few statements. Answers to
    unknown campaigns or from non-targets change nothing.
    """
    by_campaign: dict[str, list[tuple[str, str, dt.datetime]]] = {}
    for campaign, e164, answer, at in sorted(answers, key=lambda a: a[3]):
        by_campaign.setdefault(campaign, []).append((e164, answer, at))
    t = campaign_targets
    with engine.begin() as conn:
        for campaign, rows in by_campaign.items():
            try:
                cid = campaign_id(conn, campaign)
            except UnknownCampaign:
                continue
            for answer, column in (("YES", "answered_at"), ("NO", "refused_at")):
                params = [
                    {"p": e164, "at": at, "ch": channel} for e164, a, at in rows if a == answer
                ]
                if not params:
                    continue
                mine = and_(t.c.campaign_id == cid, t.c.phone_e164 == bindparam("p"))
                conn.execute(
                    update(t).where(mine, t.c[column].is_(None)).values({column: bindparam("at")}),
                    params,
                )
                conn.execute(
                    update(t).where(mine, t.c.channel.is_(None)).values(channel=bindparam("ch")),
                    params,
                )
