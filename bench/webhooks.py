"""Webhook benchmark: acknowledgement latency, shedding and end-to-end throughput per channel.

Everything runs on loopback. This process plays the platforms: it posts signed webhooks
open-loop at ``--rate`` per second (``--count`` customers, one message each) and serves
one fake of each platform API (Graph Send API, Zalo OA API, Telegram Bot API) that
records which customers got a reply. A 503 is redelivered after its ``Retry-After``, as
Meta and Telegram redeliver a failed webhook, until it is accepted or ``--timeout``.

The server side:
- with a trained model (``--model``, by default ``models/current.tar.gz`` when present):
  the product as ``make run`` starts it — ``python -m bot run --services actions,rasa``
  (launcher, endpoints.yml with the SQL tracker store on SQLite, the action server,
  credentials.yml with the Facebook, Zalo and Telegram channels pointed at the fakes);
- with ``--stand-in``: a Rasa app with the same connectors and a replying stand-in agent,
  which measures the connectors' own cost.

Printed per channel, beside bare Rasa's REST channel in the same run (whose answer *is*
the whole turn, all turns on the serving loop, nothing queued):
- ack p50/p99: time to answer a webhook (200 or 503) under the open-loop burst;
- shed: 503 answers; ``retried ok``: messages accepted after at least one 503; ``lost``:
  messages never accepted (must be 0);
- e2e msg/s: customers answered at the fake ÷ time from the first post to the last
  reply (the sustained rate Rasa reaches); ``replied``: customers answered.

    .venv/bin/python bench/webhooks.py [--rate 200] [--count 300] [--queue N] [--workers N]
                                       [--turn-thread 0|1] [--stand-in]

``--queue``/``--workers``/``--turn-thread`` set ``CHANNEL_TURN_QUEUE``,
``CHANNEL_TURN_WORKERS`` and ``CHANNEL_TURN_THREAD`` for the server (product defaults
otherwise; see docs/channels.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
# bench/ is not a package: keep its scripts from shadowing installed modules.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

FB_SECRET, FB_TOKEN, FB_VERIFY = "bench-fb-secret", "bench-page-token", "bench-verify"
ZALO_APP, ZALO_OA_SECRET, ZALO_APP_SECRET = "424242", "bench-oa-secret", "bench-app-secret"
TG_TOKEN, TG_SECRET = "123456:BENCH-token", "bench-secret-token"
TEXT = "Tôi muốn đổi SIM 4G"
CHANNELS = ("rest", "facebook", "zalo", "telegram")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------- stand-in server


def run_stand_in(app_port: int, fake_url: str, token_dir: str) -> None:
    """Child process: the connectors and Rasa's REST channel with a replying stand-in agent."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    from rasa.core.channels.rest import RestInput
    from rasa.core.run import configure_app

    from connectors.facebook import FacebookInput
    from connectors.telegram import TelegramInput
    from connectors.zalo import ZaloInput

    channels = [
        FacebookInput(FB_VERIFY, FB_SECRET, FB_TOKEN, graph_url=fake_url),
        ZaloInput(
            ZALO_APP,
            ZALO_OA_SECRET,
            ZALO_APP_SECRET,
            "bench-access",
            "bench-refresh",
            api_url=fake_url,
            oauth_url=fake_url,
            token_file=Path(token_dir) / "zalo_tokens.json",
            redis_url="",
        ),
        TelegramInput(TG_TOKEN, TG_SECRET, base_url=f"{fake_url}/bot", redis_url=""),
        RestInput(),
    ]
    app = configure_app(channels, enable_api=False, route="/webhooks/")

    class ReplyingAgent:
        async def handle_message(self, message: Any) -> Any:
            await message.output_channel.send_response(
                message.sender_id, {"text": f"Đã nhận: {message.text}"}
            )

    app.ctx.agent = ReplyingAgent()
    app.run(host="127.0.0.1", port=app_port, access_log=False, debug=False)


