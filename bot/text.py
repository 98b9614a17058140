"""Vietnamese text normalisation shared by the NLU pipeline, the address resolver and lint.

Customers type with and without diacritics, in any case, with teen-code ("ko",
"dc", "sdt"). Folding both spellings onto one form lets a model trained on a few
hundred examples generalise to the spelling it never saw.
"""

from __future__ import annotations

import re
import unicodedata

# đ/Đ do not decompose under NFD; map them explicitly.
_EXTRA = str.maketrans({"đ": "d", "Đ": "D"})

# Teen-code and abbreviations → the plain word (all without diacritics, since the
# folded form is what the models see). Only unambiguous short forms belong here.
TEENCODE: dict[str, str] = {
    "k": "khong",
    "ko": "khong",
    "kg": "khong",
    "kh": "khong",
    "khg": "khong",
    "hok": "khong",
    "hong": "khong",
    "dc": "duoc",
    "dk": "duoc",
    "đc": "duoc",
    "sdt": "so dien thoai",
    "sđt": "so dien thoai",
    "dt": "dien thoai",
    "đt": "dien thoai",
    "mk": "minh",
    "mik": "minh",
    "mjk": "minh",
    "mn": "moi nguoi",
    "e": "em",
    "a": "anh",
    "c": "chi",
    "ad": "admin",
    "add": "admin",
    "shop": "admin",
    "j": "gi",
    "gj": "gi",
    "z": "vay",
    "v": "vay",
    "r": "roi",
    "bn": "bao nhieu",
    "bnh": "bao nhieu",
    "bik": "biet",
    "bit": "biet",
    "ntn": "nhu the nao",
    "nt": "nhan tin",
    "ib": "nhan tin",
    "trc": "truoc",
    "ng": "nguoi",
    "nhg": "nhung",
    "vs": "voi",
    "cx": "cung",
    "cg": "cung",
    "ok": "ok",
    "oke": "ok",
    "okie": "ok",
    "uk": "uh",
    "uhm": "uh",
    "um": "uh",
    "ừ": "uh",
    "sim4g": "sim 4g",
    "tks": "cam on",
    "thanks": "cam on",
    "thank": "cam on",
    "thx": "cam on",
    "tk": "cam on",
    "hcm": "ho chi minh",
    "tphcm": "thanh pho ho chi minh",
    "hn": "ha noi",
}

_WORD = re.compile(r"\w+", re.UNICODE)


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese diacritics: "Đổi SIM" → "Doi SIM"."""
    decomposed = unicodedata.normalize("NFD", text.translate(_EXTRA))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def fold(text: str) -> str:
    """Lower-case and strip diacritics: the key both spellings share."""
    return strip_diacritics(unicodedata.normalize("NFC", text)).lower()


def normalize_token(token: str) -> str:
    """Fold one token and expand it when it is known teen-code."""
    lowered = unicodedata.normalize("NFC", token).lower()
    if lowered in TEENCODE:
        return TEENCODE[lowered]
    folded = fold(lowered)
    # Only a token typed without diacritics can be teen-code: "ạ" is not "a" (anh).
    return TEENCODE.get(folded, folded) if folded == lowered else folded


def normalize(text: str) -> str:
    """Fold a whole utterance word by word, expanding teen-code."""
    return " ".join(normalize_token(word) for word in _WORD.findall(text))
