"""Each check of the script lint, passing and failing, on a small script."""

from __future__ import annotations

import pytest

from bot.scriptlint import lint, main, phone_numbers, secret_requests


def messages(paths) -> list[str]:
    return [str(p) for p in lint(paths)]


def test_the_small_script_passes(script):
    assert messages(script) == []


def test_cli_exit_codes(script, edit, capsys):
    assert main(["--root", str(script.root)]) == 0
    edit(script.domain, "Em đã ghi nhận ạ.", "Gọi 0901234567 ạ.")
    assert main(["--root", str(script.root)]) == 1
    out = capsys.readouterr().out
    assert "domain.yml:" in out and "0901234567" in out and " — " in out


# -- examples ---------------------------------------------------------------------------


def test_too_few_examples_without_diacritics_names_the_intent_line(script, edit):
    nlu = script.root / "data" / "nlu.yml"
    edit(nlu, "    - toi muon doi sim\n", "")
    found = messages(script)
    assert len(found) == 1
    assert found[0].startswith("data/nlu.yml:")
    line = int(found[0].split(":")[1])
    assert nlu.read_text().splitlines()[line - 1] == "- intent: request_sim_swap"
    assert "9 câu không dấu" in found[0] and "request_sim_swap" in found[0]


def test_too_few_examples_with_diacritics(script, edit):
    edit(script.root / "data" / "nlu.yml", "    - tôi muốn đổi sim\n", "")
    (found,) = messages(script)
    assert "9 câu mẫu có dấu" in found


def test_faq_key_has_its_own_lower_bound(script, edit):
    edit(script.root / "data" / "nlu.yml", "    - doi sim co mat phi ko 0\n", "")
    (found,) = messages(script)
    assert "faq/is_free" in found and "ít nhất 8" in found


def test_intent_in_domain_without_examples(script, edit):
    edit(script.domain, "  - faq\n", "  - faq\n  - thank\n")
    (found,) = messages(script)
    assert found.startswith("domain.yml:") and "'thank' có 0" in found


# -- duplicates ---------------------------------------------------------------------------


def test_same_example_in_two_intents_after_folding_case_and_spaces(script, edit):
    edit(
        script.root / "data" / "nlu.yml",
        "    - hello shop\n",
        "    - Hello shop\n    - Đổi  SIM tại nhà\n",
    )
    (found,) = messages(script)
    assert "thuộc cả" in found and "request_sim_swap" in found and "greet" in found
    lines = (script.root / "data" / "nlu.yml").read_text().splitlines()
    second, first = int(found.split(":")[1]), int(found.split("(data/nlu.yml:")[1].split(")")[0])
    assert lines[first - 1] == "    - Đổi  SIM tại nhà"  # greet comes first in the file
    assert lines[second - 1] == "    - đổi sim tại nhà"


def test_duplicate_within_one_intent_is_not_this_checks_business(script, edit):
    edit(
        script.root / "data" / "nlu.yml",
        "    - hello shop\n",
        "    - hello shop\n    - HELLO shop\n",
    )
    assert messages(script) == []


# -- responses used ------------------------------------------------------------------------


def test_unused_response(script, edit):
    edit(script.domain, "responses:\n", 'responses:\n  utter_orphan:\n    - text: "Dạ."\n')
    (found,) = messages(script)
    assert "utter_orphan" in found and "- action: utter_orphan" in found


def test_response_used_only_by_custom_action_counts(script, edit):
    edit(script.root / "actions" / "say.py", 'response="utter_from_action"', 'response="utter_x"')
    (found,) = messages(script)
    assert "utter_from_action" in found


def test_form_question_counts_as_used(script, edit):
    edit(script.domain, "      - phone_number\n", "      - address\n")
    found = messages(script)
    assert any("utter_ask_phone_number" in f for f in found)


def test_faq_answer_without_examples_is_unused(script, edit):
    edit(
        script.domain,
        "  utter_faq/is_free:",
        '  utter_faq/duration:\n    - text: "Dạ 10 phút."\n  utter_faq/is_free:',
    )
    (found,) = messages(script)
    assert "utter_faq/duration" in found and "faq/duration" in found


def test_faq_key_without_answer(script, edit):
    edit(script.domain, "utter_faq/is_free", "utter_faq/other")
    found = messages(script)
    assert any("'faq/is_free' chưa có câu trả lời" in f for f in found)


# -- OTP / password -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Quý khách cung cấp mã OTP giúp em ạ.",
        "Quy khach cung cap ma OTP giup em",
        "Cho em xin mật khẩu ứng dụng ạ",
        "cho em xin mat khau nhe",
        "Quý khách đọc mã OTP được không?",  # "không" as the question particle
        "doc ma otp duoc khong a",
        "Em không hỏi mật khẩu, nhưng Quý khách đọc giúp em mã OTP nhé.",
        "Vui lòng nhập password vào đây",
        "Quý khách dùng mã xác thực vừa nhận để đổi SIM.",  # "dùng" is not "đừng"
        "Không cần ra cửa hàng, Quý khách đọc mã OTP cho nhân viên là được.",
    ],
)
def test_requests_for_secrets_are_found(text):
    assert secret_requests(text)


