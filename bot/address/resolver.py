"""Free text → administrative units, by indexed look-ups and a small consistency search.

How it works, in three steps:

1. Tokens. The text is folded (no diacritics, lower case) into word tokens that remember
   where they stand in the original, the diacritics they were typed with and whether they
   were written in capitals; "P13", "Q.3", "F5" become a type marker and a number.
2. Matches. Every run of up to seven tokens inside one comma-separated part is looked up in
   one dictionary keyed by the folded name without spaces ("phuongmai", "quandongda",
   "hcm"); a word in capitals is also read as initials ("BMT", "BH Hòa A"). Each key gives
   groups of units that score alike (a common name is scored once, not forty times). A
   short name scores higher after a compatible marker ("p.", "quận", "TX."), lower right
   after a house number or a street word ("14 Hàng Khay", "đường X"), lower when the
   diacritics typed are not the name's ("Thạnh" for Thành). Runs that match nothing get a
   second chance through a one-deletion index (typos).
3. Hypotheses. Matches are grouped by the current province they lie in. Each province's
   upper bound (best ward + best district + best mention) orders the visit; a visited
   province's wards, districts and mentions are completed with what is consistent with
   them (its district, its province, old or new) on disjoint spans and scored by the sum.
   The visit stops when no province left can change the answer. The best hypothesis per
   province is compared with the runner-up: a clear margin decides; otherwise the
   candidates, ranked by the number of current wards the text may mean there, go back to
   the caller.
"""

from __future__ import annotations

import gc
import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import MISSING, fields, replace
from functools import cache, partial
from typing import Final, TypeAlias, TypeVar

from rapidfuzz.distance import OSA

from bot.address.data import (
    OLD_DISTRICT,
    OLD_PROVINCE,
    OLD_WARD,
    PROVINCE,
    WARD,
    Data,
    Reading,
    Spelling,
    Unit,
    deletions,
    folded_and_typed,
    load,
    spelling,
    tones_agree,
    typed_spelling,
)
from bot.address.model import Candidate, Resolution
from bot.text import fold

MARGIN: Final = 0.45  # score lead over the runner-up needed to decide without asking
MIN_DECIDE: Final = 0.75  # a lone weak match (one unprefixed syllable) never decides alone
MIN_USABLE: Final = 0.6  # below this (one stray syllable, a fuzzy guess) nothing is usable
_SURE: Final = 1.5  # a decision on less (one name, no district or province) is checked for typos
MAX_CANDIDATES: Final = 5

_PIECE: Final = re.compile(r"[^\W_]+|[,;\n|]")
_SEPARATORS: Final = frozenset(",;\n|")
_PREFIXED_NUMBER: Final = re.compile(r"^(phuong|quan|ph|p|f|q|x|h|tt|tx)(\d+)$")
_PREFIXED_NAME: Final = re.compile(r"^(tp|tx|tt)([a-z]{4,})$")

# Type markers (folded token sequences) → the type they announce.
_MARKERS: Final[dict[tuple[str, ...], str]] = {
    ("p",): "phuong",
    ("ph",): "phuong",
    ("phuong",): "phuong",
    ("f",): "phuong",
    ("x",): "xa",
    ("xa",): "xa",
    ("tt",): "thitran",
    ("thi", "tran"): "thitran",
    ("dac", "khu"): "dackhu",
    ("q",): "quan",
    ("quan",): "quan",
    ("h",): "huyen",
    ("huyen",): "huyen",
    ("tx",): "thixa",
    ("thi", "xa"): "thixa",
    ("tp",): "thanhpho",
    ("thanh", "pho"): "thanhpho",
    ("t",): "tinh",
    ("tinh",): "tinh",
}
_WARD_KINDS: Final = frozenset({"phuong", "xa", "thitran", "dackhu"})
_DISTRICT_KINDS: Final = frozenset({"quan", "huyen", "thixa", "thanhpho"})
_PROVINCE_KINDS: Final = frozenset({"tinh", "thanhpho"})
_TIER_KINDS: Final = _WARD_KINDS | _DISTRICT_KINDS | {"tinh"}

# Words that introduce a street, an alley or a hamlet: a name right after one is not a unit.
_STREET_WORDS: Final = frozenset(
    {
        *("so", "duong", "pho", "ngo", "ngach", "hem", "kiet", "to", "thon", "xom", "ap"),
        *("khu", "kp", "khom", "ban", "lang", "cum", "doi", "tdp", "toa", "nha", "lo"),
        *("dt", "ql", "tl", "hxh", "kdc", "kcn", "cho"),
    }
)

# Words that introduce a hamlet or residential group: a number after one is the group's
# number ("thôn 2", "khu phố 3", "tổ 5"), not a house number, and it closes the group's name.
# "Khối" is Nghệ An's and the Central Highlands' towns' ("Khối 1, Buôn Trấp").
_HAMLET_WORDS: Final = frozenset(
    {"thon", "xom", "ap", "khu", "kp", "khom", "khoi", "ban", "to", "doi", "cum", "tdp", "lang"}
)

# Base scores.
_FULL: Final = 1.0  # name with its type word, or short name after a compatible marker
_SHORT: Final = 0.8  # short name of two syllables or more, no marker
_SHORT_ONE: Final = 0.55  # one-syllable short name, no marker
_PROVINCE_SHORT: Final = 0.9  # a province without "tỉnh": provinces are named more than wards
_ALIAS: Final = 0.95  # a province's customary short form (HN, HCM, SG)
_WRONG_MARKER: Final = 0.3
# A marker of the right tier but a type below the unit's ("xã" for what is now a phường,
# "huyện" for a thị xã): customers keep the old word after an upgrade, but a namesake of
# the very type written is the likelier reading.
_NEAR_MARKER: Final = 0.5
_PARTIAL: Final = 0.6  # a marked name followed by words of the same part that nothing explains
_TONES_DIFFER: Final = 0.5  # the diacritics typed are not the name's ("Thạnh" for "Thành")
_TONE_VARIANT: Final = 0.8  # a tone the list's spelling has not ("Đắk" for "Đăk")
_INITIALS: Final = 0.7  # a whole name in capital initials ("BMT", "ĐT"): several names share them
_INITIALS_REST: Final = 0.9  # initials, then the rest in full ("BH Hòa A"): far more specific
_OTHER_PROVINCE: Final = 0.5  # a reading in a province other than the one the text names
_NAMED: Final = 0.85  # a province mention at least this strong names the province
_STREETISH: Final = 0.35
_STREET_TAIL: Final = 0.7  # a name closing a "house number + street" part: street or ward
_INSIDE: Final = 0.3  # a name lying inside a longer, stronger reading of the same words
_FUZZY: Final = 0.85
_FUZZY_SHORT: Final = 0.7  # a typo in a key of fewer than eight letters
_FUZZY_TWO: Final = 0.7  # two typos in a name (looked for in the province decided only)
_ONE_PROVINCE_USABLE: Final = 0.3  # guesses of one province only, nothing else: offered
_FAR_USABLE: Final = 0.4  # names two typos away, anywhere: offered as candidates, never decided
# A province decided on the words as typed with at least this score (a name with its type
# word, or two names that agree) is kept against rivals that rest on guessed names only.
_KEPT: Final = 1.0


# The records a text makes (_Token, _Match, _Hypothesis, _Exact, _Answer) are plain classes
# with slots, not named tuples or dataclasses: compiled (bot/address/_native.py), such a
# class is native, its fields typed and its constructor a C call; a named tuple's or a
# dataclass's constructor stays a Python call.


class _Token:
    __slots__ = ("caps", "end", "initials", "key", "segment", "spelt", "start", "tone")

    def __init__(
        self,
        key: str,
        start: int,
        end: int,
        segment: int,
        tone: Spelling | None,
        caps: bool,
        spelt: str,
    ) -> None:
        self.key = key
        self.start = start  # character offsets in the text
        self.end = end
        self.segment = segment  # comma-separated part
        self.tone = tone  # its diacritics as typed (None: typed without)
        # written in capitals (2 to 4 letters) in a text that is not all capitals
        self.caps = caps
        self.spelt = spelt  # the key with its diacritics (see _spelt)
        self.initials = False  # may be initials in lower case (see _lower_initials)


class _Match:
    """A reading of tokens[start:end]: every unit of an index group, scored alike."""

    __slots__ = ("end", "marked", "name", "reading", "score", "start")

    def __init__(
        self,
        reading: Reading,
        start: int,
        end: int,
        score: float,
        name: int,
        marked: bool = False,
    ) -> None:
        self.reading = reading
        self.start = start  # token index, marker included
        self.end = end
        self.score = score
        self.name = name  # token index where the name itself starts (after the marker)
        self.marked = marked  # read with its type word or a compatible marker


class _Hypothesis:
    """One reading completed with what agrees with it. A plain class, not a dataclass:
    compiled, its constructor is native (a dataclass's ``__init__`` stays Python)."""

    __slots__ = (
        "district_read",
        "identity",
        "new_wards",
        "old_district",
        "old_province",
        "old_ward",
        "province",
        "score",
        "spans",
    )

    def __init__(
        self,
        score: float,
        province: str,
        identity: tuple[str, str] | None,
        new_wards: tuple[str, ...],
        old_ward: str | None,
        old_district: str | None,
        old_province: str | None,
        spans: tuple[tuple[int, int], ...],
        district_read: bool = True,
    ) -> None:
        self.score = score
        self.province = province  # current province code
        # ("W", new code) or ("w", old code of a split ward)
        self.identity = identity
        self.new_wards = new_wards  # current ward codes (several when an old ward was split)
        self.old_ward = old_ward
        self.old_district = old_district
        self.old_province = old_province
        self.spans = spans
        # False: ``old_district`` is the old ward's own, no words of the text name it.
        self.district_read = district_read


def _tokens(text: str) -> list[_Token]:
    """Folded tokens with their character offsets and the comma-separated part they sit in."""
    tokens: list[_Token] = []
    append = tokens.append
    segment = 0
    separated = False
    # Capitals say "initials" only in a text that also has lower case.
    mixed_case = not text.isupper()
    words = _WORDS
    for word, start in _words(text):
        if word in _SEPARATORS:
            separated = True
            continue
        if separated:
            segment += 1
            separated = False
        pieces = words.get(word)
        if pieces is None:
            pieces = _read_word(word)
            if len(words) >= _WORDS_MAX:
                words.clear()
            words[word] = pieces
        for key, begin, end, tone, caps, spelt, initials in pieces:
            token = _Token(
                key, start + begin, start + end, segment, tone, caps and mixed_case, spelt
            )
            token.initials = initials
            append(token)
    return tokens


def _words(text: str) -> list[tuple[str, int]]:
    """The words and separators ``_PIECE`` finds in ``text``, with their offsets.

    Found faster than by the pattern alone (which tests every character's category): most
    chunks between spaces are one word ("Phường"), or a word and a comma ("Mai,"); the
    pattern reads the others ("P.13", "12/3"). A word is a run of ``str.isalnum``
    characters, as the pattern's words are; a newline separates parts, so a text with one
    is left to the pattern."""
    if "\n" in text:
        return [(found.group(), found.start()) for found in _PIECE.finditer(text)]
    out: list[tuple[str, int]] = []
    position = 0
    separators = _SEPARATORS
    for chunk in text.split():
        position = text.find(chunk, position)
        if chunk.isalnum():
            out.append((chunk, position))
        elif chunk[-1] in separators and chunk[:-1].isalnum():
            out.append((chunk[:-1], position))
            out.append((chunk[-1], position + len(chunk) - 1))
        else:
            for found in _PIECE.finditer(chunk):
                out.append((found.group(), position + found.start()))
        position += len(chunk)
    return out


# A token as read from one word: folded key, offsets in the word, diacritics, written in
# capitals, the key with its diacritics as one string (what tone factors depend on), and
# whether it may be initials in lower case (see _lower_initials).
_Piece: TypeAlias = tuple[str, int, int, Spelling | None, bool, str, bool]


# Words repeat across addresses: their tokens are kept (a plain dict, cleared when full:
# a look-up costs less than through an LRU wrapper).
_WORDS: Final[dict[str, tuple[_Piece, ...]]] = {}
_WORDS_MAX: Final = 1 << 16


def _spelt(key: str, tone: Spelling | None) -> str:
    """A token's key with the diacritics it was typed with, as one string."""
    return key if tone is None else f"{key}\x1f{tone.letters}\x1f{tone.tone}"


def _read_word(word: str) -> tuple[_Piece, ...]:
    """The tokens of one word (see :data:`_Piece`). "P13" is a marker and a number,
    "TPHCM" stays whole."""
    key, tone = folded_and_typed(word)
    caps = 2 <= len(word) <= 4 and word.isupper() and word.isalpha()
    split = _PREFIXED_NUMBER.match(key) or _PREFIXED_NAME.match(key)
    pieces: list[_Piece] = []
    if split and not (split.group(1) == "tp" and split.group(2) in ("hcm",)):
        cut = len(split.group(1))
        pieces.append((split.group(1), 0, cut, None, False, split.group(1), False))
        key, tone, caps = split.group(2), typed_spelling(word[cut:]), False
    else:
        cut = 0
    if key.isdigit():
        key = key.lstrip("0") or "0"
    initials = not caps and tone is None and _lower_initials(key)
    pieces.append((key, cut, len(word), tone, caps, _spelt(key, tone), initials))
    return tuple(pieces)


def _lower_initials(key: str) -> bool:
    """Whether a word typed in lower case without diacritics may be initials ("bh" in "bh
    hòa b"): two or three letters that are no name, no syllable of one ("an"), and no
    type, street or hamlet word."""
    return (
        2 <= len(key) <= 3
        and key.isalpha()
        and key not in _syllables()  # most short words are: asked first
        and key not in _STREET_WORDS
        and (key,) not in _MARKERS
        and key not in load().index
    )


def _markers(tokens: list[_Token]) -> list[tuple[str, int] | None]:
    """The type marker that ends right before each token: (type, its first token)."""
    count = len(tokens)
    out: list[tuple[str, int] | None] = [None] * count
    keys = [token.key for token in tokens]
    segments = [token.segment for token in tokens]
    single = _SINGLE_MARKERS
    # Fetched once per text, not per token (each is a call through a cache wrapper).
    abbreviation_typos = _abbreviation_typos()
    marker_typos = _marker_typos()
    for index in range(1, count):
        segment = segments[index]
        if segments[index - 1] != segment:
            continue
        previous = keys[index - 1]
        if index >= 2 and keys[index - 2] in _PAIR_FIRSTS and segments[index - 2] == segment:
            kind = _MARKERS.get((keys[index - 2], previous))
            if kind:
                out[index] = (kind, index - 2)
                continue
        kind = _TOWN_OR_PROVINCE if previous == "t" else single.get(previous)
        if kind and previous == "xa" and _highway(tokens, index):
            continue  # "Xa lộ Hà Nội": a highway (xa lộ), not Xã Lộ …
        if not kind and tokens[index - 1].tone is None:
            # "lTT. Lai Vung": an abbreviation mistyped (written without diacritics).
            kind = abbreviation_typos.get(previous)
        if kind:
            out[index] = (kind, index - 1)
        elif keys[index].isdigit():
            # "uQận 12", "Phườg 4": before a number, a misspelt type word still numbers
            # the unit (not when the misspelling is a syllable of some name: "Quang 2";
            # unless typed with marks no name gives that syllable: "Phưng 7").
            kind = marker_typos.get(previous) or _marker_as_typed(tokens[index - 1])
            if kind:
                out[index] = (kind, index - 1)
    return out


def _highway(tokens: list[_Token], index: int) -> bool:
    """Whether the "lo" at ``index``, after "xa", is "xa lộ", a highway: a name follows in
    the same part that no unit's name starting with "Lộ" spells ("Xa lộ Hà Nội"; "Xã Lộ
    25" is a commune of Đồng Nai)."""
    after = index + 1
    if (
        index < 1
        or after >= len(tokens)
        or tokens[index].key != "lo"
        or tokens[index - 1].key != "xa"
        or tokens[after].segment != tokens[index].segment
        or tokens[after].key.isdigit()
    ):
        return False
    key = "lo" + tokens[after].key
    data = load()
    return key not in data.index and key not in data.prefixes


# "T" alone: "T." for tỉnh, or "TT." (thị trấn) with a letter dropped ("T Mường Khến").
_TOWN_OR_PROVINCE: Final = "t"
# One-word markers by their word: ``word in _SINGLE_MARKERS`` is ``(word,) in _MARKERS``
# without a tuple to build and hash.
_SINGLE_MARKERS: Final = {key[0]: kind for key, kind in _MARKERS.items() if len(key) == 1}
_PAIR_FIRSTS: Final = frozenset(key[0] for key in _MARKERS if len(key) == 2)


@cache
def _syllables() -> frozenset[str]:
    """The syllables unit names use, folded."""
    return frozenset(word for unit in load().units.values() for word in fold(unit.name).split())


