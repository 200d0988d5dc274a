"""The ``plugins.zendesk`` section and the entry point that reads it."""

from __future__ import annotations

import importlib.metadata

import pytest

try:
    importlib.metadata.distribution("ticketspike-zendesk")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("ticketspike-zendesk is not installed", allow_module_level=True)

from ticketspike import Category, ConfigError, PluginConfig, PluginError, Plugins, Priority
from ticketspike_zendesk import ZendeskSource

FULL = """
subdomain: Acme
base_url: https://zendesk-proxy.internal.example/zd/
agent_url_base: https://help.acme.example
email_env: ZD_USER
api_token_env: ZD_TOKEN
oauth_token_env: ZD_OAUTH
webhook_secret_env: ZD_HOOK
signature_tolerance: 120
page_size: 500
ratelimit_budget: 90
timeout: 12.5
customer:
  from: [custom_field:360001, organization]
  organizations: {8447346622462: techcorp}
  no_customer: default
  default_customer: unassigned
priorities: {high: P1, none: P4}
categories:
  order: [form, tags, type]
  tags:
    billing: [money]
    technical: [crash]
  custom_field: 360002
  values: {cat_money: billing}
  forms: {123: billing}
  groups: {456: technical}
  types: {question: feature_request}
internal:
  channels: [sample_ticket, api]
  private_first_comment: false
  agent_created_channels: [web, voice]
"""


def test_every_key_is_understood(kit):
    env = {"ZD_USER": "me@acme.example", "ZD_TOKEN": "t0k", "ZD_HOOK": "old new"}
    s = kit.settings(FULL, env=env)
    assert s.subdomain == "acme"
    assert s.base_url == "https://zendesk-proxy.internal.example/zd"
    assert s.email.reveal() == "me@acme.example" and s.api_token.reveal() == "t0k"
    assert s.oauth_token is None
    assert [x.reveal() for x in s.webhook_secrets] == ["old", "new"]
    assert s.signature_tolerance.total_seconds() == 120
    assert (s.page_size, s.ratelimit_budget, s.timeout) == (500, 90, 12.5)
    r = s.rules
    assert r.customer_from == ("custom_field:360001", "organization")
    assert r.organizations == {"8447346622462": "techcorp"}
    assert (r.no_customer, r.default_customer) == ("default", "unassigned")
    assert r.priorities["high"] is Priority.P1 and r.priorities["none"] is Priority.P4
    assert r.priorities["urgent"] is Priority.P1 and r.priorities["low"] is Priority.P4
    assert r.category_order == ("form", "tags", "type")
    assert r.tag_rules == ((Category.BILLING, ("money",)), (Category.TECHNICAL, ("crash",)))
    assert r.category_field == "360002"
    assert r.category_field_values == {"cat_money": Category.BILLING}
    assert r.forms == {"123": Category.BILLING} and r.groups == {"456": Category.TECHNICAL}
    assert r.types["question"] is Category.FEATURE_REQUEST
    assert r.types["incident"] is Category.TECHNICAL  # unlisted types keep their default
    assert r.internal_channels == {"sample_ticket", "api"}
    assert r.private_is_internal is False
    assert r.agent_created_channels == {"web", "voice"}
    assert r.agent_url("9") == "https://help.acme.example/agent/tickets/9"


def test_defaults_need_only_a_subdomain(kit):
    s = kit.settings("subdomain: acme\n", env={})
    assert s.base_url is None and s.webhook_secrets == () and not s.has_api_credentials
    assert s.signature_tolerance.total_seconds() == 300
    assert s.rules.customer_from == ("organization", "requester_organization")
    assert (s.rules.organization_key, s.rules.no_customer) == ("id", "keep")
    assert s.rules.agent_url("5") == "https://acme.zendesk.com/agent/tickets/5"


