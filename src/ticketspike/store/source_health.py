"""Each ticket source's learned delivery rhythm: the store's part.

One record per source (:class:`~ticketspike.source_health.SourceRhythm`, kept as JSON) with
a version for compare-and-set: :meth:`put_source_rhythm` writes only if the stored version is
still the one the caller read, so two processes noting deliveries of one source never lose
each other's counts (the loser reads again and retries). Restarts keep what was learned.

Mixins for :class:`~ticketspike.store.memory.MemoryStore` and
:class:`~ticketspike.store.sqlite.SQLiteStore`, in the portable SQL subset (the PostgreSQL
DDL is ``pg_migrations/0002_source_health.sql``); they never read the clock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, Protocol

from ..source_health import SourceRhythm

__all__ = ["MemorySourceHealth", "SQLiteSourceHealth", "SourceHealthStore"]


class SourceHealthStore(Protocol):
    """The store role for source rhythms."""

    def source_rhythm(self, source: str) -> tuple[int, SourceRhythm] | None:
        """``(version, rhythm)`` of one source, or None when it was never seen."""
        ...

    def source_rhythms(self) -> list[tuple[int, SourceRhythm]]:
        """Every known source's ``(version, rhythm)``, by name."""
        ...

    def put_source_rhythm(self, rhythm: SourceRhythm, *, version: int, at: datetime) -> bool:
        """Write ``rhythm`` if the stored version is still ``version`` (0: not stored yet);
        False, writing nothing, when someone else wrote first."""
        ...


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


class MemorySourceHealth:
    """The source-rhythm part of :class:`~ticketspike.store.memory.MemoryStore`."""

    _lock: threading.RLock
    _set: Callable[[dict[Any, Any], Any, Any], None]
    transaction: Callable[[], AbstractContextManager[None]]

    def _rhythm_rows(self) -> dict[str, tuple[int, dict[str, Any]]]:
        rows: dict[str, tuple[int, dict[str, Any]]] | None = getattr(self, "_rhythms", None)
        if rows is None:
            rows = {}
            self._rhythms = rows
        return rows

    def source_rhythm(self, source: str) -> tuple[int, SourceRhythm] | None:
        with self._lock:
            row = self._rhythm_rows().get(source)
        return None if row is None else (row[0], SourceRhythm.from_json(row[1]))

    def source_rhythms(self) -> list[tuple[int, SourceRhythm]]:
        with self._lock:
            rows = sorted(self._rhythm_rows().items())
        return [(version, SourceRhythm.from_json(data)) for _name, (version, data) in rows]

    def put_source_rhythm(self, rhythm: SourceRhythm, *, version: int, at: datetime) -> bool:
        with self.transaction():
            rows = self._rhythm_rows()
            current = rows.get(rhythm.source)
            if (current[0] if current is not None else 0) != version:
                return False
            self._set(rows, rhythm.source, (version + 1, rhythm.to_json()))
            return True


class SQLiteSourceHealth:
    """The source-rhythm part of :class:`~ticketspike.store.sqlite.SQLiteStore`."""

    transaction: Callable[[], AbstractContextManager[None]]
    _one: Callable[..., Any]
    _all: Callable[..., list[Any]]
    _exec: Callable[..., int]

    def source_rhythm(self, source: str) -> tuple[int, SourceRhythm] | None:
        row = self._one("SELECT version, state FROM source_rhythms WHERE source = ?", (source,))
        return None if row is None else (int(row[0]), SourceRhythm.from_json(json.loads(row[1])))

    def source_rhythms(self) -> list[tuple[int, SourceRhythm]]:
        rows = self._all("SELECT version, state FROM source_rhythms ORDER BY source")
        return [(int(r[0]), SourceRhythm.from_json(json.loads(r[1]))) for r in rows]

    def put_source_rhythm(self, rhythm: SourceRhythm, *, version: int, at: datetime) -> bool:
        state = json.dumps(rhythm.to_json(), ensure_ascii=False, separators=(",", ":"))
        if version == 0:
            written = self._exec(
                "INSERT INTO source_rhythms (source, version, last_ts, state, updated_at)"
                " VALUES (?, 1, ?, ?, ?) ON CONFLICT (source) DO NOTHING",
                (rhythm.source, rhythm.last_ts, state, _iso(at)),
            )
        else:
            written = self._exec(
                "UPDATE source_rhythms SET version = ?, last_ts = ?, state = ?, updated_at = ?"
                " WHERE source = ? AND version = ?",
                (version + 1, rhythm.last_ts, state, _iso(at), rhythm.source, version),
            )
        return written == 1
