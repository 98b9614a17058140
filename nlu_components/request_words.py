"""A request given with its data is a request, even when the classifier hesitates.

"doi sim 0903123472 dia chi 5 Nguyen Trai P.Ben Thanh Q1 tphcm" is mostly an address: the
classifier may put the request and ``inform`` close together, and the FallbackClassifier
then answers "not understood" to a customer who has said everything. When a message the
fallback took carries a phone number and the request words of one request type (entities
``phone_number`` and ``request_kind``, see ``data/nlu/lookups.yml``), this component, run
after the FallbackClassifier, gives it that request's intent with the classifier's own
confidence for it. A message without a phone number is left to the fallback: "doi sim
xong co mat danh ba khong" is a question, not a request. A message with a phone number
and no request words is given the request, or ``inform``, when the classifier ranks it
among its two best (see :func:`data_intent`): data the customer typed is not dropped.

It also gives the request back to a message the classifier read as ``stop`` when the
message has one request type's words and nothing that stops: "đổi sim cho số khác nữa"
(one more request, after the first was sent) was answered "em đã dừng lại", the
classifier taking "nữa" for "không … nữa". Any negation or stop word keeps ``stop``
("thôi không đổi sim nữa", "hủy đổi sim").
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.text import fold, normalize_token, words

# The entity of the request words, the one of a phone number, and the intent of each
# request type (the values of the request_type slot, which the synonyms give).
REQUEST_ENTITY = "request_kind"
PHONE_ENTITY = "phone_number"
INTENT_PREFIX = "request_"
STOP_INTENT = "stop"
# Words (folded) that say stop, not "one more": negations, "thôi", "dừng", "hủy", "khỏi",
# "để sau".
STOP_WORDS = frozenset(
    {"thoi", "thui", "khong", "ko", "k", "kg", "hong", "khoi", "dung", "huy", "ngung", "stop"}
    | {"chua", "sau", "bo", "cancel", "never", "no"}
)


def request_intent(entities: list[dict[str, Any]], with_phone: bool = True) -> str | None:
    """The request intent the entities name: one request type's words and (``with_phone``)
    a phone number; None otherwise (no data, or the words of two request types)."""
    kinds = {
        str(entity.get(ENTITY_ATTRIBUTE_VALUE))
        for entity in entities
        if entity.get(ENTITY_ATTRIBUTE_TYPE) == REQUEST_ENTITY
    }
    if len(kinds) != 1 or (with_phone and not _has(entities, PHONE_ENTITY)):
        return None
    return INTENT_PREFIX + kinds.pop()


DATA_INTENT = "inform"


def _has(entities: list[dict[str, Any]], kind: str) -> bool:
    return any(entity.get(ENTITY_ATTRIBUTE_TYPE) == kind for entity in entities)


def data_intent(entities: list[dict[str, Any]], ranking: list[dict[str, Any]]) -> str | None:
    """For a message with a phone number that the fallback took and no single request's
    words name, the classifier's data or request reading when it is one of its two best: a
    request, else ``inform`` (the form then asks which service). "sim 4g có mất phí không?
    nếu không thì đổi cho mình với, số 0913…, địa chỉ 15 Nguyễn Trãi …" (``inform`` 0.47,
    the swap 0.43) was answered "em chưa hiểu", the phone and the address lost. None
    otherwise."""
    if not _has(entities, PHONE_ENTITY):
        return None
    best = [
        str(entry.get(INTENT_NAME_KEY))
        for entry in ranking
        if entry.get(INTENT_NAME_KEY) != DEFAULT_NLU_FALLBACK_INTENT_NAME
    ][:2]
    requests = [name for name in best if name.startswith(INTENT_PREFIX)]
    if requests and not _has(entities, REQUEST_ENTITY):
        # (With the words of two request types, the form asks which one: ``inform``.)
        return requests[0]
    return DATA_INTENT if DATA_INTENT in best else None


def says_stop(text: str) -> bool:
    """Whether ``text`` has a word that says stop (see :data:`STOP_WORDS`)."""
    return any(
        fold(word) in STOP_WORDS or normalize_token(word) in STOP_WORDS for word in words(text)
    )


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class RequestWithDataClassifier(GraphComponent, IntentClassifier):
    """Turns the fallback of a message that is a request with its data, or the ``stop`` of
    one that asks for one more, into the request."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Runs after the intent classifier (and, by its place in the pipeline, after the
        FallbackClassifier and the entity extractors)."""
        return [IntentClassifier]

    def __init__(self, config: dict[str, Any]) -> None:
        self.component_config = config

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RequestWithDataClassifier:
        """Nothing to train or load."""
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        """Replace ``nlu_fallback`` (or a ``stop`` that says no stop) by the request the
        message's entities name."""
        for message in messages:
            intent = message.get(INTENT) or {}
            entities = message.get(ENTITIES) or []
            if intent.get(INTENT_NAME_KEY) == DEFAULT_NLU_FALLBACK_INTENT_NAME:
                name = request_intent(entities) or data_intent(
                    entities, message.get(INTENT_RANKING_KEY) or []
                )
            elif intent.get(INTENT_NAME_KEY) == STOP_INTENT and not says_stop(
                str(message.get(TEXT) or "")
            ):
                name = request_intent(entities, with_phone=False)
            else:
                continue
            if name is None:
                continue
            ranking = message.get(INTENT_RANKING_KEY) or []
            confidence = next(
                (
                    float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
                    for entry in ranking
                    if entry.get(INTENT_NAME_KEY) == name
                ),
                None,
            )
            if confidence is None:
                continue  # not an intent the classifier knows: leave the fallback
            message.set(
                INTENT,
                {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: confidence},
                add_to_output=True,
            )
        return messages
