"""Contract tests for the Messenger connector against a local fake Graph API.

Payloads follow Meta's Messenger Platform webhook reference (``object: page``,
``entry[].messaging[]`` with ``sender``/``recipient``/``timestamp`` and ``message``,
``postback``, ``delivery``, ``read``), signed with ``X-Hub-Signature-256``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading

import pytest
from aiohttp import web

from connectors.common import MemoryDeduplicator, PlatformClient, TurnQueue
from connectors.facebook import FacebookInput, listed_in_full, quick_replies_from

SECRET = "app-secret-ví-dụ"
VERIFY = "verify-token-123"
TOKEN = "EAAG-page-token"
PAGE_ID = "106123456789012"
SEND = "POST /v21.0/me/messages"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def text_event(psid: str, mid: str, text: str, ts: int = 1712345678901) -> dict:
    return {
        "sender": {"id": psid},
        "recipient": {"id": PAGE_ID},
        "timestamp": ts,
        "message": {"mid": mid, "text": text},
    }


def envelope(*entries: list[dict]) -> dict:
    return {
        "object": "page",
        "entry": [
            {"id": PAGE_ID, "time": 1712345678999 + i, "messaging": events}
            for i, events in enumerate(entries)
        ],
    }


@pytest.fixture
async def graph(platform):
    async def send(call):
        assert call.headers.get("Authorization") == f"Bearer {TOKEN}"
        assert "access_token" not in call.query
        n = len(platform.calls_to(SEND))
        return web.json_response(
            {"recipient_id": call.json()["recipient"]["id"], "message_id": f"m_out{n}"}
        )

    platform.routes[SEND] = send
    return platform


def facebook_input(graph, **extra) -> FacebookInput:
    """The page's channel pointed at the fake Graph API, retrying fast."""
    return FacebookInput(
        verify_token=VERIFY,
        app_secret=SECRET,
        page_access_token=TOKEN,
        graph_url=graph.url,
        deduplicator=MemoryDeduplicator(),
        client=PlatformClient("facebook", base_delay=0.01, max_delay=0.05),
        **extra,
    )


@pytest.fixture
def channel(graph):
    return facebook_input(graph)


async def post(http, url, payload, signature=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    sig = sign(body) if signature is None else signature
    if sig:
        headers["X-Hub-Signature-256"] = sig
    async with http.post(f"{url}/webhooks/facebook/webhook", data=body, headers=headers) as r:
        return r.status, await r.text()


async def test_verification_handshake(channel, serve, agent_factory, http):
    async with serve(channel, agent_factory()) as served:
        hook = f"{served.url}/webhooks/facebook/webhook"
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY,
            "hub.challenge": "1158201444",
        }
        async with http.get(hook, params=params) as r:
            assert (r.status, await r.text()) == (200, "1158201444")
        async with http.get(hook, params={**params, "hub.verify_token": "sai"}) as r:
            assert r.status == 403
        async with http.get(hook, params={**params, "hub.mode": "unsubscribe"}) as r:
            assert r.status == 403
        async with http.get(f"{served.url}/webhooks/facebook/") as r:
            assert r.status == 200


