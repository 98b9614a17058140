"""Telegram button presses pushed to the console's webhook."""

from __future__ import annotations

from bot.dispatch.telegram import TelegramClient
from bot.dispatch.worker import Dispatcher

WEBHOOK_SECRET = "webhook-secret-for-tests"
HANOI_CHAT = -1001000000001


async def test_webhook_requires_the_secret_token(make_client):
    client = await make_client(telegram=True)
    body = {"update_id": 1}
    assert (await client.post("/telegram/webhook", json=body)).status == 403
    wrong = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
    assert (await client.post("/telegram/webhook", json=body, headers=wrong)).status == 403
    right = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    bad = await client.post(
        "/telegram/webhook", data="nope", headers={**right, "Content-Type": "application/json"}
    )
    assert bad.status == 400


async def test_button_press_through_webhook_then_console_change_edits_message(
    make_client, login, submit, store, fake_tg
):
    outcome = submit()
    telegram = TelegramClient(fake_tg.token, base_url=fake_tg.base_url)
    worker = Dispatcher(store.service, store.sessions, telegram)
    await worker.deliver_due()
    message = fake_tg.chat_messages(HANOI_CHAT)[0]
    update = fake_tg.press(HANOI_CHAT, message["message_id"], f"a:{outcome.reference}")
    client = await make_client(telegram=True)

    response = await client.post(
        "/telegram/webhook",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
    )

    assert response.status == 200
    assert store.service.get(outcome.reference).status == "accepted"
    assert len(fake_tg.calls_of("answerCallbackQuery")) == 1
    assert "0903123456" in fake_tg.chat_messages(HANOI_CHAT)[0]["text"]

    # A status change made in the console reaches the chat through the outbox.
    csrf = await login(client, "hanoi")
    changed = await client.post(
        f"/api/requests/{outcome.reference}/status",
        json={"to_status": "done"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status == 200
    report = await worker.run_once()
    await telegram.close()
    assert report.delivered == 1
    final = fake_tg.chat_messages(HANOI_CHAT)[0]
    assert "Hoàn thành" in final["text"]
    assert "console:hanoi" in final["text"]
    assert "reply_markup" not in final
