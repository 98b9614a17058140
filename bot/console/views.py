"""Console pages and JSON API: queue, request detail, status changes, CSV, intake, webhook.

Visibility is decided here, once per request, from the signed-in user: a province team
only ever queries its own province and gets 403 for another's request; operators and
admins see every province. Phone numbers and addresses travel only in POST bodies and
responses, never in URLs.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hmac
import io
import json
import logging
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from bot.console.app import (
    CSRF_FIELD,
    WEBHOOK_HEADER,
    console_of,
    current_user,
    error,
    require,
)
from bot.console.auth import User, new_session
from bot.dispatch.render import labels, local_time, national, shown_phone, type_label
from bot.dispatch.worker import enqueue_status_changed
from bot.guides import Guide, guides_dir, load_cached
from bot.phone import mask
from bot.requests import (
    REQUEST_TYPES,
    STATUSES,
    TRANSITIONS,
    EventView,
    IllegalTransition,
    InvalidDraft,
    RequestDraft,
    RequestView,
    UnknownRequest,
)

if TYPE_CHECKING:
    from bot.address import Resolution

log = logging.getLogger(__name__)

PAGE_SIZE = 50
EXPORT_BATCH = 1000
_WARD = re.compile(r"\d{1,8}")
_MAX_FIELD = 1000


def _is_intake(user: User) -> bool:
    return user.can_intake


# CSKH's staff guides (guides/*.yml) beside each page, the most useful one first and open:
# whoever calls the customer back needs the call script, a 9090 operator the hand-over guide.
GUIDE_ORDER = {
    "request": ("outbound_call", "operator_guide"),
    "intake": ("operator_guide", "outbound_call"),
}


def page_guides(page: str) -> list[Guide]:
    """The guides for ``page``, re-read when CSKH edits them (no restart)."""
    folder = guides_dir()
    order = GUIDE_ORDER.get(page, ())
    paths = sorted(
        folder.glob("*.yml"),
        key=lambda p: (p.stem not in order, order.index(p.stem) if p.stem in order else 0, p.stem),
    )
    return [load_cached(path) for path in paths]


# -- filters -------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The queue's filters, validated; ``province_code`` already narrowed for teams."""

    province_code: str | None = None
    status: str | None = None
    ward_code: str | None = None
    request_type: str | None = None
    age_hours: int | None = None
    page: int = 1

    def query(self, page: int | None = None) -> str:
        values = {
            "province": self.province_code,
            "status": self.status,
            "ward": self.ward_code,
            "type": self.request_type,
            "age": self.age_hours,
            "page": page,
        }
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})

    def service_kwargs(self) -> dict[str, Any]:
        return {
            "province_code": self.province_code,
            "status": self.status,
            "ward_code": self.ward_code,
            "request_type": self.request_type,
            "older_than": dt.timedelta(hours=self.age_hours) if self.age_hours else None,
        }


def parse_filters(request: web.Request, user: User) -> Filters:
    """Validate the query string; a malformed filter is a 400, not an empty page."""
    query = request.query
    console = console_of(request)
    status = query.get("status", "").strip() or None
    if status is not None and status not in STATUSES:
        raise error(request, 400, f"Trạng thái không hợp lệ: {status}")
    request_type = query.get("type", "").strip() or None
    if request_type is not None and request_type not in REQUEST_TYPES:
        raise error(request, 400, f"Loại yêu cầu không hợp lệ: {request_type}")
    ward = query.get("ward", "").strip() or None
    if ward is not None and not _WARD.fullmatch(ward):
        raise error(request, 400, "Mã phường/xã phải là số.")
    age = _int(request, query.get("age", ""), "Số giờ chờ", 0, 24 * 365)
    page = _int(request, query.get("page", ""), "Trang", 1, 100_000) or 1
    province = query.get("province", "").strip() or None
    if province is not None and province not in console.province_names:
        raise error(request, 400, f"Mã tỉnh/thành không hợp lệ: {province}")
    if not user.sees_all:
        if province is not None and province != user.province_code:
            raise error(request, 403, "Đội chỉ xem được yêu cầu của tỉnh mình.")
        province = user.province_code
    return Filters(province, status, ward, request_type, age, page)


