from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, inspect, select

from bot.requests.db import downgrade, migrate
from bot.requests.schema import outbox, sim_requests, teams
from tests_support.databases import temporary_postgres

TABLES = {"teams", "sim_requests", "request_events", "outbox", "team_messages"}


def test_migrate_is_idempotent_and_reversible(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    migrate(url)  # every start-up calls it
    engine = create_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
        assert names >= TABLES
        assert "events" not in names  # Rasa's tracker store owns that name
        indexes = {i["name"]: i for i in inspect(engine).get_indexes("sim_requests")}
        assert indexes["uq_sim_requests_open_phone_type"]["unique"]
        downgrade(url, "base")
        assert not set(inspect(engine).get_table_names()) & TABLES
        migrate(url)
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_postgres_has_the_partial_unique_index(store_url):
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name != "postgresql":
                ddl = conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'uq_sim_requests_open_phone_type'"
                ).scalar_one()
            else:
                ddl = conn.exec_driver_sql(
                    "SELECT indexdef FROM pg_indexes "
                    "WHERE indexname = 'uq_sim_requests_open_phone_type'"
                ).scalar_one()
        assert "UNIQUE" in ddl.upper()
        assert "WHERE" in ddl.upper() and "done" in ddl
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request, tmp_path) -> Iterator[str]:
    """An empty database: nothing migrated yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with temporary_postgres("migrations_test") as url:
        yield url


def test_requests_escalated_before_0006_keep_their_time(fresh_url):
    migrate(fresh_url, "0005_campaign_funnel")
    engine = create_engine(fresh_url)
    early = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)
    late = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    request = {
        "request_type": "sim_swap",
        "status": "assigned",
        "province_code": "01",
        "channel": "rest",
        "sender_id": "s",
        "team_id": "p01",
        "route_rule": "province:01",
        "created_by": "bot",
        "created_at": early,
        "updated_at": early,
    }
    try:
        with engine.begin() as conn:
            conn.execute(
                teams.insert().values(id="p01", name="Hà Nội", kind="province", updated_at=early)
            )
            for n in (1, 2):
                conn.execute(
                    sim_requests.insert().values(
                        id=n, reference=f"4G-AAAA-AAA{n}", phone_e164=f"+8490312345{n}", **request
                    )
                )
            for at in (late, early):  # escalated twice before the fix: the first counts
                conn.execute(
                    outbox.insert().values(
                        request_id=1,
                        team_id="p01",
                        kind="escalation",
                        payload={},
                        next_attempt_at=at,
                        created_at=at,
                    )
                )

        migrate(fresh_url)

        with engine.connect() as conn:
            query = select(sim_requests.c.id, sim_requests.c.escalated_at)
            escalated = {row.id: row.escalated_at for row in conn.execute(query)}
        assert escalated[1].replace(tzinfo=timezone.utc) == early
        assert escalated[2] is None
        indexes = {i["name"] for i in inspect(engine).get_indexes("sim_requests")}
        assert "ix_sim_requests_awaiting_escalation" in indexes

        downgrade(fresh_url, "0005_campaign_funnel")
        inspector = inspect(engine)
        assert "escalated_at" not in {c["name"] for c in inspector.get_columns("sim_requests")}
        unique = {i["name"]: i for i in inspector.get_indexes("sim_requests")}
        assert unique["uq_sim_requests_open_phone_type"]["unique"]
        migrate(fresh_url)
    finally:
        engine.dispose()
