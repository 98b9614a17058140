"""Pre-aggregated funnel (PostgreSQL triggers) against counting the targets directly.

Every kind of write the campaign sees — import (COPY + INSERT), ``record_step``,
``opt_out``, ``funnel.sync``, bulk UPDATEs that move targets between channels and
stores, a renamed store, deletes, TRUNCATE — must leave :func:`funnel.funnel` and
:func:`funnel.daily` equal to :func:`funnel.funnel_direct` / :func:`funnel.daily_direct`,
whether the deltas are folded or still pending.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.engine import Engine

from bot.campaign import aggregates, funnel
from bot.campaign.funnel import Scope
from bot.campaign.importer import import_targets
from bot.campaign.schema import campaign_targets
from bot.campaign.store import opt_out, record_step
from bot.outreach import Answer, OutreachStore
from bot.requests.db import create_store_engine, downgrade, migrate
from bot.requests.schema import request_events
from tests.campaign.conftest import TABLES, insert_request, insert_team, write_csv
from tests_support.databases import temporary_postgres

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 5, 16, 30, tzinfo=UTC)  # 23:30 in Vietnam: days differ from UTC
WARDS = (
    ("Phường Ba Đình", "Hà Nội"),
    ("Phường Ngọc Hà", "Hà Nội"),
    ("Phường Hải Châu", "Đà Nẵng"),
    ("", "Đà Nẵng"),
    ("", "Hồ Chí Minh"),
    ("Phường Bến Thành", "Hồ Chí Minh"),
    ("", ""),
)
SCOPES = (
    Scope(),
    Scope(province="01"),
    Scope(province="79"),
    Scope(channel="sms"),
    Scope(store="st-hn-badinh"),
    Scope(province="48", channel="zalo"),
)


@pytest.fixture
def pg(campaign_pg_url: str) -> Iterator[Engine]:
    engine = create_store_engine(campaign_pg_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE"))
    yield engine
    engine.dispose()


def _import(engine: Engine, tmp_path, name: str, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    lines = ["phone;ward;province"]
    for i in range(rows):
        ward, province = rng.choice(WARDS)
        lines.append(f"090{seed}{i:06d};{ward};{province}")
    result = import_targets(
        engine, write_csv(tmp_path / f"{name}.csv", "\n".join(lines) + "\n"), name, progress=False
    )
    assert result.inserted == rows


def _agree(engine: Engine, campaign: str) -> None:
    for scope in SCOPES:
        assert funnel.funnel(engine, campaign, scope) == funnel.funnel_direct(
            engine, campaign, scope
        ), scope
        assert funnel.daily(engine, campaign, scope) == funnel.daily_direct(
            engine, campaign, scope
        ), scope


def _phones(engine: Engine, campaign_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.scalars(
                select(campaign_targets.c.phone_e164)
                .where(campaign_targets.c.campaign_id == campaign_id)
                .order_by(campaign_targets.c.id)
            )
        )


def _pending(engine: Engine, campaign_id: int = 1) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM campaign_funnel_counts "
                    "WHERE NOT folded AND campaign_id = :c"
                ),
                {"c": campaign_id},
            )
        )


def test_pre_aggregated_counts_equal_direct_counts(pg, tmp_path):
    _import(pg, tmp_path, "c1", 400, 1)
    _import(pg, tmp_path, "c2", 150, 2)  # another campaign: must not leak into c1
    rng = random.Random(3)
    phones = _phones(pg, 1)
    _agree(pg, "c1")
    _agree(pg, "c2")

    # Invitations in bulk, two channels, spread over days (local midnight crossings).
    with pg.begin() as conn:
        conn.execute(
            text(
                "UPDATE campaign_targets SET channel = CASE WHEN id % 3 = 0 THEN 'zalo' "
                "ELSE 'sms' END, invited_at = :t + (id % 4) * interval '7 hours' "
                "WHERE campaign_id = 1 AND id % 5 <> 0"
            ),
            {"t": T0},
        )
    # One step at a time, as the dialogue and the dispatcher do.
    steps = ("answered_at", "conversation_at", "address_at", "accepted_at", "unreachable_at")
    for phone in rng.sample(phones, 120):
        step = rng.choice(steps)
        at = T0 + dt.timedelta(hours=rng.randint(0, 72))
        assert record_step(pg, "c1", phone, step, at=at, channel=rng.choice(["web", None]))
    for phone in rng.sample(phones, 10):
        opt_out(pg, phone, "sms")  # also stamps c2 if the phone is there (it is not)
    OutreachStore(pg).record(
        [Answer(f"a{i}", phone, "c1", "NO", T0) for i, phone in enumerate(phones[:15])]
    )
    with pg.begin() as conn:
        insert_team(conn, "01", "MobiFone Hà Nội", T0)
        for rid, phone in enumerate(phones[20:40], start=1):
            insert_request(
                conn,
                rid,
                phone,
                "done",
                province="01",
                channel="web",
                campaign="c1",
                created_at=T0 + dt.timedelta(days=1),
                updated_at=T0,
            )
            conn.execute(
                insert(request_events).values(
                    request_id=rid, to_status="done", actor="t", created_at=T0
                )
            )
    funnel.sync(pg, "c1")
    assert _pending(pg) > 0

    _agree(pg, "c1")  # folded
    assert _pending(pg) == 0

    # Targets moving between groups — a store renamed, a channel re-labelled, deletes —
    # while another compaction holds the lock: folded rows + pending deltas are exact.
    with pg.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(70050, 1)"))
        with pg.begin() as conn:
            conn.execute(
                update(campaign_targets)
                .where(campaign_targets.c.team_id == "st-hn-badinh")
                .values(team_name="Cửa hàng Ba Đình (mới)")
            )
            conn.execute(
                update(campaign_targets)
                .where(campaign_targets.c.channel == "zalo", campaign_targets.c.id % 2 == 0)
                .values(channel="sms")
            )
            conn.execute(delete(campaign_targets).where(campaign_targets.c.id % 7 == 0))
            conn.execute(  # a target inserted already stamped (daily figures on insert)
                insert(campaign_targets).values(
                    campaign_id=1,
                    phone_e164="+84909999999",
                    province_code="01",
                    team_id="p01",
                    imported_at=T0,
                    invited_at=T0,
                    answered_at=T0 + dt.timedelta(days=2),
                    channel="zalo",
                )
            )
        assert aggregates.compact(pg, 1) is False
        _agree(pg, "c1")
        assert _pending(pg) > 0
        holder.execute(text("SELECT pg_advisory_unlock(70050, 1)"))
    _agree(pg, "c1")
    assert _pending(pg) == 0
    _agree(pg, "c2")
    total = next(r for r in funnel.funnel(pg, "c1") if r.dimension == "campaign").counts
    assert total["targets"] < 400 and total["invited"] > 0 and total["done"] > 0

    with pg.begin() as conn:
        conn.execute(text("TRUNCATE campaign_targets CASCADE"))
    assert all(value == 0 for row in funnel.funnel(pg, "c1") for value in row.counts.values())
    _agree(pg, "c1")


def test_migration_counts_targets_imported_before_it(tmp_path):
    with temporary_postgres("campaign_mig") as url:
        migrate(url)
        engine = create_store_engine(url)
        try:
            _import(engine, tmp_path, "old", 60, 4)
            with engine.begin() as conn:
                conn.execute(
                    update(campaign_targets)
                    .where(campaign_targets.c.id % 2 == 0)
                    .values(invited_at=T0, channel="sms")
                )
            expected = funnel.funnel_direct(engine, "old")
            downgrade(url, "0004_campaign_sends")
            migrate(url)  # the counts are rebuilt from the targets already there
            assert funnel.funnel(engine, "old") == expected
            assert funnel.daily(engine, "old") == funnel.daily_direct(engine, "old")
        finally:
            engine.dispose()


def test_funnel_scope_narrows_every_dimension(engine, tmp_path):
    """Both backends: a province's view only counts that province's targets."""
    _import(engine, tmp_path, "s1", 80, 5)
    whole = funnel.funnel(engine, "s1")
    hanoi = funnel.funnel(engine, "s1", Scope(province="01"))
    provinces = {r.key: r.counts["targets"] for r in whole if r.dimension == "province"}
    assert [r.key for r in hanoi if r.dimension == "province"] == ["01"]
    total = next(r for r in hanoi if r.dimension == "campaign").counts["targets"]
    assert total == provinces["01"]
    stores = [r for r in hanoi if r.dimension == "store"]
    assert stores and all(r.key.startswith(("st-hn", "p01")) for r in stores)
    assert sum(r.counts["targets"] for r in stores) == total
