"""The core store roles in portable SQL, shared by the SQLite and PostgreSQL stores.

Each class here is one role of :class:`~ticketspike.store.base.Store` (tickets, inbox,
deliveries, detector state, episode log, action ledger, cursors, unmatched records), written
once against four helpers the concrete store provides: ``_one`` / ``_all`` (a row, all rows),
``_exec`` (a statement; its row count), ``_many`` (one statement over many parameter rows),
plus ``transaction``. Statements use ``?`` placeholders and the SQL both servers speak
(``INSERT ... ON CONFLICT``, ``RETURNING``, no ``rowid``), so a difference between the two
stores can only live in the store's plumbing, never in a record's rules.

The PostgreSQL store overrides the few places where several processes on one database need
more than the SQL gives (claiming inbox events, guarding detector state), see
:mod:`ticketspike.store.postgres`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any

from ..model import Category, EventKind, Ticket, TicketEvent
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
    merged_event,
    plan_id_of,
)
from .codec import event_from_json, event_to_json, plan_from_json

__all__ = [
    "SQLActionLedger",
    "SQLCore",
    "SQLCursors",
    "SQLDeliveries",
    "SQLDetectorState",
    "SQLEpisodeLog",
    "SQLInbox",
    "SQLTickets",
    "SQLUnmatched",
]


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _opt_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _status(kind: EventKind, old: str = "open") -> str:
    return "resolved" if kind is EventKind.RESOLVED else old


class _SQL:
    """The helpers every role here is written against (the concrete store defines them)."""

    transaction: Callable[[], AbstractContextManager[None]]
    _one: Callable[..., Any]
    _all: Callable[..., list[Any]]
    _exec: Callable[..., int]
    _many: Callable[[str, Sequence[Sequence[Any]]], None]
    # Row locks for a read-then-write (PostgreSQL); SQLite's write transaction is the lock.
    _for_update = ""


class SQLTickets(_SQL):
    """Tickets, idempotent on ``(source, ticket_id)``."""

    def put_ticket(self, event: TicketEvent, *, at: datetime) -> PutOutcome:
        ticket = event.ticket
        head, body = _split_body(event)
        with self.transaction():
            inserted = self._all(
                "INSERT INTO tickets (source, ticket_id, customer_id, created_ts, internal,"
                " status, event, body, body_length, received_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (source, ticket_id) DO NOTHING RETURNING 1",
                (
                    ticket.source,
                    ticket.ticket_id,
                    ticket.customer_id,
                    ticket.created_at.timestamp(),
                    int(ticket.internal),
                    _status(event.kind),
                    head,
                    body,
                    len(event.ticket.body),
                    _iso(at),
                    _iso(at),
                ),
            )
            if inserted:
                return PutOutcome.NEW
            row = self._one(
                "SELECT event, status, body FROM tickets WHERE source = ? AND ticket_id = ?"
                + self._for_update,
                ticket.key,
            )
            stored = _stored_event(row[0], row[2])
            status = _status(event.kind, row[1])
            merged = merged_event(stored, event)
            changed = status != row[1] or (merged is not None and merged.ticket != stored.ticket)
            sets: list[str] = []
            params: list[Any] = []
            if merged is not None:
                # Kept even when only the time the fields are as of moved, so an older
                # update arriving later stays stale.
                sets.append("event = ?, body = ?, body_length = ?")
                params.extend((*_split_body(merged), len(merged.ticket.body)))
            if changed:
                sets.append("status = ?, updated_at = ?")
                params.extend((status, _iso(at)))
            if sets:
                self._exec(
                    f"UPDATE tickets SET {', '.join(sets)} WHERE source = ? AND ticket_id = ?",
                    (*params, *ticket.key),
                )
            return PutOutcome.UPDATED if changed else PutOutcome.DUPLICATE

    def get_ticket(self, source: str, ticket_id: str) -> TicketRecord | None:
        row = self._one(
            "SELECT event, status, received_at, updated_at, body FROM tickets"
            " WHERE source = ? AND ticket_id = ?",
            (source, ticket_id),
        )
        return None if row is None else _ticket_record(row)

    def tickets(
        self,
        *,
        customer_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_internal: bool = True,
    ) -> list[TicketRecord]:
        where: list[str] = []
        params: list[Any] = []
        if customer_id is not None:
            where.append("customer_id = ?")
            params.append(customer_id)
        if since is not None:
            where.append("created_ts > ?")
            params.append(since.timestamp())
        if until is not None:
            where.append("created_ts <= ?")
            params.append(until.timestamp())
        if not include_internal:
            where.append("internal = 0")
        sql = "SELECT event, status, received_at, updated_at, body FROM tickets"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_ts, source, ticket_id"
        return [_ticket_record(r) for r in self._all(sql, params)]

    def ticket_count(self) -> int:
        return int(self._one("SELECT count(*) FROM tickets")[0])

    def set_category(self, source: str, ticket_id: str, category: Category) -> None:
        with self.transaction():
            row = self._one(
                "SELECT event FROM tickets WHERE source = ? AND ticket_id = ?" + self._for_update,
                (source, ticket_id),
            )
            if row is None:
                return
            event = json.loads(row[0])
            event["category"] = category.value
            self._exec(
                "UPDATE tickets SET event = ? WHERE source = ? AND ticket_id = ?",
                (_dumps(event), source, ticket_id),
            )


class SQLInbox(_SQL):
    """Stored events waiting for detection."""

    def enqueue(
        self, items: Sequence[tuple[TicketEvent, PutOutcome]], *, received_at: datetime
    ) -> int:
        with self.transaction():
            self._many(
                "INSERT INTO inbox (event, outcome, received_at) VALUES (?, ?, ?)",
                [(_dumps(event_to_json(e)), o.value, _iso(received_at)) for e, o in items],
            )
        return len(items)

    def pending_events(self, *, limit: int = 500) -> list[tuple[int, TicketEvent, PutOutcome]]:
        rows = self._all("SELECT seq, event, outcome FROM inbox ORDER BY seq LIMIT ?", (limit,))
        return [
            (int(seq), event_from_json(json.loads(data)), PutOutcome(outcome))
            for seq, data, outcome in rows
        ]

    def mark_processed(self, seqs: Sequence[int]) -> None:
        with self.transaction():
            self._many("DELETE FROM inbox WHERE seq = ?", [(s,) for s in seqs])

    def pending_event_count(self) -> int:
        return int(self._one("SELECT count(*) FROM inbox")[0])


class SQLDeliveries(_SQL):
    """Webhook delivery ids with a time to live."""

    def remember_delivery(
        self, source: str, delivery_id: str, *, at: datetime, ttl_seconds: float
    ) -> bool:
        now = at.timestamp()
        self._prune_deliveries(now)
        # An expired id is taken over in place (pruning may have left it).
        fresh = self._all(
            "INSERT INTO deliveries (source, delivery_id, expires_ts) VALUES (?, ?, ?)"
            " ON CONFLICT (source, delivery_id) DO UPDATE SET expires_ts = excluded.expires_ts"
            " WHERE deliveries.expires_ts <= ? RETURNING 1",
            (source, delivery_id, now + ttl_seconds, now),
        )
        return bool(fresh)

    def _prune_deliveries(self, now: float) -> None:
        """Forget expired ids, so the table holds about one time-to-live of deliveries."""
        self._exec("DELETE FROM deliveries WHERE expires_ts <= ?", (now,))


class SQLDetectorState(_SQL):
    """Detector state per customer, versioned."""

    def load_state(self, customer_id: str) -> tuple[int, dict[str, Any]] | None:
        row = self._one(
            "SELECT version, state FROM customer_state WHERE customer_id = ?", (customer_id,)
        )
        return None if row is None else (int(row[0]), json.loads(row[1]))

    def state_version(self, customer_id: str) -> int:
        row = self._one("SELECT version FROM customer_state WHERE customer_id = ?", (customer_id,))
        return 0 if row is None else int(row[0])

    def state_versions(self, customer_ids: Sequence[str]) -> dict[str, int]:
        versions = dict.fromkeys(customer_ids, 0)
        wanted = list(versions)
        for start in range(0, len(wanted), 500):  # within any placeholder limit
            chunk = wanted[start : start + 500]
            rows = self._all(
                "SELECT customer_id, version FROM customer_state WHERE customer_id IN ("
                + ",".join("?" * len(chunk))
                + ")",
                chunk,
            )
            versions.update((r[0], int(r[1])) for r in rows)
        return versions

    def save_state(self, customer_id: str, state: Mapping[str, Any], *, at: datetime) -> int:
        return self._write_state(customer_id, _dumps(state), at=at)

    def _write_state(self, customer_id: str, text: str, *, at: datetime) -> int:
        """Store a state already written as JSON ``text`` (a store that encodes it for its
        own purposes first need not encode it twice)."""
        rows = self._all(
            "INSERT INTO customer_state (customer_id, version, state, updated_at)"
            " VALUES (?, 1, ?, ?) ON CONFLICT (customer_id) DO UPDATE SET"
            " version = customer_state.version + 1, state = excluded.state,"
            " updated_at = excluded.updated_at RETURNING version",
            (customer_id, text, _iso(at)),
        )
        return int(rows[0][0])

    def state_customers(self) -> list[str]:
        return [r[0] for r in self._all("SELECT customer_id FROM customer_state ORDER BY 1")]


class SQLEpisodeLog(_SQL):
    """Episodes, transitions (once per episode and kind) and plans."""

    def record_transition(
        self, transition: Transition, plan: EscalationPlan | None, *, at: datetime
    ) -> bool:
        with self.transaction():
            recorded = self._all(
                "INSERT INTO transitions (episode_id, kind, at, at_ts, customer_id,"
                " severity, suppressed, recorded_at, data) VALUES (?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (episode_id, kind) DO NOTHING RETURNING 1",
                (
                    transition.episode_id,
                    transition.kind.value,
                    _iso(transition.at),
                    transition.at.timestamp(),
                    transition.customer_id,
                    transition.severity.value,
                    transition.suppressed,
                    _iso(at),
                    _dumps(transition.to_json()),
                ),
            )
            if not recorded:
                return False
            self._record_episode(transition)
            if plan is not None:
                self._record_plan(plan, at=at)
            return True

    def _record_episode(self, transition: Transition) -> None:
        resolved = transition.kind is TransitionKind.RESOLVED
        old = self._one(
            "SELECT status, severity FROM episodes WHERE episode_id = ?" + self._for_update,
            (transition.episode_id,),
        )
        metadata = _dumps(transition.assessment.metadata())
        if old is None:
            self._exec(
                "INSERT INTO episodes (episode_id, customer_id, severity, status, opened_at,"
                " opened_ts, updated_at, resolved_at, last_transition, metadata, suppressed)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    transition.episode_id,
                    transition.customer_id,
                    transition.severity.value,
                    "resolved" if resolved else "active",
                    _iso(transition.opened_at),
                    transition.opened_at.timestamp(),
                    _iso(transition.at),
                    _iso(transition.at) if resolved else None,
                    transition.kind.value,
                    metadata,
                    transition.suppressed,
                ),
            )
        elif resolved:
            self._exec(
                "UPDATE episodes SET status = 'resolved', updated_at = ?, resolved_at = ?,"
                " last_transition = ?, metadata = ? WHERE episode_id = ?",
                (
                    _iso(transition.at),
                    _iso(transition.at),
                    transition.kind.value,
                    metadata,
                    transition.episode_id,
                ),
            )
        elif old[0] == "active":
            # A late "escalated" after "resolved" must not reopen a closed episode.
            self._exec(
                "UPDATE episodes SET severity = ?, updated_at = ?, last_transition = ?,"
                " metadata = ?, suppressed = ? WHERE episode_id = ?",
                (
                    transition.severity.value,
                    _iso(transition.at),
                    transition.kind.value,
                    metadata,
                    transition.suppressed,
                    transition.episode_id,
                ),
            )

    def _record_plan(
        self, plan: EscalationPlan, *, at: datetime, plan_id: str | None = None
    ) -> None:
        plan_id = plan_id or plan_id_of(plan)
        rows = self._all(
            "INSERT INTO plans (plan_id, episode_id, data, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (plan_id) DO NOTHING RETURNING seq",
            (plan_id, plan.episode_id, _dumps(plan.to_json()), _iso(at)),
        )
        if not rows:
            return
        seq = int(rows[0][0])
        self._many(
            "INSERT INTO actions (key, plan_id, episode_id, customer_id, seq, kind,"
            " step_id, status, attempts, depends_on, action, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,'pending',0,?,?,?,?) ON CONFLICT (key) DO NOTHING",
            [
                (
                    action.key,
                    plan_id,
                    plan.episode_id,
                    plan.customer_id,
                    seq * 10_000 + position,
                    action.kind,
                    action.step_id,
                    _dumps(list(action.depends_on)),
                    _dumps(action.to_json()),
                    _iso(at),
                    _iso(at),
                )
                for position, action in enumerate(plan.actions)
            ],
        )

    _EPISODE_COLS = (
        "episode_id, customer_id, severity, status, opened_at, updated_at, resolved_at,"
        " last_transition, metadata, suppressed"
    )

    def episodes(self, *, active_only: bool = False) -> list[EpisodeRecord]:
        sql = f"SELECT {self._EPISODE_COLS} FROM episodes"
        if active_only:
            sql += " WHERE status = 'active'"
        sql += " ORDER BY opened_ts, episode_id"
        return [_episode_record(r) for r in self._all(sql)]

    def episode(self, episode_id: str) -> EpisodeRecord | None:
        row = self._one(
            f"SELECT {self._EPISODE_COLS} FROM episodes WHERE episode_id = ?", (episode_id,)
        )
        return None if row is None else _episode_record(row)

    def active_episode(self, customer_id: str) -> EpisodeRecord | None:
        row = self._one(
            f"SELECT {self._EPISODE_COLS} FROM episodes WHERE customer_id = ?"
            " AND status = 'active' ORDER BY opened_ts DESC LIMIT 1",
            (customer_id,),
        )
        return None if row is None else _episode_record(row)

    def transitions(self, *, episode_id: str | None = None) -> list[TransitionRecord]:
        sql = (
            "SELECT episode_id, kind, at, customer_id, severity, suppressed, recorded_at, data"
            " FROM transitions"
        )
        params: tuple[Any, ...] = ()
        if episode_id is not None:
            sql += " WHERE episode_id = ?"
            params = (episode_id,)
        sql += (
            " ORDER BY at_ts, episode_id,"
            " CASE kind WHEN 'opened' THEN 0 WHEN 'escalated' THEN 1 ELSE 2 END"
        )
        return [
            TransitionRecord(
                episode_id=r[0],
                kind=r[1],
                at=_time(r[2]),
                customer_id=r[3],
                severity=r[4],
                suppressed=r[5],
                recorded_at=_time(r[6]),
                data=json.loads(r[7]),
            )
            for r in self._all(sql, params)
        ]

    def plans(self, *, episode_id: str | None = None) -> list[PlanRecord]:
        sql = "SELECT plan_id, seq, data, created_at FROM plans"
        params: tuple[Any, ...] = ()
        if episode_id is not None:
            sql += " WHERE episode_id = ?"
            params = (episode_id,)
        sql += " ORDER BY seq"
        return [_plan_record(r) for r in self._all(sql, params)]

    def plan(self, plan_id: str) -> PlanRecord | None:
        row = self._one(
            "SELECT plan_id, seq, data, created_at FROM plans WHERE plan_id = ?", (plan_id,)
        )
        return None if row is None else _plan_record(row)


class SQLActionLedger(_SQL):
    """Each action's record, its attempts, its lease, and the outbox of executed actions."""

    _ACTION_COLS = (
        "key, plan_id, episode_id, customer_id, seq, kind, step_id, status, attempts,"
        " depends_on, action, created_at, updated_at, handler, ref, summary, error, owner,"
        " lease_until"
    )

    def actions(
        self,
        *,
        status: ActionStatus | None = None,
        episode_id: str | None = None,
        plan_id: str | None = None,
    ) -> list[ActionRecord]:
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if episode_id is not None:
            where.append("episode_id = ?")
            params.append(episode_id)
        if plan_id is not None:
            where.append("plan_id = ?")
            params.append(plan_id)
        sql = f"SELECT {self._ACTION_COLS} FROM actions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq"
        return [_action_record(r) for r in self._all(sql, params)]

    def action(self, key: str) -> ActionRecord | None:
        row = self._one(f"SELECT {self._ACTION_COLS} FROM actions WHERE key = ?", (key,))
        return None if row is None else _action_record(row)

    def claim_action(
        self, key: str, *, owner: str, lease_until: float, at: datetime
    ) -> ActionRecord | None:
        rows = self._all(
            "UPDATE actions SET status = 'running', owner = ?, lease_until = ?,"
            f" updated_at = ? WHERE key = ? AND status = 'pending' RETURNING {self._ACTION_COLS}",
            (owner, lease_until, _iso(at), key),
        )
        return _action_record(rows[0]) if rows else None

    def renew_lease(self, key: str, *, owner: str, lease_until: float) -> bool:
        return (
            self._exec(
                "UPDATE actions SET lease_until = ? WHERE key = ? AND status = 'running'"
                " AND owner = ?",
                (lease_until, key, owner),
            )
            == 1
        )

    def start_attempt(self, key: str, *, owner: str, handler: str | None, at: datetime) -> int:
        with self.transaction():
            rows = self._all(
                "UPDATE actions SET attempts = attempts + 1, handler = ?, updated_at = ?"
                " WHERE key = ? RETURNING attempts",
                (handler, _iso(at), key),
            )
            number = int(rows[0][0])
            self._exec(
                "INSERT INTO attempts (key, number, started_at, handler) VALUES (?, ?, ?, ?)",
                (key, number, _iso(at), handler),
            )
            return number

    def finish_attempt(
        self, key: str, number: int, *, outcome: str, error: str | None, at: datetime
    ) -> None:
        self._exec(
            "UPDATE attempts SET finished_at = ?, outcome = ?, error = ?"
            " WHERE key = ? AND number = ?",
            (_iso(at), outcome, error, key, number),
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
            changed = self._exec(
                "UPDATE actions SET status = 'done', handler = ?, ref = ?, summary = ?,"
                " error = NULL, owner = NULL, lease_until = NULL, updated_at = ?"
                " WHERE key = ? AND status = 'running' AND owner = ?",
                (handler, _dumps(dict(ref)), summary, _iso(at), key, owner),
            )
            if changed != 1:
                return False
            self._exec(
                "INSERT INTO outbox (key, kind, handler, episode_id, customer_id, executed_at,"
                " summary, ref, action) SELECT key, kind, ?, episode_id, customer_id, ?, ?, ?,"
                " action FROM actions WHERE key = ?",
                (handler, _iso(at), summary, _dumps(dict(ref)), key),
            )
            return True

    def fail_action(
        self, key: str, *, owner: str | None, handler: str | None, error: str, at: datetime
    ) -> bool:
        sql = (
            "UPDATE actions SET status = 'failed', handler = coalesce(?, handler), error = ?,"
            " owner = NULL, lease_until = NULL, updated_at = ? WHERE key = ?"
            " AND status != 'done'"
        )
        params: list[Any] = [handler, error, _iso(at), key]
        if owner is not None:
            sql += " AND (owner IS NULL OR owner = ?)"
            params.append(owner)
        return self._exec(sql, params) == 1

    def release_action(self, key: str, *, owner: str, at: datetime) -> bool:
        return (
            self._exec(
                "UPDATE actions SET status = 'pending', owner = NULL, lease_until = NULL,"
                " updated_at = ? WHERE key = ? AND status = 'running' AND owner = ?",
                (_iso(at), key, owner),
            )
            == 1
        )

    def running_actions(self) -> list[ActionRecord]:
        return self.actions(status=ActionStatus.RUNNING)

    def reset_failed(self, keys: Sequence[str] | None = None, *, at: datetime) -> int:
        with self.transaction():
            if keys is None:
                return self._exec(
                    "UPDATE actions SET status = 'pending', updated_at = ? WHERE status = 'failed'",
                    (_iso(at),),
                )
            total = 0
            for key in keys:
                total += self._exec(
                    "UPDATE actions SET status = 'pending', updated_at = ?"
                    " WHERE status = 'failed' AND key = ?",
                    (_iso(at), key),
                )
            return total

    def attempts(self, key: str | None = None) -> list[AttemptRecord]:
        sql = "SELECT key, number, started_at, finished_at, outcome, handler, error FROM attempts"
        params: tuple[Any, ...] = ()
        if key is not None:
            sql += " WHERE key = ?"
            params = (key,)
        sql += " ORDER BY started_at, key, number"
        return [
            AttemptRecord(
                key=r[0],
                number=int(r[1]),
                started_at=_time(r[2]),
                finished_at=_opt_time(r[3]),
                outcome=r[4],
                handler=r[5],
                error=r[6],
            )
            for r in self._all(sql, params)
        ]

    def outbox(self, *, customer_id: str | None = None) -> list[OutboxEntry]:
        sql = (
            "SELECT seq, key, kind, handler, episode_id, customer_id, executed_at, summary, ref,"
            " action FROM outbox"
        )
        params: tuple[Any, ...] = ()
        if customer_id is not None:
            sql += " WHERE customer_id = ?"
            params = (customer_id,)
        sql += " ORDER BY seq"
        return [
            OutboxEntry(
                seq=int(r[0]),
                key=r[1],
                kind=r[2],
                handler=r[3],
                episode_id=r[4],
                customer_id=r[5],
                executed_at=_time(r[6]),
                summary=r[7],
                ref=json.loads(r[8]),
                action=json.loads(r[9]),
            )
            for r in self._all(sql, params)
        ]


class SQLCursors(_SQL):
    """Named cursors (where an interrupted backfill resumes)."""

    def get_cursor(self, name: str) -> str | None:
        row = self._one("SELECT cursor FROM cursors WHERE name = ?", (name,))
        return None if row is None else str(row[0]) if row[0] is not None else None

    def set_cursor(self, name: str, cursor: str | None, *, at: datetime) -> None:
        self._exec(
            "INSERT INTO cursors (name, cursor, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor,"
            " updated_at = excluded.updated_at",
            (name, cursor, _iso(at)),
        )


class SQLUnmatched(_SQL):
    """Records kept aside until their customer is known."""

    # The column that orders records as they were first kept (SQLite: its rowid).
    _unmatched_order = "seq"

    def put_unmatched(self, item: Unmatched, *, at: datetime) -> None:
        self._exec(
            "INSERT INTO unmatched (source, record_id, reason, payload, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, record_id) DO UPDATE SET"
            " reason = excluded.reason, payload = excluded.payload,"
            " last_seen = excluded.last_seen, attempts = unmatched.attempts + 1",
            (
                item.source,
                item.record_id,
                item.reason,
                json.dumps(dict(item.payload), sort_keys=True),
                _iso(at),
                _iso(at),
            ),
        )

    def unmatched(self, *, source: str | None = None) -> list[UnmatchedRecord]:
        sql = (
            "SELECT source, record_id, reason, payload, first_seen, last_seen, attempts"
            " FROM unmatched"
        )
        params: tuple[str, ...] = ()
        if source is not None:
            sql += " WHERE source = ?"
            params = (source,)
        rows = self._all(sql + f" ORDER BY {self._unmatched_order}", params)
        return [
            UnmatchedRecord(
                source=r[0],
                record_id=r[1],
                reason=r[2],
                payload=json.loads(r[3]),
                first_seen=_time(r[4]),
                last_seen=_time(r[5]),
                attempts=int(r[6]),
            )
            for r in rows
        ]

    def drop_unmatched(self, source: str, record_id: str) -> bool:
        return (
            self._exec(
                "DELETE FROM unmatched WHERE source = ? AND record_id = ?", (source, record_id)
            )
            > 0
        )


class SQLCore(
    SQLTickets,
    SQLInbox,
    SQLDeliveries,
    SQLDetectorState,
    SQLEpisodeLog,
    SQLActionLedger,
    SQLCursors,
    SQLUnmatched,
):
    """Every core role at once: what a SQL store mixes in before its own plumbing."""


def _split_body(event: TicketEvent) -> tuple[str, str | None]:
    """The event's JSON without the ticket's body, and the body (kept in its own column).

    A body with a NUL character stays inside the JSON (column NULL): PostgreSQL text cannot
    hold NUL, and SQLite's ``substr`` stops at one.
    """
    data = event_to_json(event)
    body = data.get("body", "")
    if not isinstance(body, str) or "\x00" in body:
        return _dumps(data), None
    data.pop("body", None)
    return _dumps(data), body


def _stored_event(event: str, body: str | None) -> TicketEvent:
    """The kept event from its row: the JSON plus the body column (NULL: a row written before
    bodies had their own column, whose JSON holds the body)."""
    data = json.loads(event)
    if body is not None:
        data["body"] = body
    return event_from_json(data)


def _stored_ticket(event: str, body: str | None) -> Ticket:
    return _stored_event(event, body).ticket


def _ticket_record(row: Sequence[Any]) -> TicketRecord:
    return TicketRecord(
        ticket=_stored_ticket(row[0], row[4]),
        status=row[1],
        received_at=_time(row[2]),
        updated_at=_time(row[3]),
    )


def _episode_record(row: Sequence[Any]) -> EpisodeRecord:
    return EpisodeRecord(
        episode_id=row[0],
        customer_id=row[1],
        severity=row[2],
        status=row[3],
        opened_at=_time(row[4]),
        updated_at=_time(row[5]),
        resolved_at=_opt_time(row[6]),
        last_transition=row[7],
        metadata=json.loads(row[8]),
        suppressed=row[9],
    )


def _plan_record(row: Sequence[Any]) -> PlanRecord:
    return PlanRecord(
        plan_id=row[0],
        seq=int(row[1]),
        plan=plan_from_json(json.loads(row[2])),
        created_at=_time(row[3]),
    )


def _action_record(row: Sequence[Any]) -> ActionRecord:
    return ActionRecord(
        key=row[0],
        plan_id=row[1],
        episode_id=row[2],
        customer_id=row[3],
        seq=int(row[4]),
        kind=row[5],
        step_id=row[6],
        status=ActionStatus(row[7]),
        attempts=int(row[8]),
        depends_on=tuple(json.loads(row[9])),
        action=json.loads(row[10]),
        created_at=_time(row[11]),
        updated_at=_time(row[12]),
        handler=row[13],
        ref=json.loads(row[14]),
        summary=row[15],
        error=row[16],
        owner=row[17],
        lease_until=row[18],
    )