@contextlib.contextmanager
def stand_in_server(fake_url: str, env: dict[str, str]) -> Iterator[str]:
    """The stand-in app in a spawned child; yields its base URL."""
    os.environ.update(env)  # the spawned child inherits the turn settings
    port = free_port()
    with tempfile.TemporaryDirectory() as token_dir:
        server = multiprocessing.get_context("spawn").Process(
            target=run_stand_in, args=(port, fake_url, token_dir), daemon=True
        )
        server.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.join(10)


@contextlib.contextmanager
def product_stack(model: Path, fake_url: str, env: dict[str, str]) -> Iterator[str]:
    """``python -m bot run --services actions,rasa`` with the channels aimed at the fakes."""
    from tests_support.servers import running_stack

    channel_env = {
        "FACEBOOK_VERIFY_TOKEN": FB_VERIFY,
        "FACEBOOK_APP_SECRET": FB_SECRET,
        "FACEBOOK_PAGE_ACCESS_TOKEN": FB_TOKEN,
        "FACEBOOK_GRAPH_URL": fake_url,
        "ZALO_APP_ID": ZALO_APP,
        "ZALO_OA_SECRET_KEY": ZALO_OA_SECRET,
        "ZALO_APP_SECRET_KEY": ZALO_APP_SECRET,
        "ZALO_ACCESS_TOKEN": "bench-access",
        "ZALO_REFRESH_TOKEN": "bench-refresh",
        "ZALO_API_URL": fake_url,
        "ZALO_OAUTH_URL": fake_url,
        "TELEGRAM_CUSTOMER_BOT_TOKEN": TG_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "TELEGRAM_CUSTOMER_API_BASE_URL": f"{fake_url}/bot",
        **env,
    }
    with (
        tempfile.TemporaryDirectory() as work,
        running_stack(Path(work) / "var", extra_env=channel_env, model=model) as stack,
    ):
        yield stack.rasa_url


# ---------------------------------------------------------------------- fake APIs


class FakeApis:
    """The platforms' send APIs: success answers, and who got a reply when."""

    def __init__(self) -> None:
        self.replied: dict[str, dict[str, float]] = {c: {} for c in CHANNELS}
        self.calls: dict[str, int] = dict.fromkeys(CHANNELS, 0)
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.changed = asyncio.Event()

    def _reply(self, channel: str, recipient: str) -> None:
        self.calls[channel] += 1
        self.replied[channel].setdefault(recipient, time.perf_counter())
        self.changed.set()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v21.0/me/messages", self._facebook)
        app.router.add_post("/v3.0/oa/message/cs", self._zalo)
        app.router.add_post("/bot{token}/{method}", self._telegram)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        self.port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _facebook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._reply("facebook", str(body["recipient"]["id"]))
        return web.json_response({"recipient_id": body["recipient"]["id"], "message_id": "m"})

    async def _zalo(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._reply("zalo", str(body["recipient"]["user_id"]))
        return web.json_response({"error": 0, "message": "Success", "data": {"message_id": "z"}})

    async def _telegram(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        form = await request.post()
        if method == "sendMessage":
            self._reply("telegram", str(form.get("chat_id")))
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": {"id": int(str(form.get("chat_id") or 1)), "type": "private"},
                    "text": "ok",
                }
                if method == "sendMessage"
                else True,
            }
        )


# ----------------------------------------------------------------------- requests


