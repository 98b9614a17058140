"""Vietnamese free-text address → administrative units, current and old structure.

``resolve("12/3 Le Van Sy P13 Q3 tphcm")`` returns a :class:`Resolution` with the current
province and ward (34-province structure since 2025-07-01), the old province, district and
ward when the text uses them, the street part, a confidence and ranked candidates when the
text does not decide. No Rasa here: the form validator and the console both call it.
"""

from __future__ import annotations

from bot.address.model import Candidate, Resolution, Status
from bot.address.resolver import list_provinces, province_by_code, resolve, resolve_in_province

__all__ = [
    "Candidate",
    "Resolution",
    "Status",
    "list_provinces",
    "province_by_code",
    "resolve",
    "resolve_in_province",
]
