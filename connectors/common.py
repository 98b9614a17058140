"""The pipeline every channel connector shares.

verify on the raw body → parse → reserve room in the turn queue → drop duplicates →
acknowledge at once → run the dialogue turn in the background, Rasa's part of it on the
dialogue thread → send replies through the platform's API from the serving loop.

Platforms retry a webhook they think failed (Facebook, Zalo and Telegram all do after a
few seconds), so a connector must answer before the dialogue turn runs and must recognise
the retry by the platform's own message id. Rasa 3.6 runs NLU and policy inference
synchronously in ``MessageProcessor``; on the serving loop every turn would stall every
webhook, so turns are bounded (:class:`TurnQueue`) and run off the loop
(:func:`offload_dialogue`). When the queue is full a webhook answers 503 + ``Retry-After``
*before* taking the dedupe key, and the platform's redelivery is processed. Nothing here
keeps state another replica needs: with ``REDIS_URL`` set the duplicate keys live in Redis.

Public API (stable; ``connectors/liveinfo.py``, ``mymobifone.py`` and ``webchat.py`` use it too):

- :class:`Rejected`, :func:`parse_json`, :func:`hmac_sha256_hex`, :func:`sha256_hex`,
  :func:`signatures_match` — request checks.
- :class:`Deduplicator`, :class:`MemoryDeduplicator`, :class:`RedisDeduplicator`,
  :func:`make_deduplicator` — "have I seen this platform message id?".
- :class:`TurnQueue`, :func:`turn_queue`, :class:`Reservation`, :class:`Busy` — the
  process's bounded queue of dialogue turns (``CHANNEL_TURN_QUEUE``,
  ``CHANNEL_TURN_WORKERS``), in order per sender.
- :func:`offload_dialogue`, :class:`DialogueThread`, :class:`HomeLoopOutput` — Rasa's part
  of a turn on the dialogue thread (``CHANNEL_TURN_THREAD``), replies on the serving loop.
- :class:`MessageDispatcher` — one channel's hand-off to the turn queue, with its counts.
- :class:`Pipeline` — reserve + dedupe + queue in one call, ``await pipeline.accept(id, msg)``.
- :class:`PlatformClient`, :class:`PlatformError` — one aiohttp session per channel with
  timeouts and retries.
- :func:`split_text`, :func:`truncate` — fit text to platform limits.
- :func:`redact` — mask phone numbers in anything that goes to a log.
- :func:`install_lifecycle` — drain pending turns and close sessions on server stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.utils
import hashlib
import hmac
import inspect
import json
import logging
import os
import random
import re
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.response import HTTPResponse

from bot.phone import mask

logger = logging.getLogger(__name__)

DEFAULT_DEDUPE_TTL = 24 * 3600
"""Seconds a platform message id is remembered; every platform retries for less."""

DEFAULT_DEDUPE_MAX = 100_000
"""Entries kept by the in-process cache before the oldest are dropped."""

# ---------------------------------------------------------------------------- checks


class Rejected(Exception):
    """A webhook request refused before it reaches the pipeline (403, 400...)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def response(self) -> HTTPResponse:
        """The HTTP answer; short and free of request data."""
        return response.json({"error": self.reason}, status=self.status)


def hmac_sha256_hex(secret: str | bytes, body: bytes) -> str:
    """HMAC-SHA256 of ``body`` under ``secret``, lower-case hex (Meta, Liveinfo)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def sha256_hex(*parts: str | bytes) -> str:
    """Plain SHA-256 over the concatenated parts, lower-case hex (Zalo's ``mac``)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
    return digest.hexdigest()


def signatures_match(expected: str, given: str | None, *, hex_digest: bool = False) -> bool:
    """Constant-time comparison; a missing or non-ASCII value never matches.

    ``hex_digest`` ignores letter case (hex digests); secrets and tokens compare
    exactly. ``hmac.compare_digest`` on ``str`` raises for non-ASCII input, so both
    are encoded first: a hostile header must give 403, not 500.
    """
    if not given or not expected:
        return False
    expected, given = expected.strip(), given.strip()
    if hex_digest:
        expected, given = expected.lower(), given.lower()
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def parse_json(raw: bytes | None) -> Any:
    """Decode a JSON body or raise ``Rejected(400)``: malformed input is never a 500."""
    if not raw:
        raise Rejected(400, "empty body")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise Rejected(400, "malformed JSON") from exc


# ---------------------------------------------------------------------- redaction

_PHONE_LIKE = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?!\d)")


