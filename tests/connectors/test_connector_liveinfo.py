"""Liveinfo webhook contract (docs/liveinfo.md) on the real Sanic app.

Signed and unsigned, stale and fresh, malformed and duplicate answers; a YES becomes a
dialogue turn whose reply leaves as one SMS at a local fake gateway, with a link that
reopens the same conversation; a NO is stored so ``has_refused`` is true.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid

import pytest
from aiohttp import web
from rasa.core.run import configure_app
from sanic import Sanic

from bot import outreach
from connectors.common import MemoryDeduplicator, RedisDeduplicator
from connectors.liveinfo import LiveinfoInput, SmsOutput, sign

SECRET = "gateway-shared-secret"
LINK_SECRET = "link-secret"
TOKEN = "sms-token"
PAGE = "https://yeucauthaysim4g.example.vn/"


Sanic.test_mode = True


@contextlib.asynccontextmanager
async def _serve(channel, agent):
    """``configure_app([channel])`` on a socket bound to a free loopback port.

    (Sanic 21.12 reads ``port=0`` as "8000", so the port is chosen by binding first.)
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    app = configure_app([channel], enable_api=False, route="/webhooks/")
    app.ctx.agent = agent
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()

    class Served:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        stopping = server  # a test may start the stop sequence itself

    try:
        yield Served()
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


@pytest.fixture
def serve():
    return _serve


def answer(answer: str = "YES", **over: str) -> dict[str, str]:
    body = {
        "request_id": over.pop("request_id", uuid.uuid4().hex),
        "msisdn": "84901234567",
        "campaign": "sim4g-2020-04",
        "answer": answer,
        "answered_at": "2020-04-20T09:15:00+07:00",
    }
    body.update(over)
    return body


