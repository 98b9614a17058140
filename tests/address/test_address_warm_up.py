"""The tables built on first use are built ahead by ``warm_up``, and the action server
starts it: the first customer's address then costs what the others do.

Each check runs in a fresh interpreter, where nothing has been built yet."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from bot.address import resolver

ROOT = Path(__file__).resolve().parents[2]
COUNT = len(resolver._TABLES) + 1  # and the units' tables (data._load)

_BUILT = """
from bot.address import data, resolver
builders = (data._load, *resolver._TABLES)
print(sum(b.cache_info().currsize for b in builders), len(builders))
"""


def test_the_warm_up_list_holds_every_table_built_on_first_use() -> None:
    # Every argument-less function of the resolver cached for the process is a table.
    source = ast.parse((ROOT / "bot" / "address" / "resolver.py").read_text(encoding="utf-8"))
    tables = {
        node.name
        for node in source.body
        if isinstance(node, ast.FunctionDef)
        and not node.args.args
        and any(isinstance(d, ast.Name) and d.id == "cache" for d in node.decorator_list)
    }
    assert tables == {build.__name__ for build in resolver._TABLES}


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_nothing_is_built_before_the_first_address() -> None:
    assert _run("import bot.address\n" + _BUILT).split() == ["0", str(COUNT)]


def test_warm_up_builds_every_table() -> None:
    assert _run("import bot.address\nbot.address.warm_up()\n" + _BUILT).split() == [
        str(COUNT),
        str(COUNT),
    ]


def test_the_action_server_warms_up_when_it_starts() -> None:
    # Importing the actions (as the action server does) starts the warm-up thread.
    code = (
        "import threading, actions.services\n"
        "[t.join() for t in threading.enumerate() if t.name == 'address-warm-up']\n" + _BUILT
    )
    assert _run(code).split() == [str(COUNT), str(COUNT)]


def test_warm_up_puts_the_tables_out_of_the_collectors_reach() -> None:
    # Frozen objects are in no generation: a full collection no longer walks the tables.
    code = (
        "import gc\nfrom bot.address import data, warm_up\n"
        "tables = data.load()\n"
        "print(any(o is tables for o in gc.get_objects()), gc.get_freeze_count() > 0)\n"
        "warm_up()\n"
        "print(any(o is tables for o in gc.get_objects()), gc.get_freeze_count() > 200_000)\n"
    )
    assert _run(code).split() == ["True", "False", "False", "True"]
