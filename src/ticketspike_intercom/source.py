"""The Intercom ticket source: what the engine and the HTTP face talk to.

It holds the validated settings and the secrets (wrapped, never shown) and
delegates the work to :mod:`.webhook` and :mod:`.backfill`. ``name`` is the
URL segment of ``POST /api/webhooks/intercom`` and the ``SOURCE`` of
``ticketspike backfill intercom``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from ticketspike import BackfillPage, InvalidTicket, Secret, TicketEvent, Unmatched, WebhookResult

from .backfill import ConversationSearch
from .customers import ContactCompanies, CustomerResolver
from .settings import IntercomSettings
from .webhook import event_from_payload, parse_notification

__all__ = ["IntercomSource"]


class IntercomSource:
    """Signed Intercom webhooks and conversation backfill as ticket events.

    :param settings: the ``plugins.intercom`` section (defaults work).
    :param access_token: for backfill; ``None`` makes backfill fail naming the variable.
    :param client_secrets: every secret that may sign webhooks (rotation: old and new).
    :param sleep: how backfill waits between retries.
    """

    name = "intercom"

    def __init__(
        self,
        *,
        settings: IntercomSettings | None = None,
        access_token: Secret | None = None,
        client_secrets: Sequence[Secret] = (),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or IntercomSettings()
        self._secrets = tuple(client_secrets)
        # Contact -> company through the API needs the token; webhook-only setups keep
        # the configured rules and put the rest aside, saying which variable to set.
        self.lookup = (
            ContactCompanies(settings=self.settings, token=access_token, sleep=sleep)
            if access_token is not None
            else None
        )
        self.resolver = CustomerResolver(self.settings, self.lookup)
        self._search = ConversationSearch(
            settings=self.settings, token=access_token, sleep=sleep, resolver=self.resolver
        )

    def __repr__(self) -> str:
        return (
            f"IntercomSource(base_url={self.settings.base_url!r}, "
            f"secrets={len(self._secrets)}, token=${self.settings.access_token_env})"
        )

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookResult:
        """Verify ``X-Hub-Signature`` over ``body``, then map the notification."""
        return parse_notification(
            body,
            headers,
            secrets=self._secrets,
            settings=self.settings,
            now=now,
            resolver=self.resolver,
        )

    def resolve_unmatched(self, payload: Mapping[str, Any]) -> tuple[TicketEvent, ...] | Unmatched:
        """Map a kept-aside conversation again (current ``customers`` table, then the API)."""
        try:
            if "conversation" in payload:
                conversation = payload["conversation"]
                if not isinstance(conversation, Mapping):
                    raise InvalidTicket("expected a conversation object", where="unmatched")
                mapped = self._search.events(conversation)
                return mapped if isinstance(mapped, Unmatched) else tuple(mapped)
            event = event_from_payload(payload, self.resolver)
        except InvalidTicket as exc:
            item = payload.get("item") or payload.get("conversation")
            record = str(item.get("id")) if isinstance(item, Mapping) else "?"
            return Unmatched(self.name, record, f"cannot be mapped: {exc}", payload)
        return event if isinstance(event, Unmatched) else (event,)

    def backfill(self, *, since: datetime, cursor: str | None = None) -> Iterator[BackfillPage]:
        """Conversations created since ``since``, page by page, resumable by cursor."""
        return self._search.pages(since=since, cursor=cursor)
