"""Message rendering, callback data and the SLA working-hours clock."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from bot.dispatch import render
from bot.dispatch.worker import WorkingHours, display_actor


@dataclasses.dataclass
class View:
    reference: str = "4G-7KQ9-XM3P"
    request_type: str = "sim_swap"
    status: str = "assigned"
    phone: str = "+84903123456"
    contact_name: str | None = "Chị <Hoa>"
    address_text: str | None = "5 Lý Thường Kiệt & ngõ 3"
    province_name: str | None = "Thành phố Hà Nội"
    ward_name: str | None = "Phường Cửa Nam"
    delivery_note: str | None = None
    callback_requested: bool = False
    note: str | None = None
    channel: str = "facebook"
    created_at: dt.datetime = dt.datetime(2025, 7, 2, 1, 30, tzinfo=dt.timezone.utc)


def test_text_escapes_html_and_masks_until_accepted():
    text = render.message_text(View())
    assert "Chị &lt;Hoa&gt;" in text
    assert "&amp; ngõ 3" in text
    assert "090****456" in text
    assert "08:30 02/07/2025" in text  # Vietnam local time
    accepted = render.message_text(View(status="accepted"), by="Lan")
    assert "0903123456" in accepted
    assert "Lan" in accepted


def test_buttons_follow_the_lifecycle_and_fit_telegram():
    assert render.buttons(View(status="new")) == [[("🙋 Nhận", "a:4G-7KQ9-XM3P")]]
    assert [d for _, d in render.buttons(View(status="accepted"))[0]] == [
        "d:4G-7KQ9-XM3P",
        "u:4G-7KQ9-XM3P",
    ]
    assert render.buttons(View(status="done")) == []
    for status in ("new", "assigned", "accepted", "visited"):
        for row in render.buttons(View(status=status)):
            assert all(len(data.encode()) <= 64 for _, data in row)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("a:4G-7KQ9-XM3P", ("accepted", "4G-7KQ9-XM3P")),
        ("u:4G-7KQ9-XM3P", ("unreachable", "4G-7KQ9-XM3P")),
        ("z:4G-7KQ9-XM3P", None),
        ("a:", None),
        ("nonsense", None),
        (None, None),
    ],
)
def test_parse_callback(data, expected):
    assert render.parse_callback(data) == expected


def test_working_hours_clock_skips_nights_and_sundays():
    hours = WorkingHours.parse("08:00-17:00", "0-5")
    tz = render.LOCAL_TZ
    friday_16 = dt.datetime(2025, 7, 4, 16, 0, tzinfo=tz)
    saturday_9 = dt.datetime(2025, 7, 5, 9, 0, tzinfo=tz)
    assert hours.minutes_between(friday_16, saturday_9) == 120
    saturday_16 = dt.datetime(2025, 7, 5, 16, 0, tzinfo=tz)
    monday_9 = dt.datetime(2025, 7, 7, 9, 0, tzinfo=tz)
    assert hours.minutes_between(saturday_16, monday_9) == 120  # Sunday is off
    with pytest.raises(ValueError, match="end before"):
        WorkingHours.parse("17:00-08:00")


def test_display_actor():
    assert display_actor("telegram:42 Lan (@lan)") == "Lan (@lan)"
    assert display_actor("console:hanoi") == "console:hanoi"
