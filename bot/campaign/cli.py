"""``python -m bot campaign ...``: import, export, funnel, check-templates, opt-out.

Every database command migrates the schema first (safe at every start) and takes
``--url`` (default: ``DATABASE_URL`` or the embedded SQLite file).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TextIO

from bot.requests.db import create_store_engine, migrate


def _url(explicit: str | None) -> str:
    if explicit:
        return explicit
    from bot.settings import Settings

    return Settings.from_env().database_url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot campaign")
    commands = parser.add_subparsers(dest="command", required=True)
    url_help = "database URL (default: DATABASE_URL or var/requests.db)"

    imp = commands.add_parser("import", help="import a target list (CSV) into a campaign")
    imp.add_argument("file", type=Path)
    imp.add_argument("--campaign", required=True)
    imp.add_argument("--rejects", type=Path, help="rejects CSV (default FILE.rejects.csv)")
    imp.add_argument("--script", help="outbound-call script reference of the campaign")
    imp.add_argument("--directory", help="routing directory (default config/directory.yml)")
    imp.add_argument("--no-progress", action="store_true")
    imp.add_argument("--url", help=url_help)

    exp = commands.add_parser("export", help="one call list per store/team (CSV)")
    exp.add_argument("--campaign", required=True)
    exp.add_argument("--by", choices=("store", "province"), default="store")
    exp.add_argument("--out", type=Path, default=Path("call-lists"))
    exp.add_argument("--script", help="outbound-call script reference to print")
    exp.add_argument("--url", help=url_help)

    fun = commands.add_parser("funnel", help="funnel counts per campaign/channel/province/store")
    fun.add_argument("--campaign", required=True)
    fun.add_argument("--format", choices=("table", "csv"), default="table")
    fun.add_argument("--no-sync", action="store_true", help="skip copying request steps")
    fun.add_argument("--url", help=url_help)

    chk = commands.add_parser("check-templates", help="check invitation templates' lengths")
    chk.add_argument("path", nargs="?", help="templates file (default data/campaign/...)")

    opt = commands.add_parser("opt-out", help="never invite these numbers again")
    opt.add_argument("phones", nargs="+")
    opt.add_argument("--source", default="cskh")
    opt.add_argument("--url", help=url_help)

    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point; ``argv[0]`` is ``campaign``."""
    stream = out or sys.stdout
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "campaign":
        args_list = args_list[1:]
    args = _parser().parse_args(args_list)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "check-templates":
        return _check_templates(args.path, stream)
    url = _url(args.url)
    migrate(url)
    engine = create_store_engine(url)
    try:
        if args.command == "import":
            return _import(engine, args, stream)
        if args.command == "export":
            from bot.campaign.segment import export_call_lists

            lists = export_call_lists(
                engine, args.campaign, args.out, by=args.by, script_ref=args.script
            )
            for item in lists:
                print(f"{item.path}\t{item.rows}\t{item.name}", file=stream)
            print(f"{len(lists)} files, {sum(i.rows for i in lists)} subscribers", file=stream)
            return 0
        if args.command == "funnel":
            from bot.campaign import funnel

            if not args.no_sync:
                funnel.sync(engine, args.campaign)
            rows = funnel.funnel(engine, args.campaign)
            text = funnel.to_csv(rows) if args.format == "csv" else funnel.to_table(rows)
            print(text, file=stream, end="" if args.format == "csv" else "\n")
            return 0
        if args.command == "opt-out":
            return _opt_out(engine, args.phones, args.source, stream)
    finally:
        engine.dispose()
    return 2


def _import(engine: object, args: argparse.Namespace, stream: TextIO) -> int:
    from bot.campaign.importer import ImportFileError, import_targets
    from bot.routing import load_directory

    directory = load_directory(args.directory) if args.directory else None
    try:
        result = import_targets(
            engine,
            args.file,
            args.campaign,
            directory=directory,
            rejects_path=args.rejects,
            progress=not args.no_progress,
            script_ref=args.script,
        )
    except (ImportFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{result.rows} rows: {result.inserted} imported, {result.duplicates} already in the "
        f"campaign, {result.rejected} rejected ({result.rejects_path}) "
        f"in {result.seconds:.1f}s ({result.rows_per_second:,.0f} rows/s)",
        file=stream,
    )
    for reason, count in sorted(result.reasons.items(), key=lambda kv: -kv[1]):
        print(f"  rejected: {reason}: {count}", file=stream)
    return 0


def _check_templates(path: str | None, stream: TextIO) -> int:
    from bot.campaign.templates import check, describe, load_templates

    templates = load_templates(path)
    for line in describe(templates):
        print(line, file=stream)
    problems = check(templates)
    for problem in problems:
        print(f"{templates.source}: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _opt_out(engine: object, numbers: list[str], source: str, stream: TextIO) -> int:
    from bot import phone as phones
    from bot.campaign.store import opt_out

    failed = 0
    for raw in numbers:
        try:
            e164 = phones.parse(raw).e164
        except phones.InvalidPhoneError as exc:
            print(f"{phones.mask(raw)}: {exc}", file=sys.stderr)
            failed += 1
            continue
        opt_out(engine, e164, source)
        print(f"{phones.mask(e164)} opted out", file=stream)
    return 1 if failed else 0
