"""The web request page's channel on the real Sanic app: page, form, link, socket.io.

The form goes through the real ``bot.phone``, ``bot.address`` and ``bot.requests`` on a
temporary SQLite store; the chat is driven with python-socketio's own client speaking
Rasa's protocol to :class:`WebChatSocketIOInput`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import socket

import pytest
import socketio
from rasa.core.run import configure_app
from sanic import Sanic

import bot.requests.service as request_service
from bot import outreach
from bot.requests import get_service
from connectors.webchat import WebChatInput, WebChatSocketIOInput, csrf_token, load_texts

Sanic.test_mode = True
LINK_SECRET = "link-secret"
TEXTS = load_texts()


@contextlib.asynccontextmanager
async def serve_page(agent, started: list | None = None):
    """The page's channel and the socket.io channel, as ``rasa run`` would mount them;
    ``started`` receives Sanic's server, for a test that runs the stop sequence itself."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    channels = [WebChatInput(link_secret=LINK_SECRET), WebChatSocketIOInput()]
    app = configure_app(channels, enable_api=False, route="/webhooks/")
    app.ctx.agent = agent
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    if started is not None:
        started.append(server)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


@pytest.fixture(autouse=True)
def _own_database(tmp_path, monkeypatch):
    """The page looks invitations up in the request store: a temporary one per test."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'requests.db'}")


@pytest.fixture
def store(tmp_path, monkeypatch):
    """``get_service()`` on a fresh SQLite store for this test."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'requests.db'}")
    monkeypatch.setattr(request_service, "_service", None)
    monkeypatch.setattr(request_service, "_engine", None)
    return get_service


@pytest.fixture
async def site(agent_factory):
    agent = agent_factory(
        reply={"text": "Bạn muốn đổi SIM?", "buttons": [{"title": "Có", "payload": "/affirm"}]}
    )
    async with serve_page(agent) as url:
        yield url, agent


def headers(url: str, **extra: str) -> dict[str, str]:
    return {
        "Origin": url,
        "Content-Type": "application/json",
        "X-CSRF-Token": csrf_token(LINK_SECRET),
        **extra,
    }


FORM = {
    "request_type": "sim_swap",
    "phone": "090 123 4567",
    "address": "12/3 Lê Văn Sỹ, Phường 13, Quận 3, TP Hồ Chí Minh",
    "name": "Nguyễn Văn An",
    "session_id": "0123456789abcdef0123456789abcdef",
}


async def test_page_is_served_with_its_assets_and_no_cdn(http, site):
    url, _ = site
    async with http.get(f"{url}/webhooks/webchat/") as resp:
        assert resp.status == 200
        html = await resp.text()
        csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert TEXTS["heading"] in html
    assert 'lang="vi"' in html and 'name="viewport"' in html
    assert "Thành phố Hồ Chí Minh" in html  # province fallback select
    assert "http://" not in html.replace(url, "") and "https://" not in html
    for asset in ("socket.io.min.js", "app.js", "style.css"):
        async with http.get(f"{url}/webhooks/webchat/static/{asset}") as resp:
            assert resp.status == 200, asset
            body = await resp.text()
    async with http.get(f"{url}/webhooks/webchat/static/socket.io.min.js") as resp:
        assert "Socket.IO v4" in (await resp.text())[:200]  # licence header kept
    assert body


async def test_form_stores_a_routed_request_once(http, site, store):
    url, _ = site
    async with http.post(
        f"{url}/webhooks/webchat/request", json=FORM, headers=headers(url)
    ) as resp:
        assert resp.status == 201
        first = await resp.json()
    assert first["created"] is True
    assert first["reference"] in first["message"]
    stored = store().get(first["reference"])
    assert stored.channel == "webform"
    assert stored.phone == "+84901234567"
    assert stored.province_code == "79"
    assert stored.sender_id == FORM["session_id"]
    assert stored.contact_name == "Nguyễn Văn An"

    async with http.post(
        f"{url}/webhooks/webchat/request",
        json={**FORM, "phone": "0901234567"},
        headers=headers(url),
    ) as resp:
        assert resp.status == 200
        again = await resp.json()
    assert again == {
        "reference": first["reference"],
        "created": False,
        "message": TEXTS["result_existing"].format(reference=first["reference"]),
    }


