"""``campaign send``: invitations pushed through a gateway, paced, resumable, recorded.

Plan §2: every eligible subscriber of a campaign gets one invitation per channel (SMS
with a personal link to the web request page, or a Liveinfo Yes/No prompt). The rules:

- **Claim before send.** A batch of eligible targets (``segment.eligible``: no Liveinfo
  No, no opt-out, no open or done request) without a send on this channel gets a
  ``campaign_sends`` row ``claimed`` (unique target × channel) in one transaction; only
  then is the gateway called. A second run never claims the same target again.
- **Idempotency key.** Each send's key is derived from its row (``inv-<id>-<claimed>``)
  and the gateways dedupe on it (docs/liveinfo.md §3–§4). After a crash, rows left
  ``claimed`` are re-sent with the same key — byte-identical text, same link — so a
  message the gateway took before the crash is not delivered twice. A claimed row whose
  subscriber became ineligible meanwhile is ``skipped``, not sent.
- **Pacing.** Every HTTP attempt (retries included) takes a slot of :class:`Pacer`:
  ``1/rate`` apart on a schedule, never more than ``rate`` within any second, so the
  gateway never sees more than the requested rate. 429/5xx/timeouts are retried with
  exponential backoff and jitter (``Retry-After`` honoured); other 4xx fail the send at
  once.
- **Recorded.** Each outcome (status, attempts, times, gateway message id or error) is
  written in batches; a sent invitation stamps ``invited_at`` and the channel on the
  target. Phone numbers are masked in every log line; the link carries a signed token,
  never the number.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import random
import re
import sys
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    String,
    and_,
    bindparam,
    column,
    exists,
    func,
    not_,
    or_,
    select,
    text,
    update,
    values,
)
from sqlalchemy.engine import Connection, Engine

from bot import outreach
from bot.campaign.gateways import Accepted, GatewayError, HttpGateway, Outgoing
from bot.campaign.schema import campaign_sends, campaign_targets
from bot.campaign.segment import eligible
from bot.campaign.store import campaign_id, now, upsert_insert
from bot.campaign.templates import Templates, load_templates, sms_length
from bot.phone import mask

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNELS = ("sms", "liveinfo")
DEFAULT_TEMPLATE = {"sms": "sms", "liveinfo": "liveinfo"}
DEFAULT_LINK_TTL = 7 * 24 * 3600  # an invitation is read days later; a Yes gets 48 h
LIVEINFO_CAMPAIGN = re.compile(r"[A-Za-z0-9._\-]{1,64}")  # what the answers may carry

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class SendError(Exception):
    """The send cannot start: unknown campaign, template too long, another sender..."""


# -- pacing and retries ---------------------------------------------------------------


class Pacer:
    """At most ``rate`` calls a second: slots ``1/rate`` apart, and a one-second cap.

    Slots follow a schedule (slot k = start + k/rate), so a late wake-up does not slow
    the run down; being more than one slot late restarts the schedule, so a pause (a
    slow database, an idle gateway) is never caught up with a burst. On top, a sliding
    window: never more than ``rate`` grants within any second (for rates under 1/s: one
    per ``1/rate`` seconds), measured on the moments grants are actually given — the
    requested rate is a ceiling the gateway never sees exceeded. ``clock``/``sleep`` are
    injectable so the schedule is tested without waiting.
    """

    def __init__(
        self, rate: float, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        if not rate > 0:
            raise ValueError("the rate must be a positive number of messages a second")
        self.rate = float(rate)
        self.interval = 1.0 / self.rate
        self.window = max(1.0, self.interval)
        self.cap = max(1, int(self.rate * self.window + 1e-9))
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self._recent: deque[float] = deque(maxlen=self.cap)
        self._lock: asyncio.Lock | None = None

    async def wait(self) -> float:
        """Wait for the next slot; the grant time (clock units)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # FIFO: waiters are served in arrival order
            now = self._clock()
            # First call, or more than a slot late to keep the schedule: restart it.
            restart = self._next is None or now - self._next > self.interval
            slot = now if restart or self._next is None else self._next
            if len(self._recent) == self.cap:
                slot = max(slot, self._recent[0] + self.window)
            while now < slot:
                await self._sleep(slot - now)
                now = self._clock()
            self._recent.append(now)
            self._next = slot + self.interval
            return now


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between attempts of one invitation."""

    max_attempts: int = 5
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before the next attempt: ``Retry-After``, else exponential + jitter."""
        if retry_after is not None:
            return min(self.cap, max(0.0, retry_after))
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto


