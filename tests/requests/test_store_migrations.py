from __future__ import annotations

from sqlalchemy import create_engine, inspect

from bot.requests.db import downgrade, migrate

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
