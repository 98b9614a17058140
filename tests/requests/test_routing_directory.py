"""A broken directory fails as a whole, naming the file and the line."""

from __future__ import annotations

import pytest

from bot.routing import DEFAULT_DIRECTORY, DirectoryError, load_directory, parse_directory

SHIPPED = DEFAULT_DIRECTORY.read_text(encoding="utf-8")


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = text.splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if needle in line]
    assert len(hits) >= occurrence, needle
    return hits[occurrence - 1]


def at(text: str, needle: str, occurrence: int = 1) -> str:
    return f"dir.yml:{line_of(text, needle, occurrence)}:"


def fails(text: str, *fragments: str) -> str:
    with pytest.raises(DirectoryError) as info:
        parse_directory(text, "dir.yml")
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_shipped_directory_is_complete():
    directory = load_directory()
    assert len(directory.provinces) == 34
    assert len(directory.regions) == 9
    assert directory.wards and directory.zones


def test_unknown_province_code():
    text = SHIPPED.replace('- code: "96"', '- code: "35"')
    fails(text, at(text, 'code: "35"'), "unknown province code '35'")


def test_province_missing_from_file():
    lines = SHIPPED.splitlines()
    start = line_of(SHIPPED, '- code: "92"') - 1
    del lines[start : start + 4]
    text = "\n".join(lines)
    fails(text, at(text, "provinces:"), "without a team", "92 Cần Thơ")


def test_province_without_team():
    text = SHIPPED.replace(
        '    team: {id: p92, name: "MobiFone Cần Thơ", chat_id: null, escalation_chat_id: null}\n',
        "",
    )
    fails(text, at(text, 'code: "92"'), "province 92", "has no team")


def test_duplicate_province():
    block = SHIPPED[SHIPPED.index('  - code: "92"') : SHIPPED.index('  - code: "96"')]
    duplicate = block.replace("id: p92,", "id: p92b,").replace("id: p92-rr,", "id: p92b-rr,")
    text = SHIPPED.replace(block, block + duplicate)
    fails(
        text,
        at(text, 'code: "92"', 2),
        "duplicate province 92",
        "line {}".format(line_of(text, 'code: "92"')),
    )


def test_duplicate_ward_entry():
    text = SHIPPED + '  - code: "00070"\n    team: p01\n'
    fails(text, at(text, 'code: "00070"', 2), "duplicate ward 00070")


def test_unknown_ward_code():
    text = SHIPPED + '  - code: "99999"\n    team: p01\n'
    fails(text, at(text, "99999"), "unknown ward code '99999'")


def test_ward_team_must_be_a_ward_kind_and_exist():
    text = SHIPPED + '  - code: "00025"\n    team: p01\n'
    fails(text, at(text, "team: p01"), "province, not allowed")
    text = SHIPPED + '  - code: "00025"\n    team: st-nowhere\n'
    fails(text, at(text, "st-nowhere"), "unknown team 'st-nowhere'")


def test_duplicate_team_id():
    text = SHIPPED.replace("id: pos-dn-haichau,", "id: ag-hcm-thudaumot,")
    fails(text, at(text, "Điểm bán hàng Hải Châu"), "duplicate team id")


def test_duplicate_yaml_key():
    text = SHIPPED.replace("    region: ctkv9\n", "    region: ctkv9\n    region: ctkv9x\n", 1)
    fails(text, at(text, "region: ctkv9x"), "duplicate key")


def test_zone_errors():
    text = SHIPPED.replace("to: 2025-07-14", "to: 2025-06-14")
    fails(text, at(text, "to: 2025-06-14"), "ends before it starts")
    text = SHIPPED.replace('old_district: "493"', 'old_district: "999"')
    fails(text, at(text, 'old_district: "999"'), "unknown old district")
    text = SHIPPED.replace("inside_zone: rz-2025-hn-hongha", "inside_zone: rz-nowhere")
    fails(text, at(text, "rz-nowhere"), "unknown restricted zone")


def test_unknown_field_and_bad_chat_id():
    text = SHIPPED.replace("    region: ctkv9\n", "    regoin: ctkv9\n    region: ctkv9\n", 1)
    fails(text, at(text, "regoin"), "unknown field 'regoin'")
    text = SHIPPED.replace(
        'name: "MobiFone Cần Thơ", chat_id: null', 'name: "MobiFone Cần Thơ", chat_id: "abc"'
    )
    fails(text, at(text, 'chat_id: "abc"'), "Telegram chat id")


def test_load_names_the_file(tmp_path):
    path = tmp_path / "directory.yml"
    path.write_text("version: 1\nregions: [\n", encoding="utf-8")
    with pytest.raises(DirectoryError, match=str(path)):
        load_directory(path)
    with pytest.raises(DirectoryError, match="cannot read"):
        load_directory(tmp_path / "missing.yml")
