"""Administrative units of Vietnam, old (63 provinces) and current (34), loaded once and indexed.

The data comes from ``vietnamadminunits`` (MIT): its SQLite table of both structures and its
ward conversion table. We read them directly rather than through its parser so that one
address costs a few dictionary look-ups, not a scan. The old→new *province* mapping is
derived from the ward conversion table (never from a province table, which is known to be
wrong for Tiền Giang in other libraries).

Beyond the library's keywords, every unit is indexed under its bare name and, for the
resolver's initials rule, under the initials of its name; index hits are grouped into
:class:`Reading` s that score alike, and each unit knows the current province it lies in.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Final, Literal, NamedTuple

from bot.text import fold

# Levels of a unit in the index.
PROVINCE: Final = "P"  # current province
WARD: Final = "W"  # current ward / commune / special zone
OLD_PROVINCE: Final = "p"
OLD_DISTRICT: Final = "d"
OLD_WARD: Final = "w"

# Type words as folded keys, longest first so "thanhpho" wins over a bare letter.
TYPE_KEYS: Final = (
    "thanhpho",
    "thitran",
    "thixa",
    "dackhu",
    "phuong",
    "huyen",
    "quan",
    "tinh",
    "xa",
)


@dataclass(frozen=True, slots=True)
class Unit:
    """One administrative unit of either structure."""

    level: str
    code: str
    name: str  # "Phường Kim Liên"
    short: str  # "Kim Liên"
    kind: str  # folded type key: "phuong", "xa", "quan", "tinh", "thanhpho"...
    province: str  # code of the province it belongs to (itself for a province)
    district: str | None = None  # old district code, for an old ward
    # The bare name's syllables with their diacritics (see :func:`tone_signature`), to
    # weigh a match against what the customer typed when they typed diacritics.
    tones: tuple[Spelling, ...] = ()
    bare_key: str = ""  # folded bare name without spaces: "kimlien"
    current: str = ""  # the current province it lies in (an old unit: where it went)
    new_wards: tuple[str, ...] = ()  # an old ward: its current wards, the default first


class Reading(NamedTuple):
    """Units one key names that the resolver scores alike: same level, type, spelling and
    whether the key carries the type word. Scoring a group once, not each unit, is what
    keeps a common name ("Tân Phú", forty units) cheap."""

    full: bool
    sample: Unit  # any of them: they share what the score depends on
    units: tuple[Unit, ...]
    # the same units by the current province they lie in: (its code, the units, and among
    # them the old wards, the current wards and the old districts)
    placed: tuple[
        tuple[str, tuple[Unit, ...], tuple[Unit, ...], tuple[Unit, ...], tuple[Unit, ...]], ...
    ]
    codes: tuple[str, ...]  # those current provinces' codes
    # Where typed words spelling the key may break: anywhere up to ``name_at`` (a type
    # word, "thanh pho"), then only where the name's words end ("sơn hà": 3). "so nha"
    # spells the key of Sơn Hà but is số nhà, a house number. A key no unit's name spells
    # (an alias, initials) has ``name_at`` past its end: any break.
    name_at: int = 1 << 30
    ends: frozenset[int] = frozenset()


@dataclass(slots=True)
class Data:
    """Every unit plus the look-up tables the resolver needs."""

    units: dict[tuple[str, str], Unit] = field(default_factory=dict)
    # folded key without spaces → [(level, code, is_full_name)]
    index: dict[str, list[tuple[str, str, bool]]] = field(default_factory=dict)
    # old ward code → current ward codes, the library's default first
    old_ward_to_new: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # old district code → set of current ward codes it went into
    old_district_to_new: dict[str, frozenset[str]] = field(default_factory=dict)
    # old province code → current province codes, most wards first
    old_province_to_new: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # current ward code → old ward codes merged into it
    new_ward_to_old: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # keys by number of syllables is not needed: the longest key length in syllables
    max_key_tokens: int = 6
    # fuzzy index: a key with one character deleted → keys (names of six letters or more,
    # a province's of five), plus every index key under itself: one look-up per deletion
    # of a typed key
    near: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # the same for keys of four and five letters (the near index leaves most out): used
    # only as a last resort, to offer candidates (resolver._fuzzy_matches, short)
    near_short: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # every proper prefix of an index key: a run of words that is none is not extended
    prefixes: frozenset[str] = frozenset()
    # initials: "bmt|" → Buôn Ma Thuột, "bh|hoaa" → Bình Hưng Hòa A (see _add_initials)
    initials: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # ``index`` and ``initials`` grouped for scoring (see :class:`Reading`)
    readings: dict[str, tuple[Reading, ...]] = field(default_factory=dict)
    initial_readings: dict[str, tuple[Reading, ...]] = field(default_factory=dict)
    # current province code → number of its current wards (the size prior of candidates)
    province_wards: dict[str, int] = field(default_factory=dict)
    # keys not full (see :func:`_is_full`) that are still a type word and another key of
    # the same unit: a former type and name ("xalangcan", Xã Lăng Can, for what is now
    # Thị trấn Lăng Can), unlike a former name that merely starts like a type word
    # ("phuongtrung", Xã Phương Trung)
    typed_keys: frozenset[str] = frozenset()

    def unit(self, level: str, code: str) -> Unit:
        return self.units[(level, code)]


def _key(text: str) -> str:
    """Folded key without spaces or punctuation: "Phường Kim Liên" → "phuongkimlien"."""
    return re.sub(r"[^a-z0-9]", "", fold(text))


def _kind(name: str) -> str:
    key = _key(name)
    for type_key in TYPE_KEYS:
        if key.startswith(type_key):
            return type_key
    return ""


_TWO_WORD_KINDS: Final = frozenset({"thanhpho", "thitran", "thixa", "dackhu"})


def bare_name(name: str) -> str:
    """The name without its type word: "Thành phố Hồng Ngự" → "Hồng Ngự". The library's
    short names are not always that ("Hồng Ngự (Thành phố)" where two units share it)."""
    kind = _kind(name)
    if not kind:
        return name
    words = name.split()
    return " ".join(words[2 if kind in _TWO_WORD_KINDS else 1 :])


# Diacritics as marks: tone marks (one per syllable) and letter marks (â ă ơ ư đ).
_TONE_MARKS: Final = {"\u0300": "f", "\u0301": "s", "\u0303": "x", "\u0309": "r", "\u0323": "j"}
_LETTER_MARKS: Final = {"\u0302": "^", "\u0306": "(", "\u031b": "+"}
_STOP_ENDINGS: Final = ("p", "t", "c", "ch", "k")


class Spelling(NamedTuple):
    """One syllable's diacritics: "Phường" → ("phuong", "..++..", "f"). Tone placement
    does not matter ("Hoà" = "Hòa"): both spellings in use compare equal."""

    key: str  # folded
    letters: str  # a mark per letter: "." none, "^" â ê ô, "(" ă, "+" ơ ư, "-" đ
    tone: str  # "", or f s x r j (huyền, sắc, ngã, hỏi, nặng)


def spelling(word: str) -> Spelling:
    """The word's :class:`Spelling`, character by character from a table of what each
    character spells (its folded letters, mark and tone), kept across words: a customer's
    misspelt word is new to the word cache, its characters are not. A word the table does
    not read as :func:`_spelled` would (a combining mark of its own, a character that does
    not fold to one ASCII character) is read by :func:`_spelled` itself."""
    keys: list[str] = []
    marks: list[str] = []
    tone = ""
    table = _CHARACTERS
    for ch in word:
        known = table.get(ch)
        if known is None:
            known = _character(ch)
        if not known[0]:  # _UNREAD (compared by value: compiled, a constant is rebuilt)
            return _spelled(word)
        keys.append(known[0])
        marks.append(known[1])
        if known[2]:
            tone = known[2]
    # Every character read folds to one ASCII letter and is no combining mark: no
    # composition (NFC) or decomposition (NFD) can join two of them.
    return Spelling("".join(keys), "".join(marks), tone)


_UNREAD: Final = ("", "", "")
# character → (folded, mark, tone), or _UNREAD (see spelling)
_CHARACTERS: Final[dict[str, tuple[str, str, str]]] = {}


def _character(ch: str) -> tuple[str, str, str]:
    """What one character spells, as :func:`_spelled` reads it (remembered)."""
    spelt = _spelled(ch)
    known = (spelt.key, spelt.letters, spelt.tone)
    if (
        len(spelt.key) != 1
        or len(spelt.letters) != 1
        or not spelt.key.isascii()
        or unicodedata.category(ch) == "Mn"
    ):
        known = _UNREAD
    if len(_CHARACTERS) < 4096:
        _CHARACTERS[ch] = known
    return known


def _spelled(word: str) -> Spelling:
    """The reference reading of a word's diacritics (normalization and a pass over the
    decomposed characters)."""
    marks: list[str] = []
    tone = ""
    for ch in unicodedata.normalize("NFD", word.lower()):
        if ch in _TONE_MARKS:
            tone = _TONE_MARKS[ch]
        elif ch in _LETTER_MARKS:
            if marks:
                marks[-1] = _LETTER_MARKS[ch]
        elif ch == "đ":
            marks.append("-")
        elif unicodedata.category(ch) != "Mn":
            marks.append(".")
    return Spelling(fold(word), "".join(marks), tone)


def typed_spelling(word: str) -> Spelling | None:
    """A word's spelling when it was typed with diacritics; None when without (it then
    says nothing about them)."""
    return folded_and_typed(word)[1]


def folded_and_typed(word: str) -> tuple[str, Spelling | None]:
    """The word folded (:func:`bot.text.fold`) and its :func:`typed_spelling`, read once."""
    found = spelling(word)
    if not found.tone and found.letters.count(".") == len(found.letters):
        return found.key, None
    return found.key, found


def tones_agree(typed: Spelling, name: Spelling) -> Literal["same", "variant", "other"]:
    """Whether a syllable typed with diacritics is the name's syllable (same folded key).

    "other": it has other marks than the name's ("Thạnh" for "Thành", "Phường" for
    "Phương", "Tháng" for "Thắng"). "variant": a difference customers and the lists
    themselves make for one name: hỏi for ngã ("Thũy" for Thủy), d for đ and a
    sắc/nặng tone on a stop-ending syllable in the transliterated names of the Central
    Highlands ("Ea Đrăng"/"Ea Drăng", "Đắk"/"Đăk"), a mark left out ("Phuờng").
    """
    agreement: Literal["same", "variant", "other"] = "same"
    if len(typed.letters) != len(name.letters):
        return "other"
    for mark, other in zip(typed.letters, name.letters, strict=True):
        if mark == other:
            continue
        if mark == "." or "-" in (mark, other):
            agreement = "variant"
        else:
            return "other"
    if typed.tone == name.tone:
        return agreement
    if not typed.tone or {typed.tone, name.tone} == {"r", "x"}:
        return "variant"
    if not name.tone and typed.tone in ("s", "j") and name.key.endswith(_STOP_ENDINGS):
        return "variant"
    return "other"


def _unit(
    level: str, code: str, name: str, short: str, province: str, district: str | None = None
) -> Unit:
    bare = bare_name(name)
    return Unit(
        level,
        code,
        name,
        short,
        _kind(name),
        province,
        district,
        tones=tuple(spelling(word) for word in bare.split()),
        bare_key=_key(bare),
    )


# Short names customers use for provinces, beyond the library's own aliases. Values are
# folded short names of a province of either structure.
PROVINCE_ALIASES: Final[dict[str, str]] = {
    "hn": "hanoi",
    "hcm": "hochiminh",
    "tphcm": "hochiminh",
    "hcmc": "hochiminh",
    "sg": "hochiminh",
    "saigon": "hochiminh",
    "tpsg": "hochiminh",
    "dn": "danang",
    "hp": "haiphong",
    "ct": "cantho",
    "brvt": "bariavungtau",
    "vungtau": "bariavungtau",
    "baria": "bariavungtau",
    "thuathienhue": "hue",
    "tthue": "hue",
    "daclac": "daklak",
    "daknong": "daknong",
    "daclak": "daklak",
    "khanhhoa": "khanhhoa",
}
# Short names that stand for a second province too ("ĐN": Đà Nẵng above, and Đồng Nai in
# "P. Tân Phong, Biên Hòa, ĐN"): read as both, the rest of the text decides.
SHARED_PROVINCE_ALIASES: Final[dict[str, str]] = {
    "dn": "dongnai",
}


def _fetch(conn: sqlite3.Connection, sql: str) -> list[sqlite3.Row]:
    conn.row_factory = sqlite3.Row
    return list(conn.execute(sql))


def _json_list(raw: str | None) -> list[str]:
    return list(json.loads(raw)) if raw else []


def _add(data: Data, key: str, level: str, code: str, full: bool) -> None:
    if not key:
        return
    entries = data.index.setdefault(key, [])
    entry = (level, code, full)
    if entry not in entries:
        entries.append(entry)


_TYPED_NUMBER: Final = re.compile(r"^(p|f|q|x|h|ward|district)\d+$")


def _within_old_provinces(
    mapping: dict[str, tuple[str, ...]], province_of: dict[str, str]
) -> dict[str, tuple[str, ...]]:
    """The old → new ward links with the few the library's table of split wards draws
    across old provinces dropped. The 2025 reform drew the new wards inside each old
    province before the provinces merged, so a new ward takes the old wards of one old
    province; the table links some namesakes of two old provinces now merged (two "Phường
    4", of Tân An and of Tây Ninh) to each other's targets. A link into a new ward whose
    other old wards lie in another old province is dropped, unless it is the old ward's
    only one."""
    sources: dict[str, Counter[str]] = defaultdict(Counter)
    for old, targets in mapping.items():
        for new in targets:
            sources[new][province_of[old]] += 1
    out: dict[str, tuple[str, ...]] = {}
    for old, targets in mapping.items():
        province = province_of[old]
        kept = tuple(new for new in targets if sources[new][province] == max(sources[new].values()))
        out[old] = kept or targets
    return out


def _is_full(keyword: str, kind: str, short_key: str) -> bool:
    """Whether a keyword carries its type word ("phuongkimlien", "p13"), not just the name."""
    if keyword == short_key:
        return False
    return bool(_TYPED_NUMBER.match(keyword)) or (bool(kind) and keyword.startswith(kind))


def deletions(word: str, depth: int) -> set[str]:
    """``word`` and its spellings with up to ``depth`` letters deleted: what a
    symmetric-deletion index files a key under, and looks a typed word up by."""
    out = {word}
    frontier = [word]
    for _ in range(depth):
        deeper: list[str] = []
        for shorter in frontier:
            for i in range(len(shorter)):
                variant = shorter[:i] + shorter[i + 1 :]
                if variant not in out:
                    out.add(variant)
                    deeper.append(variant)
        frontier = deeper
    return out


def _deletion_index(keys: Iterable[str], with_self: bool = False) -> dict[str, list[str]]:
    """Each one-deletion form of the keys → the keys it comes from (with ``with_self``,
    each key under itself too), in the keys' order: a typed key costs one look-up per
    deletion instead of a scan."""
    index: dict[str, list[str]] = {}
    for key in keys:
        for variant in deletions(key, 1):
            if with_self or variant != key:
                index.setdefault(variant, []).append(key)
    return index


def _add_initials(data: Data, unit: Unit) -> None:
    """Index the initials customers write in capitals: a province's or a district's whole
    name ("BMT" Buôn Ma Thuột, "ĐT" Đồng Tháp), or the first syllables of any name
    followed by the rest in full ("BH Hòa A" Bình Hưng Hòa A). Keys are "initials|rest"."""
    syllables = _key_words(bare_name(unit.name))
    if len(syllables) < 2 or not all(s.isalpha() for s in syllables):
        return
    whole = unit.level in (PROVINCE, OLD_PROVINCE, OLD_DISTRICT)
    for count in range(2, len(syllables) + (1 if whole else 0)):
        key = "".join(s[0] for s in syllables[:count]) + "|" + "".join(syllables[count:])
        entries = data.initials.setdefault(key, [])
        if (unit.level, unit.code) not in entries:
            entries.append((unit.level, unit.code))


def _settle(data: Data) -> None:
    """Fill in each unit's current province (and an old ward's current wards), and share
    equal spellings between units so that they can be grouped by identity."""
    spellings: dict[tuple[Spelling, ...], tuple[Spelling, ...]] = {}
    for key, unit in list(data.units.items()):
        level, code = key
        if level in (PROVINCE, WARD):
            current = unit.province
        elif level == OLD_WARD:
            current = data.units[(WARD, data.old_ward_to_new[code][0])].province
        else:
            current = data.old_province_to_new[unit.province][0]
        data.units[key] = replace(
            unit,
            tones=spellings.setdefault(unit.tones, unit.tones),
            current=current,
            new_wards=data.old_ward_to_new.get(code, ()) if level == OLD_WARD else (),
        )


# ``Reading.name_at`` and ``Reading.ends`` of a key no unit's name spells: any break.
_ANY_BREAK: Final[tuple[int, frozenset[int]]] = (1 << 30, frozenset())


def _group(
    data: Data,
    entries: list[tuple[str, str, bool]],
    breaks: tuple[int, frozenset[int]] = _ANY_BREAK,
) -> tuple[Reading, ...]:
    groups: dict[tuple[bool, str, bool, int], list[Unit]] = {}
    for level, code, full in entries:
        unit = data.units[(level, code)]
        # Old and current units of a tier score alike; what differs is the type word.
        tier = level in (PROVINCE, OLD_PROVINCE)
        key = (tier, unit.kind if level != OLD_DISTRICT else "d" + unit.kind, full, id(unit.tones))
        groups.setdefault(key, []).append(unit)
    readings = []
    for (_, _, full, _), units in groups.items():
        placed: dict[str, list[Unit]] = {}
        for unit in units:
            placed.setdefault(unit.current, []).append(unit)
        readings.append(
            Reading(
                full,
                units[0],
                tuple(units),
                tuple(
                    (
                        code,
                        tuple(members),
                        tuple(u for u in members if u.level == OLD_WARD),
                        tuple(u for u in members if u.level == WARD),
                        tuple(u for u in members if u.level == OLD_DISTRICT),
                    )
                    for code, members in placed.items()
                ),
                tuple(placed),
                *breaks,
            )
        )
    return tuple(readings)


def _word_ends(data: Data) -> dict[str, frozenset[int]]:
    """Every unit's bare key → where its name's words end in it, but the last, split as a
    customer's text is (at any character not a letter or digit: "M'gar" is m, gar). Former
    names are keys only in the library: their words are known from the old unit of that
    name ("sonha": Xã Sơn Hà)."""
    ends: dict[str, set[int]] = {}
    for unit in data.units.values():
        words = _key_words(bare_name(unit.name))
        places = ends.setdefault("".join(words), set())
        length = 0
        for word in words[:-1]:
            length += len(word)
            places.add(length)
    return {key: frozenset(places) for key, places in ends.items()}


def _breaks(key: str, word_ends: dict[str, frozenset[int]]) -> tuple[int, frozenset[int]]:
    """``Reading.name_at`` and ``Reading.ends`` of ``key``: a unit's bare key, or one
    after a type word."""
    if key in word_ends:
        return 0, word_ends[key]
    for type_key in TYPE_KEYS:
        rest = key[len(type_key) :]
        if key.startswith(type_key) and rest in word_ends:
            at = len(type_key)
            return at, frozenset(at + place for place in word_ends[rest])
    return _ANY_BREAK


def _key_words(name: str) -> list[str]:
    return [word for word in re.split(r"[^a-z0-9]+", fold(name)) if word]


# The action server warms the tables up on a thread of its own while it already takes
# requests (``actions.services``): a request that comes meanwhile waits for that build
# rather than starting a second one.
_LOADING: Final = threading.Lock()


def load() -> Data:
    """The library's tables and the indexes built on them, read once per process."""
    with _LOADING:
        return _load()


