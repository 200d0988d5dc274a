"""Product incidents as the store keeps them: one record per incident, rewritten as it grows.

The incident itself is decided by :mod:`ticketspike.incidents` (pure) and planned by
:mod:`ticketspike.incident_desk`; the store only keeps the latest view of each incident
(customers, themes, first and latest spike, ticket counts, status) for the CLI, the HTTP API
and dashboards, in memory (:class:`MemoryIncidents`) or SQL (:class:`SQLiteIncidents`, whose
statements are the portable subset the PostgreSQL store shares).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

import attrs

__all__ = ["IncidentRecord", "IncidentRecords", "MemoryIncidents", "SQLiteIncidents"]


@attrs.frozen(kw_only=True)
class IncidentRecord:
    """One incident's latest view; ``data`` is :meth:`ticketspike.incidents.Incident.to_json`."""

    incident_id: str
    status: str
    first_spike: datetime
    updated_at: datetime
    data: Mapping[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**dict(self.data), "updated_at": self.updated_at.isoformat()}

    @classmethod
    def from_row(cls, row: Any) -> IncidentRecord:
        data = json.loads(row[4])
        return cls(
            incident_id=str(row[0]),
            status=str(row[1]),
            first_spike=datetime.fromisoformat(str(row[2])),
            updated_at=datetime.fromisoformat(str(row[3])),
            data=data,
        )


class IncidentRecords(Protocol):
    """The incidents role of a store."""

    def put_incident(self, record: IncidentRecord) -> None:
        """Insert or replace the incident's view (same id: the newer view wins)."""
        ...

    def incidents(self, *, status: str | None = None) -> list[IncidentRecord]:
        """Incidents (with ``status`` ``open`` or ``resolved``), first spike first."""
        ...

    def incident(self, incident_id: str) -> IncidentRecord | None: ...


def _row(record: IncidentRecord) -> tuple[Any, ...]:
    return (
        record.incident_id,
        record.status,
        record.first_spike.isoformat(),
        record.updated_at.isoformat(),
        json.dumps(dict(record.data), sort_keys=True),
    )


class MemoryIncidents:
    """The incidents part of :class:`~ticketspike.store.memory.MemoryStore`."""

    _lock: threading.RLock
    _set: Callable[[dict[Any, Any], Any, Any], None]
    transaction: Callable[[], AbstractContextManager[None]]

    def _incident_table(self) -> dict[str, tuple[Any, ...]]:
        table: dict[str, tuple[Any, ...]] | None = getattr(self, "_incident_rows", None)
        if table is None:
            table = {}
            self._incident_rows = table
        return table

    def put_incident(self, record: IncidentRecord) -> None:
        with self.transaction():
            self._set(self._incident_table(), record.incident_id, _row(record))

    def incidents(self, *, status: str | None = None) -> list[IncidentRecord]:
        with self._lock:
            rows = list(self._incident_table().values())
        found = [IncidentRecord.from_row(r) for r in rows if status is None or r[1] == status]
        return sorted(found, key=lambda r: (r.first_spike, r.incident_id))

    def incident(self, incident_id: str) -> IncidentRecord | None:
        with self._lock:
            row = self._incident_table().get(incident_id)
        return None if row is None else IncidentRecord.from_row(row)


class SQLiteIncidents:
    """The incidents part of the SQL stores (table ``incidents``), portable SQL only."""

    _one: Callable[..., Any]
    _all: Callable[..., list[Any]]
    _exec: Callable[..., int]

    _COLUMNS = "incident_id, status, first_spike, updated_at, record"

    def put_incident(self, record: IncidentRecord) -> None:
        values = _row(record)
        self._exec(
            "INSERT INTO incidents (incident_id, status, first_spike, first_epoch, updated_at,"
            " record) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id) DO UPDATE SET"
            " status = excluded.status, updated_at = excluded.updated_at,"
            " record = excluded.record",
            (*values[:3], record.first_spike.timestamp(), *values[3:]),
        )

    def incidents(self, *, status: str | None = None) -> list[IncidentRecord]:
        sql = f"SELECT {self._COLUMNS} FROM incidents"
        params: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            params.append(status)
        sql += " ORDER BY first_epoch, incident_id"
        return [IncidentRecord.from_row(r) for r in self._all(sql, params)]

    def incident(self, incident_id: str) -> IncidentRecord | None:
        row = self._one(
            f"SELECT {self._COLUMNS} FROM incidents WHERE incident_id = ?", (incident_id,)
        )
        return None if row is None else IncidentRecord.from_row(row)
