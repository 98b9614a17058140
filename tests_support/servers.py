"""Start the real Rasa server and action server for end-to-end tests.

``python -m bot run --services ...`` is started exactly as ``make run`` starts it, on
free ports, with its state in a temporary folder, so an end-to-end test exercises the
launcher, endpoints.yml, credentials.yml and the trained model as shipped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "current.tar.gz"
STARTUP_SECONDS = 240


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Stack:
    """Where the started servers listen."""

    rasa_url: str
    action_url: str
    token: str
    var_dir: Path
    env: dict[str, str]
    pid: int  # the launcher's, leader of the process group of every server started

    def rest(self, sender: str, message: str, timeout: float = 60) -> list[dict[str, object]]:
        """Send one message over Rasa's REST channel and return the bot's replies."""
        response = httpx.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=timeout,
        )
        response.raise_for_status()
        return list(response.json())

    def tracker(self, sender: str) -> dict[str, object]:
        """The conversation as Rasa's authenticated HTTP API reports it."""
        response = httpx.get(
            f"{self.rasa_url}/conversations/{sender}/tracker",
            params={"token": self.token},
            timeout=30,
        )
        response.raise_for_status()
        return dict(response.json())


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"servers exited early:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} not up after {STARTUP_SECONDS}s:\n{log.read_text()[-4000:]}")


@contextmanager
def running_stack(
    var_dir: Path,
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    services: str = "actions,rasa",
    model: Path | None = None,
) -> Iterator[Stack]:
    """Start the servers; stop them (and everything they started) on exit.

    ``model`` serves another model than the repository's (the publish bench trains its own).
    """
    model = model or MODEL
    if not model.exists():
        raise RuntimeError(f"no trained model at {model}: run `make train` first")
    var_dir.mkdir(parents=True, exist_ok=True)
    rasa_port, action_port, console_port = free_port(), free_port(), free_port()
    token = "test-token-" + os.urandom(6).hex()
    env = {
        **os.environ,
        "VAR_DIR": str(var_dir),
        "RASA_PORT": str(rasa_port),
        "ACTION_PORT": str(action_port),
        "CONSOLE_PORT": str(console_port),
        "RASA_AUTH_TOKEN": token,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "DATABASE_URL": database_url or f"sqlite:///{var_dir / 'requests.db'}",
        "TRACKER_STORE_URL": database_url or f"sqlite:///{var_dir / 'tracker.db'}",
        **({"RASA_MODEL": str(model)} if model != MODEL else {}),
        **(extra_env or {}),
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    log = var_dir / "servers.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own launcher
            [sys.executable, "-m", "bot", "run", "--services", services],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = Stack(
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        action_url=f"http://127.0.0.1:{action_port}",
        token=token,
        var_dir=var_dir,
        env=env,
        pid=process.pid,
    )
    try:
        if "actions" in services:
            _wait(f"{stack.action_url}/health", process, log)
        _wait(f"{stack.rasa_url}/status?token={token}", process, log)
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
