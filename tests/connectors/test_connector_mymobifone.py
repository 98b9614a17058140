"""My MobiFone app channel: bearer token, namespaced sender, input channel set here."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.run import configure_app
from sanic import Sanic

from connectors.common import MemoryDeduplicator, TurnQueue
from connectors.mymobifone import MyMobiFoneInput

Sanic.test_mode = True
TOKEN = "app-backend-token-0123456789"


@contextlib.asynccontextmanager
async def _serve(channel, agent):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    app = configure_app([channel], enable_api=False, route="/webhooks/")
    app.ctx.agent = agent
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/mymobifone/webhook"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


@pytest.fixture
async def served(agent_factory):
    agent = agent_factory(
        reply={"text": "Bạn cần đổi SIM 4G?", "buttons": [{"title": "Có", "payload": "/affirm"}]}
    )
    channel = MyMobiFoneInput(TOKEN, deduplicator=MemoryDeduplicator())
    async with _serve(channel, agent) as url:
        yield url, agent


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_app_gets_the_turns_replies(http, served):
    url, agent = served
    body = {"sender": "u-12345", "message": "Tôi muốn đổi SIM 4G 📱", "input_channel": "facebook"}
    async with http.post(url, json=body, headers=auth()) as resp:
        assert resp.status == 200
        replies = await resp.json()
    assert replies == [
        {
            "recipient_id": "mymobifone:u-12345",
            "text": "Bạn cần đổi SIM 4G?",
            "buttons": [{"title": "Có", "payload": "/affirm"}],
        }
    ]
    message = agent.messages[0]
    assert message.input_channel == "mymobifone"  # not the body's "facebook"
    assert message.sender_id == "mymobifone:u-12345"
    assert message.metadata == {}


@pytest.mark.parametrize(
    "headers",
    [{}, auth("wrong-token-0123456789"), {"Authorization": TOKEN}, {"Authorization": "Basic x"}],
    ids=["none", "wrong", "no-scheme", "basic"],
)
async def test_without_the_token_it_is_403(http, served, headers):
    url, agent = served
    async with http.post(url, json={"sender": "u1", "message": "hi"}, headers=headers) as resp:
        assert resp.status == 403
    assert agent.messages == []


@pytest.mark.parametrize(
    "body",
    [
        b"{oops",
        json.dumps({"sender": "telegram:42", "message": "hi"}).encode(),
        json.dumps({"sender": "u1", "message": ""}).encode(),
        json.dumps({"sender": "u1"}).encode(),
        json.dumps(["u1", "hi"]).encode(),
    ],
    ids=["malformed", "foreign-sender", "empty", "no-message", "not-object"],
)
async def test_bad_bodies_are_400(http, served, body):
    url, agent = served
    headers = {**auth(), "Content-Type": "application/json"}
    async with http.post(url, data=body, headers=headers) as resp:
        assert resp.status == 400
    assert agent.messages == []


async def test_a_retried_message_id_runs_once(http, served):
    url, agent = served
    body = {"sender": "u1", "message": "xin chào", "message_id": "m-1"}
    async with http.post(url, json=body, headers=auth()) as first:
        assert len(await first.json()) == 1
    async with http.post(url, json=body, headers=auth()) as second:
        assert second.status == 200 and await second.json() == []
    assert len(agent.messages) == 1


def test_a_short_token_is_refused():
    with pytest.raises(ValueError):
        MyMobiFoneInput("short")


async def test_full_turn_queue_is_503_and_the_message_id_stays_free(http, agent_factory):
    gate = threading.Event()
    agent = agent_factory(gate=gate)
    channel = MyMobiFoneInput(
        TOKEN, deduplicator=MemoryDeduplicator(), turns=TurnQueue(capacity=1, workers=1)
    )
    async with _serve(channel, agent) as url:
        first = asyncio.ensure_future(
            http.post(url, json={"sender": "u1", "message": "một"}, headers=auth())
        )
        await agent.received.wait()  # the first turn holds the only place
        body = {"sender": "u2", "message": "hai", "message_id": "app-m2"}
        async with http.post(url, json=body, headers=auth()) as resp:
            assert (resp.status, resp.headers["Retry-After"]) == (503, "1")
        gate.set()
        async with await first as resp:
            assert resp.status == 200
        async with http.post(url, json=body, headers=auth()) as resp:  # the app's retry
            assert resp.status == 200
            assert (await resp.json())[0]["text"] == "Đã nhận: hai"
    assert [m.text for m in agent.messages] == ["một", "hai"]


async def test_a_timed_out_turn_leaves_its_message_id_free_for_the_retry(http, agent_factory):
    """Under load a turn can wait in the queue past ``turn_timeout``: it is cancelled
    before it runs and the app gets 504. Its retry with the same ``message_id`` must be
    processed, not answered ``[]`` as a duplicate of a message nobody handled."""
    turns = TurnQueue(capacity=5, workers=1)
    release = asyncio.Event()

    async def busy_turn(message) -> None:
        await release.wait()

    agent = agent_factory(reply={"text": "Bạn cần đổi SIM 4G?"})
    channel = MyMobiFoneInput(
        TOKEN, deduplicator=MemoryDeduplicator(), turn_timeout=0.3, turns=turns
    )
    body = {"sender": "u-9", "message": "đổi SIM", "message_id": "app-msg-9"}
    async with _serve(channel, agent) as url:
        occupying = turns.put(UserMessage("x", sender_id="other"), busy_turn)  # the worker
        async with http.post(url, json=body, headers=auth()) as resp:
            assert resp.status == 504
        release.set()
        await occupying
        async with http.post(url, json=body, headers=auth()) as resp:  # the app retries
            assert resp.status == 200
            assert resp.headers.get("X-Duplicate") is None
            assert await resp.json() == [
                {"recipient_id": "mymobifone:u-9", "text": "Bạn cần đổi SIM 4G?"}
            ]
    assert [m.text for m in agent.messages] == ["đổi SIM"]
