"""What a team sees of a request in Telegram: text (Jinja template) and buttons.

The phone number stays masked until someone on the team accepts the request, so a
number only reaches the person who took responsibility for calling it. Buttons follow
the lifecycle table, so a message never offers a change the store would refuse.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.dispatch.telegram import Button
from bot.phone import mask
from bot.requests.lifecycle import ACCEPTED, DONE, NEW, STATUSES, UNREACHABLE, allowed

TEMPLATES = Path(__file__).resolve().parent / "templates"
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# Callback data is "<action letter>:<reference>" (≤ 64 bytes; references are 12).
ACTIONS: dict[str, str] = {"a": ACCEPTED, "d": DONE, "u": UNREACHABLE}
_LETTER = {status: letter for letter, status in ACTIONS.items()}
# Statuses after which the team has claimed the request and may see the full number.
PHONE_VISIBLE = frozenset(STATUSES) - {NEW, "assigned", "cancelled"}


class RequestLike(Protocol):
    """The fields of a request view the message shows (read-only, like RequestView)."""

    @property
    def reference(self) -> str: ...

    @property
    def request_type(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def phone(self) -> str: ...

    @property
    def address_text(self) -> str | None: ...

    @property
    def province_name(self) -> str | None: ...

    @property
    def ward_name(self) -> str | None: ...

    @property
    def delivery_note(self) -> str | None: ...

    @property
    def created_at(self) -> dt.datetime: ...


@lru_cache(maxsize=1)
def labels() -> dict[str, Any]:
    """Staff labels (``templates/labels.yml``), shared with the console."""
    data = yaml.safe_load((TEMPLATES / "labels.yml").read_text(encoding="utf-8"))
    return dict(data)


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )


def national(e164: str) -> str:
    """+84901234567 → 0901234567, the form a team member dials."""
    return "0" + e164[3:] if e164.startswith("+84") else e164


def shown_phone(view: RequestLike) -> str:
    """Full national number once accepted, masked before."""
    number = national(view.phone)
    return number if view.status in PHONE_VISIBLE else mask(number)


def local_time(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(LOCAL_TZ).strftime("%H:%M %d/%m/%Y")


def area(view: RequestLike) -> str:
    parts = [p for p in (view.ward_name, view.province_name) if p]
    return ", ".join(parts) or "(chưa xác định khu vực)"


def callback_data(status: str, reference: str) -> str:
    return f"{_LETTER[status]}:{reference}"


def parse_callback(data: str | None) -> tuple[str, str] | None:
    """``"a:4G-7KQ9-XM3P"`` → (``"accepted"``, reference), or ``None`` if malformed."""
    if not data or ":" not in data:
        return None
    letter, reference = data.split(":", 1)
    status = ACTIONS.get(letter)
    if status is None or not reference or len(reference) > 32:
        return None
    return status, reference


def buttons(view: RequestLike) -> list[list[Button]]:
    """The actions the lifecycle allows from the current status, one row."""
    names = labels()["buttons"]
    row = [
        (names[status], callback_data(status, view.reference))
        for status in (ACCEPTED, DONE, UNREACHABLE)
        if allowed(view.status, status)
    ]
    return [row] if row else []


def type_label(view: RequestLike) -> str:
    """The request type as the team reads it ("Đổi SIM 4G")."""
    return str(labels()["request_types"].get(view.request_type, view.request_type))


def message_text(
    view: RequestLike,
    *,
    by: str | None = None,
    escalation: bool = False,
    team_name: str = "",
    sla_minutes: int = 0,
) -> str:
    """The HTML text of a request's team message."""
    names = labels()
    return (
        _env()
        .get_template("request.html.j2")
        .render(
            r=view,
            type_label=type_label(view),
            status_label=names["statuses"].get(view.status, view.status),
            status_icon=names["status_icons"].get(view.status, ""),
            phone=shown_phone(view),
            area=area(view),
            created=local_time(view.created_at),
            by=by,
            escalation=escalation,
            team_name=team_name,
            sla_minutes=sla_minutes,
        )
    )


def details_text(view: RequestLike, note: str) -> str:
    """The HTML text telling a team what a customer added to an open request."""
    return (
        _env()
        .get_template("details.html.j2")
        .render(
            r=view,
            type_label=type_label(view),
            note=note,
        )
    )


def answer_text(key: str, **values: str) -> str:
    """A callback-query answer (≤ 200 characters, Telegram's limit)."""
    return str(labels()["answers"][key]).format(**values)[:200]
