"""bot.questions: whether a message asks something beside its request or data."""

from __future__ import annotations

import pytest

from bot.questions import asks, without_questions


@pytest.mark.parametrize(
    "text",
    [
        "đổi sim 4g có giữ số cũ không? nhà tôi ở 12 Lê Lợi, Phường Bến Thành, TPHCM",
        "doi sim co mat phi khong, sdt e 0905123456",
        "doi sim co mat tien k ad",
        "doi sim bao lau thi xong, e o quan 3 tphcm",
        "e muon doi sim, co phai mang cccd ko",
        "sim 4g la gi vay",
        "miễn phí à?",
        "giữ số hả?",
        "co giu so ko a",
        "Đổi sim có mất tiền không ạ?",
    ],
)
def test_a_question_beside_the_rest_is_seen(text: str) -> None:
    assert asks(text)


@pytest.mark.parametrize(
    "text",
    [
        # A request made politely is the request.
        "doi sim cho em dc ko?",
        "đổi sim cho em được không ạ",
        "Em ở xã Phong Điền, có được không ạ?",
        "doi sim cho em a?",  # "ạ?" typed without its mark
        "nha em o xa co dc khong",
        # Negations and data ask nothing.
        "em khong biet",
        "toi khong co sim 4g",
        "doi sim 4g",
        "0905123456 o 12 le loi q1 hcm",
        "xom 2 xa Nghi Phong, Nghi Loc, Nghe An",
    ],
)
def test_requests_and_data_ask_nothing(text: str) -> None:
    assert not asks(text)


def test_the_address_keeps_its_clauses_not_the_question() -> None:
    assert without_questions("12 le loi q1 hcm, bao lau thi co sim") == "12 le loi q1 hcm"
    assert (
        without_questions("có giữ số không? 12 Lê Lợi, Phường Bến Thành")
        == "12 Lê Lợi, Phường Bến Thành"
    )
    # Nothing asks, or nothing else is left: the text as it is.
    assert without_questions("12 Le Loi, P. Ben Thanh") == "12 Le Loi, P. Ben Thanh"
    assert without_questions("co mat phi khong?") == "co mat phi khong?"
