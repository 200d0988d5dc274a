"""ticketspike-zendesk: Zendesk tickets for ticketspike.

Signed webhooks (event subscriptions and trigger bodies) and history from the
cursor-based incremental export, mapped to ticketspike tickets by
configurable rules. The plugin registers itself through the ``ticketspike``
entry point; hosts that wire sources by hand can build a
:class:`ZendeskSource` from :func:`settings_from_config` directly.

This adapter depends on zenpy (GPL-3.0); the ticketspike core does not.
"""

from __future__ import annotations

from .backfill import ZendeskApiError
from .mapping import MappingRules, Skip, ZendeskTicket, map_ticket, ticket_from_json
from .settings import ZendeskSettings, settings_from_config
from .signature import SIGNED_ORDER, SignedOrder, sign, verify
from .source import ZendeskSource

__all__ = [
    "SIGNED_ORDER",
    "MappingRules",
    "SignedOrder",
    "Skip",
    "ZendeskApiError",
    "ZendeskSettings",
    "ZendeskSource",
    "ZendeskTicket",
    "map_ticket",
    "settings_from_config",
    "sign",
    "ticket_from_json",
    "verify",
]
