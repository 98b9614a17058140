"""Liveinfo Yes/No answers from the operator's gateway (plan §2b); contract: docs/liveinfo.md.

The gateway POSTs one answer per request to ``/webhooks/liveinfo/webhook``, signed with
HMAC-SHA256 over ``timestamp + "." + raw body``. A campaign sends many prompts at once,
so the webhook only checks, deduplicates and queues, and answers 202 at once; workers
then store the answers in batches (``liveinfo_answers``: idempotent on ``request_id``
across restarts and replicas) and, for a *Yes*, open the subscriber's conversation with
the phone number already known and text the bot's reply by SMS with a signed link to the
web request page (same conversation). A *No* is recorded so the campaign never prompts
that subscriber again (:func:`bot.outreach.has_refused`).

When the bounded queue is full the webhook answers 503 with ``Retry-After`` and forgets
the request id, so the gateway's retry is processed: nothing acknowledged is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import outreach
from bot.campaign import hooks
from bot.phone import InvalidPhoneError, mask, parse
from bot.text import strip_diacritics
from connectors.common import (
    Deduplicator,
    MessageDispatcher,
    PlatformClient,
    PlatformError,
    Rejected,
    hmac_sha256_hex,
    make_deduplicator,
    offload_dialogue,
    parse_json,
    required_credentials,
    signatures_match,
)

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Liveinfo-Timestamp"
SIGNATURE_HEADER = "X-Liveinfo-Signature"
MAX_SKEW_SECONDS = 300
MAX_BODY = 4096
LINK_MARKER = "[[link]]"
VN_TZ = dt.timezone(dt.timedelta(hours=7))
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_CAMPAIGN = re.compile(r"[A-Za-z0-9._\-]{1,64}")
FIELDS = ("request_id", "msisdn", "campaign", "answer", "answered_at")


def _busy() -> HTTPResponse:
    """503 + ``Retry-After``: nothing kept, the gateway's retry is processed."""
    return response.json({"error": "busy, retry later"}, status=503, headers={"Retry-After": "1"})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Liveinfo-Signature`` value for ``body`` sent at ``timestamp`` (gateway side)."""
    return "sha256=" + hmac_sha256_hex(secret, timestamp.encode() + b"." + body)


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes) -> None:
    """Raise ``Rejected(403)`` unless fresh (±5 min) and signed with ``secret``."""
    if not timestamp or not timestamp.strip().isdigit():
        raise Rejected(403, "missing or malformed timestamp")
    if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
        raise Rejected(403, "stale timestamp")
    if not signatures_match(sign(secret, timestamp.strip(), body), signature):
        raise Rejected(403, "bad signature")


def _answered_at(value: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=VN_TZ)


def parse_answer(payload: Any) -> outreach.Answer:
    """The answer in a gateway payload, or ``Rejected(400)`` naming what is wrong."""
    if not isinstance(payload, dict):
        raise Rejected(400, "expected a JSON object")
    missing = [f for f in FIELDS if not isinstance(payload.get(f), str) or not payload[f].strip()]
    if missing:
        raise Rejected(400, "missing or empty: " + ", ".join(missing))
    request_id, campaign = payload["request_id"].strip(), payload["campaign"].strip()
    if not _REQUEST_ID.fullmatch(request_id):
        raise Rejected(400, "malformed request_id")
    if not _CAMPAIGN.fullmatch(campaign):
        raise Rejected(400, "malformed campaign")
    if payload["answer"] not in outreach.ANSWERS:
        raise Rejected(400, "answer must be YES or NO")
    try:
        phone = parse(payload["msisdn"])
    except InvalidPhoneError as exc:
        raise Rejected(400, "invalid msisdn") from exc
    try:
        answered_at = _answered_at(payload["answered_at"])
    except ValueError as exc:
        raise Rejected(400, "answered_at must be ISO 8601") from exc
    return outreach.Answer(request_id, phone.e164, campaign, payload["answer"], answered_at)


class SmsOutput(OutputChannel):
    """Collects the bot's replies to one *Yes* so they leave as a single SMS.

    Its name is ``liveinfo``, so CSKH can give responses an SMS-shaped ``channel:
    liveinfo`` variant in domain.yml; a ``[[link]]`` in that text places the link.
    """

    @classmethod
    def name(cls) -> str:
        return "liveinfo"

    def __init__(self) -> None:
        self.parts: list[str] = []

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.parts.append(text.strip())

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        # An SMS cannot carry buttons; the choices stay readable and the link offers them.
        titles = " / ".join(str(b.get("title", "")) for b in buttons if b.get("title"))
        self.parts.append(f"{text.strip()} ({titles})" if titles else text.strip())

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        """Images do not fit an SMS: left out."""

    def sms_text(self, link: str, *, ascii_only: bool) -> str:
        """The SMS body: the replies, the link where ``[[link]]`` is or at the end."""
        body = "\n".join(p for p in self.parts if p)
        if ascii_only:
            body = strip_diacritics(body)
        if LINK_MARKER in body:
            return body.replace(LINK_MARKER, link)
        return f"{body}\n{link}" if body else link


class SmsGateway:
    """The operator's SMS gateway (contract in docs/liveinfo.md), over one aiohttp session."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.client = PlatformClient(
            "sms", timeout=timeout, headers={"Authorization": f"Bearer {token}"}
        )

    async def send(self, to_e164: str, text: str, reference: str) -> None:
        """Hand one SMS to the gateway; raise :class:`PlatformError` if it refuses."""
        answer = await self.client.request(
            "POST", self.url, json_body={"to": to_e164, "text": text, "reference": reference}
        )
        if not 200 <= answer.status < 300:
            raise PlatformError(answer.status, answer.body)

    async def close(self) -> None:
        await self.client.close()


