"""The current wards an old district became, offered when an address names no ward.

"12 Nguyễn Đình Chiểu, Quận 3, TP HCM" names the province and the old district, not the
ward: the resolver answers ``province_only``. The request then reaches the province team,
but not the ward's sales force. Since 1 July 2025 Quận 3 is three wards (Nhiêu Lộc, Bàn
Cờ, Xuân Hòa): the form can ask which one with a button each, when the district became
few enough wards to list them all. A longer list would be a guess at which ones to show,
so the answer stays ``province_only``; the form then asks the customer to type the ward
(:func:`ward_to_type`), the old name or the new, and the team asks on its call-back only
when the customer does not know it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.address.data import OLD_DISTRICT, WARD, Unit, load
from bot.address.model import Candidate, Resolution


def with_district_wards(resolution: Resolution, most: int) -> Resolution:
    """``resolution`` with the current wards of its old district as candidates, when it
    names the district but no ward and the district became between two and ``most`` wards
    of the province (the ward named like the district first, then by name); unchanged
    otherwise."""
    wards = _district_wards(resolution)
    if wards is None or not 2 <= len(wards) <= most:
        return resolution
    named = load().units[(OLD_DISTRICT, resolution.old_district_code or "")].short
    wards.sort(key=lambda ward: (ward.short != named, ward.name))
    candidates = tuple(
        Candidate(
            province_code=resolution.province_code or "",
            province_name=resolution.province_name or "",
            ward_code=ward.code,
            ward_name=ward.name,
            old_province_name=resolution.old_province_name,
            old_district_name=resolution.old_district_name,
            score=resolution.confidence,
        )
        for ward in wards
    )
    return replace(resolution, candidates=candidates)


def ward_question(resolution: Resolution, most: int) -> tuple[Candidate, ...]:
    """The current wards of its province to ask about (at most ``most``), when
    ``resolution`` names the province but not the ward while the text names a few wards
    there: an old ward split between new ones, a name several wards of the province share
    ("Phường 1" in Đồng Tháp), or an old district that became two to ``most`` wards
    (:func:`with_district_wards`). Empty when there is nothing to ask. The chat form asks
    the customer with a button each, the 9090 intake asks the operator: one rule for both."""
    asked = with_district_wards(resolution, most)
    if asked.status != "province_only":
        return ()
    wards = tuple(
        candidate
        for candidate in asked.candidates
        if candidate.ward_code and candidate.province_code == asked.province_code
    )[:most]
    return wards if len(wards) >= 2 else ()


def ward_to_type(resolution: Resolution, most: int) -> str | None:
    """The old district's name ("Quận Đống Đa") when ``resolution`` names it but no ward,
    and the district became more than ``most`` wards of the province: too many to offer as
    buttons, so the ward is asked to be typed. None otherwise (a ward named, a question
    with buttons to ask instead, no district)."""
    wards = _district_wards(resolution)
    return resolution.old_district_name if wards is not None and len(wards) > most else None


# Type words shortened in a button's old district: "Phường Trà Vinh (TP Trà Vinh)".
_SHORT_TYPES = (("Thành phố ", "TP "), ("Thị xã ", "TX "), ("Thị trấn ", "TT "))


def choice_labels(candidates: Sequence[Candidate]) -> list[str]:
    """The buttons' labels: each candidate's own, and for wards of one province read in
    different old districts, the old district beside the new name ("Phường 1, Vĩnh Long":
    Phường Trà Vinh (TP Trà Vinh), Phường Long Châu (TP Vĩnh Long), …). The customer wrote
    the old names: the new ward's name alone says nothing to them, the district they lived
    in does."""
    districts = [candidate.old_district_name for candidate in candidates]
    if (
        len(candidates) < 2
        or not all(candidate.ward_name for candidate in candidates)
        or not all(districts)
        or len({candidate.province_code for candidate in candidates}) > 1
        or len(set(districts)) < 2
    ):
        return [candidate.label for candidate in candidates]
    return [
        f"{candidate.ward_name} ({_short(district or '')}), {candidate.province_name}"
        for candidate, district in zip(candidates, districts, strict=True)
    ]


def _short(name: str) -> str:
    for long, short in _SHORT_TYPES:
        if name.startswith(long):
            return short + name[len(long) :]
    return name


def _district_wards(resolution: Resolution) -> list[Unit] | None:
    """The current wards of the province that ``resolution``'s old district became, when it
    names the district and nothing more precise (no ward, no candidates); None otherwise."""
    district = resolution.old_district_code
    if (
        resolution.status != "province_only"
        or resolution.ward_code is not None
        or resolution.candidates
        or district is None
    ):
        return None
    data = load()
    return [
        data.units[(WARD, code)]
        for code in data.old_district_to_new.get(district, ())
        if data.units[(WARD, code)].province == resolution.province_code
    ]
