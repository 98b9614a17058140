"""Submit, hand-over, stop and correct: the events they return and what they store."""

from __future__ import annotations

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet

from actions.request import (
    ActionCorrectSlot,
    ActionHandoff,
    ActionRequestStatus,
    ActionStop,
    ActionSubmitRequest,
)
from bot.address import resolve

pytestmark = pytest.mark.usefixtures("store_env")

HCM = "12/3 Le Van Sy P13 Q3 tphcm"


def _filled(**extra):
    slots = {
        "request_type": "sim_swap",
        "phone_number": "0901234567",
        "address": HCM,
        "address_units": resolve(HCM).to_dict(),
        "address_label": resolve(HCM).label,
        "contact_name": "Lan",
    }
    slots.update(extra)
    return slots


def _slots(events):
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def test_confirmation_stores_one_routed_request(tracker_for, dispatcher, domain):
    from bot.requests import get_service

    events = await ActionSubmitRequest().run(dispatcher, tracker_for(slots=_filled()), domain)
    slots = _slots(events)
    assert slots["submit_status"] == "created"
    assert slots["submitted_type"] == "sim_swap"  # picks the reply's variation
    reference = slots["request_reference"]
    stored = get_service().get(reference)
    assert stored.phone == "+84901234567"
    assert stored.province_name == "Thành phố Hồ Chí Minh"
    assert stored.channel == "rest"
    assert stored.contact_name == "Lan"
    assert slots["team_name"] == stored.team_name
    # The collected request is cleared so a new one can start; the phone stays known.
    assert slots["request_type"] is None and slots["address"] is None
    assert "phone_number" not in slots
    assert dispatcher.messages == []
    assert slots["submitted_more"] is None  # the result asks nothing more


async def test_another_number_asked_meanwhile_is_asked_about_with_the_result(
    tracker_for, dispatcher, domain
):
    # "thêm 1 số nữa" while this request was collected: its result asks what the next
    # number needs (a variation of utter_request_result), and the flag goes with the
    # request's slots.
    tracker = tracker_for(slots={**_filled(), "more_requested": "yes"})
    slots = _slots(await ActionSubmitRequest().run(dispatcher, tracker, domain))
    assert slots["submit_status"] == "created"
    assert slots["submitted_more"] == "yes"
    assert slots["more_requested"] is None


async def test_confirming_twice_finds_the_open_request(tracker_for, dispatcher, domain):
    first = _slots(
        await ActionSubmitRequest().run(dispatcher, tracker_for(slots=_filled()), domain)
    )
    again = _slots(
        await ActionSubmitRequest().run(
            dispatcher, tracker_for(slots=_filled(), channel="facebook"), domain
        )
    )
    assert again["submit_status"] == "existing"
    assert again["request_reference"] == first["request_reference"]
    assert again["request_status"] == first["request_status"]


async def test_skipped_name_is_stored_as_no_name(tracker_for, dispatcher, domain):
    from bot.requests import get_service

    events = await ActionSubmitRequest().run(
        dispatcher, tracker_for(slots=_filled(contact_name="-")), domain
    )
    assert get_service().get(_slots(events)["request_reference"]).contact_name is None


@pytest.mark.parametrize(("request_type", "kept"), [("advice", True), ("sim_swap", False)])
async def test_the_need_said_for_advice_is_the_requests_note(
    tracker_for, dispatcher, domain, request_type, kept
):
    # The team's message shows the note (bot/dispatch/templates/request.html.j2): what
    # the advisor calls back about. Only an advice request's read-back shows it.
    from bot.requests import get_service

    slots = _filled(request_type=request_type, advice_need="em dung nhieu data", need_given="yes")
    events = await ActionSubmitRequest().run(dispatcher, tracker_for(slots=slots), domain)
    sent = _slots(events)
    assert get_service().get(sent["request_reference"]).note == (
        "em dung nhieu data" if kept else None
    )
    assert sent["advice_need"] is None and sent["need_given"] is None


