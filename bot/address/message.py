"""The address inside a message that says more ("sdt 0903123456, dia chi P.5 Q.3 tphcm").

Customers often give everything in one line, before the address is asked. The part after
an address cue ("địa chỉ", "dia chi", "đ/c", "dc") is the address, up to a phone number or
its cue; it is taken only when it reads as one, since chat text reads as some place almost
always (Vietnamese syllables are names somewhere) and "dc"/"đc" is also "được" ("dc ko").
"""

from __future__ import annotations

import re

from bot.address.resolver import names_a_unit, resolve
from bot.text import fold

# A cue that means "address" and nothing else; "dc"/"đc" is also teen-code for "được".
_CUE = re.compile(r"(?<!\w)(?:địa\s*chỉ|đ/c|d/c|đ\.c|dia\s*chi|(?P<short>đc|dc))(?!\w)", re.I)
# Words between the cue and the address: "địa chỉ nhà em là …", "dc: …", "đ/c ở …",
# "địa chỉ mới: …", and a correction's "địa chỉ sai rồi, đúng là …" ("lại", "thành",
# "đồi" are not among them: Lai Châu, Thành phố …, Đội 5).
_FILLERS = frozenset(
    {"nha", "cua", "em", "e", "toi", "minh", "anh", "a", "chi", "c", "la", "o", "tai"}
    | {"moi", "dung", "sai", "nham", "ko", "khong", "k", "roi", "r", "bi", "sua", "phai"}
)
_LEADING = re.compile(r"[\s:;,.\-–]+|\w+", re.UNICODE)
# Where the address stops: a phone number, or its cue ("đt" alone is no cue: "ĐT 741" is a
# provincial road; before the number it is trimmed as a closing word).
_END = re.compile(
    r"(?<!\w)(?:sđt|sdt|số\s*điện\s*thoại|so\s*dien\s*thoai|số\s*đt|so\s*dt)(?!\w)"
    r"|(?<![\w+])(?:\+?84|0)\d[\d\s.\-]{7,13}\d",
    re.I,
)
_TRAILING = re.compile(r"(?:[\s,;.\-–]|(?<!\w)(?:ạ|nhé|nhe|nha|đt|dt)(?!\w))+$", re.I)


def address_in_message(text: str) -> str | None:
    """The address part of ``text`` after an address cue, as typed, when it reads as an
    address: a unit named with its type word, or (after a cue that means nothing else) a
    province or ward decided without guessing. None when there is no such part."""
    for cue in _CUE.finditer(text):
        part = _part_after(text, cue.end())
        if not part:
            continue
        if names_a_unit(part):
            return part
        if cue.group("short") is None:
            found = resolve(part)
            if found.status in ("resolved", "province_only") and not found.guessed:
                return part
    return None


def _part_after(text: str, start: int) -> str:
    """The text from ``start`` without the filler words after the cue, cut at a phone
    number or its cue, trimmed of trailing punctuation and particles."""
    position = start
    while position < len(text):
        piece = _LEADING.match(text, position)
        if piece is None:
            break
        word = piece.group()
        if word[0].isalnum() and fold(word) not in _FILLERS:
            break
        position = piece.end()
    rest = text[position:]
    end = _END.search(rest)
    if end is not None:
        rest = rest[: end.start()]
    return _TRAILING.sub("", rest).strip()


def address_beside_phone(text: str) -> str | None:
    """``text`` without its phone numbers and their cues ("0903123456 P.5 Q.3 tphcm",
    "Phường Bến Nghé, Quận 1, TP HCM"), when what is left names a unit with its type word:
    an address typed before it is asked, without a cue. Whatever else the text is, it is
    then read as the address: the caller takes it only while none is given."""
    rest = _TRAILING.sub("", _END.sub(" ", text)).strip(" ,;.-–")
    rest = " ".join(rest.split())
    return rest if rest and names_a_unit(rest) else None
