"""Escalation records the store keeps as data: tasks, the health-score ledger, war-room entries
and scheduled syncs.

Each record is made once by the plan action that asks for it, under an id derived from the
action's key, so a re-run after a crash (or a second process) finds it there and writes
nothing. From then on only its state moves (a task is closed, a war-room entry ends, a sync is
held). Changes are compare-and-set on ``version``, so two people closing one task cannot both
win.

The four kinds share one shape in the store (id, customer, episode, status, time, the JSON
record), so one pair of mixins keeps them all: :class:`MemoryRecords` and
:class:`SQLiteRecords`. The decisions (what a done action records, what the current health
score is) live in :mod:`ticketspike.records`; this module only keeps.

The SQL is the portable subset (``ON CONFLICT ... DO NOTHING``, ``?`` placeholders, ISO text
plus epoch columns), shared by the PostgreSQL store.
"""

from __future__ import annotations

import enum
import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar

import attrs

__all__ = [
    "HealthAdjustment",
    "MemoryRecords",
    "RecordStore",
    "SQLiteRecords",
    "SyncRecord",
    "SyncStatus",
    "TaskRecord",
    "TaskStatus",
    "WarRoomEntry",
    "WarRoomStatus",
    "record_id_for",
]


def record_id_for(prefix: str, key: str) -> str:
    """A record's id from the key that made it: short, stable, safe in a URL path."""
    return f"{prefix}_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


def _opt_iso(value: datetime | None) -> str | None:
    return None if value is None else _iso(value)


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def _opt_time(value: Any) -> datetime | None:
    return None if value is None else _time(value)


class TaskStatus(str, enum.Enum):
    """A task is ``open`` until someone marks it ``done`` or ``cancelled``."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class WarRoomStatus(str, enum.Enum):
    """A war-room entry is ``active`` while its spike is, ``closed`` once it resolves."""

    ACTIVE = "active"
    CLOSED = "closed"


class SyncStatus(str, enum.Enum):
    """A sync is ``scheduled`` until it is ``held`` or ``cancelled``."""

    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


@attrs.frozen(kw_only=True)
class TaskRecord:
    """A review task, made by a plan's ``create_task`` action."""

    id: str
    action_key: str
    episode_id: str
    customer_id: str
    title: str
    priority: str
    due_at: datetime
    assignee: str
    assignee_role: str
    created_at: datetime
    description: str = ""
    status: TaskStatus = TaskStatus.OPEN
    closed_by: str | None = None
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "priority": self.priority,
            "due_at": _iso(self.due_at),
            "status": self.status.value,
            "customer_id": self.customer_id,
            "episode_id": self.episode_id,
            "assignee": self.assignee,
            "assignee_role": self.assignee_role,
            "description": self.description,
            "action_key": self.action_key,
            "created_at": _iso(self.created_at),
            "closed_by": self.closed_by,
            "closed_at": _opt_iso(self.closed_at),
            "updated_at": _opt_iso(self.updated_at),
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskRecord:
        return cls(
            id=str(data["id"]),
            action_key=str(data["action_key"]),
            episode_id=str(data["episode_id"]),
            customer_id=str(data["customer_id"]),
            title=str(data["title"]),
            priority=str(data["priority"]),
            due_at=_time(data["due_at"]),
            assignee=str(data["assignee"]),
            assignee_role=str(data["assignee_role"]),
            description=str(data.get("description") or ""),
            created_at=_time(data["created_at"]),
            status=TaskStatus(data["status"]),
            closed_by=data.get("closed_by"),
            closed_at=_opt_time(data.get("closed_at")),
            updated_at=_opt_time(data.get("updated_at")),
            version=int(data.get("version") or 0),
        )


