"""Invitation templates: SMS segment counting and the channel checks."""

from __future__ import annotations

from bot.campaign.cli import main
from bot.campaign.templates import check, load_templates, sms_length


def test_gsm7_single_and_concatenated():
    assert sms_length("a" * 160) == sms_length("a" * 160)
    assert sms_length("a" * 160).segments == 1
    assert sms_length("a" * 161).segments == 2
    assert sms_length("a" * 306).segments == 2
    assert sms_length("a" * 307).segments == 3
    assert sms_length("").segments == 0


def test_gsm7_extension_counts_double_and_is_not_split():
    length = sms_length("{" * 80)
    assert (length.encoding, length.units, length.segments) == ("GSM-7", 160, 1)
    assert sms_length("{" * 81).segments == 2
    # 152 septets then an escape pair: the pair moves whole to the next part.
    assert sms_length("a" * 152 + "€" + "a" * 10).segments == 2


def test_vietnamese_is_ucs2():
    assert sms_length("Đổi SIM 4G").encoding == "UCS-2"
    assert sms_length("ạ" * 70).segments == 1
    assert sms_length("ạ" * 71).segments == 2
    assert sms_length("ạ" * 134).segments == 2
    assert sms_length("ạ" * 135).segments == 3
    assert sms_length("Doi SIM 4G mien phi").encoding == "GSM-7"
    assert sms_length("😀").units == 2


def test_shipped_templates_pass(tmp_path, capsys):
    assert check(load_templates()) == []
    assert main(["campaign", "check-templates"]) == 0
    assert "GSM-7" in capsys.readouterr().out


def test_problems_are_reported(tmp_path):
    bad = tmp_path / "t.yml"
    bad.write_text(
        "samples: {link: 'http://x.vn/#t=abc', hotline: '9090'}\n"
        "channels:\n"
        "  sms: {kind: sms, max_segments: 1, requires: [link, hotline]}\n"
        "  liveinfo: {kind: text, max_chars: 20, requires: [hotline]}\n"
        "  zalo_message: {kind: text, max_chars: 2000, requires: [link]}\n"
        "templates:\n"
        "  sms: 'Đổi SIM 4G miễn phí tại nhà, gọi {hotline} hoặc mở {link} ngay hôm nay nhé'\n"
        "  liveinfo: 'Quý khách đồng ý đổi SIM 4G? {hotline}'\n"
        "  zalo_message: 'Mở {link} {name}'\n",
        encoding="utf-8",
    )
    problems = [str(p) for p in check(load_templates(bad))]
    assert any(p.startswith("sms: 2 SMS segments (UCS-2") for p in problems)
    assert any(p.startswith("liveinfo:") and "limit 20" in p for p in problems)
    assert any("unknown placeholder(s): name" in p for p in problems)
    assert main(["campaign", "check-templates", str(bad)]) == 1