@cache
def _syllable_deletes() -> dict[str, tuple[str, ...]]:
    """The syllables of unit names by each of their spellings with up to two letters
    deleted (a symmetric-deletion index: a few thousand syllables, unlike the names)."""
    index: dict[str, list[str]] = {}
    for syllable in sorted(_syllables()):
        for variant in deletions(syllable, 2):
            index.setdefault(variant, []).append(syllable)
    return {variant: tuple(found) for variant, found in index.items()}


# A misspelt word → the syllables it may be, nearest first (see _respelt).
_RESPELT: Final[dict[str, tuple[tuple[str, int], ...]]] = {}
_RESPELLINGS: Final = 32  # syllables tried per misspelt word


def _respelt(word: str) -> tuple[tuple[str, int], ...]:
    """The syllables of unit names a word that is none of them may be misspelt from, with
    the edit distance: one edit for a word of three letters or fewer, two for a longer
    one; the nearest few (equal distances in alphabetical order)."""
    known = _RESPELT.get(word)
    if known is not None:
        return known
    most = 2 if len(word) >= 4 else 1
    index = _syllable_deletes()
    found: set[str] = set()
    for variant in deletions(word, most):
        syllables = index.get(variant)
        if syllables:
            found.update(syllables)
    ranked = sorted(
        (OSA.distance(word, syllable, score_cutoff=most), syllable) for syllable in found
    )
    known = tuple((syllable, distance) for distance, syllable in ranked if distance <= most)[
        :_RESPELLINGS
    ]
    if len(_RESPELT) >= _WORDS_MAX:
        _RESPELT.clear()
    _RESPELT[word] = known
    return known


# The type words that number units ("quận 3", "phường 12", "huyện"): their misspellings
# still mark a name or a number (_marker_typos, _marker_syllables).
_NUMBERING_TYPE_WORDS: Final = ("quan", "phuong", "huyen")


@cache
def _marker_typos() -> dict[str, str]:
    """Spellings one edit from a type word that numbers units (quận, phường, huyện), minus
    the syllables unit names use."""
    syllables = _syllables()
    out: dict[str, str] = {}
    for word in _NUMBERING_TYPE_WORDS:
        variants = _one_edit(word)
        if len(word) >= 6:
            # A long type word takes two typos ("nPhườmg", "Phưnyg"), as long names do;
            # not two deletions (four letters are too many words), nor what is as near a
            # street or hamlet word ("uường 3" is Đường 3, "phTôn 3" Thôn 3).
            two = {far for variant in variants for far in _one_edit(variant)}
            variants |= {
                far
                for far in two
                if len(far) >= len(word) - 1
                and all(
                    len(far) - len(street) > 2 or OSA.distance(far, street, score_cutoff=2) > 2
                    for street in _STREET_WORDS
                )
            }
        for variant in variants - syllables:
            if variant not in _SINGLE_MARKERS:
                out[variant] = word
    return out


def _loose_markers(
    tokens: list[_Token], markers: list[tuple[str, int] | None]
) -> list[tuple[str, int] | None]:
    """``markers`` completed with misspelt type words before any word, not only before a
    number ("Phưng Tân Giag"; "Thị Traấn Chaù Hang", one of two words misspelt). For the
    readings of the typo passes and the last resort only: a misspelt type word may as well
    be a syllable of a name, so the exact pass keeps the text's own markers."""
    out = list(markers)
    keys = [token.key for token in tokens]
    single = _marker_typos()
    pairs = _pair_marker_typos()
    for index in range(1, len(tokens)):
        segment = tokens[index].segment
        if out[index] is not None or tokens[index - 1].segment != segment:
            continue
        pair = (keys[index - 2], keys[index - 1]) if index >= 2 else ("", "")
        if pair in pairs and tokens[index - 2].segment == segment:
            out[index] = (pairs[pair], index - 2)
        elif keys[index - 1] in single:
            out[index] = (single[keys[index - 1]], index - 1)
        else:
            kind = _marker_as_typed(tokens[index - 1])
            if kind:
                out[index] = (kind, index - 1)
    return out


@cache
def _marker_syllables() -> dict[str, tuple[str, tuple[Spelling, ...]]]:
    """Syllables of unit names one edit from a type word that numbers units, with the type
    word and the spellings the names give the syllable ("phung": Phùng, Phụng...)."""
    spellings: dict[str, set[Spelling]] = {}
    for unit in load().units.values():
        for syllable in unit.tones:
            spellings.setdefault(syllable.key, set()).add(syllable)
    out: dict[str, tuple[str, tuple[Spelling, ...]]] = {}
    for word in _NUMBERING_TYPE_WORDS:
        for variant in sorted(_one_edit(word) & spellings.keys()):
            if variant not in _SINGLE_MARKERS and variant not in out:
                out[variant] = (word, tuple(sorted(spellings[variant])))
    return out


def _marker_as_typed(token: _Token) -> str | None:
    """The type word a syllable one edit from it stands for when typed with the type word's
    marks, and with marks no name gives that syllable ("Phưng", "Phờng": no name is spelt
    so, "Phùng" is a name's; "Qươn" has no mark of "quận": Quơn Long misspelt). None
    otherwise, and for a word typed without diacritics (it could be either)."""
    found = _marker_syllables().get(token.key)
    typed = token.tone
    if found is None or typed is None:
        return None
    word = _MARKER_SPELLINGS[found[0]]
    if typed.tone not in ("", word.tone) or any(
        mark != "." and mark not in word.letters for mark in typed.letters
    ):
        return None
    for name in found[1]:
        if tones_agree(typed, name) != "other":
            return None
    return found[0]


@cache
def _pair_marker_typos() -> dict[tuple[str, str], str]:
    """Two-word type words with one word one edit off ("thi traan", "th tran")."""
    out: dict[tuple[str, str], str] = {}
    for pair, kind in _MARKERS.items():
        if len(pair) == 2:
            for variant in _one_edit(pair[0]):
                out[(variant, pair[1])] = kind
            for variant in _one_edit(pair[1]):
                out[(pair[0], variant)] = kind
    return {pair: kind for pair, kind in out.items() if pair not in _MARKERS}