@attrs.frozen(kw_only=True)
class HealthAdjustment:
    """One entry of a customer's health-score ledger (-15 on a spike by default).

    ``id`` comes from the key of what made it (the plan action, or the resolution that gave
    part of it back), so each is counted once.
    """

    id: str
    customer_id: str
    delta: float
    reason: str
    at: datetime
    episode_id: str | None = None
    key: str = ""
    base: float | None = None  # the account's base score when it was recorded

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "delta": self.delta,
            "reason": self.reason,
            "episode_id": self.episode_id,
            "at": _iso(self.at),
            "customer_id": self.customer_id,
            "key": self.key,
            "base": self.base,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HealthAdjustment:
        return cls(
            id=str(data["id"]),
            customer_id=str(data["customer_id"]),
            delta=float(data["delta"]),
            reason=str(data["reason"]),
            at=_time(data["at"]),
            episode_id=data.get("episode_id"),
            key=str(data.get("key") or ""),
            base=None if data.get("base") is None else float(data["base"]),
        )


@attrs.frozen(kw_only=True)
class WarRoomEntry:
    """A spike on the war-room board, made by an ``add_to_war_room`` action."""

    id: str
    action_key: str
    episode_id: str
    customer_id: str
    war_room: str
    summary: str
    created_at: datetime
    status: WarRoomStatus = WarRoomStatus.ACTIVE
    closed_at: datetime | None = None
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "war_room": self.war_room,
            "summary": self.summary,
            "status": self.status.value,
            "customer_id": self.customer_id,
            "episode_id": self.episode_id,
            "action_key": self.action_key,
            "created_at": _iso(self.created_at),
            "closed_at": _opt_iso(self.closed_at),
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WarRoomEntry:
        return cls(
            id=str(data["id"]),
            action_key=str(data["action_key"]),
            episode_id=str(data["episode_id"]),
            customer_id=str(data["customer_id"]),
            war_room=str(data["war_room"]),
            summary=str(data["summary"]),
            created_at=_time(data["created_at"]),
            status=WarRoomStatus(data["status"]),
            closed_at=_opt_time(data.get("closed_at")),
            version=int(data.get("version") or 0),
        )


@attrs.frozen(kw_only=True)
class SyncRecord:
    """An internal sync to hold before ``due_at``, made by a ``schedule_sync`` action."""

    id: str
    action_key: str
    episode_id: str
    customer_id: str
    due_at: datetime
    attendees: tuple[str, ...]
    reason: str
    created_at: datetime
    status: SyncStatus = SyncStatus.SCHEDULED
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "due_at": _iso(self.due_at),
            "attendees": list(self.attendees),
            "reason": self.reason,
            "status": self.status.value,
            "customer_id": self.customer_id,
            "episode_id": self.episode_id,
            "action_key": self.action_key,
            "created_at": _iso(self.created_at),
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SyncRecord:
        return cls(
            id=str(data["id"]),
            action_key=str(data["action_key"]),
            episode_id=str(data["episode_id"]),
            customer_id=str(data["customer_id"]),
            due_at=_time(data["due_at"]),
            attendees=tuple(str(a) for a in data.get("attendees") or ()),
            reason=str(data["reason"]),
            created_at=_time(data["created_at"]),
            status=SyncStatus(data["status"]),
            version=int(data.get("version") or 0),
        )


AnyRecord = TaskRecord | HealthAdjustment | WarRoomEntry | SyncRecord
R = TypeVar("R", TaskRecord, HealthAdjustment, WarRoomEntry, SyncRecord)

# kind -> (table, record class, time field used for ordering)
_KINDS: dict[type[Any], tuple[str, str]] = {
    TaskRecord: ("tasks", "created_at"),
    HealthAdjustment: ("health_adjustments", "at"),
    WarRoomEntry: ("war_room_entries", "created_at"),
    SyncRecord: ("syncs", "created_at"),
}


def _status(record: AnyRecord) -> str:
    status = getattr(record, "status", None)
    return status.value if isinstance(status, enum.Enum) else "recorded"