def test_secrets_never_show_in_reprs(kit):
    s = kit.settings(FULL, env={"ZD_USER": "me@x", "ZD_TOKEN": "sekrit-1", "ZD_HOOK": "sekrit-2"})
    assert "sekrit" not in repr(s) and "sekrit" not in repr(ZendeskSource(s))


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ("subdomain: acme\nsubdomian: x\n", 4, "plugins.zendesk.subdomian", "did you mean"),
        ("base_url: http://x.example\n", 3, "plugins.zendesk", "subdomain"),
        ("subdomain: acme.zendesk.com\n", 3, "plugins.zendesk.subdomain", "acme for"),
        (
            "subdomain: acme\nbase_url: http://localhost:8080\n",
            4,
            "plugins.zendesk.base_url",
            "127.0.0.1",
        ),
        ("subdomain: acme\nbase_url: ftp://x.example\n", 4, "plugins.zendesk.base_url", "http"),
        (
            "subdomain: acme\nbase_url: https://u:p@x.example\n",
            4,
            "plugins.zendesk.base_url",
            "credentials",
        ),
        ("subdomain: acme\npage_size: 5000\n", 4, "plugins.zendesk.page_size", "<= 1000"),
        (
            "subdomain: acme\ncustomer:\n  from: [org]\n",
            5,
            "plugins.zendesk.customer.from",
            "requester_organization",
        ),
        (
            "subdomain: acme\ncustomer:\n  no_customer: default\n",
            5,
            "plugins.zendesk.customer.no_customer",
            "default_customer",
        ),
        (
            "subdomain: acme\npriorities: {urgent: P0}\n",
            4,
            "plugins.zendesk.priorities.urgent",
            "P1, P2",
        ),
        (
            "subdomain: acme\npriorities: {critical: P1}\n",
            4,
            "plugins.zendesk.priorities.critical",
            "unknown key",
        ),
        (
            "subdomain: acme\ncategories:\n  tags: {sales: [deal]}\n",
            5,
            "plugins.zendesk.categories.tags.sales",
            "category name",
        ),
        (
            "subdomain: acme\ncategories:\n  order: [tags, brand]\n",
            5,
            "plugins.zendesk.categories.order",
            "brand",
        ),
        (
            "subdomain: acme\ncategories:\n  forms: {1: sales}\n",
            5,
            "plugins.zendesk.categories.forms",
            "expected technical",
        ),
        (
            "subdomain: acme\ncategories:\n  types: {bug: technical}\n",
            5,
            "plugins.zendesk.categories.types",
            "unknown ticket type",
        ),
        (
            "subdomain: acme\ninternal:\n  channels: web\n",
            5,
            "plugins.zendesk.internal.channels",
            "expected a list",
        ),
    ],
)
def test_bad_config_names_file_line_and_key(kit, text, line, field, words):
    with pytest.raises(ConfigError) as err:
        kit.settings(text, env={})
    assert err.value.where == f"ticketspike.yaml:{line}"
    assert err.value.field.startswith(field)
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_installed_but_unconfigured_the_plugin_registers_nothing():
    plugins = Plugins(load_entrypoints=True, allow=["zendesk"], builtins=False)
    assert "zendesk" not in plugins.ticket_sources(PluginConfig())


def test_configured_the_entry_point_registers_the_zendesk_source(kit):
    plugins = Plugins(load_entrypoints=True, allow=["zendesk"], builtins=False)
    config = PluginConfig(sections={"zendesk": kit.section()}, env=kit.env())
    sources = plugins.ticket_sources(config)
    assert isinstance(sources["zendesk"], ZendeskSource)
    (info,) = [i for i in plugins.infos() if i.name == "zendesk"]
    assert info.distribution == "ticketspike-zendesk"
    assert info.roles == ("ticket source",)


def test_a_bad_section_fails_when_plugins_load(kit):
    plugins = Plugins(load_entrypoints=True, allow=["zendesk"], builtins=False)
    config = PluginConfig(sections={"zendesk": kit.section("subdomain: [a]\n")}, env={})
    # The plugin manager may wrap it in a PluginError naming the plugin; the line survives.
    where = r"ticketspike.yaml:3: plugins.zendesk.subdomain"
    with pytest.raises((ConfigError, PluginError), match=where):
        plugins.ticket_sources(config)
