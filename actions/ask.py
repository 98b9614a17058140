"""The form's questions, asked through ``action_ask_<slot>``.

The form asks with the ``utter_ask_<slot>`` response (texts and variations stay in
``domain.yml``); going through an action lets it skip a question the customer has
just been asked again by a "repeat the question" rule, so it is never asked twice
in a row, while that rule can run the form afterwards to take the next answer.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict


def asked_since_last_message(tracker: Tracker, response: str) -> bool:
    """True when ``response`` was already uttered after the customer's last message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if (
            event.get("event") == "bot"
            and (event.get("metadata") or {}).get("utter_action") == response
        ):
            return True
    return False


class _AskSlot(Action):
    slot: str = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        response = f"utter_ask_{self.slot}"
        if not asked_since_last_message(tracker, response):
            dispatcher.utter_message(response=response)
        return []


class ActionAskRequestType(_AskSlot):
    slot = "request_type"


class ActionAskPhoneNumber(_AskSlot):
    slot = "phone_number"


class ActionAskAddress(_AskSlot):
    slot = "address"


class ActionAskContactName(_AskSlot):
    slot = "contact_name"
