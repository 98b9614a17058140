"""Zalo Official Account channel.

Webhook events are checked with ``X-ZEvent-Signature`` (``mac=`` + SHA-256 hex of
``app_id + raw body + timestamp + OA secret key``; plain SHA-256, no HMAC), dropped when
``message.msg_id`` was seen, acknowledged at once. Replies go out as consultation
messages (``POST /v3.0/oa/message/cs``); success is HTTP 200 **and** ``error == 0``.

Access tokens live about 25 hours and each refresh token works once, so the pair is
refreshed under a lock (a Redis lock when ``REDIS_URL`` is set, so replicas do not burn
the same refresh token) and persisted atomically (Redis, or ``var/zalo_tokens.json``
written to a temporary file and renamed) *before* the new access token is used.

credentials.yml::

    connectors.zalo.ZaloInput:
      app-id: ${ZALO_APP_ID}
      oa-secret-key: ${ZALO_OA_SECRET_KEY}      # webhook signature
      app-secret-key: ${ZALO_APP_SECRET_KEY}    # token refresh (``secret_key`` header)
      access-token: ${ZALO_ACCESS_TOKEN}        # first pair; later pairs are persisted
      refresh-token: ${ZALO_REFRESH_TOKEN}
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import VAR
from connectors.common import (
    Busy,
    Deduplicator,
    OnNewMessage,
    Pipeline,
    PlatformClient,
    PlatformError,
    Rejected,
    TurnQueue,
    as_object,
    health,
    parse_json,
    redact,
    required_credentials,
    sha256_hex,
    signatures_match,
    split_text,
    truncate,
)

logger = logging.getLogger(__name__)

CHANNEL = "zalo"
API_URL = "https://openapi.zalo.me"
OAUTH_URL = "https://oauth.zaloapp.com"
SIGNATURE_HEADER = "X-ZEvent-Signature"
TEXT_LIMIT = 2000
BUTTONS_MAX = 5
BUTTON_TITLE = 100
INVALID_TOKEN_ERRORS = frozenset({-216, -124})  # invalid / expired access token
REFRESH_MARGIN = 300.0  # refresh this many seconds before expiry
FOLLOW_TEXT = "/greet"


def sender_id_for(user_id: str) -> str:
    """The conversation id Rasa keeps for a Zalo user id (scoped to the OA)."""
    return f"{CHANNEL}:{user_id}"


def user_id_of(sender_id: str) -> str:
    """The Zalo user id to send to, from a conversation id (prefixed or not)."""
    prefix = f"{CHANNEL}:"
    return sender_id[len(prefix) :] if sender_id.startswith(prefix) else sender_id


def expected_mac(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """SHA-256 hex of ``app_id + body + timestamp + OA secret key``."""
    return sha256_hex(app_id, body, timestamp, oa_secret_key)


def verify_signature(
    app_id: str, oa_secret_key: str, body: bytes, timestamp: str, header: str | None
) -> bool:
    """Constant-time check of ``X-ZEvent-Signature`` (with or without ``mac=``)."""
    if not header:
        return False
    value = header.strip()
    if value.lower().startswith("mac="):
        value = value[4:]
    return signatures_match(
        expected_mac(app_id, body, timestamp, oa_secret_key), value, hex_digest=True
    )


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class TokenPair:
    """An access token, the single-use refresh token issued with it, and its expiry."""

    access_token: str
    refresh_token: str
    expires_at: float = 0.0  # epoch seconds; 0 = unknown (refresh on the first 401)

    def fresh(self, now: float) -> bool:
        return not self.expires_at or self.expires_at - REFRESH_MARGIN > now


class TokenRefreshError(Exception):
    """Zalo refused the refresh token; an OA admin must authorise the app again."""


class FileTokenBackend:
    """``var/zalo_tokens.json`` (mode 600), replaced atomically; one host only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def load(self) -> TokenPair | None:
        """The persisted pair, if any (read in a worker thread)."""
        return await asyncio.to_thread(self._read)

    async def save(self, pair: TokenPair) -> None:
        """Write a temporary file, fsync, rename over the old one (in a worker thread)."""
        await asyncio.to_thread(self._write, pair)

    def _read(self) -> TokenPair | None:
        try:
            return TokenPair(**json.loads(self.path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            logger.error("zalo: token file %s unreadable; using configured tokens", self.path)
            return None

    def _write(self, pair: TokenPair) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".zalo_tokens.", dir=self.path.parent)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(asdict(pair), handle)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @contextlib.asynccontextmanager
    async def lock(self) -> AsyncIterator[None]:
        async with self._lock:
            yield

    async def close(self) -> None:
        """Nothing to release."""


class RedisTokenBackend:
    """The pair in one Redis key, refreshed under a Redis lock shared by all replicas."""

    def __init__(self, url: str, key: str, lock_timeout: float = 30.0) -> None:
        self.url = url
        self.key = key
        self.lock_timeout = lock_timeout
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _redis(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            import redis.asyncio as aioredis

            self._client = aioredis.from_url(self.url)
            self._loop = loop
        return self._client

    async def load(self) -> TokenPair | None:
        raw = await self._redis().get(self.key)
        if not raw:
            return None
        try:
            return TokenPair(**json.loads(raw))
        except (ValueError, TypeError):
            logger.error("zalo: token key unreadable; using configured tokens")
            return None

    async def save(self, pair: TokenPair) -> None:
        await self._redis().set(self.key, json.dumps(asdict(pair)))

    @contextlib.asynccontextmanager
    async def lock(self) -> AsyncIterator[None]:
        lock = self._redis().lock(
            self.key + ":lock", timeout=self.lock_timeout, blocking_timeout=self.lock_timeout
        )
        if not await lock.acquire():
            raise TokenRefreshError("could not take the token refresh lock")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await lock.release()

    async def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
            self._client = None


class ZaloTokens:
    """Current OA token pair; refreshes it once per expiry across tasks and replicas."""

    def __init__(
        self,
        initial: TokenPair,
        backend: FileTokenBackend | RedisTokenBackend,
        client: PlatformClient,
        app_id: str,
        app_secret_key: str,
        oauth_url: str = OAUTH_URL,
        clock: Any = time.time,
    ) -> None:
        self.initial = initial
        self.backend = backend
        self.client = client
        self.app_id = app_id
        self.app_secret_key = app_secret_key
        self.refresh_url = f"{oauth_url.rstrip('/')}/v4/oa/access_token"
        self.clock = clock
        self._pair: TokenPair | None = None
        self.refreshes = 0

    async def current(self) -> TokenPair:
        """The stored pair (persisted ones win over configuration: refresh tokens rotate)."""
        if self._pair is None:
            self._pair = await self.backend.load() or self.initial
        return self._pair

    async def access_token(self) -> str:
        """A usable access token, refreshed first when it is about to expire."""
        pair = await self.current()
        if not pair.fresh(self.clock()):
            pair = await self.refresh(pair.access_token)
        return pair.access_token

    async def refresh(self, stale_access_token: str) -> TokenPair:
        """Exchange the refresh token unless another task or replica already did."""
        async with self.backend.lock():
            stored = await self.backend.load()
            if stored is not None and stored.access_token != stale_access_token:
                self._pair = stored  # someone else refreshed meanwhile
                return stored
            pair = stored or await self.current()
            result = await self.client.request(
                "POST",
                self.refresh_url,
                data={
                    "refresh_token": pair.refresh_token,
                    "app_id": self.app_id,
                    "grant_type": "refresh_token",
                },
                headers={"secret_key": self.app_secret_key},
            )
            body = as_object(result.body)
            if result.status != 200 or not body.get("access_token"):
                logger.error(
                    "zalo: token refresh refused: HTTP %s error=%s",
                    result.status,
                    body.get("error"),
                )
                raise TokenRefreshError(f"refresh refused (error {body.get('error')})")
            try:
                lifetime = float(body.get("expires_in") or 0)
            except (TypeError, ValueError):
                lifetime = 0.0
            new = TokenPair(
                access_token=str(body["access_token"]),
                refresh_token=str(body.get("refresh_token") or pair.refresh_token),
                expires_at=self.clock() + lifetime if lifetime else 0.0,
            )
            await self.backend.save(new)  # persisted before anyone uses it
            self._pair = new
            self.refreshes += 1
            logger.info("zalo: access token refreshed")
            return new


# --------------------------------------------------------------------------- output


class ZaloOutput(OutputChannel):
    """Consultation messages through the OA API.

    Failures are logged at ERROR and swallowed, as in the other channels: raising
    would abort the Rasa turn before its tracker is saved.
    """

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, client: PlatformClient, api_url: str, tokens: ZaloTokens) -> None:
        self.client = client
        self.send_url = f"{api_url.rstrip('/')}/v3.0/oa/message/cs"
        self.tokens = tokens
        self.failures = 0

    async def _post(self, token: str, body: dict[str, Any]) -> tuple[int, int | None]:
        result = await self.client.request(
            "POST", self.send_url, json_body=body, headers={"access_token": token}
        )
        error = result.body.get("error") if isinstance(result.body, dict) else None
        return result.status, error

    async def _send(self, recipient_id: str, message: dict[str, Any]) -> None:
        body = {"recipient": {"user_id": user_id_of(recipient_id)}, "message": message}
        try:
            token = await self.tokens.access_token()
            status, error = await self._post(token, body)
            if status == 401 or error in INVALID_TOKEN_ERRORS:
                token = (await self.tokens.refresh(token)).access_token
                status, error = await self._post(token, body)
        except (PlatformError, TokenRefreshError) as exc:
            self.failures += 1
            logger.error("zalo: send to %s failed: %s", redact(recipient_id), exc)
            return
        if status != 200 or error != 0:
            self.failures += 1
            logger.error(
                "zalo: send to %s refused: HTTP %s error=%s", redact(recipient_id), status, error
            )

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Text, split at 2000 characters."""
        for chunk in split_text(text, TEXT_LIMIT):
            await self._send(recipient_id, {"text": chunk})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Text with at most 5 template buttons; the rest follow in further messages."""
        chunks = split_text(text, TEXT_LIMIT) or ["…"]
        for chunk in chunks[:-1]:
            await self._send(recipient_id, {"text": chunk})
        groups = [buttons[i : i + BUTTONS_MAX] for i in range(0, len(buttons), BUTTONS_MAX)]
        for index, group in enumerate(groups or [[]]):
            message: dict[str, Any] = {"text": chunks[-1] if index == 0 else "…"}
            if group:
                message["attachment"] = {
                    "type": "template",
                    "payload": {"buttons": [zalo_button(b) for b in group]},
                }
            await self._send(recipient_id, message)

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Rasa ``quick_replies`` take the same path as buttons."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        """A media template with one image."""
        await self._send(
            recipient_id,
            {
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "media",
                        "elements": [{"media_type": "image", "url": image}],
                    },
                }
            },
        )

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        """A ``custom`` response is the API's ``message`` object as is."""
        messages = json_message if isinstance(json_message, list) else [json_message]
        for message in messages:
            await self._send(recipient_id, message)


def zalo_button(button: dict[str, Any]) -> dict[str, Any]:
    """Rasa button → Zalo template button.

    Intent payloads (``/affirm``) use ``oa.query.hide`` so the raw payload is not shown
    in the chat; it still arrives as a ``user_send_text`` whose text is the payload.
    """
    title = truncate(str(button.get("title") or button.get("payload") or ""), BUTTON_TITLE)
    if button.get("url"):
        return {"title": title, "type": "oa.open.url", "payload": {"url": button["url"]}}
    payload = str(button.get("payload") or title)
    kind = "oa.query.hide" if payload.startswith("/") else "oa.query.show"
    return {"title": title, "type": kind, "payload": payload}


# ---------------------------------------------------------------------------- input


def _location(message: dict[str, Any]) -> dict[str, float] | None:
    candidates: list[Any] = [message.get("location")]
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict):
            candidates.append((attachment.get("payload") or {}).get("coordinates"))
    for found in candidates:
        if isinstance(found, dict):
            try:
                return {"lat": float(found["latitude"]), "long": float(found["longitude"])}
            except (KeyError, TypeError, ValueError):
                continue
    return None


