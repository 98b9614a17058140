"""``python -m bot.address`` and ``python -m bot address`` print the resolution as JSON."""

from __future__ import annotations

import json
import subprocess
import sys

from bot.address.__main__ import main


def test_main_with_and_without_the_command_word(capsys) -> None:
    assert main(["12/3 Le Van Sy P13 Q3 tphcm"]) == 0
    direct = json.loads(capsys.readouterr().out)
    assert main(["address", "12/3 Le Van Sy P13 Q3 tphcm"]) == 0
    via_bot = json.loads(capsys.readouterr().out)
    assert direct == via_bot
    assert direct["province_name"] == "Thành phố Hồ Chí Minh"
    assert direct["old_district_name"] == "Quận 3"


def test_main_in_province(capsys) -> None:
    assert main(["--province", "01", "p kim lien"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ward_name"] == "Phường Kim Liên"


def test_module_prints_unescaped_vietnamese() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.address", "phuong kim lien, dong da, ha noi"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Thành phố Hà Nội" in done.stdout
    assert json.loads(done.stdout)["status"] == "resolved"