async def test_no_province_is_not_stored_and_says_so(tracker_for, dispatcher, domain):
    slots = _filled(address="số 5 ngõ 12", address_units={"province_code": None})
    events = await ActionSubmitRequest().run(dispatcher, tracker_for(slots=slots), domain)
    assert events == [SlotSet("submit_status", "no_area")]


async def test_handoff_with_a_known_phone_books_a_call_back(tracker_for, dispatcher, domain):
    from bot.requests import get_service

    events = await ActionHandoff().run(dispatcher, tracker_for(slots=_filled()), domain)
    slots = _slots(events)
    assert ActiveLoop(None) in events
    assert slots["handoff_status"] == "callback"
    stored = get_service().get(slots["request_reference"])
    assert stored.request_type == "callback"
    assert stored.callback_requested is True


async def test_handoff_without_a_phone_points_to_the_hotline(tracker_for, dispatcher, domain):
    events = await ActionHandoff().run(dispatcher, tracker_for(), domain)
    assert _slots(events)["handoff_status"] == "hotline"


async def test_handoff_without_a_province_points_to_the_hotline(
    tracker_for, dispatcher, domain, caplog
):
    # No team to call back without the province: the reply asks for the phone and the
    # address, and nothing is stored (nor logged as a failure).
    slots = {"phone_number": "0903123465"}
    events = await ActionHandoff().run(dispatcher, tracker_for(slots=slots), domain)
    assert _slots(events)["handoff_status"] == "hotline"
    assert "call-back not stored" not in caplog.text
    from bot.requests import get_service

    assert get_service().find_open("0903123465") == []


async def test_stop_leaves_the_form_and_forgets_the_request(tracker_for, dispatcher, domain):
    events = await ActionStop().run(dispatcher, tracker_for(slots=_filled()), domain)
    assert events[0] == ActiveLoop(None)
    slots = _slots(events)
    assert slots["requested_slot"] is None
    assert slots["request_type"] is None and slots["address"] is None


@pytest.mark.parametrize(
    ("intent", "cleared"),
    [
        ("correct_phone", {"phone_number", "phone_error"}),
        ("correct_request_type", {"request_type"}),
        ("correct_name", {"contact_name"}),
    ],
)
async def test_correction_clears_exactly_that_answer(
    intent, cleared, tracker_for, dispatcher, domain
):
    events = await ActionCorrectSlot().run(
        dispatcher, tracker_for(slots=_filled(), intent=intent), domain
    )
    assert set(_slots(events)) == cleared


async def test_address_correction_clears_the_resolution_too(tracker_for, dispatcher, domain):
    events = await ActionCorrectSlot().run(
        dispatcher, tracker_for(slots=_filled(), intent="correct_address"), domain
    )
    cleared = set(_slots(events))
    assert {"address", "address_units", "address_label", "address_status"} <= cleared
    assert "phone_number" not in cleared


async def test_a_house_number_corrected_keeps_the_ward(tracker_for, dispatcher, domain):
    # Seen live: "sai dia chi roi, so 14 chu ko phai 12" cleared the address and asked it
    # again from the start, the ward chosen with a button lost with it.
    address = "so 12 ngo 5 phuong Dich Vong Hau Cau Giay HN"
    units = {"text": address, "street": "so 12 ngo 5", "ward_name": "Phường Cầu Giấy"}
    slots = {**_filled(), "address": address, "address_units": units, "address_label": "L"}
    said = "sai dia chi roi, so 14 chu ko phai 12"
    tracker = tracker_for(slots=slots, text=said, intent="correct_address")
    values = _slots(await ActionCorrectSlot().run(dispatcher, tracker, domain))
    fixed = "so 14 ngo 5 phuong Dich Vong Hau Cau Giay HN"
    assert values == {
        "address": fixed,
        "address_units": {**units, "text": fixed, "street": "so 14 ngo 5"},
    }
    assert dispatcher.messages[0]["response"] == "utter_address_corrected"
    assert dispatcher.messages[0]["address"] == fixed
    # Asked between wards about it: the question is asked again about the corrected text.
    pending = {**_filled(), "address": None, "address_pending": address}
    tracker = tracker_for(slots=pending, text=said, intent="correct_address")
    values = _slots(await ActionCorrectSlot().run(dispatcher, tracker, domain))
    assert values == {"address_pending": fixed}
    # No number of it corrected: cleared and asked again, as before.
    tracker = tracker_for(slots=slots, text="so 14 chu ko phai 13", intent="correct_address")
    values = _slots(await ActionCorrectSlot().run(dispatcher, tracker, domain))
    assert values["address"] is None and values["address_units"] is None