def _int(request: web.Request, raw: str, what: str, low: int, high: int) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise error(request, 400, f"{what} phải là số từ {low} đến {high}.")
    return int(raw)


# -- presentation ----------------------------------------------------------------------


def phone_for(user: User, view: RequestView) -> str:
    """Operators see the number; a team sees it once someone accepted the request
    (the same rule as in Telegram)."""
    return national(view.phone) if user.sees_all else shown_phone(view)


def row_for(user: User, view: RequestView) -> dict[str, Any]:
    names = labels()
    return {
        "reference": view.reference,
        "created": local_time(view.created_at),
        "created_at": view.created_at.isoformat(),
        "request_type": view.request_type,
        "type_label": type_label(view),
        "status": view.status,
        "status_label": names["statuses"].get(view.status, view.status),
        "phone": phone_for(user, view),
        "carrier": view.carrier,
        "contact_name": view.contact_name,
        "address_text": view.address_text,
        "province_code": view.province_code,
        "province_name": view.province_name,
        "ward_code": view.ward_code,
        "ward_name": view.ward_name,
        "area": ", ".join(p for p in (view.ward_name, view.province_name) if p) or "—",
        "team_id": view.team_id,
        "team_name": view.team_name,
        "route_rule": view.route_rule,
        "delivery_note": view.delivery_note,
        "channel": view.channel,
        "campaign": view.campaign,
        "note": view.note,
        "callback_requested": view.callback_requested,
        "next_statuses": sorted(TRANSITIONS.get(view.status, frozenset())),
    }


async def visible_request(request: web.Request, user: User) -> RequestView:
    """The request named in the path, if this user may see it (else 404/403)."""
    reference = request.match_info["reference"]
    service = console_of(request).ready_store.service
    try:
        view = await asyncio.to_thread(service.get, reference)
    except UnknownRequest:
        raise error(request, 404, "Không tìm thấy yêu cầu này.") from None
    if not user.may_see(view.province_code):
        raise error(request, 403, "Yêu cầu này thuộc tỉnh/thành khác.")
    return view


async def fetch_page(request: web.Request, filters: Filters) -> tuple[list[RequestView], bool]:
    service = console_of(request).ready_store.service
    views = await asyncio.to_thread(
        service.list,
        **filters.service_kwargs(),
        limit=PAGE_SIZE + 1,
        offset=(filters.page - 1) * PAGE_SIZE,
    )
    return views[:PAGE_SIZE], len(views) > PAGE_SIZE


# -- sign-in -----------------------------------------------------------------------------


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/queue" if current_user(request) else "/login")


@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict[str, Any]:
    if current_user(request):
        raise web.HTTPSeeOther("/queue")
    return {}


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    console = console_of(request)
    user = await asyncio.to_thread(console.users.authenticate, username, password)
    if user is None:
        log.info("console: failed sign-in")
        response = aiohttp_jinja2.render_template(
            "login.html", request, {"error": "Sai tên đăng nhập hoặc mật khẩu."}
        )
        response.set_status(401)
        return response
    request["session"] = new_session(user.username)
    request["user"] = user
    log.info("console: %s signed in (%s)", user.username, user.role)
    raise web.HTTPSeeOther("/queue")


async def logout(request: web.Request) -> web.StreamResponse:
    request["clear_session"] = True
    raise web.HTTPSeeOther("/login")


# -- queue and detail pages -----------------------------------------------------------------


@require()
async def queue_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    assert user is not None
    filters = parse_filters(request, user)
    views, has_next = await fetch_page(request, filters)
    context = {
        "rows": [row_for(user, v) for v in views],
        "filters": filters,
        "query": filters.query(),
        "page": filters.page,
        "has_next": has_next,
        "prev_query": filters.query(filters.page - 1),
        "next_query": filters.query(filters.page + 1),
    }
    return aiohttp_jinja2.render_template("queue.html", request, context)


