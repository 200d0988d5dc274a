"""ticketspike-intercom: Intercom conversations as ticketspike tickets.

Signed webhook notifications (``X-Hub-Signature``) and conversation-search
backfill, both mapped by the same configurable rules. Hosts normally let the
plugin register the source from ``plugins.intercom``; embedding code can
build :class:`IntercomSource` directly.
"""

from __future__ import annotations

from .backfill import IntercomApiError, decode_cursor, encode_cursor
from .mapping import NoCustomer, conversation_ticket, html_to_text, inbox_url
from .settings import IntercomSettings, MappingRules, settings_from_config
from .source import IntercomSource
from .webhook import parse_notification, sign, verify_signature

__all__ = [
    "IntercomApiError",
    "IntercomSettings",
    "IntercomSource",
    "MappingRules",
    "NoCustomer",
    "conversation_ticket",
    "decode_cursor",
    "encode_cursor",
    "html_to_text",
    "inbox_url",
    "parse_notification",
    "settings_from_config",
    "sign",
    "verify_signature",
]
