"""Custom Rasa NLU components; thin adapters onto ``bot.text``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from bot import text as text_module


def text_rules_digest() -> str:
    """SHA-256 of ``bot/text.py``: the folding rules and shape features the components
    import. Rasa fingerprints a component's own class only; without this in
    ``fingerprint_addon``, an edit of the teen-code table would reuse cached features."""
    return hashlib.sha256(Path(text_module.__file__).read_bytes()).hexdigest()


class FoldingRulesFingerprint:
    """Mixin for a component whose output depends on ``bot/text.py``: its cache
    fingerprint follows that file (``text_rules_digest``)."""

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Retrain when the folding rules or shape features change."""
        return text_rules_digest()
