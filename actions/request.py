"""Actions around the request: submit on confirmation, hand over, stop, correct.

Each action only sets slots; the rule that follows utters the response whose
variation those slots select, so every customer-facing text stays in ``domain.yml``.
"""

from __future__ import annotations

import asyncio
import logging
import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.form import MAX_CHOICES, SKIP_VALUE, latest_intent, one_province, visit_time_said
from actions.services import (
    add_customer_note,
    cancel_request,
    resolve_address,
    sent_requests,
    submit,
)
from bot import phone
from bot.campaign import hooks
from bot.edits import number_corrected
from bot.phone import mask
from bot.requests import OPEN_STATUSES, InvalidDraft, RequestDraft
from bot.text import fold
from bot.visits import with_visit_time

log = logging.getLogger(__name__)

# Slots that describe the request being collected; cleared once it is stored or dropped.
REQUEST_SLOTS = (
    "request_type",
    "address",
    "contact_name",
    "name_given",
    "address_units",
    "address_label",
    "address_status",
    "address_district",
    "address_pending",
    "address_choices",
    "address_choice_count",
    "address_choice_scope",
    *(f"address_choice_{i}" for i in range(1, MAX_CHOICES + 1)),
    "phone_error",
    "same_request",
    "advice_need",
    "need_given",
    "more_requested",
    "visit_time",
    "visit_given",
)


async def _draft(tracker: Tracker, request_type: str, *, callback: bool = False) -> RequestDraft:
    """The request as collected. A call-back with no address settled takes the province of
    a pending question between its wards, or else the address the last request of this
    conversation confirmed (cleared from the request's slots once sent): "gặp nhân viên"
    there asked for the address again."""
    address, units = tracker.get_slot("address"), tracker.get_slot("address_units")
    pending, province = tracker.get_slot("address_pending"), one_province(tracker)
    if callback and not units and pending and province:
        # Asked for a person at the question between the wards of one province: the
        # province is known, and routes the call-back (the team settles the ward).
        found = await resolve_address(str(pending), province)
        if found.status in {"resolved", "province_only"}:
            address, units = str(pending), found.to_dict()
    if callback and not units and tracker.get_slot("previous_address_units"):
        address = tracker.get_slot("previous_address")
        units = tracker.get_slot("previous_address_units")
    name = tracker.get_slot("contact_name")
    phone = str(tracker.get_slot("phone_number") or "")
    # The channel that brought the customer (a Liveinfo Yes finished on the web page is
    # "liveinfo"), and the one they last wrote on.
    channel, last_channel = await asyncio.to_thread(
        hooks.request_channels,
        tracker.events,
        sender_id=tracker.sender_id,
        campaign=tracker.get_slot("campaign"),
        phone=phone,
    )
    return RequestDraft(
        request_type=request_type,
        phone=phone,
        channel=channel,
        last_channel=last_channel,
        sender_id=tracker.sender_id,
        contact_name=None if name in (None, SKIP_VALUE) else str(name),
        address_text=address,
        units=units,
        campaign=tracker.get_slot("campaign"),
        callback_requested=callback,
        note=_note(tracker, request_type),
    )


def _note(tracker: Tracker, request_type: str) -> str | None:
    """The request's note, which the team's message and the console show: what a customer
    asking for advice said they need, for the advisor, and when the customer said they
    can be visited or called, for the call that sets a time."""
    need = tracker.get_slot("advice_need") if request_type == "advice" else None
    said = [str(part) for part in (need, tracker.get_slot("visit_time")) if part]
    return " / ".join(said) or None


def _cleared() -> list[EventType]:
    return [SlotSet(name, None) for name in REQUEST_SLOTS]


class ActionSubmitRequest(Action):
    """Hands the confirmed request to the store, which routes it to the area's team."""

    def name(self) -> str:
        return "action_submit_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        draft = await _draft(tracker, str(tracker.get_slot("request_type") or ""))
        try:
            outcome = await submit(draft)
        except InvalidDraft as exc:
            log.warning("request not stored for %s: %s", mask(draft.phone), exc.reason)
            status = "no_area" if exc.reason in {"no_province", "unknown_province"} else "error"
            return [SlotSet("submit_status", status)]
        except Exception:
            # The slots are kept: the customer can send the same request again.
            log.exception("request store failed for %s", mask(draft.phone))
            return [SlotSet("submit_status", "error")]
        log.info(
            "request %s %s for %s routed to %s",
            outcome.reference,
            "created" if outcome.created else "found",
            mask(draft.phone),
            outcome.team_id,
        )
        if outcome.elsewhere:
            # Another conversation sent it: whoever typed the number here is not told its
            # reference or team (anyone can type a number); what they gave is in its
            # history for the team's call-back.
            return [
                SlotSet("submit_status", "existing_elsewhere"),
                SlotSet("submitted_type", draft.request_type),
                SlotSet("submitted_more", tracker.get_slot("more_requested")),
                SlotSet("submitted_phone", draft.phone),
                *_remembered_address(tracker, draft),
                *_cleared(),
            ]
        if outcome.created:
            status = "created"
        else:  # found again: told whether what it gave went to the team as new details
            status = "existing_updated" if outcome.updated else "existing"
        return [
            SlotSet("submit_status", status),
            SlotSet("submitted_type", draft.request_type),
            # Another number was asked for meanwhile: the result asks what it needs.
            SlotSet("submitted_more", tracker.get_slot("more_requested")),
            SlotSet("submitted_phone", draft.phone),
            SlotSet("request_reference", outcome.reference),
            SlotSet("request_status", outcome.status),
            SlotSet("team_name", outcome.team_name),
            *_remembered_address(tracker, draft),
            *_cleared(),
        ]


