from __future__ import annotations

import io
import json

from bot.requests import RequestDraft
from bot.requests.cli import main


def test_export_jsonl_prints_every_request_with_full_data(service, store_url):
    a = service.submit(
        RequestDraft(
            "sim_swap",
            "0901234567",
            "rest",
            "u",
            address_text="12 Lý Thường Kiệt",
            units={"province_code": "01", "ward_code": "00070"},
        )
    )
    b = service.submit(
        RequestDraft("advice", "0931234567", "zalo", "z", units={"province_code": "92"})
    )
    service.transition(b.reference, "cancelled", "operator:1", "duplicate call")

    out = io.StringIO()
    assert main(["requests", "export", "--format", "jsonl", "--url", store_url], out=out) == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["reference"] for r in rows] == [a.reference, b.reference]
    assert rows[0]["phone"] == "+84901234567"
    assert rows[0]["address_text"] == "12 Lý Thường Kiệt"
    assert rows[0]["route_rule"] == "ward:00070"
    assert rows[1]["status"] == "cancelled" and rows[1]["closed_at"]

    csv_out = io.StringIO()
    assert main(["requests", "export", "--format", "csv", "--url", store_url], out=csv_out) == 0
    lines = csv_out.getvalue().splitlines()
    assert lines[0].startswith("reference,") and len(lines) == 3


def test_db_upgrade_on_a_fresh_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    out = io.StringIO()
    assert main(["db", "upgrade", "--url", url], out=out) == 0
    assert "head" in out.getvalue()
    export = io.StringIO()
    assert main(["requests", "export", "--url", url], out=export) == 0
    assert export.getvalue() == ""


def test_check_directory(tmp_path, capsys):
    out = io.StringIO()
    assert main(["requests", "check-directory"], out=out) == 0
    assert "34 provinces" in out.getvalue()
    bad = tmp_path / "bad.yml"
    bad.write_text("version: 1\nregions: []\nprovinces: []\n", encoding="utf-8")
    assert main(["requests", "check-directory", str(bad)]) == 1
    assert f"{bad}:3:" in capsys.readouterr().err
