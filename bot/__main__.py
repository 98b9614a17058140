"""``python -m bot <command>``: the operator's entry points, one sub-command each.

Sub-commands live with the package that owns them and are imported only when used,
so ``python -m bot db upgrade`` does not load the Telegram client.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("bot.launcher", "start Rasa, the action server, the console and the dispatcher"),
    "db": ("bot.requests.cli", "request store schema: db upgrade"),
    "requests": ("bot.requests.cli", "request store admin: requests export --format jsonl"),
    "address": ("bot.address.__main__", 'resolve an address: address "text"'),
    "publish": ("bot.publish", "check, train, test the script and load it into the running bot"),
    "rollback": ("bot.publish", "put the previously published model back in service"),
    "campaign": ("bot.campaign.cli", "campaign outreach: import, export, funnel, check-templates"),
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the sub-command's ``main(argv)``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"} or args[0] not in COMMANDS:
        print("usage: python -m bot <command> [args]\n")
        for name, (_, help_text) in COMMANDS.items():
            print(f"  {name:<10} {help_text}")
        return 0 if not args or args[0] in {"-h", "--help"} else 2
    module = importlib.import_module(COMMANDS[args[0]][0])
    return int(module.main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
