"""``plugins.slack``: validated with file:line errors, and the entry point that registers it."""

from __future__ import annotations

import importlib.metadata
import textwrap

import pytest

try:
    importlib.metadata.distribution("ticketspike-slack")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-slack is not installed", allow_module_level=True)

from ticketspike import ConfigError, PluginError, Plugins
from ticketspike.config import load_config
from ticketspike_slack import SlackNotifier, SlackSettings, settings_from_section

TOKEN = "xoxb-settings-test-token-77"


def section(yaml_body: str):  # type: ignore[no-untyped-def]
    text = "plugins:\n  slack:\n" + textwrap.indent(textwrap.dedent(yaml_body), "    ")
    config = load_config("ticketspike.yaml", text=text, env={"SLACK_BOT_TOKEN": TOKEN})
    found = config.plugins.section("slack")
    assert found is not None
    return found


def test_an_empty_section_gives_working_defaults() -> None:
    settings = settings_from_section(section("{}\n"))
    assert settings == SlackSettings()
    assert settings.base_url == "https://slack.com/api/"
    assert settings.token_env == "SLACK_BOT_TOKEN"
    assert settings.channel is None
    assert settings.channel_id(None) == "#cs-escalations"
    assert settings.channel_id("#vip", coordination=True) == "#vip"


def test_every_option_is_read() -> None:
    settings = settings_from_section(
        section("""
        base_url: http://127.0.0.1:9999/api
        token_env: ACME_SLACK_TOKEN
        channel: "#escalations"
        channels: {"#escalations": C0ESC}
        team_channels: {product: "#product", finance: C0FIN}
        buttons:
          view_tickets: https://support.example.com/orgs/{customer_id}
          start_war_room: https://war.example.com/new?e={episode_id}&s={severity}
        users: {Mike.Johnson@Example.com: U0MIKE, Dana Lee: U0DANA}
        timeout: 4.5
        sparkline_days: 30
        dedupe_scan: 0
    """)
    )
    assert settings.base_url == "http://127.0.0.1:9999/api/"
    assert settings.token_env == "ACME_SLACK_TOKEN"
    assert settings.channel_id(None) == "C0ESC"
    assert settings.channel_id("#cs-escalations", coordination=True) == "C0ESC"
    assert settings.channel_id("#product") == "#product"
    assert dict(settings.team_channels) == {"product": "#product", "finance": "C0FIN"}
    assert settings.user_for("mike.johnson@example.com") == "U0MIKE"
    assert settings.user_for(None, "Dana Lee") == "U0DANA"
    assert (settings.timeout, settings.sparkline_days, settings.dedupe_scan) == (4.5, 30, 0)


@pytest.mark.parametrize(
    ("body", "where", "expected"),
    [
        ("chanel: '#x'\n", "ticketspike.yaml:3: plugins.slack.chanel", "did you mean 'channel'"),
        (
            "base_url: ftp://x\n",
            "ticketspike.yaml:3: plugins.slack.base_url",
            "expected an http(s) URL",
        ),
        (
            "token_env: 'not a name'\n",
            "ticketspike.yaml:3: plugins.slack.token_env",
            "name of an environment variable",
        ),
        (
            "channel: 'Bad Channel'\n",
            "ticketspike.yaml:3: plugins.slack.channel",
            "expected a channel name",
        ),
        ("timeout: fast\n", "ticketspike.yaml:3: plugins.slack.timeout", "expected a number"),
        ("dedupe_scan: -1\n", "ticketspike.yaml:3: plugins.slack.dedupe_scan", ">= 0"),
        (
            "users:\n  mike@example.com: mike\n",
            "ticketspike.yaml:4: plugins.slack.users.mike@example.com",
            "expected a Slack user id",
        ),
        (
            "team_channels:\n  product: '#Product Team'\n",
            "ticketspike.yaml:4: plugins.slack.team_channels.product",
            "expected a channel name",
        ),
        (
            "team_channels: [product]\n",
            "ticketspike.yaml:3: plugins.slack.team_channels",
            "expected a mapping",
        ),
        (
            "buttons:\n  view_tickets: https://x.example/{customer_id.__class__}\n",
            "ticketspike.yaml:4: plugins.slack.buttons.view_tickets",
            "unknown placeholder",
        ),
        (
            "buttons:\n  view_tickets: https://x.example/{secret}\n",
            "ticketspike.yaml:4: plugins.slack.buttons.view_tickets",
            "unknown placeholder",
        ),
        (
            "buttons:\n  view_tickets: javascript:alert({customer_id})\n",
            "ticketspike.yaml:4: plugins.slack.buttons.view_tickets",
            "http(s) URL template",
        ),
        (
            "buttons:\n  view_tickets: https://x.example/{\n",
            "ticketspike.yaml:4: plugins.slack.buttons.view_tickets",
            "invalid URL template",
        ),
    ],
)
def test_bad_values_fail_with_file_line_and_key(body: str, where: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_section(section(body))
    message = str(caught.value)
    assert message.startswith(where + ": "), message
    assert expected in message
    assert "\n" not in message


def plugins() -> Plugins:
    # The real entry point of the installed distribution, and nothing else.
    return Plugins(load_entrypoints=True, allow={"slack"})


def test_the_entry_point_registers_nothing_without_a_section() -> None:
    config = load_config("ticketspike.yaml", text="plugins: {}\n", env={"SLACK_BOT_TOKEN": TOKEN})
    handlers = plugins().action_handlers(config.plugins)
    assert not any(isinstance(h, SlackNotifier) for h in handlers.values())
    info = next(i for i in plugins().infos() if i.name == "slack")
    assert info.distribution == "ticketspike-slack"
    assert info.roles == ("HTTP endpoint", "action handler")
    assert plugins().http_endpoints(config.plugins) == []


def test_the_entry_point_serves_every_message_kind_when_configured() -> None:
    config = load_config(
        "ticketspike.yaml", text="plugins:\n  slack: {}\n", env={"SLACK_BOT_TOKEN": TOKEN}
    )
    handlers = plugins().action_handlers(config.plugins)
    served = {kind for kind, h in handlers.items() if isinstance(h, SlackNotifier)}
    assert served == {
        "direct_message",
        "channel_post",
        "thread_reply",
        "update_message",
        "notify_team",
    }
    assert TOKEN not in repr(handlers["direct_message"])


def test_the_token_variable_name_is_configurable() -> None:
    config = load_config(
        "ticketspike.yaml",
        text="plugins:\n  slack:\n    token_env: ACME_SLACK\n",
        env={"ACME_SLACK": TOKEN},
    )
    handler = plugins().action_handlers(config.plugins)["channel_post"]
    assert isinstance(handler, SlackNotifier)
    assert "ACME_SLACK" in repr(handler) and TOKEN not in repr(handler)


def test_a_missing_token_is_a_clear_error_naming_the_variable() -> None:
    config = load_config(
        "ticketspike.yaml",
        text="plugins:\n  slack:\n    token_env: ACME_SLACK\n",
        env={"SLACK_BOT_TOKEN": TOKEN},
    )
    with pytest.raises(PluginError) as caught:
        plugins().action_handlers(config.plugins)
    message = str(caught.value)
    assert "ticketspike.yaml:3: plugins.slack.token_env" in message
    assert "ACME_SLACK is not set" in message and TOKEN not in message
