"""Reference numbers a customer can read over the phone: ``4G-7KQ9-XM3P``.

Eight symbols from an alphabet without 0/O, 1/I/L (31 symbols, ~8.5e11 values) drawn
with :mod:`secrets`, so references are neither guessable nor confusable when spoken.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PREFIX: Final = "4G"
LENGTH: Final = 8
_NOT_SYMBOL = re.compile(r"[^0-9A-Z]")


def new_reference() -> str:
    """A fresh random reference in its canonical, grouped form."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{PREFIX}-{body[:4]}-{body[4:]}"


def normalize_reference(text: str) -> str | None:
    """Canonical form of what a person typed ("4g 7kq9xm3p", "7KQ9-XM3P"), or None."""
    compact = _NOT_SYMBOL.sub("", text.upper())
    if len(compact) == LENGTH + len(PREFIX) and compact.startswith(PREFIX):
        compact = compact[len(PREFIX) :]
    if len(compact) != LENGTH or any(ch not in ALPHABET for ch in compact):
        return None
    return f"{PREFIX}-{compact[:4]}-{compact[4:]}"
