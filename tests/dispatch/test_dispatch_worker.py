"""The dispatcher against the local fake Bot API: delivery, redelivery, buttons, SLA."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging

from sqlalchemy import select

from bot.dispatch.telegram import TelegramClient
from bot.dispatch.worker import DispatchConfig, Dispatcher
from bot.requests.schema import outbox, team_messages

HANOI_CHAT = -1001000000001
HANOI_ESCALATION = -1001000000999


def outbox_rows(store):
    with store.sessions() as session:
        return session.execute(select(outbox).order_by(outbox.c.id)).all()


def buttons_of(message):
    return [b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


async def test_new_request_is_posted_to_the_team_chat_with_masked_phone(
    store, dispatcher, fake_tg, make_draft
):
    outcome = store.service.submit(make_draft())

    report = await dispatcher.run_once()

    assert report.delivered == 1
    sent = fake_tg.calls_of("sendMessage")
    assert len(sent) == 1
    assert sent[0]["chat_id"] == HANOI_CHAT
    assert sent[0]["parse_mode"] == "HTML"
    text = sent[0]["text"]
    assert outcome.reference in text
    assert "090****456" in text
    assert "0903123456" not in text
    assert "12 Phố Huế" in text
    assert "Đổi SIM 4G" in text
    message = fake_tg.chat_messages(HANOI_CHAT)[0]
    assert buttons_of(message) == [f"a:{outcome.reference}", f"u:{outcome.reference}"]
    # Recorded for later edits; the request is now assigned to the team.
    row = outbox_rows(store)[0]
    assert row.delivered_at is not None
    assert row.attempts == 1
    assert row.payload["message_id"] == message["message_id"]
    with store.sessions() as session:
        posted = session.execute(select(team_messages)).all()
    assert [(p.chat_id, p.message_id) for p in posted] == [(HANOI_CHAT, message["message_id"])]
    assert store.service.get(outcome.reference).status == "assigned"
    # Nothing left to send.
    assert (await dispatcher.run_once()).delivered == 0
    assert len(fake_tg.calls_of("sendMessage")) == 1


async def test_restricted_zone_delivery_note_is_shown(store, dispatcher, fake_tg, make_draft):
    directory = store.service.directory
    zone = next(z for z in directory.zones.values() if z.ward_code is not None)
    # Make the shipped example zone active today, whatever its configured dates.
    active = dataclasses.replace(zone, start=dt.date(2000, 1, 1), end=None)
    store.service.directory = dataclasses.replace(
        directory,
        zones={**directory.zones, zone.id: active},
        _zones_by_province={zone.province_code: (active,)},
    )
    units = {"province_code": zone.province_code, "ward_code": zone.ward_code}

    outcome = store.service.submit(make_draft(units=units))
    await dispatcher.run_once()

    assert outcome.route_rule == f"restricted-zone:{zone.id}"
    sent = fake_tg.calls_of("sendMessage")
    assert len(sent) == 1
    assert "Giao qua" in sent[0]["text"]
    assert outcome.delivery_note.split(":")[0] in sent[0]["text"]


async def test_outage_delays_then_delivers_exactly_once(
    store, dispatcher, fake_tg, clock, make_draft
):
    outcome = store.service.submit(make_draft())
    fake_tg.fail("sendMessage", status=500, times=2)

    first = await dispatcher.run_once()

    assert first.delivered == 0
    assert first.failed == 1
    row = outbox_rows(store)[0]
    assert row.delivered_at is None
    assert row.attempts == 1
    assert "Internal Server Error" in row.last_error
    # Backed off: not retried before next_attempt_at.
    assert (await dispatcher.run_once()).failed == 0
    assert len(fake_tg.calls_of("sendMessage")) == 1

    clock.advance(seconds=10)
    second = await dispatcher.run_once()
    assert second.failed == 1
    assert outbox_rows(store)[0].attempts == 2

    clock.advance(seconds=30)
    third = await dispatcher.run_once()
    assert third.delivered == 1
    assert outbox_rows(store)[0].last_error is None
    assert len(fake_tg.chat_messages(HANOI_CHAT)) == 1
    assert store.service.get(outcome.reference).status == "assigned"


async def test_flood_control_retry_after_is_respected(
    store, dispatcher, fake_tg, clock, make_draft
):
    store.service.submit(make_draft())
    fake_tg.fail("sendMessage", status=429, retry_after=120)

    report = await dispatcher.run_once()

    assert report.failed == 1
    row = outbox_rows(store)[0]
    wait = (row.next_attempt_at.replace(tzinfo=None) - clock().replace(tzinfo=None)).total_seconds()
    assert 110 < wait <= 120
    clock.advance(seconds=60)
    assert (await dispatcher.run_once()).delivered == 0
    clock.advance(seconds=61)
    assert (await dispatcher.run_once()).delivered == 1


async def test_restart_resends_what_was_not_delivered(store, fake_tg, clock, make_draft):
    store.service.submit(make_draft())
    store.service.submit(make_draft(phone="0903999888"))
    fake_tg.fail("sendMessage", status=502, times=1)
    first = TelegramClient(fake_tg.token, base_url=fake_tg.base_url)
    crashed = Dispatcher(store.service, store.sessions, first, clock=clock)
    await crashed.run_once()
    await first.close()
    # A second dispatcher claimed a row and "crashed" before sending: its lease expires.
    other = Dispatcher(store.service, store.sessions, None, clock=clock)
    clock.advance(seconds=20)
    assert len(other.claim_due()) == 2

    clock.advance(seconds=DispatchConfig().lease_seconds + 1)
    second = TelegramClient(fake_tg.token, base_url=fake_tg.base_url)
    restarted = Dispatcher(store.service, store.sessions, second, clock=clock)
    report = await restarted.run_once()
    await second.close()

    assert report.delivered == 2
    assert len(fake_tg.chat_messages(HANOI_CHAT)) == 2
    assert all(r.delivered_at is not None for r in outbox_rows(store))


async def test_accept_button_records_presser_and_reveals_phone(
    store, dispatcher, fake_tg, make_draft
):
    outcome = store.service.submit(make_draft())
    await dispatcher.run_once()
    message = fake_tg.chat_messages(HANOI_CHAT)[0]

    fake_tg.press(HANOI_CHAT, message["message_id"], f"a:{outcome.reference}", user_id=4242)
    report = await dispatcher.run_once()

    assert report.updates == 1
    view = store.service.get(outcome.reference)
    assert view.status == "accepted"
    last = store.service.history(outcome.reference)[-1]
    assert last.actor.startswith("telegram:4242 Lan")
    answers = fake_tg.calls_of("answerCallbackQuery")
    assert len(answers) == 1
    assert "Đã nhận" in answers[0]["text"]
    edited = fake_tg.chat_messages(HANOI_CHAT)[0]
    assert "edit_date" in edited
    assert "0903123456" in edited["text"]
    assert "Lan (@lan_team)" in edited["text"]
    assert buttons_of(edited) == [f"d:{outcome.reference}", f"u:{outcome.reference}"]

    fake_tg.press(HANOI_CHAT, message["message_id"], f"d:{outcome.reference}")
    await dispatcher.run_once()
    assert store.service.get(outcome.reference).status == "done"
    final = fake_tg.chat_messages(HANOI_CHAT)[0]
    assert "reply_markup" not in final
    assert "Hoàn thành" in final["text"]


async def test_details_added_by_a_repeat_confirmation_reach_the_team_chat(
    store, dispatcher, fake_tg, make_draft
):
    # The team works from its post, which shows the first address: another address
    # confirmed later (from another conversation) is posted under it.
    outcome = store.service.submit(make_draft())
    await dispatcher.run_once()
    post = fake_tg.chat_messages(HANOI_CHAT)[0]
    again = store.service.submit(
        make_draft(sender_id="facebook-7", address_text="45 Hàng Bông, Hoàn Kiếm")
    )
    assert again.updated and again.reference == outcome.reference

    assert (await dispatcher.run_once()).delivered == 1

    messages = fake_tg.chat_messages(HANOI_CHAT)
    assert len(messages) == 2
    reply = messages[1]
    assert reply["reply_to_message"]["message_id"] == post["message_id"]
    assert outcome.reference in reply["text"]
    assert "45 Hàng Bông, Hoàn Kiếm" in reply["text"]
    assert "một cuộc trò chuyện khác" in reply["text"]
    assert "reply_markup" not in reply
    assert "0903123456" not in reply["text"]
    # Nothing more to send, and a status change edits the post, not the reply.
    assert (await dispatcher.run_once()).delivered == 0
    fake_tg.press(HANOI_CHAT, post["message_id"], f"a:{outcome.reference}")
    await dispatcher.run_once()
    edits = fake_tg.calls_of("editMessageText")
    assert [e["message_id"] for e in edits] == [post["message_id"]]
    # The same details again are not news: no second reply.
    store.service.submit(make_draft(sender_id="facebook-7", address_text="45 Hàng Bông, Hoàn Kiếm"))
    store.service.submit(make_draft(address_text="12 Phố Huế, Hai Bà Trưng"))
    await dispatcher.run_once()
    assert len(fake_tg.chat_messages(HANOI_CHAT)) == 2


async def test_details_for_a_request_closed_meanwhile_are_not_posted(
    store, dispatcher, fake_tg, make_draft
):
    outcome = store.service.submit(make_draft())
    await dispatcher.run_once()
    store.service.submit(make_draft(sender_id="facebook-7", contact_name="Lan"))
    store.service.transition(outcome.reference, "cancelled", "console:hanoi", reason="test")

    await dispatcher.run_once()

    assert len(fake_tg.chat_messages(HANOI_CHAT)) == 1
    assert all(r.delivered_at is not None for r in outbox_rows(store))


async def test_illegal_button_is_answered_with_an_error_and_changes_nothing(
    store, dispatcher, fake_tg, make_draft
):
    outcome = store.service.submit(make_draft())
    await dispatcher.run_once()
    message = fake_tg.chat_messages(HANOI_CHAT)[0]
    before = store.service.history(outcome.reference)

    # "Done" on a request nobody accepted (a stale or crafted button).
    fake_tg.press(HANOI_CHAT, message["message_id"], f"d:{outcome.reference}")
    await dispatcher.run_once()

    answer = fake_tg.calls_of("answerCallbackQuery")[0]
    assert answer["show_alert"] is True
    assert "Không thể chuyển" in answer["text"]
    assert store.service.get(outcome.reference).status == "assigned"
    assert store.service.history(outcome.reference) == before
    assert fake_tg.calls_of("editMessageText") == []


async def test_button_for_another_request_is_refused(store, dispatcher, fake_tg, make_draft):
    first = store.service.submit(make_draft())
    second = store.service.submit(make_draft(phone="0903999888"))
    await dispatcher.run_once()
    message = fake_tg.chat_messages(HANOI_CHAT)[0]

    fake_tg.press(HANOI_CHAT, message["message_id"], f"a:{second.reference}")
    fake_tg.press(HANOI_CHAT, message["message_id"], "x:garbage")
    await dispatcher.run_once()

    texts = [a["text"] for a in fake_tg.calls_of("answerCallbackQuery")]
    assert texts == ["Không tìm thấy yêu cầu này.", "Nút không hợp lệ."]
    assert store.service.get(second.reference).status == "assigned"
    assert store.service.get(first.reference).status == "assigned"


async def test_sla_escalates_once_to_the_province_escalation_chat(
    store, dispatcher, fake_tg, clock, make_draft
):
    late = store.service.submit(make_draft())
    taken = store.service.submit(make_draft(phone="0903999888"))
    await dispatcher.run_once()
    message = fake_tg.chat_messages(HANOI_CHAT)[1]
    fake_tg.press(HANOI_CHAT, message["message_id"], f"a:{taken.reference}")
    await dispatcher.run_once()

    clock.advance(minutes=59)
    assert (await dispatcher.run_once()).escalated == 0
    clock.advance(minutes=2)
    report = await dispatcher.run_once()

    assert report.escalated == 1
    escalations = fake_tg.chat_messages(HANOI_ESCALATION)
    assert len(escalations) == 1
    assert late.reference in escalations[0]["text"]
    assert "QUÁ HẠN" in escalations[0]["text"]
    assert "090****456" in escalations[0]["text"]
    # Once only.
    clock.advance(minutes=120)
    assert (await dispatcher.run_once()).escalated == 0
    assert len(fake_tg.chat_messages(HANOI_ESCALATION)) == 1

    # Accepting from the escalation chat updates both messages.
    fake_tg.press(HANOI_ESCALATION, escalations[0]["message_id"], f"a:{late.reference}")
    await dispatcher.run_once()
    assert store.service.get(late.reference).status == "accepted"
    assert "0903123456" in fake_tg.chat_messages(HANOI_ESCALATION)[0]["text"]
    assert "0903123456" in fake_tg.chat_messages(HANOI_CHAT)[0]["text"]


async def test_without_token_outbox_stays_pending_and_warns_once(store, make_draft, caplog):
    store.service.submit(make_draft())
    idle = Dispatcher(store.service, store.sessions, None)

    with caplog.at_level(logging.WARNING, logger="bot.dispatch.worker"):
        await idle.run_once()
        await idle.run_once()

    assert [r.delivered_at for r in outbox_rows(store)] == [None]
    warnings = [r for r in caplog.records if "not configured" in r.getMessage()]
    assert len(warnings) == 1


async def test_run_forever_delivers_and_stops(store, telegram, fake_tg, make_draft):
    outcome = store.service.submit(make_draft())
    worker = Dispatcher(
        store.service,
        store.sessions,
        telegram,
        DispatchConfig(idle_seconds=0.05, poll_timeout=1),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop))
    for _ in range(200):  # posted and recorded
        if store.service.get(outcome.reference).status == "assigned":
            break
        await asyncio.sleep(0.05)
    message = fake_tg.chat_messages(HANOI_CHAT)[0]
    fake_tg.press(HANOI_CHAT, message["message_id"], f"a:{outcome.reference}")
    for _ in range(200):
        if store.service.get(outcome.reference).status == "accepted":
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert store.service.get(outcome.reference).status == "accepted"


async def test_get_updates_conflict_is_reported_for_backoff(dispatcher, fake_tg):
    fake_tg.fail(
        "getUpdates",
        status=409,
        description="Conflict: can't use getUpdates while webhook is active",
    )
    assert await dispatcher.poll_updates(timeout=0) == -1
    assert await dispatcher.poll_updates(timeout=0) == 0
