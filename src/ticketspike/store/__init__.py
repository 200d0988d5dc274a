"""Where the engine keeps tickets, detector state, episodes, plans, action records and the outbox.

:class:`Store` is the interface; :class:`MemoryStore` (tests, short-lived hosts) and
:class:`SQLiteStore` (the embedded default, one file) implement it with the same guarantees.
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
]
