"""The installed entry point, the ``plugins.intercom`` section and its errors."""

from __future__ import annotations

import importlib.metadata
import json
from datetime import datetime, timezone

import pytest

try:
    importlib.metadata.distribution("ticketspike-intercom")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - core-only runs
    pytest.skip("ticketspike-intercom is not installed", allow_module_level=True)

from ticketspike import (
    Category,
    ConfigError,
    PluginConfig,
    Plugins,
    Priority,
    SignatureError,
    TicketSource,
)
from ticketspike.configfile import load_text
from ticketspike_intercom import IntercomSource, sign


def plugin_config(yaml_text: str, env: dict[str, str] | None = None) -> PluginConfig:
    root = load_text(yaml_text, name="ticketspike.yaml")
    plugins = root.get_section("plugins")
    sections = {name: plugins.get_section(name) for name in plugins} if plugins else {}
    return PluginConfig(sections=sections, env=env or {}, config_name="ticketspike.yaml")


def sources(config: PluginConfig) -> dict[str, TicketSource]:
    return Plugins(builtins=False, allow=["intercom"]).ticket_sources(config)


def test_entry_point_is_installed_and_loads():
    (ep,) = [
        e for e in importlib.metadata.entry_points(group="ticketspike") if e.name == "intercom"
    ]
    assert ep.value == "ticketspike_intercom.plugin"
    infos = {i.name: i for i in Plugins(builtins=False, allow=["intercom"]).infos()}
    assert infos["intercom"].distribution == "ticketspike-intercom"
    assert infos["intercom"].roles == ("ticket source",)


def test_without_a_section_nothing_is_registered():
    assert sources(plugin_config("plugins: {slack: {}}\n")) == {}


def test_an_empty_section_registers_the_source_with_defaults():
    found = sources(plugin_config("plugins:\n  intercom: {}\n"))
    source = found["intercom"]
    assert isinstance(source, IntercomSource)
    assert source.settings.base_url == "https://api.intercom.io"
    assert source.settings.api_version == "2.14"


def test_secrets_come_from_the_named_variables():
    text = (
        "plugins:\n"
        "  intercom:\n"
        "    client_secret_env: ACME_INTERCOM_SECRETS\n"
        "    mapping:\n"
        "      customers: {acme-corp: ACME}\n"
        "      priority: {priority: P1}\n"
    )
    env = {
        "ACME_INTERCOM_SECRETS": "new-secret old-secret",
        "INTERCOM_CLIENT_SECRET": "not-this-one",
    }
    source = sources(plugin_config(text, env))["intercom"]
    body = json.dumps(
        {
            "id": "notif_1",
            "topic": "conversation.user.created",
            "created_at": 1719399999,
            "data": {
                "item": {
                    "id": "9",
                    "created_at": 1719399990,
                    "priority": "priority",
                    "company": {"company_id": "acme-corp"},
                    "tags": {"tags": [{"name": "refund"}]},
                }
            },
        }
    ).encode()
    now = datetime.fromtimestamp(1719400000, tz=timezone.utc)
    for secret in ("new-secret", "old-secret"):
        (event,) = source.parse_webhook(
            body, {"x-hub-signature": sign(body, secret)}, now=now
        ).events
        assert event.ticket.customer_id == "ACME"
        assert event.ticket.priority is Priority.P1
        assert event.ticket.category is Category.BILLING
    with pytest.raises(SignatureError):
        source.parse_webhook(body, {"x-hub-signature": sign(body, "not-this-one")}, now=now)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "plugins:\n  intercom:\n    base_url: api.intercom.io\n",
            "ticketspike.yaml:3: plugins.intercom.base_url: expected an http(s) URL",
        ),
        (
            "plugins:\n  intercom:\n    max_age: -5\n",
            "ticketspike.yaml:3: plugins.intercom.max_age: expected a number >= 1",
        ),
        (
            "plugins:\n  intercom:\n    page_size: 500\n",
            "ticketspike.yaml:3: plugins.intercom.page_size: expected a whole number <= 150",
        ),
        (
            "plugins:\n  intercom:\n    apps_id: x\n",
            "ticketspike.yaml:3: plugins.intercom.apps_id: unknown key (did you mean 'app_id'?)",
        ),
        (
            "plugins:\n  intercom:\n    mapping:\n      customer_from: [company, crm]\n",
            "ticketspike.yaml:4: plugins.intercom.mapping.customer_from: unknown source 'crm'",
        ),
        (
            "plugins:\n  intercom:\n    mapping:\n      priority: {urgent: P0}\n",
            "ticketspike.yaml:4: plugins.intercom.mapping.priority.urgent: expected P1, P2, P3",
        ),
        (
            "plugins:\n  intercom:\n    mapping:\n      categories:\n        legal: [gdpr]\n",
            "ticketspike.yaml:5: plugins.intercom.mapping.categories.legal: unknown category",
        ),
        (
            "plugins:\n  intercom:\n    mapping:\n      replied: count\n",
            "ticketspike.yaml:4: plugins.intercom.mapping.replied: expected one of updated, ignore",
        ),
        (
            "plugins:\n  intercom:\n    access_token_env: 'MY TOKEN'\n",
            "ticketspike.yaml:3: plugins.intercom.access_token_env: expected an environment",
        ),
    ],
)
def test_bad_config_fails_with_file_line_and_key(yaml_text, message):
    with pytest.raises(Exception) as info:
        sources(plugin_config(yaml_text))
    # The plugin manager wraps hook failures; the config error's line must survive.
    assert message in str(info.value)


def test_config_error_type_survives_for_direct_callers():
    from ticketspike_intercom import settings_from_config

    section = plugin_config("plugins:\n  intercom:\n    timeout: fast\n").section("intercom")
    with pytest.raises(ConfigError, match="ticketspike.yaml:3: plugins.intercom.timeout"):
        settings_from_config(section)