async def test_batch_every_entry_and_event_replies_at_fake(
    channel, serve, agent_factory, http, graph
):
    agent = agent_factory()
    payload = envelope(
        [
            text_event("2001", "m_a1", "Xin chào 👋 tôi muốn đổi SIM 4G"),
            {  # delivery and read receipts are not user messages
                "sender": {"id": "2001"},
                "recipient": {"id": PAGE_ID},
                "delivery": {"mids": ["m_out0"], "watermark": 1712345678000},
            },
            {
                "sender": {"id": "2001"},
                "recipient": {"id": PAGE_ID},
                "timestamp": 1712345679000,
                "read": {"watermark": 1712345678000},
            },
            {  # the page's own message echoed back
                "sender": {"id": PAGE_ID},
                "recipient": {"id": "2001"},
                "timestamp": 1712345679100,
                "message": {"mid": "m_echo", "is_echo": True, "app_id": 1517, "text": "Chào bạn"},
            },
        ],
        [
            text_event("2002", "m_b1", "Số của tôi là 0901234567"),
            {
                "sender": {"id": "2002"},
                "recipient": {"id": PAGE_ID},
                "timestamp": 1712345680000,
                "message": {
                    "mid": "m_b2",
                    "text": "Đồng ý",
                    "quick_reply": {"payload": "/affirm"},
                },
            },
            {
                "sender": {"id": "2003"},
                "recipient": {"id": PAGE_ID},
                "timestamp": 1712345681000,
                "postback": {"title": "Bắt đầu", "payload": "/greet", "mid": "m_c1"},
            },
        ],
    )
    async with serve(channel, agent) as served:
        status, text = await post(http, served.url, payload)
        assert (status, text) == (200, "EVENT_RECEIVED")
        await served.drain()
        calls = await graph.wait_for(SEND, 4)
    got = [(m.sender_id, m.text, m.input_channel) for m in agent.messages]
    # different customers run concurrently; one customer's messages keep their order
    assert sorted(got) == sorted(
        [
            ("facebook:2001", "Xin chào 👋 tôi muốn đổi SIM 4G", "facebook"),
            ("facebook:2002", "Số của tôi là 0901234567", "facebook"),
            ("facebook:2002", "/affirm", "facebook"),  # quick reply: the payload, not the title
            ("facebook:2003", "/greet", "facebook"),
        ]
    )
    assert [t for s, t, _ in got if s == "facebook:2002"] == ["Số của tôi là 0901234567", "/affirm"]
    first = next(m for m in agent.messages if m.sender_id == "facebook:2001")
    assert first.metadata["facebook"]["psid"] == "2001"
    assert first.metadata["facebook"]["page_id"] == PAGE_ID
    assert first.message_id == "m_a1"
    bodies = [c.json() for c in calls]
    assert {b["recipient"]["id"] for b in bodies} == {"2001", "2002", "2003"}
    assert all(b["messaging_type"] == "RESPONSE" for b in bodies)
    assert {"text": "Đã nhận: Xin chào 👋 tôi muốn đổi SIM 4G"} in [b["message"] for b in bodies]
    # replies to one customer keep the order of the customer's messages
    to_2002 = [b["message"]["text"] for b in bodies if b["recipient"]["id"] == "2002"]
    assert to_2002 == ["Đã nhận: Số của tôi là 0901234567", "Đã nhận: /affirm"]


async def test_location_attachment_becomes_metadata(channel, serve, agent_factory, http):
    agent = agent_factory()
    event = {
        "sender": {"id": "2010"},
        "recipient": {"id": PAGE_ID},
        "timestamp": 1712345690000,
        "message": {
            "mid": "m_loc",
            "attachments": [
                {
                    "type": "location",
                    "title": "Vị trí của Lan",
                    "payload": {"coordinates": {"lat": 21.0285, "long": 105.8542}},
                }
            ],
        },
    }
    async with serve(channel, agent) as served:
        assert (await post(http, served.url, envelope([event])))[0] == 200
        await served.drain()
    assert len(agent.messages) == 1
    assert agent.messages[0].metadata["location"] == {"lat": 21.0285, "long": 105.8542}


@pytest.mark.parametrize(
    "signature",
    [
        "",  # missing
        "sha256=" + "0" * 64,
        "sha1=" + hmac.new(SECRET.encode(), b"x", hashlib.sha1).hexdigest(),
        "sha256=ĐÂY-KHÔNG-PHẢI-HEX",  # non-ASCII must be 403, not 500
    ],
)
async def test_bad_or_missing_signature_is_403(
    channel, serve, agent_factory, http, graph, signature
):
    agent = agent_factory()
    async with serve(channel, agent) as served:
        status, _ = await post(http, served.url, envelope([text_event("1", "m1", "hi")]), signature)
        await served.drain()
    assert status == 403
    assert agent.messages == []
    assert graph.calls == []


async def test_signature_from_another_secret_is_403(channel, serve, agent_factory, http):
    body = json.dumps(envelope([text_event("1", "m1", "hi")])).encode()
    async with serve(channel, agent_factory()) as served:
        status, _ = await post(http, served.url, body, sign(body, "other-secret"))
    assert status == 403