def facebook_request(n: int, run: str) -> tuple[str, bytes, dict[str, str], str]:
    psid = f"{run}{n}"
    body = json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": "1",
                    "time": 1,
                    "messaging": [
                        {
                            "sender": {"id": psid},
                            "recipient": {"id": "1"},
                            "timestamp": 1712345678000 + n,
                            "message": {"mid": f"m_{run}_{n}", "text": TEXT},
                        }
                    ],
                }
            ],
        }
    ).encode()
    sig = "sha256=" + hmac.new(FB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return "/webhooks/facebook/webhook", body, {"X-Hub-Signature-256": sig}, psid


def zalo_request(n: int, run: str) -> tuple[str, bytes, dict[str, str], str]:
    ts = str(1712345678000 + n)
    user = f"{run}{n}"
    body = json.dumps(
        {
            "app_id": ZALO_APP,
            "event_name": "user_send_text",
            "timestamp": ts,
            "sender": {"id": user},
            "recipient": {"id": "9"},
            "message": {"msg_id": f"z_{run}_{n}", "text": TEXT},
        }
    ).encode()
    mac = hashlib.sha256(ZALO_APP.encode() + body + ts.encode() + ZALO_OA_SECRET.encode())
    return "/webhooks/zalo/webhook", body, {"X-ZEvent-Signature": "mac=" + mac.hexdigest()}, user


def telegram_request(n: int, run: str) -> tuple[str, bytes, dict[str, str], str]:
    chat = int(f"{run}{n:06d}")
    body = json.dumps(
        {
            "update_id": chat,
            "message": {
                "message_id": n,
                "from": {"id": chat, "is_bot": False, "first_name": "Lan"},
                "chat": {"id": chat, "type": "private", "first_name": "Lan"},
                "date": 1712345678,
                "text": TEXT,
            },
        }
    ).encode()
    headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    return "/webhooks/telegram/webhook", body, headers, str(chat)


def rest_request(n: int, run: str) -> tuple[str, bytes, dict[str, str], str]:
    sender = f"rest-{run}-{n}"
    body = json.dumps({"sender": sender, "message": TEXT}).encode()
    return "/webhooks/rest/webhook", body, {}, sender


BUILDERS = {
    "facebook": facebook_request,
    "zalo": zalo_request,
    "telegram": telegram_request,
    "rest": rest_request,
}


# ------------------------------------------------------------------------- phase


@dataclass
class Result:
    """One channel's burst."""

    sent: int
    latencies: list[float] = field(default_factory=list)  # every answer, 200 or 503
    accepted: int = 0  # messages answered 2xx in the end
    shed: int = 0  # 503 answers
    retried_ok: int = 0  # messages accepted after at least one 503
    errors: int = 0  # other statuses, connection errors
    replied: int = 0
    seconds: float = float("nan")  # first post → last reply

    @property
    def lost(self) -> int:
        return self.sent - self.accepted - self.errors


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def burst(
    http: aiohttp.ClientSession,
    base: str,
    channel: str,
    fakes: FakeApis,
    rate: float,
    count: int,
    timeout: float,
) -> Result:
    """``count`` customers at ``rate``/s, 503s redelivered; then wait for every reply."""
    result = Result(sent=count)
    run = f"{os.getpid() % 100}{int(time.time()) % 1000:03d}"
    customers: set[str] = set()
    rest_done: dict[str, float] = {}
    start = time.perf_counter()
    deadline = start + timeout

    async def deliver(n: int) -> None:
        path, body, headers, customer = BUILDERS[channel](n, run)
        customers.add(customer)
        headers = {**headers, "Content-Type": "application/json"}
        refused = False
        while time.perf_counter() < deadline:
            sent_at = time.perf_counter()
            try:
                async with http.post(base + path, data=body, headers=headers) as resp:
                    payload = await resp.read()
                    result.latencies.append(time.perf_counter() - sent_at)
                    if resp.status == 503:
                        result.shed += 1
                        refused = True
                        wait = float(resp.headers.get("Retry-After") or 1)
                        await asyncio.sleep(min(wait, max(0.0, deadline - time.perf_counter())))
                        continue
                    if 200 <= resp.status < 300:
                        result.accepted += 1
                        result.retried_ok += refused
                        if channel == "rest" and json.loads(payload):
                            rest_done[customer] = time.perf_counter()
                    else:
                        result.errors += 1
                    return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                result.errors += 1
                return

    tasks = []
    for n in range(count):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(deliver(n)))
    await asyncio.wait(tasks, timeout=max(0.1, deadline - time.perf_counter()))

    def answered() -> dict[str, float]:
        if channel == "rest":
            return rest_done
        return {c: t for c, t in fakes.replied[channel].items() if c in customers}

    while len(answered()) < result.accepted and time.perf_counter() < deadline:
        fakes.changed.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(fakes.changed.wait(), 1.0)
    done = answered()
    result.replied = len(done)
    if done:
        result.seconds = max(done.values()) - start
    return result


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--count", type=int, default=None, help="300 with a model, else 1000")
    parser.add_argument("--timeout", type=float, default=600.0, help="per channel")
    parser.add_argument("--channels", default=",".join(CHANNELS))
    default_model = ROOT / "models" / "current.tar.gz"
    parser.add_argument("--model", type=Path, default=default_model)
    parser.add_argument("--stand-in", action="store_true", help="a replying agent, no model")
    parser.add_argument("--queue", type=int, help="CHANNEL_TURN_QUEUE for the server")
    parser.add_argument("--workers", type=int, help="CHANNEL_TURN_WORKERS for the server")
    parser.add_argument("--turn-thread", choices=("0", "1"), help="CHANNEL_TURN_THREAD")
    args = parser.parse_args()
    if not args.stand_in and not args.model.exists():
        raise SystemExit(f"no model at {args.model}: run `make train` or pass --stand-in")
    count = args.count or (1000 if args.stand_in else 300)
    env = {
        name: str(value)
        for name, value in (
            ("CHANNEL_TURN_QUEUE", args.queue),
            ("CHANNEL_TURN_WORKERS", args.workers),
            ("CHANNEL_TURN_THREAD", args.turn_thread),
        )
        if value is not None
    }

    fakes = FakeApis()
    await fakes.start()
    server = (
        stand_in_server(fakes.url, env)
        if args.stand_in
        else product_stack(args.model, fakes.url, env)
    )
    # Starting the stack blocks (it waits for the servers); the fakes keep serving.
    base = await asyncio.to_thread(server.__enter__)
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=args.timeout),
        ) as http:
            for _ in range(1200):  # the stand-in's Rasa imports take a while
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(base + "/webhooks/rest/") as resp:
                        if resp.status == 200:
                            break
                await asyncio.sleep(0.1)
            else:
                raise SystemExit("server did not start")
            settings = ", ".join(f"{k}={v}" for k, v in env.items()) or "product defaults"
            dialogue = (
                "replying stand-in"
                if args.stand_in
                else f"model {args.model} + action server, SQLite tracker store"
            )
            print(f"dialogue: {dialogue}; turn settings: {settings}")
            print(
                f"burst: {count} customers x 1 message at {args.rate:.0f} req/s per channel, "
                f"503s redelivered after Retry-After; {os.cpu_count()} CPUs, load {load()}"
            )
            print(
                f"{'channel':<10} {'ack p50 ms':>10} {'ack p99 ms':>10} {'shed':>6} "
                f"{'retried ok':>10} {'lost':>5} {'errors':>6} {'e2e msg/s':>9} "
                f"{'replied':>8} {'load':>16}"
            )
            for channel in args.channels.split(","):
                r = await burst(http, base, channel, fakes, args.rate, count, args.timeout)
                rate = r.replied / r.seconds if r.seconds == r.seconds and r.seconds else 0.0
                print(
                    f"{channel:<10} {pct(r.latencies, 0.5):>10.1f} {pct(r.latencies, 0.99):>10.1f}"
                    f" {r.shed:>6} {r.retried_ok:>10} {r.lost:>5} {r.errors:>6} {rate:>9.1f}"
                    f" {r.replied:>8} {load():>16}",
                    flush=True,
                )
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)
        if fakes.runner is not None:
            await fakes.runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