async def _sent(tracker_for, dispatcher, domain, phone, sender_id="test-user"):
    """A request confirmed in the tracker's conversation; the slots the submit set."""
    tracker = tracker_for(slots=_filled(phone_number=phone), sender_id=sender_id)
    return _slots(await ActionSubmitRequest().run(dispatcher, tracker, domain))


@pytest.mark.parametrize(
    ("typed", "phone"),
    [
        ("huỷ yêu cầu", "0901234571"),
        ("thôi không cần nữa", "0901234572"),
        ("ko doi nua", "0901234573"),
    ],
)
async def test_a_cancel_after_the_request_was_sent_cancels_it(
    tracker_for, dispatcher, domain, typed, phone
):
    # Seen live: "huỷ yêu cầu" right after the request was sent got "em đã dừng lại", and
    # the request stayed with the team, who would call back.
    from bot.requests import get_service

    sent = await _sent(tracker_for, dispatcher, domain, phone)
    reference = sent["request_reference"]
    tracker = tracker_for(text=typed, intent="stop", slots=sent)
    events = await ActionStop().run(dispatcher, tracker, domain)
    assert _slots(events)["stop_status"] == "cancelled"
    assert get_service().get(reference).status == "cancelled"
    # Said again, nothing is left to cancel.
    again = await ActionStop().run(dispatcher, tracker, domain)
    assert _slots(again)["stop_status"] == "closed"


async def test_a_stop_without_a_cancel_word_keeps_the_request_sent(tracker_for, dispatcher, domain):
    from bot.requests import get_service

    sent = await _sent(tracker_for, dispatcher, domain, "0901234574")
    tracker = tracker_for(text="thôi", intent="stop", slots=sent)
    events = await ActionStop().run(dispatcher, tracker, domain)
    assert _slots(events)["stop_status"] == "kept"
    assert get_service().get(sent["request_reference"]).status == "new"


async def test_a_cancel_during_another_request_only_drops_that_one(tracker_for, dispatcher, domain):
    # A second request begun after the first was sent: "hủy" stops the form, the first
    # request stands, and the reply says so (it said "em đã dừng lại, khi nào cần đổi
    # SIM 4G…", as to a customer who had sent nothing).
    from bot.requests import get_service

    sent = await _sent(tracker_for, dispatcher, domain, "0901234575")
    tracker = tracker_for(text="hủy", intent="stop", slots=sent, active_loop="request_form")
    events = await ActionStop().run(dispatcher, tracker, domain)
    assert _slots(events)["stop_status"] == "kept"
    assert get_service().get(sent["request_reference"]).status == "new"


async def test_a_stop_at_the_repeat_of_a_request_sent_elsewhere_says_it_stands(
    tracker_for, dispatcher, domain
):
    # The number's request was sent from another conversation (no reference here), and
    # the same service asked again: "Thôi, không cần" or "ok cảm ơn" at the question for
    # another number said "em đã dừng lại, khi nào cần đổi SIM…", as if nothing was sent.
    slots = {
        "same_request": "yes",
        "submitted_phone": "0901234576",
        "requested_slot": "phone_number",
    }
    tracker = tracker_for(
        text="ok cảm ơn em", intent="thank", slots=slots, active_loop="request_form"
    )
    events = await ActionStop().run(dispatcher, tracker, domain)
    assert _slots(events)["stop_status"] == "kept_elsewhere"
    assert _slots(events)["same_request"] is None
    # Outside a form nothing is pending: the plain reply.
    tracker = tracker_for(text="thôi", intent="stop", slots={"submitted_phone": "0901234576"})
    assert _slots(await ActionStop().run(dispatcher, tracker, domain))["stop_status"] is None


