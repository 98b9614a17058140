"""Server-side chart geometry for the funnel page (inline SVG, no script, no CDN).

The console's Content-Security-Policy forbids inline styles and scripts, so charts are
SVG elements whose sizes are attributes computed here; colours come from classes in
``console.css``. Functions are pure (figures in, shapes out) so the template only draws.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Funnel labels (bot.campaign.schema STEPS / EXITS) as CSKH and the teams say them.
STEP_NAMES: dict[str, str] = {
    "targets": "Trong danh sách",
    "invited": "Đã mời",
    "answered_yes_or_clicked": "Đồng ý / nhấn link",
    "conversation_started": "Bắt đầu trò chuyện",
    "address_given": "Đã cho địa chỉ",
    "request_confirmed": "Xác nhận yêu cầu",
    "accepted_by_team": "Đội đã nhận",
    "done": "Hoàn thành",
    "answered_no": "Trả lời Không",
    "opted_out": "Từ chối nhận tin",
    "unreachable": "Không liên lạc được",
}
# Short column heads for the tables.
SHORT_NAMES: dict[str, str] = {
    "targets": "Danh sách",
    "invited": "Đã mời",
    "answered_yes_or_clicked": "Đồng ý / nhấn",
    "conversation_started": "Trò chuyện",
    "address_given": "Địa chỉ",
    "request_confirmed": "Xác nhận",
    "accepted_by_team": "Đội nhận",
    "done": "Hoàn thành",
    "answered_no": "Không",
    "opted_out": "Từ chối tin",
    "unreachable": "Không liên lạc",
}
FUNNEL_STEPS = (
    "invited",
    "answered_yes_or_clicked",
    "conversation_started",
    "address_given",
    "request_confirmed",
    "accepted_by_team",
    "done",
)
EXIT_STEPS = ("answered_no", "opted_out", "unreachable")


def number(value: int) -> str:
    """12345 → ``12.345`` (Vietnamese thousands separator)."""
    return f"{value:,}".replace(",", ".")


def percent(part: int, whole: int) -> str:
    """``12,3%``; an empty base shows a dash, not a division error."""
    if not whole:
        return "—"
    return f"{100 * part / whole:.1f}".replace(".", ",") + "%"


@dataclass(frozen=True)
class Bar:
    """One horizontal bar of the conversion chart."""

    label: str
    value: str
    note: str
    kind: str  # "base", "step" or "exit": the CSS class that colours it
    y: int
    width: int
    text_y: int  # baseline of the label and value texts


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: list[Bar]


def conversion_bars(counts: Mapping[str, int], *, width: int = 760) -> BarChart:
    """The funnel as horizontal bars: list size, each step (share of the invited and of
    the step before), then the exits. Bar lengths share one scale (the largest figure)."""
    label_width, value_room, bar_height, gap = 190, 210, 22, 8
    plot = width - label_width - value_room
    order = ("targets", *FUNNEL_STEPS, *EXIT_STEPS)
    largest = max((counts.get(key, 0) for key in order), default=0) or 1
    invited = counts.get("invited", 0)
    bars: list[Bar] = []
    y = 0
    previous: int | None = None
    for key in order:
        value = counts.get(key, 0)
        if key == "targets":
            kind, note = "base", ""
        elif key == "invited":
            kind, note = "step", f"{percent(value, counts.get('targets', 0))} danh sách"
        elif key in EXIT_STEPS:
            kind, note = "exit", f"{percent(value, invited)} số đã mời"
            if key == EXIT_STEPS[0]:
                y += gap * 2  # the exits stand apart from the funnel
        else:
            kind = "step"
            note = percent(value, invited) + " số đã mời"
            if key != "invited" and previous is not None:
                note += f" · {percent(value, previous)} bước trước"
        bars.append(
            Bar(
                label=STEP_NAMES[key],
                value=number(value),
                note=note,
                kind=kind,
                y=y,
                width=max(round(plot * value / largest), 1 if value else 0),
                text_y=y + bar_height * 7 // 10,
            )
        )
        if kind == "step":
            previous = value
        y += bar_height + gap
    return BarChart(width, y, label_width, bar_height, bars)


@dataclass(frozen=True)
class Column:
    """One day of the per-day chart: a bar per series."""

    day: dt.date
    label: str  # dd/mm, shown under every few columns
    x: int
    label_x: int  # centre of the column
    values: list[tuple[str, int, int, int]]  # (series key, value, y, height)
    title: str


@dataclass(frozen=True)
class DayChart:
    width: int
    height: int
    plot_top: int
    plot_bottom: int
    left: int
    column_width: int
    bar_width: int
    grid: list[tuple[int, str]]  # (y, label)
    columns: list[Column]
    series: list[tuple[str, str]]  # (key, name) for the legend
    truncated_from: dt.date | None


def day_chart(
    days: Sequence[tuple[dt.date, Mapping[str, int]]],
    series: Sequence[str] = ("request_confirmed", "done"),
    *,
    width: int = 760,
    height: int = 240,
    max_days: int = 92,
) -> DayChart:
    """Requests per day: side-by-side bars per day for ``series`` (days without any
    figure are drawn empty so the axis is continuous; the latest ``max_days`` shown)."""
    left, right, top, bottom = 48, 8, 10, 28
    plot_bottom = height - bottom
    plot_height = plot_bottom - top
    by_day = {day: counts for day, counts in days}
    truncated: dt.date | None = None
    timeline: list[dt.date] = []
    if by_day:
        first, last = min(by_day), max(by_day)
        if (last - first).days + 1 > max_days:
            truncated = first
            first = last - dt.timedelta(days=max_days - 1)
        timeline = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    largest = max(
        (by_day.get(day, {}).get(key, 0) for day in timeline for key in series), default=0
    )
    top_value = _nice_ceiling(largest)
    column_width = max((width - left - right) // max(len(timeline), 1), 1)
    bar_width = max((column_width - 2) // max(len(series), 1), 1)
    every = max(1, -(-len(timeline) * 44 // (width - left - right)))  # labels ~44 px apart
    columns: list[Column] = []
    for index, day in enumerate(timeline):
        counts = by_day.get(day, {})
        x = left + index * column_width
        values = []
        for key in series:
            value = counts.get(key, 0)
            bar = round(plot_height * value / top_value) if top_value else 0
            values.append((key, value, plot_bottom - bar, bar))
        title = f"{day:%d/%m/%Y}: " + ", ".join(
            f"{STEP_NAMES[key]} {number(counts.get(key, 0))}" for key in series
        )
        columns.append(
            Column(
                day=day,
                label=f"{day:%d/%m}" if index % every == 0 else "",
                x=x,
                label_x=x + column_width // 2,
                values=values,
                title=title,
            )
        )
    grid = [
        (plot_bottom - round(plot_height * step / 4), number(top_value * step // 4))
        for step in range(5)
    ]
    return DayChart(
        width=width,
        height=height,
        plot_top=top,
        plot_bottom=plot_bottom,
        left=left,
        column_width=column_width,
        bar_width=bar_width,
        grid=grid,
        columns=columns,
        series=[(key, STEP_NAMES[key]) for key in series],
        truncated_from=truncated,
    )


def _nice_ceiling(value: int) -> int:
    """The axis top: four grid steps of 1, 2 or 5 times a power of ten (0 → 4)."""
    if value <= 0:
        return 4
    step = -(-value // 4)
    magnitude = 10 ** (len(str(step)) - 1)
    factor = next(f for f in (1, 2, 5, 10) if f * magnitude >= step)
    return 4 * factor * magnitude
