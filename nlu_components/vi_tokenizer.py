"""Whitespace tokenizer that folds Vietnamese spelling variants onto one form.

Customers write "đổi sim", "doi sim", "ĐỔI SIM" and "dc ko"; the featurizers see
token texts, so folding each token (lower case, no diacritics, teen-code expanded)
makes every spelling share features while the message text, the entity offsets and
the text slots keep exactly what the customer typed.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.text import normalize_token
from nlu_components import FoldingRulesFingerprint


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class VietnameseTokenizer(FoldingRulesFingerprint, WhitespaceTokenizer):
    """WhitespaceTokenizer whose user-text tokens carry the folded spelling."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Adds ``fold``: switch the normalisation off to measure what it buys."""
        return {**WhitespaceTokenizer.get_default_config(), "fold": True}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseTokenizer:
        """Builds the component (nothing to load)."""
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Split like WhitespaceTokenizer, then fold user text token by token."""
        tokens = super().tokenize(message, attribute)
        if attribute != TEXT or not self._config.get("fold", True):
            return tokens
        folded: list[Token] = []
        for token in tokens:
            # A teen-code token may expand to several words ("sdt" → "so dien thoai");
            # they share the original span so entity offsets stay valid.
            for word in normalize_token(token.text).split():
                folded.append(Token(word, token.start, token.end, lemma=word))
        return folded