def _event_row(event: EventView, at: str) -> dict[str, Any]:
    """One row of a request's history, as the page and the API show it (``at`` formatted
    for each: local time on the page, ISO 8601 in the API)."""
    return {
        "from_status": event.from_status,
        "to_status": event.to_status,
        "actor": event.actor,
        "reason": event.reason,
        "at": at,
    }


@require()
async def request_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    assert user is not None
    view = await visible_request(request, user)
    row = row_for(user, view)
    service = console_of(request).ready_store.service
    # The history: status changes with their reasons, and what a repeat confirmation said
    # that the request does not (another address typed: bot.requests, _confirmed_again).
    history = await asyncio.to_thread(service.history, view.reference)
    return aiohttp_jinja2.render_template(
        "request.html",
        request,
        {
            "r": row,
            "next_statuses": row["next_statuses"],
            "guides": page_guides("request"),
            "history": [_event_row(e, local_time(e.created_at)) for e in history],
        },
    )


async def _change_status(
    request: web.Request, user: User, view: RequestView, to_status: str, reason: str | None
) -> RequestView:
    if to_status not in STATUSES:
        raise error(request, 400, f"Trạng thái không hợp lệ: {to_status or '(trống)'}")
    if reason is not None and len(reason) > _MAX_FIELD:
        raise error(request, 400, "Lý do quá dài.")
    store = console_of(request).ready_store
    try:
        changed = await asyncio.to_thread(
            store.service.transition,
            view.reference,
            to_status,
            f"console:{user.username}",
            reason or None,
        )
    except IllegalTransition as exc:
        names = labels()["statuses"]
        raise error(
            request,
            409,
            f"Không thể chuyển từ «{names.get(exc.from_status, exc.from_status)}» sang "
            f"«{names.get(exc.to_status, exc.to_status)}».",
        ) from None
    # Tell the team chats (edited by the dispatcher through the outbox).
    await asyncio.to_thread(enqueue_status_changed, store.sessions, changed.reference)
    return changed


@require()
async def change_status_form(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    assert user is not None
    view = await visible_request(request, user)
    form = await request.post()
    to_status = str(form.get("to_status") or "").strip()
    reason = str(form.get("reason") or "").strip() or None
    await _change_status(request, user, view, to_status, reason)
    raise web.HTTPSeeOther(f"/requests/{view.reference}")


# -- CSV export ---------------------------------------------------------------------------------

CSV_COLUMNS = (
    ("reference", "Mã yêu cầu"),
    ("created", "Tạo lúc"),
    ("type_label", "Loại"),
    ("status_label", "Trạng thái"),
    ("phone", "Số điện thoại"),
    ("contact_name", "Tên khách"),
    ("address_text", "Địa chỉ"),
    ("ward_name", "Phường/xã"),
    ("province_name", "Tỉnh/thành"),
    ("team_name", "Đội phụ trách"),
    ("route_rule", "Quy tắc định tuyến"),
    ("delivery_note", "Ghi chú giao"),
    ("channel", "Kênh"),
    ("campaign", "Chiến dịch"),
)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a cell starting with = + - @ is data, not a formula.
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


@require()
async def export_csv(request: web.Request) -> web.StreamResponse:
    """UTF-8 with BOM and CRLF, so Excel opens Vietnamese text correctly."""
    user = current_user(request)
    assert user is not None
    filters = parse_filters(request, user)
    service = console_of(request).ready_store.service
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="yeu-cau-sim4g-{stamp}.csv"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([title for _, title in CSV_COLUMNS])
    offset = 0
    while True:
        views = await asyncio.to_thread(
            service.list, **filters.service_kwargs(), limit=EXPORT_BATCH, offset=offset
        )
        for view in views:
            row = row_for(user, view)
            writer.writerow([_cell(row[key]) for key, _ in CSV_COLUMNS])
        await response.write(buffer.getvalue().encode("utf-8"))
        buffer.seek(0)
        buffer.truncate()
        if len(views) < EXPORT_BATCH:
            break
        offset += EXPORT_BATCH
    await response.write_eof()
    log.info("console: %s exported requests (%s)", user.username, filters.query() or "all")
    return response


# -- operator intake --------------------------------------------------------------------


@dataclass
class IntakeInput:
    request_type: str
    phone: str
    contact_name: str | None
    address_text: str | None
    province_code: str | None
    callback_requested: bool
    note: str | None
    # The ward the operator picked when the address names an old district or a split
    # ward but no current ward (``WARD_UNKNOWN``: the caller does not know it).
    ward_code: str | None = None


def _intake_input(request: web.Request, data: dict[str, Any]) -> IntakeInput:
    def text(key: str) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, (str, int)):
            raise error(request, 400, f"Trường {key} không hợp lệ.")
        value = str(value).strip()
        if len(value) > _MAX_FIELD:
            raise error(request, 400, f"Trường {key} quá dài.")
        return value or None

    flag = data.get("callback_requested")
    return IntakeInput(
        request_type=text("request_type") or "",
        phone=text("phone") or "",
        contact_name=text("contact_name"),
        address_text=text("address_text"),
        province_code=text("province_code"),
        callback_requested=flag in (True, "1", "on", "true"),
        note=text("note"),
        ward_code=text("ward_code"),
    )


