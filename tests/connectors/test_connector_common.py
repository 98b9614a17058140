"""The shared connector pipeline: checks, dedupe, dispatch, HTTP client, text shaping."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import threading
import time
import uuid
from collections import defaultdict

import pytest
from aiohttp import web
from rasa.core.channels.channel import OutputChannel, UserMessage

from connectors.common import (
    Busy,
    MemoryDeduplicator,
    MessageDispatcher,
    Pipeline,
    PlatformClient,
    PlatformError,
    RedisDeduplicator,
    Rejected,
    TurnQueue,
    _retry_after,
    hmac_sha256_hex,
    offload_dialogue,
    parse_json,
    redact,
    signatures_match,
    split_text,
    truncate,
)


def test_signature_compare():
    digest = hmac_sha256_hex("khóa", b"body")
    assert signatures_match(digest, digest.upper(), hex_digest=True)
    assert not signatures_match(digest, digest.upper())
    assert not signatures_match(digest, None)
    assert not signatures_match(digest, "")
    assert not signatures_match("", "")
    assert not signatures_match(digest, "chữ ký")  # non-ASCII: False, not TypeError


def test_parse_json_rejects_with_400():
    assert parse_json('{"a": "Việt"}'.encode()) == {"a": "Việt"}
    for raw in (b"", b"{", b"\xff", b"[" * 100_000):
        with pytest.raises(Rejected) as info:
            parse_json(raw)
        assert info.value.status == 400


def test_redact_masks_phone_numbers_only():
    assert redact("gọi 0901234567 hoặc +84 90 123 4567") == "gọi 090****567 hoặc 849*****567"
    assert redact("mã yêu cầu 12345") == "mã yêu cầu 12345"


async def test_memory_dedupe_expires_and_is_bounded():
    now = [1000.0]
    dedupe = MemoryDeduplicator(ttl=10, max_size=3, clock=lambda: now[0])
    assert await dedupe.first_seen("a")
    assert not await dedupe.first_seen("a")
    now[0] += 11
    assert await dedupe.first_seen("a")  # expired
    for key in "bcd":
        assert await dedupe.first_seen(key)
    assert len(dedupe) == 3
    await dedupe.forget("d")
    assert await dedupe.first_seen("d")


@pytest.mark.redis
async def test_redis_dedupe_shared_between_replicas():
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"sim4g-test:{uuid.uuid4().hex}:"
    one, two = (
        RedisDeduplicator(url, ttl=60, prefix=prefix),
        RedisDeduplicator(url, ttl=60, prefix=prefix),
    )
    try:
        results = await asyncio.gather(*(d.first_seen("facebook:m_1") for d in (one, two) * 5))
        assert results.count(True) == 1
        assert 0 < await one._redis().ttl(prefix + "facebook:m_1") <= 60
    finally:
        await one._redis().delete(prefix + "facebook:m_1")
        await one.close()
        await two.close()


async def test_redis_unreachable_processes_rather_than_loses(caplog):
    dedupe = RedisDeduplicator("redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING):
        assert await dedupe.first_seen("x")
    assert "unavailable" in caplog.text
    await dedupe.close()


async def test_dispatcher_keeps_order_per_sender_and_logs_failures(caplog):
    seen: list[str] = []

    async def handle(message: UserMessage) -> None:
        if message.text == "slow":
            await asyncio.sleep(0.05)
        if message.text == "boom":
            raise RuntimeError("turn failed")
        seen.append(f"{message.sender_id}:{message.text}")

    dispatcher = MessageDispatcher("test", handle, turns=TurnQueue(capacity=10, workers=4))
    with caplog.at_level(logging.ERROR):
        for sender, text in [("a", "slow"), ("a", "boom"), ("a", "3"), ("b", "1")]:
            dispatcher.submit(
                UserMessage(text=text, sender_id=sender, message_id=f"{sender}{text}")
            )
        assert await dispatcher.drain(5)
    assert [s for s in seen if s.startswith("a:")] == ["a:slow", "a:3"]
    assert "b:1" in seen
    assert (dispatcher.handled, dispatcher.failed, dispatcher.pending) == (3, 1, 0)
    assert "turn failed sender=a message_id=aboom" in caplog.text


async def test_turn_queue_runs_few_at_once_and_one_per_sender_in_order():
    running: set[str] = set()
    peak = 0
    done: dict[str, list[int]] = defaultdict(list)

    async def handle(message: UserMessage) -> None:
        nonlocal peak
        assert message.sender_id not in running  # never two turns of one customer at once
        running.add(message.sender_id)
        peak = max(peak, len(running))
        await asyncio.sleep(0.001 * (int(message.text) % 4))
        done[message.sender_id].append(int(message.text))
        running.discard(message.sender_id)

    queue = TurnQueue(capacity=100, workers=3)
    dispatcher = MessageDispatcher("test", handle, turns=queue)
    for n in range(42):
        dispatcher.submit(UserMessage(text=str(n), sender_id=f"s{n % 6}", message_id=str(n)))
    assert queue.size == 42
    assert await dispatcher.drain(10)
    assert peak == 3
    assert all(texts == sorted(texts) and len(texts) == 7 for texts in done.values())
    assert (queue.size, queue.running, queue.done, dispatcher.handled) == (0, 0, 42, 42)


async def test_turn_queue_takes_senders_in_turn():
    order: list[str] = []

    async def handle(message: UserMessage) -> None:
        order.append(message.text)

    dispatcher = MessageDispatcher("test", handle, turns=TurnQueue(capacity=10, workers=1))
    for text in ("a1", "a2", "a3"):
        dispatcher.submit(UserMessage(text=text, sender_id="a"))
    dispatcher.submit(UserMessage(text="b1", sender_id="b"))
    assert await dispatcher.drain(5)
    assert order == ["a1", "b1", "a2", "a3"]  # a chatty customer does not hold the queue


async def test_full_queue_refuses_before_the_dedupe_key_is_taken():
    gate = asyncio.Event()
    handled: list[str] = []

    async def handle(message: UserMessage) -> None:
        await gate.wait()
        handled.append(message.text)

    dedupe = MemoryDeduplicator()
    pipeline = Pipeline(
        "test", handle, dedupe, turns=TurnQueue(capacity=2, workers=1), offload=False
    )

    def message(n: int) -> UserMessage:
        return UserMessage(text=str(n), sender_id=f"s{n}", message_id=f"m{n}")

    assert await pipeline.accept("m1", message(1))
    assert await pipeline.accept("m2", message(2))
    with pytest.raises(Busy) as refused:
        await pipeline.accept("m3", message(3))
    answer = refused.value.response()
    assert (answer.status, answer.headers["Retry-After"]) == (503, "1")
    with pytest.raises(Busy):  # a batch is all or nothing
        await pipeline.accept_all([("m4", message(4)), ("m5", message(5))])
    assert len(dedupe) == 2  # only the queued messages' keys were taken
    gate.set()
    assert await pipeline.dispatcher.drain(5)
    assert await pipeline.accept("m3", message(3))  # the platform's redelivery is processed
    assert not await pipeline.accept("m1", message(1))  # a queued one stays a duplicate
    assert await pipeline.dispatcher.drain(5)
    assert await pipeline.accept_all([("m4", message(4)), ("m5", message(5))]) == 2
    assert await pipeline.dispatcher.drain(5)
    assert handled == ["1", "2", "3", "4", "5"]
    assert (pipeline.busy, pipeline.duplicates, pipeline.dispatcher.turns.free) == (2, 1, 2)


async def test_a_batch_larger_than_the_queue_waits_for_an_empty_queue():
    queue = TurnQueue(capacity=3, workers=1)
    first = queue.reserve(1)
    with pytest.raises(Busy):
        queue.reserve(5)
    first.release()
    with queue.reserve(5):  # alone it fits, or Meta would redeliver it for ever
        assert queue.free == -2
        with pytest.raises(Busy):
            queue.reserve(1)
    assert queue.free == 3


class _ThreadRecordingOutput(OutputChannel):
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    @classmethod
    def name(cls) -> str:
        return "recording"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: object) -> None:
        self.sent.append((threading.get_ident(), text))


async def test_offloaded_turn_runs_on_the_dialogue_thread_and_replies_on_the_loop():
    seen: dict[str, object] = {}

    async def on_new_message(message: UserMessage) -> None:
        seen["thread"] = threading.get_ident()
        seen["channel"] = message.output_channel.name()
        await message.output_channel.send_response(message.sender_id, {"text": "Đã nhận"})

    output = _ThreadRecordingOutput()
    message = UserMessage("xin chào", output, "s1")
    await offload_dialogue(on_new_message, enabled=True)(message)
    assert seen == {"thread": seen["thread"], "channel": "recording"}
    assert seen["thread"] != threading.get_ident()
    assert output.sent == [(threading.get_ident(), "Đã nhận")]  # the platform client's loop
    assert message.output_channel is output  # the caller's message is left as it was


async def test_a_timed_out_offloaded_turn_is_cancelled_on_the_dialogue_thread():
    cancelled = threading.Event()

    async def on_new_message(message: UserMessage) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(
            offload_dialogue(on_new_message, enabled=True)(UserMessage("hi", sender_id="s")), 0.1
        )
    assert await asyncio.to_thread(cancelled.wait, 5)


def test_turn_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CHANNEL_TURN_QUEUE", "50")
    monkeypatch.setenv("CHANNEL_TURN_WORKERS", "2")
    queue = TurnQueue.from_env()
    assert (queue.capacity, queue.workers) == (50, 2)
    monkeypatch.setenv("CHANNEL_TURN_WORKERS", "0")
    with pytest.raises(ValueError, match="CHANNEL_TURN_WORKERS"):
        TurnQueue.from_env()
    monkeypatch.setenv("CHANNEL_TURN_THREAD", "peut-être")
    with pytest.raises(ValueError, match="CHANNEL_TURN_THREAD"):
        offload_dialogue(lambda message: asyncio.sleep(0))


def test_truncate_and_split():
    assert truncate("Thay SIM tại nhà miễn phí", 20) == "Thay SIM tại nhà…"
    assert truncate("Ngắn", 20) == "Ngắn"
    assert len(truncate("x" * 50, 20)) == 20
    text = "Câu một. " * 500
    chunks = split_text(text, 2000)
    assert all(len(c) <= 2000 for c in chunks)
    assert " ".join(chunks) == text.strip()
    assert split_text("a" * 4500, 2000) == ["a" * 2000, "a" * 2000, "a" * 500]
    assert split_text("   ", 10) == []


def test_retry_after_header_forms():
    assert _retry_after("3") == 3.0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (_retry_after(later) or 0) <= 31
    assert _retry_after("soon") is None
    assert _retry_after(None) is None


async def test_client_gives_up_with_platform_error(platform):
    platform.fail_next("POST /x", *[web.Response(status=503) for _ in range(3)])
    client = PlatformClient("t", max_attempts=3, base_delay=0.001)
    with pytest.raises(PlatformError) as info:
        await client.request("POST", platform.url + "/x", json_body={})
    assert info.value.status == 503
    assert len(platform.calls_to("POST /x")) == 3
    unreachable = PlatformClient("t", max_attempts=2, base_delay=0.001, timeout=1)
    with pytest.raises(PlatformError) as info:
        await unreachable.request("POST", "http://127.0.0.1:1/x")
    assert info.value.status == 0
    await client.close()
    await unreachable.close()


async def test_a_hang_up_after_the_key_is_taken_still_queues_the_message():
    """Sanic cancels the handler when the platform hangs up; if that lands between
    taking the message id and queueing, the id must not stay taken for nothing."""
    handled: list[str] = []

    async def handle(message: UserMessage) -> None:
        handled.append(message.text)

    class SlowAnswer(MemoryDeduplicator):
        """The store took the key; its answer is still on the way (a slow Redis)."""

        taken = asyncio.Event()
        answer = asyncio.Event()

        async def first_seen(self, key: str) -> bool:
            seen = await super().first_seen(key)
            self.taken.set()
            await self.answer.wait()
            return seen

    dedupe = SlowAnswer()
    pipeline = Pipeline("test", handle, dedupe, turns=TurnQueue(capacity=4), offload=False)
    message = UserMessage(text="đổi sim", sender_id="s1", message_id="m1")
    webhook = asyncio.create_task(pipeline.accept("m1", message))
    await asyncio.wait_for(dedupe.taken.wait(), 5)
    webhook.cancel()  # the platform hung up
    dedupe.answer.set()
    with pytest.raises(asyncio.CancelledError):
        await webhook
    await asyncio.sleep(0)
    assert await pipeline.dispatcher.drain(5)
    assert handled == ["đổi sim"]
    assert not await pipeline.accept("m1", message)  # the redelivery: a duplicate
    assert handled == ["đổi sim"]
