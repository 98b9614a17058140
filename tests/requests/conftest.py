"""Fixtures for the request store: the same tests run on SQLite and PostgreSQL.

PostgreSQL tests get a uniquely named database per session (created and dropped
here), because other engineers' test runs share the server; tables are emptied
between tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bot.requests import RequestService
from bot.requests.db import create_store_engine, migrate, session_factory
from bot.routing import Directory, load_directory
from tests_support.databases import empty_store, temporary_postgres

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _render(url) -> str:
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session (dropped after)."""
    with temporary_postgres("requests_test") as url:
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def directory() -> Directory:
    return load_directory()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> Iterator[str]:
    """A migrated, empty store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'requests.db'}"
        migrate(url)
        yield url
        return
    url = request.getfixturevalue("pg_url")
    empty_store(url)
    yield url


@pytest.fixture
def engine(store_url):
    engine = create_store_engine(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    return session_factory(engine)


@pytest.fixture
def service(sessions, directory) -> RequestService:
    return RequestService(sessions, directory)


@pytest.fixture
def pg_service(pg_url, directory) -> Iterator[RequestService]:
    """PostgreSQL only (races between sessions)."""
    empty_store(pg_url)
    engine = create_store_engine(pg_url, pool_size=20)
    yield RequestService(session_factory(engine), directory)
    engine.dispose()