# -- rows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A ``campaign_sends`` row this run is to send."""

    send_id: int
    target_id: int
    e164: str
    claimed_at: dt.datetime

    @property
    def key(self) -> str:
        """The idempotency key: stable for the row, unique beyond one database's ids."""
        return f"inv-{self.send_id}-{int(self.claimed_at.timestamp()):x}"


@dataclass(frozen=True)
class Outcome:
    item: Claimed
    status: str  # sent | failed
    attempts: int
    at: dt.datetime
    gateway_ref: str | None = None
    error: str | None = None
    duplicate: bool = False


@dataclass
class SendReport:
    """What one run did; :meth:`summary` is the CLI's last lines."""

    campaign: str
    channel: str
    rate: float
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    resumed: int = 0
    duplicates: int = 0
    attempts: int = 0
    remaining: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    # the gateway refused our credentials (401/403): the run stopped, nobody marked failed
    refused: str | None = None
    errors: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        rate = self.sent / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"campaign {self.campaign}, channel {self.channel}: {self.sent} sent, "
            f"{self.failed} failed, {self.skipped} skipped (no longer eligible); "
            f"{self.resumed} resumed from an earlier run ({self.duplicates} already taken "
            f"by the gateway); {self.attempts} gateway calls in {self.seconds:.1f} s "
            f"({rate:.1f}/s sent, limit {self.rate:g}/s)",
            f"still to invite on {self.channel}: {self.remaining}"
            + (" (interrupted: run again to continue)" if self.interrupted else ""),
        ]
        if self.refused:
            lines.append(
                f"stopped: the gateway refused the credentials ({self.refused}); fix the "
                "token or secret and run again: nobody was marked failed"
            )
        for error, count in self.errors.most_common(10):
            lines.append(f"  failed: {error}: {count}")
        return "\n".join(lines)


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands timezone=True columns back naive; they were stored as UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _error_kind(error: str) -> str:
    """Group errors for the summary: "HTTP 400", "timeout"... without the body."""
    return error.split(":", 1)[0].split(" (", 1)[0]


# -- database steps (blocking; run in a worker thread) ---------------------------------


def _no_send(channel: str) -> Any:
    s = campaign_sends
    return not_(
        exists(select(s.c.id).where(s.c.target_id == campaign_targets.c.id, s.c.channel == channel))
    )


def remaining(engine: Engine, campaign: str, channel: str) -> int:
    """Eligible targets of the campaign without a send on this channel."""
    t = campaign_targets
    with engine.connect() as conn:
        cid = campaign_id(conn, campaign)
        stmt = (
            select(func.count())
            .select_from(t)
            .where(t.c.campaign_id == cid, eligible(campaign), _no_send(channel))
        )
        return int(conn.scalar(stmt) or 0)


