"""aiohttp fakes of external platforms, served on 127.0.0.1 at a port the OS picks."""

from __future__ import annotations

from aiohttp import web


async def serve_on_loopback(app: web.Application) -> tuple[web.AppRunner, int]:
    """Start ``app`` on a free loopback port; its runner (``cleanup()`` stops it) and port.

    Port 0 lets the OS choose, so runs sharing the machine never collide.
    """
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(runner.addresses[0][1])
