"""Campaign send benchmark: invitations through a local fake SMS gateway.

    .venv/bin/python bench/campaign_send.py [--targets 5000] [--paced 400 --rate 200]
                                            [--url postgresql://...]

In one process: the fake gateway of the tests (real HTTP on loopback, dedupe on the
key) and a fresh PostgreSQL database created and dropped here (or ``--url`` sqlite:///…).
Prints, measured in the same run:

- baseline: the same number of bare POSTs to the gateway (aiohttp, 32 in flight, no
  database, no pacing) — the ceiling the gateway and the client allow here;
- ``campaign send`` unpaced (rate 1e6/s): claim, render, sign the link, POST, record
  and stamp the targets — invitations a second, and the share of the baseline;
- ``campaign send --rate R`` on a second campaign: the rate the gateway saw (first to
  last arrival; must be ≤ R) and the most calls that arrived within one second.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import time
from pathlib import Path

import aiohttp
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.campaign.gateways import SmsGateway
from bot.campaign.schema import campaign_targets
from bot.campaign.sender import Sender, SendOptions
from bot.campaign.store import ensure_campaign
from bot.requests.db import create_store_engine, migrate
from tests.campaign.fake_gateway import FakeGateway
from tests_support.databases import temporary_postgres

SECRET = "bench-link-secret"  # noqa: S105 - a throw-away key for the bench


def add_targets(engine, campaign: str, count: int, start: int) -> None:
    cid = ensure_campaign(engine, campaign)
    now = dt.datetime.now(dt.timezone.utc)
    rows = [
        {"campaign_id": cid, "phone_e164": f"+8490{start + i:07d}", "imported_at": now}
        for i in range(count)
    ]
    with engine.begin() as conn:
        for at in range(0, len(rows), 5000):
            conn.execute(insert(campaign_targets), rows[at : at + 5000])


async def baseline(gateway: FakeGateway, count: int, in_flight: int = 32) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    async with aiohttp.ClientSession() as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                key = f"base-{i}"
                async with client.post(
                    gateway.sms_url,
                    json={"to": f"+8491{i:07d}", "text": "x" * 100, "reference": key},
                    headers={"Authorization": f"Bearer {gateway.token}", "Idempotency-Key": key},
                ) as answer:
                    await answer.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return count / (time.perf_counter() - started)


async def send(engine, gateway: FakeGateway, campaign: str, rate: float) -> tuple[float, int]:
    gw = SmsGateway(gateway.sms_url, gateway.token)
    options = SendOptions(campaign=campaign, channel="sms", rate=rate, link_secret=SECRET)
    started = time.perf_counter()
    report = await Sender(engine, gw, options).run()
    seconds = time.perf_counter() - started
    await gw.aclose()
    assert report.failed == 0 and report.remaining == 0, report.summary()
    return report.sent / seconds, report.sent


async def main(url: str, targets: int, paced: int, rate: float) -> None:
    migrate(url)
    engine = create_store_engine(url)
    add_targets(engine, "bench", targets, 0)
    add_targets(engine, "bench-paced", paced, targets)
    gateway = await FakeGateway().start()
    try:
        base = await baseline(gateway, targets)
        gateway.calls.clear()
        unpaced, sent = await send(engine, gateway, "bench", 1e6)
        assert sent == targets and len(set(gateway.delivered_to())) == targets + targets
        before = len(gateway.calls)
        await send(engine, gateway, "bench-paced", rate)
        # The rate the gateway saw: calls over the span from the first to the last.
        arrivals = [c.at for c in gateway.calls[before:]]
        achieved = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
        busiest = max(
            sum(1 for t in arrivals[i:] if t < start + 1.0) for i, start in enumerate(arrivals)
        )
    finally:
        await gateway.close()
        engine.dispose()
    load = os.getloadavg()
    print(f"database: {url.split('@')[-1]}, load average {load[0]:.2f} {load[1]:.2f}")
    print(f"baseline, bare POSTs to the fake gateway ({targets}): {base:,.0f}/s")
    print(
        f"campaign send, unpaced ({targets} invitations): {unpaced:,.0f}/s "
        f"({unpaced / base:.0%} of the baseline)"
    )
    verdict = "ok" if achieved <= rate else "EXCEEDED"
    print(
        f"campaign send --rate {rate:g}/s ({paced}): {achieved:,.1f}/s at the gateway "
        f"({verdict}); busiest second: {busiest} calls (arrival times, network jitter included)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=5000)
    parser.add_argument("--paced", type=int, default=400)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--url", help="a database to use instead of a temporary PostgreSQL one")
    args = parser.parse_args()
    if args.url:
        asyncio.run(main(args.url, args.targets, args.paced, args.rate))
    else:
        with temporary_postgres("bench_send") as pg:
            asyncio.run(main(pg, args.targets, args.paced, args.rate))