def _lock_key(cid: int, channel: str) -> int:
    digest = hashlib.sha256(f"campaign-send:{cid}:{channel}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def _run_lock(engine: Engine, cid: int, channel: str) -> Iterator[None]:
    """One sender per campaign and channel (PostgreSQL advisory lock, held by a session).

    SQLite is the one-machine default; a second sender there is still safe (the unique
    claim and the gateway's dedupe on the key), just pointless.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    key = _lock_key(cid, channel)
    with engine.connect() as conn:
        if not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}):
            raise SendError(f"another sender is already running for this campaign on {channel}")
        try:
            yield
        finally:
            conn.scalar(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


def reopen_failed(engine: Engine, cid: int, channel: str) -> int:
    """``--retry-failed``: failed sends become claimed again (same row, same key)."""
    s = campaign_sends
    with engine.begin() as conn:
        result = conn.execute(
            update(s)
            .where(s.c.campaign_id == cid, s.c.channel == channel, s.c.status == "failed")
            .values(status="claimed", updated_at=now())
        )
        return max(result.rowcount or 0, 0)


def resumable(engine: Engine, cid: int, campaign: str, channel: str) -> tuple[list[Claimed], int]:
    """Rows left ``claimed`` by an earlier run: still eligible ones, and how many were
    skipped because the subscriber became ineligible since (opted out, answered No...)."""
    s, t = campaign_sends, campaign_targets
    with engine.begin() as conn:
        base = and_(s.c.campaign_id == cid, s.c.channel == channel, s.c.status == "claimed")
        stale = (
            select(s.c.id).join(t, t.c.id == s.c.target_id).where(base, not_(eligible(campaign)))
        )
        stale_ids = list(conn.scalars(stale))
        if stale_ids:
            conn.execute(
                update(s)
                .where(s.c.id.in_(stale_ids))
                .values(status="skipped", updated_at=now(), error="no longer eligible")
            )
        rows = conn.execute(
            select(s.c.id, s.c.target_id, t.c.phone_e164, s.c.claimed_at)
            .join(t, t.c.id == s.c.target_id)
            .where(base)
            .order_by(s.c.id)
        ).all()
    items = [Claimed(int(r[0]), int(r[1]), r[2], _aware(r[3])) for r in rows]
    return items, len(stale_ids)


def claim(
    engine: Engine,
    cid: int,
    campaign: str,
    channel: str,
    *,
    after: int,
    size: int,
    link_key: Callable[[str], str | None],
) -> tuple[list[Claimed], int | None]:
    """Claim up to ``size`` eligible, unsent targets with an id above ``after``.

    Returns the claimed rows and the cursor for the next batch, None when no candidate
    is left (keyset paging: a million targets are walked once, not rescanned). Rows
    another sender claimed first are left to it (``ON CONFLICT DO NOTHING``).
    """
    s, t = campaign_sends, campaign_targets
    with engine.begin() as conn:
        candidates = conn.execute(
            select(t.c.id, t.c.phone_e164)
            .where(t.c.campaign_id == cid, t.c.id > after, eligible(campaign), _no_send(channel))
            .order_by(t.c.id)
            .limit(size)
        ).all()
        if not candidates:
            return [], None
        stamp = now()
        rows = [
            {
                "target_id": target_id,
                "campaign_id": cid,
                "channel": channel,
                "status": "claimed",
                "claimed_at": stamp,
                "updated_at": stamp,
                "attempts": 0,
                "link_key": link_key(e164),
            }
            for target_id, e164 in candidates
        ]
        insert = upsert_insert(conn, s).on_conflict_do_nothing(
            index_elements=[s.c.target_id, s.c.channel]
        )
        conn.execute(insert, rows)
        phones = dict(candidates)
        mine = conn.execute(
            select(s.c.id, s.c.target_id, s.c.claimed_at)
            .where(
                s.c.target_id.in_(list(phones)),
                s.c.channel == channel,
                s.c.claimed_at == stamp,
                s.c.status == "claimed",
            )
            .order_by(s.c.id)
        ).all()
    items = [Claimed(int(r[0]), int(r[1]), phones[r[1]], _aware(r[2])) for r in mine]
    return items, int(candidates[-1][0])


def record(engine: Engine, outcomes: list[Outcome], channel: str) -> None:
    """Write outcomes in one transaction; sent ones stamp their targets' invitation.

    Set-based where it matters: on PostgreSQL the sent rows are one ``UPDATE … FROM
    (VALUES …)``, and the targets of the whole batch one ``UPDATE`` (so the funnel's
    statement triggers fire once per batch, not once per row).
    """
    if not outcomes:
        return
    t = campaign_targets
    sent = [o for o in outcomes if o.status == "sent"]
    failed = [o for o in outcomes if o.status != "sent"]
    with engine.begin() as conn:
        if sent:
            _record_sent(conn, sent)
            first = min(o.at for o in sent)
            conn.execute(
                update(t)
                .where(
                    t.c.id.in_([o.item.target_id for o in sent]),
                    or_(t.c.invited_at.is_(None), t.c.channel.is_(None)),
                )
                .values(
                    invited_at=func.coalesce(t.c.invited_at, first),
                    channel=func.coalesce(t.c.channel, channel),
                )
            )
        if failed:
            _update_each(conn, failed, status="failed", error=bindparam("err"))


def _record_sent(conn: Connection, sent: list[Outcome]) -> None:
    s = campaign_sends
    if conn.dialect.name == "postgresql":
        rows = values(
            column("sid", BigInteger),
            column("at", DateTime(timezone=True)),
            column("ref", String),
            column("n", Integer),
            name="v",
        ).data([(o.item.send_id, o.at, o.gateway_ref, o.attempts) for o in sent])
        conn.execute(
            update(s)
            .where(s.c.id == rows.c.sid)
            .values(
                status="sent",
                sent_at=rows.c.at,
                updated_at=rows.c.at,
                gateway_ref=rows.c.ref,
                attempts=s.c.attempts + rows.c.n,
                error=None,
            )
        )
        return
    _update_each(
        conn,
        sent,
        status="sent",
        sent_at=bindparam("at"),
        gateway_ref=bindparam("ref"),
        error=None,
    )


def _update_each(conn: Connection, outcomes: list[Outcome], **columns: Any) -> None:
    """One row update per outcome (an executemany): ``updated_at`` is the outcome's time
    and its attempts are added; ``columns`` may bind ``at``, ``ref`` and ``err`` too."""
    s = campaign_sends
    conn.execute(
        update(s)
        .where(s.c.id == bindparam("sid"))
        .values(updated_at=bindparam("at"), attempts=s.c.attempts + bindparam("n"), **columns),
        [
            {
                "sid": o.item.send_id,
                "at": o.at,
                "n": o.attempts,
                "ref": o.gateway_ref,
                "err": o.error,
            }
            for o in outcomes
        ],
    )


# -- the run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SendOptions:
    """One ``campaign send`` invocation."""

    campaign: str
    channel: str
    rate: float
    limit: int | None = None
    template: str | None = None
    link_secret: str = ""
    page_url: str = "http://yeucauthaysim4G.mobifone.vn"
    hotline: str = "9090"
    link_ttl: int = DEFAULT_LINK_TTL
    batch_size: int = 200
    max_in_flight: int = 32
    retry_failed: bool = False
    retry: RetryPolicy = RetryPolicy()


async def _in_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a blocking database step in a thread; a cancel (Ctrl-C, a crash in tests)
    waits for the step to commit or roll back first, so no transaction outlives the run
    and a resume never races an orphaned claim."""
    step = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
    try:
        return await asyncio.shield(step)
    except asyncio.CancelledError:
        await asyncio.wait([step])
        raise


class Sender:
    """Runs one send: resume, claim, deliver (paced, retried), record, report."""

    def __init__(
        self,
        engine: Engine,
        gateway: HttpGateway,
        options: SendOptions,
        *,
        templates: Templates | None = None,
        pacer: Pacer | None = None,
        sleep: Sleep = asyncio.sleep,
        progress: TextIO | None = None,
        stop: asyncio.Event | None = None,
    ) -> None:
        if options.channel not in CHANNELS:
            raise SendError(f"--channel must be one of {', '.join(CHANNELS)}")
        if gateway.channel != options.channel:
            raise SendError(f"a {gateway.channel} gateway cannot send on {options.channel}")
        if options.limit is not None and options.limit < 0:
            raise SendError("--limit must be 0 or more")
        if options.channel == "liveinfo" and not LIVEINFO_CAMPAIGN.fullmatch(options.campaign):
            raise SendError(
                "a Liveinfo campaign name is 1-64 of A-Z a-z 0-9 . _ - (answers carry it back)"
            )
        if options.channel == "sms" and not options.link_secret:
            raise SendError("SMS invitations need the link secret (WEBCHAT_LINK_SECRET)")
        self.engine = engine
        self.gateway = gateway
        self.options = options
        self.templates = templates or load_templates()
        self.template = options.template or DEFAULT_TEMPLATE[options.channel]
        self.pacer = pacer or Pacer(options.rate)
        self._sleep = sleep
        self.progress = progress
        self.stop = stop or asyncio.Event()
        self.report = SendReport(options.campaign, options.channel, options.rate)
        self._bar: Any = None

    # -- texts -------------------------------------------------------------------------

    def link_for(self, e164: str, issued: float) -> str:
        """The subscriber's personal link: page + ``#t=<signed token>``, no number."""
        sender = outreach.sender_id_for(self.options.link_secret, e164)
        token = outreach.sign_link(
            self.options.link_secret, sender, ttl=self.options.link_ttl, now=issued
        )
        return f"{self.options.page_url.rstrip('/')}/#t={token}"

    def link_key(self, e164: str) -> str | None:
        if self.options.channel != "sms":
            return None
        return outreach.subscriber_key(self.options.link_secret, e164)

    def render(self, item: Claimed, at: float | None = None) -> str:
        """The invitation text; the link is issued at the claim, so a resumed send is
        byte-identical (unless half its lifetime is gone: then it is issued afresh)."""
        values = {"hotline": self.options.hotline}
        if self.options.channel == "sms":
            issued = item.claimed_at.timestamp()
            current = time.time() if at is None else at
            if issued + self.options.link_ttl / 2 < current:
                issued = current
            values["link"] = self.link_for(item.e164, issued)
        return self.templates.render(self.template, **values)

    def preflight(self) -> None:
        """Refuse to start with a template that is missing or too long with a real link."""
        if self.template not in self.templates.texts:
            raise SendError(f"no template {self.template!r} in {self.templates.source}")
        spec = self.templates.channels.get(self.template)
        sample = Claimed(0, 0, "+84901234567", now())
        try:
            body = self.render(sample)
        except (KeyError, ValueError, IndexError) as exc:
            raise SendError(f"template {self.template!r} cannot be rendered: {exc}") from exc
        if spec is None:
            return
        if spec.kind == "sms":
            length = sms_length(body)
            if length.segments > (spec.max_segments or 1):
                raise SendError(
                    f"template {self.template!r} is {length.segments} SMS segments with the "
                    f"real link ({length.encoding}, {length.units} units), limit "
                    f"{spec.max_segments or 1}: shorten it or REQUEST_PAGE_URL"
                )
        elif spec.max_chars is not None and len(body) > spec.max_chars:
            raise SendError(
                f"template {self.template!r} is {len(body)} characters, limit {spec.max_chars}"
            )

    # -- delivery ----------------------------------------------------------------------

    async def deliver(self, item: Claimed) -> Outcome | None:
        """Send one invitation, retrying what may succeed later; never raises.

        None when the run is stopped while waiting to retry: the row stays claimed and
        the next run sends it with the same key.
        """
        message = Outgoing(item.key, item.e164, self.render(item), self.options.campaign)
        policy = self.options.retry
        attempts = 0
        while True:
            await self.pacer.wait()
            attempts += 1
            self.report.attempts += 1
            try:
                accepted: Accepted = await self.gateway.send(message)
            except GatewayError as exc:
                if exc.status in (401, 403):
                    # Our token or secret, not this subscriber: failing every target one
                    # by one would only need a --retry-failed later. Stop; rows stay
                    # claimed and the next run sends them with the same keys.
                    if self.report.refused is None:
                        log.error("gateway refused the credentials: %s; stopping", exc)
                        self.report.refused = str(exc)
                    self.stop.set()
                    return None
                if exc.retryable and attempts < policy.max_attempts:
                    log.info(
                        "send %s to %s: %s, retrying (attempt %d)",
                        item.key,
                        mask(item.e164),
                        exc,
                        attempts,
                    )
                    await self._sleep(policy.delay(attempts, exc.retry_after))
                    if self.stop.is_set():
                        return None
                    continue
                error = str(exc) if not exc.retryable else f"gave up after {attempts}: {exc}"
                log.warning("send %s to %s failed: %s", item.key, mask(item.e164), error)
                return Outcome(item, "failed", attempts, now(), error=error)
            log.debug("send %s to %s accepted", item.key, mask(item.e164))
            return Outcome(
                item,
                "sent",
                attempts,
                now(),
                gateway_ref=accepted.gateway_ref,
                duplicate=accepted.duplicate,
            )

    async def run(self) -> SendReport:
        """The whole send; cancelled (a crash) it leaves its rows claimed for a resume."""
        opts = self.options
        started = time.monotonic()
        cid = await _in_thread(self._campaign_id)
        self.preflight()
        with _run_lock(self.engine, cid, opts.channel):
            if opts.retry_failed:
                reopened = await _in_thread(reopen_failed, self.engine, cid, opts.channel)
                log.info("%d failed sends reopened", reopened)
            resumed, skipped = await _in_thread(
                resumable, self.engine, cid, opts.campaign, opts.channel
            )
            self.report.skipped += skipped
            budget = opts.limit if opts.limit is not None else None
            if budget is not None:
                resumed = resumed[:budget]
            self.report.resumed = len(resumed)
            todo = await _in_thread(remaining, self.engine, opts.campaign, opts.channel)
            planned = len(resumed) + (
                todo if budget is None else max(0, min(todo, budget - len(resumed)))
            )
            self._open_bar(planned)
            try:
                await self._pipeline(cid, resumed, budget)
            finally:
                self._close_bar()
            self.report.remaining = await _in_thread(
                remaining, self.engine, opts.campaign, opts.channel
            )
        self.report.interrupted = self.stop.is_set()
        self.report.seconds = time.monotonic() - started
        return self.report

    def _campaign_id(self) -> int:
        with self.engine.connect() as conn:
            return campaign_id(conn, self.options.campaign)

    async def _pipeline(self, cid: int, resumed: list[Claimed], budget: int | None) -> None:
        opts = self.options
        queue: asyncio.Queue[Claimed | None] = asyncio.Queue(maxsize=opts.max_in_flight * 2)
        results: asyncio.Queue[Outcome | None] = asyncio.Queue()
        workers = [
            asyncio.create_task(self._worker(queue, results)) for _ in range(opts.max_in_flight)
        ]
        recorder = asyncio.create_task(self._recorder(results))
        try:
            left = budget
            for item in resumed:
                if self.stop.is_set():
                    break
                await queue.put(item)
            if left is not None:
                left -= len(resumed)
            cursor: int | None = 0
            while not self.stop.is_set() and (left is None or left > 0):
                size = opts.batch_size if left is None else min(opts.batch_size, left)
                items, cursor = await _in_thread(
                    claim,
                    self.engine,
                    cid,
                    opts.campaign,
                    opts.channel,
                    after=cursor or 0,
                    size=size,
                    link_key=self.link_key,
                )
                if cursor is None:
                    break  # nobody left to invite on this channel
                if left is not None:
                    left -= len(items)
                for item in items:
                    await queue.put(item)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
            await results.put(None)
            await recorder
        finally:
            for task in (*workers, recorder):
                task.cancel()
            await asyncio.gather(*workers, recorder, return_exceptions=True)

    async def _worker(
        self, queue: asyncio.Queue[Claimed | None], results: asyncio.Queue[Outcome | None]
    ) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            if self.stop.is_set():
                continue  # left claimed: the next run resumes it with the same key
            outcome = await self.deliver(item)
            if outcome is not None:
                await results.put(outcome)

    async def _recorder(self, results: asyncio.Queue[Outcome | None]) -> None:
        """Write outcomes in batches (one transaction each), retrying a database hiccup."""
        done = False
        while not done:
            first = await results.get()
            batch: list[Outcome] = []
            if first is None:
                done = True
            else:
                batch.append(first)
            while len(batch) < 500 and not results.empty():
                more = results.get_nowait()
                if more is None:
                    done = True
                    break
                batch.append(more)
            if not batch:
                continue
            for attempt in range(1, 6):
                try:
                    await _in_thread(record, self.engine, batch, self.options.channel)
                    break
                except Exception as exc:
                    if attempt == 5:
                        self.stop.set()  # stop sending what cannot be recorded
                        raise
                    log.warning(
                        "could not record %d sends (%s), retrying", len(batch), type(exc).__name__
                    )
                    await asyncio.sleep(0.5 * attempt)
            self._count(batch)

    def _count(self, batch: list[Outcome]) -> None:
        for outcome in batch:
            if outcome.status == "sent":
                self.report.sent += 1
                self.report.duplicates += int(outcome.duplicate)
            else:
                self.report.failed += 1
                self.report.errors[_error_kind(outcome.error or "error")] += 1
        if self._bar is not None:
            self._bar.update(len(batch))
            self._bar.set_postfix(sent=self.report.sent, failed=self.report.failed, refresh=False)

    def _open_bar(self, total: int) -> None:
        if self.progress is None:
            return
        from tqdm import tqdm

        self._bar = tqdm(
            total=total,
            file=self.progress,
            unit="msg",
            desc=f"{self.options.campaign} {self.options.channel}",
            mininterval=0.5,
            dynamic_ncols=True,
        )

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def default_progress() -> TextIO:
    """Progress goes to stderr, so stdout keeps only the summary."""
    return sys.stderr
