"""Which channels `python -m bot run` starts from credentials.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.launcher import SERVICES, commands, enabled_credentials
from bot.rasa_server import arguments
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_embedded_defaults_start_only_channels_without_secrets() -> None:
    kept, skipped = enabled_credentials(ROOT / "credentials.yml", {})
    assert "rest" in kept
    assert "connectors.webchat.WebChatSocketIOInput" in kept
    assert "connectors.facebook.FacebookInput" in skipped
    assert "connectors.liveinfo.LiveinfoInput" in skipped


def test_a_channel_starts_when_its_secrets_are_set_and_drops_unset_optional_urls() -> None:
    env = {
        "FACEBOOK_VERIFY_TOKEN": "v",
        "FACEBOOK_APP_SECRET": "s",
        "FACEBOOK_PAGE_ACCESS_TOKEN": "t",
    }
    kept, _ = enabled_credentials(ROOT / "credentials.yml", env)
    block = kept["connectors.facebook.FacebookInput"]
    assert "graph-url" not in block  # unset: the connector's default, the real Graph API
    kept, _ = enabled_credentials(
        ROOT / "credentials.yml", {**env, "FACEBOOK_GRAPH_URL": "http://127.0.0.1:1"}
    )
    assert kept["connectors.facebook.FacebookInput"]["graph-url"] == "${FACEBOOK_GRAPH_URL}"


def test_a_missing_secret_keeps_the_channel_off(tmp_path: Path) -> None:
    source = tmp_path / "credentials.yml"
    source.write_text(
        yaml.safe_dump({"x.Channel": {"secret": "${X_SECRET}", "base_url": "${X_URL}"}})
    )
    kept, skipped = enabled_credentials(source, {"X_URL": "http://127.0.0.1:1"})
    assert kept == {} and skipped == ["x.Channel"]


def test_the_rasa_command_line_carries_no_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"")
    monkeypatch.setenv("RASA_MODEL", str(model))
    monkeypatch.setenv("RASA_AUTH_TOKEN", "s3cret-token")
    table = commands(Settings.from_env(), tmp_path / "credentials.yml", SERVICES)
    assert not [arg for cmd in table.values() for arg in cmd if "s3cret-token" in arg]
    assert table["rasa"][1:4] == ["-m", "bot.rasa_server", "run"]
    # The wrapper puts it back inside the process, where only Rasa's parser sees it.
    argv = arguments(table["rasa"][3:], {"RASA_AUTH_TOKEN": "s3cret-token"})
    assert argv[:2] == ["rasa", "run"] and argv[-1] == "--auth-token=s3cret-token"


def test_rasa_reads_a_token_that_starts_with_a_dash() -> None:
    # token_urlsafe draws "-" first one time in 64: "make run" then stopped with "rasa
    # run: error: argument -t/--auth-token: expected one argument".
    from rasa.__main__ import create_argument_parser

    argv = arguments(["run", "--enable-api"], {"RASA_AUTH_TOKEN": "-3vXYZ_token"})
    parsed = create_argument_parser().parse_args(argv[1:])
    assert parsed.auth_token == "-3vXYZ_token"


def test_the_wrapper_refuses_to_start_rasa_without_a_token_or_with_one_in_argv() -> None:
    with pytest.raises(SystemExit, match="RASA_AUTH_TOKEN is not set"):
        arguments(["run", "--enable-api"], {})
    with pytest.raises(SystemExit, match="not on the command line"):
        arguments(["run", "--auth-token=x"], {"RASA_AUTH_TOKEN": "t"})
