"""Signed Intercom webhook notifications -> ticket events.

Order matters and is fixed: verify ``X-Hub-Signature`` over the raw bytes
first, only then parse JSON, then check freshness, then map. Intercom signs
the body alone (HMAC-SHA1 with the app's client secret) and puts no
timestamp in the signature, so replay protection has two halves: the
notification ``id`` comes back as ``delivery_id`` for the engine to
deduplicate, and notifications older than ``max_age`` are refused.

Errors never carry a secret, an expected signature or conversation text:
they say which check failed and what was expected. No clock is read here;
``now`` is a parameter.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ticketspike import (
    EventKind,
    InvalidTicket,
    Secret,
    SignatureError,
    TicketEvent,
    Unmatched,
    WebhookRejected,
    WebhookResult,
    jsontext,
)

from .customers import CustomerResolver, Resolution
from .mapping import SOURCE_NAME, unix_time
from .settings import IntercomSettings

__all__ = [
    "IGNORED_TOPICS",
    "SIGNATURE_HEADER",
    "TOPIC_EVENTS",
    "event_from_payload",
    "parse_notification",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "x-hub-signature"
WHERE = "intercom webhook"

# topic -> (event kind, forced internal). Replies are decided by the mapping rules.
TOPIC_EVENTS: Mapping[str, tuple[EventKind, bool]] = {
    "conversation.user.created": (EventKind.CREATED, False),
    # A teammate writing to a customer is stored for the record but never counts.
    "conversation.admin.single.created": (EventKind.CREATED, True),
    "conversation.admin.closed": (EventKind.RESOLVED, False),
    "conversation.priority.updated": (EventKind.UPDATED, False),
    "conversation_part.tag.created": (EventKind.UPDATED, False),
}
REPLIED_TOPIC = "conversation.user.replied"

# Topics a workspace commonly subscribes to that carry nothing ticketspike counts.
IGNORED_TOPICS: Mapping[str, str] = {
    "ping": "ping: Intercom checking that the endpoint answers",
    "conversation.admin.noted": "internal notes never count as customer volume",
    "conversation.admin.replied": "teammate replies do not change what is counted",
    "conversation.admin.assigned": "assignment does not change what is counted",
    "conversation.admin.snoozed": "snoozing does not change what is counted",
    "conversation.admin.unsnoozed": "unsnoozing does not change what is counted",
    "conversation.admin.opened": "reopening does not change what is counted",
    "conversation.read": "reading does not change what is counted",
    "conversation.deleted": "deleted conversations are kept in history as they were",
}


def sign(body: bytes, secret: str | Secret) -> str:
    """The ``X-Hub-Signature`` value Intercom sends for ``body`` (``sha1=<hex>``)."""
    key = secret.reveal() if isinstance(secret, Secret) else secret
    return "sha1=" + hmac.new(key.encode("utf-8"), body, hashlib.sha1).hexdigest()


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[Secret],
    *,
    secret_env: str = "INTERCOM_CLIENT_SECRET",
) -> None:
    """Raise :class:`SignatureError` unless one of ``secrets`` signed ``body``.

    Every secret is tried even after a match, so timing does not tell an
    attacker which of several rotating secrets is current.
    """
    if not secrets:
        raise SignatureError(
            f"no client secret configured: set ${secret_env} to the app's client secret",
            where=WHERE,
        )
    header = headers.get(SIGNATURE_HEADER)
    if header is None or not header.strip():
        raise SignatureError("missing X-Hub-Signature header", where=WHERE)
    value = header.strip()
    if not value.lower().startswith("sha1="):
        raise SignatureError("X-Hub-Signature must look like 'sha1=<40 hex digits>'", where=WHERE)
    given = value[5:].strip().lower().encode("utf-8", "replace")
    matched = False
    for secret in secrets:
        expected = sign(body, secret)[5:].encode("ascii")
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise SignatureError(
            "signature does not match the body (wrong client secret, or the body was altered)",
            where=WHERE,
        )


def _freshness(notification: Mapping[str, Any], settings: IntercomSettings, now: datetime) -> None:
    stamps = []
    for key in ("created_at", "first_sent_at"):
        if notification.get(key) is not None:
            try:
                stamps.append(unix_time(notification[key], where=WHERE, field=key))
            except InvalidTicket as exc:
                raise WebhookRejected(exc.message, where=WHERE, field=key) from None
    if not stamps:
        raise WebhookRejected(
            "notification has neither created_at nor first_sent_at, so its age cannot be checked",
            where=WHERE,
            field="created_at",
        )
    # A notification Intercom queued and sent later is judged by when it was first sent.
    age = (now - max(stamps)).total_seconds()
    if age > settings.max_age:
        raise SignatureError(
            f"stale notification: sent {age:.0f} s ago, older than max_age "
            f"{settings.max_age:g} s (replayed, or delivered very late)",
            where=WHERE,
            field="created_at",
        )
    if -age > settings.max_future_skew:
        raise SignatureError(
            f"notification dated {-age:.0f} s in the future (more than max_future_skew "
            f"{settings.max_future_skew:g} s): check this host's clock",
            where=WHERE,
            field="created_at",
        )


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_notification(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secrets: Sequence[Secret],
    settings: IntercomSettings,
    now: datetime,
    resolver: CustomerResolver | None = None,
) -> WebhookResult:
    """Verify, parse and map one webhook delivery (``headers`` keys lower-case).

    ``resolver`` finds the customer of a conversation that names only contacts (through
    the API when it has a token); without one only the configured rules apply.
    """
    verify_signature(body, headers, secrets, secret_env=settings.client_secret_env)
    try:
        notification = jsontext.loads(body)
    except jsontext.JsonError as exc:
        raise WebhookRejected(f"body is not valid JSON: {exc}", where=WHERE) from None
    if not isinstance(notification, dict):
        raise WebhookRejected(
            f"expected a notification object, got {type(notification).__name__}", where=WHERE
        )
    topic = notification.get("topic")
    if not isinstance(topic, str) or not topic.strip():
        raise WebhookRejected("missing topic", where=WHERE, field="topic")
    delivery_id = notification.get("id")
    if topic == "ping":
        # Intercom's endpoint test may carry no id; it changes nothing, so it needs none.
        ping_id = delivery_id if isinstance(delivery_id, str) and delivery_id else None
        return WebhookResult(delivery_id=ping_id, ignored=IGNORED_TOPICS["ping"])
    if not isinstance(delivery_id, str) or not delivery_id.strip():
        raise WebhookRejected(
            "missing notification id (needed to drop replays)", where=WHERE, field="id"
        )
    _freshness(notification, settings, now)

    if topic == REPLIED_TOPIC:
        if settings.mapping.replied == "ignore":
            return WebhookResult(
                delivery_id=delivery_id,
                ignored="user replies are ignored (mapping.replied: ignore)",
            )
        kind, internal = EventKind.UPDATED, False
    elif topic in TOPIC_EVENTS:
        kind, internal = TOPIC_EVENTS[topic]
    elif topic in IGNORED_TOPICS:
        return WebhookResult(delivery_id=delivery_id, ignored=IGNORED_TOPICS[topic])
    else:
        return WebhookResult(
            delivery_id=delivery_id,
            ignored=f"topic {_short(topic)!r} is not one ticketspike uses",
        )

    data = notification.get("data")
    item = data.get("item") if isinstance(data, Mapping) else None
    if not isinstance(item, Mapping):
        raise WebhookRejected(
            "expected the conversation object in data.item", where=WHERE, field="data.item"
        )
    app_id = settings.app_id
    if app_id is None and isinstance(notification.get("app_id"), str):
        app_id = notification["app_id"]
    occurred: int | None = None
    if kind is not EventKind.CREATED:
        occurred_at = unix_time(
            notification.get("created_at") or notification.get("first_sent_at"),
            where=WHERE,
            field="created_at",
        )
        occurred = int(occurred_at.timestamp())
    payload = {
        "item": dict(item),
        "kind": kind.value,
        "internal": internal,
        "app_id": app_id,
        "occurred_at": occurred,
        "event_id": delivery_id,
    }
    try:
        mapped = event_from_payload(payload, resolver or CustomerResolver(settings, None))
    except InvalidTicket as exc:
        field = f"data.item.{exc.field}" if exc.field else "data.item"
        raise WebhookRejected(exc.message, where=WHERE, field=field) from None
    if isinstance(mapped, Unmatched):
        # Valid and signed, but no customer yet: acknowledged (or Intercom retries
        # forever) and kept aside for `ticketspike re-resolve`.
        return WebhookResult(delivery_id=delivery_id, ignored=mapped.reason, unmatched=(mapped,))
    return WebhookResult(events=(mapped,), delivery_id=delivery_id)


def event_from_payload(
    payload: Mapping[str, Any], resolver: CustomerResolver
) -> TicketEvent | Unmatched:
    """The event a notification (as kept in ``payload``) stands for, or why it has no customer.

    Used for a fresh delivery and again by re-resolve, so both map it the same way.
    """
    item = payload.get("item")
    if not isinstance(item, Mapping):
        raise InvalidTicket("expected the conversation object", where="data.item")
    kind = EventKind(str(payload.get("kind", EventKind.CREATED.value)))
    app_id = payload.get("app_id") if isinstance(payload.get("app_id"), str) else None
    mapped = resolver.ticket(
        item, app_id=app_id, internal=bool(payload.get("internal")), where="data.item"
    )
    if isinstance(mapped, Resolution):
        return Unmatched(
            source=SOURCE_NAME,
            record_id=str(item.get("id")),
            reason=f"no customer: {mapped.reason}",
            payload=payload,
        )
    occurred_at = mapped.created_at
    if payload.get("occurred_at") is not None:
        occurred_at = unix_time(payload["occurred_at"], where=WHERE, field="created_at")
    event_id = payload.get("event_id") if isinstance(payload.get("event_id"), str) else None
    return TicketEvent(ticket=mapped, kind=kind, occurred_at=occurred_at, event_id=event_id)
