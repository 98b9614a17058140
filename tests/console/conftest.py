"""Fixtures for the console: a store (SQLite, and PostgreSQL in its own database), four
accounts (two province teams, an operator, an admin) and an aiohttp test client."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.console.app import create_app
from bot.console.auth import User, UserStore, hash_password
from bot.dispatch.store import Store, open_store
from bot.dispatch.telegram import TelegramClient
from bot.requests import RequestDraft
from bot.requests.db import migrate
from bot.routing import Directory, load_directory
from tests_support.databases import empty_store, temporary_postgres
from tests_support.fake_telegram import FakeTelegram

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery"
WEBHOOK_SECRET = "webhook-secret-for-tests"
HANOI_CHAT = -1001000000001


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session (dropped after)."""
    with temporary_postgres("console_test") as url:
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def directory() -> Directory:
    shipped = load_directory()
    teams = dict(shipped.teams)
    teams["p01"] = dataclasses.replace(teams["p01"], chat_id=HANOI_CHAT)
    return dataclasses.replace(shipped, teams=teams)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path, directory) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'requests.db'}"
        migrate(url)
    else:
        url = request.getfixturevalue("pg_url")
        empty_store(url)
    opened = open_store(url, directory=directory, migrate_first=False)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def users() -> UserStore:
    hashed = hash_password(PASSWORD)
    return UserStore(
        [
            User("hanoi", "team", hashed, province_code="01", display_name="Đội Hà Nội"),
            User("hcm", "team", hashed, province_code="79", display_name="Đội HCM"),
            User("op", "operator", hashed, display_name="Tổng đài viên"),
            User("admin", "admin", hashed, display_name="Quản trị"),
        ]
    )


@pytest.fixture
async def fake_tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def make_client(store, users, fake_tg):
    """Factory: a fresh anonymous client (several users in one test need several)."""
    clients: list[TestClient] = []

    async def make(telegram: bool = False) -> TestClient:
        client_tg = TelegramClient(fake_tg.token, base_url=fake_tg.base_url) if telegram else None
        app = create_app(
            users=users,
            secret="test-secret",
            store=store,
            telegram=client_tg,
            webhook_secret=WEBHOOK_SECRET,
        )
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; return the session's CSRF token."""
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)
    response = await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    me = await client.get("/api/me")
    return (await me.json())["csrf_token"]


@pytest.fixture
def login():
    return sign_in


@pytest.fixture
def submit(store):
    """Store a request as the bot would."""

    def make(phone: str = "0903123456", province: str = "01", **kwargs):
        values = {
            "request_type": "sim_swap",
            "phone": phone,
            "channel": "rest",
            "sender_id": f"sender-{phone}",
            "address_text": "12 Phố Huế",
            "units": {"province_code": province},
        }
        values.update(kwargs)
        return store.service.submit(RequestDraft(**values))

    return make
