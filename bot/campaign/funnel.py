"""The campaign funnel: invited → Yes/clicked → conversation → address → confirmed →
accepted → done (or No / opted out / unreachable), per campaign, channel, province, store.

Every step is a timestamp on ``campaign_targets``. On PostgreSQL triggers keep the
counts per group as they change (:mod:`bot.campaign.aggregates`), so a report sums a
few hundred rows whatever the list size; :func:`funnel_direct` / :func:`daily_direct`
count the targets themselves (``count(column)``, ``GROUPING SETS``) — the reference the
pre-aggregated figures must equal, and what SQLite always does. Never rows pulled into
Python. A :class:`Scope` slices any report (a province team's view). :func:`sync` copies
what happened elsewhere — Liveinfo answers and requests (linked by phone and campaign)
with their events — onto the targets, in a few set-based ``UPDATE`` statements that
only touch targets not stamped yet.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, literal, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import TextClause

from bot.campaign import aggregates
from bot.campaign.schema import EXITS, STEPS, campaign_targets, campaigns
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


@dataclass(frozen=True)
class Scope:
    """A slice of a campaign: one province (a province team's view), channel or store."""

    province: str | None = None
    channel: str | None = None
    store: str | None = None

    def where(self) -> tuple[str, dict[str, str]]:
        """SQL conditions (``AND ...``) on the group columns, with their parameters."""
        parts, params = [], {}
        for column, value in (
            ("province_code", self.province),
            ("channel", self.channel),
            ("team_id", self.store),
        ):
            if value is not None:
                parts.append(f" AND {column} = :{column}")
                params[column] = value
        return "".join(parts), params


@dataclass(frozen=True)
class DayRow:
    """Steps reached on one calendar day (Asia/Ho_Chi_Minh): label → subscribers."""

    day: dt.date
    counts: dict[str, int]


def _compacted(engine: Engine, campaign: str) -> int:
    """The campaign's id, once its pending deltas are folded into the pre-aggregated
    counts (PostgreSQL), so that reading them is one small sum."""
    with engine.connect() as conn:
        cid = campaign_id(conn, campaign)
    aggregates.compact(engine, cid)
    return cid


def funnel(engine: Engine, campaign: str, scope: Scope | None = None) -> list[FunnelRow]:
    """The campaign total, then one row per channel, province and store.

    PostgreSQL reads the pre-aggregated counts (:mod:`bot.campaign.aggregates`, folded
    first); SQLite counts the targets directly. Both give what :func:`funnel_direct` gives.
    """
    scope = scope or Scope()
    if engine.dialect.name != "postgresql":
        return funnel_direct(engine, campaign, scope)
    cid = _compacted(engine, campaign)
    with engine.connect() as conn:
        return _grouping_sets(conn, _counts_sql(scope), {"cid": cid, **scope.where()[1]})


def funnel_direct(engine: Engine, campaign: str, scope: Scope | None = None) -> list[FunnelRow]:
    """The funnel counted from the targets themselves (``count(column)``, ``GROUP BY``):
    the reference the pre-aggregated counts must equal, and the baseline of the bench."""
    scope = scope or Scope()
    with engine.connect() as conn:
        cid = campaign_id(conn, campaign)
        params = {"cid": cid, **scope.where()[1]}
        if conn.dialect.name == "postgresql":
            return _grouping_sets(conn, _direct_sql(scope), params)
        rows: list[FunnelRow] = []
        for dimension in DIMENSIONS:
            rows.extend(_group(conn, cid, dimension, scope))
        return rows


def _group(conn: Connection, cid: int, dimension: str, scope: Scope) -> list[FunnelRow]:
    t = campaign_targets
    key_name, label_name = DIMENSIONS[dimension]
    conditions = [t.c.campaign_id == cid]
    for column, value in (
        ("province_code", scope.province),
        ("channel", scope.channel),
        ("team_id", scope.store),
    ):
        if value is not None:
            conditions.append(t.c[column] == value)
    if not key_name:
        stmt = select(literal("").label("k"), literal("").label("n"), *_aggregates())
        stmt = stmt.where(*conditions)
    else:
        key, label = t.c[key_name], t.c[label_name]
        stmt = (
            select(key.label("k"), func.max(label).label("n"), *_aggregates())
            .where(*conditions)
            .group_by(key)
            .order_by(key)
        )
    return [_row(dimension, item._mapping) for item in conn.execute(stmt)]


def _aggregates() -> list[Any]:
    t = campaign_targets
    return [
        (func.count() if column == "id" else func.count(t.c[column])).label(label)
        for column, label in COUNTS
    ]


_GROUPING = (
    "SELECT GROUPING(channel) AS g_channel, GROUPING(province_code) AS g_province, "
    "GROUPING(team_id) AS g_store, channel, province_code, max(province_name) AS pname, "
    "team_id, max(team_name) AS tname, "
)
_SETS = " GROUP BY GROUPING SETS ((), (channel), (province_code), (team_id))"


def _direct_sql(scope: Scope) -> TextClause:
    counts = ", ".join(
        f"count({'*' if column == 'id' else column}) AS {label}" for column, label in COUNTS
    )
    # Identifiers are module constants; values are bind parameters.
    return text(
        f"{_GROUPING}{counts} FROM campaign_targets WHERE campaign_id = :cid"
        f"{scope.where()[0]}{_SETS}"
    )


def _counts_sql(scope: Scope) -> TextClause:
    """Sum the folded rows and deltas per exact group first (names included, groups
    that net to no target dropped), then group as :func:`_direct_sql` does — so a
    renamed store's old name or an emptied channel cannot show."""
    group = ", ".join(aggregates.GROUP)
    inner = ", ".join(
        f"sum({aggregates.COUNT_COLUMNS[column]}) AS {label}" for column, label in COUNTS
    )
    outer = ", ".join(f"sum({label}) AS {label}" for _, label in COUNTS)
    return text(
        f"{_GROUPING}{outer} FROM (SELECT {group}, {inner} "  # noqa: S608
        f"FROM campaign_funnel_counts WHERE campaign_id = :cid{scope.where()[0]} "
        f"GROUP BY {group} HAVING sum(targets) <> 0) AS exact{_SETS}"
    )


def _grouping_sets(conn: Connection, sql: TextClause, params: dict[str, Any]) -> list[FunnelRow]:
    """One statement for all dimensions (PostgreSQL ``GROUPING SETS``)."""
    out: dict[str, list[FunnelRow]] = {name: [] for name in DIMENSIONS}
    for item in conn.execute(sql, params):
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


# -- per day ------------------------------------------------------------------------------

DAY_STEPS: tuple[tuple[str, str], ...] = (*STEPS, *EXITS)  # (column, label)
_STEP_LABEL = {aggregates.COUNT_COLUMNS[column]: label for column, label in DAY_STEPS}
ZONE = "Asia/Ho_Chi_Minh"  # the operator's calendar day (UTC+7, no daylight saving)


def daily(engine: Engine, campaign: str, scope: Scope | None = None) -> list[DayRow]:
    """Subscribers reaching each step per day, oldest day first (pre-aggregated on
    PostgreSQL, counted directly on SQLite); days with nothing are left out."""
    scope = scope or Scope()
    if engine.dialect.name != "postgresql":
        return daily_direct(engine, campaign, scope)
    cid = _compacted(engine, campaign)
    where, params = scope.where()
    sql = text(
        "SELECT day, step, sum(n) AS n FROM campaign_funnel_daily "  # noqa: S608
        f"WHERE campaign_id = :cid{where} GROUP BY day, step HAVING sum(n) <> 0"
    )
    with engine.connect() as conn:
        found = [
            (m.day, _STEP_LABEL[m.step], int(m.n))
            for m in conn.execute(sql, {"cid": cid, **params})
        ]
    return _days(found)


def daily_direct(engine: Engine, campaign: str, scope: Scope | None = None) -> list[DayRow]:
    """:func:`daily` counted from the targets (one ``GROUP BY`` per step column)."""
    scope = scope or Scope()
    where, params = scope.where()
    with engine.connect() as conn:
        cid = campaign_id(conn, campaign)
        pg = conn.dialect.name == "postgresql"
        found: list[tuple[dt.date, str, int]] = []
        for column, label in DAY_STEPS:
            day = f"({column} AT TIME ZONE '{ZONE}')::date" if pg else f"date({column}, '+7 hours')"
            sql = text(
                f"SELECT {day} AS day, count(*) AS n FROM campaign_targets "  # noqa: S608
                f"WHERE campaign_id = :cid AND {column} IS NOT NULL{where} GROUP BY 1"
            )
            for m in conn.execute(sql, {"cid": cid, **params}):
                value = m.day if isinstance(m.day, dt.date) else dt.date.fromisoformat(m.day)
                found.append((value, label, int(m.n)))
    return _days(found)


def _days(found: list[tuple[dt.date, str, int]]) -> list[DayRow]:
    by_day: dict[dt.date, dict[str, int]] = {}
    for day, label, n in found:
        counts = by_day.setdefault(day, {label: 0 for _, label in DAY_STEPS})
        counts[label] += n
    return [DayRow(day, by_day[day]) for day in sorted(by_day)]


def campaign_names(engine: Engine) -> list[str]:
    """Every campaign, the latest first (the console's choice list)."""
    with engine.connect() as conn:
        return list(
            conn.scalars(
                select(campaigns.c.name).order_by(
                    campaigns.c.created_at.desc(), campaigns.c.id.desc()
                )
            )
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