@pytest.mark.parametrize(
    "text",
    [
        "MobiFone KHÔNG BAO GIỜ hỏi mã OTP hay mật khẩu của Quý khách.",
        "MobiFone KHONG BAO GIO hoi ma OTP",
        "Tuyệt đối không đọc mã OTP cho người khác.",
        "tuyet doi khong doc ma otp cho ai",
        "Quý khách đừng đọc mã OTP cho ai.",
        "Nhân viên KHÔNG hỏi mật khẩu.",
        "Không cung cấp mật khẩu cho bất kỳ ai.",
        "Không hỏi mã OTP, mật khẩu hay mã PIN của khách.",  # one negation, a list
        "Đổi SIM miễn phí, giữ nguyên số.",
    ],
)
def test_warnings_not_to_share_secrets_are_allowed(text):
    assert secret_requests(text) == []


def test_otp_request_in_a_response_is_reported(script, edit):
    edit(script.domain, "Em đã ghi nhận ạ.", "Quý khách đọc giúp em mã OTP ạ.")
    (found,) = messages(script)
    assert "OTP" in found and "không bao giờ" in found


# -- phone numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Gọi 0901 234 567 nhé",
        "số 090.123.4567",
        "+84 90 123 4567",
        "liên hệ 028 3822 1234",
        "gọi 1800 1090",
        "tổng đài 18001090",
        "gọi tổng đài 999 ạ",
    ],
)
def test_phone_numbers_are_found(text):
    assert phone_numbers(text)


@pytest.mark.parametrize(
    "text",
    [
        "Gọi tổng đài 9090 ạ",
        "số di động, ví dụ 09x xxx xxxx",
        "điện thoại từ năm 2016",
        "chỉ mất 5 đến 10 phút",
        "không bấm **21* hay *21*",
    ],
)
def test_hotline_and_other_numbers_are_allowed(text):
    assert phone_numbers(text) == []


def test_phone_number_in_a_button_title(script, edit):
    edit(script.domain, 'title: "Đổi SIM 4G"', 'title: "Gọi 0901234567"')
    (found,) = messages(script)
    assert "0901234567" in found


# -- buttons ----------------------------------------------------------------------------------


def _buttons(count: int, title: str = "Nút", payload: str = "/greet") -> str:
    return "".join(
        f'        - title: "{title} {i}"\n          payload: {payload}\n' for i in range(count)
    )


def test_six_buttons_are_too_many_for_zalo(script, edit):
    edit(
        script.domain,
        '        - title: "Đổi SIM 4G"\n          payload: /request_sim_swap\n',
        _buttons(6),
    )
    (found,) = messages(script)
    assert "Zalo" in found and "6 nút" in found


def test_six_buttons_are_fine_beside_a_zalo_variation_of_five(script, edit):
    # The hint's way out: Zalo gets its own variation (same condition), the others six.
    edit(
        script.domain,
        '        - title: "Đổi SIM 4G"\n          payload: /request_sim_swap\n',
        _buttons(6)
        + '    - text: "Xin chào!"\n      channel: zalo\n      buttons:\n'
        + _buttons(5),
    )
    assert messages(script) == []
    # A Zalo variation of six is still too many.
    edit(
        script.domain,
        _buttons(6) + '    - text: "Xin chào!"',
        _buttons(5) + '    - text: "Xin chào!"',
    )
    edit(
        script.domain,
        "channel: zalo\n      buttons:\n" + _buttons(5),
        "channel: zalo\n      buttons:\n" + _buttons(6),
    )
    (found,) = messages(script)
    assert "Zalo" in found and "6 nút" in found


def test_facebook_variation_may_have_more_than_five(script, edit):
    edit(
        script.domain,
        '    - text: "Xin chào! Gọi 9090 khi cần ạ."\n',
        '    - text: "Xin chào!"\n      channel: facebook\n',
    )
    edit(
        script.domain,
        '        - title: "Đổi SIM 4G"\n          payload: /request_sim_swap\n',
        _buttons(13),
    )
    assert messages(script) == []


def test_fourteen_buttons_are_too_many_for_facebook(script, edit):
    edit(
        script.domain,
        '    - text: "Xin chào! Gọi 9090 khi cần ạ."\n',
        '    - text: "Xin chào!"\n      channel: facebook\n',
    )
    edit(
        script.domain,
        '        - title: "Đổi SIM 4G"\n          payload: /request_sim_swap\n',
        _buttons(14),
    )
    (found,) = messages(script)
    assert "Facebook" in found and "14 nút" in found


def test_long_title(script, edit):
    edit(script.domain, 'title: "Đổi SIM 4G"', 'title: "Đăng ký đổi SIM 4G ngay"')  # 23 characters
    (found,) = messages(script)
    assert "23 ký tự" in found


