"""What people did about an episode, and the silences they recorded: the store's part.

An :class:`InteractionRecord` is one act (acknowledge, snooze, resolve, war room, a refused
click...) with who, when, what and the outcome. Its ``key`` is the act's idempotency key: a
second record with the same key writes nothing, which is what makes a click Slack delivers
three times act once. A :class:`SilenceRecord` is a customer silence someone recorded (a
snooze); the engine hands active ones to the lifecycle beside the configured silences.

Also here: :meth:`record_plan` for plans that follow no transition (the escalation chain's
reminders), under a plan id of the caller's choosing.

Mixins for :class:`~ticketspike.store.memory.MemoryStore` and
:class:`~ticketspike.store.sqlite.SQLiteStore`; they never read the clock.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, Protocol

import attrs

from ..planner.plan import EscalationPlan

__all__ = [
    "InteractionRecord",
    "InteractionStore",
    "MemoryInteractions",
    "SQLiteInteractions",
    "SilenceRecord",
]


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@attrs.frozen(kw_only=True)
class InteractionRecord:
    """One act on an episode (or a customer): who did what, when, and what came of it.

    ``kind`` is ``acknowledge``, ``snooze``, ``resolve``, ``war_room``, ``refused`` or another
    word a front end uses; ``outcome`` is ``done``, ``already`` (nothing left to do) or
    ``refused``; ``data`` holds the act's details (the silence's end, the war room's
    channel...). ``seq`` is assigned by the store.
    """

    key: str
    customer_id: str
    kind: str
    by: str
    at: datetime
    outcome: str = "done"
    episode_id: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)
    seq: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "key": self.key,
            "episode_id": self.episode_id,
            "customer_id": self.customer_id,
            "kind": self.kind,
            "by": self.by,
            "at": self.at.isoformat(),
            "outcome": self.outcome,
            "data": copy.deepcopy(dict(self.data)),
        }


@attrs.frozen(kw_only=True)
class SilenceRecord:
    """A recorded silence of one customer from ``start`` until ``end``."""

    key: str
    customer_id: str
    start: datetime
    end: datetime
    by: str
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "customer_id": self.customer_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "by": self.by,
            "reason": self.reason,
        }


class InteractionStore(Protocol):
    """What people did about episodes and the silences they recorded (:mod:`.interactions`)."""

    def record_interaction(self, record: InteractionRecord) -> bool:
        """Record an act once; False, writing nothing, when its key is already recorded."""
        ...

    def interactions(
        self, *, episode_id: str | None = None, customer_id: str | None = None
    ) -> list[InteractionRecord]:
        """Recorded acts, oldest first."""
        ...

    def add_silence(self, record: SilenceRecord) -> bool:
        """Record a customer silence once (by key)."""
        ...

    def recorded_silences(self, *, active_at: datetime | None = None) -> list[SilenceRecord]:
        """Recorded silences (those covering ``active_at`` when given), soonest end first."""
        ...

    def record_plan(self, plan: EscalationPlan, *, plan_id: str, at: datetime) -> bool:
        """Record a plan that follows no transition (and its pending actions) once."""
        ...


class MemoryInteractions:
    """The interactions part of :class:`~ticketspike.store.memory.MemoryStore`."""

    _lock: threading.RLock
    _set: Callable[[dict[Any, Any], Any, Any], None]
    _plans: dict[str, dict[str, Any]]
    transaction: Callable[[], AbstractContextManager[None]]
    _record_plan: Callable[..., None]

    def _tables(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        tables: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]] | None = getattr(
            self, "_interaction_tables", None
        )
        if tables is None:
            tables = ({}, {})
            self._interaction_tables = tables
        return tables

    def record_interaction(self, record: InteractionRecord) -> bool:
        with self.transaction():
            table = self._tables()[0]
            if record.key in table:
                return False
            seq = max((r["seq"] for r in table.values()), default=0) + 1
            self._set(table, record.key, {**record.to_json(), "seq": seq})
            return True

    def interactions(
        self, *, episode_id: str | None = None, customer_id: str | None = None
    ) -> list[InteractionRecord]:
        with self._lock:
            rows = [copy.deepcopy(r) for r in self._tables()[0].values()]
        rows = [
            r
            for r in rows
            if (episode_id is None or r["episode_id"] == episode_id)
            and (customer_id is None or r["customer_id"] == customer_id)
        ]
        return [_interaction(r) for r in sorted(rows, key=lambda r: r["seq"])]

    def add_silence(self, record: SilenceRecord) -> bool:
        with self.transaction():
            table = self._tables()[1]
            if record.key in table:
                return False
            self._set(table, record.key, record.to_json())
            return True

    def recorded_silences(self, *, active_at: datetime | None = None) -> list[SilenceRecord]:
        with self._lock:
            rows = [_silence(r) for r in self._tables()[1].values()]
        if active_at is not None:
            rows = [r for r in rows if r.start <= active_at < r.end]
        return sorted(rows, key=lambda r: (r.end, r.key))

    def record_plan(self, plan: EscalationPlan, *, plan_id: str, at: datetime) -> bool:
        with self.transaction():
            if plan_id in self._plans:
                return False
            self._record_plan(plan, at=at, plan_id=plan_id)
            return True


class SQLiteInteractions:
    """The interactions part of :class:`~ticketspike.store.sqlite.SQLiteStore`."""

    transaction: Callable[[], AbstractContextManager[None]]
    _one: Callable[..., Any]
    _all: Callable[..., list[Any]]
    _exec: Callable[..., int]
    _record_plan: Callable[..., None]

    def record_interaction(self, record: InteractionRecord) -> bool:
        return (
            self._exec(
                "INSERT INTO interactions (key, episode_id, customer_id, kind, actor,"
                " at, outcome, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (
                    record.key,
                    record.episode_id,
                    record.customer_id,
                    record.kind,
                    record.by,
                    _iso(record.at),
                    record.outcome,
                    json.dumps(dict(record.data), ensure_ascii=False),
                ),
            )
            == 1
        )

    def interactions(
        self, *, episode_id: str | None = None, customer_id: str | None = None
    ) -> list[InteractionRecord]:
        sql = "SELECT seq, key, episode_id, customer_id, kind, actor, at, outcome, data"
        sql += " FROM interactions"
        where: list[str] = []
        params: list[Any] = []
        if episode_id is not None:
            where.append("episode_id = ?")
            params.append(episode_id)
        if customer_id is not None:
            where.append("customer_id = ?")
            params.append(customer_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows: Sequence[Any] = self._all(sql + " ORDER BY seq", params)
        return [
            InteractionRecord(
                seq=int(r[0]),
                key=r[1],
                episode_id=r[2],
                customer_id=r[3],
                kind=r[4],
                by=r[5],
                at=_time(r[6]),
                outcome=r[7],
                data=json.loads(r[8]),
            )
            for r in rows
        ]

    def add_silence(self, record: SilenceRecord) -> bool:
        return (
            self._exec(
                "INSERT INTO recorded_silences (key, customer_id, start_at, end_at,"
                " end_ts, actor, reason) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (
                    record.key,
                    record.customer_id,
                    _iso(record.start),
                    _iso(record.end),
                    record.end.timestamp(),
                    record.by,
                    record.reason,
                ),
            )
            == 1
        )

    def recorded_silences(self, *, active_at: datetime | None = None) -> list[SilenceRecord]:
        sql = "SELECT key, customer_id, start_at, end_at, actor, reason FROM recorded_silences"
        params: list[Any] = []
        if active_at is not None:
            sql += " WHERE end_ts > ?"
            params.append(active_at.timestamp())
        rows = [
            SilenceRecord(
                key=r[0], customer_id=r[1], start=_time(r[2]), end=_time(r[3]), by=r[4], reason=r[5]
            )
            for r in self._all(sql + " ORDER BY end_ts, key", params)
        ]
        if active_at is not None:
            rows = [r for r in rows if r.start <= active_at]
        return rows

    def record_plan(self, plan: EscalationPlan, *, plan_id: str, at: datetime) -> bool:
        with self.transaction():
            if self._one("SELECT 1 FROM plans WHERE plan_id = ?", (plan_id,)) is not None:
                return False
            self._record_plan(plan, at=at, plan_id=plan_id)
            return True


def _interaction(row: Mapping[str, Any]) -> InteractionRecord:
    return InteractionRecord(
        seq=int(row["seq"]),
        key=row["key"],
        episode_id=row["episode_id"],
        customer_id=row["customer_id"],
        kind=row["kind"],
        by=row["by"],
        at=_time(row["at"]),
        outcome=row["outcome"],
        data=row["data"],
    )


def _silence(row: Mapping[str, Any]) -> SilenceRecord:
    return SilenceRecord(
        key=row["key"],
        customer_id=row["customer_id"],
        start=_time(row["start"]),
        end=_time(row["end"]),
        by=row["by"],
        reason=row["reason"],
    )
