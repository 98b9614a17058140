"""The tables built on first use are built ahead by ``warm_up``, and the action server
starts it: the first customer's address then costs what the others do.

Each check runs in a fresh interpreter, where nothing has been built yet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_BUILT = """
from bot.address import data, resolver
builders = (data._load, resolver._syllables, resolver._syllable_deletes,
            resolver._marker_typos, resolver._marker_syllables,
            resolver._pair_marker_typos, resolver._abbreviation_typos,
            resolver._street_typos)
print(sum(b.cache_info().currsize for b in builders), len(builders))
"""


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_nothing_is_built_before_the_first_address() -> None:
    assert _run("import bot.address\n" + _BUILT).split() == ["0", "8"]


def test_warm_up_builds_every_table() -> None:
    assert _run("import bot.address\nbot.address.warm_up()\n" + _BUILT).split() == ["8", "8"]


def test_the_action_server_warms_up_when_it_starts() -> None:
    # Importing the actions (as the action server does) starts the warm-up thread.
    code = (
        "import threading, actions.services\n"
        "[t.join() for t in threading.enumerate() if t.name == 'address-warm-up']\n" + _BUILT
    )
    assert _run(code).split() == ["8", "8"]