def as_object(value: Any) -> dict[str, Any]:
    """A JSON field that should be an object; anything else reads as empty. Signed but odd
    input is then ignored rather than answered with a 500 the platform redelivers forever."""
    return value if isinstance(value, dict) else {}


def required_credentials(
    channel: type[InputChannel], credentials: dict[str, Any] | None, *keys: str
) -> dict[str, Any]:
    """The channel's ``credentials.yml`` section, or Rasa's "missing credentials" error when
    it (or one of ``keys``) is absent: a channel must not start half configured."""
    if not credentials or any(not credentials.get(key) for key in keys):
        channel.raise_missing_credentials_exception()
        raise AssertionError("unreachable: Rasa's raiser is not typed NoReturn")
    return credentials


def redact(value: object) -> str:
    """``str(value)`` with every phone-number-like run masked by ``bot.phone.mask``.

    Message text is logged only at DEBUG and only through this function.
    """
    return _PHONE_LIKE.sub(lambda match: mask(match.group()), str(value))


class Closable(Protocol):
    """Anything holding connections that must be closed when the server stops."""

    async def close(self) -> None: ...


# ------------------------------------------------------------------------- dedupe


class Deduplicator(Protocol):
    """Remembers platform message ids for a while."""

    async def first_seen(self, key: str) -> bool:
        """Record ``key``; True the first time it is seen within the TTL."""
        ...

    async def forget(self, key: str) -> None:
        """Drop ``key`` so that a retry of it is processed again."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryDeduplicator:
    """Bounded in-process TTL cache: the embedded default for one replica."""

    def __init__(
        self,
        ttl: float = DEFAULT_DEDUPE_TTL,
        max_size: int = DEFAULT_DEDUPE_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    async def first_seen(self, key: str) -> bool:
        """Record ``key``; expired and excess entries are evicted oldest first."""
        now = self._clock()
        while self._seen:
            oldest_key, expires = next(iter(self._seen.items()))
            if expires > now and len(self._seen) < self.max_size:
                break
            del self._seen[oldest_key]
        seen_until = self._seen.get(key)
        if seen_until is not None and seen_until > now:
            return False
        self._seen[key] = now + self.ttl
        self._seen.move_to_end(key)
        return True

    async def forget(self, key: str) -> None:
        """Drop ``key``."""
        self._seen.pop(key, None)

    async def close(self) -> None:
        """Nothing to release."""


class RedisDeduplicator:
    """``SET key 1 NX EX ttl`` in Redis, shared by every replica.

    When Redis cannot be reached the message is processed anyway (logged as a
    warning): a rare duplicate reply is better than a lost customer message.
    """

    def __init__(self, url: str, ttl: int = DEFAULT_DEDUPE_TTL, prefix: str = "sim4g:") -> None:
        self.url = url
        self.ttl = int(ttl)
        self.prefix = prefix
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _redis(self) -> Any:
        # redis.asyncio connections belong to the loop that opened them.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            import redis.asyncio as aioredis

            self._client = aioredis.from_url(self.url)
            self._loop = loop
        return self._client

    async def first_seen(self, key: str) -> bool:
        """Atomically set the key if absent."""
        try:
            created = await self._redis().set(self.prefix + key, b"1", nx=True, ex=self.ttl)
        except Exception:  # the broker is down: process rather than lose the message
            logger.warning("dedupe: Redis unavailable, processing %s unchecked", key, exc_info=True)
            return True
        return bool(created)

    async def forget(self, key: str) -> None:
        """Delete the key; failures are only logged."""
        try:
            await self._redis().delete(self.prefix + key)
        except Exception:
            logger.warning("dedupe: could not forget %s", key, exc_info=True)

    async def close(self) -> None:
        """Close the connection pool of the current loop."""
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
            self._client = None


def make_deduplicator(
    redis_url: str | None = None,
    *,
    ttl: int = DEFAULT_DEDUPE_TTL,
    max_size: int = DEFAULT_DEDUPE_MAX,
    prefix: str = "sim4g:dedupe:",
) -> Deduplicator:
    """Redis when ``redis_url`` (default: env ``REDIS_URL``) is set, memory otherwise."""
    url = os.environ.get("REDIS_URL", "").strip() if redis_url is None else redis_url
    if url:
        return RedisDeduplicator(url, ttl=ttl, prefix=prefix)
    return MemoryDeduplicator(ttl=ttl, max_size=max_size)


# ---------------------------------------------------------------------- dispatch

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

DEFAULT_TURN_QUEUE = 200
"""Turns a process accepts and has not finished (``CHANNEL_TURN_QUEUE``): about what it
finishes within the 30 s a graceful stop waits, so a stop loses none (docs/channels.md)."""

DEFAULT_TURN_WORKERS = 4
"""Turns that run at once (``CHANNEL_TURN_WORKERS``)."""

RETRY_AFTER_SECONDS = 1
"""``Retry-After`` of a 503 when the turn queue is full."""


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1/true or 0/false, not {raw!r}")


class Busy(Exception):
    """The turn queue is full: the webhook answers 503 + ``Retry-After`` and keeps nothing.

    Raised before the dedupe key is taken, so the platform's retry is processed.
    """

    def __init__(self, channel: str, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(f"{channel}: turn queue full")
        self.retry_after = retry_after

    def response(self) -> HTTPResponse:
        """503 with ``Retry-After``: Meta, Telegram (and Zalo) redeliver a non-2xx webhook."""
        return response.json(
            {"error": "busy, retry later"},
            status=503,
            headers={"Retry-After": str(self.retry_after)},
        )


class HomeLoopOutput:
    """An output channel whose sends run on the serving loop, where its clients live.

    A turn on the dialogue thread replies through this wrapper: the platform's HTTP
    session, Redis client, token lock or socket.io server of the real channel stay on
    the loop that created them. Rasa calls only ``name()`` and ``send_response``; any
    other coroutine method is forwarded the same way.
    """

    def __init__(self, inner: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.inner = inner
        self.loop = loop

    def name(self) -> str:
        """The real channel's name (``channel:`` response variants)."""
        return str(self.inner.name())

    async def _on_home_loop(self, awaitable: Awaitable[Any]) -> Any:
        async def call() -> Any:
            return await awaitable

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), self.loop))

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Rasa's one entry point for replies."""
        await self._on_home_loop(self.inner.send_response(recipient_id, message))

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self.inner, attribute)
        if not inspect.iscoroutinefunction(value):
            return value

        async def forwarded(*args: Any, **kwargs: Any) -> Any:
            return await self._on_home_loop(value(*args, **kwargs))

        return forwarded


