"""From a customer's "yes" to the province team's Telegram group, through real servers.

The launcher starts Rasa, the action server and the dispatcher as `make run` does; the
Telegram Bot API is the local fake. One confirmed conversation must give one stored,
routed request and exactly one team notification, with the phone masked.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.requests import RequestService
from bot.requests.db import create_store_engine, session_factory
from bot.routing import DEFAULT_DIRECTORY, load_directory
from tests_support.fake_telegram import FakeTelegram
from tests_support.servers import running_stack

pytestmark = pytest.mark.servers

HCM_CHAT = -1001234567890


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    """The fake Bot API on its own event loop thread, so the test itself can block."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = asyncio.run_coroutine_threadsafe(FakeTelegram().start(), loop).result(10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@pytest.fixture
def directory_with_chat(tmp_path: Path) -> Path:
    """The shipped directory with the Hồ Chí Minh team's group filled in."""
    text = DEFAULT_DIRECTORY.read_text(encoding="utf-8")
    line = 'team: {id: p79, name: "MobiFone Hồ Chí Minh", chat_id: null'
    assert line in text
    path = tmp_path / "directory.yml"
    path.write_text(text.replace(line, line.replace("null", str(HCM_CHAT))), encoding="utf-8")
    return path


def test_confirmed_request_reaches_the_team_group_once(
    tmp_path: Path, telegram: FakeTelegram, directory_with_chat: Path
) -> None:
    env = {
        "DIRECTORY_PATH": str(directory_with_chat),
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "DISPATCH_INTERVAL_SECONDS": "1",
    }
    with running_stack(tmp_path / "stack", extra_env=env, services="actions,rasa,dispatch") as s:
        sender = f"e2e-{uuid.uuid4().hex[:8]}"
        for text in ["doi sim 4g", "0901234567", "12/3 Le Van Sy P13 Q3 tphcm", "bo qua"]:
            s.rest(sender, text)
        s.rest(sender, "dung roi")

        service = RequestService(
            session_factory(create_store_engine(s.env["DATABASE_URL"])),
            load_directory(directory_with_chat),
        )
        [stored] = service.find_open("0901234567", "sim_swap")
        assert stored.team_id == "p79"
        assert stored.route_rule == "province:79"

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not telegram.chat_messages(HCM_CHAT):
            time.sleep(0.5)
        time.sleep(3)  # a second delivery, if any, would show up by now
        messages = telegram.chat_messages(HCM_CHAT)
        assert len(messages) == 1, messages
        text = messages[0]["text"]
        assert stored.reference in text
        assert "0901234567" not in text  # masked until a team member accepts
        assert service.get(stored.reference).status == "assigned"
