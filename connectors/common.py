"""The pipeline every channel connector shares.

verify on the raw body → parse → drop duplicates → acknowledge at once → hand Rasa a
``UserMessage`` in the background → send replies through the platform's HTTP API.

Platforms retry a webhook they think failed (Facebook, Zalo and Telegram all do after a
few seconds), so a connector must answer before the dialogue turn runs and must recognise
the retry by the platform's own message id. Nothing here keeps state another replica
needs: with ``REDIS_URL`` set the duplicate keys live in Redis.

Public API (stable; ``connectors/liveinfo.py`` and ``connectors/webchat.py`` use it too):

- :class:`Rejected`, :func:`parse_json`, :func:`hmac_sha256_hex`, :func:`sha256_hex`,
  :func:`signatures_match` — request checks.
- :class:`Deduplicator`, :class:`MemoryDeduplicator`, :class:`RedisDeduplicator`,
  :func:`make_deduplicator` — "have I seen this platform message id?".
- :class:`MessageDispatcher` — background hand-off to Rasa, in order per sender.
- :class:`Pipeline` — dedupe + dispatch in one call, ``await pipeline.accept(id, msg)``.
- :class:`PlatformClient`, :class:`PlatformError` — one aiohttp session per channel with
  timeouts and retries.
- :func:`split_text`, :func:`truncate` — fit text to platform limits.
- :func:`redact` — mask phone numbers in anything that goes to a log.
- :func:`install_lifecycle` — drain pending turns and close sessions on server stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import hmac
import json
import logging
import os
import random
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from rasa.core.channels.channel import UserMessage
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
        expires = self._seen.get(key)
        if expires is not None and expires > now:
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


class MessageDispatcher:
    """Hands ``UserMessage`` objects to Rasa after the webhook has been answered.

    - Tasks are referenced until done (asyncio keeps only weak references).
    - Messages of one sender run one after the other, in arrival order, so a
      batch "xin chào" + "0901234567" reaches the dialogue in that order.
    - At most ``max_concurrency`` turns run at once; a burst queues instead of
      starving the event loop.
    - A failed turn is logged at ERROR with the channel, sender and message id;
      nothing is dropped silently.
    """

    def __init__(
        self, channel: str, on_new_message: OnNewMessage, max_concurrency: int = 32
    ) -> None:
        self.channel = channel
        self.on_new_message = on_new_message
        self.max_concurrency = max_concurrency
        self._semaphore: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tails: dict[str, asyncio.Task[None]] = {}
        self.handled = 0
        self.failed = 0

    @property
    def pending(self) -> int:
        """Turns submitted and not finished."""
        return len(self._tasks)

    def submit(self, message: UserMessage) -> asyncio.Task[None]:
        """Schedule ``message``; returns at once."""
        previous = self._tails.get(message.sender_id)
        task = asyncio.get_running_loop().create_task(
            self._run(message, previous), name=f"{self.channel}:{message.message_id}"
        )
        self._tasks.add(task)
        self._tails[message.sender_id] = task
        task.add_done_callback(lambda done: self._finished(message.sender_id, done))
        return task

    def _finished(self, sender_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(sender_id) is task:
            del self._tails[sender_id]

    async def _run(self, message: UserMessage, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            # Its failure is already logged; wait for it only to keep the order
            # (asyncio.wait neither raises the task's error nor cancels it).
            await asyncio.wait({previous})
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        async with self._semaphore:
            try:
                await self.on_new_message(message)
            except asyncio.CancelledError:
                logger.error(
                    "%s: turn cancelled sender=%s message_id=%s",
                    self.channel,
                    redact(message.sender_id),
                    message.message_id,
                )
                self.failed += 1
                raise
            except Exception:
                self.failed += 1
                logger.exception(
                    "%s: turn failed sender=%s message_id=%s",
                    self.channel,
                    redact(message.sender_id),
                    message.message_id,
                )
            else:
                self.handled += 1

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait for every submitted turn; True if all finished within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._tasks:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if remaining == 0.0:
                break
            await asyncio.wait(set(self._tasks), timeout=remaining)
        if self._tasks:
            logger.error("%s: %d turns still running at shutdown", self.channel, len(self._tasks))
            return False
        return True


class Pipeline:
    """Dedupe + dispatch for one channel: what a webhook does after verifying and parsing."""

    def __init__(
        self,
        channel: str,
        on_new_message: OnNewMessage,
        deduplicator: Deduplicator | None = None,
        max_concurrency: int = 32,
    ) -> None:
        self.channel = channel
        self.deduplicator = deduplicator if deduplicator is not None else make_deduplicator()
        self.dispatcher = MessageDispatcher(channel, on_new_message, max_concurrency)
        self.duplicates = 0

    async def accept(self, dedupe_key: str | None, message: UserMessage) -> bool:
        """Submit ``message`` unless ``dedupe_key`` was seen; True if submitted.

        ``dedupe_key`` is the platform's message id (namespaced here by channel);
        ``None`` skips the check for events that carry no id.
        """
        if dedupe_key is not None and not await self.deduplicator.first_seen(
            f"{self.channel}:{dedupe_key}"
        ):
            self.duplicates += 1
            logger.info("%s: duplicate %s dropped", self.channel, redact(dedupe_key))
            return False
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s: accepted %s from %s: %s",
                self.channel,
                message.message_id,
                redact(message.sender_id),
                redact(message.text),
            )
        self.dispatcher.submit(message)
        return True

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
    """On server stop: finish the turns already acknowledged, then close clients."""

    async def _stop(*_: Any) -> None:
        await dispatcher.drain(drain_timeout)
        for closable in closables:
            with contextlib.suppress(Exception):
                await closable.close()

    blueprint.listener("before_server_stop")(_stop)


def health(channel: str) -> HTTPResponse:
    """The GET ``/`` answer every connector gives."""
    return response.json({"status": "ok", "channel": channel})
