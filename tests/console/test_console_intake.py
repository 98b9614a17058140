"""The 9090 operators' intake: the same validation, dedupe and routing as the bot."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from bot.requests.schema import sim_requests


def count(store) -> int:
    with store.sessions() as session:
        return session.execute(select(func.count()).select_from(sim_requests)).scalar_one()


async def test_intake_form_routes_by_the_resolved_address(make_client, login, store):
    client = await make_client()
    csrf = await login(client, "op")
    page = await client.get("/intake")
    assert "Nhập yêu cầu" in await page.text()

    response = await client.post(
        "/intake",
        data={
            "csrf_token": csrf,
            "request_type": "sim_swap",
            "phone": "090 312 3456",
            "contact_name": "Chị Hoa",
            "address_text": "12 Phố Huế, phường Hai Bà Trưng, Hà Nội",
            "province_code": "",
        },
    )

    body = await response.text()
    assert response.status == 201, body
    reference = re.search(r"4G-[0-9A-Z]{4}-[0-9A-Z]{4}", body).group(0)
    assert str(response.url).endswith("/intake")  # no phone or address in any URL
    view = store.service.get(reference)
    assert view.channel == "operator"
    assert view.created_by == "console:op"
    assert view.phone == "+84903123456"
    assert view.province_code == "01"
    assert view.ward_code == "00256"
    assert view.team_id == "p01"
    assert view.route_rule == "province:01"


async def test_intake_api_explicit_province_dedupe_and_errors(make_client, login, store):
    client = await make_client()
    csrf = await login(client, "op")
    headers = {"X-CSRF-Token": csrf}
    entry = {
        "request_type": "advice",
        "phone": "0903999888",
        "address_text": "nhà bà Tư cạnh chợ",
        "province_code": "79",
        "callback_requested": True,
    }

    created = await client.post("/api/requests", json=entry, headers=headers)
    assert created.status == 201
    first = await created.json()
    assert first["created"] is True
    assert first["team_id"] == "p79"
    again = await client.post("/api/requests", json=entry, headers=headers)
    assert again.status == 200
    second = await again.json()
    assert second["created"] is False
    assert second["reference"] == first["reference"]
    assert store.service.get(first["reference"]).callback_requested is True
    assert count(store) == 1

    bad_phone = await client.post(
        "/api/requests", json={**entry, "phone": "12345"}, headers=headers
    )
    assert bad_phone.status == 400
    assert "Số điện thoại" in (await bad_phone.json())["error"]
    no_province = await client.post(
        "/api/requests",
        json={"request_type": "sim_swap", "phone": "0903777666", "address_text": "abc xyz"},
        headers=headers,
    )
    assert no_province.status == 400
    assert "tỉnh/thành" in (await no_province.json())["error"]
    bad_type = await client.post(
        "/api/requests", json={**entry, "request_type": "pizza"}, headers=headers
    )
    assert bad_type.status == 400
    unknown_province = await client.post(
        "/api/requests",
        json={**entry, "phone": "0903777666", "province_code": "99"},
        headers=headers,
    )
    assert unknown_province.status == 400
    too_long = await client.post(
        "/api/requests", json={**entry, "note": "x" * 5000}, headers=headers
    )
    assert too_long.status == 400
    wrong_shape = await client.post(
        "/api/requests", json={**entry, "phone": ["0903777666"]}, headers=headers
    )
    assert wrong_shape.status == 400
    assert count(store) == 1


async def test_intake_form_errors_keep_the_input(make_client, login, store):
    client = await make_client()
    csrf = await login(client, "op")
    response = await client.post(
        "/intake",
        data={
            "csrf_token": csrf,
            "request_type": "sim_swap",
            "phone": "0903123456",
            "address_text": "abc xyz",
        },
    )
    assert response.status == 400
    body = await response.text()
    assert "hãy chọn tỉnh/thành" in body
    assert 'value="0903123456"' in body
    assert count(store) == 0


async def test_intake_asks_the_current_ward_of_an_old_district(make_client, login, store):
    # "Quận 3" is three wards since 2025: as the chat asks the customer, the operator picks
    # the caller's ward (it decides the sales force), or "Không rõ" for the province team.
    client = await make_client()
    csrf = await login(client, "op")
    entry = {
        "csrf_token": csrf,
        "request_type": "sim_swap",
        "phone": "0903123470",
        "address_text": "12 Nguyễn Đình Chiểu, Quận 3, TP HCM",
    }
    asked = await client.post("/intake", data=entry)
    body = await asked.text()
    assert asked.status == 400, body
    assert '<select name="ward_code"' in body
    for code, name in (("27154", "Bàn Cờ"), ("27142", "Nhiêu Lộc"), ("27139", "Xuân Hòa")):
        assert f'<option value="{code}">Phường {name}, Thành phố Hồ Chí Minh</option>' in body
    assert "12 Nguyễn Đình Chiểu, Quận 3, TP HCM" in body  # the input kept
    assert count(store) == 0

    picked = await client.post("/intake", data={**entry, "ward_code": "27139"})
    body = await picked.text()
    assert picked.status == 201, body
    reference = re.search(r"4G-[0-9A-Z]{4}-[0-9A-Z]{4}", body).group(0)
    view = store.service.get(reference)
    assert (view.province_code, view.ward_code) == ("79", "27139")


async def _wards_asked(make_client, login, phone: str, address: str) -> dict[str, str]:
    """The wards the intake API asks the operator to pick from (label → code)."""
    client = await make_client()
    csrf = await login(client, "op")
    entry = {"request_type": "sim_swap", "phone": phone, "address_text": address}
    asked = await client.post("/api/requests", json=entry, headers={"X-CSRF-Token": csrf})
    assert asked.status == 400
    return {ward["label"]: ward["ward_code"] for ward in (await asked.json())["wards"]}


async def test_intake_lists_every_ward_of_a_district_of_many(make_client, login, store):
    # Đống Đa became seven wards: more than the chat's buttons, not more than a drop-down.
    wards = await _wards_asked(
        make_client, login, "0903123473", "25 ngõ 3 Thái Hà, Đống Đa, Hà Nội"
    )
    assert len(wards) == 7, wards
    assert "Phường Văn Miếu - Quốc Tử Giám, Thành phố Hà Nội" in wards
    assert count(store) == 0


async def test_intake_wards_of_different_old_districts_name_them(make_client, login, store):
    # "Phường 1, Vĩnh Long": a Phường 1 in several old cities of the merged province; the
    # caller names the old city, so the drop-down says it beside each new ward.
    wards = await _wards_asked(make_client, login, "0903123474", "Phường 1, Vĩnh Long")
    assert wards["Phường Long Châu (TP Vĩnh Long), Tỉnh Vĩnh Long"] == "29551", wards
    assert "Phường Trà Vinh (TP Trà Vinh), Tỉnh Vĩnh Long" in wards
    assert count(store) == 0


async def test_intake_api_ward_unknown_or_not_offered(make_client, login, store):
    client = await make_client()
    csrf = await login(client, "op")
    headers = {"X-CSRF-Token": csrf}
    entry = {
        "request_type": "sim_swap",
        "phone": "0903123471",
        "address_text": "12 Nguyễn Đình Chiểu, Quận 3, TP HCM",
    }
    asked = await client.post("/api/requests", json=entry, headers=headers)
    assert asked.status == 400
    answer = await asked.json()
    assert [ward["ward_code"] for ward in answer["wards"]] == ["27154", "27142", "27139"]
    # A ward not among those offered is refused the same way, nothing stored.
    wrong = await client.post(
        "/api/requests", json={**entry, "ward_code": "00256"}, headers=headers
    )
    assert wrong.status == 400
    assert len((await wrong.json())["wards"]) == 3
    assert count(store) == 0
    # The caller does not know it: the province team gets the request and asks.
    unknown = await client.post(
        "/api/requests", json={**entry, "ward_code": answer["ward_unknown"]}, headers=headers
    )
    assert unknown.status == 201
    view = store.service.get((await unknown.json())["reference"])
    assert (view.province_code, view.ward_code) == ("79", None)
    # An address that names its ward is never asked.
    named = await client.post(
        "/api/requests",
        json={**entry, "phone": "0903123472", "address_text": "12/3 Le Van Sy P13 Q3 tphcm"},
        headers=headers,
    )
    assert named.status == 201
    assert store.service.get((await named.json())["reference"]).ward_code == "27142"