async def test_malformed_json_signed_is_400(channel, serve, agent_factory, http):
    for body in (b'{"object": "page", "entry": [', b"\xff\xfe", b"[1, 2]"):
        async with serve(channel, agent_factory()) as served:
            status, _ = await post(http, served.url, body)
        assert status == 400, body


async def test_signed_events_of_odd_shapes_are_ignored_and_the_rest_processed(
    channel, serve, agent_factory, http
):
    """Fields of the wrong type never give a 500 (Meta would redeliver forever)."""
    odd = [
        {"sender": "2021", "message": {"mid": "m_o1", "text": "x"}},
        {"sender": {"id": "2021"}, "recipient": 5, "message": {"mid": "m_o2", "text": 7}},
        {"sender": {"id": "2021"}, "message": {"mid": "m_o3", "quick_reply": ["a"], "text": "y"}},
        {"sender": {"id": "2021"}, "message": {"mid": "m_o4", "attachments": 3}},
        {
            "sender": {"id": "2021"},
            "message": {"mid": "m_o5", "attachments": [{"type": "location", "payload": [1]}]},
        },
        {"sender": {"id": "2021"}, "postback": {"payload": {"a": 1}, "title": 2}},
        {"sender": ["2021"], "postback": {"payload": "/greet"}},
    ]
    payload = envelope(odd, [text_event("2021", "m_ok", "Đổi sim 4G")])
    payload["entry"].append({"id": PAGE_ID, "messaging": 12})
    agent = agent_factory()
    async with serve(channel, agent) as served:
        status, _ = await post(http, served.url, payload)
        await served.drain()
    assert status == 200
    assert [m.text for m in agent.messages] == ["y", "Đổi sim 4G"]


async def test_duplicates_and_retries_give_one_user_message(
    channel, serve, agent_factory, http, graph
):
    agent = agent_factory()
    payload = envelope([text_event("2020", "m_dup", "Tôi ở Hà Nội 🏙️")])
    async with serve(channel, agent) as served:
        for _ in range(3):  # Meta retries the same delivery
            assert (await post(http, served.url, payload))[0] == 200
        # and a batch carrying the same mid twice
        twice = envelope(
            [text_event("2020", "m_dup2", "Lần 2")], [text_event("2020", "m_dup2", "Lần 2")]
        )
        assert (await post(http, served.url, twice))[0] == 200
        await served.drain()
    assert [m.text for m in agent.messages] == ["Tôi ở Hà Nội 🏙️", "Lần 2"]
    assert channel.pipeline.duplicates == 3


async def test_send_retries_5xx_and_429_with_retry_after(
    channel, serve, agent_factory, http, graph
):
    graph.fail_next(
        SEND,
        web.json_response({"error": {"message": "boom", "code": 2}}, status=500),
        web.json_response(
            {"error": {"message": "slow down", "code": 613}},
            status=429,
            headers={"Retry-After": "0"},
        ),
    )
    agent = agent_factory()
    async with serve(channel, agent) as served:
        await post(http, served.url, envelope([text_event("2030", "m_r", "Thử lại nhé")]))
        await served.drain()
    calls = graph.calls_to(SEND)
    assert len(calls) == 3  # 500, 429, then 200
    assert calls[0].body == calls[2].body
    assert channel.client.retries == 2


async def test_permanent_4xx_is_not_retried_and_does_not_break_the_turn(
    channel, serve, agent_factory, http, graph
):
    graph.fail_next(
        SEND,
        web.json_response({"error": {"message": "No matching user", "code": 100}}, status=400),
    )
    agent = agent_factory()
    async with serve(channel, agent) as served:
        await post(http, served.url, envelope([text_event("2040", "m_4xx", "alo")]))
        await served.drain()
    assert len(graph.calls_to(SEND)) == 1
    assert served.channel.pipeline.dispatcher.failed == 0


