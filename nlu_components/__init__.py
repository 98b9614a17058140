"""Custom Rasa NLU components; thin adapters onto ``bot.text``."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot import text as text_module


def text_rules_digest() -> str:
    """SHA-256 of ``bot/text.py``: the folding rules and shape features the components
    import. Rasa fingerprints a component's own class only; without this in
    ``fingerprint_addon``, an edit of the teen-code table would reuse cached features."""
    return hashlib.sha256(Path(text_module.__file__).read_bytes()).hexdigest()