async def test_how_a_request_stands_is_read_from_the_store(tracker_for, dispatcher, domain):
    # "yêu cầu của em đến đâu rồi": the latest request this conversation sent, as the team
    # has it now (here accepted since it was sent), its reference kept for a cancel.
    from bot.requests import get_service

    sent = await _sent(tracker_for, dispatcher, domain, "0901234590", sender_id="status-1")
    reference = sent["request_reference"]
    get_service().transition(reference, "accepted", "staff:1")
    asked = tracker_for(
        text="yeu cau cua em den dau roi", intent="ask_status", sender_id="status-1"
    )
    slots = _slots(await ActionRequestStatus().run(dispatcher, asked, domain))
    assert slots == {
        "status_check": "found",
        "request_reference": reference,
        "request_status": "accepted",
        "team_name": sent["team_name"],
    }


async def test_every_open_request_this_conversation_sent_is_named(tracker_for, domain):
    # Seen live: a customer who sent a request for himself, then one for his mother, was
    # told of the latest only. The open ones are named (the latest first), then the
    # latest's status follows; a closed one is not named.
    from rasa_sdk.executor import CollectingDispatcher

    from bot.requests import get_service

    dispatcher = CollectingDispatcher()
    closed = await _sent(tracker_for, dispatcher, domain, "0901234592", sender_id="status-4")
    get_service().transition(closed["request_reference"], "cancelled", "customer")
    first = await _sent(tracker_for, dispatcher, domain, "0901234593", sender_id="status-4")
    second = await _sent(tracker_for, dispatcher, domain, "0901234594", sender_id="status-4")
    dispatcher = CollectingDispatcher()
    asked = tracker_for(text="yeu cau cua toi sao roi", intent="ask_status", sender_id="status-4")
    slots = _slots(await ActionRequestStatus().run(dispatcher, asked, domain))
    assert slots["request_reference"] == second["request_reference"]
    [said] = dispatcher.messages
    assert said["response"] == "utter_other_requests"
    assert said["request_count"] == "2"
    assert said["request_list"] == (
        f"{second['request_reference']} (0901234594), {first['request_reference']} (0901234593)"
    )
    # One open request: nothing more than its status.
    dispatcher = CollectingDispatcher()
    alone = tracker_for(text="yeu cau cua toi sao roi", intent="ask_status", sender_id="status-1b")
    await _sent(tracker_for, dispatcher, domain, "0901234595", sender_id="status-1b")
    dispatcher = CollectingDispatcher()
    await ActionRequestStatus().run(dispatcher, alone, domain)
    assert dispatcher.messages == []


async def test_no_request_from_this_conversation_says_so(tracker_for, dispatcher, domain):
    # Another conversation's request for the same number is not shown: a number typed in
    # the chat would show anyone's.
    await _sent(tracker_for, dispatcher, domain, "0901234591", sender_id="status-2")
    asked = tracker_for(text="sao chua thay ai goi", intent="ask_status", sender_id="status-3")
    slots = _slots(await ActionRequestStatus().run(dispatcher, asked, domain))
    assert slots == {"status_check": "none"}
    # Asked while a request is being collected: no menu offered, the one under way named.
    asked = tracker_for(
        text="sao chua thay ai goi",
        intent="ask_status",
        sender_id="status-3",
        active_loop="request_form",
    )
    slots = _slots(await ActionRequestStatus().run(dispatcher, asked, domain))
    assert slots == {"status_check": "none_in_form"}