async def test_buttons_become_quick_replies_and_long_text_is_split(
    channel, serve, agent_factory, http, graph
):
    long_text = ("Quý khách vui lòng cho biết địa chỉ nhận SIM. " * 60).strip()
    buttons = [
        {"title": f"Phường Hoàn Kiếm số {i} thành phố Hà Nội", "payload": f'/chon{{"i":{i}}}'}
        for i in range(15)
    ]
    agent = agent_factory(reply={"text": long_text, "buttons": buttons})
    async with serve(channel, agent) as served:
        await post(http, served.url, envelope([text_event("2050", "m_btn", "nút")]))
        await served.drain()
    messages = [c.json()["message"] for c in graph.calls_to(SEND)]
    assert len(messages) == 2
    assert all(len(m["text"]) <= 2000 for m in messages)
    assert " ".join(m["text"] for m in messages) == long_text
    assert "quick_replies" not in messages[0]
    replies = messages[1]["quick_replies"]
    assert len(replies) == 13
    assert all(len(r["title"]) <= 20 and r["content_type"] == "text" for r in replies)
    assert replies[0]["title"].endswith("…")
    assert replies[3]["payload"] == '/chon{"i":3}'


def test_quick_reply_titles_cut_on_word_boundary():
    replies = quick_replies_from([{"title": "Thay SIM tại nhà miễn phí", "payload": "/a"}])
    assert replies[0]["title"] == "Thay SIM tại nhà…"
    assert quick_replies_from([{"title": "Có", "payload": "/affirm"}])[0]["title"] == "Có"


def test_address_question_titles_drop_the_part_they_share():
    # Cut at 20 characters, the part that tells the buttons apart would be lost: the ward
    # question's all end in their province, the province question's may all start with
    # the ward typed. The payload stays the whole label.
    labels = ["Phường Mỹ Phước Tây, Tỉnh Đồng Tháp", "Phường Cao Lãnh, Tỉnh Đồng Tháp"]
    replies = quick_replies_from([{"title": label, "payload": label} for label in labels])
    assert [r["title"] for r in replies] == ["Phường Mỹ Phước Tây", "Phường Cao Lãnh"]
    assert [r["payload"] for r in replies] == labels
    labels = ["Phường 1, Tỉnh Đồng Tháp", "Phường 1, Thành phố Hồ Chí Minh"]
    replies = quick_replies_from([{"title": label, "payload": label} for label in labels])
    assert [r["title"] for r in replies] == ["Tỉnh Đồng Tháp", "Thành phố Hồ Chí…"]
    # Nothing shared, or titles that fit: as they were.
    mixed = ["Xã Tân Hòa, Tỉnh Đồng Tháp", "Tỉnh Cà Mau"]
    replies = quick_replies_from([{"title": label, "payload": label} for label in mixed])
    assert [r["title"] for r in replies] == ["Xã Tân Hòa, Tỉnh…", "Tỉnh Cà Mau"]
    short = ["Có, Hà Nội", "Không, Hà Nội"]
    replies = quick_replies_from([{"title": label, "payload": label} for label in short])
    assert [r["title"] for r in replies] == short


def test_missing_credentials_refused():
    with pytest.raises(ValueError):
        FacebookInput(verify_token=VERIFY, app_secret="", page_access_token=TOKEN)


def queued_channel(graph, capacity: int, workers: int = 1) -> FacebookInput:
    return facebook_input(graph, turns=TurnQueue(capacity=capacity, workers=workers))


async def test_full_turn_queue_answers_503_and_metas_redelivery_is_processed(
    serve, agent_factory, http, graph
):
    gate = threading.Event()
    agent = agent_factory(gate=gate)
    channel = queued_channel(graph, capacity=2)
    first = envelope([text_event("3001", "m_q1", "một")])
    batch = envelope([text_event("3002", "m_q2", "hai")], [text_event("3003", "m_q3", "ba")])
    async with serve(channel, agent) as served:
        assert (await post(http, served.url, first))[0] == 200
        body = json.dumps(batch).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)}
        async with http.post(
            f"{served.url}/webhooks/facebook/webhook", data=body, headers=headers
        ) as refused:  # two events, one free slot: the whole batch is refused
            assert (refused.status, refused.headers["Retry-After"]) == (503, "1")
        gate.set()
        await served.drain()
        assert (await post(http, served.url, batch))[0] == 200  # the redelivery
        await served.drain()
        assert (await post(http, served.url, first))[0] == 200  # a late retry of the first
        await served.drain()
    assert [m.text for m in agent.messages] == ["một", "hai", "ba"]
    assert len(graph.calls_to(SEND)) == 3
    assert (channel.pipeline.busy, channel.pipeline.duplicates) == (1, 1)


