"""Contract tests for the Zalo OA connector against a local fake of the OA and OAuth APIs.

Payloads follow Zalo's OA webhook documentation (``app_id``, ``sender.id``,
``recipient.id``, ``event_name``, ``message.msg_id``/``text``, ``timestamp`` in
milliseconds as a string; ``follow`` carries ``follower.id``), signed with
``X-ZEvent-Signature: mac=<sha256(app_id + body + timestamp + OA secret key)>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import threading
import uuid

import pytest
from aiohttp import web

from connectors.common import MemoryDeduplicator, PlatformClient, TurnQueue
from connectors.zalo import (
    FileTokenBackend,
    RedisTokenBackend,
    TokenPair,
    ZaloInput,
    ZaloOutput,
    ZaloTokens,
)

APP_ID = "4321987654321"
OA_ID = "579745863508352884"
OA_SECRET = "oa-secret-khóa-bí-mật"
APP_SECRET = "app-secret-key"
SEND = "POST /v3.0/oa/message/cs"
REFRESH = "POST /v4/oa/access_token"


class FakeZalo:
    """Token rules of the real service: access tokens expire, refresh tokens work once."""

    def __init__(self, platform, access="at-0", refresh="rt-0"):
        self.platform = platform
        self.valid_access = {access}
        self.valid_refresh = {refresh}
        self.counter = itertools.count(1)
        platform.routes[SEND] = self.send
        platform.routes[REFRESH] = self.refresh

    async def send(self, call):
        if call.headers.get("access_token") not in self.valid_access:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        body = call.json()
        if not body.get("recipient", {}).get("user_id"):
            return web.json_response({"error": -201, "message": "Parameters are invalid"})
        return web.json_response(
            {
                "error": 0,
                "message": "Success",
                "data": {"message_id": uuid.uuid4().hex, "user_id": body["recipient"]["user_id"]},
            }
        )

    async def refresh(self, call):
        form = call.form()
        if call.headers.get("secret_key") != APP_SECRET or form.get("app_id") != APP_ID:
            return web.json_response({"error": -14001, "error_name": "Invalid app"})
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") not in self.valid_refresh
        ):
            return web.json_response(
                {"error": -14014, "error_name": "Invalid refresh token", "error_reason": ""}
            )
        self.valid_refresh.discard(form["refresh_token"])  # single use
        n = next(self.counter)
        self.valid_access = {f"at-{n}"}
        self.valid_refresh.add(f"rt-{n}")
        return web.json_response(
            {"access_token": f"at-{n}", "refresh_token": f"rt-{n}", "expires_in": "90000"}
        )

    def expire_access(self):
        self.valid_access = set()


def sign(body: bytes, timestamp: str, secret: str = OA_SECRET, prefix: str = "mac=") -> str:
    mac = hashlib.sha256(APP_ID.encode() + body + timestamp.encode() + secret.encode()).hexdigest()
    return prefix + mac


def text_event(user: str, msg_id: str, text: str, ts: str = "1712345678901") -> dict:
    return {
        "app_id": APP_ID,
        "user_id_by_app": "552177279252305",
        "event_name": "user_send_text",
        "timestamp": ts,
        "sender": {"id": user},
        "recipient": {"id": OA_ID},
        "message": {"msg_id": msg_id, "text": text},
    }


async def post(http, url, payload, signature=None):
    body = (
        payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    )
    headers = {"Content-Type": "application/json"}
    if signature is None:
        ts = str(payload.get("timestamp")) if isinstance(payload, dict) else ""
        signature = sign(body, ts)
    if signature:
        headers["X-ZEvent-Signature"] = signature
    async with http.post(f"{url}/webhooks/zalo/webhook", data=body, headers=headers) as r:
        return r.status, await r.text()


@pytest.fixture
def zalo(platform):
    return FakeZalo(platform)


def zalo_input(platform, tmp_path, **extra) -> ZaloInput:
    """The OA's channel pointed at the fake, tokens in ``tmp_path``, no Redis."""
    return ZaloInput(
        app_id=APP_ID,
        oa_secret_key=OA_SECRET,
        app_secret_key=APP_SECRET,
        access_token="at-0",
        refresh_token="rt-0",
        api_url=platform.url,
        oauth_url=platform.url,
        token_file=tmp_path / "zalo_tokens.json",
        redis_url="",
        deduplicator=MemoryDeduplicator(),
        **extra,
    )


