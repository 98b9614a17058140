"""Thin client over python-telegram-bot's ``Bot``: the four calls dispatch needs.

Kept apart so the worker and the console's webhook talk to one small surface, and so a
failure is classified once: :class:`TelegramUnavailable` (retry later, maybe after
``retry_after`` seconds) versus :class:`TelegramRejected` (Telegram understood and said no,
e.g. an unknown chat).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import HTTPXRequest

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.telegram.org/bot"

# One inline button: (label, callback_data). Telegram caps callback_data at 64 bytes.
Button = tuple[str, str]
MAX_CALLBACK_BYTES = 64


class TelegramFailure(Exception):
    """A Bot API call did not succeed."""


class TelegramUnavailable(TelegramFailure):
    """Network error, 5xx or flood control: the same call may succeed later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TelegramRejected(TelegramFailure):
    """Telegram refused the call (4xx); retrying unchanged is unlikely to help soon."""


@dataclass(frozen=True)
class SentMessage:
    """Where a message landed, so it can be edited later."""

    chat_id: int
    message_id: int


def keyboard(buttons: list[list[Button]]) -> InlineKeyboardMarkup | None:
    """Inline keyboard from rows of (label, data); ``None`` when there are no buttons."""
    rows = [
        [InlineKeyboardButton(label, callback_data=data) for label, data in row]
        for row in buttons
        if row
    ]
    for row in buttons:
        for _, data in row:
            if len(data.encode()) > MAX_CALLBACK_BYTES:
                raise ValueError(f"callback data longer than 64 bytes: {data!r}")
    return InlineKeyboardMarkup(rows) if rows else None


def _seconds(value: float | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def _classify(exc: TelegramError) -> TelegramFailure:
    if isinstance(exc, RetryAfter):
        return TelegramUnavailable(str(exc), retry_after=_seconds(exc.retry_after))
    if isinstance(exc, (NetworkError, TimedOut)) and not isinstance(exc, BadRequest):
        return TelegramUnavailable(str(exc))
    return TelegramRejected(str(exc))


class TelegramClient:
    """One bot account; use as ``async with TelegramClient(token) as tg``."""

    def __init__(self, token: str, base_url: str | None = None, poll_timeout: int = 25) -> None:
        self.poll_timeout = poll_timeout
        self.bot = Bot(
            token,
            base_url=base_url or DEFAULT_BASE_URL,
            request=HTTPXRequest(connection_pool_size=8, read_timeout=15.0),
            get_updates_request=HTTPXRequest(read_timeout=poll_timeout + 10.0),
        )
        self._started = False

    async def start(self) -> None:
        """Open the HTTP pools and check the token (``getMe``)."""
        if not self._started:
            try:
                await self.bot.initialize()
            except TelegramError as exc:
                raise _classify(exc) from exc
            self._started = True

    async def close(self) -> None:
        if self._started:
            await self.bot.shutdown()
            self._started = False

    async def __aenter__(self) -> TelegramClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def send(
        self,
        chat_id: int,
        text: str,
        buttons: list[list[Button]],
        reply_to: int | None = None,
    ) -> SentMessage:
        """Post an HTML message with inline buttons, in reply to message ``reply_to`` of the
        same chat when given (posted all the same if that message was deleted)."""
        await self.start()
        try:
            message = await self.bot.send_message(
                chat_id=chat_id,
                text=text,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(buttons),
                reply_parameters=(
                    ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
                    if reply_to is not None
                    else None
                ),
            )
        except TelegramError as exc:
            raise _classify(exc) from exc
        return SentMessage(chat_id=message.chat_id, message_id=message.message_id)

    async def edit(
        self, chat_id: int, message_id: int, text: str, buttons: list[list[Button]]
    ) -> None:
        """Replace a message's text and buttons; "not modified" counts as done."""
        await self.start()
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(buttons),
            )
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            raise _classify(exc) from exc
        except TelegramError as exc:
            raise _classify(exc) from exc

    async def answer(self, query_id: str, text: str | None = None, alert: bool = False) -> None:
        """Answer a callback query, which stops the button's spinner on the presser's phone."""
        await self.start()
        try:
            await self.bot.answer_callback_query(query_id, text=text, show_alert=alert)
        except TelegramError as exc:
            raise _classify(exc) from exc

    async def updates(self, offset: int | None, timeout: int | None = None) -> list[Update]:
        """Long-poll ``getUpdates`` for callback queries only."""
        await self.start()
        try:
            return list(
                await self.bot.get_updates(
                    offset=offset,
                    timeout=self.poll_timeout if timeout is None else timeout,
                    allowed_updates=["callback_query"],
                )
            )
        except TelegramError as exc:
            raise _classify(exc) from exc

    def parse_update(self, data: dict[str, Any]) -> Update | None:
        """An ``Update`` from a webhook body, or ``None`` when it is not one."""
        try:
            return Update.de_json(data, self.bot)
        except (KeyError, TypeError, ValueError):
            return None
