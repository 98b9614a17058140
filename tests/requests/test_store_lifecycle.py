from __future__ import annotations

import threading

import pytest

from bot.requests import IllegalTransition, RequestDraft, UnknownRequest
from bot.requests.lifecycle import STATUSES, TRANSITIONS, allowed


def submit(service, phone="0901234567"):
    return service.submit(
        RequestDraft("sim_swap", phone, "rest", "u1", units={"province_code": "79"})
    )


def test_full_path_records_every_change(service):
    ref = submit(service).reference
    for status in ("assigned", "accepted", "visited", "done"):
        view = service.transition(ref, status, f"staff:{status}", reason=f"to {status}")
        assert view.status == status
    view = service.get(ref)
    assert view.closed_at is not None
    assert view.updated_at >= view.created_at
    history = service.history(ref)
    assert [(e.from_status, e.to_status) for e in history] == [
        (None, "new"),
        ("new", "assigned"),
        ("assigned", "accepted"),
        ("accepted", "visited"),
        ("visited", "done"),
    ]
    assert history[2].actor == "staff:accepted"
    assert history[2].reason == "to accepted"


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), "done"),
        ((), "visited"),
        ((), "unreachable"),
        (("assigned",), "visited"),
        (("assigned", "accepted", "done"), "accepted"),
        (("cancelled",), "new"),
        (("assigned",), "assigned"),
        ((), "bogus"),
    ],
)
def test_illegal_transitions_change_nothing(service, path, illegal):
    ref = submit(service).reference
    for status in path:
        service.transition(ref, status, "t")
    before = service.get(ref)
    events = len(service.history(ref))
    with pytest.raises(IllegalTransition) as info:
        service.transition(ref, illegal, "t")
    assert info.value.from_status == before.status
    assert info.value.to_status == illegal
    assert service.get(ref) == before
    assert len(service.history(ref)) == events


def test_unknown_reference(service):
    with pytest.raises(UnknownRequest):
        service.transition("4G-2345-6789", "assigned", "t")


def test_transition_table_is_closed_and_terminal_states_final():
    for source, targets in TRANSITIONS.items():
        assert source in STATUSES
        assert targets <= set(STATUSES)
    for status in ("done", "unreachable", "cancelled"):
        assert not any(allowed(status, other) for other in STATUSES)
    assert allowed("new", "assigned") and not allowed("new", "done")


@pytest.mark.postgres
def test_two_presses_at_once_only_one_wins(pg_service):
    ref = submit(pg_service).reference
    pg_service.transition(ref, "assigned", "dispatcher")
    barrier = threading.Barrier(8)
    wins, losses = [], []

    def press(n: int) -> None:
        barrier.wait()
        try:
            pg_service.transition(ref, "accepted", f"staff:{n}")
            wins.append(n)
        except IllegalTransition:
            losses.append(n)

    threads = [threading.Thread(target=press, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(losses) == 7
    accepted = [e for e in pg_service.history(ref) if e.to_status == "accepted"]
    assert [e.actor for e in accepted] == [f"staff:{wins[0]}"]


def test_the_customer_cancels_from_the_conversation_that_sent_it(service):
    # "hủy yêu cầu" after the request was sent: it is cancelled (the team would still call
    # back), with the customer as the actor, and the team's posted message is queued for
    # an edit, as after a change in the console.
    ref = submit(service).reference
    service.transition(ref, "assigned", "dispatcher")
    service.outbox.record_message(ref, chat_id=-100, message_id=7, purpose="new_request")
    assert service.cancel_by_sender(ref, "u1") == "cancelled"
    view = service.get(ref)
    assert view.status == "cancelled" and view.closed_at is not None
    assert service.history(ref)[-1].actor == "customer"
    assert service.outbox.has_kind(ref, "status_changed")
    # Nothing is left to cancel the second time.
    assert service.cancel_by_sender(ref, "u1") == "closed"


def test_a_request_never_posted_is_cancelled_without_an_edit(service):
    ref = submit(service, phone="0901234568").reference
    assert service.cancel_by_sender(ref, "u1") == "cancelled"
    assert not service.outbox.has_kind(ref, "status_changed")


def test_another_conversation_cannot_cancel_a_request(service):
    # Found by its phone number (a second request for the same number finds it), which
    # anyone can type: only the conversation that sent it cancels it from the chat.
    ref = submit(service, phone="0901234569").reference
    assert service.cancel_by_sender(ref, "someone-else") == "not_yours"
    assert service.get(ref).status == "new"


def test_a_closed_request_is_not_cancelled(service):
    ref = submit(service, phone="0901234570").reference
    for status in ("assigned", "accepted", "done"):
        service.transition(ref, status, "t")
    assert service.cancel_by_sender(ref, "u1") == "closed"
    assert service.get(ref).status == "done"


def test_a_conversation_sees_the_latest_request_it_sent(service):
    # "yêu cầu của em đến đâu rồi": the latest request from this conversation, whatever
    # its status; another conversation's, found by the same phone number, is not shown.
    assert service.latest_by_sender("u-status") is None
    first = service.submit(
        RequestDraft("sim_swap", "0901234580", "rest", "u-status", units={"province_code": "79"})
    ).reference
    service.transition(first, "cancelled", "customer")
    second = service.submit(
        RequestDraft("advice", "0901234581", "rest", "u-status", units={"province_code": "79"})
    ).reference
    service.transition(second, "assigned", "dispatcher")
    view = service.latest_by_sender("u-status")
    assert view is not None
    assert (view.reference, view.status) == (second, "assigned")
    assert view.team_name  # the province team the reply names
    assert service.latest_by_sender("someone-else") is None
    # Every request it sent, latest first (the reply names the open ones).
    assert [v.reference for v in service.by_sender("u-status")] == [second, first]
    assert [v.reference for v in service.by_sender("u-status", limit=1)] == [second]
    assert service.by_sender("someone-else") == []
