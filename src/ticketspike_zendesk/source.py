"""The Zendesk ticket source: what the plugin registers with ticketspike.

It satisfies :class:`ticketspike.TicketSource`: ``parse_webhook`` for signed
deliveries and ``backfill`` for history. The zenpy client is created on first
use, so a webhook-only installation (event subscriptions, no API
credentials) never needs credentials or imports zenpy, and one client (with
its user cache) serves every later call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from ticketspike import (
    BackfillPage,
    InvalidTicket,
    TicketEvent,
    Unmatched,
    WebhookRejected,
    WebhookResult,
)

from .backfill import ZendeskApiError, describe_failure, export_pages, map_record
from .mapping import Skip, ticket_from_json
from .settings import ZendeskSettings
from .webhook import Lookups, event_from_payload, parse_delivery

__all__ = ["ZendeskSource"]


class ZendeskSource:
    """Zendesk tickets for ticketspike, from webhooks and the incremental export.

    :param settings: the validated ``plugins.zendesk`` section.
    :param client: a ready ``zenpy.Zenpy`` to use instead of building one
        from the settings (hosts that already hold a client).
    """

    name = "zendesk"

    def __init__(self, settings: ZendeskSettings, *, client: Any = None) -> None:
        self.settings = settings
        self._client = client
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<ZendeskSource {self.settings.subdomain}>"

    # -- the TicketSource protocol -------------------------------------------
    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookResult:
        """Verify a delivery over its raw bytes, then map it (see :mod:`.webhook`)."""
        can_fetch = self._client is not None or self.settings.has_api_credentials
        try:
            return parse_delivery(
                body,
                headers,
                now=now,
                settings=self.settings,
                fetch_ticket=self._fetch_ticket if can_fetch else None,
                requester_organization=self._requester_organization if can_fetch else None,
                organization_key=self._organization_key if can_fetch else None,
            )
        except ZendeskApiError as exc:
            # A lookup failed: 503 makes Zendesk retry the delivery later.
            raise WebhookRejected(exc.detail, where="zendesk webhook", status=503) from exc

    def backfill(self, *, since: datetime, cursor: str | None = None) -> Iterator[BackfillPage]:
        """Pages of the incremental export from ``since`` or from ``cursor``."""
        rules = self.settings.rules
        return export_pages(
            self.client,
            rules,
            since=since,
            cursor=cursor,
            page_size=self.settings.page_size,
            requester_organization=(
                self._requester_organization if rules.wants_requester_organization else None
            ),
            organization_key=self._organization_key,
        )

    def resolve_unmatched(self, payload: Mapping[str, Any]) -> tuple[TicketEvent, ...] | Unmatched:
        """Map a kept-aside ticket again: the ``organizations`` table first, then the API.

        A lookup that fails now keeps the ticket aside with the failure as its reason.
        """
        can_fetch = self._client is not None or self.settings.has_api_credentials
        lookups = Lookups(
            self._requester_organization if can_fetch else None,
            self._organization_key if can_fetch else None,
        )
        record = payload.get("export", payload.get("ticket"))
        record_id = str(record.get("id")) if isinstance(record, Mapping) else "?"
        try:
            if not isinstance(record, Mapping):
                raise InvalidTicket("expected the kept ticket", where="zendesk unmatched")
            if "export" in payload:
                mapped = map_record(
                    dict(record),
                    self.settings.rules,
                    since=None,
                    where=f"zendesk ticket {record_id}",
                    requester_organization=lookups.requester_organization,
                    organization_key=lookups.organization_key,
                )
                if isinstance(mapped, Skip):
                    return Unmatched(self.name, record_id, mapped.reason, payload)
                return mapped if isinstance(mapped, Unmatched) else tuple(mapped)
            zt = ticket_from_json(record, where=f"zendesk ticket {record_id}")
            event = event_from_payload(payload, zt, self.settings.rules, lookups)
        except (InvalidTicket, ZendeskApiError) as exc:
            return Unmatched(self.name, record_id, f"cannot be mapped now: {exc}", payload)
        if isinstance(event, Skip):
            return Unmatched(self.name, record_id, event.reason, payload)
        return event if isinstance(event, Unmatched) else (event,)

    # -- API access ------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The zenpy client (built on first use; needs API credentials)."""
        with self._lock:
            if self._client is None:
                from .client import make_client

                self._client = make_client(self.settings)
            return self._client

    def _fetch_ticket(self, ticket_id: str) -> Mapping[str, Any] | None:
        from zenpy.lib.exception import RecordNotFoundException

        try:
            ticket = self.client.tickets(id=int(ticket_id))
        except RecordNotFoundException:
            return None
        except Exception as exc:  # noqa: BLE001 - zenpy raises many kinds; all mean "not now"
            raise ZendeskApiError(f"fetching ticket {ticket_id}: {describe_failure(exc)}") from exc
        if not hasattr(ticket, "to_dict"):
            raise ZendeskApiError(f"fetching ticket {ticket_id}: the answer is not a ticket")
        record: dict[str, Any] = ticket.to_dict()
        return record

    def _requester_organization(self, requester_id: str) -> str | None:
        # zenpy's user cache (see .client) answers repeated and sideloaded requesters.
        from zenpy.lib.exception import RecordNotFoundException

        try:
            user = self.client.users(id=int(requester_id))
        except RecordNotFoundException:
            user = None
        except Exception as exc:  # noqa: BLE001 - see _fetch_ticket
            raise ZendeskApiError(
                f"looking up requester {requester_id}: {describe_failure(exc)}"
            ) from exc
        org = getattr(user, "organization_id", None)
        return str(org) if isinstance(org, int) and not isinstance(org, bool) else None

    def _organization_key(self, organization_id: str) -> str | None:
        """The organization's external id or mapped field (``customer.organization_key``)."""
        from zenpy.lib.exception import RecordNotFoundException

        key = self.settings.rules.organization_key
        try:
            org = self.client.organizations(id=int(organization_id))
        except RecordNotFoundException:
            return None
        except Exception as exc:  # noqa: BLE001 - see _fetch_ticket
            raise ZendeskApiError(
                f"looking up organization {organization_id}: {describe_failure(exc)}"
            ) from exc
        if key == "external_id":
            value = getattr(org, "external_id", None)
        else:
            fields = getattr(org, "organization_fields", None)
            value = fields.get(key.partition(":")[2]) if isinstance(fields, Mapping) else None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return None
        return str(value).strip() or None