def _at(record: AnyRecord) -> datetime:
    value = getattr(record, _KINDS[type(record)][1])
    assert isinstance(value, datetime)
    return value


class RecordStore(Protocol):
    """The records part of a :class:`~ticketspike.store.base.Store`."""

    def add_record(self, record: AnyRecord) -> bool:
        """Keep a new record; False, writing nothing, when its id is already kept."""
        ...

    def get_record(self, kind: type[R], record_id: str) -> R | None: ...

    def list_records(
        self,
        kind: type[R],
        *,
        customer_id: str | None = None,
        episode_id: str | None = None,
        status: str | None = None,
    ) -> list[R]:
        """Records of ``kind``, oldest first."""
        ...

    def replace_record(self, record: AnyRecord, *, version: int) -> bool:
        """Store ``record`` (with ``version + 1``) if the kept one is still at ``version``."""
        ...

    def forget_episodes(self, episode_ids: Sequence[str]) -> int:
        """Delete the history of resolved episodes (retention); returns episodes deleted."""
        ...


def _matches(
    row: Mapping[str, Any], customer: str | None, episode: str | None, status: str | None
) -> bool:
    return (
        (customer is None or row["customer_id"] == customer)
        and (episode is None or row["episode_id"] == episode)
        and (status is None or row["status"] == status)
    )


class MemoryRecords:
    """The records part of :class:`~ticketspike.store.memory.MemoryStore`."""

    _lock: threading.RLock
    _set: Callable[[dict[Any, Any], Any, Any], None]
    _delete: Callable[[dict[Any, Any], Any], None]
    transaction: Callable[[], AbstractContextManager[None]]

    def _record_table(self, kind: type[Any]) -> dict[str, dict[str, Any]]:
        tables: dict[type[Any], dict[str, dict[str, Any]]] | None = getattr(
            self, "_records_tables", None
        )
        if tables is None:
            tables = {k: {} for k in _KINDS}
            self._records_tables = tables
        return tables[kind]

    def add_record(self, record: AnyRecord) -> bool:
        with self.transaction():
            table = self._record_table(type(record))
            if record.id in table:
                return False
            self._set(table, record.id, _row(record))
            return True

    def get_record(self, kind: type[R], record_id: str) -> R | None:
        with self._lock:
            row = self._record_table(kind).get(record_id)
            return None if row is None else kind.from_json(json.loads(row["record"]))

    def list_records(
        self,
        kind: type[R],
        *,
        customer_id: str | None = None,
        episode_id: str | None = None,
        status: str | None = None,
    ) -> list[R]:
        with self._lock:
            rows = [
                r
                for r in self._record_table(kind).values()
                if _matches(r, customer_id, episode_id, status)
            ]
        rows.sort(key=lambda r: (r["at_ts"], r["id"]))
        return [kind.from_json(json.loads(r["record"])) for r in rows]

    def replace_record(self, record: AnyRecord, *, version: int) -> bool:
        with self.transaction():
            table = self._record_table(type(record))
            row = table.get(record.id)
            if row is None or row["version"] != version:
                return False
            self._set(table, record.id, _row(record))
            return True

    def forget_episodes(self, episode_ids: Sequence[str]) -> int:
        wanted = set(episode_ids)
        with self.transaction():
            for kind in _KINDS:
                table = self._record_table(kind)
                for key in [k for k, r in table.items() if r["episode_id"] in wanted]:
                    self._delete(table, key)
            return _forget_memory_episodes(self, wanted)


