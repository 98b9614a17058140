"""Fixtures for the dispatcher: a store on SQLite and PostgreSQL, a directory with team
chats, and the local fake Telegram Bot API.

PostgreSQL gets a uniquely named database per session (other engineers share the
server), created and dropped here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.dispatch.store import Store, open_store
from bot.dispatch.telegram import TelegramClient
from bot.dispatch.worker import DispatchConfig, Dispatcher
from bot.requests import RequestDraft
from bot.requests.db import migrate
from bot.routing import Directory, load_directory
from tests_support.databases import empty_store, temporary_postgres
from tests_support.fake_telegram import FakeTelegram

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

HANOI_CHAT = -1001000000001
HANOI_ESCALATION = -1001000000999
HCM_CHAT = -1001000000079


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session (dropped after)."""
    with temporary_postgres("dispatch_test") as url:
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def directory() -> Directory:
    """The shipped directory, with Telegram groups for Hà Nội and Hồ Chí Minh teams."""
    shipped = load_directory()
    teams = dict(shipped.teams)
    teams["p01"] = dataclasses.replace(
        teams["p01"], chat_id=HANOI_CHAT, escalation_chat_id=HANOI_ESCALATION
    )
    teams["p79"] = dataclasses.replace(teams["p79"], chat_id=HCM_CHAT)
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


@pytest.fixture
async def fake_tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def telegram(fake_tg) -> AsyncIterator[TelegramClient]:
    client = TelegramClient(fake_tg.token, base_url=fake_tg.base_url, poll_timeout=1)
    yield client
    await client.close()


class Clock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc) + self.offset

    def advance(self, **kwargs: float) -> None:
        self.offset += dt.timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dispatcher(store, telegram, clock) -> Dispatcher:
    return Dispatcher(
        store.service, store.sessions, telegram, DispatchConfig(sla_minutes=60), clock=clock
    )


def draft(phone: str = "0903123456", province: str = "01", **kwargs) -> RequestDraft:
    """A confirmed SIM-swap request from the web chat."""
    values = {
        "request_type": "sim_swap",
        "phone": phone,
        "channel": "rest",
        "sender_id": f"sender-{phone}",
        "address_text": "12 Phố Huế, Hai Bà Trưng",
        "units": {"province_code": province},
    }
    values.update(kwargs)
    return RequestDraft(**values)


@pytest.fixture
def make_draft():
    return draft
