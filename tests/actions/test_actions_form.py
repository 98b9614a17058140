"""The request form's validators, run as the action server runs them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.form import SKIP_VALUE, ValidateRequestForm
from bot.address import resolve

form = ValidateRequestForm()

Answer = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def answer_address(tracker_for, dispatcher, domain) -> Answer:
    """The address validator's events when the customer types ``typed``, the slots set so
    far given (``answer_address(typed, slots=events)`` answers the question just asked)."""

    async def answer(typed: str, slots: dict[str, Any] | None = None) -> dict[str, Any]:
        tracker = tracker_for(text=typed, slots=slots)
        return await form.validate_address(typed, dispatcher, tracker, domain)

    return answer


@pytest.mark.parametrize(
    ("typed", "national"),
    [
        ("0901234567", "0901234567"),
        ("090 123 4567", "0901234567"),
        ("+84 90 123 4567", "0901234567"),
        ("84901234567", "0901234567"),
        ("sdt cua e la 0931.234.567 nha", "0931234567"),
        ("0981234567", "0981234567"),  # another network's subscriber is welcome
    ],
)
async def test_phone_forms_customers_type_are_accepted(
    typed, national, tracker_for, dispatcher, domain
):
    events = await form.validate_phone_number(typed, dispatcher, tracker_for(text=typed), domain)
    assert events == {"phone_number": national, "phone_error": None}


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("123", "invalid"),
        ("0241234567", "invalid"),
        ("09012345678901", "invalid"),
        # No number at all: not "the number you typed is wrong" (seen live: "e o can tho",
        # the customer's province, typed at the phone question).
        ("khong nho so", "missing"),
        ("e o can tho", "missing"),
    ],
)
async def test_invalid_phone_is_asked_again_with_the_error_variation(
    typed, error, tracker_for, dispatcher, domain
):
    events = await form.validate_phone_number(typed, dispatcher, tracker_for(text=typed), domain)
    assert events == {"phone_number": None, "phone_error": error}
    assert dispatcher.messages == []  # the text comes from utter_ask_phone_number's variation


async def test_confident_address_is_kept_with_its_current_units(answer_address):
    typed = "12/3 Le Van Sy P13 Q3 tphcm"
    events = await answer_address(typed)
    assert events["address"] == typed
    assert events["address_status"] is None
    assert events["address_units"]["province_name"] == "Thành phố Hồ Chí Minh"
    assert events["address_label"].endswith("Thành phố Hồ Chí Minh")


async def test_ambiguous_address_becomes_a_choice(answer_address):
    typed = "Phường 1"
    events = await answer_address(typed)
    assert events["address"] is None
    assert events["address_status"] == "ambiguous"
    assert events["address_pending"] == typed
    count = int(events["address_choice_count"])
    assert 2 <= count <= 5
    labels = [events[f"address_choice_{i}"] for i in range(1, count + 1)]
    assert all(labels) and len(set(labels)) == count


async def test_pressing_a_choice_button_resolves_it(answer_address):
    # A ward button is taken as it is: "Phường Kim Liên" of Hà Nội, read from "Kim Liên".
    first = await answer_address("Kim Liên")
    assert first["address_status"] == "ambiguous", first
    labels = [
        first[f"address_choice_{i}"] for i in range(1, int(first["address_choice_count"]) + 1)
    ]
    picked = next(label for label in labels if label.startswith("Phường Kim Liên"))
    events = await answer_address(picked, slots=first)
    assert events["address"] == "Kim Liên"
    assert events["address_status"] is None
    assert events["address_label"] == picked


async def test_a_province_chosen_asks_the_ward_there(answer_address):
    # "Phường 1" is a ward of many provinces; once the customer chooses Đồng Tháp, the ward
    # is asked among Đồng Tháp's (Phường 1 of Mỹ Tho, Gò Công, Cao Lãnh, Sa Đéc...), and
    # that button is taken as any other.
    first = await answer_address("Phường 1")
    assert first["address_choice_2"] == "Tỉnh Đồng Tháp"
    wards = await answer_address("Tỉnh Đồng Tháp", slots=first)
    assert wards["address"] is None
    assert wards["address_status"] == "ambiguous"
    assert wards["address_pending"] == "Phường 1"
    count = int(wards["address_choice_count"])
    labels = [wards[f"address_choice_{i}"] for i in range(1, count + 1)]
    assert count >= 2 and all(label.endswith(", Tỉnh Đồng Tháp") for label in labels), labels
    # Each Phường 1 lay in another old city: the button says which, beside the new name.
    assert "Phường Cao Lãnh (TP Cao Lãnh), Tỉnh Đồng Tháp" in labels
    assert "Phường Mỹ Tho (TP Mỹ Tho), Tỉnh Đồng Tháp" in labels
    done = await answer_address("Phường Cao Lãnh (TP Cao Lãnh), Tỉnh Đồng Tháp", slots=wards)
    assert done["address"] == "Phường 1"
    assert done["address_units"]["ward_name"] == "Phường Cao Lãnh"
    assert done["address_units"]["old_ward_name"] == "Phường 1"
    # The new name typed without the old city still picks it; the number of its button too.
    typed = await answer_address("Phường Cao Lãnh, Tỉnh Đồng Tháp", slots=wards)
    assert typed["address_units"]["ward_name"] == "Phường Cao Lãnh"
    second = await answer_address("2", slots=wards)
    assert second["address_units"]["ward_name"] == wards["address_choices"][1]["ward_name"]


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("không biết", "out_of_scope"),
        ("ko", "deny"),
        # "Không rõ" (the button's title) typed: the NLU reads "say it again".
        ("không rõ", "ask_repeat"),
        ("em ko ro a", "ask_repeat"),
        ("toi khong biet nha", "out_of_scope"),
    ],
)
async def test_not_knowing_the_ward_of_a_known_province_takes_the_province(
    typed, intent, answer_address, tracker_for, dispatcher, domain
):
    # Asked among Đồng Tháp's Phường 1 (the names are new since 2025), the customer does
    # not know: the province is taken, the ward left to the team's call-back.
    first = await answer_address("Phường 1")
    wards = await answer_address("Tỉnh Đồng Tháp", slots=first)
    tracker = tracker_for(text=typed, intent=intent, slots={**wards, "requested_slot": "address"})
    extracted = await form.extract_address(dispatcher, tracker, domain)
    # The slot's from_text mapping takes what its intents allow; "say it again" it does not.
    assert extracted == ({"address": typed} if intent == "ask_repeat" else {})
    done = await form.validate_address(typed, dispatcher, tracker, domain)
    assert done["address"] == "Phường 1"
    assert done["address_status"] is None
    assert done["address_units"]["province_name"] == "Tỉnh Đồng Tháp"
    assert done["address_units"]["ward_name"] is None


async def test_an_old_district_that_became_a_few_wards_asks_which_one(
    answer_address, tracker_for, dispatcher, domain
):
    # "Quận 3, TP HCM" names no ward: Quận 3 became three wards since 2025, each a button;
    # a button takes its ward, "không biết" the province alone (the team asks the rest).
    typed = "12 Nguyen Dinh Chieu, Quan 3, TP HCM"
    asked = await answer_address(typed)
    assert asked["address"] is None and asked["address_status"] == "ambiguous"
    labels = {
        asked[f"address_choice_{i}"] for i in range(1, int(asked["address_choice_count"]) + 1)
    }
    assert labels == {
        f"Phường {name}, Thành phố Hồ Chí Minh" for name in ("Bàn Cờ", "Nhiêu Lộc", "Xuân Hòa")
    }
    done = await answer_address("Phường Xuân Hòa, Thành phố Hồ Chí Minh", slots=asked)
    assert done["address"] == typed
    assert done["address_units"]["ward_name"] == "Phường Xuân Hòa"
    tracker = tracker_for(text="không biết", intent="out_of_scope", slots=asked)
    unknown = await form.validate_address("không biết", dispatcher, tracker, domain)
    assert unknown["address"] == typed
    assert unknown["address_units"]["province_name"] == "Thành phố Hồ Chí Minh"
    assert unknown["address_units"]["ward_name"] is None


@pytest.mark.parametrize("typed", ["Quan 3, TP HCM", "Phường 1, Đồng Tháp"])
async def test_advice_takes_the_area_without_asking_the_ward(answer_address, typed):
    # Advice is a call from the area's team, nobody visits: "which of these wards?" only
    # delayed it. The old district (or the province) is kept for the team.
    asked = await answer_address(typed)
    assert asked["address_status"] == "ambiguous"
    done = await answer_address(typed, slots={"request_type": "advice"})
    assert done["address"] == typed and done["address_status"] is None
    assert done["address_units"]["province_code"] == asked["address_choices"][0]["province_code"]
    assert done["address_units"]["ward_name"] is None


async def test_the_not_known_button_at_a_ward_question_takes_the_province(
    answer_address, tracker_for, dispatcher, domain
):
    # Asked which of old Quận 5's wards (names new since 2025), the customer presses "Không
    # rõ" (payload /skip): the province is taken, the team's call-back settles the ward.
    typed = "123/4 Nguyễn Trãi, Q.5, HCM"
    asked = await answer_address(typed)
    assert asked["address_status"] == "ambiguous" and asked["address_choice_scope"] == "ward"
    slots = {**asked, "requested_slot": "address"}
    tracker = tracker_for(text="/skip", intent="skip", slots=slots)
    assert await form.extract_address(dispatcher, tracker, domain) == {"address": "/skip"}
    done = await form.validate_address("/skip", dispatcher, tracker, domain)
    assert done["address"] == typed
    assert done["address_choice_scope"] is None
    assert done["address_units"]["province_name"] == "Thành phố Hồ Chí Minh"
    assert done["address_units"]["ward_name"] is None
    # Between provinces the question has no such button: its scope is not "ward".
    provinces = await answer_address("Phường 1")
    assert len({c["province_code"] for c in provinces["address_choices"]}) > 1
    assert provinces["address_choice_scope"] is None


async def test_an_old_district_that_became_many_wards_asks_the_ward_typed(
    tracker_for, dispatcher, domain, answer_address
):
    # Long Biên became seven wards, in part: a list of five buttons would be a guess at
    # which, so the ward is asked to be typed (it was taken without one: seen live with
    # "25 ngo 3 Thai Ha, Dong Da, Ha Noi", the request routed to the province alone).
    typed = "88 Nguyen Van Cu, Long Bien, Ha Noi"
    asked = await answer_address(typed)
    assert asked["address"] is None
    assert asked["address_status"] == "ward_missing"
    assert asked["address_pending"] == typed
    assert asked["address_district"] == "Quận Long Biên"
    # The old ward's name answers it.
    done = await answer_address("phuong Bo De", slots=asked)
    assert done["address"] == f"{typed}, phuong Bo De", done
    assert done["address_units"]["ward_name"] == "Phường Bồ Đề", done
    assert done["address_status"] is None and done["address_district"] is None
    # "Không rõ" (the button, or typed) takes the address as it was: the province routes
    # it and the team asks the ward.
    for answer, intent in (("/skip", "skip"), ("không rõ", "ask_repeat"), ("ko biet", "deny")):
        tracker = tracker_for(
            text=answer, intent=intent, slots={**asked, "requested_slot": "address"}
        )
        if intent != "deny":  # the slot's text mapping takes a deny itself
            assert await form.extract_address(dispatcher, tracker, domain) == {"address": answer}
        kept = await form.validate_address(answer, dispatcher, tracker, domain)
        assert kept["address"] == typed, (answer, kept)
        assert kept["address_units"]["old_district_name"] == "Quận Long Biên"
        assert kept["address_units"]["ward_name"] is None
        assert kept["address_status"] is None


async def test_a_street_typed_for_the_ward_is_added_and_the_province_kept(answer_address):
    asked = await answer_address("25 ngo 3, Dong Da, Ha Noi")
    assert asked["address_status"] == "ward_missing"
    done = await answer_address("duong Thai Ha", slots=asked)
    assert done["address"] == "25 ngo 3, Dong Da, Ha Noi, duong Thai Ha", done
    assert done["address_units"]["province_name"] == "Thành phố Hà Nội"
    assert done["address_status"] is None  # asked once, not again


async def test_a_name_typed_for_the_ward_is_not_added(answer_address):
    # The name typed ahead of its question is no part of the address.
    asked = await answer_address("Go Vap tphcm")
    assert asked["address_status"] == "ward_missing"
    for typed in ("Lan", "ok", "dạ em không rõ lắm"):
        done = await answer_address(typed, slots=asked)
        assert done["address"] == "Go Vap tphcm", (typed, done)
        assert done["address_units"]["old_district_name"] == "Quận Gò Vấp"
    # A hamlet or a house number is added.
    done = await answer_address("hem 45", slots=asked)
    assert done["address"] == "Go Vap tphcm, hem 45", done


async def test_another_address_typed_for_the_ward_is_read_alone(answer_address):
    asked = await answer_address("25 ngo 3, Dong Da, Ha Noi")
    done = await answer_address("12 Lê Lợi, phường Thuận Hóa, Huế", slots=asked)
    assert done["address_units"]["province_name"] == "Thành phố Huế", done
    assert "Dong Da" not in done["address"]


async def test_advice_is_not_asked_the_ward_of_a_district(tracker_for, dispatcher, domain):
    # The area's team calls an advice request; nobody visits.
    typed = "Dong Da, Ha Noi"
    tracker = tracker_for(text=typed, slots={"request_type": "advice", "requested_slot": "address"})
    done = await form.validate_address(typed, dispatcher, tracker, domain)
    assert done["address"] == typed
    assert done["address_status"] is None


async def test_no_to_a_one_button_guess_takes_nothing(
    tracker_for, dispatcher, domain, answer_address
):
    # "Thịsnh hĐán" offers one guess (Thịnh Đán, Thái Nguyên): "không" says it is not that
    # one, so the province is not taken; the address is asked again.
    first = await answer_address("Thịsnh hĐán")
    assert first["address_choice_count"] == "1"
    tracker = tracker_for(text="không", intent="deny", slots=first)
    events = await form.validate_address("không", dispatcher, tracker, domain)
    assert events["address"] is None


async def test_yes_to_a_one_button_guess_takes_it(tracker_for, dispatcher, domain, answer_address):
    # "Xã Phổ hạnh" offers Quảng Ngãi alone ("is it this area?"): "đúng rồi" is pressing it,
    # so the ward is asked there (Khánh Cường or Sa Huỳnh), the text kept.
    first = await answer_address("Xã Phổ hạnh")
    assert first["address_choice_count"] == "1"
    tracker = tracker_for(text="đúng rồi", intent="affirm", slots=first)
    events = await form.validate_address("đúng rồi", dispatcher, tracker, domain)
    assert events["address_status"] == "ambiguous", events
    assert events["address_pending"] == "Xã Phổ hạnh", events
    assert {c["ward_name"] for c in events["address_choices"]} == {
        "Xã Khánh Cường",
        "Phường Sa Huỳnh",
    }


async def test_yes_to_several_buttons_asks_the_same_question(
    tracker_for, dispatcher, domain, answer_address
):
    # "Phường 1" offers five provinces: "đúng rồi" names none of them; the question stays,
    # with the address typed (before, the address was asked again from the start).
    first = await answer_address("Phường 1")
    assert int(first["address_choice_count"]) > 1
    tracker = tracker_for(text="đúng rồi", intent="affirm", slots=first)
    events = await form.validate_address("đúng rồi", dispatcher, tracker, domain)
    assert events == {"address": None}


async def test_skip_at_a_question_between_candidates(
    tracker_for, dispatcher, domain, answer_address
):
    # The address slot does not take `skip`, but at a question between candidates "bỏ qua"
    # answers it: between wards of one province it takes the province (as "không biết"
    # does); between provinces the same question is asked again, the text kept.
    wards = await answer_address("Phường 1, Đồng Tháp")
    assert {c["province_code"] for c in wards["address_choices"]} == {"82"}
    slots = {**wards, "requested_slot": "address"}
    tracker = tracker_for(text="bỏ qua", intent="skip", slots=slots)
    assert await form.extract_address(dispatcher, tracker, domain) == {"address": "bỏ qua"}
    events = await form.validate_address("bỏ qua", dispatcher, tracker, domain)
    assert events["address"] == "Phường 1, Đồng Tháp", events
    assert events["address_units"]["province_code"] == "82", events
    provinces = await answer_address("Phường 1")
    tracker = tracker_for(text="bỏ qua", intent="skip", slots=provinces)
    assert await form.validate_address("bỏ qua", dispatcher, tracker, domain) == {"address": None}
    # Not at a question: `skip` stays the form's own (the name can be skipped).
    tracker = tracker_for(text="bỏ qua", intent="skip", slots={"requested_slot": "address"})
    assert await form.extract_address(dispatcher, tracker, domain) == {}


async def test_a_province_chosen_where_no_ward_is_named_is_taken(answer_address):
    # "Tân Phú" is a district of Hồ Chí Minh City and a name of wards elsewhere; chosen,
    # Hồ Chí Minh City reads it as the district there (no ward to ask): the province is
    # taken, with the old district the text names there, and the team calls back.
    first = await answer_address("Tân Phú")
    count = int(first["address_choice_count"])
    labels = [first[f"address_choice_{i}"] for i in range(1, count + 1)]
    assert "Thành phố Hồ Chí Minh" in labels, labels
    asked = await answer_address("Thành phố Hồ Chí Minh", slots=first)
    # Quận Tân Phú became more wards than buttons show: the ward is asked to be typed.
    assert asked["address_status"] == "ward_missing", asked
    assert asked["address_district"] == "Quận Tân Phú"
    done = await answer_address("không rõ", slots=asked)
    assert done["address"] == "Tân Phú"
    assert done["address_status"] is None
    units = done["address_units"]
    assert units["province_name"] == "Thành phố Hồ Chí Minh"
    assert units["ward_name"] is None
    assert units["old_district_name"] == "Quận Tân Phú"


async def test_unknown_address_asks_for_more_and_the_answer_completes_it(answer_address):
    typed = "số 5 ngõ 12"
    events = await answer_address(typed)
    assert events["address"] is None
    assert events["address_status"] == "not_found"
    assert events["address_pending"] == typed

    done = await answer_address("xã Tân Hòa, Quốc Oai, Hà Nội", slots=events)
    assert done["address"] == "số 5 ngõ 12, xã Tân Hòa, Quốc Oai, Hà Nội"
    assert done["address_units"]["province_name"] == "Thành phố Hà Nội"


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("tôi không biết", "out_of_scope"),
        ("em không nhớ", "deny"),
        ("không biết nữa", "out_of_scope"),
        ("toi ko biet", "out_of_scope"),  # nothing found at all: not asked "which area?"
    ],
)
async def test_small_talk_read_at_most_as_typo_guesses_is_no_address(
    typed, intent, tracker_for, dispatcher, domain
):
    # Nothing read as typed, only guesses ("không" is one letter from Krông): with the NLU
    # taking the message for small talk, no guess buttons; the question is asked again.
    tracker = tracker_for(text=typed, intent=intent)
    events = await form.validate_address(typed, dispatcher, tracker, domain)
    assert events["address"] is None
    assert events["address_status"] is None
    assert events["address_choice_count"] is None
    # Read as an answer (inform), the guesses are offered as before, or more is asked.
    offered = await form.validate_address(typed, dispatcher, tracker_for(text=typed), domain)
    assert offered["address_status"] in {"ambiguous", "not_found"}


async def test_small_talk_with_a_place_read_as_typed_keeps_its_buttons(
    tracker_for, dispatcher, domain
):
    # "khu tập thể ga, phường 5" is out_of_scope to the NLU, but "phường 5" is read as
    # typed: the question between the provinces with a Phường 5 is asked.
    typed = "khu tập thể ga, phường 5"
    tracker = tracker_for(text=typed, intent="out_of_scope")
    events = await form.validate_address(typed, dispatcher, tracker, domain)
    assert events["address_status"] == "ambiguous"


async def test_nonsense_address_never_passes(answer_address):
    events = await answer_address("asdfgh")
    assert events["address"] is None
    assert events["address_status"] == "not_found"


@pytest.mark.parametrize(
    "typed",
    ["bỏ qua", "bo qua", "ko", "Không", "-", "ko biet", "1", "?", "em ko biet a", "không rõ"],
)
async def test_name_can_be_skipped(typed, tracker_for, domain):
    events = await form.validate_contact_name(
        typed, CollectingDispatcher(), tracker_for(text=typed), domain
    )
    assert events == {"contact_name": SKIP_VALUE, "name_given": None}


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("đúng rồi", "affirm"),
        ("Dung roi a", "affirm"),
        ("ok em 👍", "affirm"),
        ("Vâng.", "affirm"),
        ("đúng", "affirm"),
        ("dạ vâng", "affirm"),
        ("ĐÚNG RỒI!", "affirm"),
        # Said to the one addressed (seen live: "đúng rồi em" stored as the name).
        ("đúng rồi em", "affirm"),
        ("dạ vâng chị ạ", "affirm"),
        ("ok ad", "affirm"),
    ],
)
async def test_a_yes_at_the_name_question_is_no_name(typed, intent, tracker_for, domain):
    # Session 15, from the final clone: "đúng rồi" was stored as the customer's name. A yes
    # is asked again (the name may follow), never stored, nor taken as "no name".
    events = await form.validate_contact_name(
        typed, CollectingDispatcher(), tracker_for(text=typed, intent=intent), domain
    )
    assert events == {"contact_name": None, "name_given": None}


async def test_a_second_yes_at_the_name_question_is_no_name(tracker_for, domain):
    # Seen live: "ok", the question again, "ok", again, and so on. Two yeses in a row to
    # the name question say there is none to give; a yes to another question before the
    # first one at the name question does not count.
    def typed_after(history: list[tuple[str | None, str]]):
        tracker = tracker_for(text="ok", intent="affirm")
        events: list[dict[str, Any]] = []
        for question, text in history:
            events.append({"event": "slot", "name": "requested_slot", "value": question})
            events.append({"event": "user", "text": text})
        tracker.events = events
        return tracker

    async def answer(history: list[tuple[str | None, str]]) -> dict[str, Any]:
        tracker = typed_after(history)
        return await form.validate_contact_name("ok", CollectingDispatcher(), tracker, domain)

    twice = [("contact_name", "ok"), ("contact_name", "ok")]
    assert await answer(twice) == {"contact_name": SKIP_VALUE, "name_given": None}
    assert await answer([("contact_name", "vâng"), ("contact_name", "ok")]) == {
        "contact_name": SKIP_VALUE,
        "name_given": None,
    }
    assert await answer([("contact_name", "ok")]) == {"contact_name": None, "name_given": None}
    assert await answer([("address", "ok"), ("contact_name", "ok")]) == {
        "contact_name": None,
        "name_given": None,
    }
    assert await answer([("contact_name", "Lan?"), ("contact_name", "ok")]) == {
        "contact_name": None,
        "name_given": None,
    }


@pytest.mark.parametrize("typed", ["co", "Có", "vang", "da", "co a"])
async def test_a_yes_without_diacritics_at_the_name_question_is_no_name(typed, tracker_for, domain):
    # Seen live: "co" (có) at the name question was stored and read back as the name "co".
    events = await form.validate_contact_name(
        typed, CollectingDispatcher(), tracker_for(text=typed, intent="affirm"), domain
    )
    assert events == {"contact_name": None, "name_given": None}


@pytest.mark.parametrize("typed", ["Dung", "Dũng", "Nguyễn Văn Được", "anh Vang", "chị Đúng"])
async def test_a_name_spelt_like_a_yes_is_kept(typed, tracker_for, domain):
    # Without diacritics "dung" is also the given name Dung (Dũng): only "đúng" typed so is
    # a yes.
    events = await form.validate_contact_name(
        typed, CollectingDispatcher(), tracker_for(text=typed, intent="affirm"), domain
    )
    assert events == {"contact_name": typed, "name_given": "yes"}


@pytest.mark.parametrize("typed", ["Q", "a", "cái thứ 1", "số 2"])
async def test_a_slip_or_a_buttons_number_at_the_name_question_is_no_name(
    typed, tracker_for, domain
):
    # One letter, or the number of a button asked before, was stored as the name.
    events = await form.validate_contact_name(
        typed, CollectingDispatcher(), tracker_for(text=typed), domain
    )
    assert events == {"contact_name": None, "name_given": None}


@pytest.mark.parametrize("typed", ["Vy", "Út", "chị Ba"])
async def test_a_short_name_is_kept(typed, tracker_for, domain):
    events = await form.validate_contact_name(
        typed, CollectingDispatcher(), tracker_for(text=typed), domain
    )
    assert events == {"contact_name": typed, "name_given": "yes"}


async def test_name_is_kept_trimmed(tracker_for, dispatcher, domain):
    events = await form.validate_contact_name(
        "  Nguyễn   Thị Lan ", dispatcher, tracker_for(), domain
    )
    assert events == {"contact_name": "Nguyễn Thị Lan", "name_given": "yes"}


async def test_misspelt_name_with_one_guess_is_offered_as_one_button(answer_address):
    # "Thịsnh hĐán" is Thịnh Đán two typos away, a guess: offered, not decided, and the
    # button press takes it as any other choice.
    typed = "Thịsnh hĐán"
    events = await answer_address(typed)
    assert events["address"] is None
    assert events["address_status"] == "ambiguous"
    assert events["address_choice_count"] == "1"
    picked = events["address_choice_1"]
    assert picked.endswith("Tỉnh Thái Nguyên")
    done = await answer_address(picked, slots=events)
    assert done["address"] == typed
    assert done["address_units"]["province_name"] == "Tỉnh Thái Nguyên"


FormRun = Callable[..., Awaitable[tuple[dict[str, Any], list[dict[str, Any]]]]]


@pytest.fixture
def run_form(tracker_for, dispatcher, domain) -> FormRun:
    """The form's run (extraction, then validation) on ``typed``, read by the NLU as
    ``intent``, with ``slots`` set: the slot values it sets, and its events (for the
    assertion messages)."""

    async def run(
        typed: str,
        slots: dict[str, Any],
        entities: list[dict[str, Any]] | None = None,
        intent: str = "inform",
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        tracker = tracker_for(
            text=typed, intent=intent, slots=slots, entities=entities, active_loop="request_form"
        )
        events = await form.run(dispatcher, tracker, domain)
        values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
        return values, events

    return run


@pytest.fixture
def run_at_address_question(
    run_form: FormRun,
) -> Callable[[str, str], Awaitable[list[dict[str, Any]]]]:
    """The form's events when the customer answers the address question with ``typed``,
    which the NLU read as ``intent``."""

    async def run(typed: str, intent: str) -> list[dict[str, Any]]:
        slots = {
            "requested_slot": "address",
            "request_type": "sim_swap",
            "phone_number": "0901234567",
        }
        return (await run_form(typed, slots, intent=intent))[1]

    return run


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("Ấp Thới Thuận B, TT Thới Lai", "stop"),
        ("Thôn Chợ, Xã Ia Rsươm", "correct_address"),
        ("TK Liên Phương TT Đà Bắc", "thank"),
    ],
)
async def test_an_address_the_nlu_read_as_another_intent_is_still_the_answer(
    typed, intent, run_at_address_question
):
    # Real addresses the NLU classified into intents the address slot does not take: the
    # form's run (extraction, then validation, as the form calls it) still reads them.
    events = await run_at_address_question(typed, intent)
    values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    if intent == "thank":
        # Taken, and the question between the Đà Bắc of several provinces asked.
        assert values["address_status"] == "ambiguous", events
    else:
        assert values["address"] == typed, events
        assert values["address_units"]["province_code"], events


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("dừng lại", "stop"),
        ("ad ơi", "greet"),  # read as Xã A Dơi, but named without its type word
        ("tôi đồng ý đổi sim 4G tại nhà", "request_sim_swap"),
        ("nhắc lại câu hỏi đi", "ask_repeat"),
    ],
)
async def test_other_intents_at_the_address_question_are_left_to_their_rules(
    typed, intent, run_at_address_question
):
    events = await run_at_address_question(typed, intent)
    assert not any(e.get("name") == "address" for e in events), events


async def test_an_address_is_taken_so_only_at_the_address_question(tracker_for, dispatcher, domain):
    typed = "Ấp Thới Thuận B, TT Thới Lai"
    slots = {"requested_slot": "phone_number", "request_type": "sim_swap"}
    tracker = tracker_for(text=typed, intent="stop", slots=slots, active_loop="request_form")
    assert await form.extract_address(dispatcher, tracker, domain) == {}


async def test_an_address_given_with_the_phone_is_taken_before_it_is_asked(run_form):
    # "sdt … dc …" at the phone question: the phone from its entity, the address from the
    # part after its cue, resolved as when it is asked; the form then asks the name.
    typed = "sdt 0903123458 dc 12 Le Van Sy P13 Q3 tphcm"
    slots = {"requested_slot": "phone_number", "request_type": "sim_swap"}
    entities = [{"entity": "phone_number", "value": "0903123458"}]
    values, events = await run_form(typed, slots, entities)
    assert values["address"] == "12 Le Van Sy P13 Q3 tphcm", events
    assert values["address_units"]["ward_name"] == "Phường Nhiêu Lộc", events


async def test_an_address_given_early_that_does_not_decide_becomes_the_question(run_form):
    slots = {"requested_slot": "request_type", "phone_number": "0903123459"}
    values, events = await run_form("dia chi Phuong 1", slots)
    assert values["address_status"] == "ambiguous", events
    assert values["address_pending"] == "Phuong 1", events


@pytest.mark.parametrize(
    ("typed", "slots"),
    [
        # "dc" as "được"; the address given again as it is; a question about it pending.
        ("doi sim dc ko", {"requested_slot": "phone_number"}),
        (
            "dia chi 12 Le Van Sy P13 Q3 tphcm",
            {"requested_slot": "contact_name", "address": "12 Le Van Sy P13 Q3 tphcm"},
        ),
        (
            "dia chi P.5 Q.3 tphcm",
            {"requested_slot": "address", "address_pending": "Phuong 1"},
        ),
        # Without a cue, a unit named at a later question is not taken for the address.
        (
            "chị Lan ở Phường 5",
            {"requested_slot": "contact_name", "address": "12 Le Van Sy P13 Q3 tphcm"},
        ),
    ],
)
async def test_no_early_address_without_a_cue_a_change_or_with_a_question_pending(
    typed, slots, tracker_for, dispatcher, domain
):
    tracker = tracker_for(text=typed, slots=slots, active_loop="request_form")
    assert await form.extract_address(dispatcher, tracker, domain) == {}


async def test_an_address_given_again_at_the_name_question_replaces_it_and_is_no_name(
    run_form, tracker_for, dispatcher, domain
):
    # "à, địa chỉ đúng là …" asked for the name: the NLU reads it as inform, so the name
    # slot's mapping takes it; it is the address corrected, and the name is asked again.
    typed = "a dia chi dung la 14 Le Van Sy P13 Q3 tphcm"
    slots = {
        "requested_slot": "contact_name",
        "request_type": "sim_swap",
        "phone_number": "0903123462",
        "address": "12 Le Van Sy P13 Q3 tphcm",
    }
    values, events = await run_form(typed, slots)
    assert values["address"] == "14 Le Van Sy P13 Q3 tphcm", events
    assert values["address_units"]["ward_name"] == "Phường Nhiêu Lộc", events
    tracker = tracker_for(text=typed, slots=slots, active_loop="request_form")
    named = await form.validate_contact_name(typed, dispatcher, tracker, domain)
    assert named == {"contact_name": None, "name_given": None}
    # A name is still a name.
    tracker = tracker_for(text="chị Hoa", slots=slots, active_loop="request_form")
    named = await form.validate_contact_name("chị Hoa", dispatcher, tracker, domain)
    assert named == {"contact_name": "chị Hoa", "name_given": "yes"}


async def test_an_address_typed_at_the_request_type_question_is_taken(run_form):
    # After "gặp nhân viên" without an address the customer is told to send the phone and
    # the address: the phone started the form, the address comes at its first question.
    typed = "Phường Bến Nghé, Quận 1, TP HCM"
    slots = {"requested_slot": "request_type", "phone_number": "0903123465"}
    values, events = await run_form(typed, slots)
    assert values["address"] == typed, events
    assert values["address_units"]["province_name"] == "Thành phố Hồ Chí Minh", events


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        (
            "mua sim moi 0903123459 o 12 Ly Thuong Kiet P. Hang Bai Hoan Kiem HN",
            "request_new_subscription",
        ),
        ("0903123459 doi sim, 12 Ly Thuong Kiet, phuong Hang Bai, Ha Noi", "inform"),
    ],
)
async def test_an_address_given_with_the_request_in_one_line_is_taken(run_form, typed, intent):
    # The request, the phone and the address in one message, without "địa chỉ": the form
    # starts on the request (or on the data, its request words giving the type) and asks
    # only the name.
    slots = {"request_type": "sim_swap", "phone_number": "0903123459"}
    entities = [{"entity": "phone_number", "value": "0903123459"}]
    values, events = await run_form(typed, slots, entities, intent=intent)
    assert values["address_units"]["ward_name"] == "Phường Cửa Nam", events
    assert "0903123459" not in values["address"], events


@pytest.mark.parametrize(
    ("typed", "address"),
    [
        ("0903123459 doi sim P.5 Q.3 tphcm", "P.5 Q.3 tphcm"),
        (
            "0903123459, doi sim, 88 Nguyen Van Cu, Long Bien, Ha Noi",
            "88 Nguyen Van Cu, Long Bien, Ha Noi",
        ),
    ],
)
async def test_the_request_words_are_left_out_of_an_address_given_with_them(
    run_form, typed, address
):
    # The NLU found "doi sim" (request_kind): the address kept for the team and read back
    # is the rest, not "doi sim P.5 Q.3 tphcm".
    start = typed.index("doi sim")
    entities = [
        {"entity": "phone_number", "value": "0903123459", "start": 0, "end": 10},
        {"entity": "request_kind", "value": "sim_swap", "start": start, "end": start + 7},
    ]
    slots = {"request_type": "sim_swap", "phone_number": "0903123459"}
    values, events = await run_form(typed, slots, entities)
    # Long Biên became seven wards: the address is kept while its ward is asked.
    assert (values["address"] or values["address_pending"]) == address, events


async def test_an_address_corrected_at_the_read_back_is_taken_at_once(run_form):
    # "địa chỉ sai, đúng là …": action_correct_slot has cleared the address, and the form,
    # started again, reads the new one from the same message instead of asking it.
    typed = "dia chi sai, dung la 14 Le Van Sy P13 Q3 tphcm"
    slots = {"request_type": "sim_swap", "phone_number": "0903123495", "contact_name": "-"}
    values, events = await run_form(typed, slots)
    assert values["address"] == "14 Le Van Sy P13 Q3 tphcm", events
    assert values["address_units"]["ward_name"] == "Phường Nhiêu Lộc", events


@pytest.mark.parametrize(
    ("typed", "address"),
    [
        ("nhà em ở 12/3 Lê Văn Sỹ P13 Q3 tphcm ạ", "12/3 Lê Văn Sỹ P13 Q3 tphcm"),
        ("dia chi nha em la 12 Le Van Sy P13 Q3 tphcm", "12 Le Van Sy P13 Q3 tphcm"),
        ("12/3 Le Van Sy P13 Q3 tphcm, sdt 0903123460", "12/3 Le Van Sy P13 Q3 tphcm"),
        # Words that are fillers elsewhere but change what the text reads as stay.
        ("Nha Trang, Khanh Hoa", "Nha Trang, Khanh Hoa"),
    ],
)
async def test_the_address_answer_is_kept_without_its_fillers(answer_address, typed, address):
    # What the team reads and the read-back shows is the address, not "nhà em ở … ạ"
    # (or what a question about it shows: Nha Trang is now three wards).
    events = await answer_address(typed)
    assert (events["address"] or events["address_pending"]) == address, events


async def test_a_correction_with_request_words_at_the_address_question_keeps_the_address(
    run_form,
):
    # Typed at the address question, read as correct_address, with "doi sim" found by the
    # NLU: the address is the part after its cue, the request words and the "sai dia chi
    # roi" before it left out.
    typed = "sai dia chi roi, doi sim cho nha 12 Le Van Sy P13 Q3 tphcm"
    start = typed.index("doi sim")
    entities = [{"entity": "request_kind", "value": "sim_swap", "start": start, "end": start + 7}]
    slots = {"requested_slot": "address", "request_type": "sim_swap", "phone_number": "0903123461"}
    values, events = await run_form(typed, slots, entities, intent="correct_address")
    assert values["address"].endswith("12 Le Van Sy P13 Q3 tphcm"), events
    assert "doi sim" not in values["address"] and "sai" not in values["address"], events
    assert values["address_units"]["ward_name"] == "Phường Nhiêu Lộc", events


async def test_small_talk_at_the_address_question_is_asked_about_as_typed(answer_address):
    # Nothing in it reads as an address: no filler is left out ("biết" alone would be
    # asked about instead of what the customer wrote).
    events = await answer_address("thì ở đâu biết")
    assert events["address"] is None
    assert events["address_pending"] == "thì ở đâu biết"


async def test_an_answer_that_reads_as_no_place_keeps_the_question_between_wards(answer_address):
    # Trung Hòa of Cầu Giấy was split between wards: the customer, asked which, types
    # their name instead. The address typed is not lost: the same question again.
    typed = "số 8 ngõ 45 Trần Duy Hưng, Trung Hòa, Cầu Giấy, Hà Nội"
    asked = await answer_address(typed)
    assert asked["address_status"] == "ambiguous", asked
    again = await answer_address("Hùng", slots=asked)
    assert again == {"address": None}


async def test_what_is_added_after_nothing_was_found_is_read_with_it(answer_address):
    # More was asked about "số 5 ngõ 12": the answer is read with it, never instead of it,
    # whether it decides nothing yet ("Phường 1": which one?) or reads as no place.
    first = await answer_address("số 5 ngõ 12")
    assert first["address_status"] == "not_found"
    ward = await answer_address("Phường 1", slots=first)
    assert ward["address_status"] == "ambiguous", ward
    assert ward["address_pending"] == "số 5 ngõ 12, Phường 1"
    nothing = await answer_address("abc xyz", slots=first)
    assert nothing["address_status"] == "not_found", nothing
    assert nothing["address_pending"] == "số 5 ngõ 12, abc xyz"


@pytest.mark.parametrize("typed", ["Yên Hòa", "yen hoa", "Phường Yên Hòa", "P. Yên Hòa"])
async def test_a_button_named_without_its_province_is_picked(answer_address, typed):
    # The customer types the ward of a button rather than pressing it: the ward alone,
    # with or without its type word, names one button.
    asked = await answer_address("số 8 ngõ 45 Trần Duy Hưng, Trung Hòa, Cầu Giấy, Hà Nội")
    assert "Phường Yên Hòa, Thành phố Hà Nội" in [
        asked[f"address_choice_{i}"] for i in range(1, int(asked["address_choice_count"]) + 1)
    ]
    done = await answer_address(typed, slots=asked)
    assert done["address"] == "số 8 ngõ 45 Trần Duy Hưng, Trung Hòa, Cầu Giấy, Hà Nội", done
    assert done["address_units"]["ward_name"] == "Phường Yên Hòa", done


async def test_an_address_settled_before_stands_when_the_form_validates_it_again(
    answer_address, tracker_for, dispatcher, domain
):
    # The customer chose Xuân Hòa among Quận 3's wards, then corrects the phone number:
    # the form, restarted, validates the address it has. The ward chosen stands.
    typed = "12 Nguyen Dinh Chieu Q3 tphcm"
    asked = await answer_address(typed)
    chosen = await answer_address("Xuân Hòa", slots=asked)
    assert chosen["address_units"]["ward_name"] == "Phường Xuân Hòa", chosen
    slots = {**asked, **chosen}
    tracker = tracker_for(text="Sửa số điện thoại", intent="correct_phone", slots=slots)
    again = await form.validate_address(typed, dispatcher, tracker, domain)
    assert again == {"address": typed}
    # Typed again as the answer, it is read again.
    retyped = tracker_for(text=typed, slots=slots)
    read = await form.validate_address(typed, dispatcher, retyped, domain)
    assert read["address_status"] == "ambiguous", read


async def test_a_ward_typed_at_the_ward_question_is_no_dont_know(
    answer_address, tracker_for, dispatcher, domain
):
    # "P1" at the question between Quận 3's wards, which the NLU may take for small talk:
    # the old Phường 1 of Quận 3 is read with the address (Bàn Cờ), not "I don't know".
    typed = "12 Nguyen Dinh Chieu Q3 tphcm"
    asked = await answer_address(typed)
    tracker = tracker_for(text="P1", intent="out_of_scope", slots=asked)
    done = await form.validate_address("P1", dispatcher, tracker, domain)
    assert done["address_units"]["ward_name"] == "Phường Bàn Cờ", done


@pytest.mark.parametrize("again", ["Hà Nội", "ha noi", "Cầu Giấy, Hà Nội", "Trần Duy Hưng"])
async def test_what_the_address_already_says_typed_again_keeps_the_question(answer_address, again):
    # Asked which ward Trung Hòa became, the customer repeats part of the address: nothing
    # new, so the same question, the address typed kept (it was read alone and replaced it:
    # "Hà Nội" became the address, the street lost).
    asked = await answer_address("số 8 ngõ 45 Trần Duy Hưng, Trung Hòa, Cầu Giấy, Hà Nội")
    assert asked["address_status"] == "ambiguous", asked
    events = await answer_address(again, slots=asked)
    assert events == {"address": None}, events


async def test_part_of_an_address_with_nothing_found_typed_again_keeps_it(answer_address):
    # More was asked about "số 5 ngõ 12"; "ngõ 12" again adds nothing and loses nothing.
    first = await answer_address("số 5 ngõ 12")
    assert first["address_status"] == "not_found"
    assert await answer_address("ngõ 12", slots=first) == {"address": None}


async def test_a_province_that_changes_nothing_keeps_the_question_and_the_address(
    answer_address,
):
    # Asked among the wards of Quận 3 (Hồ Chí Minh City), the customer types "Hà Nội": the
    # address still reads as Quận 3, so the same question; "Hà Nội" is not appended to
    # the address the team reads ("… Q3 tphcm, Hà Nội" was read back with Bàn Cờ, HCMC).
    asked = await answer_address("12 Nguyen Dinh Chieu Q3 tphcm")
    assert asked["address_choice_count"] == "3", asked
    assert await answer_address("Hà Nội", slots=asked) == {"address": None}


async def test_a_whole_address_elsewhere_typed_at_the_question_replaces_the_first(
    answer_address,
):
    # The customer answers the question about Quận 3's wards with their address in Hà Nội:
    # read alone, not after the first ("12 … Q3 tphcm, 12 … Hai Ba Trung, Ha Noi").
    asked = await answer_address("12 Nguyen Dinh Chieu Q3 tphcm")
    again = "12 Nguyen Dinh Chieu, P. Le Dai Hanh, Hai Ba Trung, Ha Noi"
    events = await answer_address(again, slots=asked)
    assert (events["address"] or events["address_pending"]) == again, events
    labels = [events.get(f"address_choice_{i}") for i in range(1, 6)]
    assert all(label is None or "Hà Nội" in label for label in labels), events
    if events["address"] is not None:
        assert events["address_units"]["province_code"] == "01", events


@pytest.mark.parametrize("typed", ["Nguyen Thi Hoa", "Nguyễn Thị Hoa", "Lan"])
async def test_a_name_that_is_a_place_elsewhere_does_not_replace_the_address(answer_address, typed):
    # Seen live: asked which ward Phường Phương Mai (Hà Nội) became, the customer typed
    # their name; "Nguyen Thi Hoa" reads as Xã Thị Hoa of Cao Bằng, and replaced the
    # address in Hà Nội. It names no province and no unit with its type word: no address
    # of its own, and the address typed stays, asked about in Hà Nội.
    typed_first = "so 5 ngo 12 pho phuong mai dong da hn"
    asked = await answer_address(typed_first)
    assert asked["address_status"] == "ambiguous", asked
    events = await answer_address(typed, slots=asked)
    assert events.get("address") in (None, typed_first), events
    units = events.get("address_units") or {}
    assert units.get("province_code") in (None, "01"), events


async def test_a_ward_named_at_the_question_between_provinces_is_read_with_the_rest(
    answer_address,
):
    # "Phường 1" asks the province; "12 Le Loi, Phuong 1, Q. Go Vap" (Hồ Chí Minh City, a
    # candidate) is read with what was typed, not instead of it.
    asked = await answer_address("Phường 1")
    assert asked["address_status"] == "ambiguous", asked
    events = await answer_address("Quận Gò Vấp, TP HCM", slots=asked)
    assert (events["address"] or events["address_pending"]).startswith("Phường 1"), events


@pytest.mark.parametrize("typed", ["0905111222", "sdt e la 0905 111 222 nhe", "so nay 0905111222"])
async def test_a_phone_number_at_the_address_question_is_no_address(answer_address, typed):
    # Seen live: the phone typed again at the address question was asked about ("em chưa
    # xác định được khu vực của địa chỉ '0905111222'"), then kept in the address read back.
    events = await answer_address(typed)
    assert events["address"] is None and events["address_status"] is None, events
    first = await answer_address("số 5 ngõ 12")
    assert await answer_address(typed, slots=first) == {"address": None}


async def test_an_address_typed_with_the_phone_is_still_an_address(answer_address):
    events = await answer_address("0905111222 so 5 ngo 12 p.Phuong Mai q.Dong Da HN")
    assert events["address_pending"] == "so 5 ngo 12 p.Phuong Mai q.Dong Da HN", events


@pytest.mark.parametrize(
    ("address", "typed"),
    [
        *(("gần chợ Bến Thành, quận 1", t) for t in ("tphcm", "TP HCM", "Quận 5", "P5")),
        ("gần chợ Bến Thành, quận 1", "ben thanh"),  # the address's own ward
        # A city's short form, whatever the address.
        *(("o Hue, phuong Phu Hoi", t) for t in ("tphcm", "hcm", "HN", "tp Hue")),
    ],
)
async def test_a_place_typed_at_the_name_question_is_no_name(address, typed, tracker_for, domain):
    # Seen live: the address taken ("123 tran hung dao, phuong 5, quan 5": HCMC), the
    # customer added "tphcm", which became their name; "ben thanh" after "gần chợ Bến
    # Thành, quận 1" too; and "tphcm" after an address in Huế.
    units = resolve(address).to_dict()
    slots = {"requested_slot": "contact_name", "address_units": units}
    events = await form.validate_contact_name(
        typed, CollectingDispatcher(), tracker_for(text=typed, slots=slots), domain
    )
    assert events == {"contact_name": None, "name_given": None}


@pytest.mark.parametrize("typed", ["Nguyễn Hải Dương", "Hải Dương", "Long An"])
async def test_a_name_spelt_like_another_province_is_kept(typed, tracker_for, domain):
    # A province's name is no name only when it is the address's own, in a word or two.
    slots = {"requested_slot": "contact_name", "address_units": {"province_code": "79"}}
    events = await form.validate_contact_name(
        typed, CollectingDispatcher(), tracker_for(text=typed, slots=slots), domain
    )
    assert events == {"contact_name": typed, "name_given": "yes"}


@pytest.mark.parametrize("typed", ["2", "số 2", "so 2", "cái thứ 2", "chọn 2 ạ", "e chon 2 nhe"])
async def test_a_button_number_typed_picks_it(answer_address, typed):
    asked = await answer_address("12 Nguyen Dinh Chieu Q3 tphcm")
    second = asked["address_choice_2"]
    events = await answer_address(typed, slots=asked)
    assert events["address_label"] == second, events


@pytest.mark.parametrize("typed", ["2 3", "số 9", "9"])
async def test_no_button_of_that_number_asks_again(answer_address, typed):
    # Two numbers name no button; there are three buttons, not nine.
    asked = await answer_address("12 Nguyen Dinh Chieu Q3 tphcm")
    assert await answer_address(typed, slots=asked) == {"address": None}


async def test_everything_in_one_line_keeps_the_name_out_of_the_address(run_form):
    # Seen live: "…, nha chi o 25 ngo 102 Truong Chinh, Dong Da, Ha Noi, ten chi la Thu"
    # stored the address with "ten chi la Thu" in it, then asked the name.
    typed = (
        "chao em, chi muon doi sim 4g cho so 0903 456 789, nha chi o 25 ngo 102 Truong Chinh,"
        " Dong Da, Ha Noi, ten chi la Thu"
    )
    slots = {"request_type": "sim_swap"}
    entities = [{"entity": "phone_number", "value": "0903 456 789"}]
    values, events = await run_form(typed, slots, entities, intent="request_sim_swap")
    # Đống Đa became seven wards: the address is kept while its ward is asked.
    assert values["address_pending"] == "25 ngo 102 Truong Chinh, Dong Da, Ha Noi", events
    assert values["address_status"] == "ward_missing", events
    assert values["contact_name"] == "chi Thu", events


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("tên em là Nguyễn Văn An nhé", "Nguyễn Văn An"),
        ("ten chi la Thu", "chi Thu"),
        ("Em tên Hằng", "Hằng"),  # seen live: stored as "Em tên Hằng"
    ],
)
async def test_a_name_cue_at_the_name_question_is_not_part_of_the_name(run_form, typed, name):
    slots = {"requested_slot": "contact_name", "request_type": "sim_swap"}
    values, events = await run_form(typed, slots)
    assert values["contact_name"] == name, events


async def test_a_name_corrected_with_the_new_one_in_the_message_is_taken(run_form):
    # "sai ten, ten dung la Hùng" after the read-back: action_correct_slot cleared the
    # name and the form runs again on that message. It asked the name again.
    slots = {
        "request_type": "sim_swap",
        "phone_number": "0905000111",
        "address": "thon 2 xa Tan Hoa Quoc Oai Ha Noi",
        "address_units": {"province_code": "01", "status": "resolved"},
    }
    values, events = await run_form("sai ten, ten dung la Hùng", slots, intent="correct_name")
    assert values["contact_name"] == "Hùng", events


async def test_asking_the_bots_name_gives_no_name(run_form):
    slots = {"requested_slot": "phone_number", "request_type": "sim_swap"}
    values, events = await run_form("em ten la gi vay", slots, intent="faq")
    assert "contact_name" not in values, events


async def test_a_ward_named_after_a_province_alone_is_added_to_the_address(run_form):
    # Seen live: "o Hue" was taken (a province: enough to route advice), then "phuong Phu
    # Hoi" typed at the name question was no name, and lost; the ward routes the request
    # to its sales force.
    first = resolve("Hue")
    slots = {
        "requested_slot": "contact_name",
        "request_type": "advice",
        "address": "Hue",
        "address_label": first.label,
        "address_units": first.to_dict(),
    }
    values, events = await run_form("phuong Phu Hoi", slots)
    assert values["address"] == "Hue, phuong Phu Hoi", events
    assert values["address_units"]["ward_name"] == "Phường Thuận Hóa", events
    assert values.get("contact_name") is None, events


def _province_alone(typed: str) -> dict[str, Any]:
    found = resolve(typed)
    return {
        "requested_slot": "contact_name",
        "request_type": "sim_swap",
        "address": typed,
        "address_label": found.label,
        "address_units": found.to_dict(),
    }


async def test_a_district_named_after_a_province_alone_is_added_to_the_address(run_form):
    # Seen live: "o ha noi" was taken, then "quan cau giay" at the name question was no
    # name and was lost. The old district is added; it became more than five wards, so
    # its ward is asked to be typed.
    values, events = await run_form("quan cau giay", _province_alone("ha noi"))
    assert values.get("contact_name") is None, events
    assert values["address_pending"] == "ha noi, quan cau giay", events
    assert values["address_status"] == "ward_missing", events
    assert values["address_district"] == "Quận Cầu Giấy", events


async def test_a_district_of_a_few_wards_named_later_asks_them(run_form):
    values, events = await run_form("quận 3", _province_alone("tphcm"))
    assert values.get("contact_name") is None, events
    assert values["address_pending"] == "tphcm, quận 3", events
    assert values["address_choice_count"] == "3", events


async def test_the_request_written_after_the_address_is_left_out_of_it(run_form):
    # Seen live: "e o so 7 hem 45 duong 3/2 p11 q10 tp hcm, can doi sim cho so 0908 777 666"
    # was read back as "so 7 hem 45 duong 3/2 p11 q10 tp hcm, can , cho so".
    typed = "e o so 7 hem 45 duong 3/2 p11 q10 tp hcm, can doi sim cho so 0908 777 666"
    start = typed.index("doi sim")
    entities = [
        {"entity": "request_kind", "value": "sim_swap", "start": start, "end": start + 7},
        {"entity": "phone_number", "value": "0908 777 666"},
    ]
    values, events = await run_form(typed, {}, entities, intent="request_sim_swap")
    assert values["address"] == "so 7 hem 45 duong 3/2 p11 q10 tp hcm", events


@pytest.mark.parametrize("typed", ["doi sim cho so khac nua", "đổi sim thêm một số nữa"])
async def test_a_request_for_another_number_asks_the_phone_again(run_form, typed):
    # Seen live: after one request was sent the phone stays known, and "đổi sim cho số
    # khác nữa" went straight to the address question.
    slots = {"phone_number": "0703111227"}
    values, events = await run_form(typed, slots, intent="request_sim_swap")
    assert values["phone_number"] is None, events
    assert values.get("phone_error") is None, events


async def test_a_request_for_another_number_with_it_takes_it(run_form):
    slots = {"phone_number": "0703111227"}
    entities = [{"entity": "phone_number", "value": "0703111228"}]
    typed = "doi sim cho so khac 0703111228"
    values, events = await run_form(typed, slots, entities, intent="request_sim_swap")
    # Not cleared: Rasa's own mapping sets the new number from its entity.
    assert values.get("phone_number", "not cleared") is not None, events


async def test_a_request_for_the_same_number_keeps_it(run_form):
    values, events = await run_form(
        "tu van goi cuoc", {"phone_number": "0703111227"}, intent="request_advice"
    )
    assert values.get("phone_number", "0703111227") == "0703111227", events


@pytest.mark.parametrize(
    ("typed", "intent", "service"),
    [
        ("cho minh hoi luon la goi nao re nhat vay", "request_advice", "advice"),
        ("doi sim 4g", "request_sim_swap", "sim_swap"),
    ],
)
async def test_the_service_just_sent_asked_again_says_so(run_form, typed, intent, service):
    # Seen live: "gói nào rẻ nhất" right after an advice request was sent led to the
    # address, the name and the read-back, to be told the request existed. The phone
    # question says it was sent and takes another number.
    slots = {
        "phone_number": "0912345678",
        "submitted_phone": "0912345678",
        "submitted_type": service,
    }
    values, events = await run_form(typed, slots, intent=intent)
    assert values["phone_number"] is None, events
    assert values.get("same_request") == "yes", events


@pytest.mark.parametrize(
    ("typed", "intent", "rejected"),
    [
        ("khong a", "deny", True),
        ("ok", "affirm", True),
        ("vang so 0912345679", "affirm", False),  # a number: the form takes it
        ("0912", "inform", False),  # a wrong number: the question again, with its error
    ],
)
async def test_ok_or_no_at_the_question_of_a_repeat_steps_the_form_aside(
    run_form, typed, intent, rejected
):
    # Seen live: "không ạ" when told the request for this number was sent got "em chưa
    # thấy số điện thoại" (the phone's text mapping took the words). The form now rejects
    # the turn, as Rasa's form does when nothing was extracted, so that the rule ends it
    # with the request kept; the words the mapping took are dropped.
    slots = {
        "phone_number": typed,  # as the text mapping set it
        "same_request": "yes",
        "requested_slot": "phone_number",
        "submitted_phone": "0912345678",
    }
    entities = (
        [{"entity": "phone_number", "value": "0912345679"}] if "0912345679" in typed else None
    )
    values, events = await run_form(typed, slots, entities=entities, intent=intent)
    was_rejected = any(e.get("event") == "action_execution_rejected" for e in events)
    assert was_rejected is rejected, events
    if rejected:
        assert values == {"phone_number": None}, events
        assert events[-1]["name"] == "request_form"


@pytest.mark.parametrize(
    ("typed", "intent", "told"),
    [
        ("so nay luon", "correct_phone", True),
        ("số đang nhắn tin này nè", "faq", True),
        ("sdt em dang dung day", "stop", True),
        ("số này 0912345679", "inform", False),  # the number is there: the form takes it
        ("so khac", "inform", False),
    ],
)
async def test_this_number_at_the_phone_question_is_told_the_chat_does_not_show_it(
    run_form, dispatcher, typed, intent, told
):
    # Seen live: "so nay luon" (read as a correction) got the question again as it was;
    # "số đang nhắn tin này nè" (read as a question) the answer on keeping one's number.
    slots = {"request_type": "sim_swap", "requested_slot": "phone_number"}
    entities = (
        [{"entity": "phone_number", "value": "0912345679"}] if "0912345679" in typed else None
    )
    values, events = await run_form(typed, slots, entities=entities, intent=intent)
    assert (values.get("phone_error") == "this_number") is told, events
    if told:
        assert values["phone_number"] is None
        assert dispatcher.messages == []  # no FAQ answer beside it


@pytest.mark.parametrize(
    ("typed", "service"),
    [
        ("thêm 1 số nữa 0903444556", "sim_swap"),
        ("them so 0903444556 nua", "sim_swap"),
        ("đăng ký thêm 1 số mới, liên hệ 0903444556", None),  # a new line indeed
        ("mo them 1 so nua, sdt 0903444556", None),
    ],
)
async def test_one_more_number_given_after_a_sim_swap_is_its_sim_swap(run_form, typed, service):
    # Seen live: "thêm 1 số nữa 0903444556" right after a SIM swap was sent is the NLU's
    # new subscription, read back as one for "contact number 0903444556".
    slots = {
        "request_type": "new_subscription",  # as the intent's mapping set it
        "submitted_type": "sim_swap",
        "submitted_phone": "0903444555",
    }
    entities = [{"entity": "phone_number", "value": "0903444556"}]
    values, events = await run_form(
        typed, slots, entities=entities, intent="request_new_subscription"
    )
    assert values.get("request_type") == service, events


async def test_another_service_at_the_phone_question_asks_it_anew(run_form):
    # Seen live: "ok" at the phone question ("em chưa thấy số điện thoại"), then "tu van
    # goi cuoc": the type changed and the question came back with the error of "ok".
    # (request_type is set by its intent mapping before the form runs.)
    slots = {"request_type": "advice", "requested_slot": "phone_number", "phone_error": "missing"}
    values, events = await run_form("tu van goi cuoc", slots, intent="request_advice")
    assert values["phone_error"] is None, events
    # Anything else leaves the error to the phone's validator.
    values, events = await run_form("0912", slots, intent="inform")
    assert "phone_error" not in values, events


async def test_a_number_typed_at_the_question_of_a_repeat_is_a_request_of_its_own(
    tracker_for, dispatcher, domain
):
    # Rasa's mapping fills the slot from the entity; the validator then clears the flag
    # (and an error keeps it: the question stays that of the repeat).
    slots = {"phone_number": None, "same_request": "yes", "requested_slot": "phone_number"}
    tracker = tracker_for(text="0912345679", slots=slots, active_loop="request_form")
    checked = await form.validate_phone_number("0912345679", dispatcher, tracker, domain)
    assert checked == {"phone_number": "0912345679", "phone_error": None, "same_request": None}
    tracker = tracker_for(text="0912", slots=slots, active_loop="request_form")
    checked = await form.validate_phone_number("0912", dispatcher, tracker, domain)
    assert checked == {"phone_number": None, "phone_error": "invalid"}


@pytest.mark.parametrize(
    ("slots", "intent"),
    [
        # Another service than the one sent, or another number since: a new request.
        ({"submitted_type": "sim_swap", "submitted_phone": "0912345678"}, "request_advice"),
        ({"submitted_type": "advice", "submitted_phone": "0912000000"}, "request_advice"),
        # A family takes several new subscriptions with one contact number.
        (
            {"submitted_type": "new_subscription", "submitted_phone": "0912345678"},
            "request_new_subscription",
        ),
    ],
)
async def test_another_service_or_number_is_a_new_request(run_form, slots, intent):
    values, events = await run_form(
        "them yeu cau", {"phone_number": "0912345678", **slots}, intent=intent
    )
    assert values.get("phone_number", "kept") != None, events  # noqa: E711
    assert values.get("same_request") is None, events


async def test_a_number_corrected_at_another_question_is_acknowledged(tracker_for, domain):
    # Seen live: "sai so dien thoai roi, so dung la 0903555116" at the ward question: the
    # form took the number (its mapping) and asked the ward again without a word.
    from rasa_sdk.executor import CollectingDispatcher

    slots = {"request_type": "sim_swap", "phone_number": "0903555116", "requested_slot": "address"}
    entities = [{"entity": "phone_number", "value": "0903555116"}]
    typed = "sai so dien thoai roi, so dung la 0903555116"
    dispatcher = CollectingDispatcher()
    tracker = tracker_for(
        text=typed,
        intent="correct_phone",
        slots=slots,
        entities=entities,
        active_loop="request_form",
    )
    await form.run(dispatcher, tracker, domain)
    said = [m for m in dispatcher.messages if m.get("response") == "utter_phone_corrected"]
    assert [m["phone_number"] for m in said] == ["0903555116"]
    # The number answering the phone question itself is no correction to announce.
    dispatcher = CollectingDispatcher()
    tracker = tracker_for(
        text=typed,
        intent="correct_phone",
        slots={**slots, "requested_slot": "phone_number"},
        entities=entities,
        active_loop="request_form",
    )
    await form.run(dispatcher, tracker, domain)
    assert not [m for m in dispatcher.messages if m.get("response") == "utter_phone_corrected"]


async def test_an_address_corrected_at_another_question_is_acknowledged(tracker_for, domain):
    # Seen live: "sai dia chi roi, dia chi dung la 30 tran phu ba dinh ha noi" at the name
    # question replaced the address and asked the name again without a word.
    from rasa_sdk.executor import CollectingDispatcher

    slots = {
        "request_type": "sim_swap",
        "phone_number": "0903555118",
        "address": "25 ngo 4 dich vong hau, Phường Cầu Giấy, Thành phố Hà Nội",
        "address_label": "Phường Cầu Giấy, Thành phố Hà Nội",
        "requested_slot": "contact_name",
    }
    typed = "sai dia chi roi, dia chi dung la 12 pho hue, phuong hai ba trung, ha noi"
    dispatcher = CollectingDispatcher()
    tracker = tracker_for(
        text=typed, intent="correct_address", slots=slots, active_loop="request_form"
    )
    events = await form.run(dispatcher, tracker, domain)
    said = [m for m in dispatcher.messages if m.get("response") == "utter_address_corrected"]
    assert len(said) == 1, events
    assert said[0]["address"] == "12 pho hue, phuong hai ba trung, ha noi", events
    assert "Hai Bà Trưng" in said[0]["address_label"], events


async def test_a_ward_added_at_the_name_question_is_acknowledged(
    tracker_for, domain, answer_address
):
    # Seen live: "vẫn ở Huế" taken as the province, then "thôn 3 xã Phú Mậu" at the name
    # question: the ward was added to the address and the name asked again without a word.
    from rasa_sdk.executor import CollectingDispatcher

    taken = await answer_address("TP Huế")
    assert taken["address_units"]["ward_code"] is None, taken
    slots = {
        **taken,
        "request_type": "sim_swap",
        "phone_number": "0914222333",
        "requested_slot": "contact_name",
    }
    dispatcher = CollectingDispatcher()
    tracker = tracker_for(
        text="thôn 3 xã Phú Mậu", intent="inform", slots=slots, active_loop="request_form"
    )
    events = await form.run(dispatcher, tracker, domain)
    said = [m for m in dispatcher.messages if m.get("response") == "utter_address_completed"]
    assert len(said) == 1, events
    assert "Phú Mậu" in said[0]["address"] and "Thành phố Huế" in said[0]["address_label"]
    # A name is no address: nothing said.
    dispatcher = CollectingDispatcher()
    tracker = tracker_for(text="Nguyễn Văn Tư", slots=slots, active_loop="request_form")
    await form.run(dispatcher, tracker, domain)
    assert dispatcher.messages == []
    # Another address given there replaces it: said as a correction, not an addition.
    dispatcher = CollectingDispatcher()
    typed = "à địa chỉ là 12 pho hue, phuong hai ba trung, ha noi"
    tracker = tracker_for(text=typed, slots=slots, active_loop="request_form")
    events = await form.run(dispatcher, tracker, domain)
    said = [m.get("response") for m in dispatcher.messages]
    assert said == ["utter_address_corrected"], events


@pytest.mark.parametrize(
    ("typed", "confidence", "entities", "name"),
    [
        ("Tư", 0.41, None, "Tư"),  # "tư vấn", unsure: a name
        ("Tư vấn gói", 1.0, [{"entity": "request_kind", "value": "advice"}], None),
        ("tư vấn", 0.94, None, None),  # sure: the service changed
    ],
)
async def test_a_name_read_as_a_request_is_the_name(
    tracker_for, dispatcher, domain, typed, confidence, entities, name
):
    # Seen live: "Tư" at the name question is the NLU's advice (0.41): the request turned
    # into an advice request without a word and the name was asked again.
    tracker = tracker_for(
        text=typed,
        intent="request_advice",
        slots={
            "request_type": "advice",  # as the intent's mapping set it
            "phone_number": "0914222334",
            "requested_slot": "contact_name",
        },
        entities=entities,
        active_loop="request_form",
        parsed={"intent": {"name": "request_advice", "confidence": confidence}},
        events=[{"event": "slot", "name": "request_type", "value": "sim_swap"}],
    )
    events = await form.run(dispatcher, tracker, domain)
    values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    if name is None:
        assert "contact_name" not in values and values.get("request_type") != "sim_swap"
    else:
        assert values["contact_name"] == name, events
        assert values["request_type"] == "sim_swap", events


def _after_bot(tracker, buttons: list[dict[str, str]], user_turns: int = 1):
    """``tracker`` with the bot's message (its buttons) before the customer's latest."""
    bot = {"event": "bot", "text": "…", "data": {"buttons": buttons}}
    user = tracker.events[-1]
    tracker.events = [bot, *([user] * user_turns)]
    return tracker


_OFFER = [
    {"title": "Đổi SIM 4G", "payload": "/request_sim_swap"},
    {"title": "Để sau", "payload": "/stop"},
]
_MENU = [
    {"title": "Đổi SIM 4G", "payload": "/request_sim_swap"},
    {"title": "Đăng ký thuê bao mới", "payload": "/request_new_subscription"},
    {"title": "Tư vấn gói cước", "payload": "/request_advice"},
]


@pytest.mark.parametrize(("typed", "intent"), [("ok e", "affirm"), ("0912000111", "inform")])
async def test_yes_or_data_to_an_offer_of_one_service_takes_it(
    typed, intent, tracker_for, dispatcher, domain
):
    # "Quý khách muốn đổi ngay không ạ?" [Đổi SIM 4G] [Để sau], then "ok e" or the number:
    # the SIM swap, not "which service?" asked right after the offer.
    tracker = _after_bot(tracker_for(text=typed, intent=intent), _OFFER)
    assert await form.extract_request_type(dispatcher, tracker, domain) == {
        "request_type": "sim_swap"
    }


async def test_an_offer_stands_across_a_question_answered_in_between(
    tracker_for, dispatcher, domain
):
    # Seen live: the broken SIM's answer offers the swap [Đổi SIM 4G] [Để sau], "có mất
    # phí không" is answered (no buttons), then "ok đổi đi": it asked which service, and
    # again at the phone number and the address typed next. (Here a plain yes: "đổi" in
    # it would decide by itself.)
    tracker = tracker_for(text="ok e", intent="affirm")
    question = {
        "event": "user",
        "text": "co mat phi khong",
        "parse_data": {"intent": {"name": "faq"}},
    }
    tracker.events = [
        {"event": "bot", "text": "…", "data": {"buttons": _OFFER}},
        question,
        {"event": "bot", "text": "Đổi sang SIM 4G là hoàn toàn MIỄN PHÍ ạ", "data": {}},
        tracker.events[-1],
    ]
    assert await form.extract_request_type(dispatcher, tracker, domain) == {
        "request_type": "sim_swap"
    }
    # Something else said in between (a greeting) ends the offer.
    tracker.events[1] = {**question, "parse_data": {"intent": {"name": "greet"}}}
    assert await form.extract_request_type(dispatcher, tracker, domain) == {}


@pytest.mark.parametrize(
    ("typed", "service"),
    [
        ("ok doi di", "sim_swap"),
        ("ok đổi đi em", "sim_swap"),
        ("vâng đổi sim giúp em", "sim_swap"),
        ("ok doi", "sim_swap"),
        # "đợi" (wait) folds to "doi" too; another service named; "đổi" not meant as one.
        ("ok đợi em chút", None),
        ("ok doi chut nhe", None),
        ("ok doi goi cuoc", None),
        ("ok", None),
    ],
)
async def test_a_yes_that_says_swap_is_the_sim_swap(
    typed, service, tracker_for, dispatcher, domain
):
    tracker = tracker_for(text=typed, intent="affirm")
    expected = {"request_type": service} if service else {}
    assert await form.extract_request_type(dispatcher, tracker, domain) == expected


async def test_no_service_is_taken_without_an_offer_of_one(tracker_for, dispatcher, domain):
    async def extracted(tracker) -> dict[str, Any]:
        return await form.extract_request_type(dispatcher, tracker, domain)

    # The greeting's menu offers three: the question which one stays.
    assert await extracted(_after_bot(tracker_for(text="ok", intent="affirm"), _MENU)) == {}
    # The offer is not the last thing the customer answered.
    late = _after_bot(tracker_for(text="ok", intent="affirm"), _OFFER, user_turns=2)
    assert await extracted(late) == {}
    # A "no" to it, or a service already chosen, takes nothing.
    assert await extracted(_after_bot(tracker_for(text="ko", intent="deny"), _OFFER)) == {}
    chosen = tracker_for(text="ok", intent="affirm", slots={"request_type": "advice"})
    assert await extracted(_after_bot(chosen, _OFFER)) == {}


def _said_before(tracker, *texts: str, submitted_between: bool = False):
    """``tracker`` whose conversation had ``texts`` before its latest message."""
    latest = tracker.events[-1]
    events: list[dict[str, Any]] = [{"event": "session_started"}]
    for text in texts:
        events.append({"event": "user", "text": text})
    if submitted_between:
        events.append({"event": "action", "name": "action_submit_request"})
    tracker.events = [*events, latest]
    return tracker


async def test_a_place_said_before_the_address_decides_its_province(
    tracker_for, dispatcher, domain
):
    # Seen live: "mình ở Đà Lạt muốn đổi sim", then "Phường 3" at the address question,
    # asked among five provinces' Phường 3. Read in Đà Lạt, it is one of its wards.
    tracker = _said_before(
        tracker_for(text="Phường 3", slots={"requested_slot": "address"}),
        "Chào bạn, mình ở Đà Lạt muốn đổi sim",
        "0905111333",
    )
    events = await form.validate_address("Phường 3", dispatcher, tracker, domain)
    # Stored with the area as the list writes it: what the read-back shows and the team reads.
    assert events["address"] == "Phường 3, Thành phố Đà Lạt, Tỉnh Lâm Đồng"
    assert events["address_units"]["ward_name"] == "Phường Xuân Hương - Đà Lạt"
    assert events["address_units"]["old_ward_name"] == "Phường 3"


async def test_a_place_said_for_an_earlier_request_is_not_used(tracker_for, dispatcher, domain):
    # A request sent since (for another number, another home): the question stays.
    tracker = _said_before(
        tracker_for(text="Phường 3", slots={"requested_slot": "address"}),
        "Chào bạn, mình ở Đà Lạt muốn đổi sim",
        submitted_between=True,
    )
    events = await form.validate_address("Phường 3", dispatcher, tracker, domain)
    assert events["address_status"] == "ambiguous"
    assert len({c["province_code"] for c in events["address_choices"]}) > 1
    # Nor is small talk that reads as no place.
    tracker = _said_before(
        tracker_for(text="Phường 3", slots={"requested_slot": "address"}), "chào shop", "ok"
    )
    events = await form.validate_address("Phường 3", dispatcher, tracker, domain)
    assert len({c["province_code"] for c in events["address_choices"]}) > 1


async def test_several_numbers_take_the_first_and_say_how_to_send_the_others(tracker_for, domain):
    # Seen live: "doi sim cho 2 so 0912111222 va 0913111222" kept the first number and
    # dropped the second without a word.
    typed = "doi sim cho 2 so 0912111222 va 0913 111 222"
    dispatcher = CollectingDispatcher()
    # Rasa's entity mapping fills the slot with the last number typed: the first is taken.
    events = await form.validate_phone_number(
        "0913 111 222", dispatcher, tracker_for(text=typed), domain
    )
    assert events == {"phone_number": "0912111222", "phone_error": None}
    (said,) = dispatcher.messages
    assert said["response"] == "utter_one_number_at_a_time"
    assert said["phone_others"] == "0913111222"
    # One number: nothing said.
    quiet = CollectingDispatcher()
    await form.validate_phone_number("0912111222", quiet, tracker_for(text="0912111222"), domain)
    assert quiet.messages == []


async def test_a_place_typed_before_the_address_question_answers_its_doubt(
    answer_address, tracker_for, dispatcher, domain
):
    # "Phường 1" given before the service was chosen (five provinces have one), then
    # "Đồng Tháp" at the question which service: it answers the address's doubt (the
    # ward is then asked there), where it fell to "em chưa hiểu".
    early = await answer_address("Phường 1")
    assert early["address_status"] == "ambiguous"
    slots = {**early, "requested_slot": "request_type"}
    tracker = tracker_for(text="Đồng Tháp", slots=slots)
    assert await form.extract_address(dispatcher, tracker, domain) == {"address": "Đồng Tháp"}
    events = await form.validate_address("Đồng Tháp", dispatcher, tracker, domain)
    assert {c["province_code"] for c in events["address_choices"]} == {"82"}, events
    assert events["address_choice_scope"] == "ward"
    # Small talk there is no answer to it.
    tracker = tracker_for(text="ok", intent="affirm", slots=slots)
    assert await form.extract_address(dispatcher, tracker, domain) == {}


NGHE_AN = "xom 2 xa Nghi Phong, Nghi Loc, Nghe An"


def _offer(offer: str = "home", request_type: str = "sim_swap") -> dict[str, Any]:
    """The slots of a second request's address question, the first request's home known."""
    units = resolve(NGHE_AN).to_dict()
    return {
        "requested_slot": "address",
        "request_type": request_type,
        "previous_address": NGHE_AN,
        "previous_address_label": units["label"],
        "previous_address_units": units,
        "address_offer": offer,
    }


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("/affirm", "affirm"),  # the button
        ("ok em", "affirm"),
        ("vẫn địa chỉ cũ", "nlu_fallback"),
        ("dia chi nhu tren", "correct_address"),
    ],
)
async def test_the_last_address_offered_is_taken_again(
    typed, intent, tracker_for, dispatcher, domain
):
    # "đổi sim cho số khác" after a request: the same home for the second SIM, not typed
    # again (it was asked from scratch).
    tracker = tracker_for(text=typed, intent=intent, slots=_offer())
    events = await form.validate_address(typed, dispatcher, tracker, domain)
    assert events["address"] == NGHE_AN
    assert events["address_units"] == resolve(NGHE_AN).to_dict()
    assert events["address_label"] == resolve(NGHE_AN).label
    assert events["address_status"] is None


async def test_the_offer_typed_in_words_the_nlu_misses_is_an_answer(
    tracker_for, dispatcher, domain
):
    # "cùng địa chỉ" is read as skip, which the slot's mapping does not take.
    tracker = tracker_for(text="cung dia chi", intent="skip", slots=_offer())
    assert await form.extract_address(dispatcher, tracker, domain) == {"address": "cung dia chi"}
    # Without the offer it stays a skip (the address is required: utter_required).
    plain = {**_offer(), "address_offer": None}
    tracker = tracker_for(text="cung dia chi", intent="skip", slots=plain)
    assert await form.extract_address(dispatcher, tracker, domain) == {}


async def test_a_no_to_the_offer_asks_the_address_without_it(tracker_for, dispatcher, domain):
    tracker = tracker_for(text="không", intent="deny", slots=_offer())
    events = await form.validate_address("không", dispatcher, tracker, domain)
    assert events == {"address": None, "address_offer": None}


async def test_another_address_typed_at_the_offer_is_the_new_address(
    tracker_for, dispatcher, domain
):
    typed = "12/3 Le Van Sy P13 Q3 tphcm"
    tracker = tracker_for(text=typed, slots=_offer())
    events = await form.validate_address(typed, dispatcher, tracker, domain)
    assert events["address"] == typed
    assert events["address_units"]["province_name"] == "Thành phố Hồ Chí Minh"
    # A yes that names a unit is that address too.
    typed = "ok, 12 Le Loi phuong Ben Thanh tphcm"
    tracker = tracker_for(text=typed, intent="affirm", slots=_offer())
    events = await form.validate_address(typed, dispatcher, tracker, domain)
    assert events.get("address") != NGHE_AN


async def test_an_area_is_offered_again_for_advice_only(tracker_for, dispatcher, domain):
    # An advice request's area is no home to bring a SIM to: the question for a SIM swap
    # does not show it (utter_ask_address), so a yes there takes nothing.
    tracker = tracker_for(text="ok", intent="affirm", slots=_offer("area", "sim_swap"))
    events = await form.validate_address("ok", dispatcher, tracker, domain)
    assert events.get("address") is None
    tracker = tracker_for(text="ok", intent="affirm", slots=_offer("area", "advice"))
    events = await form.validate_address("ok", dispatcher, tracker, domain)
    assert events["address"] == NGHE_AN


@pytest.mark.parametrize(
    ("typed", "intent", "given"),
    [("Nguyễn Thị Hoa", "inform", "yes"), ("bỏ qua", "skip", None), ("ok", "affirm", None)],
)
async def test_a_name_given_picks_the_read_back_that_shows_it(
    typed, intent, given, tracker_for, dispatcher, domain
):
    tracker = tracker_for(text=typed, intent=intent, slots={"requested_slot": "contact_name"})
    events = await form.validate_contact_name(typed, dispatcher, tracker, domain)
    assert events["name_given"] == given


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("Lan, bao lâu thì nhân viên đến?", "Lan"),
        ("Nguyễn Thị Lan. Có mất phí không em", "Nguyễn Thị Lan"),
        ("Cho em hỏi, bao lâu thì nhân viên đến?", None),  # no name: the words of a call
        ("Alo, có mất phí không", None),
        ("bao lâu thì nhân viên đến?", None),
    ],
)
async def test_a_name_before_a_question_read_as_the_question_is_kept(
    typed, name, tracker_for, dispatcher, domain
):
    # Seen live: "Lan, bao lâu thì nhân viên đến?" at the name question is the NLU's faq,
    # which the name's mapping does not take: the question was answered, and the name
    # asked again. The form now takes the name before it and answers the question.
    tracker = tracker_for(
        text=typed,
        intent="faq",
        slots={"requested_slot": "contact_name"},
        active_loop="request_form",
        parsed=_selected("faq/duration", 0.9),
    )
    events = await form.run(dispatcher, tracker, domain)
    values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert values.get("contact_name") == name, events
    if name is not None:
        assert dispatcher.messages[0]["response"] == "utter_faq/duration"


def _selected(key: str, confidence: float) -> dict[str, Any]:
    """The answer selector's part of the NLU's output, as Rasa 3.6 writes it."""
    return {
        "response_selector": {
            "all_retrieval_intents": ["faq"],
            "default": {
                "response": {"intent_response_key": key, "confidence": confidence},
                "ranking": [{"intent_response_key": key, "confidence": confidence}],
            },
        }
    }


@pytest.mark.parametrize(
    ("typed", "intent", "selected", "answer"),
    [
        # The question asked beside the request or the data: answered before the form's
        # next question (it went unanswered).
        (
            "đổi sim 4g có giữ số cũ không? nhà tôi ở 12 Lê Lợi, Phường Bến Thành, TPHCM",
            "request_sim_swap",
            ("faq/keep_number", 0.58),
            "utter_faq/keep_number",
        ),
        (
            "doi sim bao lau thi xong, e o quan 3 tphcm",
            "inform",
            ("faq/duration", 1.0),
            "utter_faq/duration",
        ),
        # A question with the answer asked, which the form takes before any FAQ rule.
        ("0905123456, co mat phi ko ad", "faq", ("faq/is_free", 0.81), "utter_faq/is_free"),
        # The selector ranks questions for messages that ask none: nothing then.
        (
            "doi sim 4g cho so 0905123456 o 12 le loi",
            "request_sim_swap",
            ("faq/scam_otp", 0.76),
            None,
        ),
        ("doi sim cho em dc ko?", "request_sim_swap", ("faq/is_free", 0.9), None),
        # Not sure which question: nothing.
        ("doi sim co mat phi ko, o 12 le loi", "request_sim_swap", ("faq/is_free", 0.3), None),
        # The offer explained to a customer who asks for it.
        ("doi sim 4g la gi vay, doi cho em", "request_sim_swap", ("faq/what_is_offer", 0.9), None),
        # Other intents have their own rules.
        ("co ai khong", "greet", ("faq/is_free", 0.9), None),
    ],
)
def test_a_question_beside_a_request_is_answered(
    typed, intent, selected, answer, tracker_for, domain
):
    from actions.form import question_beside

    tracker = tracker_for(text=typed, intent=intent, parsed=_selected(*selected))
    assert question_beside(tracker, domain) == answer


async def test_a_question_is_answered_once_a_turn(tracker_for, dispatcher, domain):
    from actions.form import question_beside

    typed = "doi sim bao lau thi xong, e o quan 3 tphcm"
    tracker = tracker_for(text=typed, parsed=_selected("faq/duration", 1.0))
    assert question_beside(tracker, domain) == "utter_faq/duration"
    # The form runs again after an answer or another action: not twice.
    tracker.events.append({"event": "bot", "text": "…"})
    assert question_beside(tracker, domain) is None
    # The form's validator utters it before the form's question.
    tracker = tracker_for(
        text=typed,
        parsed=_selected("faq/duration", 1.0),
        slots={"requested_slot": "phone_number", "request_type": "sim_swap"},
        active_loop="request_form",
    )
    await form.run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["response"] == "utter_faq/duration"


async def test_the_question_is_no_part_of_the_address(
    answer_address, tracker_for, dispatcher, domain
):
    typed = "12 Lê Lợi, Phường Bến Thành, TPHCM, bao lâu thì có sim"
    events = await answer_address(typed, slots={"requested_slot": "address"})
    assert events["address"] == "12 Lê Lợi, Phường Bến Thành, TPHCM"


@pytest.mark.parametrize(
    ("typed", "intent"), [("Lan", "inform"), ("👍", "affirm"), ("đúng rồi", "affirm")]
)
async def test_an_answer_choosing_none_is_told_before_the_question_again(
    typed, intent, tracker_for, dispatcher, domain
):
    # Asked between the wards of old Phường Phương Mai, "Lan" (a name typed early) or a
    # thumbs-up brought the same buttons back without a word.
    first = await form.validate_address(
        "so 5 ngo 12 p.Phuong Mai q.Dong Da HN",
        dispatcher,
        tracker_for(
            text="so 5 ngo 12 p.Phuong Mai q.Dong Da HN", slots={"requested_slot": "address"}
        ),
        domain,
    )
    assert first["address_status"] == "ambiguous" and dispatcher.messages == []
    tracker = tracker_for(text=typed, intent=intent, slots={**first, "requested_slot": "address"})
    again = await form.validate_address(typed, dispatcher, tracker, domain)
    assert again.get("address") is None
    assert [m["response"] for m in dispatcher.messages] == ["utter_choice_not_understood"]


async def test_a_name_given_at_a_question_between_candidates_is_taken_quietly(
    tracker_for, dispatcher, domain
):
    # Seen live: "ten chi la Hoa" at the question between Hà Đông's namesakes took the name
    # and answered "em chưa nhận ra khu vực Quý khách chọn": the customer chose nothing,
    # nor tried to. The name is taken, the question asked again without that.
    typed = "ở 45 Trần Phú, Hà Đông"
    first = await form.validate_address(
        typed, dispatcher, tracker_for(text=typed, slots={"requested_slot": "address"}), domain
    )
    assert first["address_status"] == "ambiguous"
    slots = {
        **first,
        "requested_slot": "address",
        "request_type": "sim_swap",
        "phone_number": "0987654321",
    }
    said = "ten chi la Hoa"
    tracker = tracker_for(text=said, slots=slots, active_loop="request_form")
    # Rasa's mapping takes the text as the address (the form's FormAction appends it).
    tracker.slots["address"] = said
    tracker.events.append({"event": "slot", "name": "address", "value": said})
    events = await form.run(dispatcher, tracker, domain)
    values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert values["contact_name"] == "chi Hoa" and values["address"] is None, events
    assert dispatcher.messages == [], dispatcher.messages


async def test_a_choice_or_a_new_question_says_nothing_more(tracker_for, dispatcher, domain):
    first = await form.validate_address(
        "Phường 1",
        dispatcher,
        tracker_for(text="Phường 1", slots={"requested_slot": "address"}),
        domain,
    )
    # A province chosen: a new question (its wards), not the same one again.
    tracker = tracker_for(text="Tỉnh Đồng Tháp", slots={**first, "requested_slot": "address"})
    wards = await form.validate_address("Tỉnh Đồng Tháp", dispatcher, tracker, domain)
    assert wards["address_status"] == "ambiguous"
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("typed", "name"),
    [("Lan, bao lâu thì nhân viên đến?", "Lan"), ("bao lâu thì nhân viên đến vậy", None)],
)
async def test_a_question_at_the_name_question_is_no_part_of_the_name(
    typed, name, tracker_for, dispatcher, domain
):
    tracker = tracker_for(text=typed, slots={"requested_slot": "contact_name"})
    events = await form.validate_contact_name(typed, dispatcher, tracker, domain)
    assert events["contact_name"] == name


@pytest.mark.parametrize(
    ("typed", "asked", "noted"),
    [
        # Seen live: the question asked again, the need lost.
        ("em dung nhieu data", "phone_number", "em dung nhieu data"),
        ("em hay gọi nội mạng", "contact_name", "em hay gọi nội mạng"),
        ("gói data nào rẻ nhất vậy shop", None, "gói data nào rẻ nhất vậy shop"),
        ("tu van goi cuoc cho em", "phone_number", None),  # the request again, no need
        # Read as small talk (seen live: the fallback answered) or as an answer.
        ("em dung nhieu data lam, hay xem youtube", "phone_number", "out_of_scope"),
        # Or not understood (since the intent visit_time, under the threshold).
        ("em dung nhieu data lam, hay xem youtube", "phone_number", "nlu_fallback"),
        ("0905333444, moi thang tam 100k", "phone_number", "inform"),
        ("em hay xem youtube", "contact_name", "inform"),
        ("toi khong biet", "phone_number", "out_of_scope"),  # no word of a need
        ("Minh", "contact_name", "inform"),
    ],
)
async def test_what_a_customer_asking_for_advice_needs_is_noted(
    run_form, dispatcher, typed, asked, noted
):
    slots = {"request_type": "advice", "requested_slot": asked}
    if asked == "contact_name":
        slots |= {"phone_number": "0905333444", "address": "Hai Chau, Da Nang"}
    intent = "request_advice"
    if noted in ("out_of_scope", "inform", "nlu_fallback"):
        intent = noted
        noted = {
            "em dung nhieu data lam, hay xem youtube": "em dung nhieu data lam, hay xem youtube",
            "0905333444, moi thang tam 100k": "moi thang tam 100k",
            "em hay xem youtube": "em hay xem youtube",
        }.get(typed)
    values, events = await run_form(typed, slots, intent=intent)
    assert values.get("advice_need") == noted, events
    responses = [message.get("response") for message in dispatcher.messages]
    if noted is None:
        assert "utter_advice_need_noted" not in responses
        assert "need_given" not in values
    else:
        assert values["need_given"] == "yes"
        assert "utter_advice_need_noted" in responses
        assert not values.get("phone_error")
        assert not values.get("contact_name")


async def test_a_second_need_is_added_to_the_first(run_form):
    slots = {
        "request_type": "advice",
        "requested_slot": "phone_number",
        "advice_need": "em dung nhieu data",
        "need_given": "yes",
    }
    values, _ = await run_form("goi noi mang nhieu nua", slots, intent="request_advice")
    assert values["advice_need"] == "em dung nhieu data / goi noi mang nhieu nua"


@pytest.mark.parametrize(
    ("slots", "intent"),
    [
        ({"request_type": "sim_swap"}, "request_advice"),  # not an advice request
        ({"request_type": "advice"}, "faq"),  # a question: answered, not noted
        ({"request_type": "advice", "same_request": "yes"}, "request_advice"),
    ],
)
async def test_no_need_is_noted_outside_an_advice_request(run_form, slots, intent):
    slots = {**slots, "requested_slot": "phone_number"}
    values, events = await run_form("em dung nhieu data", slots, intent=intent)
    assert "advice_need" not in values, events


@pytest.mark.parametrize("typed", ["nhu dia chi cu", "vẫn địa chỉ cũ", "giong nha lan truoc"])
async def test_the_old_address_asked_for_when_none_was_sent_says_so(
    answer_address, tracker_for, dispatcher, domain, typed
):
    # Seen live: "nhu dia chi cu" at a first request's address question got the question
    # again without a word. The NLU reads it as correct_address (0.42), which the slot's
    # mapping does not take: the form takes it.
    tracker = tracker_for(text=typed, intent="correct_address", slots={"requested_slot": "address"})
    assert await form.extract_address(dispatcher, tracker, domain) == {"address": typed}
    asked = await answer_address(typed, slots={"requested_slot": "address"})
    assert asked["address"] is None
    assert asked["address_status"] == "no_previous"
    # The address typed then is read as usual.
    done = await answer_address("12/3 Le Van Sy P13 Q3 tphcm", slots=asked)
    assert done["address_units"]["ward_name"] == "Phường Nhiêu Lộc"
    assert done["address_status"] is None


@pytest.mark.parametrize(
    ("typed", "intent", "asked", "added"),
    [
        ("thêm 1 số nữa", "request_new_subscription", "contact_name", True),
        ("them 1 so nua", "request_new_subscription", "address", True),
        ("đổi thêm sim khác nữa", "request_sim_swap", "contact_name", True),
        # Not on top of this one: "số khác" alone corrects the number (the phone asked).
        ("à đổi cho số khác", "request_sim_swap", "contact_name", False),
        # A number typed with it: left to the phone's mapping.
        ("thêm 1 số nữa 0903444556", "request_sim_swap", "contact_name", False),
        # No number given yet: nothing in progress to finish first.
        ("thêm 1 số nữa", "request_new_subscription", "phone_number", False),
    ],
)
async def test_another_number_asked_mid_request_comes_after_this_one(
    tracker_for, dispatcher, domain, typed, intent, asked, added
):
    # Seen live: "thêm 1 số nữa" at the name question of a SIM swap (phone and address
    # given) switched to a new subscription, dropped the number and asked a contact
    # number: the SIM swap was lost without a word. This one is finished first.
    before = [{"event": "slot", "name": "request_type", "value": "sim_swap"}]
    slots = {
        "request_type": "new_subscription" if "subscription" in intent else "sim_swap",
        "requested_slot": asked,
        "phone_number": "0905123458" if asked != "phone_number" else None,
        "address": "12 Le Loi, Q1, HCM" if asked == "contact_name" else None,
    }
    entities = [{"entity": "phone_number", "value": "0903444556"}] if "09" in typed else None
    tracker = tracker_for(
        text=typed,
        intent=intent,
        slots=slots,
        entities=entities,
        active_loop="request_form",
        events=before,
    )
    events = await form.run(dispatcher, tracker, domain)
    values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    said = [m.get("response") for m in dispatcher.messages]
    assert ("utter_next_request_after_this" in said) is added, (said, events)
    if added:
        assert values == {"request_type": "sim_swap", "more_requested": "yes"}, events
        assert dispatcher.messages[0]["phone_number"] == "0905123458"
    else:
        assert "more_requested" not in values, events


@pytest.mark.parametrize("read_back", [True, False])
async def test_another_number_asked_at_the_read_back_comes_after_this_one(
    tracker_for, dispatcher, domain, read_back
):
    # At the read-back the intent's rule starts the form again: this request is kept (the
    # form finds it complete and reads it back again), the next one after it.
    said = [{"event": "action", "name": "utter_confirm_request"}] if read_back else []
    before = [
        {"event": "slot", "name": "request_type", "value": "sim_swap"},
        *said,
        {"event": "action", "name": "action_listen"},
    ]
    slots = {
        "request_type": "new_subscription",  # as the intent's mapping set it
        "phone_number": "0935111226",
        "address": "12 Le Loi, Q1, HCM",
        "contact_name": "-",
    }
    tracker = tracker_for(
        text="thêm 1 số nữa",
        intent="request_new_subscription",
        slots=slots,
        active_loop="request_form",
        events=before,
    )
    events = await form.run(dispatcher, tracker, domain)
    values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    if read_back:
        assert values == {"request_type": "sim_swap", "more_requested": "yes"}, events
    else:
        assert "more_requested" not in values, events


@pytest.mark.parametrize(
    ("typed", "service"),
    [
        ("thêm 1 số nữa", None),  # another SIM swap as much as a new line: asked
        ("them so khac nua", None),
        ("đăng ký thêm 1 số mới", "new_subscription"),  # a new line indeed
        ("lam them sim nua", "new_subscription"),
    ],
)
async def test_one_more_number_after_a_request_asks_which_service(run_form, typed, service):
    # "thêm 1 số nữa" after a SIM swap was sent is the NLU's new subscription: it started
    # one; which service the other number needs is asked instead.
    slots = {
        "request_type": "new_subscription",  # as the intent's mapping set it
        "submitted_type": "sim_swap",
        "submitted_phone": "0903444555",
    }
    values, events = await run_form(typed, slots, intent="request_new_subscription")
    assert values.get("request_type", "new_subscription") == service, events


@pytest.mark.parametrize(
    ("typed", "intent", "asked"),
    [
        # Seen live: taken as the name ("tên liên hệ 'toi ban ca ngay, toi moi o nha'").
        ("toi ban ca ngay, toi moi o nha", "visit_time", "contact_name"),
        ("toi ban ca ngay, toi moi o nha", "out_of_scope", "contact_name"),
        # Seen live: "em chưa hiểu", or taken as the address and not found.
        ("thu 7 co den ko", "nlu_fallback", "address"),
        ("sáng mai qua được không", "visit_time", "address"),
        ("chiều nay em ở nhà", "visit_time", "phone_number"),
    ],
)
async def test_a_visit_time_said_while_asked_is_noted(
    tracker_for, dispatcher, domain, typed, intent, asked
):
    slots = {
        "request_type": "sim_swap",
        "requested_slot": asked,
        "phone_number": None if asked == "phone_number" else "0935111224",
        "visit_time": "thu 3",
    }
    tracker = tracker_for(text=typed, intent=intent, slots=slots, active_loop="request_form")
    if asked in ("contact_name", "address") and intent != "visit_time":
        # The slot's text mapping takes small talk, or what was not understood (the
        # FormAction appends it).
        tracker.slots[asked] = typed
        tracker.events.append({"event": "slot", "name": asked, "value": typed})
    events = await form.run(dispatcher, tracker, domain)
    values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert values["visit_time"] == f"thu 3 / {typed}", events
    assert values["visit_status"] == "noted" and values["visit_given"] == "yes"
    assert [m["response"] for m in dispatcher.messages] == ["utter_visit_time_noted"]
    assert dispatcher.messages[0]["visit_time_said"] == typed
    assert values.get("contact_name") is None, events  # no name, the question again
    assert values.get("address") is None, events
    assert values.get("address_status") is None and values.get("address_pending") is None


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("bao gio nhan vien den", "faq"),  # the FAQ's: no time of the customer's
        ("Hùng", "inform"),
        ("/skip", "skip"),
    ],
)
async def test_no_visit_time_otherwise(tracker_for, dispatcher, domain, typed, intent):
    slots = {
        "request_type": "sim_swap",
        "requested_slot": "contact_name",
        "phone_number": "0935111224",
    }
    tracker = tracker_for(text=typed, intent=intent, slots=slots, active_loop="request_form")
    events = await form.run(dispatcher, tracker, domain)
    assert not any(e.get("name") == "visit_time" for e in events), events
