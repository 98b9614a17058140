"""A local fake of the Telegram Bot API, served by aiohttp on 127.0.0.1.

It answers the methods the dispatcher uses the way https://core.telegram.org/bots/api
documents them: ``POST /bot<token>/<method>`` with form-encoded (or JSON) parameters,
``{"ok": true, "result": ...}`` on success and ``{"ok": false, "error_code": ...,
"description": ...}`` on failure (``parameters.retry_after`` on 429). It records every
call, keeps the messages it has "sent" so edits can be checked, and can be told to fail
the next calls of a method to simulate an outage, or to answer them late (a slow network).

Usage::

    async with FakeTelegram() as tg:
        bot = telegram.Bot(tg.token, base_url=tg.base_url)
        ...
        assert tg.calls_of("sendMessage")
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests_support.loopback import LoopbackFake

BOT_USER = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "SIM 4G Dispatch",
    "username": "sim4g_dispatch_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

# Parameters whose form value is JSON-encoded by clients (python-telegram-bot encodes every
# non-string value with json.dumps and sends strings as they are).
_JSON_PARAMS = {
    "reply_markup",
    "allowed_updates",
    "entities",
    "link_preview_options",
    "reply_parameters",
}
_INT_PARAMS = {"message_id", "offset", "limit", "timeout", "cache_time"}
_BOOL_PARAMS = {"show_alert", "disable_notification", "protect_content"}


@dataclass
class Call:
    """One request the fake received."""

    method: str
    params: dict[str, Any]


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None = None


@dataclass
class FakeTelegram(LoopbackFake):
    """The fake server; start it with ``async with`` or :meth:`start`."""

    token: str = "123456:TEST-token"  # noqa: S105 - the fake's own
    known_chats: set[int] | None = None
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _delays: dict[str, list[float]] = field(default_factory=dict)
    _open_queries: set[str] = field(default_factory=set)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _update_ids: itertools.count = field(default_factory=lambda: itertools.count(100))
    _runner: web.AppRunner | None = None
    _new_update: asyncio.Event | None = None
    port: int = 0

    # -- lifecycle -------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._new_update = asyncio.Event()

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """What to pass as ``telegram.Bot(token, base_url=...)`` (the token is appended)."""
        return f"http://127.0.0.1:{self.port}/bot"

    # -- scripting -------------------------------------------------------------------
    def fail(
        self,
        method: str,
        status: int = 500,
        times: int = 1,
        description: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``status``."""
        default = {
            429: f"Too Many Requests: retry after {retry_after or 1}",
            500: "Internal Server Error",
            502: "Bad Gateway",
        }.get(status, "Bad Request")
        if status == 429 and retry_after is None:
            retry_after = 1
        self._failures.setdefault(method, []).extend(
            _Failure(status, description or default, retry_after) for _ in range(times)
        )

    def slow(self, method: str, seconds: float, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` wait ``seconds`` before they are
        carried out (the call is recorded on arrival; the effect and answer come late)."""
        self._delays.setdefault(method.lower(), []).extend([seconds] * times)

    def press(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        user_id: int = 42,
        first_name: str = "Lan",
        username: str | None = "lan_team",
    ) -> dict[str, Any]:
        """Queue the callback query Telegram sends when a user presses an inline button."""
        message = self.messages.get((chat_id, message_id))
        if message is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        query_id = str(next(self._ids) * 1_000_003)
        self._open_queries.add(query_id)
        update = {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": query_id,
                "from": user,
                "message": message,
                "chat_instance": f"-{abs(chat_id)}77",
                "data": data,
            },
        }
        self.updates.append(update)
        if self._new_update is not None:
            self._new_update.set()
        return update

    # -- inspection ------------------------------------------------------------------
    def calls_of(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every call of ``method``, in order (failed ones included)."""
        return [c.params for c in self.calls if c.method.lower() == method.lower()]

    def chat_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The messages currently in a chat (after edits), oldest first."""
        return [m for (chat, _), m in sorted(self.messages.items()) if chat == chat_id]

    # -- protocol --------------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            return dict(body) if isinstance(body, dict) else {}
        raw: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            form = await request.post()
            raw.update({k: v for k, v in form.items() if isinstance(v, str)})
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if key in _JSON_PARAMS:
                params[key] = json.loads(value)
            elif key in _INT_PARAMS:
                params[key] = int(value)
            elif key in _BOOL_PARAMS:
                params[key] = value in {"true", "True", "1"}
            elif key == "chat_id":
                params[key] = int(value) if value.lstrip("-").isdigit() else value
            else:
                params[key] = value
        return params

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append(Call(method, params))
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        delays = self._delays.get(method.lower())
        if delays:
            await asyncio.sleep(delays.pop(0))
        pending = self._failures.get(method)
        if pending:
            failure = pending.pop(0)
            return self._error(failure.status, failure.description, failure.retry_after)
        handler = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "answercallbackquery": self._answer_callback_query,
            "getupdates": self._get_updates,
            "deletewebhook": self._delete_webhook,
        }.get(method.lower())
        if handler is None:
            return self._error(404, "Not Found: method not found")
        return await handler(params)

    async def _get_me(self, params: dict[str, Any]) -> web.Response:
        return self._ok(BOT_USER)

    async def _delete_webhook(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    def _chat(self, chat_id: Any) -> dict[str, Any] | None:
        if not isinstance(chat_id, int):
            return None
        if self.known_chats is not None and chat_id not in self.known_chats:
            return None
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": f"Team {chat_id}"}

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        text = params.get("text")
        if not text:
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        chat = self._chat(params.get("chat_id"))
        if chat is None:
            return self._error(400, "Bad Request: chat not found")
        markup = params.get("reply_markup")
        if markup is not None:
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if len(button.get("callback_data", "").encode()) > 64:
                        return self._error(400, "Bad Request: BUTTON_DATA_INVALID")
        # ReplyParameters: the message replied to must be in the chat, unless
        # allow_sending_without_reply (then the message is sent as no reply).
        reply = params.get("reply_parameters")
        replied: dict[str, Any] | None = None
        if reply is not None:
            replied = self.messages.get((chat["id"], int(reply.get("message_id", 0))))
            if replied is None and not reply.get("allow_sending_without_reply"):
                return self._error(400, "Bad Request: message to be replied not found")
        message_id = sum(1 for chat_key, _ in self.messages if chat_key == chat["id"]) + 1
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": BOT_USER,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if markup is not None:
            message["reply_markup"] = markup
        if replied is not None:
            message["reply_to_message"] = dict(replied)
        self.messages[(chat["id"], message_id)] = message
        return self._ok(message)

    async def _edit_message_text(self, params: dict[str, Any]) -> web.Response:
        text = params.get("text")
        if not text:
            return self._error(400, "Bad Request: message text is empty")
        key = (params.get("chat_id"), params.get("message_id"))
        message = self.messages.get(key)  # type: ignore[arg-type]
        if message is None:
            return self._error(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup")
        if message["text"] == text and message.get("reply_markup") == markup:
            return self._error(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        edited = {**message, "text": text, "edit_date": int(time.time())}
        edited.pop("reply_markup", None)
        if markup is not None and markup.get("inline_keyboard"):
            edited["reply_markup"] = markup
        self.messages[key] = edited  # type: ignore[index]
        return self._ok(edited)

    async def _answer_callback_query(self, params: dict[str, Any]) -> web.Response:
        query_id = params.get("callback_query_id")
        if query_id not in self._open_queries:
            return self._error(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._open_queries.discard(query_id)
        return self._ok(True)

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = params.get("offset")
        if offset:
            # Telegram forgets every update below the offset once it is confirmed.
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        limit = params.get("limit") or 100
        timeout = min(float(params.get("timeout") or 0), 5.0)
        if not self.updates and timeout > 0 and self._new_update is not None:
            self._new_update.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout)
        return self._ok(self.updates[:limit])