async def test_bad_fields_are_400_with_one_message_per_field(http, site, store):
    url, _ = site
    bad = {"request_type": "lottery", "phone": "12345", "address": "", "name": "x" * 101}
    async with http.post(f"{url}/webhooks/webchat/request", json=bad, headers=headers(url)) as r:
        assert r.status == 400
        body = await r.json()
    assert body["errors"] == {
        "request_type": TEXTS["error_request_type"],
        "phone": TEXTS["error_phone_invalid"],
        "address": TEXTS["error_address_missing"],
        "name": TEXTS["error_name_too_long"],
    }
    assert store().count() == 0


async def test_unresolved_address_asks_for_the_province(http, site, store):
    url, _ = site
    vague = {**FORM, "address": "Thôn 3, xã Tân Lập"}  # a commune name in many provinces
    async with http.post(f"{url}/webhooks/webchat/request", json=vague, headers=headers(url)) as r:
        assert r.status == 400
        body = await r.json()
    assert body["need_province"] is True
    assert body["errors"] == {"address": TEXTS["error_address_unresolved"]}

    async with http.post(
        f"{url}/webhooks/webchat/request", json={**vague, "province": "01"}, headers=headers(url)
    ) as r:
        assert r.status == 201
        reference = (await r.json())["reference"]
    assert store().get(reference).province_code == "01"

    async with http.post(
        f"{url}/webhooks/webchat/request", json={**vague, "province": "00"}, headers=headers(url)
    ) as r:
        assert r.status == 400
        assert (await r.json())["errors"] == {"province": TEXTS["error_province_invalid"]}


@pytest.mark.parametrize(
    "override",
    [
        {"Origin": "https://evil.example"},
        {"Origin": ""},
        {"X-CSRF-Token": ""},
        {"X-CSRF-Token": "1700000000.00000000000000000000000000000000"},
        {"X-CSRF-Token": csrf_token(LINK_SECRET, now=0)},  # expired
        {"X-CSRF-Token": csrf_token("another-secret")},
    ],
    ids=["foreign-origin", "no-origin", "no-token", "forged-token", "old-token", "other-key"],
)
async def test_cross_site_posts_are_refused(http, site, store, override):
    url, _ = site
    sent = {k: v for k, v in {**headers(url), **override}.items() if v}
    async with http.post(f"{url}/webhooks/webchat/request", json=FORM, headers=sent) as r:
        assert r.status == 403
    assert store().count() == 0


async def test_a_plain_html_form_post_is_refused(http, site, store):
    url, _ = site
    sent = {**headers(url), "Content-Type": "application/x-www-form-urlencoded"}
    async with http.post(
        f"{url}/webhooks/webchat/request", data="phone=0901234567", headers=sent
    ) as r:
        assert r.status == 415
    async with http.post(
        f"{url}/webhooks/webchat/request", data=b"{not json", headers=headers(url)
    ) as r:
        assert r.status == 400
    assert store().count() == 0


async def test_link_token_opens_its_conversation(http, site):
    url, _ = site
    sender = outreach.sender_id_for(LINK_SECRET, "+84901234567")
    good = outreach.sign_link(LINK_SECRET, sender)
    expired = outreach.sign_link(LINK_SECRET, sender, ttl=-1)
    forged = outreach.sign_link("someone-else", sender)
    answers = {}
    for name, token in {"good": good, "expired": expired, "forged": forged, "junk": "x"}.items():
        async with http.post(
            f"{url}/webhooks/webchat/link", json={"token": token}, headers=headers(url)
        ) as r:
            assert r.status == 200
            answers[name] = await r.json()
    assert answers["good"] == {"status": "ok", "session_id": sender}
    assert answers["expired"] == {"status": "expired", "message": TEXTS["chat_link_expired"]}
    assert answers["forged"]["status"] == answers["junk"]["status"] == "invalid"


