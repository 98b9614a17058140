"""One place that reads configuration from the environment.

Every default is the embedded one (SQLite under ``var/``, in-memory locks, no
external accounts), so ``make run`` works on a fresh machine; production sets
``DATABASE_URL`` and ``REDIS_URL`` and nothing else changes.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Local state (SQLite files, generated secrets); tests point it at a temporary folder.
VAR = Path(os.environ.get("VAR_DIR") or ROOT / "var").resolve()


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _secret(name: str, filename: str) -> str:
    """An environment secret, else one generated once and kept in ``var/`` (mode 600)."""
    value = _env(name)
    if value:
        return value
    path = VAR / filename
    if path.exists():
        return path.read_text().strip()
    VAR.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(value)
    return value


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one process."""

    database_url: str
    tracker_store_url: str
    redis_url: str
    rasa_port: int
    action_port: int
    console_port: int
    hotline: str = "9090"
    request_page_url: str = "http://yeucauthaysim4G.mobifone.vn"
    # Outbound gateways (docs/liveinfo.md §3-§4): SMS (also the Liveinfo Yes reply) and
    # the Liveinfo push gateway that shows campaign prompts (``campaign send``).
    sms_gateway_url: str = ""
    sms_gateway_token: str = ""
    liveinfo_push_url: str = ""
    liveinfo_push_secret: str = ""

    @classmethod
    def from_env(cls) -> Settings:
        """Read the environment; embedded defaults where nothing is set."""
        VAR.mkdir(parents=True, exist_ok=True)
        database_url = _env("DATABASE_URL") or f"sqlite:///{VAR / 'requests.db'}"
        tracker = _env("TRACKER_STORE_URL") or (
            _env("DATABASE_URL") or f"sqlite:///{VAR / 'tracker.db'}"
        )
        return cls(
            database_url=database_url,
            tracker_store_url=tracker,
            redis_url=_env("REDIS_URL"),
            rasa_port=int(_env("RASA_PORT", "5005")),
            action_port=int(_env("ACTION_PORT", "5055")),
            console_port=int(_env("CONSOLE_PORT", "8080")),
            hotline=_env("HOTLINE", "9090"),
            request_page_url=_env("REQUEST_PAGE_URL", "http://yeucauthaysim4G.mobifone.vn"),
            sms_gateway_url=_env("SMS_GATEWAY_URL"),
            sms_gateway_token=_env("SMS_GATEWAY_TOKEN"),
            liveinfo_push_url=_env("LIVEINFO_PUSH_URL"),
            liveinfo_push_secret=_env("LIVEINFO_PUSH_SECRET"),
        )

    @property
    def rasa_auth_token(self) -> str:
        """Token that guards Rasa's HTTP API; never run the API without one."""
        return _secret("RASA_AUTH_TOKEN", "rasa-auth-token")

    def rasa_environment(self) -> dict[str, str]:
        """The ``${...}`` variables that ``endpoints.yml`` expands, for this configuration."""
        dialect = urlsplit(self.tracker_store_url).scheme.split("+")[0] or "sqlite"
        env = {
            "ACTION_ENDPOINT_URL": _env(
                "ACTION_ENDPOINT_URL", f"http://127.0.0.1:{self.action_port}/webhook"
            ),
            "TRACKER_STORE_URL": self.tracker_store_url,
            "TRACKER_DIALECT": "postgresql" if dialect.startswith("postgres") else dialect,
            "LOCK_STORE_TYPE": "redis" if self.redis_url else "in_memory",
            "REDIS_HOST": "localhost",
            "REDIS_PORT": "6379",
            "REDIS_DB": "1",
            "REDIS_PASSWORD": "",
        }
        if self.redis_url:
            parts = urlsplit(self.redis_url)
            env["REDIS_HOST"] = parts.hostname or "localhost"
            env["REDIS_PORT"] = str(parts.port or 6379)
            env["REDIS_DB"] = (parts.path or "/1").lstrip("/") or "1"
            env["REDIS_PASSWORD"] = parts.password or ""
        return env
