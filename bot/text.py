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
_LETTERS_AND_DIGITS = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The runs of letters and digits of ``text``, as typed: punctuation, emoji and
    underscores apart ("Đúng rồi!" → ["Đúng", "rồi"])."""
    return _LETTERS_AND_DIGITS.findall(text)


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


# Words after which a capitalised word is someone's name ("chị Hà", "e Dung", "cô Hiền"):
# kinship terms and pronouns, folded (so "cô" and "co", "em" and "e" both count).
_NAME_CUES = frozenset(
    {
        "em",
        "e",
        "anh",
        "a",
        "chi",
        "c",
        "co",
        "chu",
        "bac",
        "ong",
        "ba",
        "cau",
        "mo",
        "di",
        "thim",
        "me",
        "bo",
        "con",
        "chau",
        "ban",
    }
)
# "tên là Hà", "em là Hiếu".
_NAMING_CUES = frozenset({"la", "ten"})
_MAX_WORDS = 6

# Every feature shape_features() can return, in a fixed order (the featurizer's columns).
SHAPE_FEATURES: tuple[str, ...] = (
    "capital_inside",
    "capital_after_kin",
    "capital_after_naming",
    "question_mark",
    *(f"words_{n}" for n in range(_MAX_WORDS + 1)),
)


def shape_features(text: str) -> list[str]:
    """How a message is written, which folding throws away.

    Folding makes "em Dũng" ("my name is Dung") and "đúng" ("right") one word, and "chị
    Hà" one with "hả" ("pardon?"); the capital a customer gives a name survives both
    diacritic stripping and teen-code, so it tells them apart. The number of words
    separates one-word answers from sentences. Names are in ``SHAPE_FEATURES``.
    """
    words = _WORD.findall(text)
    features = []
    # The word before each capitalised word after the first, folded.
    before = {
        fold(words[i - 1])
        for i, word in enumerate(words)
        if i > 0 and word[0].isupper() and not word.isupper()
    }
    if before:
        features.append("capital_inside")
    if not before.isdisjoint(_NAME_CUES):
        features.append("capital_after_kin")
    if not before.isdisjoint(_NAMING_CUES):
        features.append("capital_after_naming")
    if "?" in text:
        features.append("question_mark")
    features.append(f"words_{min(len(words), _MAX_WORDS)}")
    return features