def parse_event(
    data: dict[str, Any], follow_text: str = FOLLOW_TEXT
) -> tuple[str, str, str, dict[str, Any]] | None:
    """A webhook event → (dedupe key, user id, text, metadata), or None to ignore."""
    event = data.get("event_name")
    message = as_object(data.get("message"))
    meta: dict[str, Any] = {
        "zalo": {
            "event_name": event,
            "app_id": data.get("app_id"),
            "oa_id": (data.get("recipient") or {}).get("id") or data.get("oa_id"),
            "timestamp": data.get("timestamp"),
            "msg_id": message.get("msg_id"),
        }
    }
    if event == "follow":
        user = (data.get("follower") or {}).get("id")
        if not user:
            return None
        meta["zalo"]["user_id"] = str(user)
        key = "follow:" + hashlib.sha256(f"{user}|{data.get('timestamp')}".encode()).hexdigest()
        return key[:48], str(user), follow_text, meta
    if event not in ("user_send_text", "user_send_location", "user_click_button"):
        return None
    user = (data.get("sender") or {}).get("id")
    msg_id = message.get("msg_id")
    if not user:
        return None
    meta["zalo"]["user_id"] = str(user)
    text = message.get("text")
    if event == "user_click_button":
        text = message.get("payload") or text
    if event == "user_send_location":
        location = _location(message)
        if location is None:
            return None
        meta["location"] = location
    if text is None and "location" not in meta:
        return None
    key = str(msg_id) if msg_id else "h:" + sha256_hex(f"{user}|{data.get('timestamp')}|{text}")
    return key, str(user), str(text or ""), meta


