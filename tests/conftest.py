"""Fixtures shared by the whole suite: Rasa SDK tracker, dispatcher and domain.

Action tests build a real ``rasa_sdk.Tracker`` from slot values and a latest message,
run the action, and assert on the returned events and on
``dispatcher.messages[i]["response"]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """The real domain.yml as the action server receives it."""
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


TrackerFactory = Callable[..., Tracker]


@pytest.fixture
def tracker_for(domain: dict[str, Any]) -> TrackerFactory:
    """Build a tracker: ``tracker_for(slots={...}, text="...", intent="inform")``; ``events``
    come before the latest message."""

    def build(
        *,
        slots: dict[str, Any] | None = None,
        text: str = "",
        intent: str = "inform",
        entities: list[dict[str, Any]] | None = None,
        channel: str = "rest",
        sender_id: str = "test-user",
        active_loop: str | None = None,
        parsed: dict[str, Any] | None = None,
        events: list[dict[str, Any]] | None = None,
    ) -> Tracker:
        values = {name: None for name in domain["slots"]}
        values["requested_slot"] = None
        values.update(slots or {})
        return Tracker(
            sender_id,
            values,
            {
                "text": text,
                "intent": {"name": intent, "confidence": 1.0},
                "entities": entities or [],
                **(parsed or {}),  # more of the NLU's output ("response_selector")
            },
            [*(events or []), {"event": "user", "text": text, "input_channel": channel}],
            False,
            None,
            {"name": active_loop} if active_loop else {},
            "action_listen",
        )

    return build


@pytest.fixture
def store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite request store for actions that submit requests."""
    url = f"sqlite:///{tmp_path / 'requests.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    import bot.requests.service as service

    monkeypatch.setattr(service, "_service", None, raising=False)
    monkeypatch.setattr(service, "_engine", None, raising=False)
    yield url
    if getattr(service, "_engine", None) is not None:
        service._engine.dispose()


def postgres_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
