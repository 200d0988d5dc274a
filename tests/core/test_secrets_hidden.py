"""Secrets never show in reprs, strings, errors or pickles."""

from __future__ import annotations

import logging
import pickle

import pytest

from ticketspike import PluginConfig, Secret
from ticketspike.configfile import load_text


def test_secret_hides_its_value_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret("xoxb-very-secret", source="SLACK_BOT_TOKEN")
    assert "xoxb" not in repr(secret) and "xoxb" not in str(secret) and "xoxb" not in f"{secret}"
    assert "SLACK_BOT_TOKEN" in repr(secret)
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("token is %s", secret)
    assert "xoxb" not in caplog.text
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert secret.reveal() == "xoxb-very-secret"


def test_plugin_config_reads_the_named_variable_and_supports_rotation() -> None:
    root = load_text("plugins:\n  slack:\n    token_env: MY_TOKEN\n", name="c.yaml")
    slack = root.get_section("plugins").get_section("slack")
    config = PluginConfig(
        sections={"slack": slack},
        env={"MY_TOKEN": "xoxb-1", "SLACK_BOT_TOKEN": "other", "HOOK": "old new"},
    )
    token = config.secret(slack, "token_env", "SLACK_BOT_TOKEN")
    assert token is not None and token.reveal() == "xoxb-1"
    assert [s.reveal() for s in config.secrets(None, "x", "HOOK")] == ["old", "new"]
    assert config.secret(None, "x", "UNSET") is None
    assert "xoxb-1" not in repr(config) and "old" not in repr(config)
