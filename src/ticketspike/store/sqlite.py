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

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tenacity

from ..errors import StoreError
from .dashboard_reads import SQLiteDashboardReads
from .drafts import SQLiteDrafts
from .incidents import SQLiteIncidents
from .interactions import SQLiteInteractions
from .migrations import MIGRATIONS, SCHEMA_VERSION
from .outbound import SQLiteOutbound
from .parking import SQLiteParking
from .records import SQLiteRecords
from .source_health import SQLiteSourceHealth
from .sqlcore import SQLCore
from .ticket_heads import SQLiteTicketHeads
from .ticket_keys import SQLiteKnownTickets

__all__ = ["SQLiteStore"]


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


class SQLiteStore(
    SQLCore,
    SQLiteInteractions,
    SQLiteDrafts,
    SQLiteSourceHealth,
    SQLiteIncidents,
    SQLiteRecords,
    SQLiteOutbound,
    SQLiteDashboardReads,
    SQLiteParking,
    SQLiteTicketHeads,
    SQLiteKnownTickets,
):
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

    _unmatched_order = "rowid"

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

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.transaction():
            self._db.executemany(sql, rows)


_UNWRITABLE = frozenset(
    {getattr(sqlite3, name) for name in ("SQLITE_FULL", "SQLITE_IOERR") if hasattr(sqlite3, name)}
)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
