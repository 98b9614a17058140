"""Webhook benchmark: acknowledgement latency and end-to-end throughput per connector.

Runs everything on loopback: a Rasa app (``configure_app`` with the Facebook, Zalo and
Telegram connectors and Rasa's own REST channel) in a child process, and in this process
the load generator plus one fake platform API (Graph Send API, Zalo OA API, Telegram Bot
API) that counts the replies.

Figures printed, per channel:
- ack p50/p99: latency of the webhook's answer with requests sent open-loop at
  ``--rate`` per second (default 200) for ``--count`` requests;
- e2e msg/s: ``--e2e`` messages from distinct customers sent with 32 in flight, counted
  until the platform fake has received every reply. For REST the reply *is* the HTTP
  answer, so its ack latency is a whole turn: that is the point of the comparison.

The dialogue is a trained model when ``--model`` points at one (``models/current.tar.gz``
by default, if present), else a replying stand-in agent, which measures the connectors'
own cost. Bounded: each phase stops after ``--timeout`` seconds.

    .venv/bin/python bench/webhooks.py [--rate 200] [--count 1000] [--e2e 500]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
# bench/requests.py would shadow the ``requests`` package that Rasa imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

FB_SECRET, FB_TOKEN, FB_VERIFY = "bench-fb-secret", "bench-page-token", "bench-verify"
ZALO_APP, ZALO_OA_SECRET, ZALO_APP_SECRET = "424242", "bench-oa-secret", "bench-app-secret"
TG_TOKEN, TG_SECRET = "123456:BENCH-token", "bench-secret-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------ server process


def run_server(app_port: int, fake_url: str, model: str | None, token_dir: str) -> None:
    """Child process: the Rasa app with the connectors, served on ``app_port``."""
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

    if model:
        from rasa.core.agent import load_agent

        @app.listener("before_server_start")
        async def _load(app: Any, _loop: Any) -> None:
            app.ctx.agent = await load_agent(model_path=model)

    else:

        class ReplyingAgent:
            async def handle_message(self, message: Any) -> Any:
                await message.output_channel.send_response(
                    message.sender_id, {"text": f"Đã nhận: {message.text}"}
                )

        app.ctx.agent = ReplyingAgent()
    app.run(host="127.0.0.1", port=app_port, access_log=False, debug=False)


# ---------------------------------------------------------------------- fake APIs


class FakeApis:
    """Counts replies per platform; answers like the real APIs' success cases."""

    def __init__(self) -> None:
        self.replies: dict[str, int] = {"facebook": 0, "zalo": 0, "telegram": 0}
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.changed = asyncio.Event()

    def _count(self, channel: str) -> None:
        self.replies[channel] += 1
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

    async def _facebook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._count("facebook")
        return web.json_response({"recipient_id": body["recipient"]["id"], "message_id": "m"})

    async def _zalo(self, request: web.Request) -> web.Response:
        await request.read()
        self._count("zalo")
        return web.json_response({"error": 0, "message": "Success", "data": {"message_id": "z"}})

    async def _telegram(self, request: web.Request) -> web.Response:
        await request.read()
        self._count("telegram")
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": {"id": 1, "type": "private"},
                    "text": "ok",
                },
            }
        )


# ------------------------------------------------------------------- requests


def facebook_request(n: int, run: str) -> tuple[str, bytes, dict[str, str]]:
    body = json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": "1",
                    "time": 1,
                    "messaging": [
                        {
                            "sender": {"id": f"{run}{n}"},
                            "recipient": {"id": "1"},
                            "timestamp": 1712345678000 + n,
                            "message": {"mid": f"m_{run}_{n}", "text": "Tôi muốn đổi SIM 4G"},
                        }
                    ],
                }
            ],
        }
    ).encode()
    sig = "sha256=" + hmac.new(FB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return "/webhooks/facebook/webhook", body, {"X-Hub-Signature-256": sig}


def zalo_request(n: int, run: str) -> tuple[str, bytes, dict[str, str]]:
    ts = str(1712345678000 + n)
    body = json.dumps(
        {
            "app_id": ZALO_APP,
            "event_name": "user_send_text",
            "timestamp": ts,
            "sender": {"id": f"{run}{n}"},
            "recipient": {"id": "9"},
            "message": {"msg_id": f"z_{run}_{n}", "text": "Tôi muốn đổi SIM 4G"},
        }
    ).encode()
    mac = hashlib.sha256(ZALO_APP.encode() + body + ts.encode() + ZALO_OA_SECRET.encode())
    return "/webhooks/zalo/webhook", body, {"X-ZEvent-Signature": "mac=" + mac.hexdigest()}


def telegram_request(n: int, run: str) -> tuple[str, bytes, dict[str, str]]:
    chat = int(f"{abs(hash(run)) % 1000}{n:07d}")
    body = json.dumps(
        {
            "update_id": int(f"{abs(hash(run)) % 1000}{n:07d}"),
            "message": {
                "message_id": n,
                "from": {"id": chat, "is_bot": False, "first_name": "Lan"},
                "chat": {"id": chat, "type": "private", "first_name": "Lan"},
                "date": 1712345678,
                "text": "Tôi muốn đổi SIM 4G",
            },
        }
    ).encode()
    return "/webhooks/telegram/webhook", body, {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}


def rest_request(n: int, run: str) -> tuple[str, bytes, dict[str, str]]:
    body = json.dumps({"sender": f"rest-{run}-{n}", "message": "Tôi muốn đổi SIM 4G"}).encode()
    return "/webhooks/rest/webhook", body, {}


BUILDERS = {
    "facebook": facebook_request,
    "zalo": zalo_request,
    "telegram": telegram_request,
    "rest": rest_request,
}


# --------------------------------------------------------------------- phases


async def ack_latency(
    http: aiohttp.ClientSession, base: str, channel: str, rate: float, count: int, timeout: float
) -> tuple[list[float], int]:
    """Open-loop at ``rate``/s: latency of each answer (seconds) and the error count."""
    latencies: list[float] = []
    errors = 0
    run = f"a{os.getpid() % 1000}{int(time.time()) % 100000}"

    async def one(n: int) -> None:
        nonlocal errors
        path, body, headers = BUILDERS[channel](n, run)
        headers = {**headers, "Content-Type": "application/json"}
        start = time.perf_counter()
        try:
            async with http.post(base + path, data=body, headers=headers) as resp:
                await resp.read()
                if resp.status >= 300:
                    errors += 1
                    return
        except aiohttp.ClientError:
            errors += 1
            return
        latencies.append(time.perf_counter() - start)

    tasks = []
    start = time.perf_counter()
    for n in range(count):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n)))
        if time.perf_counter() - start > timeout:
            break
    await asyncio.wait(tasks, timeout=timeout)
    return latencies, errors


