"""The dispatcher: drains the outbox to team chats and takes the teams' button presses.

Delivery is at-least-once through the ``outbox`` table: a row is claimed with a short
lease (compare-and-set on ``next_attempt_at``), the claim is renewed the same way right
before the post (so a batch that outlived its lease cannot post a row another dispatcher
took over), then the row is marked delivered with the message recorded in
``team_messages`` (retried through a database hiccup). A failure records the error and
pushes ``next_attempt_at`` back exponentially (or by Telegram's ``retry_after``). A stop
lets the post in progress finish and be recorded. Telegram has no idempotency key: a
post whose answer was lost, or a crash between the answer and the record, posts again
(docs/requests.md, "What the delivery guarantees").

Outbox kinds handled here:
- ``new_request`` (written by :meth:`RequestService.submit`): post to the team's chat;
  the request then moves new → assigned.
- ``escalation`` (written here when a request is not accepted within the SLA, claimed by
  a conditional UPDATE of ``sim_requests.escalated_at`` so racing dispatchers raise it
  once): post to the escalation chat of the team's province.
- ``status_changed`` (written here and by the console after a status change): edit every
  message of the request so the chats show the current status and buttons.
- ``details_added`` (written by :meth:`RequestService.submit` when a confirmation of an
  open request brings another address or name): a message in the team's chat, in reply
  to the request's post when there is one, saying what the customer added; not edited
  afterwards (it has no status or buttons). Skipped once the request is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from telegram import Update

from bot.dispatch import render
from bot.dispatch.telegram import (
    SentMessage,
    TelegramClient,
    TelegramFailure,
    TelegramRejected,
    TelegramUnavailable,
)
from bot.requests import (
    CLOSED_STATUSES,
    KIND_DETAILS_ADDED,
    KIND_ESCALATION,
    KIND_NEW_REQUEST,
    KIND_STATUS_CHANGED,
    IllegalTransition,
    Outbox,
    RequestService,
    RequestView,
    UnknownRequest,
    queue_in,
)
from bot.requests.lifecycle import ASSIGNED, NEW
from bot.requests.schema import (
    AWAITING_ESCALATION_PREDICATE,
    outbox,
    request_events,
    sim_requests,
    team_messages,
)

log = logging.getLogger(__name__)
_T = TypeVar("_T")

KINDS = (KIND_NEW_REQUEST, KIND_ESCALATION, KIND_STATUS_CHANGED, KIND_DETAILS_ADDED)
# Posts that show no status and have no buttons: not recorded in team_messages, so a
# status change never edits them.
_NOT_EDITED = frozenset({KIND_DETAILS_ADDED})
ACTOR = "dispatch"
# Waits between tries to record a message Telegram has accepted (about 24 s in all,
# well inside the lease renewed right before the post).
RECORD_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0)
# Reason of the history event written when a request is escalated.
ESCALATION_REASON = "escalated: not accepted within the SLA"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class WorkingHours:
    """Local office hours the SLA clock runs in (e.g. 08:00-17:30, Monday-Saturday)."""

    start: dt.time
    end: dt.time
    weekdays: frozenset[int] = frozenset(range(6))  # Monday=0

    @classmethod
    def parse(cls, text: str, days: str = "") -> WorkingHours:
        """``"08:00-17:30"`` and optionally ``"0-5"`` or ``"0,1,2,3,4"`` (Monday=0)."""
        start_text, end_text = (part.strip() for part in text.split("-", 1))
        start, end = dt.time.fromisoformat(start_text), dt.time.fromisoformat(end_text)
        if end <= start:
            raise ValueError(f"working hours end before they start: {text!r}")
        weekdays: set[int] = set(range(6))
        if days.strip():
            weekdays = set()
            for part in days.split(","):
                low, _, high = part.partition("-")
                weekdays.update(range(int(low), int(high or low) + 1))
        return cls(start, end, frozenset(weekdays))

    def minutes_between(self, since: dt.datetime, until: dt.datetime) -> float:
        """Working minutes elapsed between two instants, in Vietnam's local time."""
        since = _aware(since).astimezone(render.LOCAL_TZ)
        until = _aware(until).astimezone(render.LOCAL_TZ)
        total = 0.0
        day = since.date()
        while day <= until.date():
            if day.weekday() in self.weekdays:
                open_at = dt.datetime.combine(day, self.start, render.LOCAL_TZ)
                close_at = dt.datetime.combine(day, self.end, render.LOCAL_TZ)
                low, high = max(open_at, since), min(close_at, until)
                if high > low:
                    total += (high - low).total_seconds() / 60
            day += dt.timedelta(days=1)
        return total


