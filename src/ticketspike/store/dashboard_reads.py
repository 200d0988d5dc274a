"""Bulk reads for the escalation dashboard: the store's part.

A dashboard of a thousand active escalations needs every action's status and every spike's
ticket counts, not the records themselves. Decoding ten thousand ticket and action documents
to count them costs most of a second, so stores that can answer from their columns implement
:class:`DashboardReads`; :mod:`ticketspike.views` uses it when the store has it and falls back
to the general reads otherwise (a host's own store need not implement it).

Mixins for :class:`~ticketspike.store.memory.MemoryStore` and
:class:`~ticketspike.store.sqlite.SQLiteStore`. The SQL is the portable subset (``?``
placeholders, a join, ``CASE``), so the PostgreSQL store shares it. They never write and never
read the clock.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from .base import ActionStatus

__all__ = ["ActionLine", "DashboardReads", "MemoryDashboardReads", "SQLiteDashboardReads"]


@attrs.frozen
class ActionLine:
    """One action of an active episode, as a dashboard card lists it (no JSON documents)."""

    episode_id: str
    plan_id: str
    seq: int
    kind: str
    step_id: str
    status: ActionStatus
    summary: str
    error: str | None


@runtime_checkable
class DashboardReads(Protocol):
    """What a store answers from its columns for the dashboard."""

    def active_action_lines(self) -> list[ActionLine]:
        """The actions of every active episode, in execution order."""
        ...

    def ticket_status_counts(
        self, customer_id: str, *, since: datetime, until: datetime
    ) -> tuple[int, int]:
        """``(resolved, total)`` of the customer's customer-initiated tickets created in
        ``(since, until]``."""
        ...

    def active_plan_ids(self) -> dict[str, str]:
        """Each active episode's latest plan id, by episode id."""
        ...

    def plan_progress(self, plan_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The ``progress`` of each plan, by plan id (plans never change once recorded)."""
        ...


class MemoryDashboardReads:
    """The dashboard reads of :class:`~ticketspike.store.memory.MemoryStore`."""

    _lock: threading.RLock
    _tickets: dict[tuple[str, str], dict[str, Any]]
    _by_customer: dict[str, list[tuple[str, str]]]
    _actions: dict[str, dict[str, Any]]
    _episodes: dict[str, dict[str, Any]]
    _plans: dict[str, dict[str, Any]]

    def active_action_lines(self) -> list[ActionLine]:
        with self._lock:
            active = {k for k, r in self._episodes.items() if r["status"] == "active"}
            rows = [_line(r) for r in self._actions.values() if r["episode_id"] in active]
        rows.sort(key=lambda a: a.seq)
        return rows

    def ticket_status_counts(
        self, customer_id: str, *, since: datetime, until: datetime
    ) -> tuple[int, int]:
        lo, hi = since.timestamp(), until.timestamp()
        resolved = total = 0
        with self._lock:
            for key in self._by_customer.get(customer_id, []):
                row = self._tickets[key]
                if lo < row["created_ts"] <= hi and not row["internal"]:
                    total += 1
                    resolved += row["status"] == "resolved"
        return resolved, total

    def active_plan_ids(self) -> dict[str, str]:
        with self._lock:
            active = {k for k, r in self._episodes.items() if r["status"] == "active"}
            rows = sorted(
                (
                    (r["seq"], r["data"].get("episode_id"), plan_id)
                    for plan_id, r in self._plans.items()
                    if r["data"].get("episode_id") in active
                ),
            )
        return {episode_id: plan_id for _seq, episode_id, plan_id in rows}

    def plan_progress(self, plan_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = {p: self._plans.get(p) for p in plan_ids}
            return {
                p: copy.deepcopy(dict(r["data"].get("progress") or {}))
                for p, r in rows.items()
                if r is not None
            }


_STATUS = {s.value: s for s in ActionStatus}


def _line(row: Mapping[str, Any]) -> ActionLine:
    return ActionLine(
        episode_id=row["episode_id"],
        plan_id=row["plan_id"],
        seq=int(row["seq"]),
        kind=row["kind"],
        step_id=row["step_id"],
        status=_STATUS[row["status"]],
        summary=row.get("summary") or "",
        error=row.get("error"),
    )


class SQLiteDashboardReads:
    """The dashboard reads of :class:`~ticketspike.store.sqlite.SQLiteStore` (portable SQL)."""

    _all: Callable[[str, Sequence[Any]], list[Any]]

    def active_action_lines(self) -> list[ActionLine]:
        rows = self._all(
            "SELECT a.episode_id, a.plan_id, a.seq, a.kind, a.step_id, a.status, a.summary,"
            " a.error FROM actions a JOIN episodes e ON e.episode_id = a.episode_id"
            " WHERE e.status = ? ORDER BY a.seq",
            ("active",),
        )
        return [
            ActionLine(
                episode_id=r[0],
                plan_id=r[1],
                seq=int(r[2]),
                kind=r[3],
                step_id=r[4],
                status=_STATUS[r[5]],
                summary=r[6] or "",
                error=r[7],
            )
            for r in rows
        ]

    def ticket_status_counts(
        self, customer_id: str, *, since: datetime, until: datetime
    ) -> tuple[int, int]:
        rows = self._all(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0)"
            " FROM tickets WHERE customer_id = ? AND created_ts > ? AND created_ts <= ?"
            " AND internal = 0",
            ("resolved", customer_id, since.timestamp(), until.timestamp()),
        )
        total, resolved = rows[0] if rows else (0, 0)
        return int(resolved), int(total)

    def active_plan_ids(self) -> dict[str, str]:
        rows = self._all(
            "SELECT p.episode_id, p.plan_id FROM plans p JOIN episodes e"
            " ON e.episode_id = p.episode_id WHERE e.status = ? ORDER BY p.seq",
            ("active",),
        )
        return {episode_id: plan_id for episode_id, plan_id in rows}

    def plan_progress(self, plan_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(plan_ids), 500):
            chunk = list(plan_ids[start : start + 500])
            marks = ", ".join("?" for _ in chunk)
            rows = self._all(f"SELECT plan_id, data FROM plans WHERE plan_id IN ({marks})", chunk)
            for plan_id, data in rows:
                progress = json.loads(data).get("progress")
                out[plan_id] = dict(progress) if isinstance(progress, dict) else {}
        return out
