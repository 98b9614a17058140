from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import func, select

from bot.requests import InvalidDraft, RequestDraft, UnknownRequest
from bot.requests.schema import outbox, request_events, sim_requests

HANOI_BA_DINH = {
    "status": "resolved",
    "confidence": 0.93,
    "province_code": "01",
    "province_name": "Hà Nội",
    "ward_code": "00004",
    "ward_name": "Phường Ba Đình",
    "old_province_name": "Hà Nội",
    "old_district_name": "Quận Ba Đình",
    "old_ward_name": "Phường Điện Biên",
    "street": "12 Điện Biên Phủ",
    "candidates": [],
}


def draft(**overrides) -> RequestDraft:
    values = {
        "request_type": "sim_swap",
        "phone": "090 123 4567",
        "channel": "rest",
        "sender_id": "user-1",
        "contact_name": "Chị Lan",
        "address_text": "12 Điện Biên Phủ, Ba Đình, Hà Nội",
        "units": HANOI_BA_DINH,
        "campaign": "liveinfo-2025-07",
    }
    values.update(overrides)
    return RequestDraft(**values)


def count(sessions, table) -> int:
    with sessions() as session:
        return session.execute(select(func.count()).select_from(table)).scalar_one()


def test_submit_stores_routed_request_with_event_and_outbox(service, sessions):
    outcome = service.submit(draft(callback_requested=True, note="gọi sau 17h"))

    assert outcome.created is True
    assert outcome.status == "new"
    assert re.fullmatch(r"4G-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", outcome.reference)
    assert outcome.team_id == "st-hn-badinh"
    assert outcome.route_rule == "ward:00004"

    view = service.get(outcome.reference)
    assert view.phone == "+84901234567"
    assert view.masked_phone == "090****567"
    assert view.carrier == "MobiFone"
    assert view.ward_code == "00004"
    assert view.old_district_name == "Quận Ba Đình"
    assert view.resolution_confidence == pytest.approx(0.93)
    assert view.callback_requested is True
    assert view.campaign == "liveinfo-2025-07"
    assert view.team_name == "Cửa hàng MobiFone Ba Đình"
    assert view.units["street"] == "12 Điện Biên Phủ"
    assert view.created_at.tzinfo is not None

    with sessions() as session:
        event = session.execute(select(request_events)).one()
        item = session.execute(select(outbox)).one()
    assert (event.from_status, event.to_status, event.actor) == (None, "new", "bot")
    assert item.kind == "new_request"
    assert item.team_id == "st-hn-badinh"
    assert item.delivered_at is None
    assert item.payload["reference"] == outcome.reference
    assert item.payload["masked_phone"] == "090****567"
    assert "+84901234567" not in str(item.payload)


def test_same_customer_confirming_again_finds_open_request(service, sessions):
    first = service.submit(draft())
    # Double tap, a different spelling of the number, a second channel.
    again = service.submit(draft())
    other_spelling = service.submit(draft(phone="+84901234567", channel="zalo", sender_id="z9"))

    assert again.created is False
    assert other_spelling.created is False
    assert again.reference == other_spelling.reference == first.reference
    assert count(sessions, sim_requests) == 1
    assert count(sessions, outbox) == 1
    assert count(sessions, request_events) == 1


def test_a_repeat_from_elsewhere_names_nothing_and_new_details_reach_the_history(service, sessions):
    first = service.submit(draft())
    same = service.submit(draft())
    assert (same.elsewhere, same.updated) == (False, False)
    # Another conversation types the number with another home: the request is found (one
    # open request per number and type), the bot is told it came from elsewhere (it names
    # no reference there), and the address typed is written to the request's history for
    # the team's call-back, not dropped; the request keeps its address and team.
    other = service.submit(
        draft(
            sender_id="fb-2",
            channel="facebook",
            contact_name="Lan",
            address_text="tổ 3 phường Quang Trung, Thái Nguyên",
            units={
                **HANOI_BA_DINH,
                "province_name": "Tỉnh Thái Nguyên",
                "ward_name": "Phường Phan Đình Phùng",
            },
        )
    )
    assert other.created is False and other.reference == first.reference
    assert (other.elsewhere, other.updated) == (True, True)
    view = service.get(first.reference)
    assert view.address_text == "12 Điện Biên Phủ, Ba Đình, Hà Nội"
    assert view.team_id == first.team_id
    told = [event.reason for event in service.history(first.reference)][-1]
    assert told.startswith("Khách xác nhận lại qua facebook, từ một cuộc trò chuyện khác: ")
    assert (
        '"tổ 3 phường Quang Trung, Thái Nguyên" (Phường Phan Đình Phùng, Tỉnh Thái Nguyên)' in told
    )
    assert 'tên "Lan"' in told
    # One request, and the team's chat is told what was added (the post, then the note).
    assert count(sessions, sim_requests) == 1
    with sessions() as session:
        rows = session.execute(select(outbox.c.kind, outbox.c.payload).order_by(outbox.c.id))
        kinds = [(row.kind, row.payload.get("note")) for row in rows]
    assert kinds == [("new_request", None), ("details_added", told)]
    # The same details confirmed once more are not news: no second note.
    again = service.submit(draft(sender_id="fb-2", channel="facebook", contact_name="Lan"))
    assert (again.elsewhere, again.updated) == (True, False)
    assert count(sessions, outbox) == 2
    # The same conversation correcting its address: its history too, not elsewhere.
    moved = service.submit(draft(address_text="14 Điện Biên Phủ, Ba Đình, Hà Nội"))
    assert (moved.elsewhere, moved.updated) == (False, True)
    assert "từ cùng cuộc trò chuyện" in service.history(first.reference)[-1].reason


