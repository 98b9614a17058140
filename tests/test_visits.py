"""``bot.visits``: when the customer can be visited or called, in their own words."""

from __future__ import annotations

import pytest

from bot.needs import said_without_numbers
from bot.visits import visit_time_in_message, with_visit_time


@pytest.mark.parametrize(
    "text",
    [
        "toi ban ca ngay, toi moi o nha",  # folded "tối mới": a time beside "mới"
        "thu 7 co den ko",
        "sau 5h chieu em moi ve",
        "nhân viên đến buổi tối được không",
        "cuối tuần mới có nhà",
        "sáng mai qua được không",
        "chiều nay em ở nhà",
        "em đi làm giờ hành chính, tối về",
        "em o nha ca ngay",
        "mai em ko o nha",  # "mai" opening the message: tomorrow
        "ban ngay nha ko co ai",
        "tối mới ở nhà",  # "tối" with its tone
    ],
)
def test_a_time_and_being_there_is_a_visit_time(text: str) -> None:
    assert visit_time_in_message(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "doi sang sim 4g",  # folded "sang" is "sang" (to), no time
        "bao gio nhan vien den",  # the FAQ's question: no time of the customer's
        "nhan vien den luc may gio",
        "ten chi la Mai, goi so 0905111222",  # "Mai" is a name
        "tư vấn gói cước tháng này",
        "dem sim den nha giup",  # "đem" (bring), not "đêm"
        "chiều",  # a time, nothing of being there or coming
        "",
    ],
)
def test_otherwise_none(text: str) -> None:
    assert visit_time_in_message(text) is None


def test_phone_numbers_are_left_out() -> None:
    said = visit_time_in_message("goi cho em sau 6h toi nhe, sdt 0905111222")
    assert said == "goi cho em sau 6h toi nhe"
    assert said_without_numbers("0905111222") is None
    assert said_without_numbers("x " * 400).endswith("x")  # cut at a word
    assert len(said_without_numbers("x " * 400) or "") <= 300


def test_times_said_twice_are_noted_once() -> None:
    first = with_visit_time(None, "thu 7 co den ko")
    assert first == "thu 7 co den ko"
    both = with_visit_time(first, "toi moi o nha")
    assert both == "thu 7 co den ko / toi moi o nha"
    assert with_visit_time(both, "Thứ 7 có đến ko") == both  # the same words, toned
