"""Administrative units of Vietnam, old (63 provinces) and current (34), loaded once and indexed.

The data comes from ``vietnamadminunits`` (MIT): its SQLite table of both structures and its
ward conversion table. We read them directly rather than through its parser so that one
address costs a few dictionary look-ups, not a scan. The old→new *province* mapping is
derived from the ward conversion table (never from a province table, which is known to be
wrong for Tiền Giang in other libraries).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from bot.text import fold

# Levels of a unit in the index.
PROVINCE = "P"  # current province
WARD = "W"  # current ward / commune / special zone
OLD_PROVINCE = "p"
OLD_DISTRICT = "d"
OLD_WARD = "w"

# Type words as folded keys, longest first so "thanhpho" wins over a bare letter.
TYPE_KEYS = (
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
    # fuzzy index: a key with one character deleted → keys (short names, length ≥ 6)
    deletes: dict[str, list[str]] = field(default_factory=dict)

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


# Short names customers use for provinces, beyond the library's own aliases. Values are
# folded short names of a province of either structure.
PROVINCE_ALIASES: dict[str, str] = {
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
    "nhatrang": "khanhhoa",
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


_TYPED_NUMBER = re.compile(r"^(p|f|q|x|h|ward|district)\d+$")


def _is_full(keyword: str, kind: str, short_key: str) -> bool:
    """Whether a keyword carries its type word ("phuongkimlien", "p13"), not just the name."""
    if keyword == short_key:
        return False
    return bool(_TYPED_NUMBER.match(keyword)) or (bool(kind) and keyword.startswith(kind))


def _deletes(key: str) -> set[str]:
    return {key[:i] + key[i + 1 :] for i in range(len(key))}


@lru_cache(maxsize=1)
def load() -> Data:
    """Read the library's tables once per process and build the indexes."""
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
            data.units[(PROVINCE, pcode)] = Unit(
                PROVINCE,
                pcode,
                row["province"],
                row["provinceShort"],
                _kind(row["province"]),
                pcode,
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
        data.units[(WARD, wcode)] = Unit(
            WARD, wcode, row["ward"], row["wardShort"], _kind(row["ward"]), pcode
        )
        new_ward_by_keys[(row["provinceKey"], row["wardKey"])] = wcode
        _add(data, row["wardKey"], WARD, wcode, True)
        for kw in [row["wardShortKey"], *_json_list(row["wardKeywords"])]:
            _add(data, kw, WARD, wcode, _is_full(kw, _kind(row["ward"]), row["wardShortKey"]))

    old_key_to_ward: dict[str, str] = {}
    district_by_key: dict[tuple[str, str], str] = {}
    for row in old_rows:
        pcode = row["provinceCode"]
        if (OLD_PROVINCE, pcode) not in data.units:
            data.units[(OLD_PROVINCE, pcode)] = Unit(
                OLD_PROVINCE,
                pcode,
                row["province"],
                row["provinceShort"],
                _kind(row["province"]),
                pcode,
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
            data.units[(OLD_DISTRICT, dcode)] = Unit(
                OLD_DISTRICT,
                dcode,
                row["district"],
                row["districtShort"],
                _kind(row["district"]),
                pcode,
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
            data.units[(OLD_WARD, wcode)] = Unit(
                OLD_WARD, wcode, row["ward"], row["wardShort"], kind, pcode, dcode
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
    data.old_ward_to_new = {k: tuple(dict.fromkeys(v)) for k, v in mapping.items()}

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

    # Customers' short names for provinces.
    for alias, short_key in PROVINCE_ALIASES.items():
        for level, code, _ in list(data.index.get(short_key, [])):
            if level in (PROVINCE, OLD_PROVINCE):
                _add(data, alias, level, code, False)

    data.max_key_tokens = 7
    province_keys = {
        key
        for key, entries in data.index.items()
        if any(level in (PROVINCE, OLD_PROVINCE) for level, _, _ in entries)
    }
    for key in data.index:
        # Provinces are few: their five-letter names ("hanoi") are worth a typo look-up too.
        if (len(key) >= 6 or (len(key) == 5 and key in province_keys)) and not key.isdigit():
            for deleted in _deletes(key):
                data.deletes.setdefault(deleted, []).append(key)
    return data
