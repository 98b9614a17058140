"""Structured ward / district / province columns → units by direct look-up.

Operators' lists often carry the units in separate columns. Matching them by name in the
address index is exact and costs microseconds, where the free-text resolver weighs every
reading of a joined string (and may call "Xã Hợp Thành, Tỉnh Lào Cai" ambiguous because
several provinces have a Hợp Thành). Anything this cannot decide alone returns None and
goes to :func:`bot.address.resolve`.
"""

from __future__ import annotations

import re

from bot.address import Resolution
from bot.address.data import (
    OLD_DISTRICT,
    OLD_PROVINCE,
    OLD_WARD,
    PROVINCE,
    PROVINCE_ALIASES,
    WARD,
    Data,
    load,
)
from bot.text import fold

# Type words (and their abbreviations) written before a unit name, as folded key prefixes.
_TYPE_PREFIX = re.compile(r"^(thanhpho|thitran|thixa|phuong|huyen|quan|tinh|xa|tp|tx|tt)")


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(text.replace("đ", "d").replace("Đ", "D")))


def _entries(data: Data, text: str, levels: str) -> list[tuple[str, str]]:
    """(level, code) of units of ``levels`` the name denotes, full name first."""
    key = _key(text)
    if not key:
        return []
    tries = [key]
    short = _TYPE_PREFIX.sub("", key)
    if short and short != key and not short.isdigit():
        tries.append(short)
    elif short.isdigit():  # "Quận 1", "P13": the number keeps its type word
        tries.append(key)
    tries.extend(PROVINCE_ALIASES[k] for k in list(tries) if k in PROVINCE_ALIASES)
    for candidate in tries:
        found = [(lvl, code) for lvl, code, _ in data.index.get(candidate, ()) if lvl in levels]
        if found:
            return list(dict.fromkeys(found))
    return []


def lookup(ward: str, district: str, province: str) -> Resolution | None:
    """Units named by the three columns, or None when they do not decide by themselves."""
    if not province:
        return None
    data = load()
    provinces = _entries(data, province, PROVINCE + OLD_PROVINCE)
    new_p = {code for lvl, code in provinces if lvl == PROVINCE}
    old_p = {code for lvl, code in provinces if lvl == OLD_PROVINCE}
    text = ", ".join(p for p in (ward, district, province) if p)
    if not provinces:
        return None
    if district:
        districts = {
            code
            for lvl, code in _entries(data, district, OLD_DISTRICT)
            if data.units[(lvl, code)].province in old_p
        }
        if len(districts) != 1:
            return None
        (dcode,) = districts
        if not ward:
            district_wards = data.old_district_to_new.get(dcode, frozenset())
            new_provinces = {data.units[(WARD, w)].province for w in district_wards}
            if len(new_provinces) != 1:
                return None
            return _province_only(data, text, next(iter(new_provinces)), dcode)
        old_wards = [
            code
            for lvl, code in _entries(data, ward, OLD_WARD)
            if data.units[(lvl, code)].district == dcode
        ]
        return _from_old_ward(data, text, old_wards[0]) if len(old_wards) == 1 else None
    if not ward:
        if len(new_p) == 1:
            return _province_only(data, text, next(iter(new_p)), None)
        return None
    wards = [
        code
        for lvl, code in _entries(data, ward, WARD)
        if data.units[(lvl, code)].province in new_p
    ]
    if len(wards) == 1:
        return _resolved(data, text, wards[0])
    old_wards = [
        code
        for lvl, code in _entries(data, ward, OLD_WARD)
        if data.units[(lvl, code)].province in old_p
    ]
    return _from_old_ward(data, text, old_wards[0]) if len(old_wards) == 1 else None


def _resolved(data: Data, text: str, ward_code: str, **old: str | None) -> Resolution:
    ward = data.units[(WARD, ward_code)]
    province = data.units[(PROVINCE, ward.province)]
    return Resolution(
        text=text,
        status="resolved",
        confidence=1.0,
        province_code=province.code,
        province_name=province.name,
        ward_code=ward.code,
        ward_name=ward.name,
        **old,  # type: ignore[arg-type]
    )


def _from_old_ward(data: Data, text: str, old_code: str) -> Resolution | None:
    new = data.old_ward_to_new.get(old_code)
    if not new:
        return None
    old_ward = data.units[(OLD_WARD, old_code)]
    district = data.units.get((OLD_DISTRICT, old_ward.district or ""))
    old_province = data.units[(OLD_PROVINCE, old_ward.province)]
    return _resolved(
        data,
        text,
        new[0],
        old_province_code=old_province.code,
        old_province_name=old_province.name,
        old_district_code=district.code if district else None,
        old_district_name=district.name if district else None,
        old_ward_code=old_ward.code,
        old_ward_name=old_ward.name,
    )


def _province_only(data: Data, text: str, code: str, district: str | None) -> Resolution:
    province = data.units[(PROVINCE, code)]
    old_district = data.units[(OLD_DISTRICT, district)] if district else None
    return Resolution(
        text=text,
        status="province_only",
        confidence=1.0,
        province_code=province.code,
        province_name=province.name,
        old_district_code=old_district.code if old_district else None,
        old_district_name=old_district.name if old_district else None,
    )