@pytest.mark.parametrize(
    ("request_type", "address", "offer"),
    [
        ("sim_swap", HCM, "home"),
        ("advice", HCM, "home"),  # a street typed: a home, even asked as an area
        ("advice", "Hà Nội", "area"),
    ],
)
async def test_the_address_sent_is_kept_for_the_next_request(
    request_type, address, offer, tracker_for, dispatcher, domain
):
    # "đổi sim cho số khác" next: the address question offers it (actions.form).
    filled = _filled(
        request_type=request_type,
        address=address,
        address_units=resolve(address).to_dict(),
        address_label=resolve(address).label,
    )
    slots = _slots(await ActionSubmitRequest().run(dispatcher, tracker_for(slots=filled), domain))
    assert slots["submit_status"] == "created"
    assert slots["previous_address"] == address
    assert slots["previous_address_label"] == resolve(address).label
    assert slots["previous_address_units"] == resolve(address).to_dict()
    assert slots["address_offer"] == offer
    assert slots["address"] is None  # the request's own slots cleared as before


async def test_a_request_found_from_another_conversation_names_no_reference(
    tracker_for, dispatcher, domain
):
    # Anyone can type a number: the reply named the request and the team of whoever had
    # sent it (seen live: "đã có yêu cầu 4G-… đang chờ MobiFone Nghệ An") and dropped the
    # address typed. Now: no reference or team; the address goes to the request's history.
    from bot.requests import get_service

    first = _slots(
        await ActionSubmitRequest().run(dispatcher, tracker_for(slots=_filled()), domain)
    )
    other = _filled(address="Thôn 3, Ea Kao, BMT, Dak Lak")
    other["address_units"] = resolve(other["address"]).to_dict()
    slots = _slots(
        await ActionSubmitRequest().run(
            dispatcher, tracker_for(slots=other, sender_id="another-user"), domain
        )
    )
    assert slots["submit_status"] == "existing_elsewhere"
    assert "request_reference" not in slots and "team_name" not in slots
    history = get_service().history(first["request_reference"])
    assert "Thôn 3, Ea Kao, BMT, Dak Lak" in history[-1].reason
    # The conversation that sent it, with a new address: its reference, and "sent on".
    again = _filled(address="Thôn 4, Ea Kao, BMT, Dak Lak")
    again["address_units"] = resolve(again["address"]).to_dict()
    slots = _slots(await ActionSubmitRequest().run(dispatcher, tracker_for(slots=again), domain))
    assert slots["submit_status"] == "existing_updated"
    assert slots["request_reference"] == first["request_reference"]


async def test_a_call_back_asked_from_another_conversation_names_no_reference(
    tracker_for, dispatcher, domain
):
    await ActionHandoff().run(dispatcher, tracker_for(slots=_filled()), domain)
    events = await ActionHandoff().run(
        dispatcher, tracker_for(slots=_filled(), sender_id="another-user"), domain
    )
    slots = _slots(events)
    assert slots["handoff_status"] == "callback_elsewhere"
    assert "request_reference" not in slots


async def test_after_a_request_found_elsewhere_the_status_says_so(tracker_for, dispatcher, domain):
    # "yêu cầu của em sao rồi" right after "this number already has a request" was told
    # no request had been sent, with the menu to register.
    slots = _slots(
        await ActionRequestStatus().run(
            dispatcher, tracker_for(slots={"submit_status": "existing_elsewhere"}), domain
        )
    )
    assert slots == {"status_check": "elsewhere"}


