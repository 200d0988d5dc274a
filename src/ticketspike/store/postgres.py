"""The shared store: PostgreSQL through psycopg 3 and its connection pool.

Several ``serve`` processes and workers on several hosts share one database with the same
guarantees the SQLite file gives on one host. The records and their rules are the portable
SQL of :mod:`ticketspike.store.sqlcore` and the role mixins (drafts, interactions...); this
module adds the plumbing and what sharing needs:

* **Its own schema** (default ``ticketspike``; ``?schema=NAME`` in the URL or ``store.schema``
  in the config), set as each pooled connection's ``search_path``, so the tables can live in
  an existing database (Supabase included) beside other applications' tables.
* **Migrations once**: the numbered files of :mod:`ticketspike.store.pg_migrations` are applied
  in one transaction under an advisory lock, so replicas starting together migrate once; a
  schema written by a newer ticketspike is refused with :class:`~ticketspike.errors.StoreError`.
* **Inbox claims**: :meth:`PostgresStore.pending_events` locks the customers of the oldest
  waiting events that nobody else holds (``pg_try_advisory_xact_lock``) and claims their
  events (``FOR UPDATE SKIP LOCKED``): detection for one customer runs in one replica at a
  time and in order, other replicas take other customers meanwhile, and a claim ends with its
  transaction (a dead replica's claims vanish with its connection).
* **Detector state guarded**: :meth:`PostgresStore.save_state` writes a customer's state only
  under that customer's lock and only if the stored version is still the one this transaction
  read; otherwise it writes nothing and returns 0, so the engine reloads the newer state
  instead of overwriting it.
* Actions are claimed with a lease by a conditional ``UPDATE`` (one winner under concurrency),
  transitions and delivery ids are unique keys: the same rules as SQLite, enforced by the
  server across processes.

A transaction holds one pooled connection for its thread; a statement outside a transaction
borrows one and commits at once. Nothing here reads the clock.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool, PoolTimeout

from ..errors import StoreError
from ..model import TicketEvent
from .base import PutOutcome
from .codec import event_from_json, event_to_json
from .dashboard_reads import SQLiteDashboardReads
from .drafts import SQLiteDrafts
from .incidents import SQLiteIncidents
from .interactions import SQLiteInteractions
from .outbound import SQLiteOutbound
from .parking import SQLiteParking
from .pg_migrations import MIGRATIONS, SCHEMA_VERSION
from .records import SQLiteRecords
from .source_health import SQLiteSourceHealth
from .sqlcore import SQLCore
from .ticket_heads import SQLiteTicketHeads
from .ticket_keys import SQLiteKnownTickets

__all__ = ["DEFAULT_SCHEMA", "PostgresStore"]

DEFAULT_SCHEMA = "ticketspike"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Advisory lock namespaces (the first key of the two-key form): migrations, customers.
_MIGRATE_LOCK = 0x74730001
_CUSTOMER_LOCK = 0x74730002
_T = TypeVar("_T")

try:  # pragma: no cover - exercised where the extra is installed
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None  # type: ignore[assignment]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _fast_loads(text: str) -> Any:
    """What this store wrote as JSON (so trusted: no depth or surrogate checks), read back
    with orjson where it is installed, for the reason :func:`_fast_dumps` gives. What orjson
    refuses (``NaN``, which the standard library writes and reads) the standard library reads.
    """
    if _orjson is not None:
        try:
            return _orjson.loads(text)
        except ValueError:  # orjson.JSONDecodeError
            pass
    return json.loads(text)


def _fast_dumps(value: Any) -> str:
    """:func:`_dumps` with orjson where it is installed (``ticketspike[fast]``).

    The processor encodes the states of every customer with an open episode once per batch,
    if only to see whether they changed, and a busy customer's state holds every ticket of
    its window: the standard library spends most of a batch's time on it, orjson a twentieth
    (the webhook writer encodes each queued event too). Both write the same compact,
    key-sorted JSON for what states and events hold (strings, integers, finite numbers,
    lists, objects), orjson leaving non-ASCII characters unescaped; what orjson refuses is
    encoded by the standard library.
    """
    if _orjson is not None:
        try:
            return _orjson.dumps(value, option=_orjson.OPT_SORT_KEYS).decode("utf-8")
        except TypeError:  # orjson.JSONEncodeError: an integer over 64 bits, a non-str key
            pass
    return _dumps(value)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


class _Local(threading.local):
    """Per thread: the connection of the open transaction, its depth, what it locked and
    read, and the inbox rows it has queued but not yet sent."""

    conn: Any = None
    depth: int = 0
    held: set[str]
    seen: dict[str, int]
    inbox: list[tuple[str, str, str, str]]

    def __init__(self) -> None:
        self.held = set()
        self.seen = {}
        self.inbox = []


class PostgresStore(
    SQLCore,
    SQLiteInteractions,
    SQLiteDrafts,
    SQLiteSourceHealth,
    SQLiteIncidents,
    SQLiteDashboardReads,
    SQLiteParking,
    SQLiteTicketHeads,
    SQLiteKnownTickets,
    SQLiteRecords,
    SQLiteOutbound,
):
    """A :class:`~ticketspike.store.base.Store` in a PostgreSQL schema, shared by replicas.

    :param url: ``postgresql://user[:password]@host[:port]/db[?schema=NAME]``; other query
        parameters are libpq's (``sslmode=require``...).
    :param schema: the schema to keep the tables in (overrides ``?schema=``; default
        ``ticketspike``).
    :param create: when False, a schema without a ticketspike store is a :class:`StoreError`.
    :param pool_size: connections this process keeps at most.
    :param timeout: seconds to wait for a connection (at start-up and from the pool).
    """

    _unmatched_order = "seq"
    _for_update = " FOR UPDATE"
    #: A transaction holds only the rows it writes: writers do not wait for each other's
    #: whole transactions (the background worker need not keep its batches small).
    concurrent_writers = True

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        create: bool = True,
        pool_size: int = 8,
        timeout: float = 10.0,
    ) -> None:
        conninfo, url_schema, shown = _split_url(url)
        self.schema = schema or url_schema or DEFAULT_SCHEMA
        if not _SCHEMA_NAME.match(self.schema):
            raise StoreError(
                f"store schema must be lower-case letters, digits and _ (at most 63), "
                f"not {self.schema!r}"
            )
        self._shown = f"{shown}?schema={self.schema}"
        self._local = _Local()
        # Role mixins written for SQLiteStore may guard in-process state with it.
        self._lock = threading.RLock()
        self._sql: dict[str, str] = {}
        self._closed = False
        self._prunes = 0  # deliveries since the last pruning of expired ids (mod 16)
        # customer -> (version, digest of the state at that version) as this process last
        # read or wrote it: an unchanged state is not written again.
        self._states: dict[str, tuple[int, bytes]] = {}
        search_path = pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(self.schema))

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.execute(search_path)

        self._pool: ConnectionPool[Any] = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True, "connect_timeout": max(1, int(timeout))},
            configure=configure,
            timeout=timeout,
            open=False,
            name=f"ticketspike-{self.schema}",
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except PoolTimeout:
            self._pool.close()
            raise StoreError(f"cannot connect to the store {self._shown}") from None
        try:
            self._migrate(create)
        except BaseException:
            self._pool.close()
            raise

    # -- plumbing ----------
    @property
    def location(self) -> str:
        """The URL without its password, with the schema."""
        return self._shown

    @property
    def schema_version(self) -> int:
        row = self._one("SELECT coalesce(max(version), 0) FROM schema_version")
        return int(row[0])

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self, create: bool) -> None:
        with self.transaction():
            self._exec("SELECT pg_advisory_xact_lock(?, hashtext(?))", (_MIGRATE_LOCK, self.schema))
            exists = self._one("SELECT 1 FROM pg_namespace WHERE nspname = ?", (self.schema,))
            if exists is None:
                if not create:
                    raise StoreError(f"no store at {self._shown}")
                self._conn().execute(
                    pgsql.SQL("CREATE SCHEMA {}").format(pgsql.Identifier(self.schema))
                )
            self._exec(
                "CREATE TABLE IF NOT EXISTS schema_version"
                " (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            current = self.schema_version
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"store {self._shown} has schema version {current}, newer than this "
                    f"ticketspike understands ({SCHEMA_VERSION}); upgrade ticketspike"
                )
            if current == 0 and not create and exists is None:
                raise StoreError(f"no store at {self._shown}")
            for number, script in MIGRATIONS:
                if number <= current:
                    continue
                self._conn().execute(script.encode("utf-8"))
                self._exec(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (number, _iso(datetime.now(timezone.utc))),
                )

    def _conn(self) -> Any:
        conn = self._local.conn
        if conn is None:
            raise StoreError("internal: no open transaction")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        local = self._local
        if local.depth:
            local.depth += 1
            try:
                yield
            finally:
                local.depth -= 1
            return
        try:
            with self._pool.connection() as conn:
                local.conn, local.depth = conn, 1
                try:
                    with conn.transaction():
                        yield
                        self._flush_inbox(conn)
                finally:
                    local.conn, local.depth = None, 0
                    local.held.clear()
                    local.seen.clear()
                    local.inbox.clear()
        except psycopg.Error as exc:
            raise self._failed(exc) from None
        except PoolTimeout:
            raise StoreError(f"store {self._shown} is busy: no free connection") from None

    def _failed(self, exc: BaseException) -> StoreError:
        text = _one_line(exc)
        if isinstance(
            exc,
            (
                psycopg.errors.DeadlockDetected,
                psycopg.errors.SerializationFailure,
                psycopg.errors.LockNotAvailable,
            ),
        ):
            return StoreError(f"store {self._shown} is busy: {text}")
        if isinstance(exc, psycopg.OperationalError):
            return StoreError(f"store {self._shown} cannot be reached: {text}")
        return StoreError(f"store {self._shown} is not usable: {text}")

    def _pg(self, sql: str) -> str:
        """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
        translated = self._sql.get(sql)
        if translated is None:
            translated = sql.replace("%", "%%").replace("?", "%s")
            self._sql[sql] = translated
        return translated

    def _run(self, work: Callable[[Any], _T], sql: str = "") -> _T:
        local = self._local
        conn = local.conn
        try:
            if conn is not None:
                if local.inbox and "inbox" in sql:
                    self._flush_inbox(conn)  # what this transaction queued reads back
                return work(conn)
            with self._pool.connection() as borrowed:
                return work(borrowed)
        except psycopg.Error as exc:
            raise self._failed(exc) from None
        except PoolTimeout:
            raise StoreError(f"store {self._shown} is busy: no free connection") from None

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._run(lambda c: c.execute(self._pg(sql), params).fetchone(), sql)

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._run(lambda c: c.execute(self._pg(sql), params).fetchall(), sql)

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._run(lambda c: int(c.execute(self._pg(sql), params).rowcount), sql)

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:

            def work(conn: Any) -> None:
                with conn.cursor() as cursor:
                    cursor.executemany(self._pg(sql), rows)

            self._run(work, sql)

    # -- inbox: claimed, one customer in one place at a time ----------
    def enqueue(
        self, items: Sequence[tuple[TicketEvent, PutOutcome]], *, received_at: datetime
    ) -> int:
        """Queue events; inside a transaction they are sent together when it commits (or
        before a statement of the same transaction reads the inbox): a group of webhooks
        costs one insert, not one per webhook."""
        rows = [
            (e.ticket.customer_id, _fast_dumps(event_to_json(e)), o.value, _iso(received_at))
            for e, o in items
        ]
        local = self._local
        if local.depth:
            local.inbox.extend(rows)
        elif rows:
            self._run(lambda conn: self._insert_inbox(conn, rows))
        return len(items)

    def _flush_inbox(self, conn: Any) -> None:
        rows = self._local.inbox
        if rows:
            self._insert_inbox(conn, rows)
            rows.clear()

    @staticmethod
    def _insert_inbox(conn: Any, rows: Sequence[tuple[str, str, str, str]]) -> None:
        # One statement whatever the number of rows (so it stays prepared), in their order.
        columns = list(zip(*rows, strict=True))
        conn.execute(
            "INSERT INTO inbox (customer_id, event, outcome, received_at)"
            " SELECT c, e, o, r FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[])"
            " WITH ORDINALITY AS t(c, e, o, r, n) ORDER BY n",
            [list(column) for column in columns],
        )

    def pending_events(self, *, limit: int = 500) -> list[tuple[int, TicketEvent, PutOutcome]]:
        """The oldest events of customers nobody else is detecting, all of theirs in order.

        The oldest events' customers are locked (``pg_try_advisory_xact_lock``), as many as
        it takes to fill ``limit``, skipping those another replica holds; then their events
        are claimed. Inside a transaction the claim lasts until it ends, so one customer's
        events are processed in one place, in order, while other replicas take other
        customers.
        """
        with self.transaction():
            scanned = [
                r[0]
                for r in self._all(
                    "SELECT customer_id FROM inbox ORDER BY seq LIMIT ?", (max(100, 4 * limit),)
                )
            ]
            waiting = Counter(scanned)
            order = list(waiting)  # first-seen order: the oldest event's customer first
            chosen: list[str] = []
            claimable = 0
            while order and claimable < limit:
                wanted: list[str] = []
                room = limit - claimable
                while order and room > 0:
                    wanted.append(order.pop(0))
                    room -= waiting[wanted[-1]]
                for customer in sorted(self._lock_customers(wanted)):
                    chosen.append(customer)
                    claimable += waiting[customer]
            if not chosen:
                return []
            rows = self._all(
                "SELECT seq, event, outcome FROM inbox WHERE customer_id = ANY(?)"
                " ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED",
                (chosen, limit),
            )
        return [
            (int(seq), event_from_json(_fast_loads(data)), PutOutcome(outcome))
            for seq, data, outcome in rows
        ]

    def mark_processed(self, seqs: Sequence[int]) -> None:
        if seqs:
            self._exec("DELETE FROM inbox WHERE seq = ANY(CAST(? AS BIGINT[]))", (list(seqs),))

    def _lock_customers(self, customers: Sequence[str]) -> set[str]:
        """The customers whose detection lock this transaction holds (taking those it can)."""
        local = self._local
        wanted = [c for c in customers if c not in local.held]
        if wanted:
            rows = self._all(
                "SELECT c, pg_try_advisory_xact_lock(?, hashtext(c))"
                " FROM unnest(CAST(? AS TEXT[])) AS c",
                (_CUSTOMER_LOCK, wanted),
            )
            for customer, ok in rows:
                if ok:
                    local.held.add(customer)
                    # A version read before the lock may be stale; the next read asks again.
                    local.seen.pop(customer, None)
        return {c for c in customers if c in local.held}

    # -- deliveries ----------
    def _prune_deliveries(self, now: float) -> None:
        """Expired ids, a batch every few deliveries, skipping rows another replica is
        pruning right now (a plain DELETE would make concurrent webhook transactions wait
        for each other). 256 rows every 16 deliveries keeps up with any arrival rate."""
        self._prunes = (self._prunes + 1) % 16
        if self._prunes != 1:
            return
        self._exec(
            "DELETE FROM deliveries WHERE ctid IN (SELECT ctid FROM deliveries"
            " WHERE expires_ts <= ? LIMIT 256 FOR UPDATE SKIP LOCKED)",
            (now,),
        )

    # -- detector state: reloaded by version, written only by the lock holder ----------
    def load_state(self, customer_id: str) -> tuple[int, dict[str, Any]] | None:
        row = self._one(
            "SELECT version, state FROM customer_state WHERE customer_id = ?", (customer_id,)
        )
        loaded = None if row is None else (int(row[0]), _fast_loads(row[1]))
        if loaded is not None:
            self._states[customer_id] = (loaded[0], _digest(row[1]))
        if self._local.depth:
            self._local.seen[customer_id] = 0 if loaded is None else loaded[0]
        return loaded

    def state_version(self, customer_id: str) -> int:
        local = self._local
        if local.depth and customer_id in local.held and customer_id in local.seen:
            # Read since this transaction took the customer's lock: nobody else can change it.
            return local.seen[customer_id]
        version = super().state_version(customer_id)
        if local.depth:
            local.seen[customer_id] = version
        return version

    def state_versions(self, customer_ids: Sequence[str]) -> dict[str, int]:
        local = self._local
        versions = {}
        wanted = []
        for customer in dict.fromkeys(customer_ids):
            if local.depth and customer in local.held and customer in local.seen:
                versions[customer] = local.seen[customer]
            else:
                versions[customer] = 0
                wanted.append(customer)
        if wanted:
            rows = self._all(
                "SELECT customer_id, version FROM customer_state"
                " WHERE customer_id = ANY(CAST(? AS TEXT[]))",
                (wanted,),
            )
            versions.update((r[0], int(r[1])) for r in rows)
            if local.depth:
                local.seen.update((c, versions[c]) for c in wanted)
        return versions

    def save_state(self, customer_id: str, state: Mapping[str, Any], *, at: datetime) -> int:
        """Save, returning the new version; 0, writing nothing, when another replica holds
        this customer or changed its state since this transaction read it (reload it).

        A state equal to the one this process last read or wrote is not written again: the
        version it had is returned (if the store has moved on since, the caller's next
        version check reloads it). So replicas do not rewrite, and make each other reload,
        the states of customers that only have an open episode."""
        local = self._local
        outer = local.depth > 0
        text = _fast_dumps(state)
        digest = _digest(text)
        known = self._states.get(customer_id)
        if known is not None and known[1] == digest and local.seen.get(customer_id) == known[0]:
            return known[0]
        with self.transaction():
            held = customer_id in local.held and customer_id in local.seen
            if not held:
                read = local.seen.get(customer_id, 0)
                if not self._lock_customers([customer_id]):
                    return 0
                current = super().state_version(customer_id)
                # Inside a caller's transaction the state must be the one it read (never
                # read: none may exist yet); a save of its own is a plain write under the lock.
                if outer and read != current:
                    return 0
            version = self._write_state(customer_id, text, at=at)
            local.seen[customer_id] = version
            self._states[customer_id] = (version, digest)
            return version


def _split_url(url: str) -> tuple[str, str | None, str]:
    """``(conninfo for libpq, schema from ?schema=, the URL for people without password)``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = [(k, v) for k, v in query if k != "schema"]
    conninfo = urlunsplit(parts._replace(query=urlencode(rest)))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{parts.username}@" if parts.username else "") + host
    if parts.port:
        netloc += f":{parts.port}"
    shown = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return conninfo, schema, shown
