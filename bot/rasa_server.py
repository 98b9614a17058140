"""``python -m bot.rasa_server <rasa run arguments>``: Rasa's own command line, with the
HTTP API token taken from the environment.

Rasa reads its API token only from ``--auth-token``, and a command line is world-readable
(``ps``, ``/proc/<pid>/cmdline``) while a process's environment is readable by its owner
only. The launcher therefore hands the token over in ``RASA_AUTH_TOKEN``; this adds it to
the arguments inside the process, after the exec that published the command line, and
runs ``rasa`` as ``python -m rasa`` would. Rasa is run by module name, not imported: the
domain core does not depend on it.
"""

from __future__ import annotations

import os
import runpy
import sys

TOKEN_ENV = "RASA_AUTH_TOKEN"  # noqa: S105 - the name of the variable, not a secret


def arguments(argv: list[str], environ: dict[str, str]) -> list[str]:
    """Rasa's ``sys.argv``: ours with the token of ``environ`` appended."""
    token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise SystemExit(f"error: {TOKEN_ENV} is not set; the Rasa HTTP API needs a token")
    if any(arg == "--auth-token" or arg.startswith("--auth-token=") for arg in argv):
        raise SystemExit("error: pass the token in the environment, not on the command line")
    # One argument, "--auth-token=…": a generated token starts with "-" one time in 64
    # (URL-safe alphabet), which Rasa's parser would take for an option after a space.
    return ["rasa", *argv, f"--auth-token={token}"]


def main() -> None:
    sys.argv = arguments(sys.argv[1:], dict(os.environ))
    runpy.run_module("rasa", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
