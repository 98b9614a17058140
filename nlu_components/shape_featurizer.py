"""Sentence features of how a message is written and which words open and close it.

The tokenizer folds every word (case, diacritics, teen-code) so that "doi sim dc ko" and
"đổi sim được không" share their n-grams; the price is that "em Dũng" (a name) and "đúng"
(yes), or "chị Hà" and "hả chị" (pardon?), become the same words. How the customer wrote
the message (a capital on a name, two words or ten, "?") survives stripped diacritics and
teen-code, so a handful of fixed features restores it (``bot.text.shape_features``).

A bag of n-grams also forgets where a word stands, and in Vietnamese the first and last
words carry the sentence type: "thôi…", "dừng…" open a stop, "…không", "…nhé", "…ạ",
"…đi" close a question, a request or an answer. The folded first and last tokens are
features of their own; their vocabulary is what training saw (bench/nlu.py measures both).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import rasa.shared.utils.io
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import coo_matrix

from bot.text import SHAPE_FEATURES, shape_features
from nlu_components import FoldingRulesFingerprint

logger = logging.getLogger(__name__)

# The alias under which the features are stored; LinearIntentClassifier does not count
# them as evidence (every text has a length: a text of unknown words still "knows" none).
SHAPE_ALIAS = "text_shape"

_VOCABULARY_FILE = "edge_words.json"


def edge_features(tokens: list[Token]) -> list[str]:
    """``first:<word>`` and ``last:<word>`` of the (folded) tokens; none for no tokens."""
    if not tokens:
        return []
    return [f"first:{tokens[0].text}", f"last:{tokens[-1].text}"]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class TextShapeFeaturizer(FoldingRulesFingerprint, SparseFeaturizer, GraphComponent):
    """One-hot sentence features: ``bot.text.shape_features`` and the edge words."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Runs after the tokenizer: edge words are its folded tokens."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """A fixed alias, so the intent classifier can tell these features apart;
        ``edge_words``: switch the first/last word features off to measure them."""
        return {**SparseFeaturizer.get_default_config(), "alias": SHAPE_ALIAS, "edge_words": True}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        edge_vocabulary: list[str] | None = None,
    ) -> None:
        """Columns: the fixed shape features, then the edge words seen in training."""
        super().__init__(execution_context.node_name, {**self.get_default_config(), **config})
        self._model_storage = model_storage
        self._resource = resource
        self._set_columns(edge_vocabulary or [])

    def _set_columns(self, edge_vocabulary: Iterable[str]) -> None:
        self._edge_vocabulary = sorted(edge_vocabulary)
        names = [*SHAPE_FEATURES, *self._edge_vocabulary]
        self._columns = {name: index for index, name in enumerate(names)}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to check."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TextShapeFeaturizer:
        """A new featurizer with no edge words yet."""
        return cls(config, model_storage, resource, execution_context)

    def train(self, training_data: TrainingData) -> Resource:
        """Learn the edge-word vocabulary from the user texts, then persist it."""
        words: set[str] = set()
        if self._config["edge_words"]:
            for message in training_data.training_examples:
                words.update(edge_features(message.get(TOKENS_NAMES[TEXT]) or []))
        self._set_columns(words)
        with self._model_storage.write_to(self._resource) as directory:
            rasa.shared.utils.io.dump_obj_as_json_to_file(
                directory / _VOCABULARY_FILE, self._edge_vocabulary
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TextShapeFeaturizer:
        """The trained vocabulary; without one, the fixed shape features only."""
        try:
            with model_storage.read_from(resource) as directory:
                vocabulary = rasa.shared.utils.io.read_json_file(directory / _VOCABULARY_FILE)
        except ValueError:
            logger.debug("TextShapeFeaturizer: no edge-word vocabulary in %s.", resource.name)
            vocabulary = []
        return cls(config, model_storage, resource, execution_context, list(vocabulary))

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurize the user text of every message in place."""
        for message in messages:
            self._process_message(message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurize the training examples the same way."""
        self.process(training_data.training_examples)
        return training_data

    def _process_message(self, message: Message) -> None:
        text = message.get(TEXT)
        tokens = message.get(TOKENS_NAMES[TEXT])
        if not text or not tokens:
            return  # as the count featurizers: a message without tokens gets no features
        names = [*shape_features(text), *edge_features(tokens)]
        columns = sorted({self._columns[name] for name in names if name in self._columns})
        width = len(self._columns)
        sentence = coo_matrix(([1.0] * len(columns), ([0] * len(columns), columns)), (1, width))
        # Zero rows per token: combined with the other featurizers' sequence features,
        # whose token counts must agree, the ResponseSelector sees these only per sentence.
        sequence = coo_matrix((len(tokens), width))
        self.add_features_to_message(sequence, sentence, TEXT, message)