class DialogueThread:
    """One thread with its own event loop, where Rasa's part of every turn runs.

    Rasa 3.6 runs NLU and policy inference synchronously inside ``MessageProcessor``
    (and the SQL tracker store blocks too): on the serving loop each of those steps
    stalls every webhook for tens of milliseconds. On this thread the interpreter
    hands the GIL back to the serving thread every few milliseconds (and TensorFlow
    releases it), so acknowledgements stay fast while turns compute. Measured in
    docs/channels.md.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        """The dialogue loop, started on first use."""
        with self._guard:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="dialogue", daemon=True).start()
                self._loop = loop
            return self._loop

    async def run(self, on_new_message: OnNewMessage, message: UserMessage) -> Any:
        """``on_new_message(message)`` on the dialogue loop; replies go out on this loop.

        A ``CollectingOutputChannel`` (My MobiFone) is kept as it is: it only appends
        to a list that the caller reads once the turn is over.
        """
        shadow = copy.copy(message)
        if not isinstance(message.output_channel, CollectingOutputChannel):
            shadow.output_channel = HomeLoopOutput(
                message.output_channel, asyncio.get_running_loop()
            )

        async def turn() -> Any:
            return await on_new_message(shadow)

        # Cancelling the wrapper (a timeout, shutdown) cancels the turn on its loop.
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(turn(), self.loop()))


_DIALOGUE = DialogueThread()


def offload_dialogue(on_new_message: OnNewMessage, enabled: bool | None = None) -> OnNewMessage:
    """Rasa's ``on_new_message`` on the dialogue thread (``CHANNEL_TURN_THREAD``, default on).

    Off (``CHANNEL_TURN_THREAD=0``), turns run on the serving loop as Rasa does, for an
    event broker or tracker store that must stay on one loop.
    """
    if not (_env_flag("CHANNEL_TURN_THREAD", True) if enabled is None else enabled):
        return on_new_message

    async def on_dialogue_thread(message: UserMessage) -> Any:
        return await _DIALOGUE.run(on_new_message, message)

    return on_dialogue_thread


@dataclass
class _Turn:
    message: UserMessage
    handler: OnNewMessage
    future: asyncio.Future[None]


class Reservation:
    """Room held in the turn queue while a webhook deduplicates its events.

    Taken *before* the dedupe keys, so that a full queue refuses a request without
    touching them; unused room is given back on ``release`` (or leaving ``with``).
    """

    def __init__(self, queue: TurnQueue, count: int) -> None:
        self._queue = queue
        self.remaining = count

    def take(self) -> None:
        """Use one slot for a turn being queued."""
        if self.remaining <= 0:
            raise RuntimeError("reservation used up")
        self.remaining -= 1
        self._queue._reserved -= 1

    def release(self) -> None:
        """Give back what was not used."""
        self._queue._reserved -= self.remaining
        self.remaining = 0

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


class TurnQueue:
    """Every channel's dialogue turns in one process: bounded, few at once, in order per sender.

    - At most ``capacity`` turns accepted and not finished; webhooks reserve room first
      and get :class:`Busy` when there is none (503 + ``Retry-After``, nothing kept).
    - At most ``workers`` turns run at once; the rest wait their turn, so a burst
      costs memory, not event-loop time.
    - A sender's turns run one after the other in arrival order, never two at once;
      senders take turns round-robin, so one chatty customer cannot hold the queue.
    - Consumers are started on demand and end when nothing is left: an idle process
      has no task to cancel at shutdown.
    """

    def __init__(
        self, capacity: int = DEFAULT_TURN_QUEUE, workers: int = DEFAULT_TURN_WORKERS
    ) -> None:
        if capacity < 1 or workers < 1:
            raise ValueError("the turn queue needs a capacity and workers of at least 1")
        self.capacity = capacity
        self.workers = workers
        self._senders: dict[str, deque[_Turn]] = {}
        self._ready: deque[str] = deque()
        self._consumers: set[asyncio.Task[None]] = set()
        self._reserved = 0
        self._size = 0
        self.running = 0
        self.done = 0
        self.closing = False  # the server is stopping: refuse, the platform redelivers

    @classmethod
    def from_env(cls) -> TurnQueue:
        """``CHANNEL_TURN_QUEUE`` and ``CHANNEL_TURN_WORKERS``, else the defaults."""
        return cls(
            _env_int("CHANNEL_TURN_QUEUE", DEFAULT_TURN_QUEUE),
            _env_int("CHANNEL_TURN_WORKERS", DEFAULT_TURN_WORKERS),
        )

    @property
    def size(self) -> int:
        """Turns queued or running."""
        return self._size

    @property
    def free(self) -> int:
        """Room left for webhooks."""
        return self.capacity - self._size - self._reserved

    def reserve(self, count: int, channel: str = "") -> Reservation:
        """Hold room for ``count`` turns, or raise :class:`Busy`.

        A batch larger than the whole queue is taken when the queue is empty, or it
        could never be accepted.
        """
        if self.closing or min(count, self.capacity) > self.free:
            raise Busy(channel)
        self._reserved += count
        return Reservation(self, count)

    def put(
        self, message: UserMessage, handler: OnNewMessage, reservation: Reservation | None = None
    ) -> asyncio.Future[None]:
        """Queue one turn; its future completes when ``handler(message)`` has run.

        Without a reservation the turn is queued even beyond ``capacity``: for what
        is already acknowledged and bounded by its own producer (Liveinfo's follow-ups).
        """
        if reservation is not None:
            reservation.take()
        loop = asyncio.get_running_loop()
        turn = _Turn(message, handler, loop.create_future())
        self._size += 1
        waiting = self._senders.get(message.sender_id)
        if waiting is None:
            self._senders[message.sender_id] = deque([turn])
            self._ready.append(message.sender_id)
        else:
            waiting.append(turn)  # runs when the sender's current turns are done
        while self._ready and len(self._consumers) < self.workers:
            task = loop.create_task(self._consume(), name="turn-consumer")
            self._consumers.add(task)
            task.add_done_callback(self._consumers.discard)
        return turn.future

    async def _consume(self) -> None:
        while self._ready:
            sender = self._ready.popleft()
            waiting = self._senders[sender]
            self.running += 1
            try:
                await self._run(waiting[0])
            finally:
                self.running -= 1
                self._size -= 1
                self.done += 1
                waiting.popleft()
                if waiting:
                    self._ready.append(sender)  # its next message, behind the others
                else:
                    del self._senders[sender]

    @staticmethod
    async def _run(turn: _Turn) -> None:
        """Run one turn; cancelling its future (a caller's timeout) cancels the turn."""
        if turn.future.done():  # cancelled while it waited
            return
        task = asyncio.ensure_future(turn.handler(turn.message))
        turn.future.add_done_callback(lambda future: task.cancel() if future.cancelled() else None)
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:  # the consumer itself: the turn goes with it
            task.cancel()
            turn.future.cancel()
            raise
        if turn.future.done():
            return
        if task.cancelled():
            turn.future.cancel()
        elif task.exception() is not None:
            turn.future.set_exception(task.exception())  # type: ignore[arg-type]
        else:
            turn.future.set_result(None)


_QUEUES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TurnQueue] = (
    weakref.WeakKeyDictionary()
)


def turn_queue() -> TurnQueue:
    """The running loop's shared turn queue (settings from the environment)."""
    loop = asyncio.get_running_loop()
    queue = _QUEUES.get(loop)
    if queue is None:
        queue = _QUEUES[loop] = TurnQueue.from_env()
    return queue


class MessageDispatcher:
    """One channel's hand-off of ``UserMessage`` objects to the shared :class:`TurnQueue`.

    It keeps the channel's own accounting: a failed turn is logged at ERROR with the
    channel, sender and message id (nothing is dropped silently), and ``drain`` waits
    for this channel's turns at shutdown.
    """

    def __init__(
        self, channel: str, on_new_message: OnNewMessage, *, turns: TurnQueue | None = None
    ) -> None:
        self.channel = channel
        self.on_new_message = on_new_message
        self._turns = turns
        self._futures: set[asyncio.Future[None]] = set()
        self.handled = 0
        self.failed = 0

    @property
    def turns(self) -> TurnQueue:
        """The queue given, else the running loop's shared one."""
        if self._turns is None:
            self._turns = turn_queue()
        return self._turns

    @property
    def pending(self) -> int:
        """Turns submitted and not finished."""
        return len(self._futures)

    def submit(
        self, message: UserMessage, reservation: Reservation | None = None
    ) -> asyncio.Future[None]:
        """Queue ``message``; returns at once (see :meth:`TurnQueue.put`)."""
        future = self.turns.put(message, self.on_new_message, reservation)
        self._futures.add(future)
        future.add_done_callback(lambda done: self._finished(message, done))
        return future

    def _finished(self, message: UserMessage, future: asyncio.Future[None]) -> None:
        self._futures.discard(future)
        if future.cancelled():
            self.failed += 1
            logger.error(
                "%s: turn cancelled sender=%s message_id=%s",
                self.channel,
                redact(message.sender_id),
                message.message_id,
            )
        elif future.exception() is not None:
            self.failed += 1
            logger.error(
                "%s: turn failed sender=%s message_id=%s",
                self.channel,
                redact(message.sender_id),
                message.message_id,
                exc_info=future.exception(),
            )
        else:
            self.handled += 1

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait for this channel's turns; True if all finished within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._futures:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if remaining == 0.0:
                break
            await asyncio.wait(set(self._futures), timeout=remaining)
        if self._futures:
            logger.error("%s: %d turns still running at shutdown", self.channel, len(self._futures))
            return False
        return True


class Pipeline:
    """Reserve room → dedupe → queue, for one channel: what a webhook does after verifying.

    Rasa's part of each turn runs on the dialogue thread (:func:`offload_dialogue`).
    When the turn queue is full, :class:`Busy` is raised *before* any dedupe key is
    taken, so the platform's redelivery is processed: a message is either queued
    (and acknowledged) or refused with 503, never acknowledged and dropped.
    """

    def __init__(
        self,
        channel: str,
        on_new_message: OnNewMessage,
        deduplicator: Deduplicator | None = None,
        *,
        turns: TurnQueue | None = None,
        offload: bool | None = None,
    ) -> None:
        self.channel = channel
        self.deduplicator = deduplicator if deduplicator is not None else make_deduplicator()
        self.dispatcher = MessageDispatcher(
            channel, offload_dialogue(on_new_message, offload), turns=turns
        )
        self.duplicates = 0
        self.busy = 0
        self._busy_logged = 0.0

    def reserve(self, count: int) -> Reservation:
        """Room for ``count`` turns, or :class:`Busy` (logged at most every 10 s)."""
        try:
            return self.dispatcher.turns.reserve(count, self.channel)
        except Busy:
            self.busy += 1
            now = time.monotonic()
            if now - self._busy_logged >= 10:
                self._busy_logged = now
                logger.warning(
                    "%s: turn queue full (%d turns), answering 503 (%d so far)",
                    self.channel,
                    self.dispatcher.turns.size,
                    self.busy,
                )
            raise

    async def first_seen(self, dedupe_key: str) -> bool:
        """Record the platform's message id (namespaced by channel); False for a duplicate."""
        if await self.deduplicator.first_seen(f"{self.channel}:{dedupe_key}"):
            return True
        self.duplicates += 1
        logger.info("%s: duplicate %s dropped", self.channel, redact(dedupe_key))
        return False

    async def forget(self, dedupe_key: str) -> None:
        """Free a key taken by :meth:`first_seen` for a message that was not queued."""
        await asyncio.shield(self.deduplicator.forget(f"{self.channel}:{dedupe_key}"))

    def submit(self, message: UserMessage, reservation: Reservation) -> asyncio.Future[None]:
        """Queue ``message`` in room reserved by :meth:`reserve`."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s: accepted %s from %s: %s",
                self.channel,
                message.message_id,
                redact(message.sender_id),
                redact(message.text),
            )
        return self.dispatcher.submit(message, reservation)

    async def accept_all(self, items: list[tuple[str | None, UserMessage]]) -> int:
        """Queue every message not seen before; all or none (:class:`Busy`).

        ``items`` are (dedupe key, message) in the platform's order; a ``None`` key
        skips the check for events that carry no id. Returns how many were queued.
        """
        if not items:
            return 0
        # Shielded: a platform hanging up (Sanic cancels the handler) between taking a
        # message's key and queueing it would leave the key taken and the message lost,
        # its redelivery dropped as a duplicate. Once started, the batch is queued.
        return await asyncio.shield(self._accept_all(items))

    async def _accept_all(self, items: list[tuple[str | None, UserMessage]]) -> int:
        accepted = 0
        with self.reserve(len(items)) as reservation:
            for key, message in items:
                if key is None or await self.first_seen(key):
                    self.submit(message, reservation)
                    accepted += 1
        return accepted

    async def accept(self, dedupe_key: str | None, message: UserMessage) -> bool:
        """One message: True if queued, False if a duplicate; :class:`Busy` if full."""
        return await self.accept_all([(dedupe_key, message)]) == 1

    def install(self, blueprint: Blueprint, *clients: Closable, drain: float = 30.0) -> None:
        """Drain turns and close the deduplicator and ``clients`` when the server stops."""
        install_lifecycle(
            blueprint, self.dispatcher, self.deduplicator, *clients, drain_timeout=drain
        )


# ------------------------------------------------------------------ HTTP client


class PlatformError(Exception):
    """The platform refused a call, or kept failing after the retries."""

    def __init__(self, status: int, body: Any, message: str = "") -> None:
        super().__init__(message or f"platform answered HTTP {status}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class ApiResponse:
    """What a platform answered: status, parsed JSON (or text) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    return None


class PlatformClient:
    """One shared ``aiohttp.ClientSession`` per channel, created lazily in the running loop.

    Retries 429 and 5xx answers and failed connections with exponential backoff and
    full jitter, honouring ``Retry-After`` (capped by ``max_delay``). Other 4xx are
    returned to the caller, who knows the platform's error format.
    """

    RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

    def __init__(
        self,
        name: str,
        *,
        timeout: float = 10.0,
        max_attempts: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 20.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=min(5.0, timeout))
        self.max_attempts = max(1, max_attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.headers = dict(headers or {})
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.calls = 0
        self.retries = 0

    def session(self) -> aiohttp.ClientSession:
        """The channel's session for the running loop (re-created if the loop changed)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout,
                headers=self.headers,
                connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300),
            )
            self._loop = loop
        return self._session

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not security

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        """Call the platform; raise :class:`PlatformError` when retries are exhausted."""
        last: ApiResponse | None = None
        for attempt in range(self.max_attempts):
            self.calls += 1
            retry_after: float | None = None
            try:
                async with self.session().request(
                    method, url, json=json_body, data=data, headers=headers, params=params
                ) as resp:
                    raw = await resp.read()
                    body: Any
                    try:
                        body = json.loads(raw) if raw else None
                    except (UnicodeDecodeError, json.JSONDecodeError):
                        body = raw.decode("utf-8", "replace")
                    last = ApiResponse(resp.status, body, dict(resp.headers))
                    if resp.status not in self.RETRY_STATUSES:
                        return last
                    retry_after = _retry_after(resp.headers.get("Retry-After"))
                    logger.warning(
                        "%s: HTTP %d from platform (attempt %d/%d)",
                        self.name,
                        resp.status,
                        attempt + 1,
                        self.max_attempts,
                    )
            except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
                # A timeout may mean the platform got the call; the Send APIs have no
                # idempotency key, so a rare duplicate reply is the price of not
                # losing one.
                logger.warning(
                    "%s: %s calling platform (attempt %d/%d)",
                    self.name,
                    type(exc).__name__,
                    attempt + 1,
                    self.max_attempts,
                )
                last = None
            if attempt + 1 < self.max_attempts:
                self.retries += 1
                await asyncio.sleep(self._delay(attempt, retry_after))
        if last is None:
            raise PlatformError(0, None, f"{self.name}: platform unreachable")
        raise PlatformError(last.status, last.body)

    async def close(self) -> None:
        """Close the session (server stop)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


# --------------------------------------------------------------------- text shaping


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut ``text`` to ``limit`` characters on a word boundary, marking the cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = max(1, limit - len(ellipsis))
    cut = text[:room]
    space = cut.rfind(" ")
    if space >= room // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + ellipsis


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters.

    Prefers paragraph, then line, then sentence, then word boundaries; a single
    word longer than the limit is cut hard.
    """
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = -1
        for separator in ("\n\n", "\n", ". ", " "):
            position = window.rfind(separator, 0, limit)
            if position > limit // 3:
                cut = position + (1 if separator == ". " else 0)
                break
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


# ------------------------------------------------------------------------ lifecycle


def install_lifecycle(
    blueprint: Blueprint,
    dispatcher: MessageDispatcher,
    *closables: Closable,
    drain_timeout: float = 30.0,
) -> None:
    """On server stop: finish the turns already acknowledged, then close clients.

    The server still answers webhooks while it drains (Sanic closes the socket after
    ``before_server_stop``): from the stop on the shared queue refuses them with 503,
    so nothing is acknowledged that the drain (or another channel's) would not wait for.
    """

    async def _start(*_: Any) -> None:
        dispatcher.turns.closing = False

    async def _stop(*_: Any) -> None:
        dispatcher.turns.closing = True
        await dispatcher.drain(drain_timeout)
        for closable in closables:
            with contextlib.suppress(Exception):
                await closable.close()

    blueprint.listener("before_server_start")(_start)
    blueprint.listener("before_server_stop")(_stop)


def health(channel: str) -> HTTPResponse:
    """The GET ``/`` answer every connector gives."""
    return response.json({"status": "ok", "channel": channel})
