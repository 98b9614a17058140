"""Which variation of a response the slots pick, rendered by Rasa's own generator."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rasa_domain() -> Domain:
    return Domain.load(ROOT / "domain.yml")


async def _texts(domain: Domain, response: str, **slots: str | None) -> set[str]:
    """Every text the response can give with these slots (variations are drawn at random)."""
    tracker = DialogueStateTracker.from_events(
        "responses", [SlotSet(name, value) for name, value in slots.items()], domain.slots
    )
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    texts = set()
    for _ in range(20):
        message = await nlg.generate(response, tracker, "rest")
        assert message is not None
        texts.add(message["text"])
    return texts


async def test_a_new_subscription_asks_a_number_to_call_back(rasa_domain):
    # A new subscriber has no MobiFone number yet ("chưa có số"): any number in use.
    (text,) = await _texts(rasa_domain, "utter_ask_phone_number", request_type="new_subscription")
    assert "mạng nào cũng được" in text
    (swap,) = await _texts(rasa_domain, "utter_ask_phone_number", request_type="sim_swap")
    assert "mạng nào" not in swap
    # The error variations win over it.
    for error in ("invalid", "missing"):
        (wrong,) = await _texts(
            rasa_domain,
            "utter_ask_phone_number",
            request_type="new_subscription",
            phone_error=error,
        )
        assert "mạng nào" not in wrong and wrong != swap


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("cancelled", "đã hủy yêu cầu 4G-ABCD-2345"),
        ("kept", "vẫn được giữ"),
        ("closed", "không còn gì để hủy"),
        ("not_yours", "9090"),
        ("error", "chưa hủy được"),
        (None, "em đã dừng lại"),
    ],
)
async def test_a_stop_after_a_request_was_sent_says_what_became_of_it(rasa_domain, status, words):
    (text,) = await _texts(
        rasa_domain, "utter_stopped", stop_status=status, request_reference="4G-ABCD-2345"
    )
    assert words in text
