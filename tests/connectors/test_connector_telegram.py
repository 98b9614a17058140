"""Contract tests for the Telegram customer channel against the local fake Bot API.

Updates follow the Bot API's ``Update`` object (``update_id`` + ``message`` with
``message_id``, ``from``, ``chat`` of type ``private``, ``date``, ``text``; or
``callback_query`` with ``id``, ``from``, ``message``, ``chat_instance``, ``data``),
authenticated by the ``X-Telegram-Bot-Api-Secret-Token`` header set with setWebhook.
"""

from __future__ import annotations

import json
import threading

import pytest

from connectors.common import MemoryDeduplicator, TurnQueue
from connectors.telegram import TelegramInput
from tests_support.fake_telegram import FakeTelegram

SECRET = "s3cret_Token-for-webhook"
CHAT = 5012345678


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


def telegram_input(tg, **extra) -> TelegramInput:
    """The customer bot's channel pointed at the fake Bot API, retrying fast, no Redis."""
    return TelegramInput(
        access_token=tg.token,
        secret_token=SECRET,
        base_url=tg.base_url,
        redis_url="",
        deduplicator=MemoryDeduplicator(),
        retry_base_delay=0.01,
        **extra,
    )


@pytest.fixture
def channel(tg):
    return telegram_input(tg)


def text_update(update_id: int, text: str, chat_id: int = CHAT, chat_type: str = "private") -> dict:
    chat = {"id": chat_id, "type": chat_type}
    chat.update(
        {"first_name": "Lan", "username": "lan_nguyen"}
        if chat_type == "private"
        else {"title": "Nhóm"}
    )
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id - 900000000,
            "from": {
                "id": chat_id if chat_type == "private" else 777,
                "is_bot": False,
                "first_name": "Lan",
                "username": "lan_nguyen",
                "language_code": "vi",
            },
            "chat": chat,
            "date": 1712345678,
            "text": text,
        },
    }


async def post(http, url, payload, secret=SECRET):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with http.post(f"{url}/webhooks/telegram/webhook", data=body, headers=headers) as r:
        return r.status, await r.text()


async def test_text_update_reaches_rasa_and_reply_is_sent(channel, serve, agent_factory, http, tg):
    agent = agent_factory()
    async with serve(channel, agent) as served:
        status, _ = await post(http, served.url, text_update(900000101, "Tôi muốn đổi SIM 4G 📶"))
        assert status == 200
        await served.drain()
    [message] = agent.messages
    assert (message.sender_id, message.text, message.input_channel) == (
        f"telegram:{CHAT}",
        "Tôi muốn đổi SIM 4G 📶",
        "telegram",
    )
    assert message.metadata["telegram"]["update_id"] == 900000101
    [sent] = tg.calls_of("sendMessage")
    assert sent["chat_id"] == CHAT
    assert sent["text"] == "Đã nhận: Tôi muốn đổi SIM 4G 📶"


@pytest.mark.parametrize("secret", ["", "wrong-secret", "s3cret_Token-for-webhooK", "bí-mật"])
async def test_wrong_or_missing_secret_is_403(channel, serve, agent_factory, http, tg, secret):
    agent = agent_factory()
    async with serve(channel, agent) as served:
        status, _ = await post(http, served.url, text_update(900000102, "hi"), secret)
        await served.drain()
    assert status == 403
    assert agent.messages == [] and tg.calls == []


async def test_malformed_or_foreign_json_is_400(channel, serve, agent_factory, http):
    async with serve(channel, agent_factory()) as served:
        assert (await post(http, served.url, b'{"update_id": 1, "message": {'))[0] == 400
        assert (await post(http, served.url, {"hello": "world"}))[0] == 400
        assert (await post(http, served.url, b"[]"))[0] == 400


async def test_duplicate_update_id_once_and_groups_ignored(channel, serve, agent_factory, http):
    agent = agent_factory()
    async with serve(channel, agent) as served:
        for _ in range(3):
            assert (await post(http, served.url, text_update(900000103, "Hà Nội")))[0] == 200
        group = text_update(900000104, "ai đó trong nhóm", chat_id=-100123, chat_type="supergroup")
        assert (await post(http, served.url, group))[0] == 200
        await served.drain()
    assert [m.text for m in agent.messages] == ["Hà Nội"]