def _remembered_address(tracker: Tracker, draft: RequestDraft) -> list[EventType]:
    """The address just confirmed, offered at the next request's address question ("đổi sim
    cho số khác": a second SIM of the same home): a home when it was asked as one (any
    service but advice) or has a street; else an area, offered for advice only."""
    if not draft.address_text:
        return []
    units = tracker.get_slot("address_units") or {}
    home = draft.request_type != "advice" or bool(units.get("street"))
    return [
        SlotSet("previous_address", draft.address_text),
        SlotSet("previous_address_label", tracker.get_slot("address_label")),
        SlotSet("previous_address_units", units),
        SlotSet("address_offer", "home" if home else "area"),
    ]


class ActionHandoff(Action):
    """Hand over to a person: a call-back request when the phone and the province are
    known (the province team calls back), else 9090."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None)]
        if not tracker.get_slot("phone_number"):
            return [*events, SlotSet("handoff_status", "hotline")]
        draft = await _draft(tracker, "callback", callback=True)
        try:
            outcome = await submit(draft)
        except InvalidDraft as exc:
            # No province yet (the store's own check, not a copy of it): no team to call
            # back, an expected turn of the conversation rather than a failure.
            log.info("call-back not requested for %s: %s", mask(draft.phone), exc.reason)
            return [*events, SlotSet("handoff_status", "hotline")]
        except Exception as exc:
            log.warning("call-back not stored for %s: %r", mask(draft.phone), type(exc).__name__)
            return [*events, SlotSet("handoff_status", "hotline")]
        if outcome.elsewhere:
            # A call-back another conversation asked for: no reference to this one.
            return [*events, SlotSet("handoff_status", "callback_elsewhere")]
        return [
            *events,
            SlotSet("handoff_status", "callback"),
            SlotSet("request_reference", outcome.reference),
            SlotSet("team_name", outcome.team_name),
        ]


# Words that cancel a request already sent ("hủy yêu cầu", "không cần nữa"), as opposed to
# ending the chat ("thôi", "dừng lại"), folded.
_CANCEL = re.compile(r"\b(?:huy|cancel)\b|\b(?:khong|ko|k|hong) (?:can|doi|lay|muon doi) nua\b")


class ActionStop(Action):
    """The customer stopped: leave the form and forget the half-collected request. Said
    after a request was sent, outside a form, with a cancel word ("hủy yêu cầu"), the
    request is cancelled in the store: "em đã dừng lại" alone left it with the team, who
    called back. ``stop_status`` picks the reply's variation."""

    def name(self) -> str:
        return "action_stop"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None), *_cleared()]
        reference = tracker.get_slot("request_reference")
        if not reference:
            if tracker.active_loop_name and tracker.get_slot("same_request"):
                # "Thôi" at the repeat of a request another conversation sent: it stands,
                # and the reply says so by its number (its reference is not shown here).
                return [*events, SlotSet("stop_status", "kept_elsewhere")]
            return [*events, SlotSet("stop_status", None)]
        if tracker.active_loop_name or not _CANCEL.search(
            fold(str(tracker.latest_message.get("text") or ""))
        ):
            # A stop during a second request's form drops that form only: the reply says
            # the request sent stands ("Thôi, không cần" at the question of a repeat).
            return [*events, SlotSet("stop_status", "kept")]
        try:
            outcome = await cancel_request(str(reference), tracker.sender_id)
        except Exception:
            log.exception("request %s not cancelled", reference)
            outcome = "error"
        log.info("request %s: customer cancel → %s", reference, outcome)
        return [*events, SlotSet("stop_status", outcome)]


