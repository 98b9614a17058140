"""``python -m bot db ...`` and ``python -m bot requests ...``: store admin commands.

``db upgrade`` migrates the schema; ``requests export --format jsonl`` prints every
request with full data for audits (an admin command: its output is personal data);
``requests check-directory`` validates the routing directory before it is deployed.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import TextIO

from bot.requests.db import create_store_engine, migrate, session_factory
from bot.requests.service import RequestView, iter_requests


def _url(explicit: str | None) -> str:
    if explicit:
        return explicit
    from bot.settings import Settings

    return Settings.from_env().database_url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot")
    groups = parser.add_subparsers(dest="group", required=True)

    db = groups.add_parser("db", help="request store schema")
    db_commands = db.add_subparsers(dest="command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="migrate the schema to the newest revision")
    upgrade.add_argument("--url", help="database URL (default: DATABASE_URL or var/requests.db)")
    upgrade.add_argument("--revision", default="head")

    requests = groups.add_parser("requests", help="request store admin")
    req_commands = requests.add_subparsers(dest="command", required=True)
    export = req_commands.add_parser("export", help="print every request (full data)")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--url", help="database URL (default: DATABASE_URL or var/requests.db)")
    check = req_commands.add_parser("check-directory", help="validate the routing directory")
    check.add_argument("path", nargs="?", help="directory file (default config/directory.yml)")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point; ``argv[0]`` is the command word ("db" or "requests")."""
    stream = out or sys.stdout
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.group == "db":
        url = _url(args.url)
        migrate(url, args.revision)
        print(f"schema at {args.revision}", file=stream)
        return 0
    if args.command == "check-directory":
        from bot.routing import DirectoryError, load_directory

        try:
            directory = load_directory(args.path)
        except DirectoryError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        print(
            f"{directory.source}: {len(directory.provinces)} provinces, "
            f"{len(directory.wards)} wards, {len(directory.zones)} restricted zones, "
            f"{len(directory.teams)} teams",
            file=stream,
        )
        return 0
    return _export(_url(args.url), args.format, stream)


def _export(url: str, fmt: str, stream: TextIO) -> int:
    migrate(url)
    engine = create_store_engine(url)
    try:
        rows = iter_requests(session_factory(engine))
        if fmt == "jsonl":
            for view in rows:
                stream.write(json.dumps(view.to_dict(), ensure_ascii=False, sort_keys=True))
                stream.write("\n")
        else:
            writer: csv.DictWriter[str] | None = None
            for view in rows:
                data = _flat(view)
                if writer is None:
                    writer = csv.DictWriter(stream, fieldnames=list(data))
                    writer.writeheader()
                writer.writerow(data)
    finally:
        engine.dispose()
    return 0


def _flat(view: RequestView) -> dict[str, object]:
    data = view.to_dict()
    data["units"] = json.dumps(data["units"], ensure_ascii=False) if data["units"] else ""
    return data
