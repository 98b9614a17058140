"""The outbox: notifications to teams, written in the same transaction as the request.

A Telegram outage delays notifications but loses none: the dispatcher claims due rows
(a lease, so a crashed dispatcher's rows come back), marks them delivered with the
message it posted, or failed with a retry time. Claims are compare-and-set updates,
so two dispatcher replicas never send the same row twice within a lease.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import exists, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.requests.errors import UnknownRequest
from bot.requests.reference import normalize_reference
from bot.requests.schema import outbox, sim_requests, team_messages

KIND_NEW_REQUEST = "new_request"
KIND_ESCALATION = "escalation"
KIND_STATUS_CHANGED = "status_changed"
# What a repeat confirmation added (another address, a name): a reply under the team post.
KIND_DETAILS_ADDED = "details_added"


_INSERT = insert(outbox)  # built once: submit's hot path writes one row per request


def queue_in(
    session: Session, request_id: int, team_id: str, kind: str, payload: Any, now: datetime
) -> None:
    """One outbox row for the dispatcher, due ``now``, in the caller's transaction (the
    request's own row, its history, or an escalation claim are written with it)."""
    session.execute(
        _INSERT,
        {
            "request_id": request_id,
            "team_id": team_id,
            "kind": kind,
            "payload": payload,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def retry_delay(attempts: int, cap_seconds: int = 600) -> timedelta:
    """Exponential back-off for the n-th failed attempt: 2, 4, 8 ... capped at 10 min."""
    return timedelta(seconds=min(2 ** max(1, attempts), cap_seconds))


@dataclass(frozen=True)
class OutboxItem:
    """One notification to deliver."""

    id: int
    request_id: int
    reference: str
    team_id: str
    kind: str
    payload: Mapping[str, Any]
    attempts: int  # including the current claim
    next_attempt_at: datetime
    created_at: datetime
    last_error: str | None


@dataclass(frozen=True)
class TeamMessage:
    """A message posted to a team chat about a request."""

    reference: str
    chat_id: int
    message_id: int
    purpose: str
    outbox_id: int | None


_ITEM_COLUMNS = (
    outbox.c.id,
    outbox.c.request_id,
    sim_requests.c.reference,
    outbox.c.team_id,
    outbox.c.kind,
    outbox.c.payload,
    outbox.c.attempts,
    outbox.c.next_attempt_at,
    outbox.c.created_at,
    outbox.c.last_error,
)


class Outbox:
    """Queue of team notifications backed by the ``outbox`` table."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    def claim_due(
        self, limit: int = 20, lease: timedelta = timedelta(seconds=60)
    ) -> list[OutboxItem]:
        """Take up to ``limit`` undelivered rows whose time has come, oldest first; each
        is hidden from other claimers for ``lease`` (then retried if not marked)."""
        now = _now()
        stmt = (
            select(*_ITEM_COLUMNS)
            .select_from(outbox.join(sim_requests, sim_requests.c.id == outbox.c.request_id))
            .where(outbox.c.delivered_at.is_(None), outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
        )
        claimed: list[OutboxItem] = []
        with self._sessions.begin() as session:
            rows = session.execute(stmt).all()
            for row in rows:
                m = row._mapping
                result = session.execute(
                    update(outbox)
                    .where(
                        outbox.c.id == m["id"],
                        outbox.c.attempts == m["attempts"],
                        outbox.c.delivered_at.is_(None),
                    )
                    .values(attempts=m["attempts"] + 1, next_attempt_at=now + lease)
                )
                if result.rowcount == 1:
                    claimed.append(
                        OutboxItem(
                            id=m["id"],
                            request_id=m["request_id"],
                            reference=m["reference"],
                            team_id=m["team_id"],
                            kind=m["kind"],
                            payload=m["payload"],
                            attempts=m["attempts"] + 1,
                            next_attempt_at=now + lease,
                            created_at=_aware(m["created_at"]),  # type: ignore[arg-type]
                            last_error=m["last_error"],
                        )
                    )
        return claimed

    def mark_delivered(
        self,
        item_id: int,
        *,
        chat_id: int | None = None,
        message_id: int | None = None,
        purpose: str | None = None,
    ) -> None:
        """Delivered; with the posted message, so button presses and edits find it."""
        now = _now()
        with self._sessions.begin() as session:
            row = session.execute(
                select(outbox.c.request_id, outbox.c.kind).where(outbox.c.id == item_id)
            ).first()
            if row is None:
                raise KeyError(f"no outbox row {item_id}")
            session.execute(
                update(outbox)
                .where(outbox.c.id == item_id)
                .values(delivered_at=now, last_error=None)
            )
            if chat_id is not None and message_id is not None:
                session.execute(
                    insert(team_messages).values(
                        request_id=row.request_id,
                        outbox_id=item_id,
                        chat_id=chat_id,
                        message_id=message_id,
                        purpose=purpose or row.kind,
                        created_at=now,
                    )
                )

    def mark_failed(self, item_id: int, error: str, retry_at: datetime | None = None) -> None:
        """Not delivered: keep it, with the error, for another attempt at ``retry_at``
        (default: exponential back-off on the attempts so far)."""
        with self._sessions.begin() as session:
            attempts = session.execute(
                select(outbox.c.attempts).where(outbox.c.id == item_id)
            ).scalar_one_or_none()
            if attempts is None:
                raise KeyError(f"no outbox row {item_id}")
            when = retry_at or _now() + retry_delay(attempts)
            session.execute(
                update(outbox)
                .where(outbox.c.id == item_id, outbox.c.delivered_at.is_(None))
                .values(next_attempt_at=when, last_error=error[:2000])
            )

    def enqueue(
        self,
        reference: str,
        team_id: str,
        kind: str,
        payload: Mapping[str, Any],
        *,
        once: bool = False,
        not_before: datetime | None = None,
    ) -> int | None:
        """Queue a notification about a request. With ``once``, nothing is queued if
        that request already has a row of that kind, even when callers race; returns
        the new row id, or None when skipped. (SLA escalations are the dispatcher's:
        it marks ``sim_requests.escalated_at``.)"""
        request_id = self._request_id(reference)
        now = _now()
        row = {
            "request_id": request_id,
            "team_id": team_id,
            "kind": kind,
            "payload": dict(payload),
            "attempts": 0,
            "next_attempt_at": not_before or now,
            "created_at": now,
        }
        with self._sessions.begin() as session:
            if not once:
                result = session.execute(insert(outbox).values(**row))
                return int(result.inserted_primary_key[0])
            # Racing callers queue up on the request's row lock (PostgreSQL; SQLite has
            # no row locks but runs the single INSERT ... SELECT below under its write
            # lock). After the lock, the NOT EXISTS reads the winner's committed row.
            session.execute(
                select(sim_requests.c.id).where(sim_requests.c.id == request_id).with_for_update()
            )
            first = ~exists().where(outbox.c.request_id == request_id, outbox.c.kind == kind)
            columns = list(row)
            values = select(*(literal(row[c], outbox.c[c].type) for c in columns)).where(first)
            if session.execute(insert(outbox).from_select(columns, values)).rowcount != 1:
                return None
            return int(
                session.execute(
                    select(func.max(outbox.c.id)).where(
                        outbox.c.request_id == request_id, outbox.c.kind == kind
                    )
                ).scalar_one()
            )

    def has_kind(self, reference: str, kind: str) -> bool:
        """Whether the request already has a notification of that kind queued or sent."""
        request_id = self._request_id(reference)
        with self._sessions() as session:
            return (
                session.execute(
                    select(outbox.c.id).where(
                        outbox.c.request_id == request_id, outbox.c.kind == kind
                    )
                ).first()
                is not None
            )

    def record_message(
        self,
        reference: str,
        chat_id: int,
        message_id: int,
        purpose: str,
        outbox_id: int | None = None,
    ) -> None:
        """Remember a message posted about a request outside :meth:`mark_delivered`."""
        request_id = self._request_id(reference)
        try:
            with self._sessions.begin() as session:
                session.execute(
                    insert(team_messages).values(
                        request_id=request_id,
                        outbox_id=outbox_id,
                        chat_id=chat_id,
                        message_id=message_id,
                        purpose=purpose,
                        created_at=_now(),
                    )
                )
        except IntegrityError:
            return  # already recorded (a retried delivery)

    def find_by_message(self, chat_id: int, message_id: int) -> str | None:
        """The reference of the request a team message is about (for button presses)."""
        stmt = (
            select(sim_requests.c.reference)
            .select_from(
                team_messages.join(sim_requests, sim_requests.c.id == team_messages.c.request_id)
            )
            .where(team_messages.c.chat_id == chat_id, team_messages.c.message_id == message_id)
        )
        with self._sessions() as session:
            return session.execute(stmt).scalar_one_or_none()

    def messages_for(self, reference: str) -> list[TeamMessage]:
        """Every team message about a request, to edit them all when its status changes."""
        request_id = self._request_id(reference)
        stmt = (
            select(team_messages, sim_requests.c.reference)
            .join(sim_requests, sim_requests.c.id == team_messages.c.request_id)
            .where(team_messages.c.request_id == request_id)
            .order_by(team_messages.c.id)
        )
        with self._sessions() as session:
            return [
                TeamMessage(
                    reference=r.reference,
                    chat_id=r.chat_id,
                    message_id=r.message_id,
                    purpose=r.purpose,
                    outbox_id=r.outbox_id,
                )
                for r in session.execute(stmt)
            ]

    def status_changed(self, reference: str, now: datetime | None = None) -> None:
        """Queue an edit of the team messages posted about a request after its status
        changed outside Telegram (the console, the customer cancelling in the chat), so the
        chats catch up. A request never posted to a chat gets no row."""
        now = now or _now()
        canonical = normalize_reference(reference or "")
        with self._sessions.begin() as session:
            row = session.execute(
                select(sim_requests.c.id, sim_requests.c.team_id).where(
                    sim_requests.c.reference == canonical,
                    exists().where(team_messages.c.request_id == sim_requests.c.id),
                )
            ).first()
            if row is None:
                return
            queue_in(
                session, row.id, row.team_id, KIND_STATUS_CHANGED, {"reference": canonical}, now
            )

    def pending_count(self) -> int:
        """Undelivered rows (a health figure for the console)."""
        with self._sessions() as session:
            return int(
                session.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.delivered_at.is_(None))
                ).scalar_one()
            )

    def _request_id(self, reference: str) -> int:
        canonical = normalize_reference(reference or "")
        with self._sessions() as session:
            request_id = session.execute(
                select(sim_requests.c.id).where(sim_requests.c.reference == canonical)
            ).scalar_one_or_none()
        if request_id is None:
            raise UnknownRequest(f"no request {reference!r}")
        return int(request_id)