async def _client(url: str, session_id: str | None):
    client = socketio.AsyncClient(reconnection=False)
    uttered: asyncio.Queue = asyncio.Queue()
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    client.on("bot_uttered", uttered.put_nowait)
    client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
    await client.connect(
        url, socketio_path="/socket.io", transports=["polling"]
    )  # engineio+aiohttp 3.9: no WS client
    await client.emit("session_request", {"session_id": session_id})
    return client, await asyncio.wait_for(confirmed, 10), uttered


async def _close(client: socketio.AsyncClient) -> None:
    """Disconnect without waiting for the pending long-poll (python-engineio waits ~30 s)."""
    eio = client.eio
    await eio.disconnect(abort=True)
    tasks = [t for t in (eio.read_loop_task, eio.write_loop_task) if t is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if eio.http is not None and not eio.http.closed:
        await eio.http.close()


async def test_socketio_session_persists_and_replies_reach_the_page(site):
    url, agent = site
    client, session, uttered = await _client(url, None)
    try:
        assert len(session) == 32
        text = "Tôi muốn đổi SIM 4G 📱"
        await client.emit("user_uttered", {"message": text, "session_id": session})
        assert await asyncio.wait_for(uttered.get(), 10) == {
            "text": "Bạn muốn đổi SIM?",
            "quick_replies": [{"content_type": "text", "title": "Có", "payload": "/affirm"}],
        }
        message = agent.messages[0]
        assert (message.sender_id, message.input_channel) == (session, "socketio")
        assert message.text == "Tôi muốn đổi SIM 4G 📱"
    finally:
        await _close(client)
    # A reload: same session id from localStorage, same conversation, replies arrive.
    again, resumed, uttered_again = await _client(url, session)
    try:
        assert resumed == session
        await again.emit("user_uttered", {"message": "/affirm", "session_id": session})
        await asyncio.wait_for(uttered_again.get(), 10)
        assert agent.messages[-1].sender_id == session
    finally:
        await _close(again)


async def test_socketio_refuses_foreign_sender_ids(site):
    url, agent = site
    client, session, uttered = await _client(url, "telegram:123456")
    try:
        assert session != "telegram:123456" and len(session) == 32
        # A message naming another conversation is dropped, not delivered there.
        await client.emit("user_uttered", {"message": "hi", "session_id": "facebook:42"})
        await client.emit("user_uttered", {"message": "xin chào", "session_id": session})
        await asyncio.wait_for(uttered.get(), 10)
        # socket.io delivers a client's events in order: the first was dropped.
        assert [(m.sender_id, m.text) for m in agent.messages] == [(session, "xin chào")]
    finally:
        await _close(client)
    liveinfo_id = outreach.sender_id_for(LINK_SECRET, "+84901234567")
    client, session, _ = await _client(url, liveinfo_id)
    try:
        assert session == liveinfo_id  # what the SMS link's exchange hands the page
    finally:
        await _close(client)


# -- campaign invitations: the link starts the conversation, the form keeps the campaign --


def _invite(url: str, e164: str, campaign: str = "c1") -> str:
    """A target of ``campaign`` sent an SMS invitation (as ``campaign send`` records it)."""
    from sqlalchemy import insert

    from bot.campaign.schema import campaign_targets
    from bot.campaign.sender import Outcome, claim, record
    from bot.campaign.store import ensure_campaign
    from bot.requests.db import create_store_engine, migrate

    migrate(url)
    engine = create_store_engine(url)
    cid = ensure_campaign(engine, campaign)
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        conn.execute(
            insert(campaign_targets).values(campaign_id=cid, phone_e164=e164, imported_at=now)
        )
    items, _ = claim(
        engine,
        cid,
        campaign,
        "sms",
        after=0,
        size=5,
        link_key=lambda p: outreach.subscriber_key(LINK_SECRET, p),
    )
    record(engine, [Outcome(i, "sent", 1, now, gateway_ref="m1") for i in items], "sms")
    engine.dispose()
    return outreach.sign_link(LINK_SECRET, outreach.sender_id_for(LINK_SECRET, e164))


def _target(url: str, e164: str) -> dict:
    from sqlalchemy import create_engine, select

    from bot.campaign.schema import campaign_targets

    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            select(campaign_targets).where(campaign_targets.c.phone_e164 == e164)
        ).first()
    engine.dispose()
    return dict(row._mapping)


