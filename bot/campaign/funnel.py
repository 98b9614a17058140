"""The campaign funnel: invited → Yes/clicked → conversation → address → confirmed →
accepted → done (or No / opted out / unreachable), per campaign, channel, province, store.

Every step is a timestamp on ``campaign_targets``, so a report is ``count(column)`` with
``GROUP BY`` in the database (PostgreSQL: one scan with ``GROUPING SETS``), never rows
pulled into Python. :func:`sync` first copies what happened elsewhere — Liveinfo answers
and requests (linked by phone and campaign) with their events — onto the targets, in a
few set-based ``UPDATE`` statements that only touch targets not stamped yet.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, literal, select, text, update
from sqlalchemy.engine import Connection, Engine

from bot.campaign.schema import EXITS, STEPS, campaign_targets
from bot.campaign.store import campaign_id
from bot.outreach import liveinfo_answers
from bot.requests.schema import request_events, sim_requests

DIMENSIONS: dict[str, tuple[str, str]] = {
    "campaign": ("", ""),
    "channel": ("channel", "channel"),
    "province": ("province_code", "province_name"),
    "store": ("team_id", "team_name"),
}
COUNTS: tuple[tuple[str, str], ...] = (("id", "targets"), *STEPS, *EXITS)


@dataclass(frozen=True)
class FunnelRow:
    """Counts of one group: ``dimension`` ("campaign", "channel"...) and its key/name."""

    dimension: str
    key: str
    name: str
    counts: dict[str, int]


def sync(engine: Engine, campaign: str) -> None:
    """Stamp targets from Liveinfo answers and from requests of this campaign."""
    t = campaign_targets
    with engine.begin() as conn:
        cid = campaign_id(conn, campaign)
        mine = t.c.campaign_id == cid

        def first_answer(answer: str) -> Any:
            return (
                select(func.min(liveinfo_answers.c.answered_at))
                .where(
                    liveinfo_answers.c.msisdn == t.c.phone_e164,
                    liveinfo_answers.c.campaign == campaign,
                    liveinfo_answers.c.answer == answer,
                )
                .scalar_subquery()
            )

        for answer, column in (("YES", "answered_at"), ("NO", "refused_at")):
            has = exists().where(
                liveinfo_answers.c.msisdn == t.c.phone_e164,
                liveinfo_answers.c.campaign == campaign,
                liveinfo_answers.c.answer == answer,
            )
            conn.execute(
                update(t)
                .where(mine, t.c[column].is_(None), has)
                .values({column: first_answer(answer)})
            )

        # Requests of this campaign, by phone: confirmed, then team events.
        r = sim_requests
        linked = and_(r.c.phone_e164 == t.c.phone_e164, r.c.campaign == campaign)
        first_request = (
            select(r.c.id).where(linked).order_by(r.c.created_at, r.c.id).limit(1)
        ).scalar_subquery()
        conn.execute(
            update(t)
            .where(mine, t.c.request_id.is_(None), exists().where(linked))
            .values(request_id=first_request)
        )
        conn.execute(
            update(t)
            .where(mine, t.c.request_id.is_not(None), t.c.confirmed_at.is_(None))
            .values(
                confirmed_at=select(r.c.created_at)
                .where(r.c.id == t.c.request_id)
                .scalar_subquery()
            )
        )
        for status, column in (
            ("accepted", "accepted_at"),
            ("done", "done_at"),
            ("unreachable", "unreachable_at"),
        ):
            e = request_events
            happened = and_(e.c.request_id == t.c.request_id, e.c.to_status == status)
            conn.execute(
                update(t)
                .where(
                    mine,
                    t.c.request_id.is_not(None),
                    t.c[column].is_(None),
                    exists().where(happened),
                )
                .values(
                    {column: select(func.min(e.c.created_at)).where(happened).scalar_subquery()}
                )
            )


def funnel(engine: Engine, campaign: str) -> list[FunnelRow]:
    """The campaign total, then one row per channel, province and store."""
    with engine.connect() as conn:
        cid = campaign_id(conn, campaign)
        if conn.dialect.name == "postgresql":
            return _grouping_sets(conn, cid)
        rows: list[FunnelRow] = []
        for dimension in DIMENSIONS:
            rows.extend(_group(conn, cid, dimension))
        return rows


def _aggregates() -> list[Any]:
    t = campaign_targets
    return [
        (func.count() if column == "id" else func.count(t.c[column])).label(label)
        for column, label in COUNTS
    ]


def _group(conn: Connection, cid: int, dimension: str) -> list[FunnelRow]:
    t = campaign_targets
    key_name, label_name = DIMENSIONS[dimension]
    if not key_name:
        stmt = select(literal("").label("k"), literal("").label("n"), *_aggregates())
        stmt = stmt.where(t.c.campaign_id == cid)
    else:
        key, label = t.c[key_name], t.c[label_name]
        stmt = (
            select(key.label("k"), func.max(label).label("n"), *_aggregates())
            .where(t.c.campaign_id == cid)
            .group_by(key)
            .order_by(key)
        )
    return [_row(dimension, item._mapping) for item in conn.execute(stmt)]


def _grouping_sets(conn: Connection, cid: int) -> list[FunnelRow]:
    """One scan for all dimensions (PostgreSQL ``GROUPING SETS``)."""
    counts = ", ".join(
        f"count({'*' if column == 'id' else column}) AS {label}" for column, label in COUNTS
    )
    # Identifiers are module constants; the campaign id is a bind parameter.
    sql = text(
        "SELECT GROUPING(channel) AS g_channel, GROUPING(province_code) AS g_province, "  # noqa: S608
        "GROUPING(team_id) AS g_store, channel, province_code, max(province_name) AS pname, "
        f"team_id, max(team_name) AS tname, {counts} "
        "FROM campaign_targets WHERE campaign_id = :cid "
        "GROUP BY GROUPING SETS ((), (channel), (province_code), (team_id))"
    )
    out: dict[str, list[FunnelRow]] = {name: [] for name in DIMENSIONS}
    for item in conn.execute(sql, {"cid": cid}):
        m = item._mapping
        if not m["g_channel"]:
            out["channel"].append(_row("channel", {**m, "k": m["channel"], "n": m["channel"]}))
        elif not m["g_province"]:
            out["province"].append(
                _row("province", {**m, "k": m["province_code"], "n": m["pname"]})
            )
        elif not m["g_store"]:
            out["store"].append(_row("store", {**m, "k": m["team_id"], "n": m["tname"]}))
        else:
            out["campaign"].append(_row("campaign", {**m, "k": "", "n": ""}))
    for name in ("channel", "province", "store"):
        out[name].sort(key=lambda row: (row.key == "", row.key))
    return [row for name in DIMENSIONS for row in out[name]]


def _row(dimension: str, m: Any) -> FunnelRow:
    return FunnelRow(
        dimension=dimension,
        key=str(m["k"] or ""),
        name=str(m["n"] or ""),
        counts={label: int(m[label] or 0) for _, label in COUNTS},
    )


def to_csv(rows: list[FunnelRow]) -> str:
    """The report as CSV (one line per group, a column per step)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    labels = [label for _, label in COUNTS]
    writer.writerow(["dimension", "key", "name", *labels])
    for row in rows:
        writer.writerow([row.dimension, row.key, row.name, *(row.counts[k] for k in labels)])
    return buffer.getvalue()


def to_table(rows: list[FunnelRow]) -> str:
    """A plain-text table for the terminal, with conversion from invited."""
    labels = [label for _, label in COUNTS]
    short = [
        "targets",
        "invited",
        "yes",
        "conv",
        "addr",
        "confirm",
        "accept",
        "done",
        "no",
        "optout",
        "unreach",
    ]
    lines = [f"{'group':<40} " + " ".join(f"{s:>8}" for s in short)]
    for row in rows:
        name = (
            row.dimension
            if row.dimension == "campaign"
            else (f"{row.dimension}:{row.key or '-'} {row.name if row.name != row.key else ''}")
        )
        lines.append(f"{name[:40]:<40} " + " ".join(f"{row.counts[k]:>8}" for k in labels))
    return "\n".join(lines)
