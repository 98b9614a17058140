"""The unit tables: both structures complete, codes official, old→new mapping from wards."""

from __future__ import annotations

import pytest

from bot.address import list_provinces, province_by_code
from bot.address.data import (
    OLD_DISTRICT,
    OLD_PROVINCE,
    OLD_WARD,
    PROVINCE,
    WARD,
    Data,
    _spelled,
    spelling,
)
from bot.text import fold


def test_34_current_provinces_with_gso_codes() -> None:
    provinces = list_provinces()
    assert len(provinces) == 34
    assert ("01", "Thành phố Hà Nội") in provinces
    assert ("79", "Thành phố Hồ Chí Minh") in provinces
    assert provinces == sorted(provinces)


def test_province_by_code() -> None:
    assert province_by_code("48") == "Thành phố Đà Nẵng"
    assert province_by_code("74") is None  # Bình Dương is an old province, merged into HCMC
    assert province_by_code("zz") is None


def test_both_structures_are_complete(data) -> None:
    counts = {level: 0 for level in (PROVINCE, WARD, OLD_PROVINCE, OLD_DISTRICT, OLD_WARD)}
    for level, _ in data.units:
        counts[level] += 1
    assert counts[PROVINCE] == 34
    assert counts[OLD_PROVINCE] == 63
    assert counts[WARD] > 3300
    assert counts[OLD_DISTRICT] > 690
    assert counts[OLD_WARD] > 10000


def test_every_old_ward_maps_to_current_wards(data) -> None:
    old_wards = [code for level, code in data.units if level == OLD_WARD]
    assert all(data.old_ward_to_new.get(code) for code in old_wards)


def test_old_provinces_map_to_one_current_province_each(data) -> None:
    # Derived from the ward table: Tiền Giang (82) goes to Đồng Tháp (82) only.
    assert data.old_province_to_new["82"] == ("82",)
    assert data.old_province_to_new["74"] == ("79",)  # Bình Dương → HCMC
    assert data.old_province_to_new["77"] == ("79",)  # Bà Rịa - Vũng Tàu → HCMC
    assert all(len(new) == 1 for new in data.old_province_to_new.values())
    assert len(data.old_province_to_new) == 63


def test_each_current_ward_takes_old_wards_of_one_old_province(data) -> None:
    # The reform drew new wards inside each old province before merging provinces. The
    # library's table of split wards links namesakes of two merged provinces across that
    # line (Phường 4 of Tân An, Long An, to Phường Tân Ninh of Tây Ninh); dropped on load.
    provinces: dict[str, set[str]] = {}
    for (level, _code), unit in data.units.items():
        if level == OLD_WARD:
            for new in unit.new_wards:
                provinces.setdefault(new, set()).add(unit.province)
    assert all(len(olds) == 1 for olds in provinces.values())
    tan_an_ward_4 = next(
        unit
        for (level, _code), unit in data.units.items()
        if level == OLD_WARD and unit.name == "Phường 4" and unit.district == "794"
    )
    assert [data.unit(WARD, code).name for code in tan_an_ward_4.new_wards] == ["Phường Long An"]


@pytest.mark.parametrize(
    "word",
    [
        "Phường",
        "ĐỒNG",
        "Hoà",
        "Thạsnh",
        "P.13",
        "Mai,",
        "12/3",
        "e\u0301",  # a combining mark typed after its letter (decomposed input)
        "Phườ\u0301ng",  # and one in the middle of a word
        "İstanbul",  # lower-cases to two characters
        "Σοφία",
        "한국",
        "ＡＢＣ",
        "ﬁ",
        "ß",
        "Å",
        "ǅ",
    ],
)
def test_spelling_read_by_character_is_the_reference_reading(word: str) -> None:
    # spelling() reads a word from a table of what each character spells; the table is
    # only a shortcut: any word reads as the normalize-and-decompose reference does.
    assert spelling(word) == _spelled(word)
    assert spelling(word).key == fold(word)


def test_every_unit_name_spells_as_the_reference(data: Data) -> None:
    for unit in data.units.values():
        for word in unit.name.split():
            assert spelling(word) == _spelled(word), word
