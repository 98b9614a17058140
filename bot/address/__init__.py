"""Vietnamese free-text address → administrative units, current and old structure.

``resolve("12/3 Le Van Sy P13 Q3 tphcm")`` returns a :class:`Resolution` with the current
province and ward (34-province structure since 2025-07-01), the old province, district and
ward when the text uses them, the street part, a confidence and ranked candidates when the
text does not decide. No Rasa here: the form validator and the console both call it.

``make install`` compiles ``data`` and ``resolver`` with mypyc into the virtual environment
(:mod:`bot.address._native`); they are used when they match the sources, else the same
modules run as pure Python.
"""

from __future__ import annotations

from bot.address import _native

_compiled_dir = _native.directory()
if _compiled_dir is not None:
    # Before the sources: ``bot.address.data`` and ``bot.address.resolver`` then load from
    # the extension modules built from these very sources.
    __path__.insert(0, str(_compiled_dir))

from bot.address.message import (  # noqa: E402 - after the choice too
    address_answer,
    address_beside_phone,
    address_in_message,
    phone_only,
)
from bot.address.model import Candidate, Resolution, Status  # noqa: E402
from bot.address.resolver import (  # noqa: E402 - after the choice of compiled or pure
    list_provinces,
    names_a_province,
    names_a_unit,
    province_by_code,
    resolve,
    resolve_in_province,
    warm_up,
)
from bot.address.wards import (  # noqa: E402
    choice_labels,
    ward_question,
    ward_to_type,
    with_district_wards,
)

__all__ = [
    "Candidate",
    "Resolution",
    "Status",
    "address_answer",
    "address_beside_phone",
    "address_in_message",
    "choice_labels",
    "list_provinces",
    "names_a_province",
    "names_a_unit",
    "phone_only",
    "province_by_code",
    "resolve",
    "resolve_in_province",
    "ward_question",
    "ward_to_type",
    "warm_up",
    "with_district_wards",
]