@pytest.fixture
def channel(platform, zalo, tmp_path):
    return zalo_input(
        platform, tmp_path, client=PlatformClient("zalo", base_delay=0.01, max_delay=0.05)
    )


async def test_text_event_reaches_rasa_and_reply_reaches_zalo(
    channel, serve, agent_factory, http, platform
):
    agent = agent_factory()
    async with serve(channel, agent) as served:
        status, body = await post(
            http, served.url, text_event("8801", "msg-a1", "Chào shop 😊 đổi SIM 4G ở đâu?")
        )
        assert status == 200
        assert json.loads(body)["error"] == 0
        await served.drain()
    [message] = agent.messages
    assert (message.sender_id, message.text, message.input_channel) == (
        "zalo:8801",
        "Chào shop 😊 đổi SIM 4G ở đâu?",
        "zalo",
    )
    assert message.metadata["zalo"]["msg_id"] == "msg-a1"
    assert message.metadata["zalo"]["oa_id"] == OA_ID
    [call] = platform.calls_to(SEND)
    assert call.headers["access_token"] == "at-0"
    assert call.json() == {
        "recipient": {"user_id": "8801"},
        "message": {"text": "Đã nhận: Chào shop 😊 đổi SIM 4G ở đâu?"},
    }


@pytest.mark.parametrize("prefix", ["mac=", ""])
async def test_signature_with_or_without_mac_prefix(channel, serve, agent_factory, http, prefix):
    agent = agent_factory()
    payload = text_event("8802", f"msg-p{prefix}", "Alo")
    body = json.dumps(payload).encode()
    async with serve(channel, agent) as served:
        status, _ = await post(
            http, served.url, body, sign(body, payload["timestamp"], prefix=prefix)
        )
        await served.drain()
    assert status == 200
    assert len(agent.messages) == 1


async def test_bad_signatures_are_403_and_malformed_json_400(
    channel, serve, agent_factory, http, platform
):
    agent = agent_factory()
    payload = text_event("8803", "msg-bad", "Xin chào")
    body = json.dumps(payload).encode()
    async with serve(channel, agent) as served:
        for signature in (
            "",  # missing
            sign(body, payload["timestamp"], secret="other"),
            sign(body, "1712345678000"),  # signed for another timestamp
            "mac=" + hashlib.sha256(body).hexdigest(),
            "mac=chữ-ký-giả",
        ):
            assert (await post(http, served.url, body, signature))[0] == 403, signature
        assert (await post(http, served.url, b'{"event_name": "user_send_text", ', "mac=00"))[
            0
        ] == 400
        await served.drain()
    assert agent.messages == []
    assert platform.calls == []


async def test_follow_location_and_ignored_events(channel, serve, agent_factory, http):
    agent = agent_factory()
    follow = {
        "app_id": APP_ID,
        "oa_id": OA_ID,
        "user_id_by_app": "552177279252306",
        "event_name": "follow",
        "timestamp": "1712345670000",
        "source": "oa_profile",
        "follower": {"id": "8804"},
    }
    location = {
        "app_id": APP_ID,
        "event_name": "user_send_location",
        "timestamp": "1712345671000",
        "sender": {"id": "8805"},
        "recipient": {"id": OA_ID},
        "message": {
            "msg_id": "msg-loc",
            "attachments": [
                {
                    "type": "location",
                    "payload": {"coordinates": {"latitude": "10.7769", "longitude": "106.7009"}},
                }
            ],
        },
    }
    sticker = {
        "app_id": APP_ID,
        "event_name": "user_send_sticker",
        "timestamp": "1712345672000",
        "sender": {"id": "8806"},
        "recipient": {"id": OA_ID},
        "message": {
            "msg_id": "msg-st",
            "attachments": [{"type": "sticker", "payload": {"id": "1"}}],
        },
    }
    async with serve(channel, agent) as served:
        for payload in (follow, location, sticker):
            assert (await post(http, served.url, payload))[0] == 200
        await served.drain()
    got = {m.sender_id: m for m in agent.messages}
    assert set(got) == {"zalo:8804", "zalo:8805"}
    assert got["zalo:8804"].text == "/greet"
    assert got["zalo:8805"].metadata["location"] == {"lat": 10.7769, "long": 106.7009}


