"""Throw-away PostgreSQL databases for tests that share one server with other runs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextmanager
def temporary_postgres(prefix: str = "t") -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards.

    The server must be up (``make test`` starts it): an unreachable server is a test
    failure, not a skip.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


STORE_TABLES = ("team_messages", "outbox", "request_events", "sim_requests", "teams")


def empty_store(url: str, tables: tuple[str, ...] = STORE_TABLES) -> None:
    """Empty the request store's tables of a session-wide PostgreSQL database."""
    engine = create_engine(url, future=True)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()
