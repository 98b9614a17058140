"""The shared connector pipeline: checks, dedupe, dispatch, HTTP client, text shaping."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import time
import uuid

import pytest
from aiohttp import web
from rasa.core.channels.channel import UserMessage

from connectors.common import (
    MemoryDeduplicator,
    MessageDispatcher,
    PlatformClient,
    PlatformError,
    RedisDeduplicator,
    Rejected,
    _retry_after,
    hmac_sha256_hex,
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

    dispatcher = MessageDispatcher("test", handle, max_concurrency=4)
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
