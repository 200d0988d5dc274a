"""Outbound events: one small function every part calls when it changes something a host's
systems should hear about.

:func:`emit` logs an :class:`~ticketspike.store.outbound.OutboundEvent` in the store. Call it
inside the same store transaction as the change it reports, so the change and its event are
kept together or not at all. Its id is derived from ``key`` (what changed: a task id and its
version, an episode and its transition...), so reporting the same change twice logs one event,
and every delivery of it carries the same ``webhook-id``. Delivering is someone else's job
(:mod:`ticketspike.outbound`); emitting never does I/O beyond the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .store.outbound import OutboundEvent, OutboundStore

__all__ = ["EVENT_TYPES", "emit", "event_id_for"]

# Every event type ticketspike emits; endpoints filter on these.
EVENT_TYPES: tuple[str, ...] = (
    "escalation.opened",
    "escalation.escalated",
    "escalation.acknowledged",
    "escalation.resolved",
    "task.created",
    "task.updated",
    "health_score.adjusted",
    "draft.created",
    "draft.approved",
    "draft.sent",
    "incident.opened",
    "incident.joined",
    "incident.resolved",
)


def event_id_for(event_type: str, key: str) -> str:
    """The event id (the ``webhook-id`` of its deliveries) for the change named by ``key``."""
    digest = hashlib.sha256(f"{event_type}\0{key}".encode()).hexdigest()
    return "msg_" + digest[:24]


def emit(
    store: OutboundStore, event_type: str, data: Mapping[str, Any], *, key: str, at: datetime
) -> OutboundEvent | None:
    """Log the event ``event_type`` for the change ``key``; None when it was logged already."""
    event = OutboundEvent(id=event_id_for(event_type, key), type=event_type, at=at, data=data)
    return event if store.add_outbound_event(event) else None
