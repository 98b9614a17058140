"""The My MobiFone app's chat (plan §2c), REST-shaped and authenticated.

Rasa's REST channel would do, except that it trusts the caller: anyone may post, and the
body chooses the ``input_channel`` and any ``sender`` — so a caller could write into a
Facebook or Liveinfo conversation. Here the app's backend authenticates with a shared
bearer token (constant-time check, 403 otherwise), the sender id is namespaced
(``mymobifone:<app user id>``) and the input channel is set here, never by the body.
The answer is the REST channel's: the turn's bot messages as a JSON list.
Contract: docs/channels.md, "My MobiFone app".
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import (
    Busy,
    Deduplicator,
    MessageDispatcher,
    Rejected,
    TurnQueue,
    install_lifecycle,
    make_deduplicator,
    offload_dialogue,
    parse_json,
    redact,
    required_credentials,
)

logger = logging.getLogger(__name__)

SENDER_PREFIX = "mymobifone:"
MAX_BODY = 16 * 1024
MAX_MESSAGE = 2000
_APP_USER = re.compile(r"[A-Za-z0-9._\-]{1,64}")
_MESSAGE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class MyMobiFoneOutput(CollectingOutputChannel):
    """Collects the turn's replies for the HTTP answer; ``channel: mymobifone`` variants."""

    @classmethod
    def name(cls) -> str:
        return "mymobifone"


class MyMobiFoneInput(InputChannel):
    """``POST /webhooks/mymobifone/webhook`` with ``Authorization: Bearer <token>``."""

    @classmethod
    def name(cls) -> str:
        return "mymobifone"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = required_credentials(cls, credentials, "token")
        return cls(
            str(credentials["token"]),
            turn_timeout=float(credentials.get("turn_timeout") or 30),
        )

    def __init__(
        self,
        token: str,
        *,
        deduplicator: Deduplicator | None = None,
        turn_timeout: float = 30.0,
        turns: TurnQueue | None = None,
    ) -> None:
        if len(token) < 16:
            raise ValueError("the My MobiFone token must be at least 16 characters")
        self.token = token
        self.deduplicator = deduplicator or make_deduplicator(prefix="sim4g:dedupe:")
        self.turn_timeout = turn_timeout
        self.turns = turns
        self.dispatcher: MessageDispatcher | None = None

    def authorized(self, header: str | None) -> bool:
        """``Bearer <token>``, compared in constant time."""
        scheme, _, given = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return False
        return hmac.compare_digest(given.strip().encode(), self.token.encode())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("mymobifone_webhook", __name__)
        # The app waits for the answer, but the turn still takes its place in the
        # shared queue (in order per user, bounded) and runs on the dialogue thread.
        dispatcher = MessageDispatcher(
            self.name(), offload_dialogue(on_new_message), turns=self.turns
        )
        self.dispatcher = dispatcher
        install_lifecycle(bp, dispatcher, self.deduplicator)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "channel": self.name()})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                return await self._receive(request, dispatcher)
            except Rejected as rejected:
                return rejected.response()
            except Busy as busy:
                return busy.response()

        return bp

    async def _receive(self, request: Request, dispatcher: MessageDispatcher) -> HTTPResponse:
        if not self.authorized(request.headers.get("authorization")):
            raise Rejected(403, "forbidden")
        raw = request.body or b""
        if len(raw) > MAX_BODY:
            raise Rejected(413, "body too large")
        body = parse_json(raw)
        if not isinstance(body, dict):
            raise Rejected(400, "expected a JSON object")
        sender, text = body.get("sender"), body.get("message")
        if not isinstance(sender, str) or not _APP_USER.fullmatch(sender):
            raise Rejected(400, "sender must be the app's user id ([A-Za-z0-9._-], ≤ 64)")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE:
            raise Rejected(400, "message must be non-empty text")
        message_id = body.get("message_id")
        if message_id is not None and (
            not isinstance(message_id, str) or not _MESSAGE_ID.fullmatch(message_id)
        ):
            raise Rejected(400, "malformed message_id")
        output = MyMobiFoneOutput()
        message = UserMessage(
            text,
            output,
            SENDER_PREFIX + sender,
            input_channel=self.name(),  # whatever the body says
            message_id=message_id,
            metadata={},
        )
        # Room before the message id is taken: a 503 leaves the id free for the retry.
        with dispatcher.turns.reserve(1, self.name()) as reservation:
            if message_id is not None and not await self.deduplicator.first_seen(
                f"mymobifone:{message_id}"
            ):
                return response.json([], headers={"X-Duplicate": "1"})
            turn = dispatcher.submit(message, reservation)
        try:
            await asyncio.wait_for(turn, self.turn_timeout)  # a timeout cancels the turn
        except (asyncio.TimeoutError, asyncio.CancelledError) as stopped:
            # Cancelled (perhaps before it ran, waiting in a full queue) and not answered:
            # the app's retry with the same message_id must be processed, not dropped.
            if message_id is not None:
                await asyncio.shield(self.deduplicator.forget(f"mymobifone:{message_id}"))
            if isinstance(stopped, asyncio.CancelledError):  # the app hung up
                raise
            logger.error("mymobifone: turn timed out for %s", redact(sender))
            return response.json({"error": "timeout"}, status=504)
        except Exception:  # logged by the dispatcher with the sender and message id
            return response.json({"error": "the turn failed"}, status=500)
        return response.json(output.messages)
