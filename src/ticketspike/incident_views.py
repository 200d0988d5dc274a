"""Typed reads of product incidents for the dashboard: what the list page shows above the
escalation cards, what an incident page lists, and which incident an escalation is part of.

They read the stored incident records (:mod:`ticketspike.store.incidents`), so they show what
the store has, like every other dashboard view; names come from the account directory and fall
back to the customer id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from .model import Account
from .store.base import Store
from .store.incidents import IncidentRecord

__all__ = ["IncidentMember", "IncidentSummary", "IncidentViews"]


def _when(value: Any) -> datetime | None:
    try:
        return None if value is None else datetime.fromisoformat(str(value))
    except ValueError:
        return None


@attrs.frozen
class IncidentMember:
    """One customer's escalation in an incident."""

    customer_id: str
    customer_name: str
    episode_id: str
    status: str  # the episode's: "active", "resolved" (or "unknown" when it is not stored)


@attrs.frozen
class IncidentSummary:
    """One product incident as the dashboard shows it."""

    incident_id: str
    status: str
    key: str
    label: str  # what the customers spike on: "technical", "login issues"
    kind: str  # "category" or "theme"
    themes: tuple[str, ...]
    customers: int
    ticket_count: int
    first_spike: datetime
    latest_spike: datetime | None
    resolved_at: datetime | None
    episode_ids: tuple[str, ...]


class IncidentViews:
    """Reads incidents from a store; ``account`` names customers (the engine's lookup)."""

    def __init__(self, store: Store, account: Callable[[str], Account | None]) -> None:
        self.store = store
        self.account = account

    def summary(self, record: IncidentRecord) -> IncidentSummary:
        data: Mapping[str, Any] = record.data
        key = str(data.get("key", ""))
        kind, _, label = key.partition(":")
        return IncidentSummary(
            incident_id=record.incident_id,
            status=record.status,
            key=key,
            label=label or key,
            kind=kind,
            themes=tuple(str(t) for t in data.get("themes", ())),
            customers=len(data.get("customer_ids", ())),
            ticket_count=int(data.get("ticket_count", 0) or 0),
            first_spike=record.first_spike,
            latest_spike=_when(data.get("latest_spike")),
            resolved_at=_when(data.get("resolved_at")),
            episode_ids=tuple(str(e) for e in data.get("episode_ids", ())),
        )

    def open_incidents(self) -> list[IncidentSummary]:
        """Open incidents, first spike first (the list page, above the cards)."""
        return [self.summary(r) for r in self.store.incidents(status="open")]

    def incident(self, incident_id: str) -> IncidentSummary | None:
        record = self.store.incident(incident_id)
        return None if record is None else self.summary(record)

    def members(self, incident: IncidentSummary) -> list[IncidentMember]:
        """The incident's escalations, in the order they came in."""
        out = []
        for episode_id in incident.episode_ids:
            episode = self.store.episode(episode_id)
            customer = episode.customer_id if episode is not None else ""
            account = self.account(customer) if customer else None
            out.append(
                IncidentMember(
                    customer_id=customer,
                    customer_name=account.display_name if account is not None else customer,
                    episode_id=episode_id,
                    status=episode.status if episode is not None else "unknown",
                )
            )
        return out

    def by_episode(self, *, include_resolved: bool = False) -> dict[str, IncidentSummary]:
        """Episode id -> the incident it is part of (open ones, or every one)."""
        records = self.store.incidents(status=None if include_resolved else "open")
        return {e: s for s in map(self.summary, records) for e in s.episode_ids}
