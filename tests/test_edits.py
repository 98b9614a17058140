"""``bot.edits``: a house number corrected in a few words."""

from __future__ import annotations

import pytest

from bot.edits import number_corrected

ADDRESS = "so 12 ngo 5 phuong Dich Vong Hau Cau Giay HN"


@pytest.mark.parametrize(
    ("said", "fixed"),
    [
        ("sai dia chi roi, so 14 chu ko phai 12", "so 14 ngo 5 phuong Dich Vong Hau Cau Giay HN"),
        ("không phải số 12 mà là số 14", "so 14 ngo 5 phuong Dich Vong Hau Cau Giay HN"),
        ("sửa 12 thành 14", "so 14 ngo 5 phuong Dich Vong Hau Cau Giay HN"),
        ("nhà số 14A k phải 12", "so 14A ngo 5 phuong Dich Vong Hau Cau Giay HN"),
        ("ngõ 7 chứ không phải ngõ 5", "so 12 ngo 7 phuong Dich Vong Hau Cau Giay HN"),
    ],
)
def test_the_number_said_wrong_is_replaced(said: str, fixed: str) -> None:
    assert number_corrected(said, ADDRESS) == fixed


@pytest.mark.parametrize(
    ("said", "address"),
    [
        ("sai dia chi", ADDRESS),  # no number said
        ("so 14 chu ko phai 13", ADDRESS),  # the wrong one is not in it
        ("12 chu khong phai 12", ADDRESS),
        ("số 14 chứ không phải 12", "12/3 Lê Văn Sỹ P13 Q3"),  # only inside 12/3
        ("số 5 chứ không phải 12", "12 ngõ 12 Kim Mã"),  # twice: which one?
    ],
)
def test_otherwise_none(said: str, address: str) -> None:
    assert number_corrected(said, address) is None
