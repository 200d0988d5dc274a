"""Each ticket source's learned delivery rhythm: the store's part.

One row per source. The learned part (:class:`~ticketspike.source_health.SourceRhythm`, as
JSON) changes at most once per ten-minute interval, so it is written only then (``learned``
writes, which give ``rev`` a new random value: a reader caching the learned part by ``rev``
can never take a rolled-back write for a committed one); a delivery within the same
interval updates only the small ``last_ts`` and ``deliveries`` columns, and a reader merges
them into the JSON's rhythm. That keeps the webhook path to one small write.

``version`` makes every write a compare-and-set: :meth:`put_source_rhythm` writes only if the
stored version is still the one the caller read, so two processes noting deliveries of one
source never lose each other's counts (the loser reads again and retries). Restarts keep what
was learned.

Mixins for :class:`~ticketspike.store.memory.MemoryStore` and
:class:`~ticketspike.store.sqlite.SQLiteStore`, in the portable SQL subset (the PostgreSQL
DDL is ``pg_migrations/0002_source_health.sql``); they never read the clock.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, Protocol

import attrs

from ..source_health import SourceRhythm

__all__ = ["MemorySourceHealth", "RhythmHead", "SQLiteSourceHealth", "SourceHealthStore"]


@attrs.frozen
class RhythmHead:
    """The cheap part of a stored rhythm: its version, the revision of its learned part, and
    the columns every delivery moves."""

    version: int
    rev: int
    last_ts: float
    deliveries: int


class SourceHealthStore(Protocol):
    """The store role for source rhythms."""

    def source_rhythm_head(self, source: str) -> RhythmHead | None:
        """Version, learned revision, last delivery and count of one source (cheap)."""
        ...

    def source_rhythm(self, source: str) -> tuple[RhythmHead, SourceRhythm] | None:
        """One source's head and whole rhythm, or None when it was never seen."""
        ...

    def source_rhythms(self) -> list[tuple[RhythmHead, SourceRhythm]]:
        """Every known source's head and rhythm, by name."""
        ...

    def source_names(self) -> list[str]:
        """The names of the known sources, sorted (cheap)."""
        ...

    def put_source_rhythm(
        self, rhythm: SourceRhythm, *, version: int, at: datetime, learned: bool = True
    ) -> bool:
        """Write ``rhythm`` if the stored version is still ``version`` (0: not stored yet);
        False, writing nothing, when someone else wrote first. ``learned=False`` writes only
        its last delivery and count (nothing else changed since the stored one)."""
        ...


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


def _merged(state: SourceRhythm, last_ts: float, deliveries: int) -> SourceRhythm:
    if state.last_ts == last_ts and state.deliveries == deliveries:
        return state
    return attrs.evolve(state, last_ts=last_ts, deliveries=deliveries)


class MemorySourceHealth:
    """The source-rhythm part of :class:`~ticketspike.store.memory.MemoryStore`."""

    _lock: threading.RLock
    _set: Callable[[dict[Any, Any], Any, Any], None]
    transaction: Callable[[], AbstractContextManager[None]]

    def _rhythm_rows(self) -> dict[str, tuple[RhythmHead, SourceRhythm]]:
        rows: dict[str, tuple[RhythmHead, SourceRhythm]] | None = getattr(self, "_rhythms", None)
        if rows is None:
            rows = {}
            self._rhythms = rows
        return rows

    def source_rhythm_head(self, source: str) -> RhythmHead | None:
        with self._lock:
            row = self._rhythm_rows().get(source)
        return None if row is None else row[0]

    def source_rhythm(self, source: str) -> tuple[RhythmHead, SourceRhythm] | None:
        with self._lock:
            row = self._rhythm_rows().get(source)
        if row is None:
            return None
        head, state = row
        return head, _merged(state, head.last_ts, head.deliveries)

    def source_rhythms(self) -> list[tuple[RhythmHead, SourceRhythm]]:
        with self._lock:
            rows = sorted(self._rhythm_rows().items())
        return [(h, _merged(s, h.last_ts, h.deliveries)) for _name, (h, s) in rows]

    def source_names(self) -> list[str]:
        with self._lock:
            return sorted(self._rhythm_rows())

    def put_source_rhythm(
        self, rhythm: SourceRhythm, *, version: int, at: datetime, learned: bool = True
    ) -> bool:
        with self.transaction():
            rows = self._rhythm_rows()
            current = rows.get(rhythm.source)
            if (current[0].version if current is not None else 0) != version:
                return False
            if current is not None and not learned:
                rev, state = current[0].rev, current[1]
            else:
                rev = _new_rev()
                # Kept as its JSON form would read back, like the SQLite store.
                state = SourceRhythm.from_json(rhythm.to_json())
            head = RhythmHead(version + 1, rev, rhythm.last_ts, rhythm.deliveries)
            self._set(rows, rhythm.source, (head, state))
            return True


