"""One whole customer conversation per customer channel, through the real servers.

The module starts ``python -m bot run`` (Rasa + action server, as ``make run`` does) once,
with every channel's secrets, as a deployment runs them side by side; each test posts
correctly signed, platform-shaped webhooks for its channel, waits for the bot's replies at a
local fake of the platform API (replies leave asynchronously, after the webhook's
200/202), and checks that the conversation ends with exactly one stored request for its own
phone, with the channel's name and namespaced sender id.

Facebook, Zalo and Telegram are pointed at their fake through the connector's base-URL
key (``graph-url``, ``api-url``/``oauth-url``, ``base_url``). ``credentials.yml`` must
expand that key from the environment for the launcher to pass it on; while it does not,
the test fails rather than let the connector call the real platform.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
import socketio
import yaml
from aiohttp import web

from bot.requests import RequestService
from bot.requests.db import create_store_engine, session_factory
from bot.routing import load_directory
from tests_support.fake_telegram import FakeTelegram
from tests_support.loopback import LoopbackFake
from tests_support.servers import ROOT, Stack, running_stack

pytestmark = pytest.mark.servers

# One phone per channel: the tests share the servers and their request store.
PHONES = {
    "facebook": "0901234561",
    "zalo": "0901234562",
    "telegram": "0901234563",
    "liveinfo": "0901234564",
    "sms": "0901234565",
}
ADDRESS = "12/3 Le Van Sy P13 Q3 tphcm"
REPLY_TIMEOUT = 90.0


# ----------------------------------------------------------------------------- helpers


def _url_variable(block: str, key: str) -> str | None:
    """The env variable ``credentials.yml`` expands into ``block.key``, if it has one."""
    blocks = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8")) or {}
    value = (blocks.get(block) or {}).get(key)
    match = re.fullmatch(r"\$\{([^}]+)\}", str(value or "").strip())
    return match.group(1) if match else None


def _need_url_key(block: str, key: str) -> str:
    """The variable that points the connector at the fake (never the real platform)."""
    variable = _url_variable(block, key)
    assert variable, f"credentials.yml must expand `{key}` of `{block}` from a variable"
    return variable


class LoopThread:
    """An asyncio loop on its own thread, so the synchronous test can block meanwhile."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    runner = LoopThread()
    try:
        yield runner
    finally:
        runner.stop()


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeApi(LoopbackFake):
    """Any platform HTTP API: records every request, answers ``answer(path)`` as JSON."""

    answer: Callable[[str], dict[str, Any]]
    calls: list[Recorded] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = dict(await request.post())
        self.calls.append(Recorded(request.path, dict(request.headers), body))
        return web.json_response(self.answer(request.path))

    def to(self, path_end: str) -> list[Recorded]:
        return [c for c in list(self.calls) if c.path.endswith(path_end)]


@dataclass(frozen=True)
class Channels:
    """The servers, and the fakes of the platforms they were started against."""

    stack: Stack
    graph: FakeApi
    zalo: FakeApi
    telegram: FakeTelegram
    gateway: FakeApi


F = TypeVar("F", bound=LoopbackFake)

FACEBOOK_SECRET, FACEBOOK_PAGE, FACEBOOK_VERIFY = "fb-app-secret", "1122334455", "fb-verify"
ZALO_APP, ZALO_OA_KEY, ZALO_OA = "1234567890123", "zalo-oa-secret", "998877"
TELEGRAM_SECRET = "tg-webhook-secret"
LIVEINFO_SECRET = "liveinfo-secret"


@pytest.fixture(scope="module")
def channels(
    loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Channels]:
    graph_var = _need_url_key("connectors.facebook.FacebookInput", "graph-url")
    zalo_var = _need_url_key("connectors.zalo.ZaloInput", "api-url")
    oauth_var = _url_variable("connectors.zalo.ZaloInput", "oauth-url")
    telegram_var = _need_url_key("connectors.telegram.TelegramInput", "base_url")
    started: list[LoopbackFake] = []

    def start(fake: F) -> F:
        started.append(loop_thread.run(fake.start()))
        return fake

    try:
        graph = start(
            FakeApi(lambda path: {"recipient_id": "psid", "message_id": f"m_{uuid.uuid4().hex}"})
        )
        zalo = start(
            FakeApi(
                lambda path: {
                    "error": 0,
                    "message": "Success",
                    "data": {"message_id": uuid.uuid4().hex},
                }
            )
        )
        telegram = start(FakeTelegram(token="765432:CUSTOMER-bot"))
        gateway = start(FakeApi(lambda path: {"id": "msg-1", "status": "queued"}))
        env = {
            "FACEBOOK_VERIFY_TOKEN": FACEBOOK_VERIFY,
            "FACEBOOK_APP_SECRET": FACEBOOK_SECRET,
            "FACEBOOK_PAGE_ACCESS_TOKEN": "fb-page-token",
            graph_var: graph.url,
            "ZALO_APP_ID": ZALO_APP,
            "ZALO_OA_SECRET_KEY": ZALO_OA_KEY,
            "ZALO_APP_SECRET_KEY": "zalo-app-secret",
            "ZALO_ACCESS_TOKEN": "zalo-access",
            "ZALO_REFRESH_TOKEN": "zalo-refresh",
            zalo_var: zalo.url,
            **({oauth_var: zalo.url} if oauth_var else {}),
            "TELEGRAM_CUSTOMER_BOT_TOKEN": telegram.token,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            telegram_var: telegram.base_url,
            "LIVEINFO_SECRET": LIVEINFO_SECRET,
            "SMS_GATEWAY_URL": f"{gateway.url}/sms/send",
            "SMS_GATEWAY_TOKEN": "sms-token",
            "WEBCHAT_LINK_SECRET": "link-secret-" + uuid.uuid4().hex,
        }
        with running_stack(tmp_path_factory.mktemp("channels") / "stack", extra_env=env) as stack:
            yield Channels(stack, graph, zalo, telegram, gateway)
    finally:
        for fake in started:
            loop_thread.run(fake.close())


