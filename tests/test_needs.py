"""What a customer asking for advice says they need (bot.needs)."""

from __future__ import annotations

import pytest

from bot.needs import MAX_NEED, need_in_message, with_need


@pytest.mark.parametrize(
    "typed",
    [
        "tu van goi cuoc",
        "Tư vấn gói cước cho em",
        "tu van goi cuoc giup e voi ad",
        "e muon nghe tu van ve goi cuoc",
        "shop oi tu van goi cuoc cho minh voi",
        "tu van goi cuoc cho so 0932 111 444",
        "Tư",
        "ok",
        "thoi de em goi 9090",  # seen live, read as asking for advice: "gọi", not "gói"
        "cho em hoi chut",
        "0903123456",
        "",
    ],
)
def test_a_bare_request_for_advice_says_no_need(typed):
    assert need_in_message(typed) is None


@pytest.mark.parametrize(
    ("typed", "need"),
    [
        ("em dung nhieu data", "em dung nhieu data"),
        ("Gói nào rẻ nhất?", "Gói nào rẻ nhất?"),
        ("mỗi tháng tầm 100k thôi", "mỗi tháng tầm 100k thôi"),
        ("TU VAN GOI DATA", "TU VAN GOI DATA"),
        # The number and the words that give it are left out.
        ("goi data nao re cho sdt 0839 555 777 z ad", "goi data nao re z ad"),
        ("gói data nhiều cho số điện thoại 0903123456 nhé", "gói data nhiều nhé"),
        ("em dung nhieu data,  so 0903123456", "em dung nhieu data"),
    ],
)
def test_a_need_is_kept_in_the_customers_words(typed, need):
    assert need_in_message(typed) == need


def test_a_long_need_is_cut_at_a_word():
    need = need_in_message("em dung nhieu data " * 40)
    assert need is not None
    assert len(need) <= MAX_NEED
    assert need.endswith("data") or need.endswith("nhieu") or need.endswith("dung")


def test_needs_said_twice_are_noted_once_and_others_added():
    assert with_need(None, "nhiều data") == "nhiều data"
    assert with_need("nhiều data", "nhieu data") == "nhiều data"
    assert with_need("nhiều data", "gọi nội mạng") == "nhiều data / gọi nội mạng"


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("em dung nhieu data lam, hay xem youtube", True),
        ("mỗi tháng tầm 100k", True),
        ("hay gọi nội mạng", True),
        ("toi khong biet", False),
        ("sdt 0905333444", False),  # the number's digits say nothing
        ("Nguyễn Văn Minh", False),
    ],
)
def test_a_need_is_named_by_what_a_line_is_used_for(typed, named):
    assert (need_in_message(typed) is not None) is named
