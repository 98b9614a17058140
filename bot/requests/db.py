"""Engines, sessions and schema migration for the request store.

The engine is built when a process starts (never at import), one per URL; every unit
of work is its own ``Session.begin()`` block. SQLite (the embedded default) gets WAL
and a busy timeout so the action server, console and dispatcher can share the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_store_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the settings the store relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            future=True,
            connect_args={"timeout": 30, "check_same_thread": False},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    # No pre-ping round trip per checkout (it halved throughput); recycle instead, and a
    # dropped connection fails one unit of work, which the caller's retry covers.
    kwargs.setdefault("pool_recycle", 1800)
    return create_engine(url, future=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for units of work: ``with factory.begin() as session: ...``."""
    return sessionmaker(engine, future=True, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the package's migrations (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser treats % as interpolation; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` up to ``revision``; safe to call at every start-up."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Step the schema back (used by tests of the migrations)."""
    command.downgrade(alembic_config(url), revision)
