"""Where the engine keeps tickets, detector state, episodes, plans, action records and the outbox.

:class:`Store` is the interface, a composition of role protocols (:mod:`.base`);
:class:`MemoryStore` (tests, short-lived hosts), :class:`SQLiteStore` (the embedded default,
one file) and :class:`~ticketspike.store.postgres.PostgresStore` (shared by replicas, the
``postgres`` extra) implement it with the same guarantees. :func:`open_store` opens one from
a location string (a file path or a ``postgresql://`` URL).
"""

from __future__ import annotations

from .base import (
    ActionRecord,
    ActionStatus,
    AttemptRecord,
    EpisodeRecord,
    OutboxEntry,
    PlanRecord,
    PutOutcome,
    Store,
    TicketRecord,
    TransitionRecord,
)
from .drafts import DraftRecord, DraftStatus
from .interactions import InteractionRecord, SilenceRecord
from .memory import MemoryStore
from .opening import open_store
from .sqlite import SQLiteStore

__all__ = [
    "ActionRecord",
    "ActionStatus",
    "AttemptRecord",
    "DraftRecord",
    "DraftStatus",
    "EpisodeRecord",
    "InteractionRecord",
    "MemoryStore",
    "OutboxEntry",
    "PlanRecord",
    "PutOutcome",
    "SQLiteStore",
    "SilenceRecord",
    "Store",
    "TicketRecord",
    "TransitionRecord",
    "open_store",
]
