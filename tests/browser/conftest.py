"""Headless Chromium (Debian's ``chromium`` package) driven by Playwright for Python.

Nothing is downloaded at run time: Playwright is told where the system browser is and
``playwright install`` is never run. The page is served by the real Sanic app with the
webchat and socket.io channels, as ``rasa run`` mounts them.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.run import configure_app
from sanic import Sanic

import bot.requests.service as request_service
from connectors.webchat import WebChatInput, WebChatSocketIOInput

Sanic.test_mode = True
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
LINK_SECRET = "browser-link-secret"


@contextlib.asynccontextmanager
async def serve_page(agent: Any) -> AsyncIterator[str]:
    """The request page and socket.io channels on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    channels = [WebChatInput(link_secret=LINK_SECRET), WebChatSocketIOInput()]
    app = configure_app(channels, enable_api=False, route="/webhooks/")
    app.ctx.agent = agent
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/webchat/"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    # `make test` installs Debian's chromium (target `chromium`): missing is a failure.
    assert shutil.which(CHROMIUM), "Debian's chromium is not installed: run `make chromium`"
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
async def phone_page(browser: Any) -> AsyncIterator[Any]:
    """A phone-sized page; console errors and off-host requests are collected."""
    context = await browser.new_context(viewport=PHONE, locale="vi-VN", is_mobile=True)
    page = await context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.off_host = []

    def check(request: Any) -> None:
        if not request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:")):
            page.off_host.append(request.url)

    page.on("request", check)
    try:
        yield page
    finally:
        await context.close()


@pytest.fixture
def serve() -> Any:
    """``async with serve(agent) as url`` — the page at ``url``; links use LINK_SECRET."""
    return serve_page


@pytest.fixture
def link_secret() -> str:
    return LINK_SECRET


@pytest.fixture(autouse=True)
def _own_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page looks campaign invitations up in the request store: a temporary one."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'requests.db'}")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``get_service()`` on a fresh SQLite request store."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'requests.db'}")
    monkeypatch.setattr(request_service, "_service", None)
    monkeypatch.setattr(request_service, "_engine", None)
    return request_service.get_service
