from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.requests import RequestDraft, UnknownRequest, retry_delay


def submit(service, phone="0901234567", province="01"):
    return service.submit(
        RequestDraft("sim_swap", phone, "rest", "u", units={"province_code": province})
    )


def test_claim_lease_and_delivery(service):
    ref = submit(service).reference
    box = service.outbox
    assert box.pending_count() == 1

    items = box.claim_due()
    assert [i.reference for i in items] == [ref]
    item = items[0]
    assert item.kind == "new_request" and item.team_id == "p01" and item.attempts == 1
    assert item.payload["chat_id"] is None  # no Telegram group configured for p01
    # Leased: a second dispatcher sees nothing.
    assert box.claim_due() == []

    box.mark_delivered(item.id, chat_id=-100123, message_id=42)
    assert box.pending_count() == 0
    assert box.find_by_message(-100123, 42) == ref
    assert box.find_by_message(-100123, 43) is None
    [message] = box.messages_for(ref)
    assert (message.chat_id, message.message_id, message.purpose) == (-100123, 42, "new_request")


def test_failed_delivery_is_retried_not_lost(service):
    submit(service)
    box = service.outbox
    [item] = box.claim_due()
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    box.mark_failed(item.id, "telegram: 502 Bad Gateway", retry_at=past)
    [again] = box.claim_due()
    assert again.id == item.id and again.attempts == 2
    assert again.last_error == "telegram: 502 Bad Gateway"

    box.mark_failed(again.id, "still down")  # default back-off: not due yet
    assert box.claim_due() == []
    assert box.pending_count() == 1


def test_expired_lease_comes_back(service):
    submit(service)
    box = service.outbox
    [item] = box.claim_due(lease=timedelta(seconds=-1))  # a dispatcher that died at once
    [again] = box.claim_due()
    assert again.id == item.id and again.attempts == 2


def test_enqueue_once_for_escalations(service):
    ref = submit(service).reference
    box = service.outbox
    payload = {"reference": ref}
    first = box.enqueue(ref, "p01", "escalation", payload, once=True)
    assert first is not None
    assert box.enqueue(ref, "p01", "escalation", payload, once=True) is None
    assert box.has_kind(ref, "escalation")
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    box.enqueue(ref, "p01", "reminder", payload, not_before=later)
    kinds = sorted(i.kind for i in box.claim_due())
    assert kinds == ["escalation", "new_request"]
    with pytest.raises(UnknownRequest):
        box.enqueue("4G-2222-3333", "p01", "escalation", payload)


def test_record_message_is_idempotent(service):
    ref = submit(service).reference
    service.outbox.record_message(ref, -5, 7, "escalation")
    service.outbox.record_message(ref, -5, 7, "escalation")
    assert len(service.outbox.messages_for(ref)) == 1


def test_retry_delay_grows_and_is_capped():
    assert retry_delay(1) < retry_delay(3) < retry_delay(6)
    assert retry_delay(50) == timedelta(minutes=10)