async def test_burst_beyond_the_queue_loses_nothing_when_redelivered(
    serve, agent_factory, http, graph
):
    """12 customers × 4 messages at once against room for 6: every message once, in order."""
    agent = agent_factory(delay=0.05)
    channel = queued_channel(graph, capacity=6, workers=2)
    refused = 0

    async def customer(served_url: str, n: int) -> None:
        nonlocal refused
        for i in range(4):  # a customer's next message comes after the previous one's 200
            payload = envelope([text_event(f"40{n:02d}", f"m_b{n}_{i}", f"{n}:{i}")])
            while (status := (await post(http, served_url, payload))[0]) == 503:
                refused += 1
                await asyncio.sleep(0.05)  # Meta redelivers a failed delivery
            assert status == 200

    async with serve(channel, agent) as served:
        await asyncio.gather(*(customer(served.url, n) for n in range(12)))
        await served.drain()
    assert refused > 0 and channel.pipeline.busy == refused
    texts = [m.text for m in agent.messages]
    assert sorted(texts) == sorted(f"{n}:{i}" for n in range(12) for i in range(4))
    for n in range(12):
        assert [t for t in texts if t.startswith(f"{n}:")] == [f"{n}:{i}" for i in range(4)]
    assert len(graph.calls_to(SEND)) == 48


async def test_a_stopping_server_refuses_new_messages_and_finishes_the_accepted_ones(
    serve, agent_factory, http, graph
):
    """While the stop drains the queue the server still listens: a message taken then
    would be acknowledged after the drain was over and lost with the loop. It gets 503
    (Meta redelivers it to the restarted server); the accepted one is finished."""
    gate = threading.Event()
    agent = agent_factory(gate=gate)
    channel = queued_channel(graph, capacity=10)
    async with serve(channel, agent) as served:
        first = envelope([text_event("5001", "m_s1", "trước")])
        assert (await post(http, served.url, first))[0] == 200
        await asyncio.wait_for(agent.received.wait(), 5)
        stopping = asyncio.create_task(served.server.before_stop())  # drains for up to 30 s
        await asyncio.sleep(0.05)
        late = envelope([text_event("5002", "m_s2", "trong lúc dừng")])
        status, _ = await post(http, served.url, late)
        gate.set()
        await asyncio.wait_for(stopping, 10)
        assert status == 503
    assert [m.text for m in agent.messages] == ["trước"]
    assert len(graph.calls_to(SEND)) == 1


def test_choices_cut_at_twenty_characters_are_listed_in_full() -> None:
    # A ward question's buttons name the old city beside the new ward: too long for a
    # quick reply even without the province they share. The text lists them in full,
    # numbered; each reply starts with its number (the form takes a typed number); the
    # "Không rõ" button (an intent) is left as it is.
    labels = [
        "Phường Long Châu (TP Vĩnh Long), Tỉnh Vĩnh Long",
        "Phường Trà Vinh (TP Trà Vinh), Tỉnh Vĩnh Long",
    ]
    buttons = [{"title": label, "payload": label} for label in labels]
    buttons.append({"title": "Không rõ", "payload": "/skip"})
    text, listed = listed_in_full("Quý khách chọn giúp em ạ.", buttons)
    assert text == (
        "Quý khách chọn giúp em ạ.\n\n"
        "1. Phường Long Châu (TP Vĩnh Long)\n2. Phường Trà Vinh (TP Trà Vinh)"
    )
    replies = quick_replies_from(listed)
    assert [r["title"] for r in replies] == ["1. Phường Long…", "2. Phường Trà Vinh…", "Không rõ"]
    assert [r["payload"] for r in replies] == [*labels, "/skip"]
    # Titles that fit once their shared part is dropped: nothing listed.
    short = [
        {"title": f"{name}, Tỉnh Đồng Tháp", "payload": name} for name in ("Phường An", "Xã Bình")
    ]
    assert listed_in_full("?", short) == ("?", short)
