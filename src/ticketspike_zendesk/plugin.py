"""The ticketspike entry point of this adapter (hook implementations).

Registered as ``zendesk`` in the ``ticketspike`` entry-point group. An
installed adapter stays quiet until the config has a ``plugins.zendesk``
section; then the section is validated (failing at start-up with file, line
and key) and one :class:`~ticketspike_zendesk.source.ZendeskSource` is
registered.
"""

from __future__ import annotations

from collections.abc import Callable

from ticketspike import PluginConfig, TicketSource, hookimpl

from .settings import settings_from_config
from .source import ZendeskSource

__all__ = ["register_ticket_sources"]


@hookimpl
def register_ticket_sources(register: Callable[[TicketSource], None], config: PluginConfig) -> None:
    section = config.section("zendesk")
    if section is None:
        return
    register(ZendeskSource(settings_from_config(section, config)))
