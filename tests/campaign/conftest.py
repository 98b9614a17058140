"""Campaign fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL gets a uniquely named database per session (other engineers share the
server), created and dropped here; a server that is down fails the tests, it does not
skip them.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Connection, Engine, make_url

from bot.requests.db import create_store_engine, migrate
from bot.requests.schema import sim_requests, teams

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TABLES = (
    "campaign_sends",
    "campaign_targets",
    "campaign_optouts",
    "campaigns",
    "liveinfo_answers",
    "team_messages",
    "outbox",
    "request_events",
    "sim_requests",
    "teams",
)


@pytest.fixture(scope="session")
def campaign_pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this session (failure if no server)."""
    name = f"campaign_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'campaign.db'}"
        migrate(url)
        yield url
        return
    url = request.getfixturevalue("campaign_pg_url")
    engine = create_engine(url, future=True)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_store_engine(db_url)
    yield engine
    engine.dispose()


def write_csv(path: Path, text_: str, *, bom: bool = False) -> Path:
    """Write a CSV file as operators' tools do (optionally with Excel's BOM)."""
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text_.encode("utf-8"))
    return path


def insert_team(conn: Connection, province: str, name: str, at: dt.datetime) -> None:
    """The province team ``p<province>`` that :func:`insert_request` routes to."""
    conn.execute(insert(teams).values(id=f"p{province}", name=name, kind="province", updated_at=at))


def insert_request(
    conn: Connection,
    rid: int,
    phone: str,
    status: str,
    *,
    created_at: dt.datetime,
    updated_at: dt.datetime,
    province: str = "48",
    channel: str = "rest",
    campaign: str | None = None,
) -> None:
    """A stored SIM-swap request of ``phone``, routed to its province team, as the
    request service writes it (what segmentation and the funnel read)."""
    conn.execute(
        insert(sim_requests).values(
            id=rid,
            reference=f"R{rid}",
            request_type="sim_swap",
            status=status,
            phone_e164=phone,
            province_code=province,
            channel=channel,
            sender_id=f"s{rid}",
            campaign=campaign,
            team_id=f"p{province}",
            route_rule=f"province:{province}",
            created_by="test",
            created_at=created_at,
            updated_at=updated_at,
        )
    )