class IntakeError(Exception):
    """Operator input that cannot become a request; ``candidates`` help pick a province,
    ``wards`` (code, label) are the current wards to pick from."""

    def __init__(
        self,
        messages: list[str],
        candidates: list[str] | None = None,
        wards: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages
        self.candidates = candidates or []
        self.wards = wards or []


# What the operator picks when the caller does not know the current ward: the request
# goes to the province team, which asks on its call-back.
WARD_UNKNOWN = "-"
# Every current ward an old district became (at most 14): the page's list is a drop-down,
# not the chat's five buttons (actions.form.MAX_CHOICES; a district of more wards is asked
# there to be typed, bot.address.ward_to_type). An old ward split between new ones, or a
# name several wards share, offers the resolver's candidates (at most five).
MAX_WARD_CHOICES = 15


def _with_ward(entry: IntakeInput, resolution: Resolution) -> Resolution:
    """``resolution`` with the current ward the operator picked, when the address names no
    ward but some current ones of its province (an old district that became two wards or
    more, or an old ward split between new ones), as the chat asks the customer. The
    ward decides which sales force (or restricted-zone unit) gets the request."""
    from bot.address import choice_labels, ward_question  # as optional as resolve itself

    wards = ward_question(resolution, MAX_WARD_CHOICES)
    if not wards or entry.ward_code == WARD_UNKNOWN:
        return resolution
    picked = next((ward for ward in wards if ward.ward_code == entry.ward_code), None)
    if picked is None:
        raise IntakeError(
            [
                "Địa chỉ chưa rõ phường/xã hiện nay: hãy hỏi khách và chọn phường/xã, hoặc "
                "chọn “Không rõ” để chuyển đội tỉnh/thành."
            ],
            # The old district beside the new name when they differ ("Phường Long Châu
            # (TP Vĩnh Long)"): the caller says the old names.
            wards=[
                (ward.ward_code or "", label)
                for ward, label in zip(wards, choice_labels(wards), strict=True)
            ],
        )
    return replace(
        resolution,
        status="resolved",
        ward_code=picked.ward_code,
        ward_name=picked.ward_name,
        old_ward_name=picked.old_ward_name or resolution.old_ward_name,
        confidence=1.0,  # the operator chose it with the caller
        candidates=(),
    )


def _resolve_units(entry: IntakeInput, province_names: dict[str, str]) -> dict[str, object]:
    """Units from the address (``bot.address``), or the operator's explicit province."""
    if entry.province_code is not None and entry.province_code not in province_names:
        raise IntakeError([f"Mã tỉnh/thành không hợp lệ: {entry.province_code}"])
    resolution = None
    if entry.address_text:
        try:
            from bot.address import resolve, resolve_in_province
        except ImportError:  # the resolver is optional: route by the explicit province
            resolve = resolve_in_province = None  # type: ignore[assignment]
        if resolve is not None and resolve_in_province is not None:
            resolution = (
                resolve_in_province(entry.address_text, entry.province_code)
                if entry.province_code
                else resolve(entry.address_text)
            )
    if (
        resolution is not None
        and resolution.province_code
        and resolution.status in {"resolved", "province_only"}
        and entry.province_code in (None, resolution.province_code)
    ):
        return dict(_with_ward(entry, resolution).to_dict())
    if entry.province_code:
        units: dict[str, object] = {"province_code": entry.province_code}
        if resolution is not None:
            units["resolution"] = resolution.to_dict()
        return units
    candidates = [c.label for c in resolution.candidates] if resolution is not None else []
    raise IntakeError(
        ["Không xác định được tỉnh/thành từ địa chỉ: hãy chọn tỉnh/thành của khách."],
        candidates,
    )


_DRAFT_ERRORS = {
    "invalid_type": "Loại yêu cầu không hợp lệ.",
    "invalid_phone": "Số điện thoại không phải số di động Việt Nam hợp lệ.",
    "no_province": "Chưa có tỉnh/thành.",
    "unknown_province": "Tỉnh/thành chưa có đội phụ trách.",
    "too_long": "Nội dung quá dài.",
}


def _submit(request: web.Request, user: User, entry: IntakeInput) -> Any:
    console = console_of(request)
    units = _resolve_units(entry, console.province_names)
    draft = RequestDraft(
        request_type=entry.request_type,
        phone=entry.phone,
        channel="operator",
        sender_id=f"operator:{user.username}",
        contact_name=entry.contact_name,
        address_text=entry.address_text,
        units=units,
        callback_requested=entry.callback_requested,
        note=entry.note,
    )
    try:
        return console.ready_store.service.submit(draft, actor=f"console:{user.username}")
    except InvalidDraft as exc:
        raise IntakeError([_DRAFT_ERRORS.get(exc.reason, str(exc))]) from None


@require(_is_intake)
@aiohttp_jinja2.template("intake.html")
async def intake_page(request: web.Request) -> dict[str, Any]:
    return {"form": {}, "guides": page_guides("intake")}


@require(_is_intake)
async def intake_form(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    assert user is not None
    form = await request.post()
    data = {k: v for k, v in form.items() if k != CSRF_FIELD and isinstance(v, str)}
    entry = _intake_input(request, data)
    try:
        outcome = await asyncio.to_thread(_submit, request, user, entry)
    except IntakeError as exc:
        response = aiohttp_jinja2.render_template(
            "intake.html",
            request,
            {
                "form": data,
                "errors": exc.messages,
                "candidates": exc.candidates,
                "wards": exc.wards,
                "ward_unknown": WARD_UNKNOWN,
                "guides": page_guides("intake"),
            },
        )
        response.set_status(400)
        return response
    log.info(
        "console: %s entered %s for %s (%s)",
        user.username,
        outcome.reference,
        mask(entry.phone),
        "new" if outcome.created else "existing",
    )
    response = aiohttp_jinja2.render_template(
        "intake.html",
        request,
        {"form": {}, "outcome": outcome, "guides": page_guides("intake")},
    )
    response.set_status(201 if outcome.created else 200)
    return response


# -- JSON API -------------------------------------------------------------------------------


@require()
async def api_me(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    assert user is not None
    return web.json_response(
        {
            "username": user.username,
            "role": user.role,
            "province_code": user.province_code,
            "csrf_token": request["session"]["csrf"],
        }
    )


@require()
async def api_list(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    assert user is not None
    filters = parse_filters(request, user)
    views, has_next = await fetch_page(request, filters)
    return _json(
        {"page": filters.page, "has_next": has_next, "requests": [row_for(user, v) for v in views]}
    )


@require()
async def api_get(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    assert user is not None
    view = await visible_request(request, user)
    service = console_of(request).ready_store.service
    events = await asyncio.to_thread(service.history, view.reference)
    body = row_for(user, view)
    body["events"] = [_event_row(e, e.created_at.isoformat()) for e in events]
    return _json(body)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise error(request, 400, "Cần gửi JSON (Content-Type: application/json).")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise error(request, 400, "JSON không hợp lệ.") from None
    if not isinstance(body, dict):
        raise error(request, 400, "JSON phải là một đối tượng.")
    return body


@require()
async def api_change_status(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    assert user is not None
    view = await visible_request(request, user)
    body = await _json_body(request)
    to_status = body.get("to_status")
    reason = body.get("reason")
    if not isinstance(to_status, str) or (reason is not None and not isinstance(reason, str)):
        raise error(request, 400, "to_status (chuỗi) là bắt buộc; reason là chuỗi.")
    changed = await _change_status(request, user, view, to_status.strip(), reason)
    return _json(row_for(user, changed))


@require(_is_intake)
async def api_intake(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    assert user is not None
    body = await _json_body(request)
    entry = _intake_input(request, body)
    try:
        outcome = await asyncio.to_thread(_submit, request, user, entry)
    except IntakeError as exc:
        return _json(
            {
                "error": exc.messages[0],
                "candidates": exc.candidates,
                "wards": [{"ward_code": code, "label": label} for code, label in exc.wards],
                "ward_unknown": WARD_UNKNOWN,
            },
            status=400,
        )
    return _json(
        {
            "reference": outcome.reference,
            "status": outcome.status,
            "created": outcome.created,
            "team_id": outcome.team_id,
            "team_name": outcome.team_name,
            "route_rule": outcome.route_rule,
            "delivery_note": outcome.delivery_note,
        },
        status=201 if outcome.created else 200,
    )


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(
        body, status=status, dumps=lambda data: json.dumps(data, ensure_ascii=False)
    )


# -- Telegram webhook -----------------------------------------------------------------------


async def telegram_webhook(request: web.Request) -> web.StreamResponse:
    """Button presses pushed by Telegram (``setWebhook`` with ``secret_token``)."""
    console = console_of(request)
    secret = console.webhook_secret
    supplied = request.headers.get(WEBHOOK_HEADER, "")
    if not secret or not hmac.compare_digest(supplied.encode(), secret.encode()):
        raise error(request, 403, "forbidden")
    if console.telegram is None or console.dispatcher is None:
        raise error(request, 503, "Telegram is not configured")
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise error(request, 400, "invalid JSON") from None
    update = console.telegram.parse_update(data) if isinstance(data, dict) else None
    if update is None:
        raise error(request, 400, "not an update")
    await console.dispatcher.handle_update(update)
    return web.json_response({"ok": True})


async def health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    from bot.console import reports

    reports.add_routes(app)
    app.router.add_get("/", index)
    app.router.add_get("/healthz", health)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/queue", queue_page)
    app.router.add_get("/requests/{reference}", request_page)
    app.router.add_post("/requests/{reference}/status", change_status_form)
    app.router.add_get("/export.csv", export_csv)
    app.router.add_get("/intake", intake_page)
    app.router.add_post("/intake", intake_form)
    app.router.add_get("/api/me", api_me)
    app.router.add_get("/api/requests", api_list)
    app.router.add_post("/api/requests", api_intake)
    app.router.add_get("/api/requests/{reference}", api_get)
    app.router.add_post("/api/requests/{reference}/status", api_change_status)
    app.router.add_post("/telegram/webhook", telegram_webhook)