def _one_edit(word: str) -> set[str]:
    """Spellings one deletion, swap, substitution or insertion away from ``word``."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    variants = {word[:i] + word[i + 1 :] for i in range(len(word))}
    variants |= {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
    variants |= {word[:i] + ch + word[i + 1 :] for i in range(len(word)) for ch in letters}
    variants |= {word[:i] + ch + word[i:] for i in range(len(word) + 1) for ch in letters}
    variants.discard(word)
    variants.discard("")
    return variants


@cache
def _abbreviation_typos() -> dict[str, str]:
    """Two-letter type abbreviations (TT., TX., TP.) with a letter slipped in ("lTT.",
    "TxX"; not swapped: "pT" is as likely TT. with a letter replaced), minus the syllables
    unit names use and the words the index, the streets and the markers already know."""
    data = load()
    syllables = _syllables()
    letters = "abcdefghijklmnopqrstuvwxyz"
    kinds: dict[str, set[str]] = {}
    for word in ("tt", "tx", "tp"):
        variants = {word[:i] + ch + word[i:] for i in range(len(word) + 1) for ch in letters}
        for variant in variants:
            kinds.setdefault(variant, set()).add(_MARKERS[(word,)])
    return {
        variant: next(iter(found))
        for variant, found in sorted(kinds.items())
        # one type only: "TtP" may be TT. or TP.
        if len(found) == 1
        and variant not in syllables
        and variant not in data.index
        and variant not in _STREET_WORDS
        and variant not in _HAMLET_WORDS
        and (variant,) not in _MARKERS
    }


def _marker_before(tokens: list[_Token], index: int) -> tuple[str, int] | None:
    """The type marker that ends right before token ``index``: (type, its first token).
    None before the "lộ" of a highway ("Xa lộ Hà Nội", see :func:`_highway`), as in
    :func:`_markers`."""
    for size in (2, 1):
        first = index - size
        if first < 0 or tokens[first].segment != tokens[index].segment:
            continue
        kind = _MARKERS.get(tuple(token.key for token in tokens[first:index]))
        if kind:
            return None if size == 1 and _highway(tokens, index) else (kind, first)
    return None


def _relation(marker: str, level: str, kind: str) -> str:
    """How a type marker relates to a unit of ``level`` and ``kind``: "same" (it announces
    it), "upgraded" (its former type, see :func:`_upgraded`), "other" (another unit's
    type), or "" (not a type at all)."""
    if _compatible(marker, level, kind):
        return "same"
    if _upgraded(marker, level, kind):
        return "upgraded"
    return "other" if marker in _TIER_KINDS or marker == _TOWN_OR_PROVINCE else ""


def _compatible(marker: str, level: str, kind: str) -> bool:
    if marker == _TOWN_OR_PROVINCE:
        return level in (PROVINCE, OLD_PROVINCE) or kind == "thitran"
    if level in (PROVINCE, OLD_PROVINCE):
        # "Tỉnh" is said loosely of a centrally-run city too, but "TP. Vĩnh Long" before a
        # province that is a tỉnh names its city, the old district: see :func:`_upgraded`.
        return marker == "tinh" or (marker == "thanhpho" and kind == "thanhpho")
    if marker == kind:
        return True
    # "TP. Thủ Đức": a city inside a province was a district; "quận" before a town is a slip.
    return level == OLD_DISTRICT and marker in _DISTRICT_KINDS and kind == "thanhpho"


# Types of a tier from rural to urban: units are upgraded along them, never back.
_RANK: Final = {"xa": 0, "thitran": 1, "phuong": 2, "huyen": 0, "thixa": 1, "quan": 2}


def _upgraded(marker: str, level: str, kind: str) -> bool:
    """A marker of the unit's tier but of a type below its own: "xã" before what is now a
    phường, "thị trấn" before a phường, "huyện" before a thị xã. Units are upgraded and
    customers keep the old word. The other way ("thị trấn" before a xã, "phường" before a
    xã) names another unit: "TT. Mường Chà" is the old town, not the new Xã Mường Chà."""
    if level in (PROVINCE, OLD_PROVINCE):
        # "TP. Vĩnh Long": the city, which also tells the province, but only weakly names
        # the tỉnh itself (it must not outweigh the city's reading on the same words).
        return marker == "thanhpho" and kind == "tinh"
    if level == OLD_DISTRICT and marker == "thitran" and kind == "huyen":
        # "Thị Trấn Đại Từ": a district's seat town is often named after it (and keeps the
        # name for customers after a renaming), so the word names the district's town.
        return True
    if level in (WARD, OLD_WARD):
        tier = _WARD_KINDS
    elif level == OLD_DISTRICT:
        tier = _DISTRICT_KINDS
    else:
        return False
    return marker in tier and kind in _RANK and marker in _RANK and _RANK[marker] < _RANK[kind]


def _streetish(tokens: list[_Token], index: int, end: int) -> float:
    """How much the run tokens[index:end] reads as a street, alley or hamlet name: the
    factor its score is multiplied by (1.0: not at all).

    It does when a street word or a house number (not a ward number) stands at most two
    tokens before it with no type marker in between, or when its comma-separated part opens
    with a house number and more parts follow ("14 Hàng Khay, Tràng Tiền"). In that
    last case a name that closes the part after a street name of two words or more ("107
    Lê Sao Phú Thạnh, Tân Phú") may as well be the ward: it is only mildly discounted.
    """
    segment = tokens[index].segment
    for back in range(index - 1, max(-1, index - 3), -1):
        token = tokens[back]
        if token.segment != segment or token.key in _SINGLE_MARKERS:
            break
        if token.key.isdigit() and _marker_before(tokens, back) is None:
            # "thôn Bản Mới 2 Khánh Yên Trung": a hamlet's number ends the hamlet, and what
            # follows is free to be the ward; "107 Lê Lợi": a house number starts a street.
            return 1.0 if _hamlet_number(tokens, back) else _STREETISH
        if token.key in _STREET_WORDS or token.key in _street_typos():
            # "huyện Chợ Mới": after a type marker, the word starts a unit's name.
            return 1.0 if _marker_before(tokens, back) else _STREETISH
    first = _part_start(tokens, index)
    if index == first and _house_number_part(tokens, first):
        return _STREETISH  # "157, Lý Thái Tổ": the street of house 157
    if (
        not tokens[first].key.isdigit()
        or tokens[-1].segment == segment
        or _hamlet_number(tokens, first)
        or any(t.key in _SINGLE_MARKERS for t in tokens[first:index])
        # "12 Đường số 7 An Lạc A": the street was closed by its number before the name.
        or any(
            tokens[back].key.isdigit() and _hamlet_number(tokens, back)
            for back in range(first + 1, index)
        )
    ):
        return 1.0
    closes_part = end == len(tokens) or tokens[end].segment != segment
    return _STREET_TAIL if closes_part and index - first >= 3 else _STREETISH


@cache
def _street_typos() -> frozenset[str]:
    """The street word "Đường" one typo off ("Đơừng", "Đưeng"), minus the syllables of unit
    names and the words the index or the type words know: still a street word."""
    known = load().index
    syllables = _syllables()
    return frozenset(
        variant
        for variant in _one_edit("duong")
        if variant not in syllables and variant not in known and variant not in _SINGLE_MARKERS
    )


@cache
def _numbering_words() -> frozenset[str]:
    """The words a number after which numbers a group or a street, closing its name
    ("thôn 2", "khu phố 3", "đường 17/4"): the hamlet words, the numbered street words,
    and "Đường" or a hamlet word one typo off ("Đườnng", "Tôn", "hẤp", "Kohm"), minus the
    syllables of unit names and the words the index, the type and street words know."""
    known = load().index
    syllables = _syllables()
    hamlet_typos = {
        variant
        for word in ("thon", "xom", "ap", "khom", "khoi", "khu")
        for variant in _one_edit(word)
        if len(variant) >= 3
        and variant not in syllables
        and variant not in known
        and variant not in _STREET_WORDS
        and variant not in _HAMLET_WORDS
        and (variant,) not in _MARKERS
        and not variant.isdigit()
    }
    return _HAMLET_WORDS | _NUMBERED_STREETS | _street_typos() | hamlet_typos


def _part_start(tokens: list[_Token], index: int) -> int:
    """The first token of the comma-separated part token ``index`` lies in."""
    segment = tokens[index].segment
    while index > 0 and tokens[index - 1].segment == segment:
        index -= 1
    return index


def _house_number_part(tokens: list[_Token], first: int) -> bool:
    """Whether the part before the one opening at ``first`` is a house number alone
    ("157", "Số 8"): the name that opens the next part is then its street."""
    if first == 0:
        return False
    keys = [token.key for token in tokens[_part_start(tokens, first - 1) : first]]
    return keys[-1].isdigit() and (len(keys) == 1 or (len(keys) == 2 and keys[0] == "so"))


# Street words a number may follow as the street's name ("đường 39"; "phố 2", most often
# of a "khu phố 2" whose "khu" was misspelt or left out).
_NUMBERED_STREETS: Final = frozenset({"duong", "pho"})


def _hamlet_number(tokens: list[_Token], index: int) -> bool:
    """Whether the number at ``index`` numbers a hamlet or group ("khu phố 3", "tổ 5") or
    a numbered street ("đường số 4", "đường 39", "phố 2"): it closes that name, so what
    follows is not a street name."""
    segment = tokens[index].segment
    if index + 1 < len(tokens) and tokens[index + 1].key == "thang":
        return False  # "đường 2 tháng 4": a date names the street, it does not number it
    numbering = _numbering_words()
    return any(
        tokens[back].segment == segment and tokens[back].key in numbering
        for back in range(max(0, index - 2), index)
    )


def _score(
    tokens: list[_Token],
    start: int,
    end: int,
    unit: Unit,
    full: bool,
    key: str,
    marker: tuple[str, int] | None,
    memo: _Memo,
    closing: bool = False,
) -> tuple[float, int]:
    """Score one index hit on tokens[start:end]; returns (score, first token incl. marker),
    or a negative score when the words are no reading of the unit (a plain tuple, not an
    optional one: compiled, it is returned by value, not allocated).

    ``marker`` is the type marker right before ``start`` (computed once per token), and
    ``memo`` caches what the current text's runs share across index hits; ``closing``: a
    province's name typed whole that closes the text after a street's name, never read as
    part of that street (see :func:`_closes_after_street`)."""
    level = unit.level
    relation = _relation(marker[0], level, unit.kind) if marker is not None else ""
    compatible = relation == "same"
    if full:
        score, first = _FULL, start
    elif compatible:
        score, first = _FULL, marker[1]  # type: ignore[index]
    elif relation == "upgraded":
        # "Thị trấn Đồng Văn" for what the list now calls Phường Đồng Văn.
        score, first = _NEAR_MARKER, marker[1]  # type: ignore[index]
    elif key.isdigit():
        return _NO_READING  # "13" alone is a house number, not Phường 13
    elif relation == "other":
        score, first = _WRONG_MARKER, start
    elif level in (PROVINCE, OLD_PROVINCE):
        # A short key is a customary short form (HN, SG, Huế), unless it is only the first
        # words of the name ("Bà Rịa" of Bà Rịa - Vũng Tàu: that is also a city's name).
        alias = len(key) <= 5 and (key == unit.bare_key or not unit.bare_key.startswith(key))
        score, first = (_ALIAS if alias else _PROVINCE_SHORT), start
    elif end - start > 1:
        score, first = _SHORT, start
    else:
        score, first = _SHORT_ONE, start
        if (
            key in _STREET_WORDS
            and end < len(tokens)
            and tokens[end].segment == tokens[start].segment
            and tokens[end].key.isalpha()
        ):
            # "chợ Bến Thành": a street word opening a name is that word, not a unit of
            # one syllable spelt alike (Thị trấn Chờ, Bắc Ninh), as the name after it is
            # a street's or a market's, not the ward (see _streetish).
            score *= _STREETISH
    if not full and not compatible and not closing:
        run = start * memo.width + end
        factor = memo.street.get(run)
        if factor is None:
            factor = memo.street[run] = _streetish(tokens, start, end)
        score *= factor
    tones = unit.tones
    syllables = len(tones)
    if (
        not full
        and memo.type_words[end] > memo.type_words[start]
        and not _named_type_words(tokens, start, end, tones, memo.type_words)
        and key not in memo.typed_keys
    ):
        # "Phường Trung Tâm" is no former name "Phương Trung", nor "Phủ Phường" Phú Phương
        # (the library keeps former names as keys, without their diacritics): a type word
        # typed with its own diacritics is a syllable only of a name spelt so ("Phường
        # Đúc", "Tứ Xã": their diacritics are compared below).
        score *= _TONES_DIFFER
    elif (
        not full
        and _typed_street_word(tokens[start])
        and not (syllables == end - start and tones[0].key == tokens[start].key)
    ):
        # "Đường Hà Nội" is a street, not the former commune Dương Hà (kept without
        # diacritics) and the rest of the words: "đường" typed with its own diacritics
        # opens a name only where the name's first syllable is spelt so (Đường Lâm).
        score *= _TONES_DIFFER
    if syllables and syllables <= end and memo.toned[end] > memo.toned[end - syllables]:
        memo_key = id(tones) * memo.width + end
        known = memo.tone.get(memo_key)
        if known is None:
            # The same words typed the same way meet the same names in other texts.
            shared = (id(tones), tuple(memo.spelt[end - syllables : end]))
            known = _TONE_FACTORS.get(shared)
            if known is None:
                if len(_TONE_FACTORS) >= _WORDS_MAX:
                    _TONE_FACTORS.clear()
                known = _TONE_FACTORS[shared] = _tone_factor(tokens, end, unit)
            memo.tone[memo_key] = known
        score *= known
    return score, first


def _named_type_words(
    tokens: list[_Token], start: int, end: int, tones: tuple[Spelling, ...], counts: list[int]
) -> bool:
    """Whether every type word typed as one in tokens[start:end] (``counts``: how many up to
    each index, see :class:`_Memo`) stands where the name has a syllable spelt alike: the
    words are as many as the name's syllables ("xã Phước Tỉnh", misspelt or not)."""
    if end - start != len(tones):
        return False
    for index in range(start, end):
        if counts[index + 1] > counts[index] and tokens[index].key != tones[index - start].key:
            return False
    return True


_NO_READING: Final = (-1.0, 0)  # what _score returns for words that are no reading

# (a name's spelling, the words typed with their diacritics) → tone factor. The spelling is
# keyed by identity: load() interns the units' spelling tuples and keeps them for the life
# of the process (it is never reloaded), so an id is never reused for another spelling.
_TONE_FACTORS: Final[dict[tuple[int, tuple[str, ...]], float]] = {}


class _Memo:
    """What the runs of one text share across index hits: the street discount of each
    run, and how many tokens up to each index were typed with diacritics, or are type
    words typed as such."""

    __slots__ = ("spelt", "street", "tone", "toned", "type_words", "typed_keys", "width")

    def __init__(self, tokens: list[_Token], typed_keys: frozenset[str]) -> None:
        self.typed_keys = typed_keys  # Data.typed_keys
        # Keys are numbers, not tuples: a run (start, end) is start * width + end.
        self.width = len(tokens) + 1
        self.street: dict[int, float] = {}
        # (id of a shared spelling tuple, end) → tone factor (spellings are interned)
        self.tone: dict[int, float] = {}
        toned = [0]
        count = 0
        for token in tokens:
            if token.tone is not None:
                count += 1
            toned.append(count)
        self.toned = toned
        # each token's folded key and diacritics: what its tone factors depend on
        self.spelt = [token.spelt for token in tokens]
        # how many tokens up to each index are type words typed with their own diacritics
        type_words = [0]
        count = 0
        for token in tokens:
            if _typed_type_word(token):
                count += 1
            type_words.append(count)
        self.type_words = type_words


def _tone_factor(tokens: list[_Token], end: int, unit: Unit) -> float:
    """Diacritics the customer typed are evidence: "Phú Thạnh" is not Xã Phú Thành, and
    "Phường Phú" is not Xã Phương Phú. Syllables typed without them say nothing.

    Compares the words that spell the unit's bare name (the run's last ones, when they do);
    the caller has checked that one of them was typed with diacritics.
    """
    run = tokens[end - len(unit.tones) : end]
    if any(token.key != name.key for token, name in zip(run, unit.tones, strict=True)):
        return 1.0  # the words do not spell the name syllable by syllable
    factor = 1.0
    for token, name in zip(run, unit.tones, strict=True):
        if token.tone is not None:
            found = _agreement(token.tone, name)
            if found == _TONES_DIFFER:
                return found
            factor = min(factor, found)
    return factor


def _agreement(typed: Spelling, name: Spelling) -> float:
    """The factor of one syllable spelt right and typed with diacritics: 1.0 when they are
    the name's, ``_TONE_VARIANT`` for a variant, ``_TONES_DIFFER`` for other marks."""
    agreement = tones_agree(typed, name)
    if agreement == "other":
        return _TONES_DIFFER
    return _TONE_VARIANT if agreement == "variant" else 1.0


def _typo_tones(
    tokens: list[_Token], start: int, end: int, unit: Unit, lent: bool = False
) -> float:
    """The diacritics typed on a misspelt name still tell its namesakes apart: "Sông ãM"
    (a ngã) is Sông Mã, not Sông Lam; "Tú Nan" is Tú Nang, not Tân An. Compared syllable
    by syllable when the words are as many as the name's syllables: a word spelt right by
    all its marks (:func:`_tone_factor`), a misspelt one by its tone alone (a typo changes
    letters; the tone typed is the one meant; hỏi for ngã is a variant, as in
    :func:`tones_agree`). Words typed without diacritics, or without a tone, say nothing;
    nor does the first word with ``lent`` (its first letter is the type word's, with the
    type word's tone: "x ãNinh")."""
    tones = unit.tones
    if end - start != len(tones):
        return 1.0
    factor = 1.0
    misspelt = False
    for offset in range(end - start):
        token = tokens[start + offset]
        name = tones[offset]
        typed = None if lent and offset == 0 else token.tone
        if token.key != name.key:
            misspelt = True
            if (
                typed is not None
                and typed.tone
                and typed.tone != name.tone
                and typed.tone + name.tone not in ("rx", "xr")
            ):
                return _TONES_DIFFER
        elif typed is not None:
            found = _agreement(typed, name)
            if found == _TONES_DIFFER:
                return found
            factor = min(factor, found)
    # Every word spelt right: _score has compared them already.
    return factor if misspelt else 1.0


def _tones_confirm(tokens: list[_Token], match: _Match) -> bool:
    """Whether diacritics typed on a misspelt name's words were compared with the name's,
    syllable by syllable, and agree (see :func:`_typo_tones`)."""
    unit = match.reading.sample
    return (
        match.end - match.name == len(unit.tones)
        and any(token.tone is not None for token in tokens[match.name : match.end])
        and _typo_tones(tokens, match.name, match.end, unit) == 1.0
    )


def _fuzzy_keys(data: Data, key: str, depth: int = 1, short: bool = False) -> tuple[str, ...]:
    """Index keys that may be ``key`` mistyped, ``key`` left out, sorted: ``key`` and its
    deletions, ``depth`` deep, looked up in the near index (with ``short``, also in the
    index of four- and five-letter keys). Depth one finds the keys within one edit
    (deletion, insertion, substitution, swap); the caller checks the distance of deeper
    ones. Kept across texts, as words are (a word misspelt or unknown recurs)."""
    memo_key = (key, depth, short)
    known = _FUZZY_KEYS.get(memo_key)
    if known is not None:
        return known
    variants = deletions(key, depth)
    found: set[str] = set()
    for near in (data.near, data.near_short) if short else (data.near,):
        for variant in variants:
            keys = near.get(variant)
            if keys:
                found.update(keys)
    found.discard(key)
    if depth == 1:
        # One deletion from each side also pairs keys of one length two substitutions
        # apart ("thirtan", "thaitan": both "thitan"): two typos, not one. (Keys of
        # lengths one apart are one deletion from each other.)
        size = len(key)
        found = {
            near
            for near in found
            if len(near) != size or OSA.distance(key, near, score_cutoff=1) <= 1
        }
    if len(_FUZZY_KEYS) >= _WORDS_MAX:
        _FUZZY_KEYS.clear()
    known = _FUZZY_KEYS[memo_key] = tuple(sorted(found))
    return known


_FUZZY_KEYS: Final[dict[tuple[str, int, bool], tuple[str, ...]]] = {}


class _Exact:
    """The exact pass over one text, kept for the typo pass."""

    __slots__ = ("covered", "markers", "matches", "memo", "spans")

    def __init__(
        self,
        matches: list[_Match],
        covered: list[bool],
        spans: list[tuple[int, int]],
        markers: list[tuple[str, int] | None],
        memo: _Memo,
    ) -> None:
        self.matches = matches
        self.covered = covered  # tokens an exact reading explains well
        self.spans = spans  # the spans of those readings
        self.markers = markers  # the type marker before each token
        self.memo = memo

    def score(
        self, tokens: list[_Token], start: int, end: int, reading: Reading, key: str
    ) -> tuple[float, int]:
        """:func:`_score` of a reading met by a typo pass, with this text's markers and memo."""
        return _score(
            tokens,
            start,
            end,
            reading.sample,
            reading.full,
            key,
            self.markers[start],
            self.memo,
        )


def _exact_matches(
    data: Data, tokens: list[_Token], markers: list[tuple[str, int] | None] | None = None
) -> _Exact:
    """Every reading of a run of words spelt as an index key, scored; ``markers``: the
    type marker before each token, when not the text's own (see :func:`_loose_markers`)."""
    count = len(tokens)
    out: list[_Match] = []
    if markers is None:
        markers = _markers(tokens)
    memo = _Memo(tokens, data.typed_keys)
    lookup = data.readings
    prefixes = data.prefixes
    keys = [token.key for token in tokens]
    segments = [token.segment for token in tokens]
    longest = data.max_key_tokens
    for start in range(count):
        key = ""
        segment = segments[start]
        marker = markers[start]
        breaks: list[int] = []  # where the typed words break within ``key``
        for end in range(start + 1, min(count, start + longest) + 1):
            if segments[end - 1] != segment:
                break
            if end - 1 > start:
                if key not in prefixes:
                    break  # no name starts with these words: longer runs match nothing
                breaks.append(len(key))
            key += keys[end - 1]
            readings = lookup.get(key)
            if readings:
                closing = end == count and bool(breaks) and _closes_after_street(tokens, start)
                for reading in readings:
                    if (
                        breaks
                        and not _breaks_between_words(reading, breaks)
                        and _words_as_typed(keys, start, end)
                    ):
                        continue
                    unit = reading.sample
                    closes = closing and unit.level in (PROVINCE, OLD_PROVINCE)
                    scored = _score(
                        tokens, start, end, unit, reading.full, key, marker, memo, closes
                    )
                    if scored[0] >= 0.0:
                        marked = reading.full or scored[1] < start
                        first, score = scored[1], scored[0]
                        out.append(_Match(reading, first, end, score, start, marked))
        if marker is not None and keys[start].isdigit() and keys[marker[1]] != marker[0]:
            # A number after a type word abbreviated or misspelt ("P 5", "Phưnyg 8"): read
            # as with the type word spelt out, which also finds the former names the
            # library keeps only so ("phuong8": Phường Võ Thị Sáu, Quận 3, formerly
            # Phường 8; "phuong5": Phường V of Vị Thanh).
            key = marker[0] + keys[start]
            for reading in lookup.get(key, ()):
                if reading.full:
                    scored = _score(
                        tokens, start, start + 1, reading.sample, True, key, marker, memo
                    )
                    if scored[0] >= 0.0:
                        out.append(_Match(reading, marker[1], start + 1, scored[0], start, True))
        token = tokens[start]
        if token.caps and token.key not in data.index:
            out.extend(_initials_matches(data, tokens, start, marker, memo, False))
        elif token.initials:
            # "bh hòa b": initials in lower case, only when the rest of the name follows.
            out.extend(_initials_matches(data, tokens, start, marker, memo, True))
    out = _discount_partial(tokens, _without_shadowed_seats(out, markers))
    covered = [False] * count
    spans: list[tuple[int, int]] = []
    for match in out:
        if match.score >= _SHORT:
            for index in range(match.name, match.end):  # not a slice: compiled, it is generic
                covered[index] = True
            spans.append((match.name, match.end))
    return _Exact(out, covered, spans, markers, memo)


def _breaks_between_words(reading: Reading, breaks: list[int]) -> bool:
    """Whether typed words spelling a reading's key break where the name's words do (see
    ``Reading.ends``): the key is the name without spaces, so "Đăk Lăk" is found typed
    "Daklak", but "so nha" is số nhà, a house number, not Sơn Hà. Typed in more words
    than the name has, a word the list writes whole was split ("Đam Bri" for ĐamBri)."""
    free = reading.name_at
    ends = reading.ends
    inside = [place for place in breaks if place > free]
    return len(inside) > len(ends) or all(place in ends for place in inside)


def _words_as_typed(keys: list[str], start: int, end: int) -> bool:
    """Whether every word of keys[start:end] is a syllable of some name or a street word:
    words split elsewhere than a name's are then those words ("so nha"), not the name with
    a letter typed after the space ("Lộ cBắc", Lộc Bắc: "cbac" is no syllable), which is
    read as the name."""
    syllables = _syllables()
    return all(
        keys[index] in syllables or keys[index] in _STREET_WORDS for index in range(start, end)
    )


def _closes_after_street(tokens: list[_Token], start: int) -> bool:
    """Whether a name of two words or more from ``start`` to the end of the text follows
    a street's name: "12 phố Vọng Hà Nội" is in Hà Nội, its last words no part of the
    street (the province comes last). Right after the house number or street word it may
    be the street ("184 Hồ Chí Minh", "Đường Hà Nội"), as the rest of the text decides."""
    if start == 0:
        return False
    before = tokens[start - 1]
    return (
        before.segment == tokens[start].segment
        and not before.key.isdigit()
        and before.key not in _STREET_WORDS
        and before.key not in _SINGLE_MARKERS
    )


def _without_shadowed_seats(
    matches: list[_Match], markers: list[tuple[str, int] | None], guesses: int = 0
) -> list[_Match]:
    """Drop a district read after "thị trấn" (its seat town, see :func:`_upgraded`) where
    a town is read on the same words: "TT Tân Trụ" is then the town, and the words must not
    also serve as the district beside another ward ("Ấp Tân Bình"). ``matches[-guesses:]``
    are typo guesses: a guessed town does not hide a district read as typed ("Thị Trấn Đại
    Từ" is no Thị Trấn Ái Tử)."""
    first_guess = len(matches) - guesses
    seats: dict[tuple[int, int], bool] = {}  # span → read as typed
    for index, match in enumerate(matches):
        if match.start < match.name and match.reading.sample.level == OLD_DISTRICT:
            marker = markers[match.name]
            if marker is not None and marker[0] == "thitran":
                span = (match.start, match.end)
                seats[span] = seats.get(span, False) or index < first_guess
    if not seats:
        return matches
    shadowed: set[tuple[int, int]] = set()
    for index, match in enumerate(matches):
        span = (match.start, match.end)
        if (
            span in seats
            and (match.start < match.name or match.reading.full)
            and match.reading.sample.level in (WARD, OLD_WARD)
            and (index < first_guess or not seats[span])
        ):
            shadowed.add(span)
    if not shadowed:
        return matches
    return [
        match
        for match in matches
        if (match.start, match.end) not in shadowed
        or match.reading.sample.level != OLD_DISTRICT
        or match.start == match.name
    ]


def _initials_matches(
    data: Data,
    tokens: list[_Token],
    start: int,
    marker: tuple[str, int] | None,
    memo: _Memo,
    rest_only: bool,
) -> list[_Match]:
    """Readings of a word in capitals as initials: "BMT", "ĐT", "BH Hòa A"; with
    ``rest_only`` (a word in lower case), only initials followed by the rest of the name
    ("bh hòa a"): lower-case letters alone are too often something else ("bmt")."""
    out: list[_Match] = []
    segment = tokens[start].segment
    # "TP. Quy Nhơn" with the name misspelt is still the type word: no Tuy Phước alone.
    before_name = (
        tokens[start].key == "tp"
        and start + 1 < len(tokens)
        and tokens[start + 1].segment == segment
        and tokens[start + 1].key.isalpha()
    )
    rest = ""
    for end in range(start + 1, min(len(tokens), start + 4) + 1):
        if end > start + 1:
            if tokens[end - 1].segment != segment:
                break
            rest += tokens[end - 1].key
        elif rest_only or before_name:
            continue
        for reading in data.initial_readings.get(tokens[start].key + "|" + rest, ()):
            sample = reading.sample
            scored = _score(tokens, start, end, sample, False, sample.bare_key, marker, memo)
            if scored[0] >= 0.0:
                marked = scored[1] < start
                score = scored[0] * (_INITIALS_REST if rest else _INITIALS)
                out.append(_Match(reading, scored[1], end, score, start, marked))
    return out


def _discount_partial(tokens: list[_Token], matches: list[_Match]) -> list[_Match]:
    """A name read with its type word must run to the end of what was written there: in
    "Xã Đông Pyz" the commune is not Xã Đông. What may follow it in the same part is
    another unit (or its marker), a number, a street or hamlet word, or a name a reading
    starts with; anything else means the reading is cut short (a typo, an unknown name).
    """
    count = len(tokens)
    # Most matches are not marked, or end their part: then there is nothing to check.
    cut = [
        m.marked and m.end < count and tokens[m.end].segment == tokens[m.end - 1].segment
        for m in matches
    ]
    if not any(cut):
        return matches
    starts = {m.name for m in matches if m.score >= _SHORT}
    starts.update(m.start for m in matches if m.score >= _SHORT)
    out: list[_Match] = []
    for match, open_end in zip(matches, cut, strict=True):
        after = match.end
        if (
            open_end
            and after not in starts
            and not tokens[after].key.isdigit()
            and tokens[after].key not in _STREET_WORDS
            and tokens[after].key not in _HAMLET_WORDS
            and not _starts_marker(tokens, after)
        ):
            match = _rescored(match, _PARTIAL)
        out.append(match)
    return out


def _starts_marker(tokens: list[_Token], index: int) -> bool:
    if tokens[index].key in _SINGLE_MARKERS:
        return True
    follow = index + 1
    return (
        follow < len(tokens)
        and tokens[follow].segment == tokens[index].segment
        and (tokens[index].key, tokens[follow].key) in _MARKERS
    )


# Type words as written with their diacritics: "Quản" is not "Quận" (see _is_marker_word).
_MARKER_SPELLINGS: Final = {
    fold(word): spelling(word) for word in ("phường", "xã", "quận", "huyện", "tỉnh")
}


def _spelt_as(token: _Token, written: Spelling | None, untyped: bool) -> bool:
    """Whether a word that folds to a type or street word may be that word by the
    diacritics typed: yes when the word has no marks to compare (``written`` None),
    ``untyped`` when typed without any, else unless typed with other marks than its own."""
    if written is None:
        return True
    if token.tone is None:
        return untyped
    return tones_agree(token.tone, written) != "other"


def _is_marker_word(token: _Token) -> bool:
    """Whether a token is a type word ("quận", "P"), unless typed with other diacritics
    than the type word's: "Quản Ninh" is Quảng Ninh misspelt, not a district's marker."""
    return token.key in _SINGLE_MARKERS and _spelt_as(token, _MARKER_SPELLINGS.get(token.key), True)


# Street words as written with their diacritics (see _street_word_as_typed).
_STREET_SPELLINGS: Final = {
    fold(word): spelling(word)
    for word in (
        *("số", "đường", "phố", "ngõ", "ngách", "hẻm", "kiệt", "tổ", "thôn", "xóm", "ấp"),
        *("khóm", "bản", "làng", "cụm", "đội", "tòa", "nhà", "lô", "chợ"),
    )
}


def _street_word_as_typed(token: _Token, toned_text: bool = False) -> bool:
    """Whether a word folded to a street word may be it: not when typed with other
    diacritics than the street word's ("Phổ Yênn" is Phổ Yên misspelt, not "phố"), nor
    typed without any in a text typed with them ("Nha Traeg, Khánh Hòa": not "nhà")."""
    return _spelt_as(token, _STREET_SPELLINGS.get(token.key), not toned_text)


def _toned_text(tokens: list[_Token], memo: _Memo) -> bool:
    """Whether most words of a text (two at least) were typed with diacritics."""
    words = sum(1 for token in tokens if token.key.isalpha())
    toned = memo.toned[len(tokens)]
    return toned >= 2 and 2 * toned >= words


def _opens_a_name(tokens: list[_Token], markers: list[tuple[str, int] | None], index: int) -> bool:
    """Whether the word at ``index`` is a type word that opens the name after it, so no
    typo reading starts there: not right after another type word, where a word spelt as
    one is the name's first word ("Phường Phương Lm": Phương Lâm; "xa tinh khe": Tịnh
    Khê)."""
    if not _is_marker_word(tokens[index]):
        return False
    marker = markers[index]
    return marker is None or marker[1] != index - 1


def _typed_type_word(token: _Token) -> bool:
    """Whether a token is a type word typed with the type word's own diacritics ("Phường",
    "Xã"): then it says the type, and is no syllable of a name spelt otherwise."""
    written = _MARKER_SPELLINGS.get(token.key)
    return (
        written is not None
        and token.tone is not None
        and tones_agree(token.tone, written) == "same"
    )


def _typed_street_word(token: _Token) -> bool:
    """Whether a token is "đường" typed with its own diacritics: a street's, no syllable of
    a name the list keeps without diacritics ("Đường Hà Nội" is no former commune Dương Hà)."""
    return (
        token.key == "duong"
        and token.tone is not None
        and tones_agree(token.tone, _STREET_SPELLINGS["duong"]) == "same"
    )


def _fuzzy_matches(
    data: Data, tokens: list[_Token], exact: _Exact, short: bool = False, marked: bool = True
) -> list[_Match]:
    """Names one edit away from runs the exact pass left unexplained (typos). ``short``:
    names of four letters and more of any level, right after a type word only, or with
    ``marked`` false only where there is none (the last resorts of a text in which
    nothing was found, see :func:`_resolve`)."""
    out: list[_Match] = []
    count = len(tokens)
    covered = exact.covered
    # Spans an exact reading covers, by where a run may not start or end (cut through).
    inside: set[int] = set()
    for a, b in exact.spans:
        inside.update(range(a + 1, b))
    digits = [not token.key.isalpha() and any(ch.isdigit() for ch in token.key) for token in tokens]
    index = data.index
    lent = _lent_letters(tokens)
    toned_text = _toned_text(tokens, exact.memo)
    for start in range(count):
        # A type, street or hamlet word is a word rightly spelt that introduces a name:
        # "Thôn Nhất" is not a typo of Thống Nhất. Right after a type word, it is the
        # name's own first word ("phường Đội ấn": Đội Cấn).
        first_word = tokens[start].key
        if (
            _opens_a_name(tokens, exact.markers, start)
            or (
                first_word in _STREET_WORDS
                and exact.markers[start] is None
                and _street_word_as_typed(tokens[start], toned_text)
            )
            or start in inside
        ):
            continue
        if short and (exact.markers[start] is None) == marked:
            continue
        key = ""
        segment = tokens[start].segment
        for end in range(start + 1, min(count, start + 4) + 1):
            if tokens[end - 1].segment != segment or digits[end - 1]:
                break
            key += tokens[end - 1].key
            # Words an exact reading already explains are not re-read with a typo, nor cut
            # through ("Hòa Hòa Bình" is not "Hạ Hòa" + "Bình"); a run may contain one ("cồ
            # Chí Minh").
            if (
                len(key) < (4 if short else 5)
                or end in inside
                or all(covered[start:end])
                or key in index
            ):
                continue
            # Short keys (one edit is a large change) may only be a province: "Hà Nộm".
            provinces_only = not short and (len(key) < 6 or (end - start < 2 and len(key) < 7))
            factor = _FUZZY if len(key) >= 8 else _FUZZY_SHORT
            nears = _fuzzy_keys(data, key, 1, short)
            shifted = lent is not None and lent[start]
            if shifted and len(key) > 5:
                # "x ãHòa Khynh": the type word's last letter typed after the space, and a
                # typo in the name as well (the shift alone is one edit of the run).
                nears += _fuzzy_keys(data, key[1:], 1, short)
            for near in nears:
                for reading in data.readings[near]:
                    sample = reading.sample
                    if provinces_only and sample.level not in (PROVINCE, OLD_PROVINCE):
                        continue
                    scored = exact.score(tokens, start, end, reading, near)
                    if scored[0] >= 0.0:
                        tones = _typo_tones(tokens, start, end, sample, shifted)
                        score = scored[0] * factor * tones
                        out.append(_Match(reading, scored[1], end, score, start))
    if not short:
        _shifted_matches(data, tokens, exact, digits, out)
    return out


# Type words whose last letter a customer may type after the space ("x ãHòa"; not "phố",
# which is as often a street word: "ph ốTạ Quang Bửu").
_LENT_TYPE_WORDS: Final = frozenset({"xa", "phuong", "quan", "huyen", "tinh", "tran"})


def _lent_letters(tokens: list[_Token]) -> list[bool] | None:
    """Whether each word starts with the last letter of a type word before it ("x ãHòa":
    xã, Hòa), the rest of it a syllable of a name and the word itself none; None when no
    word does (most texts)."""
    out: list[bool] | None = None
    syllables = _syllables()
    for index in range(1, len(tokens)):
        token = tokens[index]
        before = tokens[index - 1]
        key = token.key
        if (
            len(key) >= 3
            and before.segment == token.segment
            and before.key + key[0] in _LENT_TYPE_WORDS
            and key not in syllables
            and key[1:] in syllables
        ):
            if out is None:
                out = [False] * len(tokens)
            out[index] = True
    return out


def _respelt_matches(
    data: Data, tokens: list[_Token], exact: _Exact, code: str | None = None
) -> list[_Match]:
    """Names two edits from a run of two words or more (in one part) where the misspelt
    words (no syllable of any name) are respelt as syllables: "Qucố Oia" (Quốc Oai),
    "Chiyg Sung" (Chiềng Sung). A guess: offered as candidates, or decided on in the
    province decided only after its type word (see :func:`_resolve`); ``code``: only
    the wards and districts of that province are wanted (the others are not scored)."""
    out: list[_Match] = []
    count = len(tokens)
    for start in range(count):
        token = tokens[start]
        if _is_marker_word(token) or token.key in _STREET_WORDS or not token.key.isalpha():
            continue
        for end in range(start + 2, min(count, start + 4) + 1):
            if tokens[end - 1].segment != token.segment:
                break
            _respelt_run(data, tokens, exact, start, end, out, code)
    return out


def _below(reading: Reading, code: str | None) -> bool:
    """Whether a reading is of a ward or district (old or current) of province ``code``."""
    return reading.sample.level not in _PROVINCE_LEVELS and any(
        entry[0] == code for entry in reading.placed
    )


def _respelt_run(
    data: Data,
    tokens: list[_Token],
    exact: _Exact,
    start: int,
    end: int,
    out: list[_Match],
    code: str | None = None,
) -> None:
    """The readings of tokens[start:end] with its misspelt words respelt, two edits in all
    (one edit is the near index's): scored as two typos; with ``code``, only those of a
    ward or district of that province."""
    syllables = _syllables()
    options: list[tuple[tuple[str, int], ...]] = []
    misspelt = False
    for token in tokens[start:end]:
        key = token.key
        if key in syllables or not key.isalpha():
            options.append(((key, 0),))
        else:
            respelt = _respelt(key)
            if not respelt:
                return
            options.append(respelt)
            misspelt = True
    if not misspelt:
        return
    keys: list[tuple[str, int]] = [("", 0)]
    for choices in options:
        keys = [
            (key + syllable, edits + distance)
            for key, edits in keys
            for syllable, distance in choices
            if edits + distance <= 2
        ]
    readings = data.readings
    for key, edits in keys:
        if len(key) < 6:
            continue
        # Respelt by two edits, a name as it is; by one, a name one more edit away ("Phogn
        # Chu": Phong Châu); the near index found those one edit away in all.
        names = [key] if edits == 2 else _fuzzy_keys(data, key)
        factor = (_FUZZY if len(key) >= 8 else _FUZZY_SHORT) * _FUZZY_TWO
        for name in names:
            for reading in readings.get(name, ()):
                if code is not None and not _below(reading, code):
                    continue
                scored = exact.score(tokens, start, end, reading, name)
                if scored[0] >= 0.0:
                    marked = reading.full or scored[1] < start
                    out.append(_Match(reading, scored[1], end, scored[0] * factor, start, marked))


def _shifted_matches(
    data: Data, tokens: list[_Token], exact: _Exact, digits: list[bool], out: list[_Match]
) -> None:
    """Names read across a letter typed after the space instead of before it: "Nhơn Th
    ọAn Nhơn" is Nhơn Thọ, An Nhơn. Read only when both sides then spell a name exactly:
    the run before the space with the next word's first letter, and the run after it
    without that letter (every letter is there, in order: scored as a long typo, whatever
    the name's length). Only where one of the two words is no syllable of any name ("th";
    "ọan" is one): two syllables are more likely written as meant. Runs of two words or
    more, names of five letters or more, as for other typos."""
    count = len(tokens)
    syllables = _syllables()
    # The words whose first letter may have moved (most texts have none).
    movable = [
        index > 0
        and tokens[index - 1].segment == tokens[index].segment
        and _takes_letter(tokens[index - 1], tokens[index], syllables)
        for index in range(count)
    ]
    if not any(movable):
        return
    readings = data.readings
    # By the word whose first letter moved: readings of the run before it, and after it.
    before: dict[int, list[_Match]] = {}
    after: dict[int, list[_Match]] = {}
    for start in range(count):
        token = tokens[start]
        segment = token.segment
        if digits[start] or _is_marker_word(token) or token.key in _STREET_WORDS:
            continue
        # "ọAn": this word's first letter belongs to the word before.
        lends = movable[start]
        key = ""
        for end in range(start + 1, min(count, start + 4) + 1):
            last = tokens[end - 1]
            if last.segment != segment or digits[end - 1]:
                break
            key += last.key
            if end - start < 2:
                continue
            if lends:
                _read_shifted(readings, tokens, exact, start, end, key[1:], after, start)
            # "Th ọ": the next word's first letter belongs to this run.
            if end < count and movable[end]:
                moved = key + tokens[end].key[0]
                _read_shifted(readings, tokens, exact, start, end, moved, before, end)
    for word, matches in before.items():
        if word in after:
            out.extend(matches)
            out.extend(after[word])


def _read_shifted(
    readings: dict[str, tuple[Reading, ...]],
    tokens: list[_Token],
    exact: _Exact,
    start: int,
    end: int,
    key: str,
    found: dict[int, list[_Match]],
    word: int,
) -> None:
    """Readings of tokens[start:end] spelt ``key`` (see :func:`_shifted_matches`)."""
    if len(key) < 5:
        return
    for reading in readings.get(key, ()):
        scored = exact.score(tokens, start, end, reading, key)
        if scored[0] >= 0.0:
            match = _Match(reading, scored[1], end, scored[0] * _FUZZY, start)
            found.setdefault(word, []).append(match)


def _local_typos(
    data: Data,
    tokens: list[_Token],
    matches: list[_Match],
    exact: _Exact,
    code: str | None,
) -> list[_Match]:
    """Wards, old wards and districts of province ``code`` within one edit of a run of
    words that no reading there explains (two edits for a run of eight letters or more),
    by deletion-index look-ups filtered to the province, the distance then checked.
    ``code`` None: names of any level anywhere (candidates for a text with nothing else)."""
    count = len(tokens)
    local = code is not None
    # In one province, four letters after the type word ("Phường am Hà": Nam Hà); anywhere,
    # a short name one letter off is too often another name.
    shortest = 4 if local else 5
    covered = [False] * count
    for match in matches:
        if match.score >= _SHORT_ONE and (
            not local or any(entry[0] == code for entry in match.reading.placed)
        ):
            for index in range(match.name, match.end):
                covered[index] = True
    out: list[_Match] = []
    toned_text = _toned_text(tokens, exact.memo)
    for start in range(count):
        first_word = tokens[start].key
        if (
            covered[start]
            or _opens_a_name(tokens, exact.markers, start)
            # After a type word, a street word is the name's own (see _fuzzy_matches); in
            # one province only: anywhere, "X. Phổ Thạnh" (now a phường) would meet
            # namesakes two edits away that outrank it.
            or (
                first_word in _STREET_WORDS
                and (not local or exact.markers[start] is None)
                and _street_word_as_typed(tokens[start], toned_text)
            )
        ):
            continue
        key = ""
        segment = tokens[start].segment
        for end in range(start + 1, min(count, start + 4) + 1):
            token = tokens[end - 1]
            if token.segment != segment or covered[end - 1] or not token.key.isalpha():
                break
            key += token.key
            if len(key) < shortest:
                continue
            most = 2 if len(key) >= 8 else 1
            for near_key in _fuzzy_keys(data, key, most, local and len(key) < 6):
                distance = OSA.distance(key, near_key, score_cutoff=most)
                if distance > most:
                    continue
                factor = (_FUZZY if len(key) >= 8 else _FUZZY_SHORT) * (
                    1.0 if distance <= 1 else _FUZZY_TWO
                )
                for reading in data.readings[near_key]:
                    if local and not _below(reading, code):
                        continue
                    scored = exact.score(tokens, start, end, reading, near_key)
                    # Two typos are a guess unless the type word or a marker stands with it
                    # ("P.Hòqa Thạsnh"): "119 Hải ohòng" is a street. Anywhere (``code``
                    # None, candidates only), a long name may be guessed, a short one only
                    # after its marker ("Tà Xùx" may be many names).
                    marked = reading.full or scored[1] < start
                    if scored[0] >= 0.0 and (
                        marked
                        if len(key) < 5
                        else marked or (distance <= 1 if local else len(key) >= 8)
                    ):
                        out.append(_Match(reading, scored[1], end, scored[0] * factor, start))
    return out


def _name_reach(exact: list[_Match], count: int) -> list[int]:
    """For each token index, the farthest end of an exact reading whose name starts there
    or before: a typo reading that ends beyond it lies inside no longer name (most do)."""
    reach = [0] * (count + 1)
    for match in exact:
        if match.end > reach[match.name]:
            reach[match.name] = match.end
    farthest = 0
    for index in range(count + 1):
        if reach[index] > farthest:
            farthest = reach[index]
        reach[index] = farthest
    return reach


def _inside_a_longer_name(match: _Match, exact: list[_Match], reach: list[int]) -> bool:
    """Whether a typo reading covers only part of words that spell a longer name as typed,
    however weakly that name was scored: "45 Nguyễn Trãi, Thanh Hóa" is a street named as
    Phường Nguyễn Trãi elsewhere is, not "Nguyễn" misspelt from Xã Nga Yên of Thanh Hóa.
    ``reach``: :func:`_name_reach` of ``exact``."""
    if reach[match.name] < match.end:
        return False
    for other in exact:
        if (
            other.name <= match.name
            and match.end <= other.end
            # longer by a word of the name, not by the type word a full key starts with
            # ("Xã Đông Hả iĐông Hải": Xã Đông Hà is no longer a name than Đông Hải)
            and (other.end > match.end or (other.name < match.name and not other.reading.full))
        ):
            return True
    return False


def _takes_letter(before: _Token, after: _Token, syllables: frozenset[str]) -> bool:
    """Whether the space between two words may have moved by a letter: both are words of
    two letters or more (not numbers, type or street words), and one of them is no
    syllable of any name."""
    return (
        len(before.key) >= 2
        and len(after.key) >= 2
        and before.key.isalpha()
        and after.key.isalpha()
        and not (before.key in syllables and after.key in syllables)
        and not _is_marker_word(before)
        and not _is_marker_word(after)
        and before.key not in _STREET_WORDS
        and after.key not in _STREET_WORDS
    )


def _prefer_longest(matches: list[_Match]) -> list[_Match]:
    """Discount a match lying strictly inside a longer one at least as strong ("Trang" in
    "Tràng Tiền"): the longer reading explains more of the text. On the very same words, a
    province's name outranks a ward's or a district's without a marker ("Bình Dương").

    Works on the few distinct spans, not on pairs of matches: a text has hundreds of
    matches but a few dozen spans. A span (start, end) is keyed as one number."""
    width = 1
    for match in matches:
        if match.end >= width:
            width = match.end + 1
    best: dict[int, float] = {}
    province_best: dict[int, float] = {}
    for match in matches:
        span = match.start * width + match.end
        score = match.score
        if score > best.get(span, -1.0):
            best[span] = score
        if match.reading.sample.level in _PROVINCE_LEVELS and score > province_best.get(span, -1.0):
            province_best[span] = score
    # Strongest reading strictly containing each span, among those that do not cut
    # through another reading as strong that the span's could go with (same province): in
    # "tân thành bình tân" (no commas), "Tân Thành Bình" takes the first word of "Bình
    # Tân", so it does not outrank "Tân Thành" there (both of Vĩnh Long); which reading of
    # the words is right is left to the hypotheses.
    container: dict[int, float] = {}
    items = [(span // width, span % width, score) for span, score in best.items()]
    # Readings as strong that cut through each container span, found when first needed,
    # and only for a span that some reading cuts through: one that starts inside it and
    # ends after it, or the other way round (by the farthest end of the readings starting
    # at each token, and the earliest start of those ending at each).
    farthest = [0] * width
    earliest = [width] * width
    for start, end, _ in items:
        if end > farthest[start]:
            farthest[start] = end
        if start < earliest[end]:
            earliest[end] = start
    crossing: dict[int, list[tuple[int, int]]] = {}
    places: dict[int, set[str]] | None = None
    for low, high, _ in items:
        length = high - low
        top = -1.0
        for start, end, score in items:
            if start <= low and high <= end and end - start > length and score > top:
                span = start * width + end
                cut = crossing.get(span)
                if cut is None and not any(
                    farthest[inner] > end or earliest[inner] < start
                    for inner in range(start + 1, end)
                ):
                    cut = crossing[span] = []
                if cut is None:
                    cut = crossing[span] = [
                        (other_start, other_end)
                        for other_start, other_end, other in items
                        if other >= score
                        and (other_start < start < other_end or other_start < end < other_end)
                    ]
                beside = [(a, b) for a, b in cut if b <= low or high <= a] if cut else None
                if beside:
                    if places is None:
                        places = _places_by_span(matches, width)
                    inner = places.get(low * width + high, _NO_PLACES)
                    if any(
                        not inner.isdisjoint(places.get(a * width + b, _NO_PLACES))
                        for a, b in beside
                    ):
                        continue
                top = score
        container[low * width + high] = top
    named = [
        (span // width, span % width)
        for span, score in province_best.items()
        if score >= MIN_USABLE
    ]
    out: list[_Match] = []
    for match in matches:
        low, high = match.start, match.end
        span = low * width + high
        score = match.score
        if container[span] >= score:
            match = _rescored(match, _INSIDE)
        elif (
            province_best.get(span, -1.0) >= score
            and match.reading.sample.level not in _PROVINCE_LEVELS
            # ...unless a province is also named elsewhere: then these words are free to be
            # the ward or district (xã Hòa Bình of Trà Ôn, then "Vĩnh Long"; the city of
            # Vĩnh Long, then the province).
            and not any(end <= low or high <= start for start, end in named)
        ):
            match = _rescored(match, 0.5)
        out.append(match)
    return out


_PROVINCE_LEVELS: Final = frozenset((PROVINCE, OLD_PROVINCE))
_NO_PLACES: Final[set[str]] = set()


def _places_by_span(matches: list[_Match], width: int) -> dict[int, set[str]]:
    """The current provinces the usable readings of each span lie in."""
    places: dict[int, set[str]] = {}
    for match in matches:
        if match.score >= MIN_USABLE:
            span = match.start * width + match.end
            found = places.get(span)
            if found is None:
                places[span] = set(match.reading.codes)
            else:
                found.update(match.reading.codes)
    return places


def _rescored(match: _Match, factor: float) -> _Match:
    return _Match(
        match.reading, match.start, match.end, match.score * factor, match.name, match.marked
    )


def _overlaps(low: int, high: int, used: tuple[tuple[int, int], ...]) -> bool:
    """Whether tokens[low:high] overlap one of the spans ``used``."""
    for start, end in used:  # noqa: SIM110 - a loop: any() over a generator costs twice
        if low < end and start < high:
            return True
    return False


def _best(options: list[_Match] | None, used: tuple[tuple[int, int], ...]) -> _Match | None:
    """The strongest of ``options`` (the first of equals) on words none of ``used`` takes."""
    if options is None:
        return None
    best: _Match | None = None
    for match in options:  # a list: indexed when compiled, not iterated through an object
        if (best is None or match.score > best.score) and not _overlaps(
            match.start, match.end, used
        ):
            best = match
    return best


def _file_options(
    units: tuple[Unit, ...],
    option: _Match,
    table: dict[str, list[_Match]],
    unit_table: dict[str, Unit] | None,
) -> None:
    """Add ``option`` to each unit's list, keeping the unit once."""
    for unit in units:
        options = table.get(unit.code)
        if options is None:
            table[unit.code] = [option]
            if unit_table is not None:
                unit_table[unit.code] = unit
        else:
            options.append(option)


class _Province:
    """The matches that lie in one current province. The tables by level and unit are
    filled only for a province the decision visits (see :meth:`tables`)."""

    __slots__ = (
        "district_top",
        "district_units",
        "districts",
        "found",
        "mention_top",
        "mentions",
        "new_wards",
        "old_ward_units",
        "old_wards",
        "places",
        "ward_top",
    )
    old_wards: dict[str, list[_Match]]
    new_wards: dict[str, list[_Match]]
    districts: dict[str, list[_Match]]
    district_units: dict[str, Unit]

    def __init__(self) -> None:
        # Ward and district readings here, and for each, the index of its reading's entry
        # for this province in ``reading.placed`` (not the entry itself: compiled, an
        # entry taken out of its tuple is rebuilt as a new one when stored).
        self.found: list[_Match] = []
        self.places: list[int] = []
        # mentions of the province: (score, start, end, old province code or None)
        self.mentions: list[tuple[float, int, int, str | None]] = []
        self.ward_top = self.district_top = self.mention_top = 0.0
        # Filled by tables(), for a visited province only (most are not): the readings by
        # unit code, and the old wards' and districts' units by code.
        self.old_ward_units: dict[str, Unit] | None = None

    @property
    def bound(self) -> float:
        """No hypothesis here scores more: its best ward, district and mention together."""
        return self.ward_top + self.district_top + self.mention_top

    def tables(self) -> None:
        """Fill the tables by level and unit (once)."""
        if self.old_ward_units is not None:
            return
        old_units: dict[str, Unit] = {}
        old_wards: dict[str, list[_Match]] = {}
        new_wards: dict[str, list[_Match]] = {}
        districts: dict[str, list[_Match]] = {}
        district_units: dict[str, Unit] = {}
        self.old_ward_units, self.old_wards, self.new_wards = old_units, old_wards, new_wards
        self.districts, self.district_units = districts, district_units
        places = self.places
        for index, match in enumerate(self.found):
            entry = match.reading.placed[places[index]]
            _file_options(entry[2], match, old_wards, old_units)
            _file_options(entry[3], match, new_wards, None)
            _file_options(entry[4], match, districts, district_units)

    def province_for(
        self, old_code: str | None, used: tuple[tuple[int, int], ...]
    ) -> tuple[float, tuple[int, int], str | None] | None:
        """Best disjoint mention of the province (or of the old one it came from)."""
        best: tuple[float, tuple[int, int], str | None] | None = None
        for score, start, end, old in self.mentions:
            if old is not None and old_code is not None and old != old_code:
                score *= 0.5  # another old province merged into the same new one
            if (best is None or score > best[0]) and not _overlaps(start, end, used):
                best = (score, (start, end), old)
        return best


class _Evidence:
    """Matches grouped by the current province they lie in. Each province's hypotheses
    are built only when its upper bound (best ward + best district + best mention) can
    still change the answer: most matches of a text are stray namesakes far behind."""

    def __init__(self, matches: list[_Match]) -> None:
        self.provinces: dict[str, _Province] = {}
        self._matches = matches  # for the "no other ward agrees" check, seldom needed
        self._agrees: dict[tuple[int, int], bool] = {}
        # Spans that name a province plainly, and the provinces read on each of them.
        self.named_spans: dict[tuple[int, int], set[str]] = {
            (match.start, match.end): set()
            for match in matches
            if match.score >= _NAMED and match.reading.sample.level in (PROVINCE, OLD_PROVINCE)
        }
        provinces = self.provinces
        named_spans = self.named_spans
        for match in matches:
            score = match.score
            start, end = match.start, match.end
            reading = match.reading
            level = reading.sample.level
            if named_spans:
                for named, readers in named_spans.items():
                    if start < named[1] and named[0] < end:
                        readers.update(reading.codes)
            if level in (WARD, OLD_WARD, OLD_DISTRICT):
                ward = level != OLD_DISTRICT
                for place, entry in enumerate(reading.placed):
                    code = entry[0]
                    province = provinces.get(code)
                    if province is None:
                        province = provinces[code] = _Province()
                    province.found.append(match)
                    province.places.append(place)
                    if ward:
                        if score > province.ward_top:
                            province.ward_top = score
                    elif score > province.district_top:
                        province.district_top = score
            else:
                for code, units, _olds, _news, _dists in reading.placed:
                    province = provinces.get(code)
                    if province is None:
                        province = provinces[code] = _Province()
                    for unit in units:
                        old = unit.code if unit.level == OLD_PROVINCE else None
                        province.mentions.append((score, start, end, old))
                    if score > province.mention_top:
                        province.mention_top = score

    def named(self) -> dict[str, list[tuple[int, int]]]:
        """Current provinces the text names plainly (not after a street word, not as a
        typo), with the spans that name them."""
        named: dict[str, list[tuple[int, int]]] = {}
        for code, province in self.provinces.items():
            for score, start, end, _old in province.mentions:
                if score >= _NAMED:
                    named.setdefault(code, []).append((start, end))
        return named

    def agrees(self, data: Data, span: tuple[int, int]) -> bool:
        """Whether some old ward read on ``span`` (in any province) finds its district, or
        a neighbour's, among the text's other words."""
        known = self._agrees.get(span)
        if known is None:
            known = self._agrees[span] = any(
                _district_of(data, self._tabled(unit.current), unit, (span,)) is not None
                for unit in self._old_wards_on(span)
            )
        return known

    def _old_wards_on(self, span: tuple[int, int]) -> list[Unit]:
        """The old-ward units read on ``span``, in any province."""
        return [
            unit
            for match in self._matches
            if match.start == span[0]
            and match.end == span[1]
            and match.reading.sample.level in (WARD, OLD_WARD)
            for entry in match.reading.placed
            for unit in entry[2]
        ]

    def _tabled(self, code: str) -> _Province:
        province = self.provinces[code]
        province.tables()
        return province


_NO_WARDS: Final[frozenset[str]] = frozenset()


def _district_of(
    data: Data, province: _Province, unit: Unit, used: tuple[tuple[int, int], ...]
) -> tuple[float, _Match] | None:
    """The district an old-ward reading finds, with what it adds: its own, or a
    neighbour's (×0.8)."""
    if not province.districts:
        return None
    own = _best(province.districts.get(unit.district or ""), used)
    if own is not None:
        return own.score, own
    district: tuple[float, _Match] | None = None
    # The district the customer remembers may no longer hold the ward in the 2025-01
    # list (Nghi Phong moved from Nghi Lộc to Vinh): neighbours count.
    for district_code, district_options in province.districts.items():
        if data.old_district_to_new.get(district_code, _NO_WARDS).isdisjoint(unit.new_wards):
            continue
        found = _best(district_options, used)
        if found and (district is None or found.score * 0.8 > district[0]):
            district = (found.score * 0.8, found)
    return district


def _district_and_mention(
    province: _Province,
    old_code: str | None,
    used: tuple[tuple[int, int], ...],
    district_span: tuple[int, int] | None,
    district_score: float,
) -> tuple[bool, tuple[float, tuple[int, int], str | None] | None]:
    """Whether a ward's hypothesis keeps the district found for it (on ``district_span``),
    and the province mention it takes: the best one beside the district, unless the
    district's words lie inside a mention that outweighs the district and that mention
    beside it together ("Quang Trung - T. Nam Định": "Nam Định" is the province's name
    typed after its type word, not Thành phố Nam Định; "Phường 9, TP. Vĩnh Lng, Vĩnh
    Long": the last words name the province better than its city). One function for the
    old wards' and the current wards' hypotheses, each mention looked up once."""
    if not province.mentions:
        return district_span is not None, None
    if district_span is None:
        return False, province.province_for(old_code, used)
    beside = province.province_for(old_code, (*used, district_span))
    alone = province.province_for(old_code, used)
    if (
        alone is not None
        and alone[1][0] <= district_span[0]
        and district_span[1] <= alone[1][1]
        and alone[0] > district_score + (beside[0] if beside else 0.0)
    ):
        return False, alone
    return True, beside


def _hypotheses(data: Data, evidence: _Evidence, code: str) -> list[_Hypothesis]:
    """Every reading in one current province, completed with the district and province
    mentions consistent with it on disjoint spans."""
    hyps: list[_Hypothesis] = []
    province = evidence.provinces[code]
    province.tables()
    old_ward_units = province.old_ward_units
    district_units = province.district_units
    assert old_ward_units is not None
    for ward_code, options in province.old_wards.items():
        unit = old_ward_units[ward_code]
        new_wards = unit.new_wards
        for match in options:
            score = match.score
            span = (match.start, match.end)
            used: tuple[tuple[int, int], ...] = (span,)
            district = _district_of(data, province, unit, used) if province.districts else None
            old_district = unit.district
            if (
                district is None
                and score >= _SHORT - 1e-9
                and province.districts
                and not unit.bare_key.isdigit()
                and not evidence.agrees(data, span)
            ):
                # Nor neighbours, and no other ward of these words agrees with the
                # district: a district of the same old province still supports a ward
                # written with its type word, weakly, rather than vetoing it ("xã Nghi
                # Phong, Nghi Lộc" when the list has moved Nghi Phong under Thành phố
                # Vinh); without its type word ("Nghi Phong, Nghi Lộc"), only the district
                # named right after it does. The district is reported as typed. Not a
                # numbered ward: wards are numbered within their district, so "Phường 2"
                # of another district is another ward, not one moved.
                # ...but not on words that name the province better ("Điện Biên").
                mention = province.province_for(unit.province, used) if province.mentions else None
                for district_code, district_options in province.districts.items():
                    if district_units[district_code].province != unit.province:
                        continue
                    found = _best(district_options, used)
                    if found is None or (score < _FULL and found.start != match.end):
                        continue
                    if (
                        mention
                        and mention[0] >= found.score * 0.5
                        and _overlaps(found.start, found.end, (mention[1],))
                    ):
                        continue
                    if district is None or found.score * 0.5 > district[0]:
                        district = (found.score * 0.5, found)
                        old_district = district_code
            district_span = (district[1].start, district[1].end) if district else None
            district_score = district[0] if district else 0.0
            kept, mention = _district_and_mention(
                province, unit.province, used, district_span, district_score
            )
            if district_span is not None:
                if kept:
                    score += district_score
                    used += (district_span,)
                else:
                    district, old_district = None, unit.district
            if mention:
                score += mention[0]
                used += (mention[1],)
            identity = ("W", new_wards[0]) if len(new_wards) == 1 else ("w", ward_code)
            hyps.append(
                _Hypothesis(
                    score,
                    code,
                    identity,
                    new_wards,
                    ward_code,
                    old_district,
                    unit.province,
                    used,
                    district is not None,
                )
            )
    for ward_code, options in province.new_wards.items():
        for match in options:
            score = match.score
            used = ((match.start, match.end),)
            old_district = None
            best_district: _Match | None = None
            for district_code, district_options in province.districts.items():
                if ward_code in data.old_district_to_new.get(district_code, ()):
                    found = _best(district_options, used)
                    if found and (best_district is None or found.score > best_district.score):
                        best_district, old_district = found, district_code
            old_province = district_units[old_district].province if old_district else None
            district_span = (best_district.start, best_district.end) if best_district else None
            district_score = best_district.score if best_district else 0.0
            kept, mention = _district_and_mention(
                province, old_province, used, district_span, district_score
            )
            if district_span is not None:
                if kept:
                    score += district_score
                    used += (district_span,)
                else:
                    old_district = old_province = None
            if mention:
                score += mention[0]
                used += (mention[1],)
                old_province = old_province or mention[2]
            hyps.append(
                _Hypothesis(
                    score,
                    code,
                    ("W", ward_code),
                    (ward_code,),
                    None,
                    old_district,
                    old_province,
                    used,
                )
            )
    for district_code, options in province.districts.items():
        unit = district_units[district_code]
        for match in options:
            score = match.score
            used = ((match.start, match.end),)
            mention = province.province_for(unit.province, used) if province.mentions else None
            if mention:
                score += mention[0]
                used += (mention[1],)
            hyps.append(
                _Hypothesis(score, code, None, (), None, district_code, unit.province, used)
            )
    if province.mentions:
        score, start, end, old = max(province.mentions, key=lambda mention: mention[0])
        hyps.append(_Hypothesis(score, code, None, (), None, None, old, ((start, end),)))
    return hyps


def _street(text: str, tokens: list[_Token], spans: tuple[tuple[int, int], ...]) -> str | None:
    """The text left once the matched units (and their markers) are taken out.

    The tokens' offsets are in the text composed (NFC), as it was read: a text typed with
    decomposed diacritics (NFD, as some keyboards send it) is composed before it is cut."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    pieces: list[str] = []
    last = 0
    for start, end in sorted(spans):
        begin = tokens[start].start
        if begin > last:
            pieces.append(text[last:begin])
        last = max(last, tokens[end - 1].end)
    pieces.append(text[last:])
    parts: list[str] = []
    for piece in pieces:
        # split at commas, semicolons and newlines (str methods: faster than a pattern)
        for part in piece.replace(";", ",").replace("\n", ",").split(","):
            part = " ".join(part.split()).strip(" ,;.-/")
            # a letter or digit in it (the first character is one, as a rule)
            if part and (part[0].isalnum() or _ALNUM.search(part)):
                parts.append(part)
    return ", ".join(parts) or None


_ALNUM: Final = re.compile(r"[^\W_]")  # a letter or digit (str.isalnum)


def _defaults(cls: type) -> dict[str, object]:
    """The default values of a dataclass's fields that have one."""
    return {field.name: field.default for field in fields(cls) if field.default is not MISSING}


_RESOLUTION_DEFAULTS: Final = _defaults(Resolution)
_CANDIDATE_DEFAULTS: Final = _defaults(Candidate)
_Frozen = TypeVar("_Frozen", Resolution, Candidate)


def _filled(cls: type[_Frozen], defaults: dict[str, object], values: dict[str, object]) -> _Frozen:
    """A new instance of one of the model's frozen dataclasses, its ``__dict__`` filled at
    once, defaults first.

    The dataclass's ``__init__`` sets the fields one by one through ``object.__setattr__``,
    in Python: from the compiled resolver, a tenth of a resolve went into it. This helper
    lives here rather than in the model so that it is compiled too (as a Python function,
    the interpreted call alone cost most of what it saved). The values are not checked:
    the resolver passes exactly what it would pass to the constructor, and a test checks
    that both ways build equal, equally frozen objects."""
    made = object.__new__(cls)
    state = made.__dict__
    state.update(defaults)
    state.update(values)
    return made


def resolution(**values: object) -> Resolution:
    """``Resolution(**values)`` at a fraction of the cost (see :func:`_filled`)."""
    return _filled(Resolution, _RESOLUTION_DEFAULTS, values)


def candidate(**values: object) -> Candidate:
    """``Candidate(**values)`` at a fraction of the cost: an ambiguous answer builds up to
    five (see :func:`_filled`)."""
    return _filled(Candidate, _CANDIDATE_DEFAULTS, values)


def _candidate(
    data: Data, hyp: _Hypothesis, new_ward: str | None, top: float, several: bool = False
) -> Candidate:
    """A button; ``several``: the text points to several places in this province, so the
    reading's own old ward and district would name just one of them."""
    province = data.units[(PROVINCE, hyp.province)]
    ward = data.units[(WARD, new_ward)] if new_ward else None
    return candidate(
        province_code=province.code,
        province_name=province.name,
        ward_code=ward.code if ward else None,
        ward_name=ward.name if ward else None,
        old_province_name=_name(data, OLD_PROVINCE, hyp.old_province),
        old_district_name=None if several else _name(data, OLD_DISTRICT, hyp.old_district),
        old_ward_name=None if several else _name(data, OLD_WARD, hyp.old_ward),
        score=_rounded3(min(1.0, hyp.score / top) if top else 0.0),
    )


def _name(data: Data, level: str, code: str | None) -> str | None:
    return data.units[(level, code)].name if code else None


def _build(
    data: Data,
    text: str,
    tokens: list[_Token],
    hyp: _Hypothesis,
    status: str,
    confidence: float,
    candidates: tuple[Candidate, ...],
) -> Resolution:
    province = data.units[(PROVINCE, hyp.province)]
    ward = data.units[(WARD, hyp.new_wards[0])] if status == "resolved" and hyp.new_wards else None
    # An old ward is reported when it was decided (resolved, or split between new wards).
    decided_old_ward = hyp.old_ward if status == "resolved" or len(hyp.new_wards) > 1 else None
    return resolution(
        text=text,
        status=status,
        confidence=_rounded3(max(0.0, min(1.0, confidence))),
        province_code=province.code,
        province_name=province.name,
        ward_code=ward.code if ward else None,
        ward_name=ward.name if ward else None,
        old_province_code=hyp.old_province,
        old_province_name=_name(data, OLD_PROVINCE, hyp.old_province),
        old_district_code=hyp.old_district,
        old_district_name=_name(data, OLD_DISTRICT, hyp.old_district),
        old_ward_code=decided_old_ward,
        old_ward_name=_name(data, OLD_WARD, decided_old_ward),
        street=_street(text, tokens, hyp.spans),
        candidates=candidates,
    )


def _ward_order(hyp: _Hypothesis) -> tuple[float, bool]:
    """Best score first (equal to 1e-6); among equals, a reading that names no ward first."""
    return (-_rounded(hyp.score), hyp.identity is not None)


def _remembered_round(value: float, digits: int, known: dict[float, float]) -> float:
    """``round(value, digits)``, remembered across texts in ``known``: scores are sums of
    products of a few constants and recur, while ``round`` with digits formats the number
    (slow). Zero is not remembered: 0.0 and -0.0 are one key but round to different
    floats."""
    if value == 0.0:
        return round(value, digits)
    rounded = known.get(value)
    if rounded is None:
        if len(known) >= _WORDS_MAX:
            known.clear()
        rounded = known[value] = round(value, digits)
    return rounded


def _rounded(score: float) -> float:
    """``round(score, 6)``: hypotheses equal to 1e-6 rank as equals."""
    return _remembered_round(score, 6, _ROUNDED)


def _rounded3(value: float) -> float:
    """``round(value, 3)``: confidences and button scores."""
    return _remembered_round(value, 3, _ROUNDED3)


_ROUNDED: Final[dict[float, float]] = {}
_ROUNDED3: Final[dict[float, float]] = {}


def _decide_ward(
    data: Data,
    text: str,
    tokens: list[_Token],
    hyps: list[_Hypothesis],
    province_confidence: float,
) -> _Answer:
    """The province is known: pick the ward, or list the wards the text may mean."""
    hyps = sorted(hyps, key=_ward_order)
    best_any = hyps[0]
    # An old ward split between new wards, read on the same words as one of those new wards
    # ("xã Bát Tràng"), means that new ward: both readings agree on it.
    # The new ward's reading must be as strong: "TT. Quốc Oai" names the old town, not the
    # commune that now bears its name with another type word.
    agreeing: dict[tuple[tuple[int, int], str], float] = {}
    for hyp in hyps:
        if hyp.identity and hyp.identity[0] == "W" and hyp.old_ward is None:
            key = (hyp.spans[0], hyp.new_wards[0])
            agreeing[key] = max(agreeing.get(key, 0.0), hyp.score)
    hyps = [
        hyp
        for hyp in hyps
        if not (
            hyp.identity
            and hyp.identity[0] == "w"
            and any(
                agreeing.get((hyp.spans[0], code), -1.0) >= hyp.score - 1e-6
                for code in hyp.new_wards
            )
        )
    ]
    wards: dict[tuple[str, str], _Hypothesis] = {}
    for hyp in hyps:
        if hyp.identity and hyp.identity not in wards:
            wards[hyp.identity] = hyp
    ranked = list(wards.values())
    if not ranked or (ranked[0].score - 1e-6 <= best_any.score and best_any.identity is None):
        return _Answer(
            "province_only",
            partial(_build, data, text, tokens, best_any, "province_only", province_confidence, ()),
            best_any.province,
            province_confidence,
            best_any.spans,
        )
    best = ranked[0]
    spans = best_any.spans if best is best_any else best_any.spans + best.spans
    runner_up = ranked[1].score if len(ranked) > 1 else 0.0
    # A district named without a ward of it, that holds none of the best ward's current
    # wards, is a rival reading too: "hPường 2, Thành phố Tân An" is no Phường 2 of Kiến
    # Tường (the ward is asked, not guessed).
    for hyp in hyps:
        if (
            hyp.identity is None
            and hyp.old_district is not None
            and hyp.score > runner_up
            and data.old_district_to_new.get(hyp.old_district, _NO_WARDS).isdisjoint(best.new_wards)
        ):
            runner_up = hyp.score
    lead = best.score - runner_up
    if lead >= MARGIN and len(best.new_wards) == 1 and not _street_only(tokens, best):
        ward_confidence = min(1.0, 0.6 + 0.4 * min(1.0, lead / 1.5) + 0.1 * (best.score >= 2))
        return _Answer(
            "resolved",
            partial(
                _build,
                data,
                text,
                tokens,
                best,
                "resolved",
                province_confidence * ward_confidence,
                (),
            ),
            best.province,
            province_confidence,
            spans,
        )

    def make() -> Resolution:
        if lead >= MARGIN:
            # The old ward was split between several current wards: name them all.
            candidates = tuple(_candidate(data, best, code, best.score) for code in best.new_wards)[
                :MAX_CANDIDATES
            ]
            return _build(
                data, text, tokens, best, "province_only", province_confidence, candidates
            )
        close = [hyp for hyp in ranked if best.score - hyp.score < MARGIN]
        split: list[Candidate] = []
        seen: set[str] = set()
        for hyp in close:
            for code in hyp.new_wards:
                if code not in seen:
                    seen.add(code)
                    split.append(_candidate(data, hyp, code, best.score))
        return _build(
            data,
            text,
            tokens,
            _with_named_district(best, hyps),
            "province_only",
            province_confidence,
            tuple(split[:MAX_CANDIDATES]),
        )

    return _Answer("province_only", make, best.province, province_confidence, spans)


def _street_only(tokens: list[_Token], hyp: _Hypothesis) -> bool:
    """Whether the ward rests on words read as a street only: no district of it named, no
    type word, and a house number or street word right before ("12 Lê Lợi, Nghệ An": a
    Lê Lợi street runs through most towns of the province; the former Phường Lê Lợi of
    Vinh is one reading of it, not the customer's ward)."""
    if hyp.district_read or not hyp.spans:
        return False
    start, end = hyp.spans[0]
    if tokens[start].key in _SINGLE_MARKERS or _streetish(tokens, start, end) > _STREETISH:
        return False
    # A type word, even misspelt ("Tḥi eTrấn Vũ Thư", "Pường Tam Phước"), before the name
    # or opening the span: read as a unit, not a street.
    markers = _loose_markers(tokens, _markers(tokens))
    return all(markers[index] is None for index in range(start, min(end + 1, len(tokens))))


def _with_named_district(best: _Hypothesis, hyps: list[_Hypothesis]) -> _Hypothesis:
    """``best``, to report while its ward is asked. When no words name its old district
    (the guessed ward's own), the district the text names instead (one read without a
    ward, within the margin), else none: "bhường 7, Gò Vấp" reports Gò Vấp, and "Phường
    1, TP HCM" no district, whatever Phường 1 leads the candidates. The old province
    likewise: the district's, else the old province the text names, else none ("Phường 1,
    TP HCM" is no address of Bà Rịa - Vũng Tàu, whose Phường 1 may lead)."""
    if best.district_read:
        return best
    district: str | None = None
    old_province: str | None = None
    spans = best.spans
    for hyp in hyps:  # strongest first
        if best.score - hyp.score >= MARGIN:
            break
        if hyp.identity is None and hyp.old_district is not None:
            district, old_province, spans = hyp.old_district, hyp.old_province, spans + hyp.spans
            break
    if district is None:
        for hyp in hyps:
            # The province mention alone: its old province, when the words name one.
            if hyp.identity is None and hyp.old_district is None and hyp.old_province:
                old_province = hyp.old_province
                break
    return _Hypothesis(
        best.score,
        best.province,
        best.identity,
        best.new_wards,
        best.old_ward,
        district,
        old_province,
        spans,
        district is not None,
    )


def _resolve(text: str, restrict: str | None) -> Resolution:
    data = load()
    clean = unicodedata.normalize("NFC", text)
    tokens = _tokens(clean)
    exact = _exact_matches(data, tokens)
    answer, top = _pass(data, text, tokens, _Evidence(_prefer_longest(exact.matches)), restrict)
    if answer.status == "resolved" and (top >= _SURE or not _unexplained(tokens, exact)):
        return answer.make()
    # Not decided, or decided on little while some words are left unexplained ("Khuôn
    # Lùng, Ngiên Loan"): read those words as typos too, and decide on everything.
    loose = _Exact(
        exact.matches, exact.covered, exact.spans, _loose_markers(tokens, exact.markers), exact.memo
    )
    # A typo reading of part of a name typed whole is no reading ("45 Hoàng Văn Thụ, Quảng
    # Trị": a street named as Phường Hoàng Văn Thụ elsewhere is, not "Văn Thụ" misspelt).
    reach = _name_reach(exact.matches, len(tokens))
    typos = [
        match
        for match in _fuzzy_matches(data, tokens, loose)
        if not _inside_a_longer_name(match, exact.matches, reach)
    ]
    matches = exact.matches
    if typos:
        matches = _without_shadowed_seats(matches + typos, loose.markers, len(typos))
        first = answer
        evidence = _Evidence(_prefer_longest(matches))
        answer = _pass(data, text, tokens, evidence, restrict)[0]
        if answer.status == "ambiguous" and first.province is not None and top >= _KEPT:
            # Guessed names made a rival of a province read as typed: see _kept.
            answer = _kept(data, text, tokens, evidence, typos, first) or answer
    if answer.status == "ambiguous" and answer.leader is not None and restrict is None:
        # The leading province by less than the margin: words that name nothing there
        # may be a ward or district of it misspelt ("Gia Lâ, Hà Nộhi": Gia Lâm), looked up
        # there only, as for a province decided without a ward (below). A name read as
        # typed elsewhere is not re-read whole as its typo: that namesake is the rival
        # ("Xã Khánh An"); a word of it may be ("Chyuên Mỹ Phú Xuyên": Mỹ Phú elsewhere).
        local = [
            match
            for match in _local_typos(data, tokens, matches, exact, answer.leader)
            if not any(match.name <= low and high <= match.end for low, high in exact.spans)
        ]
        if local:
            evidence = _with_guesses(exact, loose, matches + local)
            better = _decide(data, text, tokens, evidence)[0]
            if better.status != "ambiguous" and better.province == answer.leader:
                answer = better
    if (
        restrict is None
        and answer.province is not None
        and _cut_short(answer, tokens, exact, matches)
    ):
        # Decided on a guessed name alone (typo-corrected, or read across a type word), or
        # on one name beside a misspelt word, which stops short of a word nothing explains
        # ("Thị Trấn Ba Keoo" read as Thị trấn Bo, "Keoo" left over): the name may be part
        # of another one. The province is asked, with it as the first button.
        guess = _decide(data, text, tokens, _Evidence(_prefer_longest(matches)), True)[0]
        if guess.status == "ambiguous":
            return guess.make()
    if answer.status == "province_only" and answer.province is not None:
        # The province is known but no ward: words that name nothing there may be a ward
        # or district of it misspelt, one edit away or two in a long name ("Hòqa Thạsnh"),
        # or two in all after its type word ("P. Kmi Lein": kim, liên). Looked up in that
        # province only, where a namesake elsewhere does not hide it; the words respelt
        # (two typos in all) only when the names one typo away decide nothing.
        code = answer.province
        local = [
            match
            for match in _local_typos(data, tokens, matches, exact, code)
            if not _inside_a_longer_name(match, exact.matches, reach)
        ]
        ward = _ward_in(data, text, tokens, exact, loose, matches, local, answer)
        if ward is None:
            respelt = [m for m in _respelt_matches(data, tokens, loose, code) if m.marked]
            if respelt:
                guesses = local + respelt
                ward = _ward_in(data, text, tokens, exact, loose, matches, guesses, answer)
        if ward is not None:
            return ward.make()
    if answer.status == "ambiguous" and restrict is None and _unexplained(tokens, exact):
        # A question with room for more buttons, on a text with a word nothing explains:
        # the guesses a text with nothing found gets (below) are offered after the
        # buttons already there, never before them ("Thị Trấn a Hàng": Ba Hàng).
        asked = _one_ward_a_button(answer.make(), typos, exact)
        if len(asked.candidates) < MAX_CANDIDATES:
            guesses = _short_guesses(data, tokens, exact)
            guesses += _far_guesses(data, tokens, exact, loose, matches)
            if guesses:
                evidence = _Evidence(_prefer_longest(matches + guesses))
                guess = _decide(data, text, tokens, evidence, True, _FAR_USABLE)[0]
                if guess.status == "ambiguous":
                    return _more_candidates(
                        asked, _one_ward_a_button(guess.make(), typos + guesses, exact)
                    )
        return asked
    if answer.status == "not_found" and restrict is None:
        # Nothing found: a short name misspelt after its type word ("Xã nA Nội") is
        # worth offering as candidates, never as a decision (a one-letter change of a short
        # name often makes another name).
        short = _short_guesses(data, tokens, exact)
        if short:
            evidence = _Evidence(_prefer_longest(matches + short))
            guess = _decide(data, text, tokens, evidence, True)[0]
            if guess.status == "ambiguous":
                made = _one_ward_a_button(guess.make(), typos + short, exact)
                return replace(made, guessed=_nothing_read(exact))
        far = _far_guesses(data, tokens, exact, loose, matches)
        # Names read with their type word, however weakly (a type word of the unit before
        # its upgrade, "Thị Trấn Hộ Phòng"), are offered too.
        if far or typos or any(match.marked for match in exact.matches):
            evidence = _Evidence(_prefer_longest(matches + far))
            guess = _decide(data, text, tokens, evidence, True, _FAR_USABLE)[0]
            if guess.status == "ambiguous":
                made = _one_ward_a_button(guess.make(), typos + short + far, exact)
                return replace(made, guessed=_nothing_read(exact))
        # A name read as typed after a type word of another type is offered too: the
        # customer named it ("Tp Năm Căn": a district and its town, never a city).
        if any(
            exact.markers[match.start] is not None and match.score >= _WRONG_MARKER - 1e-9
            for match in exact.matches
        ):
            evidence = _Evidence(_prefer_longest(matches))
            guess = _decide(data, text, tokens, evidence, True, _WRONG_MARKER - 1e-9)[0]
            if guess.status == "ambiguous":
                made = _one_ward_a_button(guess.make(), typos, exact)
                return replace(made, guessed=_nothing_read(exact))
        # A province's name closing the text right after a house number may be the street
        # ("184 Hồ Chí Minh" runs through A Lưới) or the province ("so nha 12 ha noi"): with
        # nothing else read, it is offered, never decided.
        closing = [
            match
            for match in exact.matches
            if match.end == len(tokens)
            and match.end - match.start > 1
            and match.reading.sample.level in (PROVINCE, OLD_PROVINCE)
        ]
        if closing:
            evidence = _Evidence(_prefer_longest(closing))
            guess = _decide(data, text, tokens, evidence, True, _STREETISH * _PROVINCE_SHORT)[0]
            if guess.status == "ambiguous":
                return guess.make()
        # Weaker still, guesses that all lie in one province offer it alone ("Xã Phổ hạnh":
        # Phổ Thạnh or Phổ Khánh, both of Quảng Ngãi, each one typo and a type word off).
        if short or far or typos:
            evidence = _Evidence(_prefer_longest(matches + short + far))
            guess = _decide(data, text, tokens, evidence, True, _ONE_PROVINCE_USABLE)[0]
            if guess.status == "ambiguous":
                made = guess.make()
                if len({c.province_code for c in made.candidates}) == 1:
                    made = _one_ward_a_button(made, typos + short + far, exact)
                    return replace(made, guessed=_nothing_read(exact))
    if answer.status == "ambiguous" and typos:
        return _one_ward_a_button(answer.make(), typos, exact)
    return answer.make()


def _one_ward_a_button(asked: Resolution, guesses: list[_Match], exact: _Exact) -> Resolution:
    """``asked`` with a button naming a ward guessed (a typo reading) only where the
    guesses point to no other ward of its province. "Xã Phổ hạnh" is Phổ Thạnh by the tone
    typed or Phổ Khánh by the type word, two wards of Quảng Ngãi: the button offers the
    province, whose ward is then asked, rather than one of them picked (the customer may
    not know either's name since 2025). A ward some words name as typed keeps its button
    ("Thanh Xuân": Phường Thanh Xuân of Hà Nội)."""
    candidates: list[Candidate] = []
    changed = False
    for offered in asked.candidates:
        if offered.ward_code is not None:
            code = offered.province_code
            guessed = _guessed_wards(guesses, code, _ONE_PROVINCE_USABLE)
            if (
                offered.ward_code in guessed
                and len(guessed) > 1
                and offered.ward_code not in _guessed_wards(exact.matches, code, 0.0)
            ):
                offered = replace(
                    offered,
                    ward_code=None,
                    ward_name=None,
                    old_district_name=None,
                    old_ward_name=None,
                )
                changed = True
        candidates.append(offered)
    if not changed:
        return asked
    return replace(asked, candidates=tuple(candidates))


def _guessed_wards(matches: list[_Match], code: str, floor: float) -> set[str]:
    """The current wards that the ward readings scoring ``floor`` or more point to in the
    current province ``code``."""
    wards: set[str] = set()
    for match in matches:
        if match.score < floor:
            continue
        for entry in match.reading.placed:
            if entry[0] == code:
                for unit in entry[2]:
                    wards.update(unit.new_wards)
                for unit in entry[3]:
                    wards.add(unit.code)
    return wards


def _nothing_read(exact: _Exact) -> bool:
    """Whether no name was read as typed, not even weakly enough to be offered (a type word
    of the unit before its upgrade, "Thị Trấn Hộ Phòng", is read): what a text that nothing
    found offers then rests on guesses alone (:attr:`Resolution.guessed`)."""
    return all(match.score < _FAR_USABLE for match in exact.matches)


def _short_guesses(data: Data, tokens: list[_Token], exact: _Exact) -> list[_Match]:
    """Short names one typo away right after their type word ("Xã nA Nội"): candidates
    only, never a decision (a one-letter change of a short name often makes another)."""
    return _fuzzy_matches(data, tokens, exact, True) if any(exact.markers) else []


def _far_guesses(
    data: Data, tokens: list[_Token], exact: _Exact, loose: _Exact, matches: list[_Match]
) -> list[_Match]:
    """Readings offered as buttons only: names two typos away anywhere ("Thịsnh hĐán",
    "Qucố Oia"), names read with a misspelt type word ("T Mường Khến", "Tị Trấn Vĩnb
    Lộc"), and short names one typo away without a type word when typed with diacritics,
    which tell their many namesakes apart ("Vât Hồ", see _typo_tones)."""
    far = (
        _local_typos(data, tokens, matches, loose, None)
        + _respelt_matches(data, tokens, loose)
        + [
            match
            for match in _fuzzy_matches(data, tokens, exact, True, False)
            if _tones_confirm(tokens, match)
        ]
    )
    if loose.markers != exact.markers:
        # Names after a type word misspelt (the exact pass read them unmarked).
        far += [
            match
            for match in _exact_matches(data, tokens, loose.markers).matches
            if match.start < match.name and exact.markers[match.name] is None
        ]
    return far


def _more_candidates(asked: Resolution, guessed: Resolution) -> Resolution:
    """``asked`` with the buttons of ``guessed`` in other provinces after its own, up to
    five, each scored no higher than the last button there."""
    shown = {candidate.province_code for candidate in asked.candidates}
    floor = min((candidate.score for candidate in asked.candidates), default=1.0)
    more = [
        replace(candidate, score=_rounded3(candidate.score * floor))
        for candidate in guessed.candidates
        if candidate.province_code not in shown
    ]
    if not more:
        return asked
    return replace(asked, candidates=(asked.candidates + tuple(more))[:MAX_CANDIDATES])


def _ward_in(
    data: Data,
    text: str,
    tokens: list[_Token],
    exact: _Exact,
    loose: _Exact,
    matches: list[_Match],
    guesses: list[_Match],
    answer: _Answer,
) -> _Answer | None:
    """The ward decided in the province ``answer`` decided without one, on ``matches``
    and misspelt names of it (``guesses``); None when none is decided."""
    code = answer.province
    if not guesses or code is None:
        return None
    evidence = _with_guesses(exact, loose, matches + guesses)
    if code not in evidence.provinces:
        return None
    hyps = _against_named_province(_hypotheses(data, evidence, code), evidence.named())
    if not hyps:
        return None
    better = _decide_ward(data, text, tokens, hyps, answer.confidence)
    return better if better.status == "resolved" else None


def _with_guesses(exact: _Exact, loose: _Exact, found: list[_Match]) -> _Evidence:
    """The evidence of ``found``: matches of the exact pass (some may have been dropped
    already), then guesses (typo readings); a guessed town does not hide a district read
    as typed (:func:`_without_shadowed_seats`)."""
    read = {id(match) for match in exact.matches}
    guesses = sum(1 for match in found if id(match) not in read)
    return _Evidence(_prefer_longest(_without_shadowed_seats(found, loose.markers, guesses)))


def _kept(
    data: Data,
    text: str,
    tokens: list[_Token],
    evidence: _Evidence,
    typos: list[_Match],
    first: _Answer,
) -> _Answer | None:
    """The province the words as typed decided, when the typo pass leaves it in the lead
    by less than the margin and every rival rests on a guessed name read without its type
    word, on other words: "Phường Tyần hHưng Đạo, Thành phố Quảng Ngãi" (Hưng Đạo in eight
    provinces) stays in Quảng Ngãi. A guess after its type word ("xã Phú Đôg") or one that
    explains the decided words and more ("Thị Trấn lam Quan": Tam Quan, not Thị trấn Lâm)
    is a true rival. The ward is decided in the province kept, on every reading
    (``evidence``: the typo pass's, as it was just decided on)."""
    code = first.province
    assert code is not None
    if code not in evidence.provinces:
        return None
    named = evidence.named()
    hyps = _against_named_province(_hypotheses(data, evidence, code), named)
    if not hyps:
        return None
    top = _strongest(hyps).score
    guessed = {(match.start, match.end): match.start < match.name for match in typos}
    for other, province in evidence.provinces.items():
        if other == code or province.bound <= top - MARGIN:
            continue
        rivals = _against_named_province(_hypotheses(data, evidence, other), named)
        if not rivals:
            continue
        rival = _strongest(rivals)
        if rival.score <= top - MARGIN:
            continue
        if rival.score >= top - 1e-9 or any(
            guessed.get(span, True) or _overlaps(span[0], span[1], first.spans)
            for span in rival.spans
        ):
            return None
    return _decide_ward(data, text, tokens, hyps, first.confidence)


class _Answer:
    """A decision, and how to write it out: only the last pass's answer is written (its
    street part and buttons), so a first pass that the typo pass overrules costs less."""

    __slots__ = ("confidence", "leader", "make", "province", "spans", "status")

    def __init__(
        self,
        status: str,
        make: Callable[[], Resolution],
        province: str | None = None,
        confidence: float = 0.0,
        spans: tuple[tuple[int, int], ...] = (),
        leader: str | None = None,
    ) -> None:
        self.status = status
        self.make = make
        self.province = province  # the current province decided (province_only, resolved)
        self.leader = leader  # ambiguous: the province that scores best, by less than the margin
        self.confidence = confidence  # how sure the province is
        # the words the decision rests on: the spans of the province's best reading, and of
        # the ward's when it differs
        self.spans = spans


def _pass(
    data: Data, text: str, tokens: list[_Token], evidence: _Evidence, restrict: str | None
) -> tuple[_Answer, float]:
    """Decide on one set of matches' evidence; also returns the best hypothesis's score."""
    if restrict is not None:
        hyps = _hypotheses(data, evidence, restrict) if restrict in evidence.provinces else []
        return _decide_in(data, text, tokens, hyps, restrict), max(
            (hyp.score for hyp in hyps), default=0.0
        )
    return _decide(data, text, tokens, evidence)


def _cut_short(answer: _Answer, tokens: list[_Token], exact: _Exact, matches: list[_Match]) -> bool:
    """Whether the province decided rests on a name that stops short of a word nothing
    explains (letters; no type, street or hamlet word; no word of the decision; none an
    exact reading explains): the name was then read from part of another one.

    - On guessed readings only (read by the typo pass, or read across a type word typed as
      one: "Phường Hoàng" is Phượng Hoàng, a former name of Xã An Phượng, only if
      "Phường" is no type word), any such word after one of them ("Thị Trấn Ba| Keoo"
      read as Thị trấn Bo), or before one read without its type word or a marker.
    - On one ward or district read as written without its type word or a marker, such a
      word right after it, or before it, that is no syllable of any name, a misspelt word
      ("Cơ Thạch Mỹ| Đìnm 2": Mỹ Đình misspelt, not Xã Thạch Mỹ); before it, not a type
      word misspelt either ("bPhowng Thạnh Tây B": Phường misspelt)."""
    code = answer.province
    if code is None:
        return False
    spans = answer.spans
    count = len(tokens)
    used = [False] * count
    for start, end in spans:
        for index in range(start, end):
            used[index] = True
    guessed = True
    for match in exact.matches:
        if (
            (match.start, match.end) in spans
            and code in match.reading.codes
            and not _across_type_word(tokens, match)
        ):
            guessed = False
            break
    if guessed:
        for start, end in spans:
            segment = tokens[start].segment
            if _unexplained_at(tokens, exact, used, end, segment):
                return True
            if _unexplained_at(tokens, exact, used, start - 1, segment) and not _marked_on(
                matches, start, end, code
            ):
                return True
        return False
    if len(set(spans)) != 1:
        return False
    start, end = spans[0]
    if _marked_on(matches, start, end, code):
        return False
    for match in matches:
        if (
            match.start == start
            and match.end == end
            and match.reading.sample.level in (PROVINCE, OLD_PROVINCE)
        ):
            return False  # a province is named anywhere in an address ("bmt đăklăk")
    segment = tokens[start].segment
    if _unexplained_at(tokens, exact, used, end, segment) and tokens[end].key not in _syllables():
        return True
    # Before it, a misspelt word that is not a type word misspelt ("gKhánx |Thạnh Tây" may
    # be the start of the name; "bPhowng |Thạnh Tây B" is Phường misspelt).
    return (
        _unexplained_at(tokens, exact, used, start - 1, segment)
        and tokens[start - 1].key not in _syllables()
        and not _near_type_word(tokens[start - 1].key)
    )


def _near_type_word(key: str) -> bool:
    """Whether a folded word is within two edits of a type word or its abbreviation."""
    return any(OSA.distance(key, word, score_cutoff=2) <= 2 for word in _TYPE_WORD_KEYS)


_TYPE_WORD_KEYS: Final = ("phuong", "xa", "thi", "tran", "quan", "huyen", "thanh", "pho", "tinh")


def _across_type_word(tokens: list[_Token], match: _Match) -> bool:
    """Whether a reading without its type word takes a type word typed as one for a
    syllable of the name."""
    if match.reading.full:
        return False
    return any(_typed_type_word(tokens[index]) for index in range(match.name, match.end))


def _marked_on(matches: list[_Match], start: int, end: int, code: str) -> bool:
    """Whether a reading of province ``code`` on tokens[start:end] has its type word or a
    marker (a misspelt type word read with the name counts)."""
    for match in matches:
        if (
            match.start == start
            and match.end == end
            and (match.reading.full or match.start < match.name)
            and code in match.reading.codes
        ):
            return True
    return False


def _unexplained_at(
    tokens: list[_Token], exact: _Exact, used: list[bool], index: int, segment: int
) -> bool:
    """Whether tokens[index] is a word of ``segment`` that nothing explains (see
    :func:`_cut_short`)."""
    if index < 0 or index >= len(tokens) or used[index] or exact.covered[index]:
        return False
    token = tokens[index]
    # A street or hamlet word closing its part introduces nothing: it is a word of a name
    # ("Thị Trấn mầ Dơi": Đầm Dơi misspelt, not Thị trấn Me and a production team "đội").
    closes = index + 1 == len(tokens) or tokens[index + 1].segment != segment
    return (
        token.segment == segment
        and token.key.isalpha()
        and (token.key not in _STREET_WORDS or closes)
        and not _is_marker_word(token)
        and not _starts_marker(tokens, index)
    )


def _unexplained(tokens: list[_Token], exact: _Exact) -> bool:
    """Whether a word of three letters or more is explained by no reading, nor is a
    street, hamlet or type word, nor stands in a street or hamlet's name (after a street
    or hamlet word or a house number, in its part)."""
    street = False
    for index, token in enumerate(tokens):
        if index == 0 or token.segment != tokens[index - 1].segment:
            street = False
        key = token.key
        if key in _STREET_WORDS or key.isdigit():
            street = True
        elif key in _SINGLE_MARKERS:
            street = False
        elif not street and not exact.covered[index] and len(key) >= 3:
            return True
    return False


def _against_named_province(
    hyps: list[_Hypothesis], named: dict[str, list[tuple[int, int]]]
) -> list[_Hypothesis]:
    """A reading in a province other than the one the text names, on other words, is
    discounted: "Mỹ Phú, Hà Nội" is a place in Hà Nội, not Xã Mỹ Phú of another province.
    Both readings stay; the named province just needs no ward to win."""
    if not named:
        return hyps
    for hyp in hyps:
        if hyp.province in named:
            continue
        if any(
            not _overlaps(start, end, hyp.spans) for spans in named.values() for start, end in spans
        ):
            hyp.score *= _OTHER_PROVINCE
    return hyps


def _by_prior(
    data: Data, tokens: list[_Token], ranked: list[_Hypothesis], hyps: list[_Hypothesis]
) -> tuple[list[_Hypothesis], dict[str, set[str]]]:
    """Provinces by score, and among equal scores first those the text's hamlet word fits
    ("Ấp 1, xã Tân Hòa": the South's; see _hamlet_region), then by how many current wards
    the text's readings point to there ("Phường 1" names eleven wards of Hồ Chí Minh City,
    one of Cà Mau), then by the province's number of wards. The 2025 reform sized wards by
    population, so each current ward is about as likely a home: the count is the
    posterior of a uniform prior over current wards. The library has no population.
    A district read alone counts the current wards it went into.

    Also returns those wards by province."""
    places: dict[str, set[str]] = {}
    # Counted for the order only: a district named alone points to every current ward it
    # went into ("Bình Thạnh": Quận Bình Thạnh's five wards in Hồ Chí Minh City), but its
    # button names no ward for it (the ward reading's own is kept, "Xã Vân Hồ").
    reach: dict[str, set[str]] = {}
    best = {hyp.province: hyp.score for hyp in ranked}
    for hyp in hyps:
        if hyp.score >= best[hyp.province] - 1e-6:
            places.setdefault(hyp.province, set()).update(hyp.new_wards)
            wards: Collection[str] = hyp.new_wards
            if not wards and hyp.old_district is not None:
                wards = data.old_district_to_new.get(hyp.old_district, frozenset())
            reach.setdefault(hyp.province, set()).update(wards)
    region = _hamlet_region(tokens)
    ordered = sorted(
        ranked,
        key=lambda hyp: (
            -_rounded(hyp.score),
            -1 if region is not None and (hyp.province in region[0]) == region[1] else 0,
            -len(reach.get(hyp.province, ())),
            -data.province_wards.get(hyp.province, 0),
            hyp.province,
        ),
    )
    return ordered, places


# The hamlet's word tells the region (the law names them "thôn, ấp, bản, buôn, sóc..."):
# "ấp" and "khóm" are the hamlets of the South (Nam Bộ), "thôn" and "xóm" those of the
# North and the Centre. Current provinces where customers write "ấp": Đồng Nai, Hồ Chí
# Minh City, Tây Ninh, Đồng Tháp, Vĩnh Long, An Giang, Cần Thơ, Cà Mau; of these, Đồng Nai
# (Bình Phước) and Hồ Chí Minh City (Bà Rịa - Vũng Tàu) also have "thôn" ("Thôn 1, xã
# Long Sơn" is in Vũng Tàu), the others only "ấp".
_AP_PROVINCES: Final = frozenset({"75", "79", "80", "82", "86", "91", "92", "96"})
_AP_ONLY_PROVINCES: Final = _AP_PROVINCES - {"75", "79"}
_SOUTHERN_HAMLETS: Final = frozenset({"ap", "khom"})
_NORTHERN_HAMLETS: Final = frozenset({"thon", "xom"})


def _hamlet_region(tokens: list[_Token]) -> tuple[frozenset[str], bool] | None:
    """The provinces the text's hamlet word fits, as (codes, whether inside them fits):
    after "ấp" the provinces that have ấp, after "thôn" every province but those that
    have only ấp; None without a hamlet word. Not a word of a name after a type or
    hamlet word ("Phường Xóm Chiếu", "Ấp Xóm Mới")."""
    for index, token in enumerate(tokens):
        key = token.key
        if key not in _SOUTHERN_HAMLETS and key not in _NORTHERN_HAMLETS:
            continue
        if index > 0:
            before = tokens[index - 1]
            if before.segment == token.segment and (
                before.key in _HAMLET_WORDS or _is_marker_word(before)
            ):
                continue
        if key in _SOUTHERN_HAMLETS:
            return _AP_PROVINCES, True
        return _AP_ONLY_PROVINCES, False
    return None


def _decide_in(
    data: Data, text: str, tokens: list[_Token], hyps: list[_Hypothesis], restrict: str
) -> _Answer:
    """The province is given ("which province?" answered): only the ward is to decide."""
    if not hyps:
        province = data.units[(PROVINCE, restrict)]
        return _Answer(
            "province_only",
            partial(
                resolution,
                text=text,
                status="province_only",
                confidence=0.9,
                province_code=province.code,
                province_name=province.name,
                street=text.strip() or None,
            ),
            restrict,
            0.9,
        )
    return _decide_ward(data, text, tokens, hyps, 0.95)


def _decide(
    data: Data,
    text: str,
    tokens: list[_Token],
    evidence: _Evidence,
    ask: bool = False,
    usable: float = MIN_USABLE,
) -> tuple[_Answer, float]:
    """Pick the province (or list candidates), then the ward; also returns the best
    hypothesis's score. ``ask``: list candidates even when one province leads; ``usable``:
    the best score below which nothing was found.

    Provinces are visited by their upper bound, best first, and the visit stops as soon
    as no province left can change the answer: below the runner-up once one province
    leads by the margin (it could only change the confidence), else below the fifth
    candidate. The answer is the one a visit of every province would give.
    """
    named = evidence.named()
    bounds: dict[str, float] = {}
    for code, province in evidence.provinces.items():
        bound = province.bound
        # A named province's words that none of this province's readings lies on: every
        # hypothesis here is discounted (see _against_named_province).
        if (
            named
            and code not in named
            and any(code not in readers for readers in evidence.named_spans.values())
        ):
            bound *= _OTHER_PROVINCE
        bounds[code] = bound
    visited: dict[str, list[_Hypothesis]] = {}
    tops: list[float] = []  # the best score of each province visited, best first
    raw_top = 0.0
    # Best bound first, equals in the order met (a sort that keeps its stability reversed).
    for code in sorted(bounds, key=bounds.__getitem__, reverse=True):
        bound = bounds[code]
        if len(tops) >= 2:
            if not ask and tops[0] >= MIN_DECIDE and tops[0] - tops[1] >= MARGIN:
                # Decided: only a province above the runner-up could change anything.
                if bound <= tops[1] + 1e-9:
                    break
            elif len(tops) >= MAX_CANDIDATES and bound < tops[MAX_CANDIDATES - 1] - 1e-9:
                break
        hyps = _hypotheses(data, evidence, code)
        if not hyps:
            continue
        top = _strongest(hyps).score
        if top > raw_top:
            raw_top = top
        if named:
            hyps = _against_named_province(hyps, named)
            top = _strongest(hyps).score
        visited[code] = hyps
        _insert_descending(tops, top)
    if not visited or raw_top < usable:
        return _Answer(
            "not_found",
            partial(
                resolution,
                text=text,
                status="not_found",
                confidence=0.0,
                street=text.strip() or None,
            ),
        ), raw_top
    # Each province's best reading (the first of equals); by score, then by the prior.
    per_province = [_strongest(hyps) for hyps in visited.values()]
    per_province.sort(key=lambda h: -h.score)
    best = per_province[0]
    runner_up = per_province[1].score if len(per_province) > 1 else 0.0
    lead = best.score - runner_up
    if not ask and best.score >= MIN_DECIDE and lead >= MARGIN:
        confidence = min(0.99, 0.55 + 0.15 * min(best.score, 3.0)) * (
            1.0 if runner_up == 0 else min(1.0, 0.7 + 0.3 * lead / best.score)
        )
        return _decide_ward(data, text, tokens, visited[best.province], confidence), raw_top

    def make() -> Resolution:
        ranked, places = _by_prior(
            data, tokens, per_province, [h for hyps in visited.values() for h in hyps]
        )
        best = ranked[0]
        # A province button names its ward only when the text points to one ward there
        # ("Phường 1" in Hồ Chí Minh City could be eleven: the ward is asked next).
        candidates = tuple(
            _candidate(
                data,
                hyp,
                hyp.new_wards[0] if len(places.get(hyp.province, ())) == 1 else None,
                best.score,
                several=len(places.get(hyp.province, ())) > 1,
            )
            for hyp in ranked[:MAX_CANDIDATES]
        )
        total = sum(hyp.score for hyp in ranked[:MAX_CANDIDATES])
        return resolution(
            text=text,
            status="ambiguous",
            confidence=_rounded3(min(0.5, best.score / total if total else 0.0)),
            street=_street(text, tokens, best.spans),
            candidates=candidates,
        )

    return _Answer("ambiguous", make, leader=best.province), raw_top


def _strongest(hyps: list[_Hypothesis]) -> _Hypothesis:
    """The best-scoring hypothesis, the first of equals (``max`` with a key, without a
    call per hypothesis)."""
    best = hyps[0]
    for hyp in hyps:
        if hyp.score > best.score:
            best = hyp
    return best


def _insert_descending(values: list[float], value: float) -> None:
    """Insert ``value`` into ``values``, sorted best first (after its equals)."""
    index = len(values)
    while index > 0 and values[index - 1] < value:
        index -= 1
    values.insert(index, value)


def resolve(text: str) -> Resolution:
    """Resolve a free-text Vietnamese address to current (and old) administrative units."""
    return _resolve(text, None)


def resolve_in_province(text: str, province_code: str) -> Resolution:
    """Resolve ``text`` knowing the province (the customer answered "which province?")."""
    if province_by_code(province_code) is None:
        raise ValueError(f"unknown province code {province_code!r}")
    return _resolve(text, province_code)


def names_a_unit(text: str) -> bool:
    """Whether ``text`` names a unit with its type word, spelt as typed ("Phường Cải Đan",
    "TT Thới Lai", "xã Đạ Ròn"): what addresses nearly always do (four in five of the data
    set's) and chat messages seldom (6 of the 1,928 examples of the intents the address
    question does not take, each an address: "sửa địa chỉ thành thôn 4 xã Hòa Tiến"). Any
    other text is read as some place, Vietnamese syllables being names somewhere ("ad ơi":
    Xã A Dơi): the form asks this before taking a message the NLU read as another intent
    as the address."""
    # With its own type word, or one of its tier from before an upgrade ("Thị trấn" for
    # what is now a phường), diacritics agreeing or not ("Xã Lê Hồ" typed for Lê Hồ).
    return any(
        match.marked and match.score >= _NEAR_MARKER - 1e-9 for match in _read_as_typed(text)
    )


def names_a_province(text: str) -> bool:
    """Whether ``text`` names a province plainly, current or old ("Hà Nội", "tphcm", "Tỉnh
    Hà Tây"; not after a street word, not as a typo): with a ward named with its type word
    (:func:`names_a_unit`), what makes a text typed at a question about another address an
    address of its own rather than a name that happens to be a place ("Nguyễn Thị Hoa": Xã
    Thị Hoa of Cao Bằng)."""
    return any(
        match.score >= _NAMED and match.reading.sample.level in _PROVINCE_LEVELS
        for match in _read_as_typed(text)
    )


def _read_as_typed(text: str) -> list[_Match]:
    """The readings of ``text``'s words spelt as index keys (the exact pass alone): what
    the questions above about a short message look at."""
    return _exact_matches(load(), _tokens(unicodedata.normalize("NFC", text))).matches


def list_provinces() -> list[tuple[str, str]]:
    """(code, name) of the 34 current provinces, by code."""
    data = load()
    return sorted(
        (unit.code, unit.name) for (level, _), unit in data.units.items() if level == PROVINCE
    )


def province_by_code(code: str) -> str | None:
    """Current province name for a code, or None when the code is not a current province."""
    unit = load().units.get((PROVINCE, code))
    return unit.name if unit else None


# The tables built on first use besides the units' (every argument-less ``@cache``
# function of this module: tests/address/test_address_warm_up.py checks the list is whole).
_TABLES: Final = (
    _syllables,
    _syllable_deletes,
    _marker_typos,
    _marker_syllables,
    _pair_marker_typos,
    _abbreviation_typos,
    _street_typos,
    _numbering_words,
)


def warm_up() -> None:
    """Build every table the resolver builds on first use (the indexes of the library's
    units, the typo spellings of type, street and hamlet words, the syllable index):
    otherwise the first address a process reads waits for them (about 2 s compiled). The
    action server calls it when it starts (``actions.services``).

    The tables are then moved out of the cycle collector's reach (``gc.freeze``): some
    360,000 objects that live as long as the process and hold no cycle to collect, which
    every full collection would otherwise walk again (a pause of tens of milliseconds on a
    shared core, in whichever request it lands). Garbage is collected first so that only
    what is alive is frozen."""
    load()
    for build in _TABLES:
        build()
    gc.collect()
    gc.freeze()


def forget_texts() -> None:
    """Empty what is remembered across texts (words read, typo look-ups, tone factors,
    respellings, roundings): a benchmark pass then starts as a fresh stream of addresses
    would, rather than on texts it has just read (the tables loaded once stay)."""
    _FUZZY_KEYS.clear()
    for memory in (_WORDS, _TONE_FACTORS, _RESPELT, _ROUNDED, _ROUNDED3):
        memory.clear()
