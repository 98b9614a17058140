"""The request service: validate, dedupe, route, store, notify — one call per confirmation.

Every caller (the Rasa confirmation action, the operators' intake form, the console,
the Telegram dispatcher) goes through :class:`RequestService`, so the same customer
confirming twice, on two channels or on two replicas at the same instant still ends
with one open request: the database's partial unique index on (phone, type) is the
arbiter, and the loser of the race is handed the winner's request.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import phone as phones
from bot.requests import lifecycle
from bot.requests.errors import IllegalTransition, InvalidDraft, UnknownRequest
from bot.requests.outbox import KIND_DETAILS_ADDED, KIND_NEW_REQUEST, Outbox, queue_in
from bot.requests.reference import new_reference, normalize_reference
from bot.requests.schema import OPEN_PREDICATE, request_events, sim_requests, teams
from bot.routing import Directory, RouteDecision, UnknownUnit

log = logging.getLogger(__name__)

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_CHANNEL = re.compile(r"[a-z][a-z0-9_]{0,31}")
_MAX_TEXT = 1000
_MAX_NAME = 200


def utcnow() -> datetime:
    """Aware UTC now; every timestamp in the store is UTC."""
    return datetime.now(timezone.utc)


def mask_e164(e164: str) -> str:
    """Mask a stored +84 number in its national spelling, as staff read it: 090****567."""
    digits = e164.lstrip("+")
    national = "0" + digits[2:] if digits.startswith("84") else digits
    return phones.mask(national)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for timezone=True columns; they were stored as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


@dataclass(frozen=True)
class RequestDraft:
    """What a channel collected and the customer confirmed."""

    request_type: str  # sim_swap | new_subscription | advice | callback
    phone: str  # as typed; the service normalises with bot.phone.parse
    channel: str  # rest, socketio, facebook, zalo, liveinfo, telegram, webform, operator...
    sender_id: str
    contact_name: str | None = None
    address_text: str | None = None
    units: Mapping[str, object] | None = None  # Resolution.to_dict() or {"province_code": ...}
    campaign: str | None = None
    callback_requested: bool = False
    note: str | None = None
    # The channel of the customer's last message when it differs from ``channel`` (the
    # channel that brought them): a Liveinfo Yes finished on the web page is ``liveinfo``
    # here, ``socketio`` there. Kept in the creation event's reason.
    last_channel: str | None = None


@dataclass(frozen=True)
class SubmitOutcome:
    """What the bot tells the customer after a confirmation."""

    reference: str
    status: str
    created: bool  # False: the customer's existing open request was found
    request_type: str
    team_id: str
    team_name: str
    route_rule: str
    delivery_note: str | None
    # Found again (``created`` False) from another conversation than the one that sent it:
    # the bot names neither its reference nor its team to whoever typed the number.
    elsewhere: bool = False
    # Found again with details it did not have (another address or name): they were
    # written to its history for the team.
    updated: bool = False


@dataclass(frozen=True)
class RequestView:
    """A snapshot of one stored request (full data: mask before showing or logging)."""

    reference: str
    request_type: str
    status: str
    phone: str
    carrier: str | None
    contact_name: str | None
    address_text: str | None
    province_code: str
    province_name: str | None
    ward_code: str | None
    ward_name: str | None
    old_province_name: str | None
    old_district_name: str | None
    old_ward_name: str | None
    resolution_confidence: float | None
    channel: str
    sender_id: str
    campaign: str | None
    note: str | None
    callback_requested: bool
    team_id: str
    team_name: str
    route_rule: str
    delivery_note: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    units: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def masked_phone(self) -> str:
        """``090****567``: for logs and for a team that has not accepted the request."""
        return mask_e164(self.phone)

    @property
    def is_open(self) -> bool:
        return self.status in lifecycle.OPEN_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (ISO timestamps), for exports and APIs."""
        data = asdict(self)
        for key in ("created_at", "updated_at", "closed_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        data["units"] = dict(self.units) if self.units is not None else None
        return data


@dataclass(frozen=True)
class EventView:
    """One status change: who, when, why, from → to."""

    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    created_at: datetime


_VIEW_COLUMNS = (
    sim_requests.c.id,
    sim_requests.c.reference,
    sim_requests.c.request_type,
    sim_requests.c.status,
    sim_requests.c.phone_e164,
    sim_requests.c.carrier,
    sim_requests.c.contact_name,
    sim_requests.c.address_text,
    sim_requests.c.province_code,
    sim_requests.c.province_name,
    sim_requests.c.ward_code,
    sim_requests.c.ward_name,
    sim_requests.c.old_province_name,
    sim_requests.c.old_district_name,
    sim_requests.c.old_ward_name,
    sim_requests.c.resolution_confidence,
    sim_requests.c.channel,
    sim_requests.c.sender_id,
    sim_requests.c.campaign,
    sim_requests.c.note,
    sim_requests.c.callback_requested,
    sim_requests.c.team_id,
    teams.c.name.label("team_name"),
    sim_requests.c.route_rule,
    sim_requests.c.delivery_note,
    sim_requests.c.created_by,
    sim_requests.c.created_at,
    sim_requests.c.updated_at,
    sim_requests.c.closed_at,
    sim_requests.c.units,
)
_VIEW_FROM = sim_requests.join(teams, teams.c.id == sim_requests.c.team_id)


def _view(row: Row) -> RequestView:
    m = row._mapping
    return RequestView(
        reference=m["reference"],
        request_type=m["request_type"],
        status=m["status"],
        phone=m["phone_e164"],
        carrier=m["carrier"],
        contact_name=m["contact_name"],
        address_text=m["address_text"],
        province_code=m["province_code"],
        province_name=m["province_name"],
        ward_code=m["ward_code"],
        ward_name=m["ward_name"],
        old_province_name=m["old_province_name"],
        old_district_name=m["old_district_name"],
        old_ward_name=m["old_ward_name"],
        resolution_confidence=m["resolution_confidence"],
        channel=m["channel"],
        sender_id=m["sender_id"],
        campaign=m["campaign"],
        note=m["note"],
        callback_requested=bool(m["callback_requested"]),
        team_id=m["team_id"],
        team_name=m["team_name"],
        route_rule=m["route_rule"],
        delivery_note=m["delivery_note"],
        created_by=m["created_by"],
        created_at=_aware(m["created_at"]),  # type: ignore[arg-type]
        updated_at=_aware(m["updated_at"]),  # type: ignore[arg-type]
        closed_at=_aware(m["closed_at"]),
        units=m["units"],
    )


def _text(value: object, limit: int, field_name: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > limit:
        raise InvalidDraft(f"{field_name} longer than {limit} characters", reason="too_long")
    return text or None


def _unit_str(units: Mapping[str, object], key: str) -> str | None:
    value = units.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text[:100] or None


def _record_event(
    session: Session,
    view: RequestView,
    to_status: str,
    actor: str,
    reason: str | None,
    at: datetime,
) -> int:
    """One row of a request's history: a status change, or (``to_status`` its status) a
    note on it. Returns the request's row id."""
    request_id = session.execute(
        select(sim_requests.c.id).where(sim_requests.c.reference == view.reference)
    ).scalar_one()
    session.execute(
        insert(request_events).values(
            request_id=request_id,
            from_status=view.status,
            to_status=to_status,
            actor=actor[:100],
            reason=reason,
            created_at=at,
        )
    )
    return int(request_id)


def _confirmed_again(
    view: RequestView, values: Mapping[str, Any], elsewhere: bool, known: Iterable[str] = ()
) -> str | None:
    """What a repeat confirmation (from another conversation than the request's when
    ``elsewhere``) says that the open request does not, nor any note of its history
    (``known``), for its history (the team reads it there, in Vietnamese as the rest of
    its console), or None when it says nothing new."""
    told = []
    address = values.get("address_text")
    if address and address != view.address_text:
        area = ", ".join(
            str(part) for part in (values.get("ward_name"), values.get("province_name")) if part
        )
        told.append(f'địa chỉ "{address}"' + (f" ({area})" if area else ""))
    name = values.get("contact_name")
    if name and name != view.contact_name:
        told.append(f'tên "{name}"')
    notes = list(known)
    told = [item for item in told if not any(item in note for note in notes)]
    if not told:
        return None
    where = "một cuộc trò chuyện khác" if elsewhere else "cùng cuộc trò chuyện"
    return f"Khách xác nhận lại qua {values.get('channel')}, từ {where}: " + "; ".join(told)


def _confidence(units: Mapping[str, object]) -> float | None:
    value = units.get("confidence")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _json_safe(value: object) -> Any:
    """The resolver's dict, reduced to JSON types (candidates may hold objects)."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return _json_safe(to_dict())
    return str(value)


_EVENT_INSERT = insert(request_events)


@lru_cache(maxsize=4)
def _request_insert(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING on the open-request index, for one dialect."""
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    return maker(sim_requests).on_conflict_do_nothing(
        index_elements=[sim_requests.c.phone_e164, sim_requests.c.request_type],
        index_where=text(OPEN_PREDICATE),
    )


class RequestService:
    """Validate, dedupe, route, store and enqueue notifications for requests."""

    def __init__(self, session_factory: sessionmaker[Session], directory: Directory) -> None:
        self._sessions = session_factory
        self.directory = directory
        self.outbox = Outbox(session_factory)
        self.sync_teams()

    # -- teams -------------------------------------------------------------------------

    def sync_teams(self) -> None:
        """Upsert the directory's teams (the directory file is the source of truth);
        teams no longer in it are kept for history but marked inactive."""
        now = utcnow()
        rows = [
            {
                "id": team.id,
                "name": team.name,
                "kind": team.kind,
                "province_code": team.province_code,
                "region_id": team.region_id,
                "chat_id": team.chat_id,
                "escalation_chat_id": team.escalation_chat_id,
                "active": True,
                "updated_at": now,
            }
            for team in self.directory.teams.values()
        ]
        with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            maker = pg_insert if dialect == "postgresql" else sqlite_insert
            if dialect not in ("postgresql", "sqlite"):
                raise RuntimeError(f"unsupported database dialect {dialect}")
            for chunk in _chunks(rows, 200):
                stmt = maker(teams).values(chunk)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[teams.c.id],
                    set_={
                        name: stmt.excluded[name]
                        for name in (
                            "name",
                            "kind",
                            "province_code",
                            "region_id",
                            "chat_id",
                            "escalation_chat_id",
                            "active",
                            "updated_at",
                        )
                    },
                )
                session.execute(stmt)
            session.execute(
                update(teams)
                .where(teams.c.id.not_in(list(self.directory.teams)), teams.c.active.is_(True))
                .values(active=False, updated_at=now)
            )

    # -- submit ------------------------------------------------------------------------

    def submit(self, draft: RequestDraft, actor: str = "bot") -> SubmitOutcome:
        """Store the confirmed draft once, routed, with an outbox row for the team;
        or hand back the customer's open request of that type."""
        request_type = (draft.request_type or "").strip()
        if request_type not in lifecycle.REQUEST_TYPES:
            raise InvalidDraft(f"unknown request type {request_type!r}", reason="invalid_type")
        try:
            phone = phones.parse(draft.phone or "")
        except phones.InvalidPhoneError as exc:
            raise InvalidDraft(f"invalid phone: {exc}", reason="invalid_phone") from exc
        channel = (draft.channel or "").strip().lower()
        if not _CHANNEL.fullmatch(channel):
            raise InvalidDraft("channel must be a short lower-case name", reason="invalid_channel")
        sender_id = _text(draft.sender_id, _MAX_NAME, "sender_id")
        if not sender_id:
            raise InvalidDraft("sender_id is required", reason="invalid_sender")
        units = dict(draft.units or {})
        province_code = str(units.get("province_code") or "").strip()
        if not province_code:
            raise InvalidDraft("the address has no province", reason="no_province")
        units["province_code"] = province_code

        try:
            decision = self.directory.route(units, on=datetime.now(LOCAL_TZ).date())
        except UnknownUnit as exc:
            raise InvalidDraft(str(exc), reason="unknown_province") from exc

        values = {
            "request_type": request_type,
            "status": lifecycle.NEW,
            "phone_e164": phone.e164,
            "carrier": phone.carrier,
            "contact_name": _text(draft.contact_name, _MAX_NAME, "contact_name"),
            "address_text": _text(draft.address_text, _MAX_TEXT, "address_text"),
            "province_code": province_code,
            "province_name": _unit_str(units, "province_name") or decision.province_name,
            "ward_code": _unit_str(units, "ward_code"),
            "ward_name": _unit_str(units, "ward_name"),
            "old_province_name": _unit_str(units, "old_province_name"),
            "old_district_name": _unit_str(units, "old_district_name"),
            "old_ward_name": _unit_str(units, "old_ward_name"),
            "resolution_confidence": _confidence(units),
            "units": _json_safe(units),
            "channel": channel,
            "sender_id": sender_id,
            "campaign": _text(draft.campaign, 100, "campaign"),
            "note": _text(draft.note, _MAX_TEXT, "note"),
            "callback_requested": bool(draft.callback_requested),
            "team_id": decision.team.id,
            "route_rule": decision.rule,
            "delivery_note": decision.delivery_note,
            "created_by": _text(actor, 100, "actor") or "bot",
        }
        last_channel = (draft.last_channel or "").strip().lower()
        reason = f"submitted via {channel}"
        if last_channel and last_channel != channel and _CHANNEL.fullmatch(last_channel):
            reason += f", last message on {last_channel}"
        for _attempt in range(5):
            reference = new_reference()
            try:
                request_id = self._insert(reference, values, decision, reason=reason)
            except IntegrityError:
                continue  # the reference collided (astronomically rare): draw another
            if request_id is None:
                # The open-request index already holds this phone and type: a repeat
                # confirmation, or a concurrent twin that won. Hand that request back.
                existing = self._find_open_view(phone.e164, request_type)
                if existing is not None:
                    return self._found(existing, values, actor)
                continue  # it was closed in between: try again
            log.info(
                "request %s created type=%s phone=%s channel=%s province=%s team=%s rule=%s",
                reference,
                request_type,
                phone.masked,
                channel,
                province_code,
                decision.team.id,
                decision.rule,
            )
            if values["campaign"]:
                self._funnel_stored(values["campaign"], phone.e164, request_id)
            return SubmitOutcome(
                reference=reference,
                status=lifecycle.NEW,
                created=True,
                request_type=request_type,
                team_id=decision.team.id,
                team_name=decision.team.name,
                route_rule=decision.rule,
                delivery_note=decision.delivery_note,
            )
        raise RuntimeError("could not store the request after 5 attempts")

    def _insert(
        self,
        reference: str,
        values: dict[str, Any],
        decision: RouteDecision,
        *,
        reason: str | None = None,
    ) -> int | None:
        """One transaction: request, creation event, outbox row; the new request's id.
        None (nothing written) when an open request of that phone and type exists: the
        database decides, in one round trip, so racing replicas cannot both insert."""
        now = utcnow()
        with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            # Statements without values compile once and are cached by SQLAlchemy; the
            # row travels as execute parameters (building .values() each time recompiled).
            result = session.execute(
                _request_insert(dialect),
                {"reference": reference, "created_at": now, "updated_at": now, **values},
            )
            if result.rowcount != 1:
                return None
            request_id = int(result.inserted_primary_key[0])
            session.execute(
                _EVENT_INSERT,
                {
                    "request_id": request_id,
                    "from_status": None,
                    "to_status": lifecycle.NEW,
                    "actor": values["created_by"],
                    "reason": reason or f"submitted via {values['channel']}",
                    "created_at": now,
                },
            )
            queue_in(
                session,
                request_id,
                decision.team.id,
                KIND_NEW_REQUEST,
                self._payload(reference, values, decision),
                now,
            )
        return request_id

    # -- the campaign funnel -----------------------------------------------------------

    def _funnel_engine(self) -> Engine | None:
        bind = self._sessions.kw.get("bind")
        return bind if isinstance(bind, Engine) else None

    def _funnel_stored(self, campaign: str, e164: str, request_id: int) -> None:
        """A campaign's request was stored: its target's "request confirmed" step.
        Never fails the submit (the hook logs and swallows its own errors)."""
        from bot.campaign import hooks

        engine = self._funnel_engine()
        if engine is not None:
            hooks.request_stored(engine, campaign, e164, request_id, utcnow())

    def _funnel_moved(self, view: RequestView, to_status: str, at: datetime) -> None:
        """A campaign's request was accepted, done or unreachable: the target's step."""
        from bot.campaign import hooks

        engine = self._funnel_engine()
        if engine is not None and view.campaign:
            hooks.request_moved(engine, view.campaign, view.phone, to_status, at)

    def _payload(
        self, reference: str, values: Mapping[str, Any], decision: RouteDecision
    ) -> dict[str, Any]:
        """What the team message needs; the phone only masked (the full number is read
        from the store once the team accepts)."""
        return {
            "reference": reference,
            "request_type": values["request_type"],
            "masked_phone": mask_e164(values["phone_e164"]),
            "carrier": values["carrier"],
            "contact_name": values["contact_name"],
            "address_text": values["address_text"],
            "province_code": values["province_code"],
            "province_name": values["province_name"],
            "ward_code": values["ward_code"],
            "ward_name": values["ward_name"],
            "callback_requested": values["callback_requested"],
            "team_id": decision.team.id,
            "team_name": decision.team.name,
            "route_rule": decision.rule,
            "delivery_note": decision.delivery_note,
            "chat_id": self.directory.chat_for(decision.team.id),
            "escalation_chat_id": self.directory.escalation_chat_for(decision.team.id),
        }

    def _found(self, view: RequestView, values: dict[str, Any], actor: str) -> SubmitOutcome:
        """The open request confirmed again. What the confirmation says that the request
        does not (another address or name, typed in another conversation or the same) is
        written to its history for the team, who confirm it at the call-back: nothing the
        customer gave is dropped, and the request is not moved. The team's chat is told
        too (``details_added``): the team works from its Telegram post, which still shows
        the first address."""
        elsewhere = view.sender_id != values["sender_id"]
        # Details the history holds already (confirmed once more) are not news.
        notes = [e.reason for e in self.history(view.reference) if e.reason]
        told = _confirmed_again(view, values, elsewhere, notes)
        if told:
            now = utcnow()
            with self._sessions.begin() as session:
                request_id = _record_event(session, view, view.status, actor or "bot", told, now)
                payload = {"reference": view.reference, "note": told}
                queue_in(session, request_id, view.team_id, KIND_DETAILS_ADDED, payload, now)
        log.info(
            "request %s found open again type=%s phone=%s from=%s%s",
            view.reference,
            view.request_type,
            view.masked_phone,
            "another conversation" if elsewhere else "its conversation",
            ", new details written to its history" if told else "",
        )
        return SubmitOutcome(
            reference=view.reference,
            status=view.status,
            created=False,
            request_type=view.request_type,
            team_id=view.team_id,
            team_name=view.team_name,
            route_rule=view.route_rule,
            delivery_note=view.delivery_note,
            elsewhere=elsewhere,
            updated=told is not None,
        )

    def _find_open_view(self, e164: str, request_type: str) -> RequestView | None:
        found = self.find_open(e164, request_type)
        return found[0] if found else None

    # -- queries -----------------------------------------------------------------------

    def find_open(self, phone: str, request_type: str | None = None) -> list[RequestView]:
        """The open requests of a phone number (any spelling), newest first."""
        try:
            e164 = phones.parse(phone).e164
        except phones.InvalidPhoneError as exc:
            raise InvalidDraft(f"invalid phone: {exc}", reason="invalid_phone") from exc
        stmt = (
            select(*_VIEW_COLUMNS)
            .select_from(_VIEW_FROM)
            .where(
                sim_requests.c.phone_e164 == e164,
                # Spelled like the partial index's predicate, so the planner can use it.
                sim_requests.c.status.not_in(sorted(lifecycle.CLOSED_STATUSES)),
            )
            .order_by(sim_requests.c.created_at.desc(), sim_requests.c.id.desc())
        )
        if request_type is not None:
            stmt = stmt.where(sim_requests.c.request_type == request_type)
        with self._sessions() as session:
            return [_view(row) for row in session.execute(stmt)]

    def get(self, reference: str) -> RequestView:
        """The request with that reference (any spelling a person types); or UnknownRequest."""
        canonical = normalize_reference(reference or "")
        if canonical is None:
            raise UnknownRequest(f"no request {reference!r}")
        stmt = (
            select(*_VIEW_COLUMNS)
            .select_from(_VIEW_FROM)
            .where(sim_requests.c.reference == canonical)
        )
        with self._sessions() as session:
            row = session.execute(stmt).first()
        if row is None:
            raise UnknownRequest(f"no request {canonical}")
        return _view(row)

    def latest_by_sender(self, sender_id: str) -> RequestView | None:
        """The latest request the conversation ``sender_id`` sent, or None: what the
        customer asking how their request stands is shown. Never one found by a phone
        number typed in the chat, which anyone can type (9090 answers those)."""
        found = self.by_sender(sender_id, limit=1)
        return found[0] if found else None

    def by_sender(self, sender_id: str, limit: int = 10) -> list[RequestView]:
        """The requests the conversation ``sender_id`` sent, latest first (at most
        ``limit``): a customer who sent one for a relative too is told of both."""
        stmt = (
            select(*_VIEW_COLUMNS)
            .select_from(_VIEW_FROM)
            .where(sim_requests.c.sender_id == sender_id)
            .order_by(sim_requests.c.created_at.desc(), sim_requests.c.id.desc())
            .limit(limit)
        )
        with self._sessions() as session:
            return [_view(row) for row in session.execute(stmt)]

    def history(self, reference: str) -> list[EventView]:
        """Every status change of a request (and its SLA escalation), oldest first."""
        view = self.get(reference)
        stmt = (
            select(request_events)
            .join(sim_requests, sim_requests.c.id == request_events.c.request_id)
            .where(sim_requests.c.reference == view.reference)
            .order_by(request_events.c.id)
        )
        with self._sessions() as session:
            return [
                EventView(
                    from_status=r.from_status,
                    to_status=r.to_status,
                    actor=r.actor,
                    reason=r.reason,
                    created_at=_aware(r.created_at),  # type: ignore[arg-type]
                )
                for r in session.execute(stmt)
            ]

    def list(
        self,
        *,
        province_code: str | None = None,
        status: str | Iterable[str] | None = None,
        ward_code: str | None = None,
        request_type: str | None = None,
        older_than: timedelta | datetime | None = None,
        team_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[RequestView]:
        """A queue page, oldest first. ``older_than`` is an age (timedelta) or a cut-off
        instant (datetime): only requests created before it."""
        stmt = select(*_VIEW_COLUMNS).select_from(_VIEW_FROM)
        if province_code is not None:
            stmt = stmt.where(sim_requests.c.province_code == province_code)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            stmt = stmt.where(sim_requests.c.status.in_(statuses))
        if ward_code is not None:
            stmt = stmt.where(sim_requests.c.ward_code == ward_code)
        if request_type is not None:
            stmt = stmt.where(sim_requests.c.request_type == request_type)
        if team_id is not None:
            stmt = stmt.where(sim_requests.c.team_id == team_id)
        if older_than is not None:
            cutoff = utcnow() - older_than if isinstance(older_than, timedelta) else older_than
            stmt = stmt.where(sim_requests.c.created_at < cutoff)
        stmt = (
            stmt.order_by(sim_requests.c.created_at, sim_requests.c.id)
            .limit(max(0, min(int(limit), 10_000)))
            .offset(max(0, int(offset)))
        )
        with self._sessions() as session:
            return [_view(row) for row in session.execute(stmt)]

    def count(self, *, province_code: str | None = None, status: str | None = None) -> int:
        """How many requests match (for reports and paging)."""
        stmt = select(func.count()).select_from(sim_requests)
        if province_code is not None:
            stmt = stmt.where(sim_requests.c.province_code == province_code)
        if status is not None:
            stmt = stmt.where(sim_requests.c.status == status)
        with self._sessions() as session:
            return int(session.execute(stmt).scalar_one())

    def iter_all(self, batch: int = 500) -> Iterator[RequestView]:
        """Every request in creation order, in batches (for exports)."""
        return iter_requests(self._sessions, batch)

    # -- lifecycle ---------------------------------------------------------------------

    def transition(
        self, reference: str, to_status: str, actor: str, reason: str | None = None
    ) -> RequestView:
        """Move a request along the lifecycle and record who/when/why; an illegal or
        concurrently overtaken change raises IllegalTransition and changes nothing."""
        view = self.get(reference)
        if not lifecycle.allowed(view.status, to_status):
            raise IllegalTransition(view.reference, view.status, to_status)
        now = utcnow()
        values: dict[str, Any] = {"status": to_status, "updated_at": now}
        if to_status in lifecycle.CLOSED_STATUSES:
            values["closed_at"] = now
        with self._sessions.begin() as session:
            # Compare-and-set on the status: two buttons pressed at once cannot both win.
            result = session.execute(
                update(sim_requests)
                .where(
                    sim_requests.c.reference == view.reference,
                    sim_requests.c.status == view.status,
                )
                .values(**values)
            )
            if result.rowcount != 1:
                current = session.execute(
                    select(sim_requests.c.status).where(sim_requests.c.reference == view.reference)
                ).scalar_one()
                raise IllegalTransition(view.reference, current, to_status)
            _record_event(session, view, to_status, actor or "unknown", reason, now)
        log.info(
            "request %s %s -> %s by %s", view.reference, view.status, to_status, actor or "unknown"
        )
        if view.campaign:
            self._funnel_moved(view, to_status, now)
        return self.get(view.reference)

    def cancel_by_sender(self, reference: str, sender_id: str) -> str:
        """The customer cancels a request from the conversation that sent it ("hủy yêu
        cầu" after the read-back was confirmed): ``"cancelled"``, and the team's chat
        messages are edited to say so (a ``status_changed`` outbox row, as after a change
        in the console); ``"closed"`` when nothing is left to cancel (done, unreachable or
        cancelled already); ``"not_yours"`` when another conversation sent it (found by
        its phone number, which anyone can type: 9090 cancels it)."""
        view = self.get(reference)
        if view.sender_id != sender_id:
            return "not_yours"
        if not view.is_open:
            return "closed"
        try:
            self.transition(
                view.reference, lifecycle.CANCELLED, "customer", "hủy trong cuộc trò chuyện"
            )
        except IllegalTransition:
            return "closed"  # closed by the team meanwhile
        self.outbox.status_changed(view.reference)
        return "cancelled"

    def add_customer_note(self, sender_id: str, note: str) -> RequestView | None:
        """What the customer says after their request was sent ("thứ 7 mới có nhà": when
        they can be visited), written to the history of the latest request the
        conversation ``sender_id`` sent, when it is still open, and the team's chat told
        (``details_added``, as for details confirmed again). None when the conversation
        has no open request (never one found by a phone number, which anyone can type);
        a note its history holds already is not written twice."""
        view = self.latest_by_sender(sender_id)
        if view is None or not view.is_open:
            return None
        told = f"Khách nhắn thêm: {' '.join(note.split())[:_MAX_TEXT]}"
        if any(e.reason == told for e in self.history(view.reference)):
            return view
        now = utcnow()
        with self._sessions.begin() as session:
            request_id = _record_event(session, view, view.status, "customer", told, now)
            payload = {"reference": view.reference, "note": told}
            queue_in(session, request_id, view.team_id, KIND_DETAILS_ADDED, payload, now)
        log.info("request %s: a note from its conversation for the team", view.reference)
        return view


def iter_requests(sessions: sessionmaker[Session], batch: int = 500) -> Iterator[RequestView]:
    """Every stored request in creation order, read in batches; needs no directory, so
    audits work even when the directory file is broken."""
    last_id = 0
    while True:
        stmt = (
            select(*_VIEW_COLUMNS)
            .select_from(_VIEW_FROM)
            .where(sim_requests.c.id > last_id)
            .order_by(sim_requests.c.id)
            .limit(batch)
        )
        with sessions() as session:
            rows = session.execute(stmt).all()
        if not rows:
            return
        for row in rows:
            yield _view(row)
        last_id = rows[-1]._mapping["id"]


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def today_local() -> date:
    """Today in Vietnam: restricted zones' date ranges are local dates."""
    return datetime.now(LOCAL_TZ).date()


_service: RequestService | None = None
_service_lock = threading.Lock()
_engine: Engine | None = None


def get_service() -> RequestService:
    """The process's service, built once from Settings.from_env(): the engine is created
    and the schema migrated on the first call, not at import."""
    global _service, _engine
    if _service is not None:
        return _service
    with _service_lock:
        if _service is None:
            from bot.requests.db import create_store_engine, migrate, session_factory
            from bot.routing import load_directory
            from bot.settings import Settings

            url = Settings.from_env().database_url
            migrate(url)
            _engine = create_store_engine(url)
            _service = RequestService(session_factory(_engine), load_directory())
        return _service
