"""Segmentation: who may still be invited or called, and the call list of each store/team.

Plan §1: each store / district sales team gets its part of the list with its named
responsible staff member; plan §2: a subscriber who answered No on Liveinfo, opted out,
or already has a request (open or done) is not invited or called again. The exclusion is
one SQL predicate (:func:`eligible`) shared by the exporter and the sender.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, exists, not_, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement

from bot.campaign.schema import campaign_optouts, campaign_targets, campaigns
from bot.campaign.store import UnknownCampaign
from bot.outreach import liveinfo_answers
from bot.requests.schema import sim_requests

# A request in one of these states no longer stops invitations (it failed or was dropped).
_DEAD_REQUEST = ("unreachable", "cancelled")
BY_CHOICES = ("store", "province")
UNASSIGNED = "_chua-phan-cong"  # file of targets without a team (no address given)

HEADER = (
    "STT",
    "Số thuê bao",
    "Nhà mạng",
    "Địa chỉ",
    "Phường/Xã",
    "Quận/Huyện (cũ)",
    "Tỉnh/Thành phố",
    "Đơn vị phụ trách",
    "Nhân viên phụ trách",
    "SĐT nhân viên",
    "Quy tắc phân công",
    "Kịch bản gọi",
    "Kết quả gọi",
    "Ghi chú",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SAFE_NAME = re.compile(r"[^a-z0-9_.\-]")


def eligible(campaign_name: str) -> ColumnElement[bool]:
    """SQL: this target may be invited / called (no No, no opt-out, no live request)."""
    t = campaign_targets
    no, yes = liveinfo_answers.alias("no_answer"), liveinfo_answers.alias("yes_answer")
    # The latest answer decides (has_refused's rule): a No not followed by a Yes.
    later_yes = select(yes.c.id).where(
        yes.c.msisdn == no.c.msisdn,
        yes.c.campaign == no.c.campaign,
        yes.c.answer == "YES",
        yes.c.answered_at > no.c.answered_at,
    )
    last_is_no = exists(
        select(no.c.id).where(
            no.c.msisdn == t.c.phone_e164,
            no.c.campaign == campaign_name,
            no.c.answer == "NO",
            not_(exists(later_yes)),
        )
    )
    opted_out = exists(
        select(campaign_optouts.c.phone_e164).where(campaign_optouts.c.phone_e164 == t.c.phone_e164)
    )
    has_request = exists(
        select(sim_requests.c.id).where(
            sim_requests.c.phone_e164 == t.c.phone_e164,
            sim_requests.c.status.not_in(_DEAD_REQUEST),
        )
    )
    return and_(
        t.c.refused_at.is_(None),
        t.c.opted_out_at.is_(None),
        t.c.done_at.is_(None),
        not_(last_is_no),
        not_(opted_out),
        not_(has_request),
    )


def excel_safe(value: object) -> str:
    """A cell Excel shows as text: no formula (``=``, ``+``, ``-``, ``@`` start)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def display_phone(e164: str) -> str:
    """``+84901234567`` → ``090 123 4567``: Excel keeps the 0, staff dial it as shown."""
    national = "0" + e164.removeprefix("+84")
    return f"{national[:3]} {national[3:6]} {national[6:]}"


@dataclass(frozen=True)
class CallList:
    """One written file."""

    key: str
    name: str
    path: Path
    rows: int


def export_call_lists(
    engine: Engine,
    campaign: str,
    out_dir: str | Path,
    *,
    by: str = "store",
    script_ref: str | None = None,
) -> list[CallList]:
    """One CSV per store/team (or province) of the eligible targets; UTF-8 with BOM."""
    if by not in BY_CHOICES:
        raise ValueError(f"--by must be one of {', '.join(BY_CHOICES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t = campaign_targets
    key_col, name_col = (
        (t.c.team_id, t.c.team_name) if by == "store" else (t.c.province_code, t.c.province_name)
    )
    with engine.connect() as conn:
        row = conn.execute(
            select(campaigns.c.id, campaigns.c.script_ref).where(campaigns.c.name == campaign)
        ).first()
        if row is None:
            raise UnknownCampaign(f"unknown campaign {campaign!r}")
        cid, stored_ref = row
        script = script_ref or stored_ref or default_script_ref()
        stmt = (
            select(
                key_col.label("key"),
                name_col.label("name"),
                t.c.phone_e164,
                t.c.carrier,
                t.c.address_text,
                t.c.ward_name,
                t.c.old_district_name,
                t.c.province_name,
                t.c.team_name,
                t.c.staff_name,
                t.c.staff_phone,
                t.c.route_rule,
            )
            .where(t.c.campaign_id == cid, eligible(campaign))
            .order_by(key_col, t.c.ward_code, t.c.phone_e164)
        )
        lists: list[CallList] = []
        current: dict[str, Any] | None = None
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(stmt)
        for item in result:
            key = item.key or ""
            if current is None or current["key"] != key:
                if current is not None:
                    lists.append(_close(current))
                current = _open(out, by, key, item.name)
            current["rows"] += 1
            current["writer"].writerow(
                [
                    current["rows"],
                    display_phone(item.phone_e164),
                    *(
                        excel_safe(v)
                        for v in (
                            item.carrier,
                            item.address_text,
                            item.ward_name,
                            item.old_district_name,
                            item.province_name,
                            item.team_name,
                            item.staff_name,
                            item.staff_phone,
                            item.route_rule,
                            script,
                        )
                    ),
                    "",
                    "",
                ]
            )
        if current is not None:
            lists.append(_close(current))
    return lists


def _open(out: Path, by: str, key: str, name: str | None) -> dict[str, Any]:
    stem = _SAFE_NAME.sub("_", key.lower()) if key else UNASSIGNED
    if by == "province" and key:
        stem = f"tinh-{stem}"
    path = out / f"{stem}.csv"
    handle = path.open("w", encoding="utf-8-sig", newline="")
    writer = csv.writer(handle, dialect="excel")
    writer.writerow(HEADER)
    return {
        "key": key,
        "name": name or "",
        "path": path,
        "handle": handle,
        "writer": writer,
        "rows": 0,
    }


def _close(current: dict[str, Any]) -> CallList:
    current["handle"].close()
    return CallList(current["key"], current["name"], current["path"], current["rows"])


def default_script_ref() -> str:
    """The outbound-call script reference CSKH keeps in ``data/campaign/templates.yml``."""
    from bot.campaign.templates import load_templates

    return load_templates().call_script
