"""The outbound event log and webhook deliveries, as the store keeps them.

An :class:`OutboundEvent` is written in the same transaction as the change it reports (a task
made, a health score moved, an episode acknowledged...), under an id derived from that change,
so the change and its event exist together or not at all, and a change recorded twice makes
one event. The delivery worker (:mod:`ticketspike.outbound`) fans each event out to the
endpoints whose filter takes it: one :class:`DeliveryRecord` per event and endpoint, whose id
(the event id) every attempt carries as ``webhook-id``, so receivers dedupe on it. Each attempt
is logged (:class:`DeliveryAttempt`); :class:`EndpointState` keeps an endpoint's fan-out
position, its run of failures and whether it is disabled.

Mixins for the memory and SQLite stores; the SQL is the portable subset.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, Protocol

import attrs

__all__ = [
    "DeliveryAttempt",
    "DeliveryRecord",
    "EndpointState",
    "MemoryOutbound",
    "OutboundEvent",
    "OutboundStore",
    "SQLiteOutbound",
]


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


def _opt_iso(value: datetime | None) -> str | None:
    return None if value is None else _iso(value)


def _opt_time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


@attrs.frozen(kw_only=True)
class OutboundEvent:
    """One change reported to the host's systems. ``seq`` is assigned by the store."""

    id: str
    type: str
    at: datetime
    data: Mapping[str, Any] = attrs.field(factory=dict)
    seq: int = 0

    def body(self) -> dict[str, Any]:
        """The Standard Webhooks payload: ``{"type", "timestamp", "data"}``."""
        return {"type": self.type, "timestamp": _iso(self.at), "data": dict(self.data)}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "seq": self.seq, **self.body()}