class LiveinfoInput(InputChannel):
    """``POST /webhooks/liveinfo/webhook``: verify, dedupe, queue, 202."""

    @classmethod
    def name(cls) -> str:
        return "liveinfo"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = required_credentials(cls, credentials, "secret")
        return cls(
            secret=str(credentials["secret"]),
            sms_gateway_url=str(credentials.get("sms_gateway_url") or ""),
            sms_gateway_token=str(credentials.get("sms_gateway_token") or ""),
            page_url=str(credentials.get("page_url") or "") or None,
            queue_size=int(credentials.get("queue_size") or 10_000),
            max_concurrency=int(credentials.get("max_concurrency") or 16),
            sms_ascii=str(credentials.get("sms_ascii", "true")).lower() not in ("false", "0"),
        )

    def __init__(
        self,
        secret: str,
        sms_gateway_url: str = "",
        sms_gateway_token: str = "",
        *,
        page_url: str | None = None,
        link_secret: str | None = None,
        database_url: str | None = None,
        deduplicator: Deduplicator | None = None,
        queue_size: int = 10_000,
        batch_size: int = 500,
        max_concurrency: int = 16,
        sms_ascii: bool = True,
        link_ttl: int = outreach.LINK_TTL_SECONDS,
    ) -> None:
        from bot.settings import Settings, _secret

        settings = Settings.from_env()
        if not secret:
            raise ValueError("the Liveinfo shared secret is required")
        self.secret = secret
        self.link_secret = link_secret or _secret("WEBCHAT_LINK_SECRET", "webchat-link-secret")
        self.page_url = (page_url or settings.request_page_url).rstrip("/") + "/"
        self.database_url = database_url or settings.database_url
        self.sms = SmsGateway(sms_gateway_url, sms_gateway_token) if sms_gateway_url else None
        self.deduplicator = deduplicator or make_deduplicator(prefix="sim4g:dedupe:")
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.max_concurrency = max_concurrency
        self.sms_ascii = sms_ascii
        self.link_ttl = link_ttl
        self.store: outreach.OutreachStore | None = None
        self.dispatcher: MessageDispatcher | None = None
        self._queue: asyncio.Queue[outreach.Answer] | None = None
        self._recorder: asyncio.Task[None] | None = None
        self._in_flight: asyncio.Semaphore | None = None
        self._start_lock: asyncio.Lock | None = None
        self._on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None
        self._numbers: dict[str, str] = {}  # request id -> E.164, until its SMS is sent
        self.stats = {"accepted": 0, "duplicates": 0, "busy": 0, "recorded": 0, "processed": 0}
        self._stopping = False  # set by ``stop``: the webhook answers 503 from then on

    # -- the webhook -------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        self._on_new_message = offload_dialogue(on_new_message)  # Rasa on the dialogue thread
        bp = Blueprint("liveinfo_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            queued = self._queue.qsize() if self._queue else 0
            return response.json({"status": "ok", "channel": "liveinfo", "queued": queued})

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            try:
                return await self._receive(request)
            except Rejected as rejected:
                return rejected.response()

        @bp.listener("after_server_start")
        async def _start(*_: Any) -> None:
            self._stopping = False
            await self.start()

        @bp.listener("before_server_stop")
        async def _stop(*_: Any) -> None:
            await self.stop()

        return bp

    async def _receive(self, request: Request) -> HTTPResponse:
        raw = request.body or b""
        if len(raw) > MAX_BODY:
            raise Rejected(413, "body too large")
        verify(
            self.secret,
            request.headers.get(TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            raw,
        )
        answer = parse_answer(parse_json(raw))
        if self._stopping:  # the recorder is going: keep nothing, the gateway retries
            self.stats["busy"] += 1
            return _busy()
        await self.start()
        assert self._queue is not None
        key = f"liveinfo:{answer.request_id}"
        if not await self.deduplicator.first_seen(key):
            self.stats["duplicates"] += 1
            return response.json({"status": "duplicate", "request_id": answer.request_id}, 202)
        try:
            self._queue.put_nowait(answer)
        except asyncio.QueueFull:
            await self.deduplicator.forget(key)  # the gateway's retry must be processed
            self.stats["busy"] += 1
            return _busy()
        self.stats["accepted"] += 1
        return response.json({"status": "accepted", "request_id": answer.request_id}, 202)

    # -- the workers -------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and start the recorder once, in the serving loop."""
        if self._recorder is not None:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._recorder is not None:
                return
            if self.store is None:
                self.store = await asyncio.to_thread(
                    outreach.OutreachStore.from_url, self.database_url
                )
            self._queue = asyncio.Queue(self.queue_size)
            self._in_flight = asyncio.Semaphore(self.max_concurrency * 4)
            # Follow-ups share the process's turn queue (at most ``_in_flight`` of them).
            self.dispatcher = MessageDispatcher("liveinfo", self._converse)
            self._recorder = asyncio.get_running_loop().create_task(
                self._record_loop(), name="liveinfo-recorder"
            )

    async def stop(self, timeout: float = 30.0) -> None:
        """Finish what was acknowledged (queue, then conversations), then close clients.

        The server still answers webhooks until this returns: they get 503 from now on,
        or an answer would wait in a queue nobody records any more.
        """
        self._stopping = True
        deadline = time.monotonic() + timeout
        if self._queue is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout)
        if self._recorder is not None:
            self._recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recorder
            self._recorder = None
        if self.dispatcher is not None:
            await self.dispatcher.drain(max(0.1, deadline - time.monotonic()))
        if self._queue is not None and not self._queue.empty():
            logger.error("liveinfo: %d answers still queued at shutdown", self._queue.qsize())
        if self.sms is not None:
            await self.sms.close()
        await self.deduplicator.close()

    async def idle(self) -> None:
        """Wait until every accepted answer is recorded and followed up (tests, bench)."""
        if self._queue is not None:
            await self._queue.join()
        if self.dispatcher is not None:
            await self.dispatcher.drain()

    async def _record_loop(self) -> None:
        assert self._queue is not None and self.store is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                while True:
                    try:
                        await self._record(batch)
                        break
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        # The database is down: keep this batch and try again (recording
                        # is idempotent, so a retry never follows an answer up twice).
                        logger.exception("liveinfo: could not record %d answers", len(batch))
                        await asyncio.sleep(1.0)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _record(self, batch: list[outreach.Answer]) -> None:
        assert self.store is not None and self.dispatcher is not None
        assert self._in_flight is not None
        fresh = await asyncio.to_thread(self._store_batch, batch)
        self.stats["recorded"] += len(fresh)
        refusals = [a.request_id for a in fresh if a.answer == "NO"]
        if refusals:
            await asyncio.to_thread(self.store.mark_processed, refusals)
            self.stats["processed"] += len(refusals)
        for answer in fresh:
            if answer.answer != "YES":
                continue
            await self._in_flight.acquire()  # back-pressure: Rasa sets the pace
            self._numbers[answer.request_id] = answer.msisdn
            task = self.dispatcher.submit(self._user_message(answer))
            task.add_done_callback(lambda _t: self._in_flight.release())  # type: ignore[union-attr]

    def _store_batch(self, batch: list[outreach.Answer]) -> list[outreach.Answer]:
        """Record the answers; stamp the campaign funnel of the fresh ones (Yes → answered,
        No → refused), in the same worker thread. The funnel never fails the batch."""
        assert self.store is not None
        fresh = self.store.record(batch)
        if fresh:
            hooks.liveinfo_answers(
                self.store.engine, [(a.campaign, a.msisdn, a.answer, a.answered_at) for a in fresh]
            )
        return fresh

    def _user_message(self, answer: outreach.Answer) -> UserMessage:
        national = "0" + answer.msisdn.removeprefix("+84")
        entities = json.dumps(
            {"phone_number": national, "campaign": answer.campaign}, ensure_ascii=False
        )
        return UserMessage(
            f"/request_sim_swap{entities}",
            SmsOutput(),
            outreach.sender_id_for(self.link_secret, answer.msisdn),
            input_channel=self.name(),
            message_id=f"liveinfo:{answer.request_id}",
            metadata={
                "liveinfo": {"request_id": answer.request_id, "campaign": answer.campaign},
                # The channel that brought the customer, kept when they finish on the page.
                **hooks.origin_metadata("liveinfo", answer.campaign, via="liveinfo_yes"),
            },
        )

    async def _converse(self, message: UserMessage) -> None:
        """One *Yes*: the dialogue turn, then its replies and the link as one SMS."""
        assert self._on_new_message is not None and self.store is not None
        meta = (message.metadata or {})["liveinfo"]
        try:
            await self._on_new_message(message)
        except BaseException:
            self._numbers.pop(meta["request_id"], None)
            raise
        output = message.output_channel
        assert isinstance(output, SmsOutput)
        token = outreach.sign_link(self.link_secret, message.sender_id, ttl=self.link_ttl)
        text = output.sms_text(f"{self.page_url}#t={token}", ascii_only=self.sms_ascii)
        msisdn = self._numbers.pop(meta["request_id"])
        if self.sms is None:
            logger.warning("liveinfo: no SMS gateway; reply to %s not sent", mask(msisdn))
        else:
            await self.sms.send(msisdn, text, reference=meta["request_id"])
        await asyncio.to_thread(self.store.mark_processed, [meta["request_id"]])
        self.stats["processed"] += 1
        logger.info("liveinfo: YES %s handled for %s", meta["request_id"], mask(msisdn))
