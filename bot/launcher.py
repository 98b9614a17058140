"""``python -m bot run``: start every process of the product on one machine.

Rasa (channels + HTTP API behind a token), the action server, the team console and
the Telegram dispatcher run as child processes; Ctrl-C (or SIGTERM, or any child
dying) stops them all. Configuration comes from ``bot.settings`` so the same command
runs on embedded defaults or against PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bot.rasa_server import TOKEN_ENV
from bot.settings import ROOT, VAR, Settings

SERVICES = ("actions", "rasa", "console", "dispatch")
_VAR_REF = re.compile(r"\$\{([^}]+)\}")


def _refs(value: object) -> set[str]:
    """Every ``${NAME}`` a credentials block expands."""
    if isinstance(value, dict):
        return set().union(*(_refs(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value)) if value else set()
    return set(_VAR_REF.findall(value)) if isinstance(value, str) else set()


# Keys a channel works without: the platform's API address, which only a test or a
# proxy overrides. Unset, the key is dropped and the connector uses the real platform.
OPTIONAL_KEYS = frozenset({"graph-url", "api-url", "oauth-url", "base_url"})


def enabled_credentials(source: Path, env: dict[str, str]) -> tuple[dict[str, object], list[str]]:
    """The channels of ``credentials.yml`` whose secrets are all set, and those skipped.

    A channel without its secrets cannot verify its webhooks, so it is left out rather
    than started open; the built-in REST and socket.io channels need none. An optional
    key (``OPTIONAL_KEYS``) whose variable is unset is removed instead.
    """
    blocks = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    kept: dict[str, object] = {}
    skipped: list[str] = []
    for name, block in blocks.items():
        if isinstance(block, dict):
            block = {
                key: value
                for key, value in block.items()
                if key not in OPTIONAL_KEYS or all(env.get(ref) for ref in _refs(value))
            }
        if all(env.get(ref) for ref in _refs(block)):
            kept[name] = block
        else:
            skipped.append(name)
    return kept, skipped


def _model() -> Path:
    model = Path(os.environ.get("RASA_MODEL") or ROOT / "models" / "current.tar.gz")
    if not model.exists():
        sys.exit(f"error: no trained model at {model}; run `make train` (make run does it).")
    return model


def commands(
    settings: Settings, credentials: Path, services: tuple[str, ...]
) -> dict[str, list[str]]:
    """The command line of each child process."""
    python = sys.executable
    rasa = str(Path(python).with_name("rasa"))
    host = os.environ.get("BIND_HOST", "127.0.0.1")
    table: dict[str, list[str]] = {
        "actions": [
            rasa,
            "run",
            "actions",
            "--actions",
            "actions",
            "--port",
            str(settings.action_port),
        ],
        "console": [python, "-m", "bot.console"],
        "dispatch": [python, "-m", "bot.dispatch"],
    }
    if "rasa" in services:
        # The API token travels in the environment (see bot.rasa_server), never in
        # argv, which every user of the machine can read.
        table["rasa"] = [
            python,
            "-m",
            "bot.rasa_server",
            "run",
            "--model",
            str(_model()),
            "--endpoints",
            "endpoints.yml",
            "--credentials",
            str(credentials),
            "--interface",
            host,
            "--port",
            str(settings.rasa_port),
            "--enable-api",
            "--cors",
            f"http://{host}:{settings.rasa_port}",
        ]
    return {name: table[name] for name in services}


def main(argv: list[str] | None = None) -> int:
    """Start the services, wait, stop them all together."""
    parser = argparse.ArgumentParser(prog="python -m bot run", description=__doc__)
    parser.add_argument(
        "--services",
        default=",".join(SERVICES),
        help=f"comma-separated subset of {','.join(SERVICES)} (default: all)",
    )
    args = parser.parse_args((argv or [])[1:])
    services = tuple(s for s in args.services.split(",") if s)
    unknown = set(services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown services: {', '.join(sorted(unknown))}")

    settings = Settings.from_env()
    env = {**os.environ, **settings.rasa_environment(), "PYTHONPATH": str(ROOT)}
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("SANIC_HOST", os.environ.get("BIND_HOST", "127.0.0.1"))  # action server

    from bot.requests.db import migrate

    migrate(settings.database_url)

    kept, skipped = enabled_credentials(ROOT / "credentials.yml", env)
    credentials = VAR / "credentials.yml"
    credentials.write_text(yaml.safe_dump(kept, allow_unicode=True), encoding="utf-8")

    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, cmd in commands(settings, credentials, services).items():
        child_env = {**env, TOKEN_ENV: settings.rasa_auth_token} if name == "rasa" else env
        children[name] = subprocess.Popen(cmd, cwd=ROOT, env=child_env)  # noqa: S603 - our own tools

    base = f"http://127.0.0.1:{settings.rasa_port}"
    print(
        "\n".join(
            [
                "",
                "4G SIM bot starting (Ctrl-C stops everything):",
                f"  REST channel   POST {base}/webhooks/rest/webhook",
                f"  socket.io      {base}/socket.io",
                f"  web page       {base}/webhooks/webchat/",
                f"  team console   http://127.0.0.1:{settings.console_port}/",
                f"  Rasa HTTP API  {base} (token in RASA_AUTH_TOKEN or {VAR / 'rasa-auth-token'})",
                f"  channels on    {', '.join(kept) or 'none'}",
                f"  channels off   {', '.join(skipped) or 'none'} (their secrets are not set)",
                "",
            ]
        ),
        flush=True,
    )
    exit_code = 0
    try:
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"{name} exited with {child.returncode}; stopping", file=sys.stderr)
                    exit_code = child.returncode or 1
                    stopping = True
                    break
            time.sleep(0.5)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
    return exit_code
