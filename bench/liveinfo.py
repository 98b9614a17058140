"""Liveinfo campaign burst: how many answers/s the webhook accepts, and none lost.

    .venv/bin/python bench/liveinfo.py [--answers 20000] [--concurrency 64] [--yes 0.3]
                                       [--model models/current.tar.gz] [--redis URL]

The Rasa server side (``configure_app([LiveinfoInput])``) runs in its own process, as in
production; this process plays the operator's gateway (signed POSTs, honouring 503 +
Retry-After, resending 5 % of answers as retries) and the SMS gateway (a local aiohttp
fake). With ``--model`` the YES answers go through the trained model (actions need the
action server at ``--action-url``); without it a stand-in dialogue answers at once, so
the figures are the connector's own: acknowledgement, recording, SMS hand-off.

Prints accepted/s, ack latency p50/p99, and checks that the processed count (rows in
``liveinfo_answers`` with ``processed_at``, and SMS received) equals what was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, sys.path[0] is bench/: the project goes there instead, so no bench
# script can shadow an installed module.
sys.path[:1] = [str(ROOT)]

SECRET = "bench-secret"  # noqa: S105 - a benchmark's own


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------ server process


class StandInDialogue:
    """Answers a YES at once through the SMS output (no model given)."""

    async def handle_message(self, message: object) -> None:
        await message.output_channel.send_text_message(  # type: ignore[attr-defined]
            message.sender_id,  # type: ignore[attr-defined]
            "Cảm ơn bạn! Vui lòng cho biết địa chỉ nhận SIM 4G.",
        )


async def serve(args: argparse.Namespace) -> None:
    from rasa.core.run import configure_app

    from connectors.common import make_deduplicator
    from connectors.liveinfo import LiveinfoInput

    channel = LiveinfoInput(
        SECRET,
        args.sms_url,
        "bench-token",
        page_url="https://yeucauthaysim4g.example.vn/",
        link_secret="bench-link-secret",  # noqa: S106
        database_url=args.database_url,
        deduplicator=make_deduplicator(args.redis or "", prefix=f"bench:{uuid.uuid4().hex}:"),
        queue_size=args.queue_size,
    )
    app = configure_app([channel], enable_api=False, route="/webhooks/")
    if args.model:
        from rasa.core.agent import load_agent
        from rasa.core.utils import AvailableEndpoints
        from rasa.utils.endpoints import EndpointConfig

        action = EndpointConfig(args.action_url) if args.action_url else None
        app.ctx.agent = await load_agent(
            model_path=args.model, endpoints=AvailableEndpoints(action=action)
        )
    else:
        app.ctx.agent = StandInDialogue()
    server = await app.create_server(
        host="127.0.0.1", port=args.port, return_asyncio_server=True, access_log=False
    )
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.before_stop()


# ------------------------------------------------------------------ gateway process


def payload(i: int, yes_ratio: float) -> dict[str, str]:
    number = 901_000_000 + i
    return {
        "request_id": f"bench-{i:08d}",
        "msisdn": f"0{number}",
        "campaign": "bench-campaign",
        "answer": "YES" if random.random() < yes_ratio else "NO",
        "answered_at": "2020-04-20T09:15:00+07:00",
    }


async def gateway(args: argparse.Namespace) -> int:
    import aiohttp
    from aiohttp import web

    from bot.outreach import OutreachStore
    from connectors.liveinfo import sign

    sms_received: set[str] = set()

    async def sms(request: web.Request) -> web.Response:
        sms_received.add((await request.json())["reference"])
        return web.json_response({"status": "queued"}, status=202)

    sms_app = web.Application()
    sms_app.router.add_post("/sms", sms)
    runner = web.AppRunner(sms_app, access_log=None)
    await runner.setup()
    sms_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", sms_port).start()

    tmp = tempfile.mkdtemp(prefix="bench-liveinfo-")
    database_url = args.database_url or f"sqlite:///{tmp}/requests.db"
    port = free_port()
    cmd = [
        sys.executable,
        __file__,
        "--serve",
        "--port",
        str(port),
        "--sms-url",
        f"http://127.0.0.1:{sms_port}/sms",
        "--database-url",
        database_url,
        "--queue-size",
        str(args.queue_size),
    ]
    if args.model:
        cmd += ["--model", args.model] + (
            ["--action-url", args.action_url] if args.action_url else []
        )
    if args.redis:
        cmd += ["--redis", args.redis]
    # (rasa's import installs uvloop's loop policy, which has no child watcher)
    server = await asyncio.to_thread(
        subprocess.Popen, cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    assert server.stdout is not None
    line = await asyncio.to_thread(server.stdout.readline)
    if b"ready" not in line:
        print("server did not start", file=sys.stderr)
        return 1

    random.seed(7)
    answers = [payload(i, args.yes) for i in range(args.answers)]
    retries = random.sample(answers, k=len(answers) // 20)  # the gateway resends 5 %
    work = answers + retries
    random.shuffle(work)
    url = f"http://127.0.0.1:{port}/webhooks/liveinfo/webhook"
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            item = queue.get_nowait()
            body = json.dumps(item).encode()
            while True:
                stamp = str(int(time.time()))
                headers = {
                    "Content-Type": "application/json",
                    "X-Liveinfo-Timestamp": stamp,
                    "X-Liveinfo-Signature": sign(SECRET, stamp, body),
                }
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    latencies.append(time.perf_counter() - started)
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
                    if resp.status == 503:
                        await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
                        continue
                    if resp.status != 202:
                        raise RuntimeError(f"unexpected {resp.status}: {await resp.text()}")
                    break

    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        # warm-up (schema migration, first connections) outside the measurement
        warm = payload(999_999, 0.0)
        warm["request_id"] = "bench-warmup"
        body = json.dumps(warm).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Liveinfo-Timestamp": stamp,
            "X-Liveinfo-Signature": sign(SECRET, stamp, body),
        }
        async with session.post(url, data=body, headers=headers) as resp:
            if resp.status != 202:
                raise RuntimeError(f"warm-up refused: {resp.status} {await resp.text()}")
        cpu_before = cpu_seconds(server.pid)
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(args.concurrency)))
        sent_for = time.perf_counter() - started
        cpu_burst = cpu_seconds(server.pid) - cpu_before

    yes_sent = {a["request_id"] for a in answers if a["answer"] == "YES"}
    store = OutreachStore.from_url(database_url, migrate=False)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        processed = await asyncio.to_thread(store.count, None, processed=True)
        if processed >= len(answers) + 1 and yes_sent <= sms_received:
            break
        await asyncio.sleep(0.2)
    done_for = time.perf_counter() - started
    cpu_total = cpu_seconds(server.pid) - cpu_before
    processed = await asyncio.to_thread(store.count, None, processed=True) - 1  # warm-up
    stored = await asyncio.to_thread(store.count) - 1

    server.terminate()
    await asyncio.to_thread(server.wait, 30)
    await runner.cleanup()
    store.engine.dispose()
    shutil.rmtree(tmp, ignore_errors=True)

    latencies.sort()
    posts = len(latencies)
    print(
        f"answers sent          {len(answers)} unique + {len(retries)} retries "
        f"({len(yes_sent)} YES), {args.concurrency} connections"
    )
    print(f"HTTP statuses         {dict(sorted(statuses.items()))}")
    print(f"accepted/s            {posts / sent_for:,.0f} requests/s over {sent_for:.2f} s")
    print(
        f"ack latency           p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(posts * 0.99) - 1] * 1000:.1f} ms"
    )
    print(
        f"processed             {processed} of {len(answers)} in {done_for:.2f} s "
        f"({processed / done_for:,.0f}/s); rows stored {stored}; SMS {len(sms_received)} "
        f"of {len(yes_sent)} YES"
    )
    ok = processed == stored == len(answers) and sms_received == yes_sent
    print(
        f"server CPU            {cpu_burst:.2f} s during the burst, {cpu_total:.2f} s in all: "
        f"{cpu_total / len(answers) * 1e6:.0f} µs per answer end to end "
        f"(≈ {len(answers) / cpu_total:,.0f} answers/s per core)"
    )
    print(f"machine load          {os.getloadavg()[0]:.2f} (1-min average, {os.cpu_count()} CPUs)")
    print("none lost, none doubled" if ok else "MISMATCH: answers lost or doubled")
    print(f"dialogue              {'trained model ' + args.model if args.model else 'stand-in'}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--yes", type=float, default=0.3, help="share of YES answers")
    parser.add_argument("--queue-size", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--model", default="")
    parser.add_argument("--action-url", default="")
    parser.add_argument("--redis", default="")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--sms-url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    import uvloop  # what `rasa run` (Sanic) serves on

    uvloop.install()
    if args.serve:
        asyncio.run(serve(args))
        return 0
    return asyncio.run(gateway(args))


if __name__ == "__main__":
    sys.exit(main())
