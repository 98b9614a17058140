"""Shared fixtures for the address resolver tests."""

from __future__ import annotations

import pytest

from bot.address.data import Data, load


@pytest.fixture(scope="session")
def data() -> Data:
    """The indexed unit tables, loaded once for the session (as in production)."""
    return load()
