"""Which of a batch's tickets are stored already, in one read.

The pipeline classifies a new ticket *before* it stores it, so the ticket is written once with
its category (instead of stored, classified, and written again). Only new tickets are worth a
classifier's time (a redelivery or an update keeps the stored category), so a batch first asks
which of its tickets the store holds: :func:`known_tickets` uses the :class:`KnownTickets` role
when the store has it (one query per source and few hundred ids) and falls back to
:meth:`~ticketspike.store.base.Store.get_ticket` per ticket otherwise (a host's own store need
not implement it). Mixins for :class:`~ticketspike.store.memory.MemoryStore` and the SQL
stores (portable SQL, ``?`` placeholders, so PostgreSQL shares it). They never write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from .base import Store

__all__ = ["KnownTickets", "MemoryKnownTickets", "SQLiteKnownTickets", "known_tickets"]

Key = tuple[str, str]

# Ids per query: well under every SQLite build's limit on bound parameters.
_CHUNK = 400


@runtime_checkable
class KnownTickets(Protocol):
    """A read of which tickets, by ``(source, ticket_id)``, are stored."""

    def known_tickets(self, keys: Iterable[Key]) -> set[Key]:
        """The ones of ``keys`` the store holds (as this transaction sees it)."""
        ...


def known_tickets(store: Store, keys: Iterable[Key]) -> set[Key]:
    """:meth:`KnownTickets.known_tickets` of ``store``, or the same from ``get_ticket``."""
    if isinstance(store, KnownTickets):
        return store.known_tickets(keys)
    return {k for k in dict.fromkeys(keys) if store.get_ticket(*k) is not None}


class MemoryKnownTickets:
    """:class:`KnownTickets` for the in-memory store."""

    _lock: threading.RLock
    _tickets: dict[Key, Any]

    def known_tickets(self, keys: Iterable[Key]) -> set[Key]:
        with self._lock:
            return {k for k in keys if k in self._tickets}


class SQLiteKnownTickets:
    """:class:`KnownTickets` from the ``tickets`` table's key."""

    _all: Callable[..., list[Any]]

    def known_tickets(self, keys: Iterable[Key]) -> set[Key]:
        by_source: dict[str, list[str]] = {}
        for source, ticket_id in dict.fromkeys(keys):
            by_source.setdefault(source, []).append(ticket_id)
        found: set[Key] = set()
        for source, ids in by_source.items():
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                rows = self._all(
                    "SELECT source, ticket_id FROM tickets"
                    f" WHERE source = ? AND ticket_id IN ({marks})",
                    (source, *chunk),
                )
                found.update((str(r[0]), str(r[1])) for r in rows)
        return found


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]
