"""Parked actions: pending actions that must not run before a time (the store's part).

An action answered with a long ``Retry-After`` (or failing again and again) is *parked*
instead of holding the executor in a sleep: it stays ``pending`` and gets a row here with the
time it may run again, so the executor passes over it (and over the actions that depend on
it) and carries on with everyone else's. The row goes when the action runs to an end.

Times are epoch seconds of the wall clock (like leases), with the ISO form beside them for
people reading the store. Mixins for :class:`~ticketspike.store.memory.MemoryStore` and
:class:`~ticketspike.store.sqlite.SQLiteStore`; they never read the clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, Protocol

import attrs

__all__ = ["MemoryParking", "ParkedAction", "Parking", "SQLiteParking"]


@attrs.frozen(kw_only=True)
class ParkedAction:
    """A pending action that waits until ``until`` (epoch seconds); ``parks`` counts parkings."""

    key: str
    customer_id: str
    until: float
    reason: str
    parks: int = 1

    @property
    def until_at(self) -> datetime:
        return datetime.fromtimestamp(self.until, tz=timezone.utc)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "customer_id": self.customer_id,
            "until": self.until_at.isoformat(),
            "reason": self.reason,
            "parks": self.parks,
        }


class Parking(Protocol):
    """The store role for parked actions."""

    def park_action(self, key: str, *, customer_id: str, until: float, reason: str) -> None:
        """Park ``key`` until ``until`` (a second parking moves the time and counts one more)."""
        ...

    def parked_actions(self) -> dict[str, ParkedAction]:
        """Every parked action by key, whether its time has come or not."""
        ...

    def unpark_action(self, key: str) -> bool:
        """Forget the parking of ``key``; True if there was one."""
        ...


class MemoryParking:
    """:class:`Parking` for the memory store."""

    _lock: threading.RLock
    _set: Callable[[dict[Any, Any], Any, Any], None]
    _delete: Callable[[dict[Any, Any], Any], None]
    transaction: Callable[[], AbstractContextManager[None]]

    def _parking(self) -> dict[str, ParkedAction]:
        table: dict[str, ParkedAction] | None = getattr(self, "_parking_table", None)
        if table is None:
            table = {}
            self._parking_table = table
        return table

    def park_action(self, key: str, *, customer_id: str, until: float, reason: str) -> None:
        with self.transaction():
            old = self._parking().get(key)
            parks = 1 if old is None else old.parks + 1
            record = ParkedAction(
                key=key, customer_id=customer_id, until=until, reason=reason, parks=parks
            )
            self._set(self._parking(), key, record)

    def parked_actions(self) -> dict[str, ParkedAction]:
        with self._lock:
            return dict(self._parking())

    def unpark_action(self, key: str) -> bool:
        with self.transaction():
            if key not in self._parking():
                return False
            self._delete(self._parking(), key)
            return True


class SQLiteParking:
    """:class:`Parking` in the ``parked_actions`` table (portable SQL)."""

    _all: Callable[..., list[Any]]
    _exec: Callable[..., int]

    def park_action(self, key: str, *, customer_id: str, until: float, reason: str) -> None:
        until_at = datetime.fromtimestamp(until, tz=timezone.utc).isoformat()
        self._exec(
            "INSERT INTO parked_actions (key, customer_id, until_at, until_ts, reason, parks)"
            " VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (key) DO UPDATE SET"
            " until_at = excluded.until_at, until_ts = excluded.until_ts,"
            " reason = excluded.reason, parks = parked_actions.parks + 1",
            (key, customer_id, until_at, until, reason),
        )

    def parked_actions(self) -> dict[str, ParkedAction]:
        rows: Sequence[Any] = self._all(
            "SELECT key, customer_id, until_ts, reason, parks FROM parked_actions"
        )
        return {
            r[0]: ParkedAction(
                key=r[0], customer_id=r[1], until=float(r[2]), reason=r[3], parks=int(r[4])
            )
            for r in rows
        }

    def unpark_action(self, key: str) -> bool:
        return self._exec("DELETE FROM parked_actions WHERE key = ?", (key,)) == 1
