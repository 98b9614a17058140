"""Which channels `python -m bot run` starts from credentials.yml."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.launcher import enabled_credentials

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
