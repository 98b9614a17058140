"""A candidate (a button) named by what the customer types instead of pressing it."""

from __future__ import annotations

import pytest

from bot.address import Candidate

WARD = Candidate("01", "Thành phố Hà Nội", "00160", "Phường Yên Hòa")
PROVINCE = Candidate("79", "Thành phố Hồ Chí Minh", None, None)
NUMBERED = Candidate("79", "Thành phố Hồ Chí Minh", "26734", "Phường 1")


@pytest.mark.parametrize(
    "typed",
    ["Phường Yên Hòa, Thành phố Hà Nội", "Yên Hòa", "yen hoa", "P. Yen Hoa", "phuong  yên hòa"],
)
def test_a_ward_button_is_named_by_its_ward(typed: str) -> None:
    assert WARD.named_by(typed)


@pytest.mark.parametrize("typed", ["Hà Nội", "Yên", "Hòa", "Phường", "", "Xã Yên Hòa Bắc"])
def test_other_words_name_no_ward_button(typed: str) -> None:
    assert not WARD.named_by(typed)


def test_a_province_button_is_named_by_its_province() -> None:
    assert PROVINCE.named_by("tp Hồ Chí Minh")
    assert PROVINCE.named_by("Hồ Chí Minh")
    assert not PROVINCE.named_by("Hà Nội")


def test_a_numbered_ward_is_named_with_its_number() -> None:
    for typed in ("Phường 1", "P1", "p.1", "phuong 1"):
        assert NUMBERED.named_by(typed), typed
    assert not NUMBERED.named_by("Phường 11")
