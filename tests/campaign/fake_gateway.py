"""A local stand-in for the operator's SMS and Liveinfo push gateways (docs/liveinfo.md).

Real HTTP on a free loopback port, speaking the documented contracts: bearer token
(SMS) or HMAC signature (Liveinfo), dedupe on the idempotency key (``reference`` /
``push_id``: a repeat answers 200 ``duplicate`` with the first message id and is not
delivered again), scripted failures per subscriber, and a "hang" that keeps a request
open after delivering it — the process is then killed mid-call.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests_support.loopback import LoopbackFake

SMS_PATH = "/sms/send"
PUSH_PATH = "/liveinfo/push"


@dataclass
class Call:
    at: float
    path: str
    key: str
    payload: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeGateway(LoopbackFake):
    token: str = "sms-token"
    secret: str = "push-secret"
    calls: list[Call] = field(default_factory=list)
    delivered: list[dict[str, Any]] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)
    # e164 → list of statuses to answer, one per call, before accepting (e.g. [503, 503]).
    script: dict[str, list[int]] = field(default_factory=dict)
    retry_after: str | None = None
    hang_after: int | None = None  # deliver this many, then hang on the next delivery
    port: int = 0
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _never: asyncio.Event = field(default_factory=asyncio.Event)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(SMS_PATH, self._sms)
        app.router.add_post(PUSH_PATH, self._push)

    async def close(self) -> None:
        self._never.set()  # release the hung deliveries first
        await super().close()

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{SMS_PATH}"

    @property
    def push_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PUSH_PATH}"

    def delivered_to(self) -> list[str]:
        return [str(d.get("to") or d.get("msisdn")) for d in self.delivered]

    def calls_with(self, key: str) -> list[Call]:
        return [c for c in self.calls if c.key == key]

    async def wait_for_calls(self, count: int, timeout: float = 20.0) -> None:
        async def until() -> None:
            while len(self.calls) < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(until(), timeout)

    async def _sms(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "bad token"}, status=401)
        payload = json.loads(raw)
        return await self._handle(request, payload, str(payload.get("reference")), payload["to"])

    async def _push(self, request: web.Request) -> web.Response:
        raw = await request.read()
        stamp = request.headers.get("X-Liveinfo-Timestamp", "")
        expected = (
            "sha256="
            + hmac.new(
                self.secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256
            ).hexdigest()
        )
        fresh = stamp.isdigit() and abs(time.time() - int(stamp)) <= 300
        if not fresh or not hmac.compare_digest(
            expected, request.headers.get("X-Liveinfo-Signature", "")
        ):
            return web.json_response({"error": "bad signature"}, status=403)
        payload = json.loads(raw)
        return await self._handle(request, payload, str(payload.get("push_id")), payload["msisdn"])

    async def _handle(
        self, request: web.Request, payload: dict[str, Any], key: str, e164: str
    ) -> web.Response:
        self.calls.append(Call(time.monotonic(), request.path, key, payload, dict(request.headers)))
        self._arrived.set()
        if request.headers.get("Idempotency-Key") != key:
            return web.json_response({"error": "Idempotency-Key must equal the key"}, status=400)
        pending = self.script.get(e164)
        if pending:
            status = pending.pop(0)
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            # A 4xx body quoting the number: the sender must mask it in what it records.
            return web.json_response(
                {"error": f"refused for {e164}"}, status=status, headers=headers
            )
        if key in self.seen:
            return web.json_response({"id": self.seen[key], "status": "duplicate"}, status=200)
        self.seen[key] = uuid.uuid4().hex
        self.delivered.append(payload)
        if self.hang_after is not None and len(self.delivered) > self.hang_after:
            await self._never.wait()  # delivered, but the sender never hears back
        return web.json_response({"id": self.seen[key], "status": "queued"}, status=202)