async def end_to_end(
    http: aiohttp.ClientSession,
    base: str,
    channel: str,
    fakes: FakeApis,
    count: int,
    timeout: float,
) -> tuple[float, int]:
    """Messages/s until every reply was observed (``count`` sent, 32 in flight)."""
    run = f"e{os.getpid() % 1000}{int(time.time()) % 100000}"
    before = fakes.replies.get(channel, 0)
    done_rest = 0
    semaphore = asyncio.Semaphore(32)

    async def one(n: int) -> None:
        nonlocal done_rest
        path, body, headers = BUILDERS[channel](n, run)
        async with (
            semaphore,
            http.post(
                base + path, data=body, headers={**headers, "Content-Type": "application/json"}
            ) as resp,
        ):
            payload = await resp.read()
            if channel == "rest" and resp.status == 200 and json.loads(payload):
                done_rest += 1

    start = time.perf_counter()
    sending = asyncio.gather(*(one(n) for n in range(count)), return_exceptions=True)
    deadline = start + timeout
    await asyncio.wait_for(sending, timeout)

    def received() -> int:
        return done_rest if channel == "rest" else fakes.replies[channel] - before

    while received() < count and time.perf_counter() < deadline:
        fakes.changed.clear()
        try:
            await asyncio.wait_for(fakes.changed.wait(), max(0.0, deadline - time.perf_counter()))
        except asyncio.TimeoutError:
            break
    elapsed = time.perf_counter() - start
    return received() / elapsed, received()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--e2e", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--channels", default="rest,facebook,zalo,telegram")
    default_model = ROOT / "models" / "current.tar.gz"
    parser.add_argument("--model", default=str(default_model) if default_model.exists() else None)
    args = parser.parse_args()

    import tempfile

    fakes = FakeApis()
    await fakes.start()
    app_port = free_port()
    with tempfile.TemporaryDirectory() as token_dir:
        ctx = multiprocessing.get_context("spawn")
        server = ctx.Process(
            target=run_server,
            args=(app_port, f"http://127.0.0.1:{fakes.port}", args.model, token_dir),
            daemon=True,
        )
        server.start()
        base = f"http://127.0.0.1:{app_port}"
        try:
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=args.timeout),
            ) as http:
                for _ in range(1200):  # rasa imports take a while
                    try:
                        async with http.get(base + "/webhooks/rest/") as resp:
                            if resp.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise SystemExit("server did not start")
                print(
                    f"dialogue: {'model ' + args.model if args.model else 'replying stand-in'}; "
                    f"ack at {args.rate:.0f} req/s x {args.count}; e2e {args.e2e} messages"
                )
                print(
                    f"{'channel':<10} {'ack p50 ms':>10} {'ack p99 ms':>10} {'errors':>7} "
                    f"{'e2e msg/s':>10} {'replies':>8}"
                )
                for channel in args.channels.split(","):
                    latencies, errors = await ack_latency(
                        http, base, channel, args.rate, args.count, args.timeout
                    )
                    await asyncio.sleep(1.0)  # let the background turns finish
                    rate, got = await end_to_end(http, base, channel, fakes, args.e2e, args.timeout)
                    print(
                        f"{channel:<10} {pct(latencies, 0.5):>10.2f} {pct(latencies, 0.99):>10.2f} "
                        f"{errors:>7} {rate:>10.0f} {got:>8}"
                    )
        finally:
            server.terminate()
            server.join(10)
            if fakes.runner is not None:
                await fakes.runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