async def test_buttons_long_payload_and_callback_answered(channel, serve, agent_factory, http, tg):
    long_payload = '/inform{"address": "Số 12 ngõ 34 phố Trần Duy Hưng, phường Trung Hòa, Hà Nội"}'
    assert len(long_payload.encode()) > 64
    buttons = [
        {"title": "Đồng ý ✅", "payload": "/affirm"},
        {"title": "Địa chỉ này", "payload": long_payload},
    ]
    agent = agent_factory(reply={"text": "Xác nhận địa chỉ?", "buttons": buttons})
    async with serve(channel, agent) as served:
        await post(http, served.url, text_update(900000105, "xin chào"))
        await served.drain()
        [sent] = tg.calls_of("sendMessage")
        rows = sent["reply_markup"]["inline_keyboard"]
        assert [r[0]["text"] for r in rows] == ["Đồng ý ✅", "Địa chỉ này"]
        assert rows[0][0]["callback_data"] == "/affirm"
        data = rows[1][0]["callback_data"]
        assert len(data.encode()) <= 64 and data != long_payload
        # the customer presses the long button (the fake models group chats; a
        # customer's chat with the bot is private)
        update = tg.press(CHAT, 1, data, user_id=CHAT)
        update["callback_query"]["message"]["chat"] = {
            "id": CHAT,
            "type": "private",
            "first_name": "Lan",
        }
        assert (await post(http, served.url, update))[0] == 200
        await served.drain()
        await channel.close()  # waits for the callback answer
    assert [m.text for m in agent.messages] == ["xin chào", long_payload]
    assert agent.messages[1].sender_id == f"telegram:{CHAT}"
    [answer] = tg.calls_of("answerCallbackQuery")
    assert answer["callback_query_id"] == update["callback_query"]["id"]


async def test_flood_control_and_server_errors_are_retried(channel, serve, agent_factory, http, tg):
    tg.fail("sendMessage", status=429, retry_after=0)
    tg.fail("sendMessage", status=502)
    agent = agent_factory()
    async with serve(channel, agent) as served:
        await post(http, served.url, text_update(900000106, "Thử lại"))
        await served.drain()
    calls = tg.calls_of("sendMessage")
    assert len(calls) == 3
    assert calls[-1]["text"] == "Đã nhận: Thử lại"
    assert tg.chat_messages(CHAT)[-1]["text"] == "Đã nhận: Thử lại"


def test_missing_secret_refused(tg):
    with pytest.raises(ValueError):
        TelegramInput(access_token=tg.token, secret_token="", base_url=tg.base_url)


async def test_full_turn_queue_answers_503_before_the_update_is_taken(
    tg, serve, agent_factory, http
):
    """Telegram redelivers a non-2xx update; a refused button press is not answered yet."""
    gate = threading.Event()
    gate.set()
    buttons = [{"title": "Có", "payload": "/affirm"}]
    agent = agent_factory(reply={"text": "Đổi SIM 4G?", "buttons": buttons}, gate=gate)
    channel = telegram_input(tg, turns=TurnQueue(capacity=1, workers=1))
    async with serve(channel, agent) as served:
        assert (await post(http, served.url, text_update(900000201, "xin chào")))[0] == 200
        await served.drain()
        press = tg.press(CHAT, 1, "/affirm", user_id=CHAT)
        press["callback_query"]["message"]["chat"] = {"id": CHAT, "type": "private"}
        gate.clear()  # the next turn holds the only place
        assert (await post(http, served.url, text_update(900000202, "alo")))[0] == 200
        assert (await post(http, served.url, press))[0] == 503
        assert tg.calls_of("answerCallbackQuery") == []
        gate.set()
        await served.drain()
        assert (await post(http, served.url, press))[0] == 200  # Telegram's redelivery
        await served.drain()
        assert (await post(http, served.url, press))[0] == 200  # and a duplicate of it
        await served.drain()
        await channel.close()  # waits for the callback answer
    assert [m.text for m in agent.messages] == ["xin chào", "alo", "/affirm"]
    assert len(tg.calls_of("answerCallbackQuery")) == 1
    assert channel.pipeline.busy == 1 and channel.pipeline.duplicates == 1


async def test_an_update_that_fails_after_its_id_is_taken_leaves_the_id_free(
    channel, serve, agent_factory, http, tg
):
    """The id is taken before the update is converted (a button's payload is looked up
    in Redis, the callback answered): if that fails the webhook answers 400 for an
    unreadable update (500 for a server fault) and the id stays free, so a redelivery
    is not dropped as a duplicate."""
    press = {  # no "from": conversion fails after the id was taken
        "update_id": 900000301,
        "callback_query": {
            "id": "4711",
            "chat_instance": f"-{CHAT}77",
            "data": "/affirm",
            "message": {
                "message_id": 1,
                "date": 1712345678,
                "chat": {"id": CHAT, "type": "private"},
                "text": "Đổi SIM 4G?",
            },
        },
    }
    async with serve(channel, agent_factory()) as served:
        assert (await post(http, served.url, press))[0] == 400
        await channel.close()
    key = f"telegram:{tg.token.split(':')[0]}:{press['update_id']}"
    assert await channel.deduplicator.first_seen(key)  # free for the redelivery
