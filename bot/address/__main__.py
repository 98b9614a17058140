"""``python -m bot.address "text"`` (or ``python -m bot address "text"``): print the JSON."""

from __future__ import annotations

import argparse
import json
import sys

from bot.address.resolver import resolve, resolve_in_province


def main(argv: list[str] | None = None) -> int:
    """Resolve each address given on the command line and print one JSON object per line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "address":
        args = args[1:]
    parser = argparse.ArgumentParser(
        prog="python -m bot address", description="Resolve a Vietnamese address."
    )
    parser.add_argument("text", nargs="+", help="address as typed (one argument per address)")
    parser.add_argument("--province", help="current province code the address lies in")
    options = parser.parse_args(args)
    for text in options.text:
        result = resolve_in_province(text, options.province) if options.province else resolve(text)
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