def signed(body: bytes, *, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    return {
        "Content-Type": "application/json",
        "X-Liveinfo-Timestamp": stamp,
        "X-Liveinfo-Signature": sign(secret, stamp, body),
    }


@pytest.fixture
def sms_gateway(platform):
    async def accept(call):
        return web.json_response({"id": uuid.uuid4().hex, "status": "queued"}, status=202)

    platform.routes["POST /sms/send"] = accept
    return platform


@pytest.fixture
def channel(tmp_path, sms_gateway):
    return LiveinfoInput(
        SECRET,
        f"{sms_gateway.url}/sms/send",
        TOKEN,
        page_url=PAGE,
        link_secret=LINK_SECRET,
        database_url=f"sqlite:///{tmp_path / 'requests.db'}",
        deduplicator=MemoryDeduplicator(),
    )


async def post(http, served, payload, headers=None, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
    async with http.post(
        f"{served.url}/webhooks/liveinfo/webhook",
        data=body,
        headers=headers if headers is not None else signed(body),
    ) as resp:
        return resp.status, await resp.json(), resp.headers


async def test_yes_opens_the_conversation_and_texts_a_link(
    http, serve, agent_factory, channel, sms_gateway
):
    agent = agent_factory(
        reply={"text": "Chào bạn! Vui lòng cho biết địa chỉ nhận SIM 4G.", "buttons": []}
    )
    async with serve(channel, agent) as served:
        payload = answer("YES")
        status, body, _ = await post(http, served, payload)
        assert status == 202 and body["status"] == "accepted"
        calls = await sms_gateway.wait_for("POST /sms/send", 1)
        await channel.idle()

    message = agent.messages[0]
    assert message.input_channel == "liveinfo"
    intent, _, entities = message.text.partition("{")
    assert intent == "/request_sim_swap"
    assert json.loads("{" + entities) == {"phone_number": "0901234567", "campaign": "sim4g-2020-04"}
    # The sender id is stable per subscriber and carries no phone number.
    assert message.sender_id == outreach.sender_id_for(LINK_SECRET, "+84901234567")
    assert "901234567" not in message.sender_id

    sms = calls[0]
    assert sms.headers["Authorization"] == f"Bearer {TOKEN}"
    sent = sms.json()
    assert sent["to"] == "+84901234567"
    assert sent["reference"] == payload["request_id"]
    assert sent["text"].startswith("Chao ban! Vui long cho biet dia chi nhan SIM 4G.")
    link = sent["text"].splitlines()[-1]
    assert link.startswith(PAGE + "#t=")
    assert "901234567" not in link
    assert outreach.verify_link(LINK_SECRET, link.split("#t=", 1)[1]) == message.sender_id
    store = outreach.OutreachStore.from_url(channel.database_url, migrate=False)
    assert store.count("YES", processed=True) == 1


async def test_no_is_recorded_and_never_reaches_the_dialogue(
    http, serve, agent_factory, channel, sms_gateway
):
    agent = agent_factory()
    async with serve(channel, agent) as served:
        status, _, _ = await post(http, served, answer("NO", msisdn="0901234567"))
        assert status == 202
        await channel.idle()
        store = channel.store
        assert store is not None
        assert store.has_refused("+84901234567", "sim4g-2020-04")
        assert outreach.has_refused("090 123 4567", "sim4g-2020-04", store=store)
        assert not store.has_refused("+84901234567", "another-campaign")
        assert not store.has_refused("+84907654321", "sim4g-2020-04")
    assert agent.messages == []
    assert sms_gateway.calls == []


async def test_a_retry_is_acknowledged_the_same_and_done_once(
    http, serve, agent_factory, channel, sms_gateway
):
    agent = agent_factory()
    async with serve(channel, agent) as served:
        payload = answer("YES")
        raw = json.dumps(payload).encode()
        first = await post(http, served, payload, raw=raw)
        second = await post(http, served, payload, raw=raw)
        assert first[0] == second[0] == 202
        assert second[1]["request_id"] == payload["request_id"]
        await sms_gateway.wait_for("POST /sms/send", 1)
        await channel.idle()
        # Even when the short-term dedupe has forgotten it (restart, other replica),
        # the stored answer keeps the retry from running twice.
        channel.deduplicator = MemoryDeduplicator()
        third = await post(http, served, payload, raw=raw)
        assert third[0] == 202
        await channel.idle()
    assert len(agent.messages) == 1
    assert len(sms_gateway.calls) == 1


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda b, h: (b, {**h, "X-Liveinfo-Signature": "sha256=" + "0" * 64}), 403),
        (lambda b, h: (b, {k: v for k, v in h.items() if k != "X-Liveinfo-Signature"}), 403),
        (lambda b, h: (b, signed(b, secret="wrong")), 403),
        (lambda b, h: (b, signed(b, ts=int(time.time()) - 301)), 403),
        (lambda b, h: (b, signed(b, ts=int(time.time()) + 301)), 403),
        (lambda b, h: (b, {**h, "X-Liveinfo-Timestamp": "yesterday"}), 403),
        (lambda b, h: (b + b" ", h), 403),  # body changed after signing
        (lambda b, h: (b"{not json", signed(b"{not json")), 400),
        (lambda b, h: (b"[]", signed(b"[]")), 400),
    ],
    ids=[
        "bad-sig",
        "no-sig",
        "wrong-secret",
        "stale",
        "future",
        "bad-ts",
        "tampered",
        "malformed",
        "not-object",
    ],
)
async def test_requests_that_are_not_the_gateways_are_refused(
    http, serve, agent_factory, channel, mutate, status
):
    agent = agent_factory()
    async with serve(channel, agent) as served:
        raw = json.dumps(answer("YES")).encode()
        raw, headers = mutate(raw, signed(raw))
        got, body, _ = await post(http, served, None, headers=headers, raw=raw)
        assert got == status, body
    assert agent.messages == []


