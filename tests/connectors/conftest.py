"""Shared pieces for connector contract tests.

- ``serve_channel``: the real Sanic app from ``rasa.core.run.configure_app([channel])``,
  served on 127.0.0.1 (ephemeral port) in the test's event loop. sanic-testing is not
  installable beside httpx 0.28, and serving for real also exercises the listeners.
- ``ReplyingAgent``: stands in for ``app.ctx.agent`` when no trained model is present;
  it records each ``UserMessage`` and answers through the message's own output channel,
  which is the part of the connector under test.
- ``FakePlatform``: an aiohttp server on 127.0.0.1 recording calls and answering with
  scripted statuses (5xx, 429 + Retry-After) before the normal answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.run import configure_app
from sanic import Sanic

from tests_support.loopback import LoopbackFake

Sanic.test_mode = True  # several apps with Rasa's fixed name in one process


class ReplyingAgent:
    """Minimal ``Agent.handle_message``: record, then reply through the output channel.

    Replies: ``"nút"``/``"buttons"`` → text with buttons; anything else → an echo text
    (so the reply observed at the fake proves which message was handled). Like Rasa's
    agent it runs on the connectors' dialogue thread, so ``received`` is set on the
    test's loop.
    """

    def __init__(
        self,
        reply: dict[str, Any] | None = None,
        delay: float = 0.0,
        gate: threading.Event | None = None,
    ) -> None:
        self.messages: list[UserMessage] = []
        self.reply = reply
        self.delay = delay
        self.gate = gate  # turns wait until it is set: keeps the turn queue full
        self.received = asyncio.Event()
        self._loop = asyncio.get_running_loop()  # agents are made inside the async tests

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        self._loop.call_soon_threadsafe(self.received.set)
        if self.gate is not None:
            await asyncio.to_thread(self.gate.wait)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.reply is not None:
            response = json.loads(json.dumps(self.reply))
        else:
            response = {"text": f"Đã nhận: {message.text}"}
        await message.output_channel.send_response(message.sender_id, response)


@dataclass
class Served:
    """A running app: base URL plus the channel (whose pipeline the test can drain)."""

    url: str
    app: Sanic
    channel: InputChannel
    agent: Any
    server: Any = None  # Sanic's AsyncioServer: a test may start the stop sequence itself

    async def drain(self, timeout: float = 10.0) -> None:
        pipeline = getattr(self.channel, "pipeline", None)
        assert pipeline is not None
        assert await pipeline.dispatcher.drain(timeout)


@contextlib.asynccontextmanager
async def serve_channel(channel: InputChannel, agent: Any) -> AsyncIterator[Served]:
    """Serve ``configure_app([channel])`` on an ephemeral loopback port."""
    app = configure_app([channel], enable_api=False, route="/webhooks/")
    app.ctx.agent = agent
    # Sanic treats port=0 as "default 8000": bind an ephemeral socket ourselves.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.set_inheritable(True)
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    port = server.server.sockets[0].getsockname()[1]
    try:
        yield Served(f"http://127.0.0.1:{port}", app, channel, agent, server)
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        sock.close()


@dataclass
class Recorded:
    """One call the fake platform received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.body.decode()))


Handler = Callable[[Recorded], Awaitable[web.Response]]


@dataclass
class FakePlatform(LoopbackFake):
    """Records every request; ``routes`` map "METHOD /path" to a handler."""

    routes: dict[str, Handler] = field(default_factory=dict)
    calls: list[Recorded] = field(default_factory=list)
    scripted: dict[str, list[web.Response]] = field(default_factory=dict)
    port: int = 0
    _runner: web.AppRunner | None = None
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    def fail_next(self, route: str, *responses: web.Response) -> None:
        """Answer the next calls of ``route`` with ``responses`` before the handler."""
        self.scripted.setdefault(route, []).extend(responses)

    def calls_to(self, route: str) -> list[Recorded]:
        method, path = route.split(" ", 1)
        return [c for c in self.calls if c.method == method and c.path == path]

    async def wait_for(self, route: str, count: int, timeout: float = 10.0) -> list[Recorded]:
        """Wait until ``count`` calls of ``route`` arrived (no sleeping on guesses)."""

        async def _until() -> None:
            while len(self.calls_to(route)) < count:
                self._event.clear()
                await self._event.wait()

        await asyncio.wait_for(_until(), timeout)
        return self.calls_to(route)

    async def handle(self, request: web.Request) -> web.Response:
        recorded = Recorded(
            request.method,
            request.path,
            dict(request.query),
            dict(request.headers),
            await request.read(),
        )
        self.calls.append(recorded)
        self._event.set()
        route = f"{request.method} {request.path}"
        pending = self.scripted.get(route)
        if pending:
            return pending.pop(0)
        handler = self.routes.get(route)
        if handler is None:
            return web.json_response({"error": "no route"}, status=404)
        return await handler(recorded)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def serve() -> Callable[..., contextlib.AbstractAsyncContextManager[Served]]:
    """``async with serve(channel, agent) as served`` — see :func:`serve_channel`."""
    return serve_channel


@pytest.fixture
def agent_factory() -> type[ReplyingAgent]:
    return ReplyingAgent


@pytest.fixture
async def platform() -> AsyncIterator[FakePlatform]:
    fake = await FakePlatform().start()
    try:
        yield fake
    finally:
        await fake.close()