def test_title_of_twenty_vietnamese_characters_fits(script, edit):
    edit(script.domain, 'title: "Đổi SIM 4G"', 'title: "Đăng ký thuê bao mới"')  # 20 characters
    assert messages(script) == []


def test_payload_over_64_utf8_bytes(script, edit):
    long = "/inform" + '{"address":"' + "phường " * 6 + '"}'
    edit(script.domain, "payload: /request_sim_swap", f"payload: '{long}'")
    (found,) = messages(script)
    assert "Telegram" in found and "byte" in found


def test_slot_filled_buttons_are_left_to_the_connector(script, edit):
    edit(
        script.domain,
        'title: "Đổi SIM 4G"\n          payload: /request_sim_swap',
        'title: "{address_choice_1}"\n          payload: "{address_choice_1}"',
    )
    assert messages(script) == []


# -- story ends ---------------------------------------------------------------------------------


def test_story_ending_on_the_customer_turn(script, edit):
    edit(
        script.root / "data" / "stories.yml",
        "      - action: utter_done\n",
        "      - action: utter_done\n      - intent: greet\n",
    )
    (found,) = messages(script)
    assert found.startswith("data/stories.yml:") and "lượt của khách" in found
    line = int(found.split(":")[1])
    assert (
        "intent: greet" in (script.root / "data" / "stories.yml").read_text().splitlines()[line - 1]
    )


def test_rule_ending_with_active_loop_after_action_is_fine(script, edit):
    edit(
        script.root / "data" / "rules.yml",
        "      - action: utter_greet\n",
        "      - action: utter_greet\n      - active_loop: null\n",
    )
    assert messages(script) == []


# -- YAML and guides ----------------------------------------------------------------------------


def test_broken_yaml_reports_its_line(script, edit):
    edit(script.root / "data" / "rules.yml", "  - rule: faq\n", "  - rule: faq\n   bad: [\n")
    found = messages(script)
    assert any(f.startswith("data/rules.yml:") and "YAML" in f for f in found)


def test_guide_with_unknown_key_and_empty_section(script, edit):
    guide = script.root / "guides" / "outbound_call.yml"
    edit(guide, "  - title: Khách hỏi\n", "  - title: Trống\n  - title: Khách hỏi\n    sai: 1\n")
    found = messages(script)
    assert any("guides/outbound_call.yml:" in f and "không có nội dung" in f for f in found)
    assert any("khóa lạ 'sai'" in f for f in found)


def test_guide_asking_for_otp_or_giving_a_number(script, edit):
    guide = script.root / "guides" / "outbound_call.yml"
    edit(guide, "Gọi trong giờ hành chính.", "Xin khách mã OTP để xác minh, gọi lại 0912345678.")
    found = messages(script)
    assert any("OTP" in f for f in found) and any("0912345678" in f for f in found)


# -- lookup tables ------------------------------------------------------------------------

LOOKUPS = """version: "3.1"
nlu:
  - lookup: request_kind
    examples: |
      - doi sim
      - đổi sim
      - mua sim moi
  - synonym: sim_swap
    examples: |
      - doi sim
      - đổi sim
  - synonym: new_subscription
    examples: |
      - mua sim moi
"""


def test_lookup_phrases_each_with_one_synonym_pass(script):
    (script.root / "data" / "lookups.yml").write_text(LOOKUPS, encoding="utf-8")
    assert messages(script) == []


def _lookups(script, lookup: list[str], **synonyms: list[str]) -> None:
    lines = ['version: "3.1"', "nlu:", "  - lookup: request_kind", "    examples: |"]
    lines += [f"      - {phrase}" for phrase in lookup]
    for value, phrases in synonyms.items():
        lines += [f"  - synonym: {value}", "    examples: |"]
        lines += [f"      - {phrase}" for phrase in phrases]
    (script.root / "data" / "lookups.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_lookup_phrase_without_its_synonym_is_named(script):
    _lookups(script, ["doi sim", "lam sim moi"], sim_swap=["doi sim"])
    (found,) = messages(script)
    assert found.startswith("data/lookups.yml:6:") and "'lam sim moi'" in found


def test_a_lookup_phrase_with_two_values_is_named(script):
    _lookups(script, ["doi sim"], sim_swap=["doi sim"], new_subscription=["Doi sim"])
    (found,) = messages(script)
    assert "new_subscription, sim_swap" in found


def test_a_phrase_inside_another_kinds_phrase_is_named(script):
    # "sim moi" inside "mua sim moi" is harmless (one kind); inside "đổi sim mới" it is not.
    _lookups(script, ["mua sim moi", "sim moi"], new_subscription=["mua sim moi", "sim moi"])
    assert messages(script) == []
    _lookups(
        script,
        ["sim moi", "đổi sim mới"],
        new_subscription=["sim moi"],
        sim_swap=["đổi sim mới"],
    )
    (found,) = messages(script)
    assert found.startswith("data/lookups.yml:5:")
    assert "'sim moi' (new_subscription) nằm trong cụm 'doi sim moi' (sim_swap)" in found
