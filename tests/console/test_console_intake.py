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