async def test_a_call_back_right_after_a_request_uses_its_address(tracker_for, dispatcher, domain):
    # "gặp nhân viên" after a request was sent: its address is cleared from the request's
    # slots, and the reply asked for it again instead of booking the call-back.
    sent = _slots(await ActionSubmitRequest().run(dispatcher, tracker_for(slots=_filled()), domain))
    after = {
        "phone_number": "0901234567",
        **{
            k: sent[k]
            for k in ("previous_address", "previous_address_units", "previous_address_label")
        },
    }
    slots = _slots(await ActionHandoff().run(dispatcher, tracker_for(slots=after), domain))
    assert slots["handoff_status"] == "callback"
    from bot.requests import get_service

    stored = get_service().get(slots["request_reference"])
    assert stored.request_type == "callback" and stored.address_text == HCM


async def test_a_call_back_at_the_ward_question_is_routed_by_its_province(
    tracker_for, dispatcher, domain
):
    # "gặp nhân viên" while asked which of old Quận 3's wards: the phone and the province
    # are known, and the reply asked for both again.
    from actions.form import ValidateRequestForm

    asked = await ValidateRequestForm().validate_address(
        "quan 3 tphcm", dispatcher, tracker_for(text="quan 3 tphcm"), domain
    )
    assert asked["address_status"] == "ambiguous"
    slots = _slots(
        await ActionHandoff().run(
            dispatcher, tracker_for(slots={**asked, "phone_number": "0977111222"}), domain
        )
    )
    assert slots["handoff_status"] == "callback"
    from bot.requests import get_service

    stored = get_service().get(slots["request_reference"])
    assert stored.province_name == "Thành phố Hồ Chí Minh"
    assert stored.address_text == "quan 3 tphcm"


@pytest.mark.parametrize(
    ("slots", "status"),
    [
        # At the read-back: noted with the request (its note, with the earlier ones).
        ({**_filled(), "visit_time": "thu 7 co den ko"}, "noted"),
        # A request sent (this conversation has none stored): the staff are told when
        # they call.
        ({"submitted_type": "sim_swap", "phone_number": "0901234567"}, "sent"),
        ({}, "none"),
    ],
)
async def test_a_visit_time_outside_the_form(tracker_for, dispatcher, domain, slots, status):
    from actions.request import ActionNoteVisitTime

    tracker = tracker_for(slots=slots, text="sáng mai qua được không", intent="visit_time")
    values = _slots(await ActionNoteVisitTime().run(dispatcher, tracker, domain))
    assert values["visit_status"] == status
    assert values["visit_time_said"] == "sáng mai qua được không"
    if status == "noted":
        assert values["visit_time"] == "thu 7 co den ko / sáng mai qua được không"
        assert values["visit_given"] == "yes"  # the read-back shows it
    else:
        assert "visit_time" not in values and "visit_given" not in values
    assert dispatcher.messages == []  # the rule's response says it


async def test_the_visit_time_goes_with_the_request_in_its_note(tracker_for, dispatcher, domain):
    from bot.requests import get_service

    slots = {**_filled(), "visit_time": "thu 7 co den ko"}
    events = await ActionSubmitRequest().run(dispatcher, tracker_for(slots=slots), domain)
    stored = get_service().get(_slots(events)["request_reference"])
    assert stored.note == "thu 7 co den ko"
    assert _slots(events)["visit_time"] is None  # cleared with the request
    assert _slots(events)["visit_given"] is None


async def test_a_visit_time_after_the_request_goes_to_its_history(tracker_for, dispatcher, domain):
    from actions.request import ActionNoteVisitTime
    from bot.requests import get_service

    sent = _slots(await ActionSubmitRequest().run(dispatcher, tracker_for(slots=_filled()), domain))
    slots = {"submitted_type": "sim_swap", "phone_number": "0901234567"}
    tracker = tracker_for(slots=slots, text="thu 7 moi co nha", intent="visit_time")
    values = _slots(await ActionNoteVisitTime().run(dispatcher, tracker, domain))
    assert values["visit_status"] == "added"
    assert values["request_reference"] == sent["request_reference"]
    assert values["team_name"] == sent["team_name"]
    history = get_service().history(sent["request_reference"])
    assert history[-1].reason == "Khách nhắn thêm: thu 7 moi co nha"