class ActionRequestStatus(Action):
    """How the customer's request stands ("yêu cầu của em đến đâu rồi", "sao chưa thấy ai
    gọi"): the latest request this conversation sent, read from the store (the team may
    have moved it since). ``status_check`` and ``request_status`` pick the reply's
    variation; the reference is kept, so "hủy yêu cầu" next cancels that one."""

    def name(self) -> str:
        return "action_request_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            views = await sent_requests(tracker.sender_id)
        except Exception:
            log.exception("request status not read")
            return [SlotSet("status_check", "error")]
        view = views[0] if views else None
        if view is None:
            if tracker.get_slot("submit_status") == "existing_elsewhere":
                # This conversation's confirmation found a request another one sent: it is
                # told so again, without its reference (see ActionSubmitRequest).
                return [SlotSet("status_check", "elsewhere")]
            # Asked while a request is being collected, the reply offers no menu: it says
            # the one under way is sent at the read-back's yes.
            return [SlotSet("status_check", "none_in_form" if tracker.active_loop_name else "none")]
        others = [v for v in views[1:] if v.status in OPEN_STATUSES]
        if others:
            # Sent from here too (a relative's number), still open: named before the
            # latest one's status, which the reply then gives.
            dispatcher.utter_message(
                response="utter_other_requests",
                request_count=str(len(others) + 1),
                request_list=", ".join(
                    f"{v.reference} ({phone.parse(v.phone).national})" for v in [view, *others]
                ),
            )
        return [
            SlotSet("status_check", "found"),
            SlotSet("request_reference", view.reference),
            SlotSet("request_status", view.status),
            SlotSet("team_name", view.team_name),
        ]


_CORRECTIONS: dict[str, tuple[str, ...]] = {
    "correct_phone": ("phone_number", "phone_error"),
    "correct_address": tuple(name for name in REQUEST_SLOTS if name.startswith("address")),
    "correct_request_type": ("request_type",),
    "correct_name": ("contact_name",),
}


class ActionCorrectSlot(Action):
    """Clears the answer the customer wants to change; the form then asks it again. A
    house number corrected in a few words ("số 14 chứ không phải 12") is replaced in the
    address instead (``bot.edits``): the ward read or chosen stays, nothing is asked
    again but a question pending about it, which quotes the corrected text."""

    def name(self) -> str:
        return "action_correct_slot"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = latest_intent(tracker)
        if intent == "correct_address":
            fixed = _number_fixed(tracker, dispatcher)
            if fixed is not None:
                return fixed
        return [SlotSet(name, None) for name in _CORRECTIONS.get(intent or "", ())]


def _number_fixed(tracker: Tracker, dispatcher: CollectingDispatcher) -> list[EventType] | None:
    """The address (or the one a question is pending about) with the house number the
    message corrects, said back when settled; None when the message corrects no number of
    it."""
    said = str(tracker.latest_message.get("text") or "")
    address, pending = tracker.get_slot("address"), tracker.get_slot("address_pending")
    if address:
        fixed = number_corrected(said, str(address))
        if fixed is None:
            return None
        units = dict(tracker.get_slot("address_units") or {})
        street = units.get("street")
        if units.get("text") == address:
            units["text"] = fixed  # still the answer settled (validate_address keeps it)
        if street:
            units["street"] = number_corrected(said, str(street)) or street
        label = tracker.get_slot("address_label")
        dispatcher.utter_message(
            response="utter_address_corrected", address=fixed, address_label=label
        )
        return [SlotSet("address", fixed), SlotSet("address_units", units)]
    if pending:
        fixed = number_corrected(said, str(pending))
        return None if fixed is None else [SlotSet("address_pending", fixed)]
    return None


class ActionNoteVisitTime(Action):
    """When the customer says they can be visited or called ("thứ 7 có đến không"), at
    the read-back or outside a request: kept with the request being collected (its note),
    or, with none, ``visit_status`` picks the answer (``utter_visit_time_answer``): a
    request this conversation sent and still open gets it in its history, and the team's
    chat is told ("added"); else the staff are to be told when they call ("sent"); no
    request yet: the services are offered ("none"). The form notes it itself while it
    asks."""

    def name(self) -> str:
        return "action_note_visit_time"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        said = visit_time_said(tracker) or str(tracker.latest_message.get("text") or "")
        collecting = bool(tracker.get_slot("request_type") and tracker.get_slot("phone_number"))
        if collecting:
            noted = with_visit_time(tracker.get_slot("visit_time"), said)
            return [
                SlotSet("visit_time", noted),
                SlotSet("visit_time_said", said),
                SlotSet("visit_status", "noted"),
                SlotSet("visit_given", "yes"),
            ]
        if not tracker.get_slot("submitted_type"):
            return [SlotSet("visit_time_said", said), SlotSet("visit_status", "none")]
        try:
            added = await add_customer_note(tracker.sender_id, said)
        except Exception:
            # Not stored: the answer asks the customer to tell the staff when they call.
            log.exception("visit time not added to the request of this conversation")
            added = None
        if added is None:
            return [SlotSet("visit_time_said", said), SlotSet("visit_status", "sent")]
        return [
            SlotSet("visit_time_said", said),
            SlotSet("visit_status", "added"),
            SlotSet("request_reference", added.reference),
            SlotSet("team_name", added.team_name),
        ]
