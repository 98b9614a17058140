"""``python -m bot.dispatch``: the dispatcher worker, until SIGINT/SIGTERM.

Environment: TELEGRAM_BOT_TOKEN (unset: log once, leave the outbox pending),
TELEGRAM_API_BASE_URL (default https://api.telegram.org/bot, a fake in tests),
TELEGRAM_UPDATES (polling | webhook), DISPATCH_SLA_MINUTES, DISPATCH_WORKING_HOURS,
DISPATCH_WORKDAYS, DISPATCH_INTERVAL_SECONDS, DATABASE_URL, DIRECTORY_PATH.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from bot.dispatch.store import open_store
from bot.dispatch.telegram import TelegramClient
from bot.dispatch.worker import DispatchConfig, Dispatcher
from bot.settings import Settings

log = logging.getLogger("bot.dispatch")


def telegram_from_env(poll_timeout: int = 25) -> TelegramClient | None:
    """The bot client, or ``None`` when no token is configured."""
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        return None
    base_url = os.environ.get("TELEGRAM_API_BASE_URL", "").strip() or None
    return TelegramClient(token, base_url=base_url, poll_timeout=poll_timeout)


async def serve() -> None:
    """Run the worker until a signal asks it to stop."""
    settings = Settings.from_env()
    config = DispatchConfig.from_env()
    store = await asyncio.to_thread(open_store, settings.database_url)
    telegram = telegram_from_env(config.poll_timeout)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    dispatcher = Dispatcher(store.service, store.sessions, telegram, config)
    log.info(
        "dispatch: started (SLA %d min, updates by %s)",
        config.sla_minutes,
        "polling" if config.poll_updates else "webhook",
    )
    try:
        await dispatcher.run_forever(stop)
    finally:
        if telegram is not None:
            await telegram.close()
        store.close()
        log.info("dispatch: stopped")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL, and Bot API URLs carry the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