def test_a_note_after_the_request_reaches_its_history_and_the_team(service, sessions):
    # "thứ 7 mới có nhà" after the request was sent: its history, and the team's chat told
    # (the post, then the note); once only; never another conversation's request.
    first = service.submit(draft())
    assert service.add_customer_note("user-1", "  thứ 7 mới   có nhà ") is not None
    told = service.history(first.reference)[-1]
    assert (told.reason, told.actor) == ("Khách nhắn thêm: thứ 7 mới có nhà", "customer")
    assert service.get(first.reference).status == "new"  # not moved
    assert service.add_customer_note("user-1", "thứ 7 mới có nhà") is not None
    with sessions() as session:
        rows = session.execute(select(outbox.c.kind, outbox.c.payload).order_by(outbox.c.id))
        kinds = [(row.kind, row.payload.get("note")) for row in rows]
    assert kinds == [("new_request", None), ("details_added", told.reason)]
    assert service.add_customer_note("fb-2", "chiều nay") is None  # sent nothing
    service.cancel_by_sender(first.reference, "user-1")
    assert service.add_customer_note("user-1", "chiều nay") is None  # nothing open


def test_other_type_or_closed_request_creates_a_new_one(service, sessions):
    first = service.submit(draft())
    advice = service.submit(draft(request_type="advice"))
    assert advice.created is True
    assert advice.reference != first.reference

    service.transition(first.reference, "cancelled", "customer", "changed mind")
    again = service.submit(draft())
    assert again.created is True
    assert again.reference != first.reference
    assert count(sessions, sim_requests) == 3


def test_find_open_by_any_spelling(service):
    a = service.submit(draft())
    b = service.submit(draft(request_type="new_subscription"))
    found = service.find_open("84901234567")
    assert {v.reference for v in found} == {a.reference, b.reference}
    assert [v.reference for v in service.find_open("0901234567", "sim_swap")] == [a.reference]
    assert service.find_open("0931234567") == []


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"request_type": "sim_upgrade"}, "invalid_type"),
        ({"phone": "12345"}, "invalid_phone"),
        ({"phone": "+33612345678"}, "invalid_phone"),
        ({"units": None}, "no_province"),
        ({"units": {"status": "not_found", "province_code": None}}, "no_province"),
        ({"units": {"province_code": "99"}}, "unknown_province"),
        ({"channel": "Not A Channel!"}, "invalid_channel"),
        ({"address_text": "x" * 1001}, "too_long"),
    ],
)
def test_invalid_drafts_are_refused_and_nothing_is_stored(service, sessions, overrides, reason):
    with pytest.raises(InvalidDraft) as info:
        service.submit(draft(**overrides))
    assert info.value.reason == reason
    assert count(sessions, sim_requests) == 0
    assert count(sessions, outbox) == 0


def test_province_only_answer_routes_to_province_team(service):
    outcome = service.submit(draft(units={"province_code": "92"}, address_text=None))
    assert (outcome.team_id, outcome.route_rule) == ("p92", "province:92")
    assert service.get(outcome.reference).province_name == "Cần Thơ"


def test_get_accepts_what_people_type_and_rejects_unknown(service):
    outcome = service.submit(draft())
    body = outcome.reference[3:].replace("-", "")
    assert service.get(body.lower()).reference == outcome.reference
    assert service.get("4g " + body[:4] + " " + body[4:]).reference == outcome.reference
    with pytest.raises(UnknownRequest):
        service.get("4G-2222-2222")
    with pytest.raises(UnknownRequest):
        service.get("not a reference")


def test_list_filters(service):
    hn = service.submit(draft())
    ct = service.submit(draft(phone="0931234567", units={"province_code": "92"}))
    adv = service.submit(draft(phone="0771234567", request_type="advice"))
    service.transition(adv.reference, "assigned", "dispatcher")

    assert [v.reference for v in service.list(province_code="92")] == [ct.reference]
    assert {v.reference for v in service.list(province_code="01")} == {hn.reference, adv.reference}
    assert [v.reference for v in service.list(status="assigned")] == [adv.reference]
    assert len(service.list(status=["new", "assigned"])) == 3
    assert [v.reference for v in service.list(ward_code="00004", request_type="sim_swap")] == [
        hn.reference
    ]
    assert [v.reference for v in service.list(limit=1, offset=1)] == [ct.reference]
    from datetime import timedelta

    assert service.list(older_than=timedelta(hours=1)) == []
    assert len(service.list(older_than=timedelta(seconds=-5))) == 3
    assert service.count(province_code="01") == 2


def test_logs_never_hold_the_full_phone_or_address(service, caplog):
    caplog.set_level(logging.DEBUG)
    outcome = service.submit(draft())
    service.submit(draft())
    service.transition(outcome.reference, "accepted", "team:p01")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert outcome.reference in text
    assert "090****567" in text
    for secret in ("0901234567", "901234567", "84901234567", "Điện Biên Phủ"):
        assert secret not in text
