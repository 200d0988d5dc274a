"""Zendesk webhook deliveries: verified, then turned into ticket events or ignored.

Two kinds of delivery reach the same endpoint:

* **Event subscriptions** (``"type": "zen:event-type:ticket.created"`` and the
  field-specific ``*_changed`` events): a fixed envelope whose ``detail`` is a
  ticket snapshot with string ids and upper-case enums, and whose ``id`` is
  unique per event, so it is the delivery id for deduplication.
* **Trigger webhooks**: a body the admin writes. We document a thin one,
  ``{"ticket_id": "{{ticket.id}}", "event": "created"}``, and fetch the
  ticket through the API: Zendesk placeholders render display names and
  unescaped free text, which would make a richer body fragile. The delivery
  id is the ``x-zendesk-webhook-invocation-id`` header, which Zendesk keeps
  across retries of one invocation.

Anything else that is validly signed is acknowledged and ignored with a
reason, so Zendesk does not retry it. The signature is checked first, on the
raw bytes; nothing is parsed before that. Nothing from the body is logged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from ticketspike import (
    EventKind,
    InvalidTicket,
    TicketEvent,
    Unmatched,
    WebhookRejected,
    WebhookResult,
    jsontext,
)

from .mapping import (
    RESOLVED_STATUSES,
    SOURCE_NAME,
    MappingRules,
    OrganizationKey,
    Skip,
    ZendeskTicket,
    map_ticket,
    ticket_from_json,
)
from .settings import ZendeskSettings
from .signature import verify
from .times import parse_instant

__all__ = ["EVENT_PREFIX", "INVOCATION_HEADER", "Lookups", "event_from_payload", "parse_delivery"]

EVENT_PREFIX: Final = "zen:event-type:"
INVOCATION_HEADER: Final = "x-zendesk-webhook-invocation-id"
_WHERE: Final = "zendesk webhook"

# Field changes that can move a ticket's priority or category under the mapping rules.
UPDATE_EVENTS: Final = frozenset(
    {
        "ticket.priority_changed",
        "ticket.ticket_type_changed",
        "ticket.type_changed",
        "ticket.tags_changed",
        "ticket.form_changed",
        "ticket.group_assignment_changed",
    }
)
# For these, ``event.current`` holds the new value of the named detail field.
_CURRENT_FIELD: Final = {
    "ticket.priority_changed": "priority",
    "ticket.ticket_type_changed": "type",
    "ticket.type_changed": "type",
    "ticket.status_changed": "status",
}
TRIGGER_EVENTS: Final = {kind.value: kind for kind in EventKind}

_JSON_KINDS: Final = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}

FetchTicket = Callable[[str], "Mapping[str, Any] | None"]
RequesterOrganization = Callable[[str], "str | None"]


def parse_delivery(
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: datetime,
    settings: ZendeskSettings,
    fetch_ticket: FetchTicket | None = None,
    requester_organization: RequesterOrganization | None = None,
    organization_key: OrganizationKey | None = None,
) -> WebhookResult:
    """Verify one delivery and turn it into a :class:`~ticketspike.WebhookResult`.

    ``fetch_ticket`` (ticket id -> REST ticket, ``None`` if gone) serves
    trigger bodies; ``requester_organization`` serves the
    ``requester_organization`` customer rule. Raises
    :class:`~ticketspike.SignatureError` (401) or
    :class:`~ticketspike.WebhookRejected` (400, or 503 when a lookup failed).
    """
    signed_at = verify(
        body,
        headers,
        settings.webhook_secrets,
        now=now,
        tolerance=settings.signature_tolerance,
        secret_env=settings.webhook_secret_env,
    )
    payload = _json_object(body)
    invocation = headers.get(INVOCATION_HEADER, "").strip() or None
    rules = settings.rules
    lookups = Lookups(requester_organization, organization_key)
    try:
        kind = payload.get("type")
        if isinstance(kind, str) and kind.startswith(EVENT_PREFIX):
            return _event(payload, kind, invocation, rules, lookups)
        if "ticket_id" in payload:
            return _trigger(payload, invocation, signed_at, rules, fetch_ticket, lookups)
    except InvalidTicket as exc:
        raise WebhookRejected(exc.message, where=exc.where, field=exc.field) from None
    return WebhookResult(
        delivery_id=invocation,
        ignored="not a Zendesk ticket event: expected a 'type' of zen:event-type:... "
        "or a trigger body with 'ticket_id'",
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = jsontext.loads(body)
    except jsontext.JsonError as exc:
        raise WebhookRejected(f"malformed JSON: {exc}", where=_WHERE) from None
    if not isinstance(payload, dict):
        kind = _JSON_KINDS.get(type(payload), "value")
        raise WebhookRejected(f"expected a JSON object, got a JSON {kind}", where=_WHERE)
    return payload


def _event(
    payload: Mapping[str, Any],
    kind: str,
    invocation: str | None,
    rules: MappingRules,
    lookups: Lookups,
) -> WebhookResult:
    raw_id = payload.get("id")
    delivery_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else invocation
    name = kind[len(EVENT_PREFIX) :]
    shown = repr(name[:80])

    def ignored(reason: str) -> WebhookResult:
        return WebhookResult(delivery_id=delivery_id, ignored=reason)

    if not name.startswith("ticket."):
        return ignored(f"event type {shown} is not a ticket event")
    if name == "ticket.created":
        event_kind = EventKind.CREATED
    elif name == "ticket.status_changed":
        event_kind = EventKind.RESOLVED
    elif name in UPDATE_EVENTS:
        event_kind = EventKind.UPDATED
    else:
        return ignored(f"event type {shown} does not change a ticket's count, priority or category")

    detail = payload.get("detail")
    if not isinstance(detail, Mapping):
        raise WebhookRejected("expected the ticket object", where=_WHERE, field="detail")
    snapshot = dict(detail)
    change = payload.get("event")
    current_field = _CURRENT_FIELD.get(name)
    current = change.get("current") if isinstance(change, Mapping) else None
    if current_field is not None and isinstance(current, str):
        # The detail may predate the change; the event says what it is now.
        snapshot[current_field] = current

    zt = ticket_from_json(snapshot, where=f"{_WHERE}: detail")
    if event_kind is EventKind.RESOLVED and zt.status not in RESOLVED_STATUSES:
        return ignored(
            f"ticket {zt.id} status changed to {zt.status or 'nothing'}; "
            "only solved and closed are resolutions"
        )
    occurred_at = None
    if event_kind is not EventKind.CREATED and payload.get("time") is not None:
        occurred_at = parse_instant(payload.get("time"), where=_WHERE, field="time")
    return _result(
        snapshot,
        zt,
        rules,
        lookups,
        kind=event_kind,
        occurred_at=occurred_at,
        delivery_id=delivery_id,
    )


def _trigger(
    payload: Mapping[str, Any],
    invocation: str | None,
    signed_at: datetime,
    rules: MappingRules,
    fetch_ticket: FetchTicket | None,
    lookups: Lookups,
) -> WebhookResult:
    raw_id = payload.get("ticket_id")
    ticket_id = str(raw_id).strip() if isinstance(raw_id, (str, int)) else ""
    if isinstance(raw_id, bool) or not ticket_id.isdigit():
        raise WebhookRejected(
            "expected the ticket's numeric id (the {{ticket.id}} placeholder)",
            where=_WHERE,
            field="ticket_id",
        )
    raw_event = payload.get("event", "created")
    event_kind = (
        TRIGGER_EVENTS.get(raw_event.strip().lower()) if isinstance(raw_event, str) else None
    )
    if event_kind is None:
        raise WebhookRejected("expected created, updated or resolved", where=_WHERE, field="event")
    if fetch_ticket is None:
        raise WebhookRejected(
            "a trigger delivery names only a ticket id, and no Zendesk API credentials "
            "are configured to fetch it (or use event-subscription webhooks)",
            where=_WHERE,
        )
    record = fetch_ticket(ticket_id)
    if record is None or str(record.get("status", "")).lower() == "deleted":
        return WebhookResult(
            delivery_id=invocation, ignored=f"ticket {ticket_id} no longer exists in Zendesk"
        )
    zt = ticket_from_json(record, where=f"{_WHERE}: ticket {ticket_id}")
    occurred_at = None if event_kind is EventKind.CREATED else signed_at
    return _result(
        dict(record),
        zt,
        rules,
        lookups,
        kind=event_kind,
        occurred_at=occurred_at,
        delivery_id=invocation,
    )


@attrs.frozen
class Lookups:
    """The API lookups the customer rules may ask (``None``: no API credentials)."""

    requester_organization: RequesterOrganization | None = None
    organization_key: OrganizationKey | None = None


def _result(
    record: Mapping[str, Any],
    zt: ZendeskTicket,
    rules: MappingRules,
    lookups: Lookups,
    *,
    kind: EventKind,
    occurred_at: datetime | None,
    delivery_id: str | None,
) -> WebhookResult:
    payload = {
        "ticket": dict(record),
        "kind": kind.value,
        "occurred_at": None if occurred_at is None else occurred_at.isoformat(),
        "event_id": delivery_id,
    }
    mapped = event_from_payload(payload, zt, rules, lookups)
    if isinstance(mapped, Unmatched):
        return WebhookResult(delivery_id=delivery_id, ignored=mapped.reason, unmatched=(mapped,))
    if isinstance(mapped, Skip):
        return WebhookResult(delivery_id=delivery_id, ignored=mapped.reason)
    return WebhookResult(events=(mapped,), delivery_id=delivery_id)


def event_from_payload(
    payload: Mapping[str, Any], zt: ZendeskTicket, rules: MappingRules, lookups: Lookups
) -> TicketEvent | Unmatched | Skip:
    """The event a delivery stands for; kept aside (or skipped) when it names no customer.

    ``payload`` is what a kept-aside record stores, so a re-resolve maps it the same way.
    """
    mapped = map_ticket(
        zt,
        rules,
        requester_organization=lookups.requester_organization,
        organization_key=lookups.organization_key,
    )
    if isinstance(mapped, Skip):
        if mapped.keep:
            return Unmatched(SOURCE_NAME, zt.id, mapped.reason, payload)
        return mapped
    raw_at = payload.get("occurred_at")
    occurred_at = datetime.fromisoformat(raw_at) if isinstance(raw_at, str) else None
    event_id = payload.get("event_id")
    kind = EventKind(str(payload.get("kind", EventKind.CREATED.value)))
    return TicketEvent(
        ticket=mapped,
        kind=kind,
        occurred_at=occurred_at,
        event_id=event_id if isinstance(event_id, str) else None,
    )
