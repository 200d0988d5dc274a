"""The ticketspike entry point of this adapter: registers the Intercom source.

Nothing is registered unless the config has a ``plugins.intercom`` section,
so installing the distribution alone changes nothing. Secrets come from the
environment the host passes in (``INTERCOM_ACCESS_TOKEN`` and
``INTERCOM_CLIENT_SECRET`` unless the section names other variables).
"""

from __future__ import annotations

from collections.abc import Callable

from ticketspike import PluginConfig, TicketSource, hookimpl

from .settings import settings_from_config
from .source import IntercomSource

__all__ = ["register_ticket_sources"]


@hookimpl
def register_ticket_sources(register: Callable[[TicketSource], None], config: PluginConfig) -> None:
    section = config.section("intercom")
    if section is None:
        return
    settings = settings_from_config(section)
    register(
        IntercomSource(
            settings=settings,
            access_token=config.secret(section, "access_token_env", settings.access_token_env),
            client_secrets=config.secrets(section, "client_secret_env", settings.client_secret_env),
        )
    )