class ZaloInput(InputChannel):
    """Zalo OA webhook: ``/webhooks/zalo/webhook``."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = required_credentials(cls, credentials)
        return cls(
            app_id=str(credentials.get("app-id") or ""),
            oa_secret_key=str(credentials.get("oa-secret-key") or ""),
            app_secret_key=str(credentials.get("app-secret-key") or ""),
            access_token=str(credentials.get("access-token") or ""),
            refresh_token=str(credentials.get("refresh-token") or ""),
            api_url=str(credentials.get("api-url") or API_URL),
            oauth_url=str(credentials.get("oauth-url") or OAUTH_URL),
            token_file=credentials.get("token-file"),
            follow_text=str(credentials.get("follow-text") or FOLLOW_TEXT),
        )

    def __init__(
        self,
        app_id: str,
        oa_secret_key: str,
        app_secret_key: str,
        access_token: str,
        refresh_token: str,
        api_url: str = API_URL,
        oauth_url: str = OAUTH_URL,
        token_file: str | Path | None = None,
        follow_text: str = FOLLOW_TEXT,
        redis_url: str | None = None,
        deduplicator: Deduplicator | None = None,
        client: PlatformClient | None = None,
        turns: TurnQueue | None = None,
    ) -> None:
        if not (app_id and oa_secret_key and app_secret_key and refresh_token):
            raise ValueError(
                "zalo: app-id, oa-secret-key, app-secret-key and refresh-token are required"
            )
        self.app_id = app_id
        self.oa_secret_key = oa_secret_key
        self.api_url = api_url
        self.follow_text = follow_text
        self.deduplicator = deduplicator
        self.client = client or PlatformClient(CHANNEL)
        self.turns = turns
        url = os.environ.get("REDIS_URL", "").strip() if redis_url is None else redis_url
        backend: FileTokenBackend | RedisTokenBackend
        if url:
            backend = RedisTokenBackend(url, f"sim4g:zalo:tokens:{app_id}")
        else:
            backend = FileTokenBackend(Path(token_file) if token_file else VAR / "zalo_tokens.json")
        self.tokens = ZaloTokens(
            TokenPair(access_token, refresh_token),
            backend,
            self.client,
            app_id,
            app_secret_key,
            oauth_url,
        )
        self.pipeline: Pipeline | None = None

    def get_output_channel(self) -> OutputChannel:
        """Used by Rasa's HTTP API with ``output_channel=zalo``."""
        return ZaloOutput(self.client, self.api_url, self.tokens)

    def _verify(self, request: Request) -> Any:
        header = request.headers.get(SIGNATURE_HEADER)
        if not header:
            raise Rejected(403, "bad signature")
        data = parse_json(request.body)  # the signed timestamp is a body field
        if not isinstance(data, dict):
            raise Rejected(400, "not a Zalo event")
        timestamp = str(data.get("timestamp") or request.headers.get("timestamp") or "")
        if not verify_signature(self.app_id, self.oa_secret_key, request.body, timestamp, header):
            raise Rejected(403, "bad signature")
        return data

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """GET ``/`` health, POST ``/webhook`` events."""
        bp = Blueprint("zalo_webhook", __name__)
        pipeline = Pipeline(CHANNEL, on_new_message, self.deduplicator, turns=self.turns)
        self.pipeline = pipeline
        pipeline.install(bp, self.client, self.tokens.backend)

        @bp.route("/", methods=["GET"])
        async def _health(request: Request) -> HTTPResponse:
            return health(CHANNEL)

        @bp.route("/webhook", methods=["POST"])
        async def _webhook(request: Request) -> HTTPResponse:
            try:
                data = self._verify(request)
            except Rejected as exc:
                if exc.status == 403:
                    logger.warning("zalo: request with a bad signature refused")
                return exc.response()
            parsed = parse_event(data, self.follow_text)
            if parsed is not None:
                key, user, text, metadata = parsed
                message = UserMessage(
                    text=text,
                    output_channel=self.get_output_channel(),
                    sender_id=sender_id_for(user),
                    input_channel=CHANNEL,
                    message_id=key,
                    metadata=metadata,
                )
                try:
                    await pipeline.accept(key, message)
                except Busy as busy:  # nothing kept, the msg_id is free for the resend
                    return busy.response()
            return response.json({"error": 0, "message": "Success"})

        return bp