@dataclass(frozen=True)
class DispatchConfig:
    """Knobs of the dispatcher; :meth:`from_env` documents the variables."""

    sla_minutes: int = 240
    working_hours: WorkingHours | None = None
    batch_size: int = 50
    lease_seconds: int = 120
    base_backoff: float = 5.0
    max_backoff: float = 900.0
    idle_seconds: float = 3.0
    poll_updates: bool = True
    poll_timeout: int = 25

    @classmethod
    def from_env(cls) -> DispatchConfig:
        """DISPATCH_SLA_MINUTES (240), DISPATCH_WORKING_HOURS ("08:00-17:30", unset: the
        clock always runs), DISPATCH_WORKDAYS ("0-5", Monday=0), DISPATCH_INTERVAL_SECONDS
        (3), TELEGRAM_UPDATES ("polling" | "webhook"; webhook when the console receives
        them)."""
        env = os.environ
        hours = env.get("DISPATCH_WORKING_HOURS", "").strip()
        return cls(
            sla_minutes=int(env.get("DISPATCH_SLA_MINUTES", "240")),
            working_hours=(
                WorkingHours.parse(hours, env.get("DISPATCH_WORKDAYS", "")) if hours else None
            ),
            idle_seconds=float(env.get("DISPATCH_INTERVAL_SECONDS", "3")),
            poll_updates=env.get("TELEGRAM_UPDATES", "polling").strip().lower() != "webhook",
        )


@dataclass
class RunReport:
    """What one pass did (for tests and logs)."""

    delivered: int = 0
    failed: int = 0
    escalated: int = 0
    updates: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Job:
    id: int
    request_id: int
    reference: str
    team_id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    lease: dt.datetime  # the next_attempt_at this dispatcher wrote: its claim on the row


def _compare_and_set(session: Session, row_id: int, held: dt.datetime, until: dt.datetime) -> bool:
    """Move an undelivered outbox row's ``next_attempt_at`` from ``held`` to ``until``.

    The row's due time is its claim: only the caller that still holds it wins.
    """
    result = session.execute(
        update(outbox)
        .where(
            outbox.c.id == row_id,
            outbox.c.delivered_at.is_(None),
            outbox.c.next_attempt_at == held,
        )
        .values(next_attempt_at=until)
    )
    return bool(result.rowcount == 1)


