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

from sqlalchemy.engine import Engine

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

    snd = commands.add_parser("send", help="push invitations through the SMS or Liveinfo gateway")
    snd.add_argument("--campaign", required=True)
    snd.add_argument("--channel", choices=("sms", "liveinfo"), required=True)
    snd.add_argument(
        "--rate", required=True, type=_rate, help="gateway calls a second, e.g. 50/s (a ceiling)"
    )
    snd.add_argument("--limit", type=int, help="send at most this many invitations this run")
    snd.add_argument("--template", help="template name (default: the channel's, e.g. sms)")
    snd.add_argument(
        "--link-ttl-hours", type=float, default=168.0, help="lifetime of the personal links"
    )
    snd.add_argument("--gateway-url", help="override SMS_GATEWAY_URL / LIVEINFO_PUSH_URL")
    snd.add_argument("--retry-failed", action="store_true", help="send failed ones again")
    snd.add_argument("--timeout", type=float, default=10.0, help="seconds per gateway call")
    snd.add_argument("--max-attempts", type=int, default=5, help="tries per invitation")
    snd.add_argument("--no-progress", action="store_true")
    snd.add_argument("--url", help=url_help)

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
        if args.command == "send":
            return _send(engine, args, stream)
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


def _rate(value: str) -> float:
    """``50``, ``50/s`` or ``3000/min`` → calls a second."""
    text = value.strip().lower().replace(" ", "")
    per = 1.0
    for suffix, seconds in (("/s", 1.0), ("/sec", 1.0), ("/min", 60.0), ("/m", 60.0)):
        if text.endswith(suffix):
            text, per = text[: -len(suffix)], seconds
            break
    try:
        rate = float(text) / per
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a rate: {value!r} (e.g. 50/s)") from None
    if not rate > 0:
        raise argparse.ArgumentTypeError("the rate must be above 0")
    return rate


def _send(engine: Engine, args: argparse.Namespace, stream: TextIO) -> int:
    import asyncio
    import signal

    from bot.campaign.gateways import HttpGateway, LiveinfoPushGateway, SmsGateway
    from bot.campaign.sender import RetryPolicy, Sender, SendError, SendOptions
    from bot.campaign.store import UnknownCampaign
    from bot.settings import Settings, _secret

    settings = Settings.from_env()
    try:
        gateway: HttpGateway
        if args.channel == "sms":
            url = args.gateway_url or settings.sms_gateway_url
            if not url:
                raise SendError("no SMS gateway: set SMS_GATEWAY_URL (and SMS_GATEWAY_TOKEN)")
            gateway = SmsGateway(url, settings.sms_gateway_token, timeout=args.timeout)
        else:
            url = args.gateway_url or settings.liveinfo_push_url
            if not url or not settings.liveinfo_push_secret:
                raise SendError("no Liveinfo push gateway: set LIVEINFO_PUSH_URL and _SECRET")
            gateway = LiveinfoPushGateway(url, settings.liveinfo_push_secret, timeout=args.timeout)
        options = SendOptions(
            campaign=args.campaign,
            channel=args.channel,
            rate=args.rate,
            limit=args.limit,
            template=args.template,
            link_secret=_secret("WEBCHAT_LINK_SECRET", "webchat-link-secret"),
            page_url=settings.request_page_url,
            hotline=settings.hotline,
            link_ttl=int(args.link_ttl_hours * 3600),
            retry_failed=args.retry_failed,
            retry=RetryPolicy(max_attempts=max(1, args.max_attempts)),
        )
    except (SendError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            sender = Sender(
                engine,
                gateway,
                options,
                progress=None if args.no_progress else sys.stderr,
                stop=stop,
            )
            report = await sender.run()
        finally:
            await gateway.aclose()
        print(report.summary(), file=stream)
        return 0 if not report.failed and not report.interrupted else 3

    try:
        return asyncio.run(run())
    except (SendError, UnknownCampaign) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # database errors quote their parameters: mask the numbers
        from bot.campaign.hooks import redact

        print(f"error: {type(exc).__name__}: {redact(exc)[:500]}", file=sys.stderr)
        print("claimed invitations are kept: run the same command again", file=sys.stderr)
        return 2


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
