"""What only the SQLite file store does: schema versions, WAL, several processes, crashes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ticketspike.errors import StoreError
from ticketspike.store import SQLiteStore
from ticketspike.store.migrations import MIGRATIONS, SCHEMA_VERSION
from ticketspike.testing import sample_account, sample_plan, sample_transition, ticket_event

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


def test_new_file_gets_the_current_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "store.sqlite3"
    with SQLiteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        raw.close()
    assert {"tickets", "inbox", "transitions", "plans", "actions", "attempts", "outbox"} <= tables


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        store.put_ticket(ticket_event("T1", at=T0), at=T0)
    with SQLiteStore(path) as store:
        assert store.ticket_count() == 1
        assert store.schema_version == SCHEMA_VERSION


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="newer than this ticketspike understands"):
        SQLiteStore(path)


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a database\n" * 100)
    with pytest.raises(StoreError, match="not a usable ticketspike store"):
        SQLiteStore(path)


def test_a_missing_file_is_refused_when_not_creating(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at"):
        SQLiteStore(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_two_connections_record_a_transition_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    transition = sample_transition()
    plan = sample_plan(transition, sample_account())
    first, second = SQLiteStore(path), SQLiteStore(path)
    try:
        results: list[bool] = []
        barrier = threading.Barrier(2)

        def record(store: SQLiteStore) -> None:
            barrier.wait()
            results.append(store.record_transition(transition, plan, at=T0))

        threads = [threading.Thread(target=record, args=(s,)) for s in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False, True]
        assert len(first.actions()) == len(plan.actions)
        assert len(second.transitions()) == 1
    finally:
        first.close()
        second.close()


def test_a_process_killed_inside_a_transaction_leaves_no_trace(tmp_path: Path) -> None:
    """os._exit in the middle of a multi-row write: nothing of it survives."""
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    script = textwrap.dedent(f"""
        import os
        from datetime import datetime, timezone
        from ticketspike.store import SQLiteStore
        from ticketspike.testing import sample_account, sample_plan, sample_transition, ticket_event
        t0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
        store = SQLiteStore({str(path)!r})
        transition = sample_transition()
        with store.transaction():
            store.put_ticket(ticket_event("T1", at=t0), at=t0)
            store.record_transition(transition, sample_plan(transition, sample_account()), at=t0)
            os._exit(9)  # no rollback, no commit: the process is simply gone
    """)
    done = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert done.returncode == 9
    with SQLiteStore(path) as store:
        assert store.ticket_count() == 0
        assert store.transitions() == [] and store.actions() == []


def test_a_busy_store_waits_for_the_other_writer(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    holder, waiter = SQLiteStore(path), SQLiteStore(path, busy_timeout=5)
    try:
        entered = threading.Event()
        release = threading.Event()

        def hold() -> None:
            with holder.transaction():
                holder.put_ticket(ticket_event("T1", at=T0), at=T0)
                entered.set()
                release.wait(5)

        thread = threading.Thread(target=hold)
        thread.start()
        entered.wait(5)
        timer = threading.Timer(0.3, release.set)
        timer.start()
        waiter.put_ticket(ticket_event("T2", at=T0), at=T0)  # blocks until the holder commits
        thread.join()
        assert waiter.ticket_count() == 2
    finally:
        holder.close()
        waiter.close()