def _forget_memory_episodes(store: Any, wanted: set[str]) -> int:
    """Drop episodes and what hangs off them from the memory store's tables (journalled)."""
    gone = 0
    for episode_id in wanted:
        if episode_id in store._episodes:
            store._delete(store._episodes, episode_id)
            gone += 1
    for key in [k for k in store._transitions if k[0] in wanted]:
        store._delete(store._transitions, key)
    for key in [k for k, r in store._plans.items() if r["data"]["episode_id"] in wanted]:
        store._delete(store._plans, key)
    actions = {k for k, r in store._actions.items() if r["episode_id"] in wanted}
    for key in actions:
        store._delete(store._actions, key)
    for key in [k for k in store._attempts if k[0] in actions]:
        store._delete(store._attempts, key)
    acts = store._tables()[0] if hasattr(store, "_tables") else {}
    for key in [k for k, r in acts.items() if r.get("episode_id") in wanted]:
        store._delete(acts, key)
    kept = [e for e in store._outbox if e["episode_id"] not in wanted]
    if len(kept) != len(store._outbox):
        old = list(store._outbox)
        store._outbox[:] = kept
        if store._journal is not None:
            store._journal.append(lambda: store._outbox.__setitem__(slice(None), old))
    return gone


def _row(record: AnyRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "customer_id": record.customer_id,
        "episode_id": record.episode_id,
        "status": _status(record),
        "at_ts": _at(record).timestamp(),
        "version": getattr(record, "version", 0),
        "record": json.dumps(record.to_json()),
    }


class SQLiteRecords:
    """The records part of :class:`~ticketspike.store.sqlite.SQLiteStore` (one table a kind)."""

    _lock: threading.RLock
    transaction: Callable[[], AbstractContextManager[None]]
    _one: Callable[..., Any]
    _all: Callable[..., list[Any]]
    _exec: Callable[..., int]

    def add_record(self, record: AnyRecord) -> bool:
        table = _KINDS[type(record)][0]
        row = _row(record)
        return (
            self._exec(
                f"INSERT INTO {table} (id, customer_id, episode_id, status, at, at_ts, version,"
                " record) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (
                    row["id"],
                    row["customer_id"],
                    row["episode_id"],
                    row["status"],
                    _iso(_at(record)),
                    row["at_ts"],
                    row["version"],
                    row["record"],
                ),
            )
            == 1
        )

    def get_record(self, kind: type[R], record_id: str) -> R | None:
        table = _KINDS[kind][0]
        row = self._one(f"SELECT record FROM {table} WHERE id = ?", (record_id,))
        return None if row is None else kind.from_json(json.loads(row[0]))

    def list_records(
        self,
        kind: type[R],
        *,
        customer_id: str | None = None,
        episode_id: str | None = None,
        status: str | None = None,
    ) -> list[R]:
        table = _KINDS[kind][0]
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("customer_id", customer_id),
            ("episode_id", episode_id),
            ("status", status),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT record FROM {table}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at_ts, id"
        return [kind.from_json(json.loads(r[0])) for r in self._all(sql, params)]

    def replace_record(self, record: AnyRecord, *, version: int) -> bool:
        table = _KINDS[type(record)][0]
        row = _row(record)
        return (
            self._exec(
                f"UPDATE {table} SET status = ?, version = ?, record = ?"
                " WHERE id = ? AND version = ?",
                (row["status"], row["version"], row["record"], record.id, version),
            )
            == 1
        )

    def forget_episodes(self, episode_ids: Sequence[str]) -> int:
        gone = 0
        with self.transaction():
            for episode_id in episode_ids:
                params = (episode_id,)
                for table, _ in _KINDS.values():
                    self._exec(f"DELETE FROM {table} WHERE episode_id = ?", params)
                self._exec(
                    "DELETE FROM attempts WHERE key IN"
                    " (SELECT key FROM actions WHERE episode_id = ?)",
                    params,
                )
                self._exec("DELETE FROM interactions WHERE episode_id = ?", params)
                self._exec("DELETE FROM outbox WHERE episode_id = ?", params)
                self._exec("DELETE FROM actions WHERE episode_id = ?", params)
                self._exec("DELETE FROM plans WHERE episode_id = ?", params)
                self._exec("DELETE FROM transitions WHERE episode_id = ?", params)
                gone += self._exec("DELETE FROM episodes WHERE episode_id = ?", params)
        return gone
