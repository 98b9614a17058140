"""The domain's slot mappings as Rasa runs them (``action_extract_slots``, no model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.core.actions.action import ActionExtractSlots
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rasa_domain() -> Domain:
    return Domain.load(ROOT / "domain.yml")


async def _extracted(
    domain: Domain, text: str, intent: str, entities: list[dict[str, Any]]
) -> dict[str, Any]:
    tracker = DialogueStateTracker.from_events(
        "mappings",
        [
            ActionExecuted("action_listen"),
            SlotSet("request_type", "advice"),
            UserUttered(text, {"name": intent, "confidence": 1.0}, entities),
        ],
        slots=domain.slots,
    )
    events = await ActionExtractSlots(None).run(
        CollectingOutputChannel(),
        TemplatedNaturalLanguageGenerator(domain.responses),
        tracker,
        domain,
    )
    return {event.key: event.value for event in events if isinstance(event, SlotSet)}


def _request_words(text: str, words: str, value: str) -> list[dict[str, Any]]:
    start = text.index(words)
    return [{"entity": "request_kind", "value": value, "start": start, "end": start + len(words)}]


@pytest.mark.parametrize("intent", ["inform", "correct_address"])
async def test_request_words_in_data_or_a_correction_set_the_request_type(rasa_domain, intent):
    # "sai dia chi roi, doi sim cho nha …": the request words the NLU found say what the
    # customer wants, whether the message reads as data or as an address corrected.
    text = "sai dia chi roi, doi sim cho nha 12 Le Loi"
    slots = await _extracted(rasa_domain, text, intent, _request_words(text, "doi sim", "sim_swap"))
    assert slots.get("request_type") == "sim_swap"


@pytest.mark.parametrize("intent", ["greet", "faq", "deny"])
async def test_request_words_in_other_messages_leave_the_request_type(rasa_domain, intent):
    # Small talk or a question that mentions a SIM swap does not change the request chosen.
    text = "doi sim thi sao"
    slots = await _extracted(rasa_domain, text, intent, _request_words(text, "doi sim", "sim_swap"))
    assert "request_type" not in slots
