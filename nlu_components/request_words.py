"""A request given with its data is a request, even when the classifier hesitates.

"doi sim 0903123472 dia chi 5 Nguyen Trai P.Ben Thanh Q1 tphcm" is mostly an address: the
classifier may put the request and ``inform`` close together, and the FallbackClassifier
then answers "not understood" to a customer who has said everything. When a message the
fallback took carries a phone number and the request words of one request type (entities
``phone_number`` and ``request_kind``, see ``data/nlu/lookups.yml``), this component, run
after the FallbackClassifier, gives it that request's intent with the classifier's own
confidence for it. A message without a phone number is left to the fallback: "doi sim
xong co mat danh ba khong" is a question, not a request.
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
)
from rasa.shared.nlu.training_data.message import Message

# The entity of the request words, the one of a phone number, and the intent of each
# request type (the values of the request_type slot, which the synonyms give).
REQUEST_ENTITY = "request_kind"
PHONE_ENTITY = "phone_number"
INTENT_PREFIX = "request_"


def request_intent(entities: list[dict[str, Any]]) -> str | None:
    """The request intent the entities name: one request type's words and a phone number;
    None otherwise (no data, or the words of two request types)."""
    kinds = {
        str(entity.get(ENTITY_ATTRIBUTE_VALUE))
        for entity in entities
        if entity.get(ENTITY_ATTRIBUTE_TYPE) == REQUEST_ENTITY
    }
    has_phone = any(entity.get(ENTITY_ATTRIBUTE_TYPE) == PHONE_ENTITY for entity in entities)
    if len(kinds) != 1 or not has_phone:
        return None
    return INTENT_PREFIX + kinds.pop()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class RequestWithDataClassifier(GraphComponent, IntentClassifier):
    """Turns the fallback of a message that is a request with its data into the request."""

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
        """Replace ``nlu_fallback`` by the request the message's entities name."""
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) != DEFAULT_NLU_FALLBACK_INTENT_NAME:
                continue
            name = request_intent(message.get(ENTITIES) or [])
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
