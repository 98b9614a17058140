"""The request page in headless Chromium on a phone-sized viewport.

Chat: Rasa's socket.io protocol end to end in the browser (the dialogue is a replying
stand-in here; the last test runs the real Rasa and action servers with the trained
model). Form: the real phone, address and request store. Link: a Liveinfo/SMS token.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot import outreach
from connectors.webchat import load_texts

pytestmark = pytest.mark.browser
TEXTS = load_texts()
LINK_SECRET = "browser-link-secret"  # what the `serve` fixture signs links with
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("BROWSER_SHOTS", ROOT / "var" / "browser-shots"))


class Dialogue:
    """Stands in for ``Agent.handle_message``: records turns, answers with buttons."""

    def __init__(self) -> None:
        self.turns: list[tuple[str, str]] = []

    async def handle_message(self, message) -> None:
        self.turns.append((message.sender_id, message.text))
        await message.output_channel.send_response(
            message.sender_id,
            {
                "text": "Bạn muốn đổi SIM 4G cho số nào?",
                "buttons": [
                    {"title": "Số đang dùng", "payload": "/inform_same_number"},
                    {"title": "Số khác", "payload": "/inform_other_number"},
                ],
            },
        )


async def shot(page, name: str) -> None:
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def open_link(page, url: str, e164: str) -> str:
    """Open the page as the subscriber's personal link does; the conversation's sender."""
    sender = outreach.sender_id_for(LINK_SECRET, e164)
    await page.goto(f"{url}#t={outreach.sign_link(LINK_SECRET, sender)}")
    await page.wait_for_selector("body[data-session=ready]")
    return sender


async def test_chat_renders_buttons_and_survives_a_reload(serve, phone_page):
    page = phone_page
    dialogue = Dialogue()
    async with serve(dialogue) as url:
        await page.goto(url)
        assert await page.title() == TEXTS["page_title"]
        await page.wait_for_selector("body[data-session=ready]")
        session = await page.evaluate("localStorage.getItem('sim4g.chat.session')")
        assert session and len(session) == 32

        await page.fill("#message", "Tôi muốn đổi SIM 4G 😊")
        await page.click("#send")
        buttons = page.locator(".buttons").nth(1).locator("button")  # 0: the starters
        await buttons.first.wait_for()
        assert await buttons.all_inner_texts() == ["Số đang dùng", "Số khác"]
        assert await page.locator(".msg.bot").last.inner_text() == "Bạn muốn đổi SIM 4G cho số nào?"
        await buttons.nth(1).click()  # sends the payload, shows the title
        await page.locator(".msg.bot").nth(2).wait_for()
        assert await page.locator(".msg.user").last.inner_text() == "Số khác"
        assert dialogue.turns == [
            (session, "Tôi muốn đổi SIM 4G 😊"),
            (session, "/inform_other_number"),
        ]
        assert await buttons.nth(0).is_disabled()
        await shot(page, "chat")

        await page.reload()
        await page.wait_for_selector("body[data-session=ready]")
        assert await page.evaluate("localStorage.getItem('sim4g.chat.session')") == session
        await page.fill("#message", "còn đó không?")
        await page.press("#message", "Enter")
        await page.locator(".msg.bot").nth(1).wait_for()
        assert dialogue.turns[-1] == (session, "còn đó không?")
    assert page.console_errors == []
    assert page.off_host == []


async def test_form_shows_field_errors_then_the_reference(serve, phone_page, store):
    page = phone_page
    async with serve(Dialogue()) as url:
        await page.goto(url)
        await page.click("#tab-form")
        await page.fill("#f-phone", "12345")
        await page.click("#submit")
        phone_error = page.locator('[data-error-for="phone"]')
        await phone_error.wait_for()
        assert await phone_error.inner_text() == TEXTS["error_phone_invalid"]
        assert (
            await page.locator('[data-error-for="address"]').inner_text()
            == (TEXTS["error_address_missing"])
        )
        assert "invalid" in (await page.get_attribute("#f-phone", "class") or "")
        await shot(page, "form-errors")

        await page.fill("#f-phone", "0901 234 567")
        await page.fill("#f-address", "Thôn 3, xã Tân Lập")  # in several provinces
        await page.check('input[name="request_type"][value="new_subscription"]')
        await page.click("#submit")
        await page.wait_for_selector("#province-row:not([hidden])")
        assert (
            await page.locator('[data-error-for="address"]').inner_text()
            == (TEXTS["error_address_unresolved"])
        )
        await page.select_option("#f-province", "01")
        await page.fill("#f-name", "Trần Thị Bình")
        await page.click("#submit")
        await page.wait_for_selector("#form-status.ok")
        reference = await page.get_attribute("#form-status", "data-reference")
        assert await page.locator("#form-status").inner_text() == TEXTS["result_created"].format(
            reference=reference
        )
        await shot(page, "form-done")
        assert page.url == url  # the number never went into a URL
    stored = store().get(reference)
    assert (stored.phone, stored.province_code, stored.request_type, stored.channel) == (
        "+84901234567",
        "01",
        "new_subscription",
        "webform",
    )
    assert page.off_host == []


async def test_a_liveinfo_link_opens_its_conversation(serve, phone_page):
    page = phone_page
    dialogue = Dialogue()
    async with serve(dialogue) as url:
        sender = await open_link(page, url, "+84901234567")
        assert await page.evaluate("localStorage.getItem('sim4g.chat.session')") == sender
        assert "#t=" not in page.url  # the token leaves the address bar
        assert await page.locator(".msg.bot").first.inner_text() == TEXTS["chat_link_welcome"]
        await page.fill("#message", "12 Lê Lợi, phường Bến Thành, TP HCM")
        await page.click("#send")
        await page.locator(".msg.bot").nth(1).wait_for()
        assert dialogue.turns == [(sender, "12 Lê Lợi, phường Bến Thành, TP HCM")]


async def test_an_sms_invitation_link_shows_the_started_request(serve, phone_page):
    """First opening of a campaign invitation: the bot's own first replies, not the
    generic welcome, and the conversation already knows the number."""
    import datetime as dt

    from sqlalchemy import insert

    from bot.campaign.schema import campaign_targets
    from bot.campaign.store import ensure_campaign
    from bot.requests.db import create_store_engine, migrate
    from tests_support.campaign import invite_by_sms

    url_db = os.environ["DATABASE_URL"]
    migrate(url_db)
    engine = create_store_engine(url_db)
    cid = ensure_campaign(engine, "c1")
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        conn.execute(
            insert(campaign_targets).values(
                campaign_id=cid, phone_e164="+84901234567", imported_at=now
            )
        )
    assert len(invite_by_sms(engine, "c1", LINK_SECRET, now)) == 1
    engine.dispose()

    page = phone_page
    dialogue = Dialogue()
    async with serve(dialogue) as url:
        sender = await open_link(page, url, "+84901234567")
        first = page.locator(".msg.bot").first
        assert await first.inner_text() == "Bạn muốn đổi SIM 4G cho số nào?"
        assert await page.locator(".buttons button").count() == 2
        [(who, said)] = dialogue.turns
        assert who == sender
        assert said.startswith('/request_sim_swap{"phone_number": "0901234567"')
        await shot(page, "invitation-link")
    assert page.console_errors == []


async def test_an_expired_link_says_so_and_starts_afresh(serve, phone_page):
    page = phone_page
    sender = outreach.sender_id_for(LINK_SECRET, "+84901234567")
    async with serve(Dialogue()) as url:
        await page.goto(f"{url}#t={outreach.sign_link(LINK_SECRET, sender, ttl=-5)}")
        await page.wait_for_selector("body[data-session=ready]")
        notice = page.locator("#notice")
        assert await notice.is_visible()
        assert await notice.inner_text() == TEXTS["chat_link_expired"]
        session = await page.evaluate("localStorage.getItem('sim4g.chat.session')")
        assert session != sender and len(session) == 32
        await shot(page, "link-expired")


def _stock_socketio_configured() -> bool:
    import yaml

    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8")) or {}
    return "socketio" in credentials


@pytest.mark.servers
@pytest.mark.skipif(
    not (ROOT / "models" / "current.tar.gz").exists(), reason="no trained model (make train)"
)
@pytest.mark.skipif(
    _stock_socketio_configured(),
    reason="credentials.yml still names Rasa's stock `socketio` channel, whose replies never "
    "reach the browser with python-socketio 5.18; use connectors.webchat.WebChatSocketIOInput",
)
async def test_full_conversation_in_the_browser_stores_a_request(phone_page, tmp_path):
    """Real Rasa + action servers (``python -m bot run``): the chat ends with a request."""
    from bot.requests import RequestService
    from bot.requests.db import create_store_engine, session_factory
    from bot.routing import load_directory
    from tests_support.servers import running_stack

    page = phone_page
    with running_stack(tmp_path / "var", extra_env={"WEBCHAT_LINK_SECRET": LINK_SECRET}) as stack:
        await page.goto(f"{stack.rasa_url}/webhooks/webchat/")
        await page.wait_for_selector("body[data-session=ready]")
        session = await page.evaluate("localStorage.getItem('sim4g.chat.session')")
        bot_messages = page.locator(".msg.bot")

        async def say(text: str) -> None:
            before = await bot_messages.count()
            await page.fill("#message", text)
            await page.click("#send")
            await bot_messages.nth(before).wait_for(timeout=60_000)

        async def tap(title: str) -> None:
            button = page.locator(".buttons button:not([disabled])", has_text=title).last
            await button.wait_for(timeout=60_000)
            await button.click()

        await say("Tôi muốn đổi SIM 4G")
        await say("0901234567")
        await say("12/3 Lê Văn Sỹ, Phường 13, Quận 3, TP Hồ Chí Minh")
        await tap("Bỏ qua")
        await tap("Đúng rồi")

        service = RequestService(
            session_factory(create_store_engine(stack.env["DATABASE_URL"])), load_directory()
        )
        stored: list = []
        for _ in range(120):
            stored = await asyncio.to_thread(service.find_open, "+84901234567")
            if stored:
                break
            await asyncio.sleep(0.5)
        assert stored, await bot_messages.all_inner_texts()
        assert stored[0].sender_id == session
        assert stored[0].province_code == "79"
        await page.locator(".msg.bot", has_text=stored[0].reference).wait_for(timeout=30_000)
        await shot(page, "full-conversation")
