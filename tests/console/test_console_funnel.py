"""The campaign funnel page, its CSV and JSON, through the real app on SQLite and PostgreSQL:
server-drawn charts, and a province team that never sees another province's figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from sqlalchemy import text, update

from bot.campaign.importer import import_targets
from bot.campaign.schema import campaign_targets
from bot.campaign.store import record_step

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
# Hà Nội 6 targets, Hồ Chí Minh 4, Đà Nẵng 3: every province's totals differ.
LIST = (
    "phone,ward,province\n"
    "0901000001,Phường Ba Đình,Hà Nội\n"
    "0901000002,Phường Ba Đình,Hà Nội\n"
    "0901000003,Phường Ngọc Hà,Hà Nội\n"
    "0901000004,Phường Ngọc Hà,Hà Nội\n"
    "0901000005,,Hà Nội\n"
    "0901000006,,Hà Nội\n"
    "0902000001,,Hồ Chí Minh\n"
    "0902000002,,Hồ Chí Minh\n"
    "0902000003,,Hồ Chí Minh\n"
    "0902000004,,Hồ Chí Minh\n"
    "0903000001,Phường Hải Châu,Đà Nẵng\n"
    "0903000002,Phường Hải Châu,Đà Nẵng\n"
    "0903000003,,Đà Nẵng\n"
)
CAMPAIGN_TABLES = "campaigns, campaign_targets, campaign_sends, campaign_optouts, liveinfo_answers"


@pytest.fixture
def campaign(store, directory, tmp_path):
    """Campaign ``c1``: everyone invited (Hà Nội and Đà Nẵng by SMS, HCM by Liveinfo),
    a few further along, on two days."""
    engine = store.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {CAMPAIGN_TABLES} RESTART IDENTITY CASCADE"))
    path = tmp_path / "c1.csv"
    path.write_text(LIST, encoding="utf-8")
    result = import_targets(engine, path, "c1", directory=directory, progress=False)
    assert result.inserted == 13
    t = campaign_targets
    with engine.begin() as conn:
        conn.execute(
            update(t).where(t.c.province_code == "79").values(invited_at=T0, channel="liveinfo")
        )
        conn.execute(
            update(t).where(t.c.province_code != "79").values(invited_at=T0, channel="sms")
        )
    later = T0 + dt.timedelta(days=1)
    for phone in ("+84901000001", "+84901000002", "+84902000001"):
        assert record_step(engine, "c1", phone, "answered_at", at=T0)
        assert record_step(engine, "c1", phone, "confirmed_at", at=later)
    assert record_step(engine, "c1", "+84901000001", "done_at", at=later)
    assert record_step(engine, "c1", "+84902000002", "refused_at", at=T0)
    return "c1"


async def _json(client, url):
    response = await client.get(url)
    assert response.status == 200, await response.text()
    return await response.json()


def _groups(body):
    return {(g["dimension"], g["key"]): g["counts"] for g in body["groups"]}


async def test_page_draws_the_funnel_server_side(make_client, login, campaign):
    client = await make_client()
    await login(client, "op")

    response = await client.get("/funnel?campaign=c1")

    assert response.status == 200
    page = await response.text()
    assert 'class="chart funnel-bars"' in page and 'class="chart days"' in page
    bars = dict(re.findall(r"<title>([^<:]+): ([\d.]+)", page))
    assert bars["Trong danh sách"] == "13"
    assert bars["Đã mời"] == "13"
    assert bars["Đồng ý / nhấn link"] == "3"
    assert bars["Xác nhận yêu cầu"] == "3"
    assert bars["Hoàn thành"] == "1"
    assert bars["Trả lời Không"] == "1"
    assert "06/01/2026: Xác nhận yêu cầu 3, Hoàn thành 1" in page  # requests per day
    for name in ("Hà Nội", "Hồ Chí Minh", "Đà Nẵng", "Liveinfo", "SMS"):
        assert name in page
    # Nothing fetched from elsewhere: no script, no external stylesheet or image.
    assert "<script" not in page
    assert not re.search(r"""(?:src|href)=["']https?://""", page)