def wait_for(what: str, probe: Callable[[], Any], timeout: float = REPLY_TIMEOUT) -> Any:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _containing(texts: list[str], needle: str) -> str | None:
    """The texts joined, if they contain ``needle``."""
    joined = "\n".join(texts)
    return joined if needle in joined else None


def _post_json(url: str, body: bytes, signature: dict[str, str]) -> httpx.Response:
    """A platform's webhook call: the JSON body as bytes (what its signature covers)."""
    return httpx.post(
        url,
        content=body,
        headers={"Content-Type": "application/json", **signature},
        timeout=10,
    )


def _service(stack: Stack) -> RequestService:
    return RequestService(
        session_factory(create_store_engine(stack.env["DATABASE_URL"])), load_directory()
    )


def turns(phone: str, *, after_link: bool = False) -> list[tuple[str, str]]:
    """Each turn: the customer's text and what the bot's replies to it must contain. Once
    a link has started the request with the number known, only the last two are left."""
    said = [
        ("mình muốn đổi sim 4g", "số điện thoại"),
        (phone, "địa chỉ"),
        (ADDRESS, "tên"),
        ("bo qua", phone),
    ]
    return said[2:] if after_link else said


def converse(
    send: Callable[[str], None],
    replies: Callable[[], list[str]],
    stack: Stack,
    phone: str,
    *,
    after_link: bool = False,
) -> tuple[str, Any]:
    """The conversation from ``turns`` to "dung roi"; returns the final replies and the
    one stored request."""
    for text, expected in turns(phone, after_link=after_link):
        seen = len(replies())
        send(text)
        wait_for(
            f"a reply containing {expected!r} to {text!r}",
            lambda s=seen, e=expected: e.lower() in "\n".join(replies()[s:]).lower(),
        )
    seen = len(replies())
    send("dung roi")
    service = _service(stack)
    [stored] = wait_for("the stored request", lambda: service.find_open(phone, "sim_swap"))
    final = wait_for(
        "the reference in the final reply",
        lambda: _containing(replies()[seen:], stored.reference),
    )
    time.sleep(1)
    assert len(service.find_open(phone, "sim_swap")) == 1
    return final, stored


def open_link(stack: Stack, sms_text: str) -> dict[str, Any]:
    """What the request page does with the ``#t=`` token of an SMS link: exchange it,
    with the page's CSRF token, for the conversation (``session_id``, ``messages``)."""
    token = re.search(r"#t=([A-Za-z0-9._\-]+)", sms_text)
    assert token, sms_text
    page = httpx.get(f"{stack.rasa_url}/webhooks/webchat/", timeout=10)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert csrf
    link = httpx.post(
        f"{stack.rasa_url}/webhooks/webchat/link",
        json={"token": token.group(1)},
        headers={"Origin": stack.rasa_url, "X-CSRF-Token": csrf.group(1)},
        timeout=60,  # the link may start the request: the bot's first turn runs first
    )
    assert link.status_code == 200, link.text
    return dict(link.json())


@contextmanager
def page_chat(
    stack: Stack, sender: str
) -> Iterator[tuple[Callable[[str], None], Callable[[], list[str]]]]:
    """The page's socket.io session ``sender``: how to send a text, and the replies."""
    bot_said: list[str] = []
    client = socketio.Client(reconnection=False)
    client.on("bot_uttered", lambda data: bot_said.append(str(data.get("text", ""))))
    confirmed = threading.Event()
    client.on("session_confirm", lambda data: confirmed.set())
    # Over a websocket, as the page's browser talks: closing it ends the connection at
    # once, where a closed long poll keeps the server's shutdown waiting (25 s ping).
    client.connect(stack.rasa_url, socketio_path="/socket.io", transports=["websocket"])
    try:
        client.emit("session_request", {"session_id": sender})
        assert confirmed.wait(20)
        yield (
            lambda text: client.emit("user_uttered", {"message": text, "session_id": sender}),
            lambda: bot_said,
        )
    finally:
        client.disconnect()


