"""Open the request store for a long-running process (dispatcher, console).

The engine is created when the process starts, never at import; the schema is migrated
first so a fresh ``make run`` works on an empty SQLite file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.requests import RequestService
from bot.requests.db import create_store_engine, migrate, session_factory
from bot.routing import Directory, load_directory


@dataclass
class Store:
    """Engine, session factory and service of one process."""

    engine: Engine
    sessions: sessionmaker[Session]
    service: RequestService

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str, directory: Directory | None = None, migrate_first: bool = True) -> Store:
    """Migrate (unless told not to), connect, and build the service over the directory
    (``DIRECTORY_PATH`` or the shipped ``config/directory.yml``)."""
    if migrate_first:
        migrate(url)
    engine = create_store_engine(url)
    sessions = session_factory(engine)
    if directory is None:
        directory = load_directory(os.environ.get("DIRECTORY_PATH") or None)
    return Store(engine, sessions, RequestService(sessions, directory))