@lru_cache(maxsize=1)
def _load() -> Data:
    """Read the library's tables and build the indexes."""
    package = resources.files("vietnamadminunits") / "data"
    data = Data()
    with resources.as_file(package / "dataset.db") as db_path:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            new_rows = _fetch(conn, "SELECT * FROM admin_units")
            old_rows = _fetch(conn, "SELECT * FROM admin_units_legacy")
        finally:
            conn.close()
    converter = json.loads((package / "converter_2025.json").read_text(encoding="utf-8"))

    province_key_to_code: dict[str, str] = {}
    new_ward_by_keys: dict[tuple[str, str], str] = {}
    for row in new_rows:
        pcode = row["provinceCode"]
        if (PROVINCE, pcode) not in data.units:
            data.units[(PROVINCE, pcode)] = _unit(
                PROVINCE, pcode, row["province"], row["provinceShort"], pcode
            )
            province_key_to_code[row["provinceKey"]] = pcode
            _add(data, row["provinceKey"], PROVINCE, pcode, True)
            for kw in [row["provinceShortKey"], *_json_list(row["provinceKeywords"])]:
                _add(
                    data,
                    kw,
                    PROVINCE,
                    pcode,
                    _is_full(kw, _kind(row["province"]), row["provinceShortKey"]),
                )
        wcode = row["wardCode"]
        data.units[(WARD, wcode)] = _unit(WARD, wcode, row["ward"], row["wardShort"], pcode)
        data.province_wards[pcode] = data.province_wards.get(pcode, 0) + 1
        new_ward_by_keys[(row["provinceKey"], row["wardKey"])] = wcode
        _add(data, row["wardKey"], WARD, wcode, True)
        for kw in [row["wardShortKey"], *_json_list(row["wardKeywords"])]:
            _add(data, kw, WARD, wcode, _is_full(kw, _kind(row["ward"]), row["wardShortKey"]))

    old_key_to_ward: dict[str, str] = {}
    district_by_key: dict[tuple[str, str], str] = {}
    for row in old_rows:
        pcode = row["provinceCode"]
        if (OLD_PROVINCE, pcode) not in data.units:
            data.units[(OLD_PROVINCE, pcode)] = _unit(
                OLD_PROVINCE, pcode, row["province"], row["provinceShort"], pcode
            )
            _add(data, row["provinceKey"], OLD_PROVINCE, pcode, True)
            for kw in [row["provinceShortKey"], *_json_list(row["provinceKeywords"])]:
                _add(
                    data,
                    kw,
                    OLD_PROVINCE,
                    pcode,
                    _is_full(kw, _kind(row["province"]), row["provinceShortKey"]),
                )
        dcode = row["districtCode"]
        if (OLD_DISTRICT, dcode) not in data.units:
            data.units[(OLD_DISTRICT, dcode)] = _unit(
                OLD_DISTRICT, dcode, row["district"], row["districtShort"], pcode
            )
            district_by_key[(row["provinceKey"], row["districtKey"])] = dcode
            kind = _kind(row["district"])
            for kw in [
                row["districtKey"],
                row["districtShortKey"],
                *_json_list(row["districtKeywords"]),
            ]:
                _add(data, kw, OLD_DISTRICT, dcode, _is_full(kw, kind, row["districtShortKey"]))
        # A few island districts have no wards: the district stands for its only ward.
        wcode = row["wardCode"] or f"d{dcode}"
        old_key = f"{row['provinceKey']}_{row['districtKey']}_{row['wardKey'] or ''}"
        old_key_to_ward[old_key] = wcode
        if row["ward"]:
            kind = _kind(row["ward"])
            data.units[(OLD_WARD, wcode)] = _unit(
                OLD_WARD, wcode, row["ward"], row["wardShort"], pcode, dcode
            )
            for kw in [row["wardKey"], row["wardShortKey"], *_json_list(row["wardKeywords"])]:
                _add(data, kw, OLD_WARD, wcode, _is_full(kw, kind, row["wardShortKey"]))

    # Old ward → current ward(s) from the conversion table.
    mapping: dict[str, list[str]] = defaultdict(list)
    for pkey, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_key, old_keys in wards.items():
            for old_key in old_keys:
                mapping[old_key_to_ward[old_key]].append(new_ward_by_keys[(pkey, new_key)])
    for pkey, olds in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, targets in olds.items():
            ordered = sorted(targets, key=lambda t: not t["isDefaultNewWard"])
            mapping[old_key_to_ward[old_key]].extend(
                new_ward_by_keys[(pkey, t["newWardKey"])] for t in ordered
            )
    province_of = {
        row["wardCode"] or f"d{row['districtCode']}": row["provinceCode"] for row in old_rows
    }
    data.old_ward_to_new = _within_old_provinces(
        {k: tuple(dict.fromkeys(v)) for k, v in mapping.items()}, province_of
    )

    reverse: dict[str, list[str]] = defaultdict(list)
    by_district: dict[str, set[str]] = defaultdict(set)
    by_province: dict[str, Counter[str]] = defaultdict(Counter)
    for row in old_rows:
        wcode = row["wardCode"] or f"d{row['districtCode']}"
        for new_code in data.old_ward_to_new[wcode]:
            reverse[new_code].append(wcode)
            by_district[row["districtCode"]].add(new_code)
            by_province[row["provinceCode"]][data.units[(WARD, new_code)].province] += 1
    data.new_ward_to_old = {k: tuple(v) for k, v in reverse.items()}
    data.old_district_to_new = {k: frozenset(v) for k, v in by_district.items()}
    data.old_province_to_new = {
        k: tuple(code for code, _ in counts.most_common()) for k, counts in by_province.items()
    }

    # Every unit under its bare name, even where the library leaves it out because two
    # units of one province share it (Thành phố and Huyện Hồng Ngự): the rest of the text
    # tells them apart, as it does for namesakes in different provinces.
    for (level, code), unit in data.units.items():
        _add(data, _key(bare_name(unit.name)), level, code, False)
        _add_initials(data, unit)

    # Customers' short names for provinces.
    for alias, short_key in [*PROVINCE_ALIASES.items(), *SHARED_PROVINCE_ALIASES.items()]:
        for level, code, _ in list(data.index.get(short_key, [])):
            if level in (PROVINCE, OLD_PROVINCE):
                _add(data, alias, level, code, False)

    _settle(data)
    word_ends = _word_ends(data)
    data.readings = {
        key: _group(data, entries, _breaks(key, word_ends)) for key, entries in data.index.items()
    }
    data.initial_readings = {
        key: _group(data, [(level, code, False) for level, code in entries])
        for key, entries in data.initials.items()
    }

    data.max_key_tokens = 7
    province_keys = {
        key
        for key, entries in data.index.items()
        if any(level in (PROVINCE, OLD_PROVINCE) for level, _, _ in entries)
    }
    # Provinces are few: their five-letter names ("hanoi") are worth a typo look-up too.
    # Built here and kept only as tuples (``near``): lists are tracked by the collector.
    near = _deletion_index(
        key
        for key in data.index
        if (len(key) >= 6 or (len(key) == 5 and key in province_keys)) and not key.isdigit()
    )
    for key in data.index:
        near.setdefault(key, []).append(key)
    data.near = {key: tuple(keys) for key, keys in near.items()}
    # Four- and five-letter keys, each under itself too: the last resort's index.
    short = (key for key in data.index if 4 <= len(key) <= 5 and key.isalpha())
    data.near_short = {key: tuple(keys) for key, keys in _deletion_index(short, True).items()}
    data.prefixes = frozenset(key[:i] for key in data.readings for i in range(1, len(key)))
    data.typed_keys = _typed_keys(data.index)
    return data


def _typed_keys(index: dict[str, list[tuple[str, str, bool]]]) -> frozenset[str]:
    """See :attr:`Data.typed_keys`."""
    keys_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for key, entries in index.items():
        for level, code, _ in entries:
            keys_of[(level, code)].add(key)
    return frozenset(
        key
        for key, entries in index.items()
        for type_key in TYPE_KEYS
        if key.startswith(type_key)
        and any(
            not full and key[len(type_key) :] in keys_of[(level, code)]
            for level, code, full in entries
        )
    )