async def test_an_invitation_link_opens_the_subscribers_request_with_the_number_known(
    http, site, store
):
    url, agent = site
    db = os.environ["DATABASE_URL"]
    token = _invite(db, "+84901234567")
    sender = outreach.sender_id_for(LINK_SECRET, "+84901234567")
    async with http.post(
        f"{url}/webhooks/webchat/link", json={"token": token}, headers=headers(url)
    ) as r:
        assert r.status == 200
        first = await r.json()
    assert first["status"] == "ok" and first["session_id"] == sender
    # The bot's first replies come back with the session, for the page to show.
    assert first["messages"] == [
        {"text": "Bạn muốn đổi SIM?", "buttons": [{"title": "Có", "payload": "/affirm"}]}
    ]
    [message] = agent.messages
    assert message.sender_id == sender and message.input_channel == "webchat"
    intent, _, entities = message.text.partition("{")
    assert intent == "/request_sim_swap"
    assert json.loads("{" + entities) == {
        "phone_number": "0901234567",
        "campaign": "c1",
    }
    assert message.metadata["origin"] == {"channel": "sms", "campaign": "c1", "via": "link"}
    stamped = _target(db, "+84901234567")
    assert stamped["answered_at"] is not None and stamped["channel"] == "sms"

    # Opened again: the same conversation continues, nothing is started twice.
    async with http.post(
        f"{url}/webhooks/webchat/link", json={"token": token}, headers=headers(url)
    ) as r:
        again = await r.json()
    assert again == {"status": "ok", "session_id": sender}
    assert len(agent.messages) == 1


async def test_a_form_sent_from_an_invitation_keeps_its_campaign_and_channel(http, site, store):
    url, _ = site
    db = os.environ["DATABASE_URL"]
    _invite(db, "+84901234567")
    session = outreach.sender_id_for(LINK_SECRET, "+84901234567")
    async with http.post(
        f"{url}/webhooks/webchat/request",
        json={**FORM, "session_id": session},
        headers=headers(url),
    ) as resp:
        assert resp.status == 201
        created = await resp.json()
    stored = store().get(created["reference"])
    assert (stored.campaign, stored.channel, stored.sender_id) == ("c1", "sms", session)
    history = store().history(created["reference"])
    assert history[0].reason == "submitted via sms, last message on webform"
    stamped = _target(db, "+84901234567")
    assert stamped["address_at"] is not None and stamped["confirmed_at"] is not None


async def test_a_stopping_server_finishes_the_chat_turn_in_progress(agent_factory):
    """Stopping (Ctrl-C, a redeploy) waits for a socket.io turn already taken: the
    customer gets the reply instead of a message swallowed with the loop."""
    import threading

    gate = threading.Event()
    agent = agent_factory(gate=gate)
    started: list = []
    async with serve_page(agent, started) as url:
        client, session, uttered = await _client(url, None)
        try:
            await client.emit("user_uttered", {"message": "đổi sim", "session_id": session})
            await asyncio.wait_for(agent.received.wait(), 10)
            stopping = asyncio.create_task(started[0].before_stop())
            await asyncio.sleep(0.3)
            assert not stopping.done(), "the stop must wait for the turn in progress"
            gate.set()
            await asyncio.wait_for(stopping, 10)
            assert await asyncio.wait_for(uttered.get(), 10) == {"text": "Đã nhận: đổi sim"}
        finally:
            gate.set()
            await _close(client)
