"""Target-list import: header mapping, BOM/semicolon, rejects with line numbers, idempotency."""

from __future__ import annotations

import csv
import itertools
import random
import time

import pytest
from sqlalchemy import select

from bot import phone as phones
from bot.campaign import importer
from bot.campaign.importer import (
    ImportFileError,
    PhoneMemo,
    header_field,
    import_targets,
    sniff_delimiter,
)
from bot.campaign.schema import campaign_targets
from tests.campaign.conftest import write_csv

LIST = (
    "Số điện thoại;Địa chỉ;Phường/Xã;Quận/Huyện;Tỉnh/Thành phố\n"
    "0901234567;12 Lê Lợi;Phường Ba Đình;;Hà Nội\n"
    "+84 90 123 4568;;Phường Bến Nghé;Quận 1;TP Hồ Chí Minh\n"
    "abc;;;;Hà Nội\n"
    "0911234567;;Phường Hải Châu;;Đà Nẵng\n"
    "\n"
    "0901234569;;;;\n"
    "0901234567;;;;Hà Nội\n"
    "0701234560;;xyz qwerty;;\n"
)


def _targets(engine):
    with engine.connect() as conn:
        rows = conn.execute(
            select(campaign_targets).order_by(campaign_targets.c.source_line)
        ).mappings()
        return [dict(r) for r in rows]


def test_header_names_map_in_both_languages():
    assert header_field("Số điện thoại") == "phone"
    assert header_field("SĐT") == "phone"
    assert header_field("msisdn") == "phone"
    assert header_field("so_thue_bao") == "phone"
    assert header_field("Địa chỉ") == "address"
    assert header_field("Phường/Xã") == "ward"
    assert header_field("quan_huyen") == "district"
    assert header_field("Tỉnh/Thành phố") == "province"
    assert header_field("Ghi chú") is None
    assert sniff_delimiter("a;b;c") == ";"
    assert sniff_delimiter("a,b") == ","


def test_import_bom_semicolon_rejects_and_idempotent(engine, tmp_path):
    path = write_csv(tmp_path / "list.csv", LIST, bom=True)
    result = import_targets(engine, path, "t1", progress=False)
    assert (result.rows, result.inserted, result.duplicates, result.rejected) == (7, 4, 1, 2)

    with result.rejects_path.open(encoding="utf-8-sig", newline="") as handle:
        rejects = list(csv.reader(handle))
    assert rejects[0][:3] == ["line", "reason", "Số điện thoại"]
    assert [r[0] for r in rejects[1:]] == ["4", "9"]  # file line numbers, header = 1
    assert rejects[1][1].startswith("invalid phone")
    assert rejects[2][1] == "address not found"

    rows = _targets(engine)
    by_phone = {r["phone_e164"]: r for r in rows}
    assert set(by_phone) == {"+84901234567", "+84901234568", "+84911234567", "+84901234569"}
    hn = by_phone["+84901234567"]
    assert (hn["team_id"], hn["staff_name"], hn["route_rule"]) == (
        "st-hn-badinh",
        "Nguyễn Văn An",
        "ward:00004",
    )
    assert hn["source_line"] == 2  # the first occurrence wins over line 8
    assert by_phone["+84901234568"]["route_rule"] == "province:79"  # province fallback
    assert by_phone["+84911234567"]["team_id"] == "pos-dn-haichau"
    assert by_phone["+84901234569"]["team_id"] is None  # no address: unassigned list

    again = import_targets(engine, path, "t1", progress=False)
    assert (again.inserted, again.duplicates, again.rejected) == (0, 5, 2)
    assert _targets(engine) == rows

    other = import_targets(engine, path, "t2", progress=False)
    assert other.inserted == 4  # the same subscriber may be in another campaign


