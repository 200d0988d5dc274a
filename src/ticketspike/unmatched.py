"""Records a source could not tie to a customer, kept aside instead of dropped.

A conversation whose contact belongs to no company, or a ticket whose requester
has no organization the mapping knows, is valid data the detector cannot count
yet. Dropping it would make a real spike look smaller than it is, so a source
hands it back as an :class:`Unmatched` with the reason and its own JSON
(``payload``), the store keeps it, ``ticketspike unmatched`` lists it, and once
the mapping is fixed ``ticketspike re-resolve`` asks the source again
(:class:`ResolvesUnmatched`) and counts what now resolves.

Pure values only: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from .model import TicketEvent

__all__ = ["ResolvesUnmatched", "Unmatched", "UnmatchedRecord"]


@attrs.frozen
class Unmatched:
    """One record without a customer.

    ``record_id`` is the source's id for it (conversation or ticket id);
    ``reason`` says which lookups were tried (never secrets, never ticket text);
    ``payload`` is whatever JSON the source needs to map it again later.
    """

    source: str
    record_id: str
    reason: str
    payload: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen
class UnmatchedRecord:
    """A stored :class:`Unmatched` with when it was first and last seen or tried."""

    source: str
    record_id: str
    reason: str
    payload: Mapping[str, Any]
    first_seen: datetime
    last_seen: datetime
    attempts: int

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "record_id": self.record_id,
            "reason": self.reason,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "attempts": self.attempts,
        }


@runtime_checkable
class ResolvesUnmatched(Protocol):
    """A ticket source that can map one of its unmatched records again."""

    @property
    def name(self) -> str: ...

    def resolve_unmatched(self, payload: Mapping[str, Any]) -> tuple[TicketEvent, ...] | Unmatched:
        """The record's events when its customer is now found, else a fresh :class:`Unmatched`."""
        ...
