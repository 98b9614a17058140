"""Campaign benchmark: import a synthetic target list, then compute its funnel.

    .venv/bin/python bench/campaign.py [--rows 1000000] [--url postgresql://...]

Generates a CSV (random valid numbers, structured ward/district/province columns and a
street address, built from ``bot.address`` unit names; ~0.5 % bad rows) in a temporary
folder, imports it into a fresh PostgreSQL database created and dropped here, and prints
rows/s (target ≥ 20,000/s), peak RSS, and the time of the funnel over every target
marked invited (target ≤ 2 s).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.address.data import OLD_DISTRICT, OLD_PROVINCE, OLD_WARD, PROVINCE, WARD, load
from bot.campaign import funnel
from bot.campaign.importer import import_targets
from bot.requests.db import create_store_engine, migrate

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
PREFIXES = ("90", "93", "70", "76", "77", "78", "79")  # 089x is only partly allocated
STREETS = (
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Trãi",
    "Hai Bà Trưng",
    "Quang Trung",
    "Lý Thường Kiệt",
)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """Write ``rows`` subscribers; half old structure (3 levels), half current (2 levels)."""
    rng = random.Random(seed)
    data = load()
    old = [u for (level, _), u in data.units.items() if level == OLD_WARD]
    new = [u for (level, _), u in data.units.items() if level == WARD]
    suffixes = rng.sample(range(10_000_000), rows)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        out = csv.writer(handle, delimiter=";")
        out.writerow(["So dien thoai", "Dia chi", "Phuong/Xa", "Quan/Huyen", "Tinh/Thanh pho"])
        for index, suffix in enumerate(suffixes):
            phone = f"0{PREFIXES[index % len(PREFIXES)]}{suffix:07d}"
            if index % 200 == 199:
                phone = "12345"  # a bad row
            street = f"{rng.randint(1, 300)} {rng.choice(STREETS)}"
            if index % 2:
                ward = rng.choice(old)
                district = data.units[(OLD_DISTRICT, ward.district or "")]
                province = data.units[(OLD_PROVINCE, ward.province)]
                out.writerow([phone, street, ward.name, district.name, province.name])
            else:
                ward = rng.choice(new)
                province = data.units[(PROVINCE, ward.province)]
                out.writerow([phone, street, ward.name, "", province.name])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default=DEFAULT_URL, help="server URL (a database is created)")
    args = parser.parse_args()

    name = f"bench_campaign_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.url, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        engine = create_store_engine(url)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "targets.csv"
            started = time.perf_counter()
            generate(path, args.rows)
            print(
                f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) "
                f"in {time.perf_counter() - started:.1f}s; RSS so far {_rss_mb():.0f} MB"
            )
            load()  # the address tables load once per process; not part of the import rate
            result = import_targets(engine, path, "bench", progress=True)
        print(
            f"import: {result.rows:,} rows, {result.inserted:,} imported, "
            f"{result.rejected:,} rejected in {result.seconds:.1f}s = "
            f"{result.rows_per_second:,.0f} rows/s (target >= 20,000); "
            f"peak RSS {_rss_mb():.0f} MB"
        )
        t0 = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE campaign_targets SET invited_at = :t, "
                    "channel = CASE WHEN id % 3 = 0 THEN 'liveinfo' ELSE 'sms' END, "
                    "answered_at = CASE WHEN id % 5 = 0 THEN :t END, "
                    "confirmed_at = CASE WHEN id % 20 = 0 THEN :t END, "
                    "done_at = CASE WHEN id % 40 = 0 THEN :t END"
                ),
                {"t": t0},
            )
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE campaign_targets")
            )
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            rows = funnel.funnel(engine, "bench")
            timings.append(time.perf_counter() - started)
        total = next(r for r in rows if r.dimension == "campaign").counts
        print(
            f"funnel: {total['invited']:,} invited, {len(rows)} groups "
            f"(campaign, channel, province, store) in {min(timings):.2f}s best / "
            f"{max(timings):.2f}s worst of 3 (target <= 2 s)"
        )
        started = time.perf_counter()
        funnel.sync(engine, "bench")
        print(f"funnel sync (requests/Liveinfo → targets): {time.perf_counter() - started:.2f}s")
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
