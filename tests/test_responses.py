"""Which variation of a response the slots pick, rendered by Rasa's own generator."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rasa_domain() -> Domain:
    return Domain.load(ROOT / "domain.yml")


async def _message(
    domain: Domain,
    response: str,
    channel: str = "rest",
    variables: dict[str, str] | None = None,
    **slots: object,
) -> dict:
    """One message of the response, rendered by Rasa's generator with these slots (and
    template ``variables``, as an action passes them to ``utter_message``)."""
    tracker = DialogueStateTracker.from_events(
        "responses", [SlotSet(name, value) for name, value in slots.items()], domain.slots
    )
    message = await TemplatedNaturalLanguageGenerator(domain.responses).generate(
        response, tracker, channel, **(variables or {})
    )
    assert message is not None
    return message


async def _texts(domain: Domain, response: str, **slots: str | None) -> set[str]:
    """Every text the response can give with these slots (variations are drawn at random)."""
    return {(await _message(domain, response, **slots))["text"] for _ in range(20)}


async def test_a_new_subscription_asks_a_number_to_call_back(rasa_domain):
    # A new subscriber has no MobiFone number yet ("chưa có số"): any number in use.
    (text,) = await _texts(rasa_domain, "utter_ask_phone_number", request_type="new_subscription")
    assert "mạng nào cũng được" in text
    (swap,) = await _texts(rasa_domain, "utter_ask_phone_number", request_type="sim_swap")
    assert "mạng nào" not in swap
    # The error variations win over it.
    for error in ("invalid", "missing", "this_number"):
        (wrong,) = await _texts(
            rasa_domain,
            "utter_ask_phone_number",
            request_type="new_subscription",
            phone_error=error,
        )
        assert "mạng nào" not in wrong and wrong != swap


async def test_this_number_is_told_the_chat_does_not_show_it(rasa_domain):
    # "Số này luôn" at the phone question: the question came back as it was.
    (text,) = await _texts(rasa_domain, "utter_ask_phone_number", phone_error="this_number")
    assert "không xem được số điện thoại" in text


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("cancelled", "đã hủy yêu cầu 4G-ABCD-2345"),
        ("kept", "vẫn được giữ"),
        ("kept_elsewhere", "số 0901234567 đã được gửi trước đó"),
        ("closed", "không còn gì để hủy"),
        ("not_yours", "9090"),
        ("error", "chưa hủy được"),
        (None, "em đã dừng lại"),
    ],
)
async def test_a_stop_after_a_request_was_sent_says_what_became_of_it(rasa_domain, status, words):
    (text,) = await _texts(
        rasa_domain,
        "utter_stopped",
        stop_status=status,
        request_reference="4G-ABCD-2345",
        submitted_phone="0901234567",
    )
    assert words in text


def test_no_two_conditional_variations_can_hold_at_once():
    # Rasa draws at random among every conditional variation whose conditions hold, so two
    # that can hold together give either text: "existing" alone beside "existing" +
    # "visited" told half the customers whose request the staff had visited that it was
    # still waiting. Each pair must differ on the value of some slot both name.
    responses = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    overlapping = []
    for name, variations in responses.items():
        conditional = [
            (v.get("channel"), {c["name"]: c.get("value") for c in v["condition"]})
            for v in variations
            if v.get("condition")
        ]
        for (channel_a, a), (channel_b, b) in itertools.combinations(conditional, 2):
            if channel_a == channel_b and not any(k in b and b[k] != v for k, v in a.items()):
                overlapping.append((name, a, b))
    assert overlapping == []


@pytest.mark.parametrize(
    ("slots", "words"),
    [
        # A request found again says where it stands.
        ({"submit_status": "existing", "request_status": "new"}, "đang chờ"),
        ({"submit_status": "existing", "request_status": "assigned"}, "đang chờ"),
        ({"submit_status": "existing", "request_status": "accepted"}, "đã nhận"),
        ({"submit_status": "existing", "request_status": "visited"}, "đã đến"),
        # A request stored says what comes next for its type. Advice is a call: "hẹn giờ
        # phục vụ tận nhà" promised a visit nobody asked for.
        ({"submit_status": "created", "submitted_type": "sim_swap"}, "phục vụ tận nhà"),
        ({"submit_status": "created", "submitted_type": "new_subscription"}, "phục vụ tận nhà"),
        ({"submit_status": "created", "submitted_type": "advice"}, "tư vấn"),
    ],
)
async def test_the_result_of_a_request_says_what_comes_next(rasa_domain, slots, words):
    (text,) = await _texts(
        rasa_domain,
        "utter_request_result",
        **slots,
        request_reference="4G-ABCD-2345",
        team_name="MobiFone Hà Nội",
    )
    assert words in text and "4G-ABCD-2345" in text


async def test_advice_asks_the_area_not_a_home_to_visit(rasa_domain):
    # Advice is a call from the area's team ("bỏ qua" there was told a SIM would be brought).
    (advice,) = await _texts(rasa_domain, "utter_ask_address", request_type="advice")
    assert "tư vấn" in advice and "tận nơi" not in advice
    (swap,) = await _texts(rasa_domain, "utter_ask_address", request_type="sim_swap")
    assert "tận nơi" in swap
    # A question about the address typed wins over it.
    (again,) = await _texts(
        rasa_domain,
        "utter_ask_address",
        request_type="advice",
        address_status="not_found",
        address_pending="123",
    )
    assert "123" in again
    for slot in ("phone_number", "address"):
        (text,) = await _texts(rasa_domain, "utter_required", requested_slot=slot)
        assert "mang SIM" not in text and "9090" in text


@pytest.mark.parametrize("count", [2, 3, 4, 5])
async def test_a_question_between_wards_of_one_province_offers_not_knowing(rasa_domain, count):
    # The wards' names are new since 2025: a customer in old Quận 5 may not know which of
    # its wards is theirs. Between wards of one province a "Không rõ" button (/skip: the
    # province taken, the team calls back); between provinces no such button.
    choices = {f"address_choice_{i}": f"Phường {i}, Tỉnh X" for i in range(1, count + 1)}
    slots = {
        "address_status": "ambiguous",
        "address_pending": "123/4 Nguyễn Trãi, Q.5, HCM",
        "address_choice_count": str(count),
        **choices,
    }
    ward = await _message(rasa_domain, "utter_ask_address", **slots, address_choice_scope="ward")
    assert "Không rõ" in ward["text"] and "123/4 Nguyễn Trãi, Q.5, HCM" in ward["text"]
    assert [b["title"] for b in ward["buttons"]] == [*choices.values(), "Không rõ"]
    assert ward["buttons"][-1]["payload"] == "/skip"
    area = await _message(rasa_domain, "utter_ask_address", **slots)
    assert [b["title"] for b in area["buttons"]] == list(choices.values())
    # Zalo shows five buttons: five wards leave "không rõ" to be typed, as its text says.
    zalo = await _message(
        rasa_domain, "utter_ask_address", "zalo", **slots, address_choice_scope="ward"
    )
    titles = [b["title"] for b in zalo["buttons"]]
    assert len(titles) <= 5 and titles[:count] == list(choices.values())[:5]
    assert ('nhắn "không rõ"' in zalo["text"]) == (count == 5)


@pytest.mark.parametrize(
    ("slots", "words"),
    [
        ({"status_check": "found", "request_status": "new"}, "đang chờ"),
        ({"status_check": "found", "request_status": "assigned"}, "đang chờ"),
        ({"status_check": "found", "request_status": "accepted"}, "đã có nhân viên"),
        ({"status_check": "found", "request_status": "visited"}, "đã đến"),
        ({"status_check": "found", "request_status": "done"}, "đã hoàn tất"),
        ({"status_check": "found", "request_status": "unreachable"}, "chưa liên lạc được"),
        ({"status_check": "found", "request_status": "cancelled"}, "đã được hủy"),
        ({"status_check": "none"}, "chưa thấy yêu cầu nào"),
        ({"status_check": "none_in_form"}, "xác nhận ở bước cuối"),
        ({"status_check": "error"}, "đang bận"),
    ],
)
async def test_how_a_request_stands_is_said_per_status(rasa_domain, slots, words):
    (text,) = await _texts(
        rasa_domain,
        "utter_request_status",
        **slots,
        request_reference="4G-ABCD-2345",
        team_name="MobiFone Cần Thơ",
    )
    assert words in text
    if slots["status_check"] == "found":
        assert "4G-ABCD-2345" in text
        # Open, or closed by the team for want of an answer: who is (was) to call.
        if slots["request_status"] not in ("done", "cancelled"):
            assert "MobiFone Cần Thơ" in text


async def test_other_requests_are_listed_with_their_numbers(rasa_domain):
    message = await _message(
        rasa_domain,
        "utter_other_requests",
        variables={
            "request_count": "2",
            "request_list": "4G-AAAA-BBBB (0901234594), 4G-CCCC-DDDD (0901234593)",
        },
    )
    assert "2 yêu cầu" in message["text"] and "4G-CCCC-DDDD (0901234593)" in message["text"]


async def test_a_corrected_number_is_read_back(rasa_domain):
    message = await _message(
        rasa_domain, "utter_phone_corrected", variables={"phone_number": "0903555116"}
    )
    assert "0903555116" in message["text"]


async def test_a_corrected_address_is_read_back(rasa_domain):
    message = await _message(
        rasa_domain,
        "utter_address_corrected",
        variables={
            "address": "12 pho hue",
            "address_label": "Phường Hai Bà Trưng, Thành phố Hà Nội",
        },
    )
    assert '"12 pho hue" (Phường Hai Bà Trưng, Thành phố Hà Nội)' in message["text"]


async def test_several_numbers_name_the_one_taken_and_the_others(rasa_domain):
    message = await _message(
        rasa_domain,
        "utter_one_number_at_a_time",
        variables={"phone_number": "0912111222", "phone_others": "0913111222"},
    )
    assert "0912111222" in message["text"] and "0913111222" in message["text"]
    assert "đổi sim cho số khác" in message["text"]


@pytest.mark.parametrize(
    ("offer", "request_type", "offered"),
    [
        ("home", "sim_swap", True),
        ("home", "new_subscription", True),
        ("home", "advice", True),
        # An advice request's area (no street) is no home to bring a SIM to.
        ("area", "sim_swap", False),
        ("area", "new_subscription", False),
        ("area", "advice", True),
    ],
)
async def test_the_next_request_offers_the_last_address(rasa_domain, offer, request_type, offered):
    # "đổi sim cho số khác" after a request: the home typed for the first SIM was asked
    # again from scratch. The question shows it with a yes button (validate_address takes
    # it: actions.form._previous_offered mirrors these conditions).
    message = await _message(
        rasa_domain,
        "utter_ask_address",
        request_type=request_type,
        address_offer=offer,
        previous_address="xom 2 xa Nghi Phong, Nghi Loc, Nghe An",
        previous_address_label="Xã Nghi Lộc, Tỉnh Nghệ An",
    )
    shown = "xom 2 xa Nghi Phong, Nghi Loc, Nghe An" in message["text"]
    assert shown is offered
    assert [b["payload"] for b in message.get("buttons") or []] == (["/affirm"] if offered else [])
    # A question about an address typed wins over the offer.
    again = await _message(
        rasa_domain,
        "utter_ask_address",
        request_type=request_type,
        address_offer=offer,
        previous_address="xom 2 xa Nghi Phong, Nghi Loc, Nghe An",
        address_status="not_found",
        address_pending="123",
    )
    assert "Nghi Phong" not in again["text"] and "123" in again["text"]


@pytest.mark.parametrize("request_type", ["sim_swap", "new_subscription", "advice"])
async def test_the_read_back_shows_the_name_given(rasa_domain, request_type):
    # "Sửa tên" is offered after the read-back, which did not show the name: a name taken
    # wrongly ("mẹ em tên Hoa" kept whole) could not be seen, nor corrected.
    slots = {
        "request_type": request_type,
        "phone_number": "0912345678",
        "address": "12 Le Loi",
        "address_label": "Phường Sài Gòn, Thành phố Hồ Chí Minh",
        "contact_name": "Nguyễn Thị Hoa",
    }
    (named,) = await _texts(rasa_domain, "utter_confirm_request", **slots, name_given="yes")
    assert '"Nguyễn Thị Hoa"' in named and "0912345678" in named
    # Skipped ("-"): no name line, as before.
    (skipped,) = await _texts(
        rasa_domain, "utter_confirm_request", **{**slots, "contact_name": "-"}
    )
    assert "tên liên hệ" not in skipped and '"-"' not in skipped and "0912345678" in skipped


async def test_the_fee_question_of_a_new_subscriber_is_not_about_the_swap(rasa_domain):
    # "có mất phí không" while registering a new subscription was told the swap is free.
    (new,) = await _texts(rasa_domain, "utter_faq/is_free", request_type="new_subscription")
    assert "thuê bao mới" in new and "phí hòa mạng" in new
    for request_type in ("sim_swap", "advice", None):
        (swap,) = await _texts(rasa_domain, "utter_faq/is_free", request_type=request_type)
        assert "hoàn toàn MIỄN PHÍ" in swap


async def test_a_request_found_from_elsewhere_is_not_named(rasa_domain):
    (text,) = await _texts(
        rasa_domain,
        "utter_request_result",
        submit_status="existing_elsewhere",
        request_reference="4G-ABCD-2345",
        team_name="MobiFone Nghệ An",
    )
    assert "4G-ABCD-2345" not in text and "Nghệ An" not in text and "9090" in text
    (handoff,) = await _texts(
        rasa_domain,
        "utter_handoff",
        handoff_status="callback_elsewhere",
        request_reference="4G-ABCD-2345",
    )
    assert "4G-ABCD-2345" not in handoff and "9090" in handoff


@pytest.mark.parametrize("request_type", ["sim_swap", "advice", None])
async def test_the_phone_is_required_for_every_service(rasa_domain, request_type):
    (text,) = await _texts(
        rasa_domain, "utter_required", requested_slot="phone_number", request_type=request_type
    )
    assert "số điện thoại" in text and "9090" in text and "phường/xã" not in text


async def test_a_new_line_without_a_number_is_asked_a_contact_number(rasa_domain):
    # "con tôi chưa có số" at the phone question of a new subscription was "em chưa hỗ
    # trợ được" (out of scope): the number asked is any contact's, the new one comes later.
    (text,) = await _texts(
        rasa_domain,
        "utter_required",
        requested_slot="phone_number",
        request_type="new_subscription",
    )
    assert "người nhà" in text and "9090" in text
