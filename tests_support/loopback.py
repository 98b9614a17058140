"""aiohttp fakes of external platforms, served on 127.0.0.1 at a port the OS picks."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web

F = TypeVar("F", bound="LoopbackFake")


async def serve_on_loopback(app: web.Application) -> tuple[web.AppRunner, int]:
    """Start ``app`` on a free loopback port; its runner (``cleanup()`` stops it) and port.

    Port 0 lets the OS choose, so runs sharing the machine never collide.
    """
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(runner.addresses[0][1])


class LoopbackFake:
    """Start, stop and address of a platform fake, so each fake only says what it
    answers (:meth:`add_routes`). Subclasses are dataclasses with ``port`` and
    ``_runner`` fields."""

    port: int
    _runner: web.AppRunner | None

    def add_routes(self, app: web.Application) -> None:
        """Every method and path to :meth:`handle`, unless a fake routes its own."""
        app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        raise NotImplementedError

    async def start(self: F) -> F:
        app = web.Application()
        self.add_routes(app)
        self._runner, self.port = await serve_on_loopback(app)
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
