"""Window reads without whole bodies: tickets with their body cut to a prefix.

Theme analysis reads a prefix of each body, a summary an excerpt, a banner only a count. With
a hundred 64 KB tickets in a window, reading and decoding whole tickets for those costs tens of
milliseconds of interpreter time per read, which every webhook waits for. The SQL stores keep
the body in its own column (with its length written at insert), so :class:`TicketHeads` reads
the small ticket JSON and ``substr`` of the body; only
:meth:`~ticketspike.store.base.Store.get_ticket` and ``tickets`` return bodies whole.

:func:`ticket_heads` uses the role when the store has it and falls back to
:meth:`~ticketspike.store.base.Store.tickets` otherwise (a host's own store need not implement
it). Mixins for :class:`~ticketspike.store.memory.MemoryStore` and the SQL stores (portable
SQL: ``substr`` and ``coalesce``, ``?`` placeholders, so PostgreSQL shares it). They never
write and never read the clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from ..model import Ticket
from .base import Store, TicketRecord
from .codec import event_from_json

__all__ = [
    "MemoryTicketHeads",
    "SQLiteTicketHeads",
    "TicketHead",
    "TicketHeads",
    "ticket_heads",
]


@attrs.frozen
class TicketHead:
    """A stored ticket whose body is cut to a prefix, and the length of the whole body."""

    ticket: Ticket
    status: str
    body_length: int

    @property
    def body_truncated(self) -> bool:
        return self.body_length > len(self.ticket.body)


@runtime_checkable
class TicketHeads(Protocol):
    """Window reads that never return a body longer than asked."""

    def ticket_heads(
        self,
        customer_id: str,
        *,
        since: datetime,
        until: datetime,
        body_chars: int,
        include_internal: bool = False,
    ) -> list[TicketHead]:
        """The customer's tickets created in ``(since, until]`` in creation order (as
        :meth:`~ticketspike.store.base.Store.tickets` orders them), each body cut to its
        first ``body_chars`` characters."""
        ...


def ticket_heads(
    store: Store,
    customer_id: str,
    *,
    since: datetime,
    until: datetime,
    body_chars: int,
    include_internal: bool = False,
) -> list[TicketHead]:
    """:meth:`TicketHeads.ticket_heads` of ``store``, or the same cut from its whole tickets."""
    if isinstance(store, TicketHeads):
        return store.ticket_heads(
            customer_id,
            since=since,
            until=until,
            body_chars=body_chars,
            include_internal=include_internal,
        )
    records = store.tickets(
        customer_id=customer_id, since=since, until=until, include_internal=include_internal
    )
    return [_cut(r, body_chars) for r in records]


def _cut(record: TicketRecord, body_chars: int) -> TicketHead:
    ticket = record.ticket
    length = len(ticket.body)
    if length > body_chars:
        ticket = attrs.evolve(ticket, body=ticket.body[:body_chars])
    return TicketHead(ticket=ticket, status=record.status, body_length=length)


class MemoryTicketHeads:
    """:class:`TicketHeads` for the in-memory store (its tickets are in memory anyway)."""

    tickets: Callable[..., list[TicketRecord]]

    def ticket_heads(
        self,
        customer_id: str,
        *,
        since: datetime,
        until: datetime,
        body_chars: int,
        include_internal: bool = False,
    ) -> list[TicketHead]:
        records = self.tickets(
            customer_id=customer_id, since=since, until=until, include_internal=include_internal
        )
        return [_cut(r, body_chars) for r in records]


class SQLiteTicketHeads:
    """:class:`TicketHeads` from the ``body`` and ``body_length`` columns."""

    _all: Callable[..., list[Any]]

    def ticket_heads(
        self,
        customer_id: str,
        *,
        since: datetime,
        until: datetime,
        body_chars: int,
        include_internal: bool = False,
    ) -> list[TicketHead]:
        sql = (
            "SELECT event, status, substr(body, 1, ?), body_length FROM tickets"
            " WHERE customer_id = ? AND created_ts > ? AND created_ts <= ?"
        )
        if not include_internal:
            sql += " AND internal = 0"
        sql += " ORDER BY created_ts, source, ticket_id"
        rows = self._all(sql, (body_chars, customer_id, since.timestamp(), until.timestamp()))
        return [_head(row, body_chars) for row in rows]


def _head(row: Sequence[Any], body_chars: int) -> TicketHead:
    data = json.loads(row[0])
    if row[2] is None:
        # The body is inside the JSON: a row written before bodies had their own column,
        # or a body with a NUL character (see ``sqlcore._split_body``).
        body = data.get("body", "")
        length = len(body) if isinstance(body, str) else 0
        if length > body_chars:
            data["body"] = body[:body_chars]
    else:
        length = int(row[3])
        data["body"] = row[2]
    return TicketHead(ticket=event_from_json(data).ticket, status=row[1], body_length=length)