@attrs.frozen(kw_only=True)
class EndpointState:
    """An endpoint as the store knows it: where its fan-out stands and whether it is on."""

    endpoint_id: str
    url: str
    cursor: int = 0
    enabled: bool = True
    consecutive_failures: int = 0
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    updated_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint_id": self.endpoint_id,
            "url": self.url,
            "cursor": self.cursor,
            "enabled": self.enabled,
            "consecutive_failures": self.consecutive_failures,
            "disabled_at": _opt_iso(self.disabled_at),
            "disabled_reason": self.disabled_reason,
            "updated_at": _opt_iso(self.updated_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EndpointState:
        return cls(
            endpoint_id=str(data["endpoint_id"]),
            url=str(data["url"]),
            cursor=int(data.get("cursor") or 0),
            enabled=bool(data.get("enabled", True)),
            consecutive_failures=int(data.get("consecutive_failures") or 0),
            disabled_at=_opt_time(data.get("disabled_at")),
            disabled_reason=data.get("disabled_reason"),
            updated_at=_opt_time(data.get("updated_at")),
        )


@attrs.frozen(kw_only=True)
class DeliveryRecord:
    """One event for one endpoint: ``pending`` (due at ``next_ts``), ``delivered`` or ``failed``."""

    event_id: str
    endpoint_id: str
    event_seq: int
    type: str
    created_at: datetime
    status: str = "pending"
    attempts: int = 0
    next_ts: float | None = None
    last_error: str | None = None
    last_status_code: int | None = None
    delivered_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "endpoint_id": self.endpoint_id,
            "event_seq": self.event_seq,
            "type": self.type,
            "status": self.status,
            "attempts": self.attempts,
            "next_at": (
                None
                if self.next_ts is None
                else datetime.fromtimestamp(self.next_ts, tz=timezone.utc).isoformat()
            ),
            "next_ts": self.next_ts,
            "last_error": self.last_error,
            "last_status_code": self.last_status_code,
            "delivered_at": _opt_iso(self.delivered_at),
            "created_at": _iso(self.created_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeliveryRecord:
        created = _opt_time(data["created_at"])
        assert created is not None
        code = data.get("last_status_code")
        return cls(
            event_id=str(data["event_id"]),
            endpoint_id=str(data["endpoint_id"]),
            event_seq=int(data["event_seq"]),
            type=str(data["type"]),
            created_at=created,
            status=str(data["status"]),
            attempts=int(data.get("attempts") or 0),
            next_ts=None if data.get("next_ts") is None else float(data["next_ts"]),
            last_error=data.get("last_error"),
            last_status_code=None if code is None else int(code),
            delivered_at=_opt_time(data.get("delivered_at")),
        )


@attrs.frozen(kw_only=True)
class DeliveryAttempt:
    """One try at one delivery, for the delivery log."""

    event_id: str
    endpoint_id: str
    number: int
    at: datetime
    outcome: str  # "delivered" or "failed"
    status_code: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "endpoint_id": self.endpoint_id,
            "number": self.number,
            "at": _iso(self.at),
            "outcome": self.outcome,
            "status_code": self.status_code,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeliveryAttempt:
        at = _opt_time(data["at"])
        assert at is not None
        code = data.get("status_code")
        return cls(
            event_id=str(data["event_id"]),
            endpoint_id=str(data["endpoint_id"]),
            number=int(data["number"]),
            at=at,
            outcome=str(data["outcome"]),
            status_code=None if code is None else int(code),
            error=data.get("error"),
        )


class OutboundStore(Protocol):
    """The outbound part of a :class:`~ticketspike.store.base.Store`."""

    def add_outbound_event(self, event: OutboundEvent) -> bool:
        """Log an event once by id; False, writing nothing, when it is already logged."""
        ...

    def outbound_events(self, *, after_seq: int = 0, limit: int = 500) -> list[OutboundEvent]:
        """Logged events after ``after_seq``, in the order they were logged."""
        ...

    def outbound_event(self, event_id: str) -> OutboundEvent | None: ...

    def last_outbound_seq(self) -> int: ...

    def put_endpoint(self, state: EndpointState) -> None:
        """Insert or replace an endpoint's state."""
        ...

    def add_endpoint(self, state: EndpointState) -> bool:
        """Insert an endpoint's state unless one is kept; True when this call inserted it."""
        ...

    def endpoint_states(self) -> list[EndpointState]: ...

    def add_delivery(self, record: DeliveryRecord) -> bool: ...

    def put_delivery(self, record: DeliveryRecord) -> None: ...

    def deliveries(
        self,
        *,
        endpoint_id: str | None = None,
        status: str | None = None,
        due_ts: float | None = None,
        event_id: str | None = None,
    ) -> list[DeliveryRecord]:
        """Deliveries in event order (``due_ts``: pending ones due by then)."""
        ...

    def add_delivery_attempt(self, attempt: DeliveryAttempt) -> None: ...

    def delivery_attempts(
        self, *, event_id: str | None = None, endpoint_id: str | None = None
    ) -> list[DeliveryAttempt]: ...


def _due(record: DeliveryRecord, due_ts: float | None) -> bool:
    return due_ts is None or (
        record.status == "pending" and record.next_ts is not None and record.next_ts <= due_ts
    )


class MemoryOutbound:
    """The outbound part of :class:`~ticketspike.store.memory.MemoryStore`."""

    _lock: threading.RLock
    _set: Callable[[dict[Any, Any], Any, Any], None]
    transaction: Callable[[], AbstractContextManager[None]]

    def _ob(self) -> dict[str, dict[Any, Any]]:
        tables: dict[str, dict[Any, Any]] | None = getattr(self, "_outbound_tables", None)
        if tables is None:
            tables = {"events": {}, "ids": {}, "endpoints": {}, "deliveries": {}, "attempts": {}}
            self._outbound_tables = tables
        return tables

    def add_outbound_event(self, event: OutboundEvent) -> bool:
        with self.transaction():
            t = self._ob()
            if event.id in t["ids"]:
                return False
            seq = len(t["events"]) + 1
            self._set(t["ids"], event.id, seq)
            self._set(t["events"], seq, json.dumps(attrs.evolve(event, seq=seq).to_json()))
            return True

    def outbound_events(self, *, after_seq: int = 0, limit: int = 500) -> list[OutboundEvent]:
        with self._lock:
            events = self._ob()["events"]
            seqs = sorted(s for s in events if s > after_seq)[:limit]
            return [_event(json.loads(events[s])) for s in seqs]

    def outbound_event(self, event_id: str) -> OutboundEvent | None:
        with self._lock:
            t = self._ob()
            seq = t["ids"].get(event_id)
            return None if seq is None else _event(json.loads(t["events"][seq]))

    def last_outbound_seq(self) -> int:
        with self._lock:
            return max(self._ob()["events"], default=0)

    def put_endpoint(self, state: EndpointState) -> None:
        with self.transaction():
            self._set(self._ob()["endpoints"], state.endpoint_id, json.dumps(state.to_json()))

    def add_endpoint(self, state: EndpointState) -> bool:
        with self.transaction():
            if state.endpoint_id in self._ob()["endpoints"]:
                return False
            self.put_endpoint(state)
            return True

    def endpoint_states(self) -> list[EndpointState]:
        with self._lock:
            rows = [json.loads(r) for r in self._ob()["endpoints"].values()]
        return sorted((EndpointState.from_json(r) for r in rows), key=lambda s: s.endpoint_id)

    def add_delivery(self, record: DeliveryRecord) -> bool:
        with self.transaction():
            key = (record.event_id, record.endpoint_id)
            if key in self._ob()["deliveries"]:
                return False
            self.put_delivery(record)
            return True

    def put_delivery(self, record: DeliveryRecord) -> None:
        with self.transaction():
            key = (record.event_id, record.endpoint_id)
            self._set(self._ob()["deliveries"], key, json.dumps(record.to_json()))

    def deliveries(
        self,
        *,
        endpoint_id: str | None = None,
        status: str | None = None,
        due_ts: float | None = None,
        event_id: str | None = None,
    ) -> list[DeliveryRecord]:
        with self._lock:
            rows = [
                DeliveryRecord.from_json(json.loads(r)) for r in self._ob()["deliveries"].values()
            ]
        found = [
            r
            for r in rows
            if (endpoint_id is None or r.endpoint_id == endpoint_id)
            and (status is None or r.status == status)
            and (event_id is None or r.event_id == event_id)
            and _due(r, due_ts)
        ]
        return sorted(found, key=lambda r: (r.event_seq, r.endpoint_id))

    def add_delivery_attempt(self, attempt: DeliveryAttempt) -> None:
        with self.transaction():
            key = (attempt.event_id, attempt.endpoint_id, attempt.number)
            self._set(self._ob()["attempts"], key, json.dumps(attempt.to_json()))

    def delivery_attempts(
        self, *, event_id: str | None = None, endpoint_id: str | None = None
    ) -> list[DeliveryAttempt]:
        with self._lock:
            rows = [
                DeliveryAttempt.from_json(json.loads(r)) for r in self._ob()["attempts"].values()
            ]
        found = [
            r
            for r in rows
            if (event_id is None or r.event_id == event_id)
            and (endpoint_id is None or r.endpoint_id == endpoint_id)
        ]
        return sorted(found, key=lambda r: (r.at, r.event_id, r.endpoint_id, r.number))


def _event(data: Mapping[str, Any]) -> OutboundEvent:
    at = _opt_time(data["timestamp"])
    assert at is not None
    return OutboundEvent(
        id=str(data["id"]),
        type=str(data["type"]),
        at=at,
        data=dict(data.get("data") or {}),
        seq=int(data["seq"]),
    )


class SQLiteOutbound:
    """The outbound part of :class:`~ticketspike.store.sqlite.SQLiteStore`."""

    _lock: threading.RLock
    transaction: Callable[[], AbstractContextManager[None]]
    _one: Callable[..., Any]
    _all: Callable[..., list[Any]]
    _exec: Callable[..., int]

    def add_outbound_event(self, event: OutboundEvent) -> bool:
        return (
            self._exec(
                "INSERT INTO outbound_events (id, type, at, at_ts, data) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (
                    event.id,
                    event.type,
                    _iso(event.at),
                    event.at.timestamp(),
                    json.dumps(dict(event.data)),
                ),
            )
            == 1
        )

    def outbound_events(self, *, after_seq: int = 0, limit: int = 500) -> list[OutboundEvent]:
        rows = self._all(
            "SELECT seq, id, type, at, data FROM outbound_events WHERE seq > ?"
            " ORDER BY seq LIMIT ?",
            (after_seq, limit),
        )
        return [_event_row(r) for r in rows]

    def outbound_event(self, event_id: str) -> OutboundEvent | None:
        row = self._one(
            "SELECT seq, id, type, at, data FROM outbound_events WHERE id = ?", (event_id,)
        )
        return None if row is None else _event_row(row)

    def last_outbound_seq(self) -> int:
        row = self._one("SELECT MAX(seq) FROM outbound_events")
        return int(row[0]) if row is not None and row[0] is not None else 0

    def put_endpoint(self, state: EndpointState) -> None:
        self._exec(
            "INSERT INTO webhook_endpoints (endpoint_id, record) VALUES (?, ?)"
            " ON CONFLICT (endpoint_id) DO UPDATE SET record = excluded.record",
            (state.endpoint_id, json.dumps(state.to_json())),
        )

    def add_endpoint(self, state: EndpointState) -> bool:
        return (
            self._exec(
                "INSERT INTO webhook_endpoints (endpoint_id, record) VALUES (?, ?)"
                " ON CONFLICT (endpoint_id) DO NOTHING",
                (state.endpoint_id, json.dumps(state.to_json())),
            )
            == 1
        )

    def endpoint_states(self) -> list[EndpointState]:
        rows = self._all("SELECT record FROM webhook_endpoints ORDER BY endpoint_id")
        return [EndpointState.from_json(json.loads(r[0])) for r in rows]

    def add_delivery(self, record: DeliveryRecord) -> bool:
        return (
            self._exec(
                "INSERT INTO webhook_deliveries (event_id, endpoint_id, event_seq, status,"
                " next_ts, record) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (event_id, endpoint_id) DO NOTHING",
                _delivery_params(record),
            )
            == 1
        )

    def put_delivery(self, record: DeliveryRecord) -> None:
        self._exec(
            "INSERT INTO webhook_deliveries (event_id, endpoint_id, event_seq, status,"
            " next_ts, record) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (event_id, endpoint_id) DO UPDATE SET status = excluded.status,"
            " next_ts = excluded.next_ts, record = excluded.record",
            _delivery_params(record),
        )

    def deliveries(
        self,
        *,
        endpoint_id: str | None = None,
        status: str | None = None,
        due_ts: float | None = None,
        event_id: str | None = None,
    ) -> list[DeliveryRecord]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("endpoint_id", endpoint_id),
            ("status", status),
            ("event_id", event_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if due_ts is not None:
            where.append("status = 'pending' AND next_ts IS NOT NULL AND next_ts <= ?")
            params.append(due_ts)
        sql = "SELECT record FROM webhook_deliveries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY event_seq, endpoint_id"
        return [DeliveryRecord.from_json(json.loads(r[0])) for r in self._all(sql, params)]

    def add_delivery_attempt(self, attempt: DeliveryAttempt) -> None:
        self._exec(
            "INSERT INTO webhook_attempts (event_id, endpoint_id, number, at, record)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id, endpoint_id, number) DO NOTHING",
            (
                attempt.event_id,
                attempt.endpoint_id,
                attempt.number,
                _iso(attempt.at),
                json.dumps(attempt.to_json()),
            ),
        )

    def delivery_attempts(
        self, *, event_id: str | None = None, endpoint_id: str | None = None
    ) -> list[DeliveryAttempt]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("event_id", event_id), ("endpoint_id", endpoint_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT record FROM webhook_attempts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at, event_id, endpoint_id, number"
        return [DeliveryAttempt.from_json(json.loads(r[0])) for r in self._all(sql, params)]


def _delivery_params(record: DeliveryRecord) -> tuple[Any, ...]:
    return (
        record.event_id,
        record.endpoint_id,
        record.event_seq,
        record.status,
        record.next_ts,
        json.dumps(record.to_json()),
    )


def _event_row(row: Any) -> OutboundEvent:
    at = _opt_time(row[3])
    assert at is not None
    return OutboundEvent(
        id=str(row[1]), type=str(row[2]), at=at, data=json.loads(row[4]), seq=int(row[0])
    )
