"""Vietnamese MSISDN normalisation and carrier detection.

Customers type 0901234567, 090 123 4567, +84 90..., 84...; the store keys requests
on E.164, and the plan lets other networks' subscribers ask too, so the carrier is
recorded rather than enforced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, carrier

REGION = "VN"

# Mobile prefixes by network after the 2018 renumbering (national significant number
# without the leading 0). phonenumbers' carrier data names the original network, which
# is wrong after number portability; this table is the operator's own view.
_CARRIER_PREFIXES: dict[str, tuple[str, ...]] = {
    "MobiFone": ("89", "90", "93", "70", "76", "77", "78", "79"),
    "Viettel": ("86", "96", "97", "98", "32", "33", "34", "35", "36", "37", "38", "39"),
    "Vinaphone": ("88", "91", "94", "81", "82", "83", "84", "85"),
    "Vietnamobile": ("92", "56", "58"),
    "Gmobile": ("99", "59"),
    "iTel": ("87",),
    "Reddi": ("55",),
}

_NOISE = re.compile(r"[\s.\-()]")

# A mobile number inside free text, as the NLU's regex entity reads it (data/nlu/regex.yml
# holds the same pattern; a test keeps the two equal): +84, 84 or 0, a mobile prefix, nine
# digits in all, spaced or dotted as typed, never part of a longer run of digits, so that
# a house number typed after it ("0903123456 12 Lê Lợi") is not read into it.
# What customers type before their number: "sđt", "số điện thoại", "số đt" ("đt" alone is
# no cue: "ĐT 741" is a provincial road). Where an address or a name typed before it stops.
CUE = re.compile(
    r"(?<!\w)(?:sđt|sdt|số\s*điện\s*thoại|so\s*dien\s*thoai|số\s*đt|so\s*dt)(?!\w)", re.I
)
NUMBER = re.compile(r"(?<!\d)(?:\+?84|0)[\s.-]?[35789]\d(?:[\s.-]?\d){7}(?!\d)")


class InvalidPhoneError(ValueError):
    """The text is not a Vietnamese mobile number."""


@dataclass(frozen=True)
class Phone:
    """A validated Vietnamese mobile number."""

    e164: str
    national: str
    carrier: str

    @property
    def masked(self) -> str:
        """Safe for logs and for a team that has not accepted the request: 090****567."""
        return mask(self.national)

    @property
    def is_mobifone(self) -> bool:
        return self.carrier == "MobiFone"


def _candidate(text: str) -> str:
    digits = _NOISE.sub("", text.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("84") and len(digits) == 11:
        digits = "+" + digits
    return digits


def parse(text: str) -> Phone:
    """Validate and normalise; raise :class:`InvalidPhoneError` with the reason."""
    candidate = _candidate(text)
    if not re.fullmatch(r"\+?\d{9,13}", candidate):
        raise InvalidPhoneError("not a phone number")
    try:
        number = phonenumbers.parse(candidate, REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneError(str(exc)) from exc
    if number.country_code != 84:
        raise InvalidPhoneError("not a Vietnamese number")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneError("invalid Vietnamese number")
    if phonenumbers.number_type(number) not in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise InvalidPhoneError("not a mobile number")
    national = "0" + str(number.national_number)
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        national=national,
        carrier=carrier_of(national) or carrier.name_for_number(number, "en") or "unknown",
    )


def carrier_of(national: str) -> str | None:
    """The network a 10-digit national number's prefix belongs to, if known."""
    prefix = national.lstrip("0")[:2]
    for name, prefixes in _CARRIER_PREFIXES.items():
        if prefix in prefixes:
            return name
    return None


def _valid_numbers(text: str) -> Iterator[Phone]:
    """The valid mobile numbers inside a free-text message, in the order typed (lazily:
    ``find`` stops at the first)."""
    for match in NUMBER.finditer(text):
        try:
            yield parse(match.group())
        except InvalidPhoneError:
            continue


def find(text: str) -> Phone | None:
    """The first valid mobile number inside a free-text message, if any."""
    return next(_valid_numbers(text), None)


def find_all(text: str) -> list[Phone]:
    """Every distinct valid mobile number inside a message, in the order typed ("doi sim
    cho 2 so 0912111222 va 0913111222")."""
    found: dict[str, Phone] = {}
    for number in _valid_numbers(text):
        found.setdefault(number.national, number)
    return list(found.values())


def mask(value: str) -> str:
    """Keep the first three and last three digits of anything that looks like a number."""
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 6) + digits[-3:]
