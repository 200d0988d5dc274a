"""What only the PostgreSQL store does: its schema, migrations once, and sharing work safely.

Against the real server (``TICKETSPIKE_TEST_POSTGRES_URL``); each test has its own schema.
The store contract itself runs here too, through ``any_store``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest

from ticketspike.cli import main
from ticketspike.engine import Engine
from ticketspike.errors import StoreError
from ticketspike.store import PutOutcome, open_store
from ticketspike.store.pg_migrations import MIGRATIONS, SCHEMA_VERSION
from ticketspike.store.postgres import PostgresStore
from ticketspike.testing import sample_account, sample_plan, sample_transition, ticket_event

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def store(url: str) -> Iterator[PostgresStore]:
    with PostgresStore(url) as made:
        yield made


def _tables(url: str, schema: str) -> set[str]:
    base = url.split("?")[0]
    with psycopg.connect(base) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    return {r[0] for r in rows}


def test_a_new_schema_gets_every_migration_and_its_own_tables(store: PostgresStore) -> None:
    assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    tables = _tables(store.location, store.schema)
    assert {"tickets", "inbox", "transitions", "actions", "outbox", "drafts"} <= tables
    assert store.schema.startswith("t_")


def test_reopening_keeps_data_and_migrates_nothing(url: str) -> None:
    with PostgresStore(url) as store:
        store.put_ticket(ticket_event("T1", at=T0), at=T0)
    with PostgresStore(url) as store:
        assert store.ticket_count() == 1
        assert store.schema_version == SCHEMA_VERSION


def test_replicas_starting_together_migrate_once(url: str) -> None:
    opened: list[PostgresStore] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(PostgresStore(url, pool_size=1))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        rows = opened[0]._all("SELECT version FROM schema_version ORDER BY version")
        assert [r[0] for r in rows] == [n for n, _ in MIGRATIONS]
    finally:
        for s in opened:
            s.close()


def test_a_schema_from_a_newer_version_is_refused(store: PostgresStore, url: str) -> None:
    store._exec("INSERT INTO schema_version (version, applied_at) VALUES (?, '')", (999,))
    with pytest.raises(StoreError, match="newer than this ticketspike"):
        PostgresStore(url)


def test_a_missing_schema_is_refused_when_not_creating(url: str) -> None:
    with pytest.raises(StoreError, match="no store at"):
        PostgresStore(url, create=False)


def test_the_location_names_the_schema_and_never_the_password(postgres_url: str) -> None:
    host = postgres_url.split("@", 1)[1].split("/", 1)[0]
    secret_url = postgres_url.replace("postgres@", "postgres:hunter2@", 1)
    schema = postgres_url.rsplit("schema=", 1)[1]
    with PostgresStore(secret_url) as store:
        assert "hunter2" not in store.location
        assert store.location.endswith(f"?schema={schema}")
        assert host in store.location


def test_a_bad_schema_name_is_refused_before_connecting() -> None:
    with pytest.raises(StoreError, match="schema must be"):
        PostgresStore("postgresql://nobody@127.0.0.1:1/x?schema=Robert'); DROP")


def test_an_unreachable_server_is_one_line_error() -> None:
    with pytest.raises(StoreError, match="cannot connect") as caught:
        PostgresStore("postgresql://nobody:pw@127.0.0.1:1/x", timeout=1)
    assert "\n" not in str(caught.value) and "pw" not in str(caught.value)


def test_open_store_chooses_by_location(url: str, tmp_path: Path) -> None:
    made = open_store(url)
    try:
        assert isinstance(made, PostgresStore)
    finally:
        made.close()
    sqlite = open_store(tmp_path / "s.db")
    try:
        assert type(sqlite).__name__ == "SQLiteStore"
    finally:
        sqlite.close()


def test_two_replicas_claim_different_inbox_events(store: PostgresStore, url: str) -> None:
    items = [
        (ticket_event(f"T{i}", at=T0, customer_id=f"c{i % 4}"), PutOutcome.NEW) for i in range(8)
    ]
    store.enqueue(items, received_at=T0)
    inside = threading.Event()
    release = threading.Event()
    first: list[int] = []

    def claim_and_hold() -> None:
        with store.transaction():
            first.extend(seq for seq, _e, _o in store.pending_events(limit=4))
            inside.set()
            release.wait(10)
            store.mark_processed(first)

    holder = threading.Thread(target=claim_and_hold)
    holder.start()
    assert inside.wait(10)
    with PostgresStore(url) as other:
        with other.transaction():
            second = other.pending_events(limit=100)
        customers_first = {f"c{(s - 1) % 4}" for s in first}
        # No event twice, and none of a customer the first replica is detecting.
        assert not {s for s, _e, _o in second} & set(first)
        assert not {e.ticket.customer_id for _s, e, _o in second} & customers_first
    release.set()
    holder.join()
    assert store.pending_event_count() == 4


def test_a_state_changed_elsewhere_is_not_overwritten(store: PostgresStore, url: str) -> None:
    store.save_state("acme", {"n": 1}, at=T0)
    with PostgresStore(url) as other:
        with store.transaction():
            assert store.state_version("acme") == 1
            other.save_state("acme", {"n": 2}, at=T0)  # another replica, committed
            assert store.save_state("acme", {"n": "stale"}, at=T0) == 0
        assert other.load_state("acme") == (2, {"n": 2})


def test_an_unchanged_state_is_not_written_again(store: PostgresStore, url: str) -> None:
    store.save_state("acme", {"n": 1}, at=T0)
    with store.transaction():
        assert store.state_versions(["acme"]) == {"acme": 1}
        assert store.save_state("acme", {"n": 1}, at=T0) == 1  # nothing to write
    with PostgresStore(url) as other:
        with store.transaction():
            assert store.state_versions(["acme"]) == {"acme": 1}
            other.save_state("acme", {"n": 2}, at=T0)  # another replica, committed
            # Unchanged here: nothing written, so the newer state is not overwritten...
            assert store.save_state("acme", {"n": 1}, at=T0) == 1
        # ... and the next check sees it.
        assert store.state_version("acme") == 2
        assert store.load_state("acme") == (2, {"n": 2})
        with store.transaction():
            assert store.state_version("acme") == 2
            assert store.save_state("acme", {"n": 3}, at=T0) == 3
        assert other.load_state("acme") == (3, {"n": 3})


def test_a_transactions_inbox_rows_are_sent_together_in_order(store: PostgresStore) -> None:
    events = [ticket_event(f"T{n}", f"c{n % 3}", at=T0) for n in range(7)]
    with store.transaction():
        for event in events:
            store.enqueue([(event, PutOutcome.NEW)], received_at=T0)
        assert store.pending_event_count() == 7  # what it queued reads back
        store.enqueue([(ticket_event("T7", at=T0), PutOutcome.UPDATED)], received_at=T0)
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.enqueue([(ticket_event("T8", at=T0), PutOutcome.NEW)], received_at=T0)
            raise RuntimeError("rolled back")
    pending = store.pending_events(limit=100)
    assert [e.ticket.ticket_id for _s, e, _o in pending] == [f"T{n}" for n in range(8)]
    assert [o for _s, _e, o in pending][-2:] == [PutOutcome.NEW, PutOutcome.UPDATED]
    store.enqueue([(ticket_event("T9", at=T0), PutOutcome.NEW)], received_at=T0)
    assert store.pending_event_count() == 9


def test_two_replicas_record_a_transition_once(store: PostgresStore, url: str) -> None:
    transition = sample_transition()
    plan = sample_plan(transition, sample_account())
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def record() -> None:
        with PostgresStore(url, pool_size=1) as mine:
            barrier.wait(10)
            results.append(mine.record_transition(transition, plan, at=T0))

    threads = [threading.Thread(target=record) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert len(store.actions()) == len(plan.actions)


def test_the_engine_and_the_commands_take_a_url(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ticketspike.yaml"
    config.write_text(f"store:\n  url: {url.split('?')[0]}\n  schema: {url.rsplit('=', 1)[1]}\n")
    with Engine.from_config(config) as engine:
        engine.ingest(ticket_event("T1", at=T0))
        assert isinstance(engine.store, PostgresStore)
    assert main(["tickets", "--store", url, "--format", "json"]) == 0
    assert '"T1"' in capsys.readouterr().out


def test_the_store_may_come_from_the_environment(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with PostgresStore(url) as store:
        store.put_ticket(ticket_event("T9", at=T0), at=T0)
    monkeypatch.setenv("TICKETSPIKE_STORE", url)
    assert main(["tickets", "--format", "json"]) == 0
    assert '"T9"' in capsys.readouterr().out


def test_expired_delivery_ids_are_pruned_as_new_ones_arrive(store: PostgresStore) -> None:
    for n in range(10):
        assert store.remember_delivery("ticket", f"d{n}", at=T0, ttl_seconds=60)
    later = T0.replace(hour=13)
    for n in range(16):  # pruning runs every 16 deliveries
        assert store.remember_delivery("ticket", f"fresh{n}", at=later, ttl_seconds=60)
    assert store._one("SELECT count(*) FROM deliveries")[0] == 16


@pytest.mark.parametrize("required", ["", "1"])
def test_without_a_server_the_tests_skip_with_one_reason_or_fail_in_ci(required: str) -> None:
    env = {
        **os.environ,
        "TICKETSPIKE_TEST_POSTGRES_URL": "postgresql://nobody@127.0.0.1:1/none",
        "TICKETSPIKE_REQUIRE_POSTGRES": required,
    }
    test = f"{Path(__file__).as_posix()}::test_open_store_chooses_by_location"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rsf", test],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )
    reason = "no PostgreSQL server answers at postgresql://nobody@127.0.0.1:1/none"
    assert reason in done.stdout
    assert ("1 failed" if required else "1 skipped") in done.stdout