def test_import_comma_utf8_without_bom_english_headers(engine, tmp_path):
    path = write_csv(
        tmp_path / "en.csv",
        'msisdn,address\n84901234567,"Phường Hải Châu, Đà Nẵng"\n0901234568,"Ngọc Hà, Hà Nội"\n',
    )
    result = import_targets(engine, path, "en", progress=False, batch_rows=1)
    assert (result.inserted, result.rejected) == (2, 0)
    teams = {r["phone_e164"]: r["team_id"] for r in _targets(engine)}
    assert teams == {"+84901234567": "pos-dn-haichau", "+84901234568": "st-hn-badinh"}


def test_file_without_phone_column_is_refused(engine, tmp_path):
    path = write_csv(tmp_path / "bad.csv", "name;address\nAn;Hà Nội\n")
    with pytest.raises(ImportFileError, match="phone"):
        import_targets(engine, path, "bad", progress=False)


def test_phone_memo_agrees_with_bot_phone():
    """The prefix memo must decide exactly as bot.phone.parse does."""
    rng = random.Random(7)
    memo = PhoneMemo()
    for _ in range(3000):
        nsn = str(rng.randint(100_000_000, 999_999_999))
        raw = rng.choice(["0" + nsn, "+84" + nsn, "84" + nsn, "0" + nsn[:3] + " " + nsn[3:]])
        try:
            expected = phones.parse(raw)
        except phones.InvalidPhoneError:
            with pytest.raises(phones.InvalidPhoneError):
                memo.parse(raw)
            continue
        assert memo.parse(raw) == (expected.e164, expected.carrier)


def test_structured_columns_are_looked_up_directly():
    from bot.campaign.units import lookup

    exact = lookup("Xã Hợp Thành", "", "Tỉnh Lào Cai")  # free text calls this ambiguous
    assert (exact.status, exact.province_code, exact.ward_code) == ("resolved", "15", "02680")
    old = lookup("P13", "Q3", "tphcm")
    assert (old.province_code, old.ward_code, old.old_district_name) == ("79", "27142", "Quận 3")
    assert lookup("", "", "Hà Nội").status == "province_only"
    assert lookup("Phường Không Có", "", "Hà Nội") is None  # left to the resolver


def test_cli_import_and_funnel_csv(db_url, tmp_path, capsys):
    from bot.__main__ import main

    path = write_csv(tmp_path / "cli.csv", "sdt;tinh\n0901234567;Hà Nội\n0901;Hà Nội\n")
    args = ["campaign", "import", str(path), "--campaign", "cli", "--no-progress"]
    assert main([*args, "--url", db_url]) == 0
    out = capsys.readouterr().out
    assert "2 rows: 1 imported, 0 already in the campaign, 1 rejected" in out
    assert (
        main(["campaign", "funnel", "--campaign", "cli", "--format", "csv", "--url", db_url]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("dimension,key,name,targets")
    assert lines[1].startswith("campaign,,,1,0")


def test_first_line_wins_across_batches_written_side_by_side(engine, tmp_path, monkeypatch):
    """Tiny batches on two connections, every other one slowed down so later batches
    commit first: a phone repeated while its earlier batch is in flight, or after,
    keeps its first line."""
    real_write = importer._Writer.write
    calls = itertools.count()

    def write_slowly(self, rows):
        if next(calls) % 2 == 0:
            time.sleep(0.02)
        return real_write(self, rows)

    monkeypatch.setattr(importer._Writer, "write", write_slowly)
    rng = random.Random(11)
    phones_ = [f"09012{i:05d}" for i in range(40)]
    lines = ["sdt;tinh"] + [f"{rng.choice(phones_)};Hà Nội" for _ in range(300)]
    path = write_csv(tmp_path / "dups.csv", "\n".join(lines) + "\n")
    first_line = {}
    for number, text_ in enumerate(lines[1:], start=2):
        first_line.setdefault("+84" + text_.split(";")[0][1:], number)

    result = import_targets(engine, path, "a", progress=False, batch_rows=3, writers=2)

    assert (result.rows, result.inserted, result.rejected) == (300, len(first_line), 0)
    assert result.duplicates == 300 - len(first_line)
    stored = {r["phone_e164"]: r["source_line"] for r in _targets(engine)}
    assert stored == first_line