class Dispatcher:
    """One dispatcher process (several may run: rows are claimed, not shared)."""

    def __init__(
        self,
        service: RequestService,
        sessions: sessionmaker[Session],
        telegram: TelegramClient | None,
        config: DispatchConfig | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.service = service
        self.sessions = sessions
        self.telegram = telegram
        self.config = config or DispatchConfig()
        self.clock = clock
        self._offset: int | None = None
        self._warned_unconfigured = False
        # Deliveries and hand-backs that must finish even if their caller is cancelled.
        self._inflight: set[asyncio.Future[Any]] = set()

    # -- one pass --------------------------------------------------------------------
    async def run_once(self, poll_timeout: int = 0) -> RunReport:
        """Escalate overdue requests, deliver what is due, handle pending button presses."""
        report = RunReport()
        report.escalated = await asyncio.to_thread(self.enqueue_escalations)
        if self.telegram is None:
            self._warn_unconfigured()
            return report
        await self.deliver_due(report)
        if self.config.poll_updates:
            await self.poll_updates(report, timeout=poll_timeout)
        return report

    def _warn_unconfigured(self) -> None:
        if not self._warned_unconfigured:
            log.warning(
                "dispatch: TELEGRAM_BOT_TOKEN is not set; Telegram is not configured and "
                "team notifications stay pending in the outbox"
            )
            self._warned_unconfigured = True

    # -- SLA ---------------------------------------------------------------------------
    def _overdue(self, created_at: dt.datetime, now: dt.datetime) -> bool:
        hours = self.config.working_hours
        if hours is None:
            return now - _aware(created_at) >= dt.timedelta(minutes=self.config.sla_minutes)
        return hours.minutes_between(created_at, now) >= self.config.sla_minutes

    def enqueue_escalations(self) -> int:
        """One ``escalation`` outbox row per request still not accepted past the SLA.

        Several dispatchers may run this at the same instant: each request is claimed by
        a conditional UPDATE (:meth:`_escalate`), so exactly one of them escalates it."""
        now = self.clock()
        # Working hours only lengthen the wall-clock wait, so the plain cut-off is a safe
        # pre-filter; the exact check runs per row.
        cutoff = now - dt.timedelta(minutes=self.config.sla_minutes)
        stmt = (
            select(
                sim_requests.c.id,
                sim_requests.c.reference,
                sim_requests.c.team_id,
                sim_requests.c.province_code,
                sim_requests.c.created_at,
            )
            .where(text(AWAITING_ESCALATION_PREDICATE), sim_requests.c.created_at <= cutoff)
            .order_by(sim_requests.c.created_at, sim_requests.c.id)
            .limit(500)
        )
        with self.sessions() as session:
            rows = session.execute(stmt).all()
        return sum(
            1 for row in rows if self._overdue(row.created_at, now) and self._escalate(row, now)
        )

    def _escalate(self, row: Any, now: dt.datetime) -> bool:
        """Claim, queue and record one escalation, in one transaction; False when another
        dispatcher claimed it first or the request was accepted meanwhile.

        The claim is ``UPDATE ... WHERE escalated_at IS NULL AND status IN (new, assigned)``:
        PostgreSQL makes a second updater wait for the first to commit and then re-checks
        the condition on the committed row (0 rows); SQLite runs writers one at a time. A
        read-then-insert check would let both through."""
        with self.sessions.begin() as session:
            claimed = session.execute(
                update(sim_requests)
                .where(
                    sim_requests.c.id == row.id,
                    sim_requests.c.escalated_at.is_(None),
                    sim_requests.c.status.in_([NEW, ASSIGNED]),
                )
                .values(escalated_at=now)
            )
            if claimed.rowcount != 1:
                return False
            # The row is ours until commit: its status cannot change under us.
            status = session.execute(
                select(sim_requests.c.status).where(sim_requests.c.id == row.id)
            ).scalar_one()
            province = self.service.directory.provinces.get(row.province_code)
            queue_in(
                session,
                row.id,
                province.team_id if province else row.team_id,
                KIND_ESCALATION,
                {
                    "reference": row.reference,
                    "routed_team_id": row.team_id,
                    "sla_minutes": self.config.sla_minutes,
                },
                now,
            )
            # In the request's history (same status: nothing moved, but who and when).
            session.execute(
                insert(request_events).values(
                    request_id=row.id,
                    from_status=status,
                    to_status=status,
                    actor=ACTOR,
                    reason=f"{ESCALATION_REASON} ({self.config.sla_minutes} min)",
                    created_at=now,
                )
            )
        log.info("request %s not accepted within the SLA; escalating", row.reference)
        return True

    # -- delivery ------------------------------------------------------------------------
    def claim_due(self) -> list[_Job]:
        """Rows due now, each leased to this dispatcher by a compare-and-set."""
        now = self.clock()
        lease = now + dt.timedelta(seconds=self.config.lease_seconds)
        stmt = (
            select(
                outbox.c.id,
                outbox.c.request_id,
                outbox.c.team_id,
                outbox.c.kind,
                outbox.c.payload,
                outbox.c.attempts,
                outbox.c.next_attempt_at,
                sim_requests.c.reference,
            )
            .join(sim_requests, sim_requests.c.id == outbox.c.request_id)
            .where(
                outbox.c.delivered_at.is_(None),
                outbox.c.next_attempt_at <= now,
                outbox.c.kind.in_(KINDS),
            )
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(self.config.batch_size)
        )
        jobs: list[_Job] = []
        with self.sessions.begin() as session:
            for row in session.execute(stmt).all():
                if _compare_and_set(session, row.id, row.next_attempt_at, lease):
                    jobs.append(
                        _Job(
                            id=row.id,
                            request_id=row.request_id,
                            reference=row.reference,
                            team_id=row.team_id,
                            kind=row.kind,
                            payload=dict(row.payload or {}),
                            attempts=row.attempts,
                            lease=lease,
                        )
                    )
        return jobs

    async def deliver_due(self, report: RunReport | None = None) -> RunReport:
        """Deliver every claimed row; failures are rescheduled, never dropped."""
        report = report or RunReport()
        if self.telegram is None:
            self._warn_unconfigured()
            return report
        jobs = await asyncio.to_thread(self.claim_due)
        await self.deliver_jobs(jobs, report)
        return report

    async def deliver_jobs(self, jobs: list[_Job], report: RunReport) -> None:
        """Deliver claimed rows in order.

        A row once started runs to its end even when this coroutine is cancelled (the
        worker stopping): cut between Telegram's answer and the record, a posted message
        would be posted again. :meth:`drain` waits for it. Rows not started go back."""
        for index, job in enumerate(jobs):
            attempt = self._track(self._attempt(job, report))
            try:
                retry_at = await asyncio.shield(attempt)
            except BaseException as exc:
                if isinstance(exc, asyncio.CancelledError):
                    attempt.add_done_callback(_log_failure)
                rest = self._track(
                    asyncio.to_thread(self._release, jobs[index + 1 :], self.clock())
                )
                rest.add_done_callback(_log_failure)
                raise
            if retry_at is not None:
                # Telegram is down or throttling: stop this pass (later rows would fail
                # too) and hand the rest back, unattempted, for the same retry time.
                await asyncio.to_thread(self._release, jobs[index + 1 :], retry_at)
                break

    def _track(self, work: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        task = asyncio.ensure_future(work)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return task

    async def drain(self) -> None:
        """Wait until the deliveries and hand-backs still running have finished."""
        while self._inflight:
            await asyncio.wait(set(self._inflight))

    async def _attempt(self, job: _Job, report: RunReport) -> dt.datetime | None:
        """Deliver one row. Returns the retry time when Telegram is unavailable (the pass
        stops there), else None. A failure is recorded on the row for a later attempt."""
        try:
            delivered = await self._deliver(job)
        except TelegramFailure as exc:
            retry_after = exc.retry_after if isinstance(exc, TelegramUnavailable) else None
            retry_at = await asyncio.to_thread(self._reschedule, job, str(exc), retry_after)
            report.failed += 1
            report.errors.append(f"{job.reference}: {exc}")
            log.warning(
                "dispatch: %s for %s failed (attempt %d): %s",
                job.kind,
                job.reference,
                job.attempts + 1,
                exc,
            )
            return retry_at if isinstance(exc, TelegramUnavailable) else None
        except Exception as exc:
            # A fault of this row (or of the database, in which case rescheduling fails
            # too and the pass ends): retry it later and go on with the others.
            log.exception("dispatch: %s for %s failed", job.kind, job.reference)
            await asyncio.to_thread(self._reschedule, job, f"{type(exc).__name__}: {exc}", None)
            report.failed += 1
            report.errors.append(f"{job.reference}: {type(exc).__name__}")
            return None
        if delivered:
            report.delivered += 1
        return None

    async def _deliver(self, job: _Job) -> bool:
        """Post, edit or retire one row; False when another dispatcher took it over."""
        view = await asyncio.to_thread(self.service.get, job.reference)
        if job.kind == KIND_STATUS_CHANGED:
            await self._refresh_messages(job, view)
            return True
        # Accepted or closed before the post went out (e.g. from the console): a new post or
        # an escalation would only be noise; what a customer added, until it is closed.
        if view.status in CLOSED_STATUSES or (
            job.kind != KIND_DETAILS_ADDED and view.status not in (NEW, ASSIGNED)
        ):
            await asyncio.to_thread(self._mark_done, job)
            return True
        directory = self.service.directory
        reply_to: int | None = None
        if job.kind == KIND_DETAILS_ADDED:
            # To the request's current team, under its post in that chat when there is one.
            chat_id = directory.chat_for(view.team_id) or job.payload.get("chat_id")
            text = render.details_text(view, str(job.payload.get("note") or ""))
            if chat_id is not None:
                reply_to = await asyncio.to_thread(self._post_in, job.request_id, int(chat_id))
        elif job.kind == KIND_ESCALATION:
            routed = str(job.payload.get("routed_team_id") or view.team_id)
            chat_id = directory.escalation_chat_for(routed)
            text = render.message_text(
                view,
                by=await self._last_actor(view),
                escalation=True,
                team_name=view.team_name,
                sla_minutes=int(job.payload.get("sla_minutes") or self.config.sla_minutes),
            )
        else:
            chat_id = directory.chat_for(job.team_id) or job.payload.get("chat_id")
            if view.status == NEW:
                # The message announces the state it creates: delivered means assigned.
                view = replace(view, status=ASSIGNED)
            text = render.message_text(view)
        if chat_id is None:
            raise TelegramRejected(f"no Telegram chat configured for team {job.team_id}")
        assert self.telegram is not None
        if not await asyncio.to_thread(self._renew, job):
            log.info(
                "dispatch: %s for %s was taken over by another dispatcher", job.kind, job.reference
            )
            return False
        buttons = [] if job.kind in _NOT_EDITED else render.buttons(view)
        sent = await self.telegram.send(int(chat_id), text, buttons, reply_to=reply_to)
        await self._record_delivery(job, sent)
        if job.kind == KIND_NEW_REQUEST:
            await asyncio.to_thread(self._assign, job.reference)
        return True

    def _renew(self, job: _Job) -> bool:
        """Re-take the claim, by compare-and-set, right before posting.

        A batch can outlive its lease (slow Telegram answers); another dispatcher may
        then have claimed the row, and both would post it. Renewed here, the claim runs
        ``lease_seconds`` from now, far beyond one call's HTTP timeouts (about 26 s)."""
        lease = self.clock() + dt.timedelta(seconds=self.config.lease_seconds)
        with self.sessions.begin() as session:
            return _compare_and_set(session, job.id, job.lease, lease)

    async def _record_delivery(self, job: _Job, sent: SentMessage) -> None:
        """Record a posted message, retrying through a database hiccup: the post is out,
        and an unrecorded post is posted again once its lease expires."""
        for delay in (*RECORD_RETRY_DELAYS, None):
            try:
                await asyncio.to_thread(self._mark_delivered, job, sent.chat_id, sent.message_id)
                return
            except IntegrityError:
                # The message is already recorded: an earlier try committed but its
                # answer was lost with the connection.
                log.info("dispatch: %s for %s was already recorded", job.kind, job.reference)
                return
            except (OperationalError, InterfaceError) as exc:
                if delay is None:
                    log.error(
                        "dispatch: %s for %s was posted (message %s in chat %s) but could not "
                        "be recorded; it will be posted again: %s",
                        job.kind,
                        job.reference,
                        sent.message_id,
                        sent.chat_id,
                        exc,
                    )
                    raise
                log.warning(
                    "dispatch: recording %s for %s failed, retrying in %.1f s: %s",
                    job.kind,
                    job.reference,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)

    def _assign(self, reference: str) -> None:
        # Already accepted (e.g. from the console) or closed: nothing to do.
        with contextlib.suppress(IllegalTransition):
            self.service.transition(reference, ASSIGNED, ACTOR, reason="posted to team chat")

    def _mark_delivered(self, job: _Job, chat_id: int, message_id: int) -> None:
        """The row delivered, and the message kept for the edits of later status changes
        (unless it shows no status: ``_NOT_EDITED``)."""
        now = self.clock()
        with self.sessions.begin() as session:
            session.execute(
                update(outbox)
                .where(outbox.c.id == job.id)
                .values(
                    delivered_at=now,
                    attempts=job.attempts + 1,
                    last_error=None,
                    payload={**job.payload, "chat_id": chat_id, "message_id": message_id},
                )
            )
            if job.kind not in _NOT_EDITED:
                session.execute(
                    insert(team_messages).values(
                        request_id=job.request_id,
                        outbox_id=job.id,
                        chat_id=chat_id,
                        message_id=message_id,
                        purpose=job.kind,
                        created_at=now,
                    )
                )
        log.info("dispatch: %s for %s posted to chat %s", job.kind, job.reference, chat_id)

    def _release(self, jobs: list[_Job], at: dt.datetime) -> None:
        """Hand claimed rows back, unattempted, due at ``at`` (unless taken over since)."""
        if not jobs:
            return
        with self.sessions.begin() as session:
            for job in jobs:
                _compare_and_set(session, job.id, job.lease, at)

    def _reschedule(self, job: _Job, error: str, retry_after: float | None) -> dt.datetime:
        attempts = job.attempts + 1
        if retry_after is not None:
            delay = retry_after
        else:
            delay = min(self.config.max_backoff, self.config.base_backoff * 2 ** (attempts - 1))
            delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
        retry_at = self.clock() + dt.timedelta(seconds=delay)
        with self.sessions.begin() as session:
            session.execute(
                update(outbox)
                .where(outbox.c.id == job.id, outbox.c.delivered_at.is_(None))
                .values(attempts=attempts, last_error=error[:1000], next_attempt_at=retry_at)
            )
        return retry_at

    def _messages_of(self, request_id: int) -> list[tuple[int, int, str]]:
        with self.sessions() as session:
            rows = session.execute(
                select(team_messages.c.chat_id, team_messages.c.message_id, team_messages.c.purpose)
                .where(team_messages.c.request_id == request_id)
                .order_by(team_messages.c.id)
            ).all()
        return [(int(r.chat_id), int(r.message_id), r.purpose) for r in rows]

    async def _last_actor(self, view: RequestView) -> str | None:
        events = await asyncio.to_thread(self.service.history, view.reference)
        for event in reversed(events):
            if event.to_status == view.status and event.actor != ACTOR:
                return display_actor(event.actor)
        return None

    async def _refresh_messages(self, job: _Job, view: RequestView) -> None:
        """Edit every posted message of the request to its current status."""
        assert self.telegram is not None
        by = await self._last_actor(view)
        messages = await asyncio.to_thread(self._messages_of, job.request_id)
        for chat_id, message_id, purpose in messages:
            text = render.message_text(
                view,
                by=by,
                escalation=purpose == KIND_ESCALATION,
                team_name=view.team_name,
                sla_minutes=self.config.sla_minutes,
            )
            try:
                await self.telegram.edit(chat_id, message_id, text, render.buttons(view))
            except TelegramRejected as exc:
                # Deleted by a chat admin, or too old to edit: nothing to retry.
                log.info("dispatch: cannot edit message %s in %s: %s", message_id, chat_id, exc)
        await asyncio.to_thread(self._mark_done, job)

    def _post_in(self, request_id: int, chat_id: int) -> int | None:
        """The message that posted the request to ``chat_id``, if any."""
        return next(
            (
                message_id
                for chat, message_id, purpose in self._messages_of(request_id)
                if chat == chat_id and purpose == KIND_NEW_REQUEST
            ),
            None,
        )

    def _mark_done(self, job: _Job) -> None:
        with self.sessions.begin() as session:
            session.execute(
                update(outbox)
                .where(outbox.c.id == job.id)
                .values(delivered_at=self.clock(), attempts=job.attempts + 1, last_error=None)
            )

    # -- status changes --------------------------------------------------------------------
    def enqueue_status_changed(self, reference: str) -> None:
        """Ask the dispatcher to edit the request's team messages (after any change)."""
        enqueue_status_changed(self.sessions, reference, self.clock())

    # -- button presses --------------------------------------------------------------------
    async def poll_updates(self, report: RunReport | None = None, timeout: int = 0) -> int:
        """One ``getUpdates`` call; handled updates are confirmed by the next offset.
        Returns how many were handled, -1 when the call failed (the caller backs off;
        e.g. 409 Conflict while a webhook is set)."""
        if self.telegram is None:
            return 0
        try:
            updates = await self.telegram.updates(self._offset, timeout=timeout)
        except TelegramFailure as exc:
            log.warning("dispatch: getUpdates failed: %s", exc)
            return -1
        for item in updates:
            self._offset = item.update_id + 1
            await self.handle_update(item)
        if report is not None:
            report.updates += len(updates)
        return len(updates)

    async def handle_update(self, item: Update) -> str | None:
        """Apply a button press; always answer the callback query. Returns the answer."""
        query = item.callback_query
        if query is None or self.telegram is None:
            return None
        parsed = render.parse_callback(query.data)
        message = query.message
        if parsed is None or message is None:
            answer = render.answer_text("bad_data")
            await self._answer(query.id, answer, alert=True)
            return answer
        to_status, reference = parsed
        user = query.from_user
        actor = f"telegram:{user.id} {user.full_name}"
        if user.username:
            actor += f" (@{user.username})"
        try:
            view = await asyncio.to_thread(
                self._press, reference, message.chat.id, message.message_id, to_status, actor
            )
        except UnknownRequest:
            answer = render.answer_text("unknown")
            await self._answer(query.id, answer, alert=True)
            return answer
        except IllegalTransition as exc:
            labels = render.labels()["statuses"]
            answer = render.answer_text(
                "illegal",
                from_status=labels.get(exc.from_status, exc.from_status),
                to_status=labels.get(exc.to_status, exc.to_status),
            )
            await self._answer(query.id, answer, alert=True)
            return answer
        answer = render.answer_text(
            "ok", status=render.labels()["statuses"].get(view.status, view.status)
        )
        await self._answer(query.id, answer)
        # Edit now for a snappy chat; the outbox row retries if Telegram hiccups.
        await self.deliver_due()
        return answer

    def _press(
        self, reference: str, chat_id: int, message_id: int, to_status: str, actor: str
    ) -> RequestView:
        view = self.service.get(reference)
        with self.sessions() as session:
            owner = session.execute(
                select(sim_requests.c.reference)
                .join(team_messages, team_messages.c.request_id == sim_requests.c.id)
                .where(
                    team_messages.c.chat_id == chat_id,
                    team_messages.c.message_id == message_id,
                )
            ).scalar_one_or_none()
        if owner != view.reference:
            # The button does not belong to a message we posted about this request.
            raise UnknownRequest(f"message {message_id} in {chat_id} is not about {reference}")
        view = self.service.transition(view.reference, to_status, actor, reason="Telegram button")
        self.enqueue_status_changed(view.reference)
        return view

    async def _answer(self, query_id: str, text: str, alert: bool = False) -> None:
        assert self.telegram is not None
        try:
            await self.telegram.answer(query_id, text, alert=alert)
        except TelegramFailure as exc:
            log.info("dispatch: could not answer callback query: %s", exc)

    # -- long-running ----------------------------------------------------------------------
    async def run_forever(self, stop: asyncio.Event) -> None:
        """Deliver every few seconds and long-poll button presses until ``stop`` is set."""
        if self.telegram is None:
            self._warn_unconfigured()
            await stop.wait()
            return

        async def deliver_loop() -> None:
            while not stop.is_set():
                try:
                    report = RunReport()
                    report.escalated = await asyncio.to_thread(self.enqueue_escalations)
                    await self.deliver_due(report)
                except Exception:  # a bad pass must not end the worker
                    log.exception("dispatch: delivery pass failed")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.idle_seconds)

        async def poll_loop() -> None:
            while not stop.is_set():
                try:
                    handled = await self.poll_updates(timeout=self.config.poll_timeout)
                except Exception:
                    log.exception("dispatch: update pass failed")
                    handled = -1
                if handled < 0:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.config.idle_seconds)

        tasks = [asyncio.create_task(deliver_loop())]
        if self.config.poll_updates:
            tasks.append(asyncio.create_task(poll_loop()))
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A message being posted is finished and recorded before the worker exits.
        await self.drain()


def _log_failure(task: asyncio.Future[Any]) -> None:
    """Log the error of a step nobody awaits any more (a delivery finishing after its
    caller was cancelled, a hand-back)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("dispatch: background step failed", exc_info=task.exception())


def display_actor(actor: str) -> str:
    """``telegram:42 Lan (@lan)`` → ``Lan (@lan)``; console actors stay as they are."""
    if actor.startswith("telegram:"):
        _, _, rest = actor.partition(" ")
        return rest or actor
    return actor


def enqueue_status_changed(
    sessions: sessionmaker[Session], reference: str, now: dt.datetime | None = None
) -> None:
    """Outbox row asking the dispatcher to edit the request's team messages, after a
    status change outside Telegram (the console): see ``Outbox.status_changed``."""
    Outbox(sessions).status_changed(reference, now or utcnow())
