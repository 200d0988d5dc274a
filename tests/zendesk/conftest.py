"""Fixtures for the Zendesk adapter tests: the fake API (``support.fake_zendesk``) and a kit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support.fake_zendesk import (
    NOW,
    SECRET,
    FakeZendesk,
    Reply,
    iso,
    load_fixture,
    rest_ticket,
    signed_headers,
    zendesk_signature,
)

DEFAULT_SECTION = """
subdomain: acme
customer:
  organizations:
    "8447346622462": techcorp
    "509974": globex
"""


class Kit:
    """The helpers above, handed to tests as a fixture (test modules cannot import
    conftest under importlib import mode)."""

    NOW = NOW
    SECRET = SECRET
    Reply = Reply
    load_fixture = staticmethod(load_fixture)
    signature = staticmethod(zendesk_signature)
    signed_headers = staticmethod(signed_headers)
    rest_ticket = staticmethod(rest_ticket)
    iso = staticmethod(iso)

    @staticmethod
    def env(**extra: str) -> dict[str, str]:
        return {
            "ZENDESK_EMAIL": "bot@acme.example",
            "ZENDESK_API_TOKEN": "api-token-value-9f8e7d",
            "ZENDESK_WEBHOOK_SECRET": SECRET,
            **extra,
        }

    @staticmethod
    def section(text: str = DEFAULT_SECTION, *, name: str = "ticketspike.yaml") -> Any:
        from ticketspike.configfile import load_text

        wrapped = "plugins:\n  zendesk:\n" + "".join(
            f"    {line}\n" for line in text.strip("\n").splitlines()
        )
        return load_text(wrapped, name=name)["plugins"]["zendesk"]

    @classmethod
    def settings(cls, text: str = DEFAULT_SECTION, *, env: dict[str, str] | None = None) -> Any:
        from ticketspike import PluginConfig
        from ticketspike_zendesk import settings_from_config

        section = cls.section(text)
        config = PluginConfig(sections={"zendesk": section}, env=cls.env() if env is None else env)
        return settings_from_config(section, config)

    @classmethod
    def source(
        cls,
        text: str = DEFAULT_SECTION,
        *,
        env: dict[str, str] | None = None,
        fake: FakeZendesk | None = None,
    ) -> Any:
        from ticketspike_zendesk import ZendeskSource

        if fake is not None:
            text = f"base_url: {fake.base_url}\n" + text.strip("\n")
        return ZendeskSource(cls.settings(text, env=env))


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    return Kit


@pytest.fixture
def fake_zendesk() -> Iterator[FakeZendesk]:
    fake = FakeZendesk()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
