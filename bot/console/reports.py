"""The campaign funnel in the console: charts, tables, CSV and JSON of the same figures.

Figures come from :mod:`bot.campaign.funnel` (pre-aggregated on PostgreSQL), sliced by
a :class:`~bot.campaign.funnel.Scope`. A province team's scope is always its own
province — decided here from the signed-in account, never from the query string: asking
for another province or another province's store is a 403, the same rule as the queue.
Only counts leave this module; no phone number or address is involved.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.engine import Engine

from bot.campaign import funnel
from bot.campaign.funnel import COUNTS, DayRow, FunnelRow, Scope
from bot.campaign.store import UnknownCampaign
from bot.console import charts
from bot.console.app import console_of, current_user, error, require
from bot.console.auth import User

log = logging.getLogger(__name__)

_CHANNEL = re.compile(r"[a-z][a-z0-9_]{0,31}")
_STORE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
CHANNEL_NAMES = {
    "sms": "SMS",
    "liveinfo": "Liveinfo",
    "facebook": "Facebook",
    "zalo": "Zalo",
    "web": "Trang web",
    "email": "E-mail",
    "telegram": "Telegram",
    "operator": "Tổng đài 9090",
}
DIMENSION_NAMES = {
    "campaign": "Toàn chiến dịch",
    "channel": "Kênh",
    "province": "Tỉnh/thành",
    "store": "Cửa hàng / đội",
    "day": "Ngày",
}
LABELS = tuple(label for _, label in COUNTS)
DAY_COLUMNS = (
    "invited",
    "answered_yes_or_clicked",
    "request_confirmed",
    "accepted_by_team",
    "done",
    "answered_no",
)
TABLE_STEPS = (
    "targets",
    "invited",
    "answered_yes_or_clicked",
    "request_confirmed",
    "done",
    "answered_no",
    "opted_out",
)


@dataclass(frozen=True)
class ReportQuery:
    """A validated funnel request: which campaign, which slice of it."""

    campaign: str | None
    campaigns: list[str]
    scope: Scope

    def query(self) -> str:
        values = {
            "campaign": self.campaign,
            "province": self.scope.province,
            "channel": self.scope.channel,
            "store": self.scope.store,
        }
        return urlencode({k: v for k, v in values.items() if v})


def _engine(request: web.Request) -> Engine:
    return console_of(request).ready_store.engine


async def parse_report_query(request: web.Request, user: User) -> ReportQuery:
    """Validate campaign/province/channel/store; narrow a team to its province (403 for
    another's), 400 for malformed values, 404 for an unknown campaign."""
    query = request.query
    console = console_of(request)
    campaigns = await asyncio.to_thread(funnel.campaign_names, _engine(request))
    campaign = query.get("campaign", "").strip() or None
    if campaign is not None and campaign not in campaigns:
        raise error(request, 404, "Không có chiến dịch này.")
    if campaign is None and campaigns:
        campaign = campaigns[0]
    province = query.get("province", "").strip() or None
    if province is not None and province not in console.province_names:
        raise error(request, 400, f"Mã tỉnh/thành không hợp lệ: {province}")
    channel = query.get("channel", "").strip() or None
    if channel is not None and not _CHANNEL.fullmatch(channel):
        raise error(request, 400, "Kênh không hợp lệ.")
    store = query.get("store", "").strip() or None
    if store is not None and not _STORE.fullmatch(store):
        raise error(request, 400, "Mã cửa hàng/đội không hợp lệ.")
    if not user.sees_all:
        if province is not None and province != user.province_code:
            raise error(request, 403, "Đội chỉ xem được số liệu của tỉnh mình.")
        province = user.province_code
        team = console.ready_store.service.directory.teams.get(store) if store else None
        if store is not None and (team is None or team.province_code != province):
            raise error(request, 403, "Đội chỉ xem được số liệu của tỉnh mình.")
    return ReportQuery(campaign, campaigns, Scope(province, channel, store))


@dataclass
class Report:
    """Everything the page, the CSV and the JSON show."""

    rows: list[FunnelRow]
    days: list[DayRow]

    @property
    def total(self) -> dict[str, int]:
        return next(r.counts for r in self.rows if r.dimension == "campaign")

    def of(self, dimension: str) -> list[FunnelRow]:
        return [r for r in self.rows if r.dimension == dimension]


def build_report(engine: Engine, report: ReportQuery) -> Report:
    if report.campaign is None:
        return Report([FunnelRow("campaign", "", "", dict.fromkeys(LABELS, 0))], [])
    return Report(
        funnel.funnel(engine, report.campaign, report.scope),
        funnel.daily(engine, report.campaign, report.scope),
    )


async def _report(request: web.Request) -> tuple[User, ReportQuery, Report]:
    """The signed-in user, the validated query and its figures: what each view shows."""
    user = current_user(request)
    assert user is not None  # @require() let the request in
    query = await parse_report_query(request, user)
    try:
        report = await asyncio.to_thread(build_report, _engine(request), query)
    except UnknownCampaign:
        raise error(request, 404, "Không có chiến dịch này.") from None
    return user, query, report


def group_name(row: FunnelRow, province_names: dict[str, str]) -> str:
    """How a group is called on the page and in the CSV."""
    if row.dimension == "campaign":
        return DIMENSION_NAMES["campaign"]
    if row.dimension == "channel":
        return CHANNEL_NAMES.get(row.key, row.key) if row.key else "(chưa mời)"
    if row.dimension == "province":
        return row.name or province_names.get(row.key, row.key) or "(chưa xác định)"
    return row.name or row.key or "(chưa phân công)"


def _table(rows: list[FunnelRow], province_names: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        counts = row.counts
        invited = counts["invited"]
        confirmed_rate = counts["request_confirmed"] / invited if invited else 0.0
        out.append(
            {
                "key": row.key,
                "name": group_name(row, province_names),
                "cells": [charts.number(counts[label]) for label in TABLE_STEPS],
                "confirmed": charts.percent(counts["request_confirmed"], invited),
                "done": charts.percent(counts["done"], invited),
                "bar": round(100 * min(confirmed_rate, 1.0)),
            }
        )
    return out


def _store_choices(
    request: web.Request, query: ReportQuery, report: Report
) -> list[tuple[str, str]]:
    """Stores to filter on: the chosen province's teams, else those in the figures."""
    province = query.scope.province
    if province is not None:
        directory = console_of(request).ready_store.service.directory
        found = {t.id: t.name for t in directory.teams.values() if t.province_code == province}
    else:
        found = {r.key: r.name or r.key for r in report.of("store") if r.key}
    if query.scope.store:
        found.setdefault(query.scope.store, query.scope.store)
    return sorted(found.items(), key=lambda item: item[1])


@require()
async def funnel_page(request: web.Request) -> web.StreamResponse:
    _, query, report = await _report(request)
    names = console_of(request).province_names
    stores = _store_choices(request, query, report)
    context = {
        "q": query,
        "query": query.query(),
        "total": report.total,
        "bars": charts.conversion_bars(report.total),
        "days_chart": charts.day_chart([(d.day, d.counts) for d in report.days]),
        "days": [
            {"day": f"{d.day:%d/%m/%Y}", "cells": [charts.number(d.counts[k]) for k in DAY_COLUMNS]}
            for d in reversed(report.days)
        ],
        "day_columns": [charts.SHORT_NAMES[k] for k in DAY_COLUMNS],
        "table_columns": [charts.SHORT_NAMES[k] for k in TABLE_STEPS],
        "channels": _table(report.of("channel"), names),
        "provinces": _table(report.of("province"), names),
        "stores": _table(report.of("store"), names),
        "channel_choices": sorted(
            set(CHANNEL_NAMES) | {r.key for r in report.of("channel") if r.key}
        ),
        "channel_names": CHANNEL_NAMES,
        "store_choices": stores,
    }
    return aiohttp_jinja2.render_template("funnel.html", request, context)


def report_csv(query: ReportQuery, report: Report, province_names: dict[str, str]) -> str:
    """The page's figures as CSV: one line per group, then one per day; a share of the
    invited after each step. UTF-8 BOM and CRLF (Excel), formula-safe cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # excel dialect: CRLF
    steps = [label for label in LABELS if label != "targets"]
    writer.writerow(
        [
            "Chiến dịch",
            "Nhóm",
            "Mã",
            "Tên",
            *(charts.STEP_NAMES[label] for label in LABELS),
            *(f"% {charts.STEP_NAMES[label]} / đã mời" for label in steps[1:]),
        ]
    )
    campaign = query.campaign or ""
    for row in report.rows:
        invited = row.counts["invited"]
        writer.writerow(
            [
                _cell(campaign),
                DIMENSION_NAMES[row.dimension],
                _cell(row.key),
                _cell(group_name(row, province_names)),
                *(row.counts[label] for label in LABELS),
                *(_share(row.counts[label], invited) for label in steps[1:]),
            ]
        )
    for day in report.days:
        invited = day.counts["invited"]
        writer.writerow(
            [
                _cell(campaign),
                DIMENSION_NAMES["day"],
                day.day.isoformat(),
                f"{day.day:%d/%m/%Y}",
                "",
                *(day.counts[label] for label in steps),
                *(_share(day.counts[label], invited) for label in steps[1:]),
            ]
        )
    return "\ufeff" + buffer.getvalue()


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else ""


def _cell(value: str) -> str:
    return "'" + value if value[:1] in {"=", "+", "-", "@", "\t", "\r"} else value


@require()
async def funnel_csv(request: web.Request) -> web.StreamResponse:
    user, query, report = await _report(request)
    body = report_csv(query, report, console_of(request).province_names)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M")
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", query.campaign or "none")[:40]
    log.info("console: %s exported the funnel of %s (%s)", user.username, slug, query.query())
    return web.Response(
        body=body.encode("utf-8"),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="pheu-{slug}-{stamp}.csv"',
        },
    )


@require()
async def api_funnel(request: web.Request) -> web.StreamResponse:
    _, query, report = await _report(request)
    names = console_of(request).province_names
    return web.json_response(
        {
            "campaign": query.campaign,
            "campaigns": query.campaigns,
            "scope": {
                "province": query.scope.province,
                "channel": query.scope.channel,
                "store": query.scope.store,
            },
            "groups": [
                {
                    "dimension": row.dimension,
                    "key": row.key,
                    "name": group_name(row, names),
                    "counts": row.counts,
                }
                for row in report.rows
            ],
            "days": [{"day": d.day.isoformat(), "counts": d.counts} for d in report.days],
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/funnel", funnel_page)
    app.router.add_get("/funnel.csv", funnel_csv)
    app.router.add_get("/api/funnel", api_funnel)
