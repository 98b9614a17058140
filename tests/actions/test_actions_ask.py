"""The form's questions: asked once, never twice in a row."""

from __future__ import annotations

from rasa_sdk import Tracker

from actions.ask import ActionAskAddress, ActionAskPhoneNumber


def _tracker(events):
    return Tracker("u", {}, {}, events, False, None, {"name": "request_form"}, "action_listen")


def _bot(response):
    return {"event": "bot", "text": "...", "metadata": {"utter_action": response}}


async def test_question_is_asked_with_its_response(dispatcher, domain):
    tracker = _tracker([{"event": "user", "text": "doi sim"}])
    assert await ActionAskPhoneNumber().run(dispatcher, tracker, domain) == []
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_phone_number"]


async def test_question_just_repeated_is_not_asked_again(dispatcher, domain):
    tracker = _tracker([{"event": "user", "text": "hả?"}, _bot("utter_ask_address")])
    await ActionAskAddress().run(dispatcher, tracker, domain)
    assert dispatcher.messages == []


async def test_question_asked_before_the_last_message_is_asked_again(dispatcher, domain):
    tracker = _tracker(
        [_bot("utter_ask_address"), {"event": "user", "text": "asdf"}, _bot("utter_faq")]
    )
    await ActionAskAddress().run(dispatcher, tracker, domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_address"]


def test_every_form_slot_has_an_ask_action_in_the_domain(domain):
    slots = domain["forms"]["request_form"]["required_slots"]
    assert {f"action_ask_{slot}" for slot in slots} <= set(domain["actions"])
    assert {f"utter_ask_{slot}" for slot in slots} <= set(domain["responses"])
