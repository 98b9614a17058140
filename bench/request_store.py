"""Confirmations per second the request store + routing sustain, SQLite and PostgreSQL.

Each confirmation is a full ``RequestService.submit``: validation, phone parsing, the
open-request check, routing, and one transaction writing the request, its event and
its outbox row. Runs against a fresh SQLite file and a fresh PostgreSQL database
(created and dropped here; URL from TEST_DATABASE_URL), from several threads as the
action server's workers would. A second pass re-submits the same drafts (every one a
duplicate) to show the cost of the exactly-once path.

    .venv/bin/python bench/request_store.py [--count 3000] [--threads 8]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.phone import InvalidPhoneError, parse
from bot.requests import RequestDraft, RequestService
from bot.requests.db import create_store_engine, migrate, session_factory
from bot.routing import load_directory, official_wards
from tests_support.databases import temporary_postgres

PREFIXES = ("90", "93", "70", "76", "77", "78", "79", "89")


def drafts(count: int) -> list[RequestDraft]:
    rng = random.Random(42)
    wards = sorted(official_wards().items())
    out: list[RequestDraft] = []
    seen: set[str] = set()
    n = 0
    while len(out) < count:
        n += 1
        ward_code, (province_code, ward_name) = rng.choice(wards)
        phone = "0" + PREFIXES[n % len(PREFIXES)] + f"{rng.randrange(10**7):07d}"
        try:
            if parse(phone).e164 in seen:
                continue
        except InvalidPhoneError:
            continue
        seen.add(parse(phone).e164)
        out.append(
            RequestDraft(
                request_type=rng.choice(("sim_swap", "sim_swap", "new_subscription", "advice")),
                phone=phone,
                channel=rng.choice(("facebook", "zalo", "liveinfo", "rest")),
                sender_id=f"bench-{n}",
                address_text=f"{n} đường Số {n % 50}, {ward_name}",
                units={
                    "status": "resolved",
                    "confidence": 0.9,
                    "province_code": province_code,
                    "ward_code": ward_code,
                    "ward_name": ward_name,
                },
            )
        )
    return out


def run(label: str, url: str, items: list[RequestDraft], threads: int) -> None:
    migrate(url)
    engine = create_store_engine(url, **({"pool_size": threads} if "postgres" in url else {}))
    service = RequestService(session_factory(engine), load_directory())
    for name, expect_created in (("new", True), ("duplicate", False)):
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            outcomes = list(pool.map(service.submit, items))
        elapsed = time.perf_counter() - started
        assert all(o.created is expect_created for o in outcomes)
        print(
            f"{label:<10} {name:<9} {len(items):>6} confirmations, {threads} threads: "
            f"{len(items) / elapsed:8.0f}/s  ({elapsed * 1000 / len(items):.2f} ms each)"
        )
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    items = drafts(args.count)

    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", items, args.threads)

    with temporary_postgres("bench_requests") as url:  # TEST_DATABASE_URL's server
        run("postgresql", url, items, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
