from __future__ import annotations

from datetime import date

import pytest

from bot.routing import UnknownUnit, official_provinces, parse_directory, route, unit_key

ZONE_ON = date(2025, 7, 5)  # inside rz-2025-hn-hongha (2025-07-01 .. 2025-07-14)
AFTER = date(2025, 9, 1)


def test_every_current_province_routes_to_its_own_team(directory):
    provinces = official_provinces()
    assert len(provinces) == 34
    regions = set()
    for code in provinces:
        decision = directory.route({"province_code": code}, on=AFTER)
        assert decision.rule == f"province:{code}"
        assert decision.team.kind == "province"
        assert decision.team.province_code == code
        assert directory.rapid_response_team(code).province_code == code
        regions.add(directory.provinces[code].region_id)
    assert len(regions) == 9


def test_ward_entry_wins_over_province(directory):
    decision = directory.route({"province_code": "01", "ward_code": "00070"}, on=AFTER)
    assert (decision.team.id, decision.rule) == ("ws-hn-hoankiem", "ward:00070")
    shared = directory.route({"province_code": "01", "ward_code": "00008"}, on=AFTER)
    assert (shared.team.id, shared.rule) == ("st-hn-badinh", "ward:00008")
    # A ward without an entry falls back to the province team.
    other = directory.route({"province_code": "01", "ward_code": "00025"}, on=AFTER)
    assert (other.team.id, other.rule) == ("p01", "province:01")


def test_customer_in_restricted_ward_goes_through_local_management_unit(directory):
    units = {"province_code": "01", "ward_code": "00097"}
    inside = directory.route(units, on=ZONE_ON)
    assert inside.rule == "restricted-zone:rz-2025-hn-hongha"
    assert inside.team.kind == "local_management"
    assert inside.team.id == "lmu-hn-00097"
    assert "UBND phường Hồng Hà" in inside.delivery_note
    assert inside.zone_id == "rz-2025-hn-hongha"
    # Dates are inclusive; outside them the ordinary rule applies.
    assert directory.route(units, on=date(2025, 7, 14)).rule.startswith("restricted-zone:")
    assert directory.route(units, on=date(2025, 7, 15)).rule == "province:01"
    assert directory.route(units, on=date(2025, 6, 30)).rule == "province:01"
    # The local unit has no chat: its province team's chat is used.
    assert directory.chat_for(inside.team.id) == directory.chat_for("p01")


@pytest.mark.parametrize(
    "units",
    [
        {"old_district_name": "Quận Sơn Trà", "old_province_name": "Thành phố Đà Nẵng"},
        {"old_district_name": "son tra", "old_province_name": "da nang"},
        {"old_district_name": "Sơn Trà"},  # old province unknown: the new one decides
        {"old_district_code": "493"},
    ],
)
def test_old_district_zone_matches_old_names(directory, units):
    decision = directory.route({"province_code": "48", **units}, on=date(2025, 8, 3))
    assert decision.rule == "restricted-zone:rz-2025-dn-sontra"
    assert directory.route({"province_code": "48", **units}, on=AFTER).rule == "province:48"


def test_old_district_zone_does_not_leak(directory):
    on = date(2025, 8, 3)
    other_district = {"province_code": "48", "old_district_name": "Quận Hải Châu"}
    assert directory.route(other_district, on=on).rule == "province:48"
    other_province = {
        "province_code": "48",
        "old_district_name": "Sơn Trà",
        "old_province_name": "Quảng Nam",
    }
    assert directory.route(other_province, on=on).rule == "province:48"


def test_staff_inside_zone_hands_over_to_rapid_response(directory):
    units = {"province_code": "01", "ward_code": "00070"}
    decision = directory.route(units, on=ZONE_ON)
    assert decision.rule == "staff-in-zone:00070:rz-2025-hn-hongha"
    assert decision.team.id == "p01-rr"
    assert decision.team.kind == "rapid_response"
    assert "Trần Thị Bình" in decision.delivery_note
    assert directory.route(units, on=AFTER).rule == "ward:00070"


def test_staff_flagged_without_dates(directory):
    text = _shipped().replace(
        'staff: {name: "Lê Văn Cường"}', 'staff: {name: "Lê Văn Cường", inside_zone: true}'
    )
    flagged = parse_directory(text, "flagged.yml")
    decision = flagged.route({"province_code": "79", "ward_code": "25747"}, on=AFTER)
    assert (decision.team.id, decision.rule) == ("p79-rr", "staff-in-zone:25747:*")


def test_unknown_province_is_an_error(directory):
    with pytest.raises(UnknownUnit):
        directory.route({"province_code": "35"})
    with pytest.raises(UnknownUnit):
        directory.route({})


def test_ward_of_another_province_is_ignored(directory):
    # A resolver slip (ward of Hà Nội, province Cần Thơ) must not cross provinces.
    decision = directory.route({"province_code": "92", "ward_code": "00070"}, on=AFTER)
    assert decision.rule == "province:92"


def test_chat_fallbacks(directory):
    text = (
        _shipped()
        .replace(
            'team: {id: p01, name: "MobiFone Hà Nội", chat_id: null, escalation_chat_id: null}',
            'team: {id: p01, name: "MobiFone Hà Nội", chat_id: -1001, escalation_chat_id: -1002}',
        )
        .replace(
            '{id: ctkv2, name: "Công ty Dịch vụ MobiFone Khu vực 2", chat_id: null}',
            '{id: ctkv2, name: "Công ty Dịch vụ MobiFone Khu vực 2", chat_id: -2002}',
        )
    )
    custom = parse_directory(text, "chats.yml")
    assert custom.chat_for("ws-hn-hoankiem") == -1001
    assert custom.escalation_chat_for("ws-hn-hoankiem") == -1002
    assert custom.escalation_chat_for("ag-hcm-thudaumot") == -2002
    assert custom.chat_for("nope") is None


def test_module_level_route_uses_shipped_directory():
    assert route({"province_code": "96"}).team.id == "p96"


def test_unit_key_folds_prefixes_and_diacritics():
    assert unit_key("Quận Ba Đình") == unit_key("ba dinh") == unit_key("Q. Ba Đình")
    assert unit_key("Thành phố Đà Nẵng") == "da nang"
    assert unit_key("Quận 1") == "1"


def _shipped() -> str:
    from bot.routing import DEFAULT_DIRECTORY

    return DEFAULT_DIRECTORY.read_text(encoding="utf-8")
