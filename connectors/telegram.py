"""Telegram customer channel over webhook (python-telegram-bot 22).

Rasa's built-in Telegram connector "verifies" a request by calling ``getMe`` and
comparing the bot's name, and answers after the whole turn. Here the
``X-Telegram-Bot-Api-Secret-Token`` header (the ``secret_token`` given to
``setWebhook``) is compared in constant time, updates are deduplicated by
``update_id``, acknowledged at once, and callback queries are always answered so the
customer's button stops spinning.

Telegram limits ``callback_data`` to 64 bytes; Rasa payloads such as
``/inform{"address": "..."}`` are longer, so those buttons carry a short key
(``#k:`` + hash) mapped back to the payload (Redis when ``REDIS_URL`` is set, so any
replica can resolve it; a bounded in-process map otherwise; and the button's own title
as the last resort).

credentials.yml::

    connectors.telegram.TelegramInput:
      access_token: ${TELEGRAM_CUSTOMER_BOT_TOKEN}
      secret_token: ${TELEGRAM_WEBHOOK_SECRET}
      base_url: https://api.telegram.org/bot     # optional; tests use a local fake
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import logging
import os
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData

from connectors.common import (
    Busy,
    Deduplicator,
    OnNewMessage,
    Pipeline,
    PlatformClient,
    Rejected,
    TurnQueue,
    health,
    parse_json,
    redact,
    required_credentials,
    signatures_match,
    split_text,
    truncate,
)

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
BASE_URL = "https://api.telegram.org/bot"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
TEXT_LIMIT = 4096
CALLBACK_DATA_BYTES = 64
KEY_PREFIX = "#k:"
BUTTON_TEXT = 64
PAYLOAD_TTL = 30 * 24 * 3600

T = TypeVar("T")


def sender_id_for(chat_id: int | str) -> str:
    """The conversation id Rasa keeps for a private chat."""
    return f"{CHANNEL}:{chat_id}"


def chat_id_of(sender_id: str) -> int | str:
    """The chat to send to, from a conversation id (prefixed or not)."""
    prefix = f"{CHANNEL}:"
    raw = sender_id[len(prefix) :] if sender_id.startswith(prefix) else sender_id
    return int(raw) if raw.lstrip("-").isdigit() else raw


class AiohttpRequest(BaseRequest):
    """python-telegram-bot transport over the channel's shared aiohttp session.

    PTB's default httpx transport costs several times more CPU per call than aiohttp,
    which on a small machine delayed the webhook acknowledgements themselves; this
    keeps every channel on the same client stack. One attempt per call: retries
    and flood control are handled by :func:`with_retries` with PTB's exceptions.
    """

    def __init__(self, client: PlatformClient, read_timeout: float = 10.0) -> None:
        self.client = client
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        """The session is created lazily in the running loop."""

    async def shutdown(self) -> None:
        await self.client.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        data: Any = None
        if request_data is not None:
            files = request_data.multipart_data
            if files:
                form = aiohttp.FormData()
                for key, value in request_data.json_parameters.items():
                    form.add_field(key, value)
                for key, (filename, content, mime) in files.items():
                    form.add_field(key, content, filename=filename, content_type=mime)
                data = form
            else:
                data = request_data.json_parameters
        timeout = read_timeout if isinstance(read_timeout, int | float) else self._read_timeout
        try:
            async with self.client.session().request(
                method,
                url,
                data=data,
                headers={"User-Agent": self.USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=timeout + 5.0 if timeout else None),
            ) as resp:
                return resp.status, await resp.read()
        except asyncio.TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}") from exc


class PayloadStore:
    """Short ``callback_data`` key ↔ long Rasa payload."""

    def __init__(self, redis_url: str = "", max_size: int = 50_000) -> None:
        self.redis_url = redis_url
        self.max_size = max_size
        self._memory: OrderedDict[str, str] = OrderedDict()
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _redis(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            import redis.asyncio as aioredis

            self._client = aioredis.from_url(self.redis_url)
            self._loop = loop
        return self._client

    async def callback_data(self, payload: str) -> str:
        """``payload`` itself when it fits in 64 bytes, else a stored short key."""
        if len(payload.encode()) <= CALLBACK_DATA_BYTES and not payload.startswith(KEY_PREFIX):
            return payload
        key = KEY_PREFIX + hashlib.sha256(payload.encode()).hexdigest()[:32]
        self._memory[key] = payload
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_size:
            self._memory.popitem(last=False)
        if self.redis_url:
            try:
                await self._redis().set("sim4g:telegram:cb:" + key, payload, ex=PAYLOAD_TTL)
            except Exception:
                logger.warning("telegram: could not store a button payload in Redis", exc_info=True)
        return key

    async def payload(self, data: str) -> str | None:
        """The payload behind ``data`` (``data`` itself if it is not a key)."""
        if not data.startswith(KEY_PREFIX):
            return data
        if data in self._memory:
            return self._memory[data]
        if self.redis_url:
            with contextlib.suppress(Exception):
                raw = await self._redis().get("sim4g:telegram:cb:" + data)
                if raw is not None:
                    return raw.decode() if isinstance(raw, bytes) else str(raw)
        return None

    async def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
            self._client = None


async def with_retries(
    call: Callable[[], Awaitable[T]], attempts: int = 4, base_delay: float = 0.5, cap: float = 20.0
) -> T:
    """Retry flood control (honouring ``retry_after``) and network errors with backoff."""
    for attempt in range(attempts):
        try:
            return await call()
        except RetryAfter as exc:
            if attempt + 1 == attempts:
                raise
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
            await asyncio.sleep(min(seconds, cap))
        except (BadRequest, Forbidden):
            raise  # permanent: wrong chat, blocked by the user, bad markup
        except NetworkError:  # includes TimedOut and Telegram's 5xx
            if attempt + 1 == attempts:
                raise
            await asyncio.sleep(random.uniform(0, min(cap, base_delay * 2**attempt)))  # noqa: S311
    raise AssertionError("unreachable")


class TelegramOutput(OutputChannel):
    """Replies through the Bot API; failures are logged at ERROR, never raised into Rasa."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, bot: Bot, payloads: PayloadStore, base_delay: float = 0.5) -> None:
        self.bot = bot
        self.payloads = payloads
        self.base_delay = base_delay
        self.failures = 0

    async def _call(self, recipient_id: str, call: Callable[[], Awaitable[Any]]) -> None:
        try:
            await with_retries(call, base_delay=self.base_delay)
        except TelegramError as exc:
            self.failures += 1
            logger.error(
                "telegram: send to %s failed: %s", redact(recipient_id), type(exc).__name__
            )

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Text, split at 4096 characters."""
        chat = chat_id_of(recipient_id)
        for chunk in split_text(text, TEXT_LIMIT):
            await self._call(recipient_id, functools.partial(self.bot.send_message, chat, chunk))

    async def keyboard(self, buttons: list[dict[str, Any]]) -> InlineKeyboardMarkup:
        """One button per row: Vietnamese titles are long and phones are narrow."""
        rows = []
        for button in buttons:
            title = truncate(str(button.get("title") or button.get("payload") or "?"), BUTTON_TEXT)
            if button.get("url"):
                rows.append([InlineKeyboardButton(title, url=str(button["url"]))])
                continue
            payload = str(button.get("payload") or title)
            data = await self.payloads.callback_data(payload)
            rows.append([InlineKeyboardButton(title, callback_data=data)])
        return InlineKeyboardMarkup(rows)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Text with an inline keyboard on its last chunk."""
        chat = chat_id_of(recipient_id)
        chunks = split_text(text, TEXT_LIMIT) or ["…"]
        for chunk in chunks[:-1]:
            await self._call(recipient_id, functools.partial(self.bot.send_message, chat, chunk))
        markup = await self.keyboard(buttons)
        await self._call(
            recipient_id,
            lambda: self.bot.send_message(chat, chunks[-1], reply_markup=markup),
        )

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Rasa ``quick_replies`` take the same path as buttons."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        """A photo by URL."""
        chat = chat_id_of(recipient_id)
        await self._call(recipient_id, lambda: self.bot.send_photo(chat, image))


def _bot_id(token: str) -> str:
    return token.split(":", 1)[0]


class TelegramInput(InputChannel):
    """Telegram webhook: ``/webhooks/telegram/webhook``."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = required_credentials(cls, credentials)
        return cls(
            access_token=str(credentials.get("access_token") or ""),
            secret_token=str(credentials.get("secret_token") or ""),
            base_url=str(credentials.get("base_url") or BASE_URL),
        )

    def __init__(
        self,
        access_token: str,
        secret_token: str,
        base_url: str = BASE_URL,
        redis_url: str | None = None,
        deduplicator: Deduplicator | None = None,
        retry_base_delay: float = 0.5,
        turns: TurnQueue | None = None,
    ) -> None:
        if not (access_token and secret_token):
            raise ValueError("telegram: access_token and secret_token are required")
        self.access_token = access_token
        self.secret_token = secret_token
        self.client = PlatformClient(CHANNEL)
        self.bot = Bot(access_token, base_url=base_url, request=AiohttpRequest(self.client))
        url = os.environ.get("REDIS_URL", "").strip() if redis_url is None else redis_url
        self.payloads = PayloadStore(url)
        self.deduplicator = deduplicator
        self.retry_base_delay = retry_base_delay
        self.turns = turns
        self.pipeline: Pipeline | None = None
        self._background: set[asyncio.Task[Any]] = set()

    def get_output_channel(self) -> OutputChannel:
        """Used by Rasa's HTTP API with ``output_channel=telegram``."""
        return TelegramOutput(self.bot, self.payloads, self.retry_base_delay)

    async def close(self) -> None:
        """Finish callback answers, then release the Bot API connection pool."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=10)
        with contextlib.suppress(Exception):
            await self.bot.shutdown()  # a no-op unless the bot was initialised
        await self.client.close()
        await self.payloads.close()

    def _answer(self, query_id: str) -> None:
        async def answer() -> None:
            try:
                await with_retries(
                    lambda: self.bot.answer_callback_query(query_id),
                    base_delay=self.retry_base_delay,
                )
            except TelegramError as exc:
                logger.warning("telegram: answerCallbackQuery failed: %s", type(exc).__name__)

        task = asyncio.get_running_loop().create_task(answer())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _to_message(self, update: Update) -> tuple[int, str, dict[str, Any]] | None:
        """(chat id, text, metadata) for a private-chat message or button press."""
        if update.callback_query is not None:
            query = update.callback_query
            self._answer(query.id)  # always, even when the press leads nowhere
            chat = query.message.chat if query.message is not None else None
            if chat is None or chat.type != "private" or not query.data:
                return None
            payload = await self.payloads.payload(query.data)
            if payload is None:
                payload = _button_title(query, query.data)
            if payload is None:
                logger.warning("telegram: unknown button key pressed")
                return None
            pressed: dict[str, Any] = {"callback_query_id": query.id, "from_id": query.from_user.id}
            return chat.id, payload, pressed
        message = update.message
        if message is None or message.chat.type != "private":
            return None
        meta: dict[str, Any] = {"message_id": message.message_id}
        if message.from_user is not None:
            meta["from_id"] = message.from_user.id
            meta["language_code"] = message.from_user.language_code
        text = message.text
        if message.contact is not None and message.contact.user_id == getattr(
            message.from_user, "id", None
        ):
            text = message.contact.phone_number  # the customer shared their own number
            meta["contact"] = True
        if message.location is not None:
            meta["location"] = {
                "lat": message.location.latitude,
                "long": message.location.longitude,
            }
            text = text or ""
        if text is None:
            return None
        return message.chat.id, text, meta

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """GET ``/`` health, POST ``/webhook`` updates."""
        bp = Blueprint("telegram_webhook", __name__)
        pipeline = Pipeline(CHANNEL, on_new_message, self.deduplicator, turns=self.turns)
        self.pipeline = pipeline
        pipeline.install(bp, self)

        @bp.route("/", methods=["GET"])
        async def _health(request: Request) -> HTTPResponse:
            return health(CHANNEL)

        @bp.route("/webhook", methods=["POST"])
        async def _webhook(request: Request) -> HTTPResponse:
            try:
                if not signatures_match(self.secret_token, request.headers.get(SECRET_HEADER)):
                    raise Rejected(403, "bad secret token")
                data = parse_json(request.body)
                if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                    raise Rejected(400, "not a Telegram update")
                update = Update.de_json(data, self.bot)
            except Rejected as exc:
                if exc.status == 403:
                    logger.warning("telegram: request with a bad secret token refused")
                return exc.response()
            except (TelegramError, KeyError, TypeError, ValueError):
                return Rejected(400, "not a Telegram update").response()
            key = f"{_bot_id(self.access_token)}:{update.update_id}"
            try:
                # Room first: a full queue refuses the update before its id is taken
                # or its callback query answered, and Telegram delivers it again.
                reservation = pipeline.reserve(1)
            except Busy as busy:
                return busy.response()
            with reservation:
                if not await pipeline.first_seen(key):
                    return response.json({"ok": True})
                try:
                    converted = await self._to_message(update)
                except (TelegramError, AttributeError, KeyError, TypeError, ValueError):
                    # An update of a shape we cannot read (a callback without `from`...):
                    # a clear 400, and its id stays free.
                    await pipeline.forget(key)
                    logger.warning("telegram: update %s not readable", update.update_id)
                    return Rejected(400, "not a readable Telegram update").response()
                except BaseException:  # not queued: Telegram's redelivery must be taken
                    await pipeline.forget(key)
                    raise
                if converted is not None:
                    chat_id, text, meta = converted
                    meta["update_id"] = update.update_id
                    meta["chat_id"] = chat_id
                    message = UserMessage(
                        text=text,
                        output_channel=self.get_output_channel(),
                        sender_id=sender_id_for(chat_id),
                        input_channel=CHANNEL,
                        message_id=key,
                        metadata={"telegram": meta, **_location_of(meta)},
                    )
                    pipeline.submit(message, reservation)
            return response.json({"ok": True})

        return bp


def _location_of(meta: dict[str, Any]) -> dict[str, Any]:
    return {"location": meta["location"]} if "location" in meta else {}


def _button_title(query: Any, data: str) -> str | None:
    """The pressed button's title, read from the message's own keyboard."""
    markup = getattr(query.message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", ()) or ():
        for button in row:
            if button.callback_data == data:
                return str(button.text)
    return None