@pytest.mark.parametrize(
    "payload",
    [
        answer("MAYBE"),
        answer("yes"),
        answer("YES", msisdn="12345"),
        answer("YES", answered_at="hôm qua"),
        answer("YES", request_id=""),
        answer("YES", campaign="bad campaign!"),
        {k: v for k, v in answer("YES").items() if k != "campaign"},
    ],
    ids=["maybe", "lowercase", "bad-msisdn", "bad-date", "no-id", "bad-campaign", "missing"],
)
async def test_other_answers_and_missing_fields_are_400(
    http, serve, agent_factory, channel, payload
):
    async with serve(channel, agent_factory()) as served:
        status, body, _ = await post(http, served, payload)
    assert status == 400
    assert "error" in body


async def test_a_full_queue_answers_503_and_the_retry_is_processed(
    http, serve, agent_factory, tmp_path, sms_gateway
):
    channel = LiveinfoInput(
        SECRET,
        f"{sms_gateway.url}/sms/send",
        TOKEN,
        page_url=PAGE,
        link_secret=LINK_SECRET,
        database_url=f"sqlite:///{tmp_path / 'requests.db'}",
        deduplicator=MemoryDeduplicator(),
        queue_size=1,
    )
    agent = agent_factory()
    async with serve(channel, agent) as served:
        await channel.start()
        assert channel._recorder is not None
        channel._recorder.cancel()  # nobody drains: the queue fills
        parked = asyncio.get_running_loop().create_task(asyncio.Event().wait())
        channel._recorder = parked
        first = answer("NO")
        second = answer("NO")
        assert (await post(http, served, first))[0] == 202
        status, _, headers = await post(http, served, second)
        assert status == 503
        assert headers["Retry-After"] == "1"
        # The gateway retries: the refused id was forgotten, so it is taken this time.
        parked.cancel()
        channel._recorder = asyncio.get_running_loop().create_task(channel._record_loop())
        await channel.idle()
        assert (await post(http, served, second))[0] == 202
        await channel.idle()
        assert channel.store is not None
        assert channel.store.count("NO", processed=True) == 2


async def test_sms_gateway_5xx_is_retried(http, serve, agent_factory, channel, sms_gateway):
    sms_gateway.fail_next("POST /sms/send", web.json_response({"error": "busy"}, status=503))
    async with serve(channel, agent_factory()) as served:
        await post(http, served, answer("YES"))
        await sms_gateway.wait_for("POST /sms/send", 2)
        await channel.idle()
        assert channel.store is not None
        assert channel.store.count("YES", processed=True) == 1


async def test_sms_text_places_the_link_where_cskh_put_it():
    out = SmsOutput()
    await out.send_text_message("x", "Mở [[link]] để nhập địa chỉ")
    await out.send_text_with_buttons("x", "Đồng ý?", [{"title": "Có", "payload": "/affirm"}])
    text = out.sms_text("https://p/#t=abc", ascii_only=False)
    assert text == "Mở https://p/#t=abc để nhập địa chỉ\nĐồng ý? (Có)"
    assert out.sms_text("L", ascii_only=True).startswith("Mo [[link]]".replace("[[link]]", "L"))


@pytest.mark.redis
async def test_redis_dedupe_across_replicas(http, serve, agent_factory, tmp_path, sms_gateway):
    import os

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"test-liveinfo-{uuid.uuid4().hex}:"
    db = f"sqlite:///{tmp_path / 'requests.db'}"

    def replica():
        return LiveinfoInput(
            SECRET,
            f"{sms_gateway.url}/sms/send",
            TOKEN,
            page_url=PAGE,
            link_secret=LINK_SECRET,
            database_url=db,
            deduplicator=RedisDeduplicator(url, ttl=60, prefix=prefix),
        )

    # `make test` starts Redis: a server that is down is a failure here, not a skip.
    await RedisDeduplicator(url, prefix=prefix)._redis().ping()
    one, two = replica(), replica()
    payload = answer("NO")
    async with serve(one, agent_factory()) as a, serve(two, agent_factory()) as b:
        first = await post(http, a, payload)
        second = await post(http, b, payload)
        await one.idle()
        await two.idle()
    assert first[1]["status"] == "accepted"
    assert second[1]["status"] == "duplicate"