# ----------------------------------------------------------------------------- Facebook


def test_facebook_messenger_conversation(channels: Channels) -> None:
    stack, graph, phone, psid = channels.stack, channels.graph, PHONES["facebook"], "2468013579"
    hook = f"{stack.rasa_url}/webhooks/facebook/webhook"
    challenge = httpx.get(
        hook,
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": FACEBOOK_VERIFY,
            "hub.challenge": "42",
        },
        timeout=10,
    )
    assert challenge.status_code == 200
    assert challenge.text == "42"

    def send(text: str) -> None:
        now = int(time.time() * 1000)
        event = {
            "sender": {"id": psid},
            "recipient": {"id": FACEBOOK_PAGE},
            "timestamp": now,
            "message": {"mid": f"m_{uuid.uuid4().hex}", "text": text},
        }
        body = json.dumps(
            {"object": "page", "entry": [{"id": FACEBOOK_PAGE, "time": now, "messaging": [event]}]},
            ensure_ascii=False,
        ).encode()
        signature = hmac.new(FACEBOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        answer = _post_json(hook, body, {"X-Hub-Signature-256": f"sha256={signature}"})
        assert answer.status_code == 200, answer.text

    def replies() -> list[str]:
        return [str((c.body["message"] or {}).get("text", "")) for c in graph.to("/me/messages")]

    final, stored = converse(send, replies, stack, phone)

    sends = graph.to("/v21.0/me/messages")
    assert sends
    for call in sends:
        assert call.body["recipient"] == {"id": psid}
        assert call.body["messaging_type"] == "RESPONSE"
        assert call.headers["Authorization"] == "Bearer fb-page-token"
    assert stored.reference in final
    assert stored.channel == "facebook"
    assert stored.sender_id == f"facebook:{psid}"


# ---------------------------------------------------------------------------------- Zalo


def test_zalo_oa_conversation(channels: Channels) -> None:
    stack, api, phone, user = channels.stack, channels.zalo, PHONES["zalo"], "5566778899"
    hook = f"{stack.rasa_url}/webhooks/zalo/webhook"

    def send(text: str) -> None:
        timestamp = str(int(time.time() * 1000))
        body = json.dumps(
            {
                "app_id": ZALO_APP,
                "user_id_by_app": "u" + user,
                "event_name": "user_send_text",
                "timestamp": timestamp,
                "sender": {"id": user},
                "recipient": {"id": ZALO_OA},
                "message": {"msg_id": uuid.uuid4().hex, "text": text},
            },
            ensure_ascii=False,
        ).encode()
        mac = hashlib.sha256(ZALO_APP.encode() + body + timestamp.encode() + ZALO_OA_KEY.encode())
        answer = _post_json(hook, body, {"X-ZEvent-Signature": f"mac={mac.hexdigest()}"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["error"] == 0

    def replies() -> list[str]:
        return [str(c.body["message"].get("text", "")) for c in api.to("/v3.0/oa/message/cs")]

    final, stored = converse(send, replies, stack, phone)

    sends = api.to("/v3.0/oa/message/cs")
    assert sends
    for call in sends:
        assert call.body["recipient"] == {"user_id": user}
        assert call.headers["access_token"] == "zalo-access"
    assert stored.reference in final
    assert stored.channel == "zalo"
    assert stored.sender_id == f"zalo:{user}"


# ------------------------------------------------------------------------------ Telegram


def test_telegram_customer_bot_conversation(channels: Channels) -> None:
    stack, telegram, phone, chat_id = (
        channels.stack,
        channels.telegram,
        PHONES["telegram"],
        31337001,
    )
    updates = iter(range(500_000, 600_000))
    hook = f"{stack.rasa_url}/webhooks/telegram/webhook"

    def send(text: str) -> None:
        update_id = next(updates)
        user = {"id": chat_id, "is_bot": False, "first_name": "Lan", "language_code": "vi"}
        update = {
            "update_id": update_id,
            "message": {
                "message_id": update_id - 499_000,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Lan"},
                "from": user,
                "text": text,
            },
        }
        answer = httpx.post(
            hook,
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    def replies() -> list[str]:
        return [str(p.get("text", "")) for p in telegram.calls_of("sendMessage")]

    final, stored = converse(send, replies, stack, phone)

    sends = telegram.calls_of("sendMessage")
    assert sends
    assert {p["chat_id"] for p in sends} == {chat_id}
    assert stored.reference in final
    assert stored.channel == "telegram"
    assert stored.sender_id == f"telegram:{chat_id}"


# ------------------------------------------------------------------------------ Liveinfo


def _liveinfo_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _texts_to(gateway: FakeApi, phone: str) -> list[Recorded]:
    """The SMS the gateway was asked to send to ``phone`` (national form)."""
    return [c for c in gateway.to("/sms/send") if c.body["to"] == "+84" + phone[1:]]


def test_liveinfo_yes_conversation(channels: Channels) -> None:
    """A YES opens the conversation by SMS; its link continues it on the web page."""
    stack, gateway, phone = channels.stack, channels.gateway, PHONES["liveinfo"]
    request_id = f"li-e2e-{uuid.uuid4().hex[:12]}"
    body = json.dumps(
        {
            "request_id": request_id,
            "msisdn": "84" + phone[1:],
            "campaign": "sim4g-e2e",
            "answer": "YES",
            "answered_at": "2026-04-20T09:15:00+07:00",
        }
    ).encode()
    timestamp = str(int(time.time()))
    answer = _post_json(
        f"{stack.rasa_url}/webhooks/liveinfo/webhook",
        body,
        {
            "X-Liveinfo-Timestamp": timestamp,
            "X-Liveinfo-Signature": _liveinfo_signature(LIVEINFO_SECRET, timestamp, body),
        },
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "accepted"

    [sms] = wait_for("the SMS at the gateway", lambda: _texts_to(gateway, phone))
    assert sms.headers["Authorization"] == "Bearer sms-token"
    assert sms.body["reference"] == request_id
    assert "dia chi" in sms.body["text"].lower()  # SMS text is without diacritics

    # The customer opens the link: the page exchanges its token for the conversation.
    sender = open_link(stack, sms.body["text"])["session_id"]
    assert sender.startswith("liveinfo-")
    assert phone not in sender and phone[1:] not in sender
    with page_chat(stack, sender) as (send, replies):
        final, stored = converse(send, replies, stack, phone, after_link=True)

    assert len(_texts_to(gateway, phone)) == 1
    assert stored.reference in final
    assert stored.sender_id == sender
    # The Liveinfo Yes brought the customer: that is the channel recorded, though the
    # conversation ended on the page's socket.io (kept in the creation event).
    assert stored.channel == "liveinfo"
    assert stored.campaign == "sim4g-e2e"
    assert _service(stack).history(stored.reference)[0].reason == (
        "submitted via liveinfo, last message on socketio"
    )


def test_sms_invitation_link_conversation(channels: Channels) -> None:
    """`campaign send` texts a personal link; opening it starts the request with the
    number known; the chat on the page ends with one request of the campaign, channel
    sms, and every funnel step stamped on the target."""
    import subprocess
    import sys

    from sqlalchemy import insert, select

    from bot.campaign.schema import campaign_targets
    from bot.campaign.store import ensure_campaign
    from bot.text import fold

    stack, gateway, phone = channels.stack, channels.gateway, PHONES["sms"]
    campaign = "sim4g-sms-e2e"
    engine = create_store_engine(stack.env["DATABASE_URL"])
    cid = ensure_campaign(engine, campaign)
    with engine.begin() as conn:
        conn.execute(
            insert(campaign_targets).values(
                campaign_id=cid,
                phone_e164="+84" + phone[1:],
                imported_at=dt.datetime.now(dt.timezone.utc),
            )
        )
    command = ["campaign", "send", "--campaign", campaign, "--channel", "sms"]
    sent = subprocess.run(
        [sys.executable, "-m", "bot", *command, "--rate", "5/s", "--no-progress"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert sent.returncode == 0, sent.stderr
    assert "1 sent, 0 failed" in sent.stdout
    [sms] = _texts_to(gateway, phone)
    assert "9090" in sms.body["text"]
    assert phone[1:] not in sms.body["text"]

    opened = open_link(stack, sms.body["text"])
    sender = opened["session_id"]
    # The real bot started the request: its first reply asks for the address.
    first = "\n".join(m["text"] for m in opened["messages"])
    assert "dia chi" in fold(first), first
    with page_chat(stack, sender) as (send, replies):
        _, stored = converse(send, replies, stack, phone, after_link=True)
    assert (stored.channel, stored.campaign, stored.sender_id) == ("sms", campaign, sender)
    assert _service(stack).history(stored.reference)[0].reason == (
        "submitted via sms, last message on socketio"
    )
    with engine.connect() as conn:
        target = (
            conn.execute(select(campaign_targets).where(campaign_targets.c.campaign_id == cid))
            .one()
            ._mapping
        )
    engine.dispose()
    assert target["channel"] == "sms"
    for step in ("invited_at", "answered_at", "conversation_at", "address_at", "confirmed_at"):
        assert target[step] is not None, step
    assert target["request_id"] is not None
