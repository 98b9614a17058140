"""Campaign benchmark: import a synthetic target list, then compute its funnel.

    .venv/bin/python bench/campaign.py [--rows 1000000] [--url postgresql://...]

Generates a CSV (random valid numbers, structured ward/district/province columns and a
street address, built from ``bot.address`` unit names; ~0.5 % bad rows) in a temporary
folder, imports it into a fresh PostgreSQL database created and dropped here, and prints
rows/s (target ≥ 20,000/s), peak RSS, and the time of the funnel over every target
marked invited (target ≤ 2 s).

Baselines, measured in the same run: for the import, the same rows validated the naive
way (``bot.phone.parse`` and the unit look-up / address resolver on every row, no
memo, no database) on a sample; for the funnel, :func:`funnel.funnel_direct` — the
previous method, ``count(column)`` over the targets with ``GROUPING SETS`` — against
the pre-aggregated counts :func:`funnel.funnel` reads. Also the load average, since the
machine is shared.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import phone as phones
from bot.address import resolve
from bot.address.data import OLD_DISTRICT, OLD_PROVINCE, OLD_WARD, PROVINCE, WARD, load
from bot.campaign import funnel
from bot.campaign.importer import import_targets
from bot.campaign.units import lookup
from bot.requests.db import create_store_engine, migrate
from bot.routing import default_directory

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


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def naive_rate(path: Path, sample: int) -> float:
    """Rows/s of validating the first ``sample`` rows without any memo (no database)."""
    directory = default_directory()
    started = time.perf_counter()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle, delimiter=";")
        next(rows)
        for row in itertools.islice(rows, sample):
            try:
                phones.parse(row[0])
            except phones.InvalidPhoneError:
                continue
            units = (row[2], row[3], row[4])
            found = lookup(*units) or resolve(", ".join(p for p in (row[1], *units) if p))
            if found.province_code:
                directory.route(found.to_dict())
    return sample / (time.perf_counter() - started)


def _best_of(runs: int, work: Callable[[], Any]) -> tuple[float, float, Any]:
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - started)
    return min(timings), max(timings), result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default=DEFAULT_URL, help="server URL (a database is created)")
    parser.add_argument("--naive-sample", type=int, default=10_000)
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
            sample = min(args.naive_sample, args.rows)
            naive = naive_rate(path, sample)
            print(
                f"baseline: naive validation (no memo, no database) of {sample:,} rows: "
                f"{naive:,.0f} rows/s; {_load()}"
            )
            result = import_targets(engine, path, "bench", progress=True)
        print(
            f"import: {result.rows:,} rows, {result.inserted:,} imported, "
            f"{result.rejected:,} rejected in {result.seconds:.1f}s = "
            f"{result.rows_per_second:,.0f} rows/s (target >= 20,000); "
            f"peak RSS {_rss_mb():.0f} MB; {_load()}"
        )
        t0 = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE campaign_targets SET invited_at = :t + (id % 7) * interval '1 day', "
                    "channel = CASE WHEN id % 3 = 0 THEN 'liveinfo' ELSE 'sms' END, "
                    "answered_at = CASE WHEN id % 5 = 0 THEN :t + interval '8 days' END, "
                    "confirmed_at = CASE WHEN id % 20 = 0 THEN :t + (id % 9) * interval '1 day' "
                    "END, done_at = CASE WHEN id % 40 = 0 THEN :t + interval '10 days' END"
                ),
                {"t": t0},
            )
        print(
            f"marking every target invited (one UPDATE, counts kept by the trigger): "
            f"{time.perf_counter() - started:.1f}s"
        )
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE campaign_targets")
            )
        started = time.perf_counter()
        first = funnel.funnel(engine, "bench")
        folding = time.perf_counter() - started
        best, worst, rows = _best_of(3, lambda: funnel.funnel(engine, "bench"))
        d_best, d_worst, direct = _best_of(3, lambda: funnel.funnel_direct(engine, "bench"))
        assert rows == direct == first, "pre-aggregated and direct funnels differ"
        total = next(r for r in rows if r.dimension == "campaign").counts
        print(
            f"funnel: {total['invited']:,} invited, {len(rows)} groups "
            f"(campaign, channel, province, store): pre-aggregated {best:.3f}s best / "
            f"{worst:.3f}s worst of 3 (first call, folding the deltas: {folding:.3f}s); "
            f"baseline direct count {d_best:.2f}s best / {d_worst:.2f}s worst of 3 "
            f"(target <= 2 s); same figures: yes; {_load()}"
        )
        best, worst, days = _best_of(3, lambda: funnel.daily(engine, "bench"))
        d_best, _, direct_days = _best_of(1, lambda: funnel.daily_direct(engine, "bench"))
        assert days == direct_days, "pre-aggregated and direct daily figures differ"
        print(
            f"per day: {len(days)} days, pre-aggregated {best:.3f}s best / {worst:.3f}s "
            f"worst of 3; baseline direct {d_best:.2f}s"
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