class SQLiteSourceHealth:
    """The source-rhythm part of :class:`~ticketspike.store.sqlite.SQLiteStore`."""

    transaction: Callable[[], AbstractContextManager[None]]
    _one: Callable[..., Any]
    _all: Callable[..., list[Any]]
    _exec: Callable[..., int]

    def source_rhythm_head(self, source: str) -> RhythmHead | None:
        row = self._one(
            "SELECT version, rev, last_ts, deliveries FROM source_rhythms WHERE source = ?",
            (source,),
        )
        return None if row is None else RhythmHead(int(row[0]), int(row[1]), row[2], int(row[3]))

    def source_rhythm(self, source: str) -> tuple[RhythmHead, SourceRhythm] | None:
        row = self._one(
            "SELECT version, rev, last_ts, deliveries, state FROM source_rhythms WHERE source = ?",
            (source,),
        )
        return None if row is None else _row(row)

    def source_rhythms(self) -> list[tuple[RhythmHead, SourceRhythm]]:
        rows = self._all(
            "SELECT version, rev, last_ts, deliveries, state FROM source_rhythms ORDER BY source"
        )
        return [_row(r) for r in rows]

    def source_names(self) -> list[str]:
        return [r[0] for r in self._all("SELECT source FROM source_rhythms ORDER BY source")]

    def put_source_rhythm(
        self, rhythm: SourceRhythm, *, version: int, at: datetime, learned: bool = True
    ) -> bool:
        if version == 0:
            written = self._exec(
                "INSERT INTO source_rhythms (source, version, rev, last_ts, deliveries, state,"
                " updated_at) VALUES (?, 1, ?, ?, ?, ?, ?) ON CONFLICT (source) DO NOTHING",
                (
                    rhythm.source,
                    _new_rev(),
                    rhythm.last_ts,
                    rhythm.deliveries,
                    _dump(rhythm),
                    _iso(at),
                ),
            )
        elif learned:
            written = self._exec(
                "UPDATE source_rhythms SET version = ?, rev = ?, last_ts = ?,"
                " deliveries = ?, state = ?, updated_at = ? WHERE source = ? AND version = ?",
                (
                    version + 1,
                    _new_rev(),
                    rhythm.last_ts,
                    rhythm.deliveries,
                    _dump(rhythm),
                    _iso(at),
                    rhythm.source,
                    version,
                ),
            )
        else:
            written = self._exec(
                "UPDATE source_rhythms SET version = ?, last_ts = ?, deliveries = ?,"
                " updated_at = ? WHERE source = ? AND version = ?",
                (version + 1, rhythm.last_ts, rhythm.deliveries, _iso(at), rhythm.source, version),
            )
        return written == 1


def _new_rev() -> int:
    return secrets.randbits(62)


def _dump(rhythm: SourceRhythm) -> str:
    return json.dumps(rhythm.to_json(), ensure_ascii=False, separators=(",", ":"))


def _row(row: Any) -> tuple[RhythmHead, SourceRhythm]:
    head = RhythmHead(int(row[0]), int(row[1]), row[2], int(row[3]))
    state = SourceRhythm.from_json(json.loads(row[4]))
    return head, _merged(state, head.last_ts, head.deliveries)