async def test_duplicate_msg_id_handled_once(channel, serve, agent_factory, http):
    agent = agent_factory()
    payload = text_event("8807", "msg-dup", "Phường Bến Nghé, Quận 1")
    async with serve(channel, agent) as served:
        for _ in range(4):  # Zalo retries when it thinks the webhook failed
            assert (await post(http, served.url, payload))[0] == 200
        await served.drain()
    assert [m.text for m in agent.messages] == ["Phường Bến Nghé, Quận 1"]


async def test_expired_token_refreshed_once_persisted_and_retried(
    channel, serve, agent_factory, http, platform, zalo, tmp_path
):
    zalo.expire_access()  # at-0 no longer valid: the API answers error -216
    agent = agent_factory()
    async with serve(channel, agent) as served:
        for i in range(3):
            await post(http, served.url, text_event(f"88{10 + i}", f"msg-t{i}", f"Tin {i}"))
        await served.drain()
    refreshes = platform.calls_to(REFRESH)
    assert len(refreshes) == 1  # three customers, one refresh
    assert refreshes[0].form() == {
        "refresh_token": "rt-0",
        "app_id": APP_ID,
        "grant_type": "refresh_token",
    }
    sends = platform.calls_to(SEND)
    delivered = [c for c in sends if c.headers["access_token"] == "at-1"]
    assert len(delivered) == 3
    stored = json.loads((tmp_path / "zalo_tokens.json").read_text())
    assert (stored["access_token"], stored["refresh_token"]) == ("at-1", "rt-1")
    assert oct(os.stat(tmp_path / "zalo_tokens.json").st_mode & 0o777) == "0o600"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".zalo_tokens.")]


async def test_persisted_pair_wins_over_configuration(platform, zalo, tmp_path):
    backend = FileTokenBackend(tmp_path / "t.json")
    await backend.save(TokenPair("at-0", "rt-0"))
    client = PlatformClient("zalo", base_delay=0.01)
    first = ZaloTokens(
        TokenPair("old", "old-rt"), backend, client, APP_ID, APP_SECRET, platform.url
    )
    assert (await first.current()).access_token == "at-0"
    await first.refresh("at-0")
    # a restart configured with the consumed refresh token reads the persisted pair
    again = ZaloTokens(TokenPair("at-0", "rt-0"), backend, client, APP_ID, APP_SECRET, platform.url)
    assert await again.access_token() == "at-1"
    await client.close()


async def test_rejected_refresh_token_is_logged_not_raised(
    channel, serve, agent_factory, http, platform, zalo
):
    zalo.expire_access()
    zalo.valid_refresh = set()
    agent = agent_factory()
    async with serve(channel, agent) as served:
        await post(http, served.url, text_event("8820", "msg-rr", "Còn ai không?"))
        await served.drain()
        dispatcher = served.channel.pipeline.dispatcher
    assert len(agent.messages) == 1
    assert dispatcher.failed == 0  # the turn completed; the failed send is logged
    assert len(platform.calls_to(REFRESH)) == 1


async def test_5xx_retried_and_zalo_error_not_retried(platform, zalo, tmp_path):
    client = PlatformClient("zalo", base_delay=0.01, max_delay=0.05)
    tokens = ZaloTokens(
        TokenPair("at-0", "rt-0"),
        FileTokenBackend(tmp_path / "t.json"),
        client,
        APP_ID,
        APP_SECRET,
        platform.url,
    )
    out = ZaloOutput(client, platform.url, tokens)
    platform.fail_next(
        SEND, web.Response(status=502), web.Response(status=503, headers={"Retry-After": "0"})
    )
    await out.send_text_message("zalo:8830", "Cảm ơn quý khách")
    assert len(platform.calls_to(SEND)) == 3
    assert out.failures == 0
    platform.fail_next(
        SEND, web.json_response({"error": -230, "message": "User has not interacted"})
    )
    await out.send_text_message("zalo:8831", "Xin chào")
    assert len(platform.calls_to(SEND)) == 4
    assert out.failures == 1
    await client.close()


