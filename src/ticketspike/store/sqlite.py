"""The embedded default store: one SQLite file (standard library ``sqlite3``).

Why these settings:

* WAL journal, so readers (``ticketspike outbox`` while ``serve`` runs) never block the writer.
  ``synchronous=FULL`` by default: a transaction that returned is on disk even if the machine
  loses power, which is what "a webhook answers 2xx only after the ticket is durably stored"
  means. Group commits keep it cheap. ``synchronous="normal"`` trades that for speed: in WAL
  mode a process crash still loses nothing, a power cut may lose the last transactions (never
  half of one).
* ``BEGIN IMMEDIATE`` for every write, so two processes on one file queue up instead of
  failing half-way with "database is locked"; ``busy_timeout`` bounds the wait.
* The schema is versioned with ``PRAGMA user_version`` and migrated on open; a file written by
  a newer ticketspike is refused with :class:`~ticketspike.errors.StoreError` rather than
  misread.
* Uniqueness lives in the schema (``PRIMARY KEY (episode_id, kind)`` on transitions, ``key`` on
  actions and the outbox), so even two engines racing on one file cannot record, and so cannot
  alert on, the same thing twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import tenacity

from ..errors import StoreError
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
from .drafts import SQLiteDrafts
from .interactions import SQLiteInteractions
from .migrations import MIGRATIONS, SCHEMA_VERSION
from .parking import SQLiteParking

__all__ = ["SQLiteStore"]


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _opt_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (``executescript`` would commit mid-way)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    if buffer.strip():
        raise StoreError("migration script ends inside a statement")


class SQLiteStore(SQLiteInteractions, SQLiteDrafts, SQLiteParking):
    """A :class:`~ticketspike.store.base.Store` in one SQLite file.

    :param path: the file (created with its directory unless ``create`` is False).
    :param create: when False, a missing file is a :class:`StoreError`.
    :param busy_timeout: seconds to wait for another process's write to finish.
    :param synchronous: ``"full"`` (durable across power loss) or ``"normal"`` (faster).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = True,
        busy_timeout: float = 10.0,
        synchronous: str = "full",
    ) -> None:
        if synchronous not in ("full", "normal"):
            raise StoreError(f"synchronous must be 'full' or 'normal', not {synchronous!r}")
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(f"no store at {self.path}")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0
        self.write_failure: str | None = None  # why the last write failed, until one succeeds
        try:
            self._db = sqlite3.connect(
                str(self.path),
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from None
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._use_wal(busy_timeout)
            self._db.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            self._db.close()
            raise StoreError(
                f"{self.path} is not a usable ticketspike store: {_one_line(exc)}"
            ) from None
        except StoreError:
            self._db.close()
            raise

    # -- plumbing ----------
    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _use_wal(self, busy_timeout: float) -> None:
        """Switch to write-ahead logging, waiting out another process doing the same.

        Changing the journal mode needs the file to itself and SQLite answers
        "database is locked" at once rather than through the busy timeout, so
        two processes opening a new store together retry here (once the file
        is in WAL mode, which persists, nothing needs changing).
        """
        for attempt in tenacity.Retrying(
            retry=tenacity.retry_if_exception(_locked),
            stop=tenacity.stop_after_delay(busy_timeout),
            wait=tenacity.wait_random_exponential(multiplier=0.005, max=0.2),
            reraise=True,
        ):
            with attempt:
                (mode,) = self._db.execute("PRAGMA journal_mode").fetchone()
                if str(mode).lower() != "wal":
                    self._db.execute("PRAGMA journal_mode = WAL")

    def _migrate(self) -> None:
        with self.transaction():
            current = self.schema_version
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.path} has schema version {current}, newer than this "
                    f"ticketspike understands ({SCHEMA_VERSION}); upgrade ticketspike"
                )
            for number, script in MIGRATIONS:
                if number <= current:
                    continue
                for statement in _statements(script):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")

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
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"store {self.path} is busy: {exc}") from None
            self._depth = 1
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, (sqlite3.Error, UnicodeDecodeError)):
                    raise self._failed(exc) from None
                raise
            else:
                self.write_failure = None
            finally:
                self._depth = 0

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the transaction is gone already (SQLite rolls back on some I/O errors)

    def _failed(self, exc: BaseException) -> StoreError:
        """One line for a failed statement; a write that could not be made is remembered."""
        text = _one_line(exc)
        code = getattr(exc, "sqlite_errorcode", None)
        full = code is not None and code & 0xFF in _UNWRITABLE
        if full or "disk is full" in text or "disk I/O" in text:
            self.write_failure = text
            return StoreError(f"store {self.path} cannot write: {text}")
        if _locked(exc):
            return StoreError(f"store {self.path} is busy: {text}")
        return StoreError(f"store {self.path} is not usable: {text}")

    def write_problem(self) -> str | None:
        """None when the store can write; else why not (``/api/health`` reports it).

        After a failed write, each call tries a small real write (a page-sized row added and
        removed, committed), so the answer turns back to None as soon as space is free again.
        """
        if self.write_failure is None:
            return None
        probe = "ticketspike:write-probe"
        try:
            with self.transaction():
                self._db.execute(
                    "INSERT OR REPLACE INTO cursors (name, cursor, updated_at)"
                    " VALUES (?, hex(randomblob(4096)), '')",
                    (probe,),
                )
                self._db.execute("DELETE FROM cursors WHERE name = ?", (probe,))
        except StoreError:
            pass
        return self.write_failure

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchone()
            except (sqlite3.Error, UnicodeDecodeError) as exc:
                raise self._failed(exc) from None

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except (sqlite3.Error, UnicodeDecodeError) as exc:
                raise self._failed(exc) from None

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.transaction():
            return int(self._db.execute(sql, params).rowcount)

    # -- tickets ----------
    def put_ticket(self, event: TicketEvent, *, at: datetime) -> PutOutcome:
        ticket = event.ticket
        with self.transaction():
            row = self._db.execute(
                "SELECT event, status FROM tickets WHERE source = ? AND ticket_id = ?",
                ticket.key,
            ).fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO tickets (source, ticket_id, customer_id, created_ts, internal,"
                    " status, event, received_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        ticket.source,
                        ticket.ticket_id,
                        ticket.customer_id,
                        ticket.created_at.timestamp(),
                        int(ticket.internal),
                        "resolved" if event.kind is EventKind.RESOLVED else "open",
                        _dumps(event_to_json(event)),
                        _iso(at),
                        _iso(at),
                    ),
                )
                return PutOutcome.NEW
            stored = event_from_json(json.loads(row[0])).ticket
            status = "resolved" if event.kind is EventKind.RESOLVED else row[1]
            merged = merge_update(stored, event)
            if merged == stored and status == row[1]:
                return PutOutcome.DUPLICATE
            self._db.execute(
                "UPDATE tickets SET event = ?, status = ?, updated_at = ?"
                " WHERE source = ? AND ticket_id = ?",
                (_dumps(event_to_json(TicketEvent(ticket=merged))), status, _iso(at), *ticket.key),
            )
            return PutOutcome.UPDATED

    def get_ticket(self, source: str, ticket_id: str) -> TicketRecord | None:
        row = self._one(
            "SELECT event, status, received_at, updated_at FROM tickets"
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
        sql = "SELECT event, status, received_at, updated_at FROM tickets"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_ts, source, ticket_id"
        return [_ticket_record(r) for r in self._all(sql, params)]

    def ticket_count(self) -> int:
        return int(self._one("SELECT count(*) FROM tickets")[0])

    # -- inbox ----------
    def set_category(self, source: str, ticket_id: str, category: Category) -> None:
        with self.transaction():
            row = self._db.execute(
                "SELECT event FROM tickets WHERE source = ? AND ticket_id = ?",
                (source, ticket_id),
            ).fetchone()
            if row is None:
                return
            event = json.loads(row[0])
            event["category"] = category.value
            self._db.execute(
                "UPDATE tickets SET event = ? WHERE source = ? AND ticket_id = ?",
                (_dumps(event), source, ticket_id),
            )

    def enqueue(
        self, items: Sequence[tuple[TicketEvent, PutOutcome]], *, received_at: datetime
    ) -> int:
        with self.transaction():
            self._db.executemany(
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
            self._db.executemany("DELETE FROM inbox WHERE seq = ?", [(s,) for s in seqs])

    def pending_event_count(self) -> int:
        return int(self._one("SELECT count(*) FROM inbox")[0])

    # -- deliveries ----------
    def remember_delivery(
        self, source: str, delivery_id: str, *, at: datetime, ttl_seconds: float
    ) -> bool:
        now = at.timestamp()
        with self.transaction():
            self._db.execute("DELETE FROM deliveries WHERE expires_ts <= ?", (now,))
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO deliveries (source, delivery_id, expires_ts)"
                " VALUES (?, ?, ?)",
                (source, delivery_id, now + ttl_seconds),
            )
            return cursor.rowcount == 1

    # -- detector state ----------
    def load_state(self, customer_id: str) -> tuple[int, dict[str, Any]] | None:
        row = self._one(
            "SELECT version, state FROM customer_state WHERE customer_id = ?", (customer_id,)
        )
        return None if row is None else (int(row[0]), json.loads(row[1]))

    def state_version(self, customer_id: str) -> int:
        row = self._one("SELECT version FROM customer_state WHERE customer_id = ?", (customer_id,))
        return 0 if row is None else int(row[0])

    def save_state(self, customer_id: str, state: Mapping[str, Any], *, at: datetime) -> int:
        with self.transaction():
            version = self.state_version(customer_id) + 1
            self._db.execute(
                "INSERT INTO customer_state (customer_id, version, state, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (customer_id) DO UPDATE SET"
                " version = excluded.version, state = excluded.state,"
                " updated_at = excluded.updated_at",
                (customer_id, version, _dumps(state), _iso(at)),
            )
            return version

    def state_customers(self) -> list[str]:
        return [r[0] for r in self._all("SELECT customer_id FROM customer_state ORDER BY 1")]

    # -- episodes, transitions, plans ----------
    def record_transition(
        self, transition: Transition, plan: EscalationPlan | None, *, at: datetime
    ) -> bool:
        with self.transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO transitions (episode_id, kind, at, at_ts, customer_id,"
                " severity, suppressed, recorded_at, data) VALUES (?,?,?,?,?,?,?,?,?)",
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
            if cursor.rowcount != 1:
                return False
            self._record_episode(transition)
            if plan is not None:
                self._record_plan(plan, at=at)
            return True

    def _record_episode(self, transition: Transition) -> None:
        resolved = transition.kind is TransitionKind.RESOLVED
        old = self._db.execute(
            "SELECT status, severity FROM episodes WHERE episode_id = ?",
            (transition.episode_id,),
        ).fetchone()
        metadata = _dumps(transition.assessment.metadata())
        if old is None:
            self._db.execute(
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
            self._db.execute(
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
            self._db.execute(
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
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO plans (plan_id, episode_id, data, created_at)"
            " VALUES (?, ?, ?, ?)",
            (plan_id, plan.episode_id, _dumps(plan.to_json()), _iso(at)),
        )
        if cursor.rowcount != 1:
            return
        seq = int(cursor.lastrowid or 0)
        self._db.executemany(
            "INSERT OR IGNORE INTO actions (key, plan_id, episode_id, customer_id, seq, kind,"
            " step_id, status, attempts, depends_on, action, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,'pending',0,?,?,?,?)",
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

    # -- actions ----------
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
        with self.transaction():
            changed = self._db.execute(
                "UPDATE actions SET status = 'running', owner = ?, lease_until = ?,"
                " updated_at = ? WHERE key = ? AND status = 'pending'",
                (owner, lease_until, _iso(at), key),
            ).rowcount
            return self.action(key) if changed == 1 else None

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
            self._db.execute(
                "UPDATE actions SET attempts = attempts + 1, handler = ?, updated_at = ?"
                " WHERE key = ?",
                (handler, _iso(at), key),
            )
            number = int(
                self._db.execute("SELECT attempts FROM actions WHERE key = ?", (key,)).fetchone()[0]
            )
            self._db.execute(
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
            changed = self._db.execute(
                "UPDATE actions SET status = 'done', handler = ?, ref = ?, summary = ?,"
                " error = NULL, owner = NULL, lease_until = NULL, updated_at = ?"
                " WHERE key = ? AND status = 'running' AND owner = ?",
                (handler, _dumps(dict(ref)), summary, _iso(at), key, owner),
            ).rowcount
            if changed != 1:
                return False
            self._db.execute(
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
                return int(
                    self._db.execute(
                        "UPDATE actions SET status = 'pending', updated_at = ?"
                        " WHERE status = 'failed'",
                        (_iso(at),),
                    ).rowcount
                )
            total = 0
            for key in keys:
                total += int(
                    self._db.execute(
                        "UPDATE actions SET status = 'pending', updated_at = ?"
                        " WHERE status = 'failed' AND key = ?",
                        (_iso(at), key),
                    ).rowcount
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

    # -- outbox ----------
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

    # -- cursors ----------
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

    # -- unmatched ----------
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
        rows = self._all(sql + " ORDER BY rowid", params)
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


def _ticket_record(row: Sequence[Any]) -> TicketRecord:
    return TicketRecord(
        ticket=event_from_json(json.loads(row[0])).ticket,
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


_UNWRITABLE = frozenset(
    {getattr(sqlite3, name) for name in ("SQLITE_FULL", "SQLITE_IOERR") if hasattr(sqlite3, name)}
)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