@pytest.mark.postgres
async def test_answers_on_postgresql(http, serve, agent_factory, sms_gateway):
    """The table comes with the store's migrations on PostgreSQL too; a No sticks."""
    from tests_support.databases import temporary_postgres

    with temporary_postgres("liveinfo") as url:
        channel = LiveinfoInput(
            SECRET,
            f"{sms_gateway.url}/sms/send",
            TOKEN,
            page_url=PAGE,
            link_secret=LINK_SECRET,
            database_url=url,
            deduplicator=MemoryDeduplicator(),
        )
        agent = agent_factory()
        async with serve(channel, agent) as served:
            refusal = answer("NO")
            later = answer("YES", campaign="sim4g-2020-05")
            for payload in (refusal, later, refusal):
                assert (await post(http, served, payload))[0] == 202
            await sms_gateway.wait_for("POST /sms/send", 1)
            await channel.idle()
            store = channel.store
            assert store is not None
            assert store.has_refused("+84901234567", "sim4g-2020-04")
            assert not store.has_refused("+84901234567", "sim4g-2020-05")
            assert store.count() == 2
            assert store.count(processed=True) == 2
            store.engine.dispose()
        assert len(agent.messages) == 1


async def test_answers_stamp_the_campaign_funnel_and_the_yes_carries_its_origin(
    http, serve, agent_factory, channel, sms_gateway
):
    """Yes → answered (channel liveinfo), No → refused, on the campaign's targets."""
    import datetime as dt

    from sqlalchemy import insert, select

    from bot.campaign.schema import campaign_targets
    from bot.campaign.store import ensure_campaign
    from bot.requests.db import create_store_engine, migrate

    migrate(channel.database_url)
    engine = create_store_engine(channel.database_url)
    cid = ensure_campaign(engine, "sim4g-2020-04")
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        conn.execute(
            insert(campaign_targets),
            [
                {"campaign_id": cid, "phone_e164": p, "imported_at": now}
                for p in ("+84901234567", "+84907654321")
            ],
        )
    agent = agent_factory()
    async with serve(channel, agent) as served:
        await post(http, served, answer("YES"))
        await post(http, served, answer("NO", msisdn="0907654321"))
        await sms_gateway.wait_for("POST /sms/send", 1)
        await channel.idle()
    with engine.connect() as conn:
        rows = {
            r.phone_e164: r
            for r in conn.execute(
                select(
                    campaign_targets.c.phone_e164,
                    campaign_targets.c.answered_at,
                    campaign_targets.c.refused_at,
                    campaign_targets.c.channel,
                )
            )
        }
    engine.dispose()
    yes, no = rows["+84901234567"], rows["+84907654321"]
    assert yes.answered_at is not None and yes.refused_at is None and yes.channel == "liveinfo"
    assert no.refused_at is not None and no.answered_at is None
    [message] = agent.messages
    assert message.metadata["origin"] == {
        "channel": "liveinfo",
        "campaign": "sim4g-2020-04",
        "via": "liveinfo_yes",
    }


async def test_an_answer_during_the_stop_is_refused_not_left_in_the_queue(
    http, serve, agent_factory, channel, sms_gateway
):
    """The stop cancels the recorder, then waits for the follow-ups while the server
    still listens: an answer taken then stayed in the queue and was lost. It gets 503
    (the gateway retries) and its request id stays free."""
    gate = threading.Event()
    agent = agent_factory(gate=gate)
    async with serve(channel, agent) as served:
        assert (await post(http, served, answer("YES")))[0] == 202
        await asyncio.wait_for(agent.received.wait(), 5)
        stopping = asyncio.create_task(served.stopping.before_stop())
        await asyncio.sleep(0.1)
        late = answer("NO", msisdn="0907654321")
        status, _, headers = await post(http, served, late)
        gate.set()
        await asyncio.wait_for(stopping, 10)
        assert (status, headers.get("Retry-After")) == (503, "1")
        assert await channel.deduplicator.first_seen(f"liveinfo:{late['request_id']}")
