"""``python -m bot.console``: serve the console (default 127.0.0.1:8080) until SIGINT/SIGTERM.

``python -m bot.console add-user NAME --role team --province 01`` adds or replaces an
account in ``config/console_users.yml`` (the password is read from the terminal, or
from stdin with ``--password-stdin``).

Environment: CONSOLE_PORT (8080), CONSOLE_HOST (127.0.0.1), CONSOLE_SECRET (cookie key;
generated into var/ when unset), CONSOLE_USERS_FILE (config/console_users.yml),
CONSOLE_COOKIE_SECURE (1 behind HTTPS), TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE_URL,
TELEGRAM_WEBHOOK_SECRET (enables POST /telegram/webhook), DATABASE_URL, DIRECTORY_PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from bot.console.app import create_app
from bot.console.auth import ROLES, UsersFileError, UserStore, add_user, bootstrap_admin
from bot.dispatch.__main__ import telegram_from_env
from bot.settings import ROOT, VAR, Settings, _secret

log = logging.getLogger("bot.console")
DEFAULT_USERS = ROOT / "config" / "console_users.yml"


def users_path() -> Path:
    return Path(os.environ.get("CONSOLE_USERS_FILE", "").strip() or DEFAULT_USERS)


async def serve() -> None:
    """Run the console until a signal asks it to stop."""
    settings = Settings.from_env()
    users = bootstrap_admin(UserStore.load(users_path()), VAR)
    app = create_app(
        users=users,
        secret=_secret("CONSOLE_SECRET", "console-secret"),
        database_url=settings.database_url,
        telegram=telegram_from_env(),
        webhook_secret=os.environ.get("TELEGRAM_WEBHOOK_SECRET", "").strip() or None,
        cookie_secure=os.environ.get("CONSOLE_COOKIE_SECURE", "") in {"1", "true", "yes"},
    )
    host = os.environ.get("CONSOLE_HOST", "127.0.0.1").strip() or "127.0.0.1"
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, settings.console_port)
    await site.start()
    log.info("console: serving on http://%s:%d/", host, settings.console_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        log.info("console: stopped")


def add_user_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.console add-user")
    parser.add_argument("username")
    parser.add_argument("--role", choices=ROLES, required=True)
    parser.add_argument("--province", help="province code of a team account, e.g. 01")
    parser.add_argument("--name", help="display name")
    parser.add_argument("--password-stdin", action="store_true")
    parser.add_argument("--file", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Mật khẩu: ")
        if getpass.getpass("Nhập lại: ") != password:
            print("Mật khẩu không khớp.", file=sys.stderr)
            return 2
    if len(password) < 10:
        print("Mật khẩu cần ít nhất 10 ký tự.", file=sys.stderr)
        return 2
    path = args.file or users_path()
    try:
        if args.role == "team":
            from bot.routing import load_directory

            codes = set(load_directory(os.environ.get("DIRECTORY_PATH") or None).provinces)
            if args.province not in codes:
                print(f"Mã tỉnh không có trong danh bạ: {args.province}", file=sys.stderr)
                return 2
        add_user(path, args.username, args.role, password, args.province, args.name)
    except UsersFileError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"Đã lưu tài khoản {args.username} ({args.role}) vào {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs request URLs, and Bot API URLs carry the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args and args[0] == "add-user":
        return add_user_command(args[1:])
    if args and args[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
