"""The gateways invitations leave through: the SMS gateway and the Liveinfo push gateway.

Contracts: docs/liveinfo.md §3 (SMS, the same endpoint and token the Liveinfo connector
uses for its replies) and §4 (Liveinfo prompts). Both dedupe on the idempotency key the
sender gives each invitation (its send id), so a send retried after a timeout or resumed
after a crash reaches the subscriber once. One class per gateway builds the request;
:class:`HttpGateway` does one attempt and classifies the answer — the sender paces and
retries (every attempt takes a slot of the rate limit).
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.campaign.hooks import redact

USER_AGENT = "sim4g-campaign-sender/1"
MAX_ERROR = 300


@dataclass(frozen=True)
class Outgoing:
    """One invitation: the idempotency key, the subscriber (E.164), the rendered text."""

    key: str
    e164: str
    text: str
    campaign: str


@dataclass(frozen=True)
class Accepted:
    """The gateway took it: its message id, and whether it had seen the key before."""

    gateway_ref: str | None
    duplicate: bool = False


class GatewayError(Exception):
    """One attempt failed; ``retryable`` for 429, 5xx, timeouts and connection errors."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class HttpGateway:
    """One JSON POST per attempt over a shared aiohttp session (pooled, timed out).

    aiohttp rather than httpx: against the same local gateway here it sustained ~10x the
    requests a second at 32 calls in flight (httpx's pool slowed down with concurrency).
    """

    channel = ""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the {self.channel} gateway URL must be http(s)://")
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self._session = session
        self._own_session = session is None

    def _client(self) -> aiohttp.ClientSession:
        # Created in the running loop, on first use.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout,
                headers={"User-Agent": USER_AGENT},
                connector=aiohttp.TCPConnector(limit=100),
            )
        return self._session

    def build(self, message: Outgoing) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one attempt."""
        raise NotImplementedError

    async def send(self, message: Outgoing) -> Accepted:
        """One attempt; :class:`GatewayError` when not accepted."""
        body, headers = self.build(message)
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.key, **headers}
        try:
            async with self._client().post(self.url, data=body, headers=headers) as answer:
                status = answer.status
                raw = await answer.read()
                retry_after = answer.headers.get("Retry-After")
        except asyncio.TimeoutError as exc:
            raise GatewayError("timeout", retryable=True) from exc
        except aiohttp.ClientError as exc:
            raise GatewayError(f"connection error ({type(exc).__name__})", retryable=True) from exc
        if 200 <= status < 300:
            data = _json(raw)
            ref = data.get("message_id") or data.get("id")
            return Accepted(
                str(ref)[:128] if ref is not None else None,
                duplicate=data.get("status") == "duplicate",
            )
        text = redact(raw.decode("utf-8", "replace").strip().replace("\n", " "))[:MAX_ERROR]
        message_text = f"HTTP {status}" + (f": {text}" if text else "")
        if status in (408, 429) or status >= 500:
            raise GatewayError(
                message_text,
                retryable=True,
                status=status,
                retry_after=retry_after_seconds(retry_after),
            )
        raise GatewayError(message_text, retryable=False, status=status)

    async def aclose(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


class SmsGateway(HttpGateway):
    """``POST $SMS_GATEWAY_URL`` with the bearer token: ``{"to", "text", "reference"}``."""

    channel = "sms"

    def __init__(self, url: str, token: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.token = token

    def build(self, message: Outgoing) -> tuple[bytes, dict[str, str]]:
        body = {"to": message.e164, "text": message.text, "reference": message.key}
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return json.dumps(body, ensure_ascii=False).encode(), headers


def liveinfo_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 over ``timestamp + "." + body`` (the answers' scheme)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class LiveinfoPushGateway(HttpGateway):
    """``POST $LIVEINFO_PUSH_URL``, signed: one Yes/No prompt to one handset."""

    channel = "liveinfo"

    def __init__(self, url: str, secret: str, **kwargs: Any) -> None:
        if not secret:
            raise ValueError("the Liveinfo push gateway needs its HMAC secret")
        super().__init__(url, **kwargs)
        self.secret = secret

    def build(self, message: Outgoing) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(
            {
                "push_id": message.key,
                "msisdn": message.e164,
                "campaign": message.campaign,
                "text": message.text,
                "answers": ["YES", "NO"],
            },
            ensure_ascii=False,
        ).encode()
        stamp = str(int(time.time()))
        return body, {
            "X-Liveinfo-Timestamp": stamp,
            "X-Liveinfo-Signature": liveinfo_signature(self.secret, stamp, body),
        }
