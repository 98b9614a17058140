"""Segmentation exclusions and the per-store call lists; the funnel counts."""

from __future__ import annotations

import csv
import datetime as dt

from sqlalchemy import insert, update

from bot.campaign import funnel
from bot.campaign.importer import import_targets
from bot.campaign.schema import campaign_targets
from bot.campaign.segment import display_phone, excel_safe, export_call_lists
from bot.campaign.store import opt_out, record_step
from bot.outreach import Answer, OutreachStore
from bot.requests.schema import request_events
from tests.campaign.conftest import insert_request, insert_team, write_csv

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

LIST = (
    "phone,ward,province\n"
    "0901000001,Phường Ba Đình,Hà Nội\n"  # stays
    "0901000002,Phường Ngọc Hà,Hà Nội\n"  # Liveinfo No → excluded
    "0901000003,Phường Ba Đình,Hà Nội\n"  # No then Yes → stays
    "0901000004,Phường Hải Châu,Đà Nẵng\n"  # opted out
    "0901000005,Phường Hải Châu,Đà Nẵng\n"  # open request → excluded
    "0901000006,,Đà Nẵng\n"  # cancelled request → stays
    "0901000007,,Hồ Chí Minh\n"  # done request → excluded
)


def _request(conn, rid, phone, status, campaign="c1"):
    insert_request(
        conn,
        rid,
        phone,
        status,
        channel="liveinfo",
        campaign=campaign,
        created_at=T0 + dt.timedelta(hours=1),
        updated_at=T0,
    )


def _setup(engine, tmp_path):
    path = write_csv(tmp_path / "c1.csv", LIST)
    result = import_targets(engine, path, "c1", progress=False)
    assert result.inserted == 7
    answers = OutreachStore(engine)
    answers.record(
        [
            Answer("a1", "+84901000002", "c1", "NO", T0),
            Answer("a2", "+84901000003", "c1", "NO", T0),
            Answer("a3", "+84901000003", "c1", "YES", T0 + dt.timedelta(minutes=5)),
            Answer("a4", "+84901000001", "other", "NO", T0),  # another campaign
        ]
    )
    opt_out(engine, "+84901000004", "sms")
    with engine.begin() as conn:
        insert_team(conn, "48", "MobiFone Đà Nẵng", T0)
        _request(conn, 1, "+84901000005", "accepted")
        _request(conn, 2, "+84901000006", "cancelled")
        _request(conn, 3, "+84901000007", "done")
        conn.execute(
            insert(request_events),
            [
                {"request_id": 1, "to_status": "accepted", "actor": "t", "created_at": T0},
                {"request_id": 3, "to_status": "accepted", "actor": "t", "created_at": T0},
                {"request_id": 3, "to_status": "done", "actor": "t", "created_at": T0},
            ],
        )


def _read(path):
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_export_one_list_per_store_without_excluded(engine, tmp_path):
    _setup(engine, tmp_path)
    lists = export_call_lists(engine, "c1", tmp_path / "out", by="store")
    files = {item.key: item for item in lists}
    assert set(files) == {"st-hn-badinh", "p48"}
    assert files["st-hn-badinh"].rows == 2
    rows = _read(files["st-hn-badinh"].path)
    assert rows[0][:3] == ["STT", "Số thuê bao", "Nhà mạng"]
    assert [r[1] for r in rows[1:]] == ["090 100 0001", "090 100 0003"]
    assert rows[1][8] == "Nguyễn Văn An"
    assert rows[1][11].startswith("KB-CSKH")  # outbound-call script reference
    assert [r[1] for r in _read(files["p48"].path)[1:]] == ["090 100 0006"]
    assert files["p48"].path.read_bytes().startswith(b"\xef\xbb\xbf")

    by_province = export_call_lists(engine, "c1", tmp_path / "prov", by="province")
    assert {item.key: item.rows for item in by_province} == {"01": 2, "48": 1}


def test_excel_safety():
    assert excel_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert excel_safe("+84") == "'+84"
    assert excel_safe("@x") == "'@x"
    assert excel_safe("Phường 1") == "Phường 1"
    assert excel_safe(None) == ""
    assert display_phone("+84901234567") == "090 123 4567"


def test_funnel_counts_per_dimension(engine, tmp_path):
    _setup(engine, tmp_path)
    with engine.begin() as conn:
        conn.execute(
            update(campaign_targets)
            .where(
                campaign_targets.c.phone_e164.in_(["+84901000002", "+84901000003", "+84901000005"])
            )
            .values(invited_at=T0, channel="liveinfo")
        )
        conn.execute(
            update(campaign_targets)
            .where(campaign_targets.c.phone_e164.in_(["+84901000001", "+84901000007"]))
            .values(invited_at=T0, channel="sms")
        )
    assert record_step(engine, "c1", "+84901000003", "conversation_at")
    assert record_step(engine, "c1", "+84901000003", "address_at")
    assert not record_step(engine, "c1", "+84909999999", "address_at")
    funnel.sync(engine, "c1")
    funnel.sync(engine, "c1")  # idempotent
    rows = funnel.funnel(engine, "c1")
    total = next(r for r in rows if r.dimension == "campaign").counts
    assert total == {
        "targets": 7,
        "invited": 5,
        "answered_yes_or_clicked": 1,
        "conversation_started": 1,
        "address_given": 1,
        "request_confirmed": 3,  # requests 1, 2, 3 carry campaign c1
        "accepted_by_team": 2,
        "done": 1,
        "answered_no": 2,
        "opted_out": 1,
        "unreachable": 0,
    }
    channels = {r.key: r.counts["invited"] for r in rows if r.dimension == "channel"}
    assert channels == {"liveinfo": 3, "sms": 2, "": 0}
    provinces = {r.key: r.counts["targets"] for r in rows if r.dimension == "province"}
    assert provinces == {"01": 3, "48": 3, "79": 1}
    stores = {r.key: r.counts["done"] for r in rows if r.dimension == "store"}
    assert stores == {"st-hn-badinh": 0, "pos-dn-haichau": 0, "p48": 0, "p79": 1}
    text = funnel.to_csv(rows)
    assert text.splitlines()[0].startswith("dimension,key,name,targets,invited")
    assert "store,p79" in text