async def test_json_and_csv_carry_the_same_figures(make_client, login, campaign):
    client = await make_client()
    await login(client, "admin")
    body = await _json(client, "/api/funnel?campaign=c1")
    groups = _groups(body)
    assert groups[("campaign", "")]["targets"] == 13
    assert {k: v["targets"] for (d, k), v in groups.items() if d == "province"} == {
        "01": 6,
        "48": 3,
        "79": 4,
    }
    assert groups[("channel", "liveinfo")]["invited"] == 4
    assert [d["day"] for d in body["days"]] == ["2026-01-05", "2026-01-06"]

    response = await client.get("/funnel.csv?campaign=c1")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    raw = await response.read()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:5] == ["Chiến dịch", "Nhóm", "Mã", "Tên", "Trong danh sách"]
    by_key = {(r[1], r[2]): dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert by_key[("Tỉnh/thành", "79")]["Trong danh sách"] == "4"
    assert by_key[("Toàn chiến dịch", "")]["Xác nhận yêu cầu"] == "3"
    assert by_key[("Toàn chiến dịch", "")]["% Xác nhận yêu cầu / đã mời"] == "23.1"
    assert by_key[("Ngày", "2026-01-06")]["Hoàn thành"] == "1"
    assert len(rows) == 1 + len(body["groups"]) + len(body["days"])


async def test_province_team_sees_only_its_own_figures(make_client, login, campaign):
    client = await make_client()
    await login(client, "hanoi")

    body = await _json(client, "/api/funnel?campaign=c1")
    groups = _groups(body)
    assert body["scope"]["province"] == "01"
    assert groups[("campaign", "")]["targets"] == 6
    assert groups[("campaign", "")]["request_confirmed"] == 2
    assert [k for d, k in groups if d == "province"] == ["01"]
    assert ("channel", "liveinfo") not in groups  # only HCM was invited by Liveinfo
    stores = [k for d, k in groups if d == "store"]
    assert stores and all(k.startswith(("st-hn", "p01")) for k in stores)

    page = await (await client.get("/funnel?campaign=c1")).text()
    assert "Hồ Chí Minh" not in page and "Đà Nẵng" not in page
    assert re.search(r"<title>Trong danh sách: 6<", page)

    raw = (await (await client.get("/funnel.csv?campaign=c1")).read()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw)))
    assert {r[2] for r in rows[1:] if r[1] == "Tỉnh/thành"} == {"01"}
    assert "Hồ Chí Minh" not in raw and "Đà Nẵng" not in raw
    assert rows[1][4] == "6"  # the campaign line counts Hà Nội only

    # Asking for another province or its store, in any form, is refused.
    for query in ("province=79", "store=p79", "province=79&store=p79", "store=pos-dn-haichau"):
        for path in ("/funnel", "/funnel.csv", "/api/funnel"):
            response = await client.get(f"{path}?campaign=c1&{query}")
            assert response.status == 403, (path, query)
            assert "Hồ Chí Minh" not in await response.text()
    own = await _json(client, "/api/funnel?campaign=c1&province=01&store=st-hn-badinh")
    assert _groups(own)[("campaign", "")]["targets"] == 4


async def test_other_team_and_operator_views(make_client, login, campaign):
    hcm = await make_client()
    await login(hcm, "hcm")
    groups = _groups(await _json(hcm, "/api/funnel?campaign=c1"))
    assert groups[("campaign", "")]["targets"] == 4
    assert groups[("campaign", "")]["answered_no"] == 1

    op = await make_client()
    await login(op, "op")
    narrowed = _groups(await _json(op, "/api/funnel?campaign=c1&province=48&channel=sms"))
    assert narrowed[("campaign", "")]["targets"] == 3
    assert (
        _groups(await _json(op, "/api/funnel?campaign=c1&channel=zalo"))[("campaign", "")][
            "targets"
        ]
        == 0
    )


async def test_bad_funnel_queries_are_4xx(make_client, login, campaign):
    anonymous = await make_client()
    assert (await anonymous.get("/api/funnel")).status == 401
    redirect = await anonymous.get("/funnel.csv", allow_redirects=False)
    assert redirect.status == 303 and redirect.headers["Location"] == "/login"

    client = await make_client()
    await login(client, "op")
    for query, status in (
        ("campaign=nope", 404),
        ("campaign=c1&province=xx", 400),
        ("campaign=c1&channel=SMS%3Bdrop", 400),
        ("campaign=c1&store=../etc", 400),
    ):
        for path in ("/funnel", "/funnel.csv", "/api/funnel"):
            response = await client.get(f"{path}?{query}")
            assert response.status == status, (path, query)


async def test_page_without_any_campaign(make_client, login, store):
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {CAMPAIGN_TABLES} RESTART IDENTITY CASCADE"))
    client = await make_client()
    await login(client, "hanoi")
    page = await client.get("/funnel")
    assert page.status == 200
    assert "Chưa có chiến dịch nào" in await page.text()
    body = await _json(client, "/api/funnel")
    assert body["campaign"] is None and body["groups"][0]["counts"]["targets"] == 0
