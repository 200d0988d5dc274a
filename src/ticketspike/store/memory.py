"""An in-memory store: the same contract as SQLite, for tests and short-lived hosts.

Keeps everything in dictionaries behind one lock. Transactions are real: every change made
inside :meth:`MemoryStore.transaction` is journalled and undone if the block raises, so code
tested against this store behaves as it will against the SQLite file. Records are copied on the
way in and out (JSON forms), so a caller can never mutate what the store holds.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from ..model import Category, EventKind, TicketEvent
from ..planner.plan import EscalationPlan
from ..signals import Transition, TransitionKind
from ..unmatched import Unmatched, UnmatchedRecord
from .base import (
    ActionRecord,
    ActionStatus,
    AttemptRecord,
    EpisodeRecord,
    OutboxEntry,
    PlanRecord,
    PutOutcome,
    TicketRecord,
    TransitionRecord,
    merge_update,
    plan_id_of,
)
from .codec import event_from_json, event_to_json, plan_from_json
from .dashboard_reads import MemoryDashboardReads
from .drafts import MemoryDrafts
from .incidents import MemoryIncidents
from .interactions import MemoryInteractions
from .outbound import MemoryOutbound
from .parking import MemoryParking
from .records import MemoryRecords
from .source_health import MemorySourceHealth
from .ticket_heads import MemoryTicketHeads
from .ticket_keys import MemoryKnownTickets

__all__ = ["MemoryStore"]

_MISSING = object()


class MemoryStore(
    MemoryInteractions,
    MemoryDrafts,
    MemorySourceHealth,
    MemoryIncidents,
    MemoryRecords,
    MemoryOutbound,
    MemoryDashboardReads,
    MemoryParking,
    MemoryTicketHeads,
    MemoryKnownTickets,
):
    """A :class:`~ticketspike.store.base.Store` that lives in this process only."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._journal: list[Callable[[], None]] | None = None
        self._depth = 0
        self._tickets: dict[tuple[str, str], dict[str, Any]] = {}
        # customer -> ticket keys, so a window query does not decode every ticket stored.
        self._by_customer: dict[str, list[tuple[str, str]]] = {}
        self._inbox: dict[int, dict[str, Any]] = {}
        self._inbox_seq = 0
        self._deliveries: dict[tuple[str, str], float] = {}
        self._states: dict[str, tuple[int, str]] = {}
        self._episodes: dict[str, dict[str, Any]] = {}
        self._transitions: dict[tuple[str, str], dict[str, Any]] = {}
        self._plans: dict[str, dict[str, Any]] = {}
        self._plan_seq = 0
        self._actions: dict[str, dict[str, Any]] = {}
        self._attempts: dict[tuple[str, int], dict[str, Any]] = {}
        self._outbox: list[dict[str, Any]] = []
        self._cursors: dict[str, str | None] = {}
        self._unmatched: dict[tuple[str, str], dict[str, Any]] = {}
        self._counters: dict[str, int] = {"inbox": 0, "plans": 0, "unmatched": 0}

    # -- plumbing ----------
    @property
    def location(self) -> str:
        return "memory"

    def close(self) -> None:
        """Nothing to release; kept for the interface."""

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            self._journal = []
            try:
                yield
            except BaseException:
                for undo in reversed(self._journal):
                    undo()
                raise
            finally:
                self._journal = None
                self._depth = 0

    def _set(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        old = table.get(key, _MISSING)
        table[key] = value
        if self._journal is not None:
            if old is _MISSING:
                self._journal.append(lambda: table.pop(key, None))
            else:
                self._journal.append(lambda: table.__setitem__(key, old))

    def _delete(self, table: dict[Any, Any], key: Any) -> None:
        old = table.pop(key, _MISSING)
        if self._journal is not None and old is not _MISSING:
            self._journal.append(lambda: table.__setitem__(key, old))

    def _next(self, counter: str) -> int:
        value = self._counters[counter] + 1
        self._set(self._counters, counter, value)
        return value

    def _undo_outbox(self) -> None:
        self._outbox.pop()

    def _update(self, table: dict[Any, dict[str, Any]], key: Any, **changes: Any) -> None:
        row = dict(table[key])
        row.update(changes)
        self._set(table, key, row)

    # -- tickets ----------
    def put_ticket(self, event: TicketEvent, *, at: datetime) -> PutOutcome:
        with self.transaction():
            ticket = event.ticket
            status = "resolved" if event.kind is EventKind.RESOLVED else "open"
            old = self._tickets.get(ticket.key)
            if old is None:
                self._set(
                    self._tickets,
                    ticket.key,
                    {
                        "event": event_to_json(event),
                        "status": status,
                        "received_at": at,
                        "updated_at": at,
                        "created_ts": ticket.created_at.timestamp(),
                        "internal": ticket.internal,
                    },
                )
                keys = self._by_customer.setdefault(ticket.customer_id, [])
                keys.append(ticket.key)
                if self._journal is not None:
                    self._journal.append(lambda: None if keys.pop() else None)
                return PutOutcome.NEW
            stored = event_from_json(old["event"]).ticket
            new_status = "resolved" if event.kind is EventKind.RESOLVED else old["status"]
            merged = merge_update(stored, event)
            if merged == stored and new_status == old["status"]:
                return PutOutcome.DUPLICATE
            self._set(
                self._tickets,
                ticket.key,
                {
                    **old,
                    "event": event_to_json(TicketEvent(ticket=merged)),
                    "status": new_status,
                    "updated_at": at,
                },
            )
            return PutOutcome.UPDATED

    def get_ticket(self, source: str, ticket_id: str) -> TicketRecord | None:
        with self._lock:
            row = self._tickets.get((source, ticket_id))
            return None if row is None else _ticket_record(row)

    def tickets(
        self,
        *,
        customer_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_internal: bool = True,
    ) -> list[TicketRecord]:
        lo = since.timestamp() if since is not None else None
        hi = until.timestamp() if until is not None else None
        with self._lock:
            if customer_id is None:
                candidates = list(self._tickets.values())
            else:
                keys = self._by_customer.get(customer_id, [])
                candidates = [self._tickets[k] for k in keys]
            rows = [
                r
                for r in candidates
                if (lo is None or r["created_ts"] > lo)
                and (hi is None or r["created_ts"] <= hi)
                and (include_internal or not r["internal"])
            ]
            out = [_ticket_record(r) for r in rows]
        out.sort(key=lambda r: (r.ticket.created_at, r.ticket.source, r.ticket.ticket_id))
        return out

    def ticket_count(self) -> int:
        with self._lock:
            return len(self._tickets)

    # -- inbox ----------
    def set_category(self, source: str, ticket_id: str, category: Category) -> None:
        with self.transaction():
            row = self._tickets.get((source, ticket_id))
            if row is None:
                return
            event = dict(row["event"])
            event["category"] = category.value
            self._set(self._tickets, (source, ticket_id), {**row, "event": event})

    def enqueue(
        self, items: Sequence[tuple[TicketEvent, PutOutcome]], *, received_at: datetime
    ) -> int:
        with self.transaction():
            for event, outcome in items:
                seq = self._next("inbox")
                self._set(
                    self._inbox,
                    seq,
                    {
                        "event": event_to_json(event),
                        "outcome": outcome.value,
                        "received_at": received_at,
                    },
                )
            return len(items)

    def pending_events(self, *, limit: int = 500) -> list[tuple[int, TicketEvent, PutOutcome]]:
        with self._lock:
            seqs = sorted(self._inbox)[:limit]
            return [
                (s, event_from_json(self._inbox[s]["event"]), PutOutcome(self._inbox[s]["outcome"]))
                for s in seqs
            ]

    def mark_processed(self, seqs: Sequence[int]) -> None:
        with self.transaction():
            for seq in seqs:
                self._delete(self._inbox, seq)

    def pending_event_count(self) -> int:
        with self._lock:
            return len(self._inbox)

    # -- deliveries ----------
    def remember_delivery(
        self, source: str, delivery_id: str, *, at: datetime, ttl_seconds: float
    ) -> bool:
        with self.transaction():
            now = at.timestamp()
            for key, expires in list(self._deliveries.items()):
                if expires <= now:
                    self._delete(self._deliveries, key)
            if (source, delivery_id) in self._deliveries:
                return False
            self._set(self._deliveries, (source, delivery_id), now + ttl_seconds)
            return True

    # -- detector state ----------
    def load_state(self, customer_id: str) -> tuple[int, dict[str, Any]] | None:
        with self._lock:
            row = self._states.get(customer_id)
            return None if row is None else (row[0], json.loads(row[1]))

    def state_version(self, customer_id: str) -> int:
        with self._lock:
            row = self._states.get(customer_id)
            return 0 if row is None else row[0]

    def state_versions(self, customer_ids: Sequence[str]) -> dict[str, int]:
        with self._lock:
            return {c: self._states[c][0] if c in self._states else 0 for c in customer_ids}

    def save_state(self, customer_id: str, state: Mapping[str, Any], *, at: datetime) -> int:
        with self.transaction():
            version = self.state_version(customer_id) + 1
            self._set(self._states, customer_id, (version, json.dumps(state)))
            return version

    def state_customers(self) -> list[str]:
        with self._lock:
            return sorted(self._states)

    # -- episodes, transitions, plans ----------
    def record_transition(
        self, transition: Transition, plan: EscalationPlan | None, *, at: datetime
    ) -> bool:
        with self.transaction():
            tkey = (transition.episode_id, transition.kind.value)
            if tkey in self._transitions:
                return False
            self._set(
                self._transitions,
                tkey,
                {
                    "episode_id": transition.episode_id,
                    "kind": transition.kind.value,
                    "at": transition.at,
                    "customer_id": transition.customer_id,
                    "severity": transition.severity.value,
                    "suppressed": transition.suppressed,
                    "recorded_at": at,
                    "data": copy.deepcopy(transition.to_json()),
                },
            )
            self._record_episode(transition)
            if plan is not None:
                self._record_plan(plan, at=at)
            return True

    def _record_episode(self, transition: Transition) -> None:
        resolved = transition.kind is TransitionKind.RESOLVED
        old = self._episodes.get(transition.episode_id)
        metadata = copy.deepcopy(transition.assessment.metadata())
        if old is None:
            self._set(
                self._episodes,
                transition.episode_id,
                {
                    "episode_id": transition.episode_id,
                    "customer_id": transition.customer_id,
                    "severity": transition.severity.value,
                    "status": "resolved" if resolved else "active",
                    "opened_at": transition.opened_at,
                    "updated_at": transition.at,
                    "resolved_at": transition.at if resolved else None,
                    "last_transition": transition.kind.value,
                    "metadata": metadata,
                    "suppressed": transition.suppressed,
                },
            )
        elif resolved:
            self._update(
                self._episodes,
                transition.episode_id,
                status="resolved",
                updated_at=transition.at,
                resolved_at=transition.at,
                last_transition=transition.kind.value,
                metadata=metadata,
            )
        elif old["status"] == "active":
            # A late "escalated" after "resolved" must not reopen a closed episode.
            self._update(
                self._episodes,
                transition.episode_id,
                severity=transition.severity.value,
                updated_at=transition.at,
                last_transition=transition.kind.value,
                metadata=metadata,
                suppressed=transition.suppressed,
            )

    def _record_plan(
        self, plan: EscalationPlan, *, at: datetime, plan_id: str | None = None
    ) -> None:
        plan_id = plan_id or plan_id_of(plan)
        if plan_id in self._plans:
            return
        seq = self._next("plans")
        self._set(self._plans, plan_id, {"seq": seq, "data": plan.to_json(), "created_at": at})
        for position, action in enumerate(plan.actions):
            if action.key in self._actions:
                continue
            self._set(
                self._actions,
                action.key,
                {
                    "key": action.key,
                    "plan_id": plan_id,
                    "episode_id": plan.episode_id,
                    "customer_id": plan.customer_id,
                    "seq": seq * 10_000 + position,
                    "kind": action.kind,
                    "step_id": action.step_id,
                    "status": ActionStatus.PENDING.value,
                    "attempts": 0,
                    "depends_on": list(action.depends_on),
                    "action": action.to_json(),
                    "created_at": at,
                    "updated_at": at,
                    "handler": None,
                    "ref": {},
                    "summary": "",
                    "error": None,
                    "owner": None,
                    "lease_until": None,
                },
            )

    def episodes(self, *, active_only: bool = False) -> list[EpisodeRecord]:
        with self._lock:
            rows = [_episode_record(r) for r in self._episodes.values()]
        rows = [r for r in rows if not active_only or r.status == "active"]
        rows.sort(key=lambda r: (r.opened_at, r.episode_id))
        return rows

    def episode(self, episode_id: str) -> EpisodeRecord | None:
        with self._lock:
            row = self._episodes.get(episode_id)
            return None if row is None else _episode_record(row)

    def active_episode(self, customer_id: str) -> EpisodeRecord | None:
        active = [e for e in self.episodes(active_only=True) if e.customer_id == customer_id]
        return active[-1] if active else None

    def transitions(self, *, episode_id: str | None = None) -> list[TransitionRecord]:
        with self._lock:
            rows = [
                TransitionRecord(
                    episode_id=r["episode_id"],
                    kind=r["kind"],
                    at=r["at"],
                    customer_id=r["customer_id"],
                    severity=r["severity"],
                    suppressed=r["suppressed"],
                    recorded_at=r["recorded_at"],
                    data=copy.deepcopy(r["data"]),
                )
                for r in self._transitions.values()
                if episode_id is None or r["episode_id"] == episode_id
            ]
        rows.sort(key=lambda r: (r.at, r.episode_id, _KIND_ORDER.get(r.kind, 9)))
        return rows

    def plans(self, *, episode_id: str | None = None) -> list[PlanRecord]:
        with self._lock:
            items = list(self._plans.items())
        out = [
            PlanRecord(
                plan_id=pid,
                seq=row["seq"],
                plan=plan_from_json(row["data"]),
                created_at=row["created_at"],
            )
            for pid, row in items
        ]
        out = [p for p in out if episode_id is None or p.plan.episode_id == episode_id]
        out.sort(key=lambda p: p.seq)
        return out

    def plan(self, plan_id: str) -> PlanRecord | None:
        with self._lock:
            row = self._plans.get(plan_id)
            if row is None:
                return None
            return PlanRecord(
                plan_id=plan_id,
                seq=row["seq"],
                plan=plan_from_json(row["data"]),
                created_at=row["created_at"],
            )

    # -- actions ----------
    def actions(
        self,
        *,
        status: ActionStatus | None = None,
        episode_id: str | None = None,
        plan_id: str | None = None,
    ) -> list[ActionRecord]:
        with self._lock:
            rows = [
                _action_record(r)
                for r in self._actions.values()
                if (status is None or r["status"] == status.value)
                and (episode_id is None or r["episode_id"] == episode_id)
                and (plan_id is None or r["plan_id"] == plan_id)
            ]
        rows.sort(key=lambda r: r.seq)
        return rows

    def action(self, key: str) -> ActionRecord | None:
        with self._lock:
            row = self._actions.get(key)
            return None if row is None else _action_record(row)

    def claim_action(
        self, key: str, *, owner: str, lease_until: float, at: datetime
    ) -> ActionRecord | None:
        with self.transaction():
            row = self._actions.get(key)
            if row is None or row["status"] != ActionStatus.PENDING.value:
                return None
            self._update(
                self._actions,
                key,
                status=ActionStatus.RUNNING.value,
                owner=owner,
                lease_until=lease_until,
                updated_at=at,
            )
            return _action_record(self._actions[key])

    def renew_lease(self, key: str, *, owner: str, lease_until: float) -> bool:
        with self.transaction():
            row = self._actions.get(key)
            if row is None or row["status"] != ActionStatus.RUNNING.value or row["owner"] != owner:
                return False
            self._update(self._actions, key, lease_until=lease_until)
            return True

    def start_attempt(self, key: str, *, owner: str, handler: str | None, at: datetime) -> int:
        with self.transaction():
            row = self._actions[key]
            number = int(row["attempts"]) + 1
            self._update(self._actions, key, attempts=number, handler=handler, updated_at=at)
            self._set(
                self._attempts,
                (key, number),
                {
                    "key": key,
                    "number": number,
                    "started_at": at,
                    "finished_at": None,
                    "outcome": None,
                    "handler": handler,
                    "error": None,
                },
            )
            return number

    def finish_attempt(
        self, key: str, number: int, *, outcome: str, error: str | None, at: datetime
    ) -> None:
        with self.transaction():
            if (key, number) in self._attempts:
                self._update(
                    self._attempts, (key, number), finished_at=at, outcome=outcome, error=error
                )

    def complete_action(
        self,
        key: str,
        *,
        owner: str,
        handler: str,
        ref: Mapping[str, str],
        summary: str,
        at: datetime,
    ) -> bool:
        with self.transaction():
            row = self._actions.get(key)
            if row is None or row["status"] != ActionStatus.RUNNING.value or row["owner"] != owner:
                return False
            self._update(
                self._actions,
                key,
                status=ActionStatus.DONE.value,
                handler=handler,
                ref=dict(ref),
                summary=summary,
                error=None,
                owner=None,
                lease_until=None,
                updated_at=at,
            )
            entry = {
                "seq": len(self._outbox) + 1,
                "key": key,
                "kind": row["kind"],
                "handler": handler,
                "episode_id": row["episode_id"],
                "customer_id": row["customer_id"],
                "executed_at": at,
                "summary": summary,
                "ref": dict(ref),
                "action": copy.deepcopy(row["action"]),
            }
            self._outbox.append(entry)
            if self._journal is not None:
                self._journal.append(lambda: self._undo_outbox())
            return True

    def fail_action(
        self, key: str, *, owner: str | None, handler: str | None, error: str, at: datetime
    ) -> bool:
        with self.transaction():
            row = self._actions.get(key)
            if row is None or row["status"] == ActionStatus.DONE.value:
                return False
            if owner is not None and row["owner"] not in (owner, None):
                return False
            self._update(
                self._actions,
                key,
                status=ActionStatus.FAILED.value,
                handler=handler or row["handler"],
                error=error,
                owner=None,
                lease_until=None,
                updated_at=at,
            )
            return True

    def release_action(self, key: str, *, owner: str, at: datetime) -> bool:
        with self.transaction():
            row = self._actions.get(key)
            if row is None or row["status"] != ActionStatus.RUNNING.value or row["owner"] != owner:
                return False
            self._update(
                self._actions,
                key,
                status=ActionStatus.PENDING.value,
                owner=None,
                lease_until=None,
                updated_at=at,
            )
            return True

    def running_actions(self) -> list[ActionRecord]:
        return self.actions(status=ActionStatus.RUNNING)

    def reset_failed(self, keys: Sequence[str] | None = None, *, at: datetime) -> int:
        with self.transaction():
            count = 0
            for key, row in list(self._actions.items()):
                if row["status"] != ActionStatus.FAILED.value:
                    continue
                if keys is not None and key not in keys:
                    continue
                self._update(self._actions, key, status=ActionStatus.PENDING.value, updated_at=at)
                count += 1
            return count

    def attempts(self, key: str | None = None) -> list[AttemptRecord]:
        with self._lock:
            rows = [
                AttemptRecord(**r)
                for (k, _n), r in self._attempts.items()
                if key is None or k == key
            ]
        rows.sort(key=lambda a: (a.started_at, a.key, a.number))
        return rows

    # -- outbox ----------
    def outbox(self, *, customer_id: str | None = None) -> list[OutboxEntry]:
        with self._lock:
            return [
                OutboxEntry(**copy.deepcopy(e))
                for e in self._outbox
                if customer_id is None or e["customer_id"] == customer_id
            ]

    # -- cursors ----------
    def get_cursor(self, name: str) -> str | None:
        with self._lock:
            return self._cursors.get(name)

    def set_cursor(self, name: str, cursor: str | None, *, at: datetime) -> None:
        with self.transaction():
            self._set(self._cursors, name, cursor)

    # -- unmatched ----------
    def put_unmatched(self, item: Unmatched, *, at: datetime) -> None:
        key = (item.source, item.record_id)
        payload = json.dumps(dict(item.payload), sort_keys=True)
        with self.transaction():
            old = self._unmatched.get(key)
            row = {
                "source": item.source,
                "record_id": item.record_id,
                "reason": item.reason,
                "payload": payload,
                "first_seen": old["first_seen"] if old else at,
                "last_seen": at,
                "attempts": old["attempts"] + 1 if old else 1,
                "order": old["order"] if old else self._next("unmatched"),
            }
            self._set(self._unmatched, key, row)

    def unmatched(self, *, source: str | None = None) -> list[UnmatchedRecord]:
        with self._lock:
            rows = sorted(self._unmatched.values(), key=lambda r: r["order"])
            return [
                UnmatchedRecord(
                    source=r["source"],
                    record_id=r["record_id"],
                    reason=r["reason"],
                    payload=json.loads(r["payload"]),
                    first_seen=r["first_seen"],
                    last_seen=r["last_seen"],
                    attempts=r["attempts"],
                )
                for r in rows
                if source is None or r["source"] == source
            ]

    def drop_unmatched(self, source: str, record_id: str) -> bool:
        with self.transaction():
            if (source, record_id) not in self._unmatched:
                return False
            self._delete(self._unmatched, (source, record_id))
            return True


_KIND_ORDER = {"opened": 0, "escalated": 1, "resolved": 2}


def _ticket_record(row: Mapping[str, Any]) -> TicketRecord:
    return TicketRecord(
        ticket=event_from_json(row["event"]).ticket,
        status=row["status"],
        received_at=row["received_at"],
        updated_at=row["updated_at"],
    )


def _episode_record(row: Mapping[str, Any]) -> EpisodeRecord:
    return EpisodeRecord(**copy.deepcopy(dict(row)))


def _action_record(row: Mapping[str, Any]) -> ActionRecord:
    data = copy.deepcopy(dict(row))
    data["status"] = ActionStatus(data["status"])
    data["depends_on"] = tuple(data["depends_on"])
    return ActionRecord(**data)