async def test_buttons_become_template_buttons_and_text_is_split(platform, zalo, tmp_path):
    client = PlatformClient("zalo")
    tokens = ZaloTokens(
        TokenPair("at-0", "rt-0"),
        FileTokenBackend(tmp_path / "t.json"),
        client,
        APP_ID,
        APP_SECRET,
        platform.url,
    )
    out = ZaloOutput(client, platform.url, tokens)
    buttons = [{"title": f"Lựa chọn {i}", "payload": f"/chon{i}"} for i in range(7)]
    buttons.append({"title": "Trang yêu cầu", "url": "https://example.invalid/yeu-cau"})
    await out.send_response("zalo:8840", {"text": "Chọn một 🙏 " + "x" * 2100, "buttons": buttons})
    messages = [c.json()["message"] for c in platform.calls_to(SEND)]
    assert len(messages[0]["text"]) == 2000 and "attachment" not in messages[0]
    first_buttons = messages[1]["attachment"]["payload"]["buttons"]
    assert len(first_buttons) == 5
    assert first_buttons[0] == {"title": "Lựa chọn 0", "type": "oa.query.hide", "payload": "/chon0"}
    rest = messages[2]["attachment"]["payload"]["buttons"]
    assert rest[-1] == {
        "title": "Trang yêu cầu",
        "type": "oa.open.url",
        "payload": {"url": "https://example.invalid/yeu-cau"},
    }
    assert (
        sum(len(m.get("attachment", {}).get("payload", {}).get("buttons", [])) for m in messages)
        == 8
    )
    await client.close()


@pytest.mark.redis
async def test_two_replicas_share_one_refresh_through_redis(platform, zalo):
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    app_id = f"test-{uuid.uuid4().hex}"
    key = f"sim4g-test:zalo:tokens:{app_id}"
    zalo.platform.routes[REFRESH] = zalo.refresh
    replicas = []
    for _ in range(2):
        client = PlatformClient("zalo", base_delay=0.01)
        backend = RedisTokenBackend(url, key)
        replicas.append(
            ZaloTokens(TokenPair("at-0", "rt-0"), backend, client, APP_ID, APP_SECRET, platform.url)
        )
    try:
        results = await asyncio.gather(*(r.refresh("at-0") for r in replicas for _ in range(3)))
        assert {p.access_token for p in results} == {"at-1"}
        assert len(platform.calls_to(REFRESH)) == 1
        stored = json.loads(await replicas[0].backend._redis().get(key))
        assert stored["refresh_token"] == "rt-1"
    finally:
        await replicas[0].backend._redis().delete(key, key + ":lock")
        for r in replicas:
            await r.backend.close()
            await r.client.close()


async def test_full_turn_queue_answers_503_and_keeps_the_msg_id_free(
    platform, zalo, tmp_path, serve, agent_factory, http
):
    gate = threading.Event()
    agent = agent_factory(gate=gate)
    channel = zalo_input(platform, tmp_path, turns=TurnQueue(capacity=1, workers=1))
    async with serve(channel, agent) as served:
        assert (await post(http, served.url, text_event("8850", "msg-q1", "một")))[0] == 200
        status, body = await post(http, served.url, text_event("8851", "msg-q2", "hai"))
        assert status == 503 and json.loads(body)["error"] == "busy, retry later"
        gate.set()
        await served.drain()
        status, body = await post(http, served.url, text_event("8851", "msg-q2", "hai"))
        assert status == 200 and json.loads(body)["error"] == 0
        await served.drain()
    got = [(m.sender_id, m.text) for m in agent.messages]
    assert got == [("zalo:8850", "một"), ("zalo:8851", "hai")]
    assert len(platform.calls_to(SEND)) == 2
