"""Alembic environment: the URL comes from the Config (``migrate(url)``) or Settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from bot.requests.db import create_store_engine
from bot.requests.schema import metadata

# Any constant: serialises concurrent migrations of replicas starting together.
_PG_MIGRATION_LOCK = 4_474_001


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from bot.settings import Settings

    return Settings.from_env().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_store_engine(_url())
    try:
        with engine.connect() as connection:
            is_pg = connection.dialect.name == "postgresql"
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                if is_pg:
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                    )
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
