"""Records kept aside without a customer: the store contract on every store, and the engine."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ticketspike import Plugins, TicketEvent, Unmatched, WebhookResult, hookimpl
from ticketspike.engine import Engine
from ticketspike.store import SQLiteStore, Store
from ticketspike.testing import ticket_event

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every store kind in turn (``any_store`` in tests/conftest.py)."""
    return any_store


def aside(record_id: str, reason: str = "no company", **payload: Any) -> Unmatched:
    return Unmatched("vendor", record_id, reason, payload or {"id": record_id})


def test_kept_records_are_listed_oldest_first_with_payload_and_reason(store: Store) -> None:
    store.put_unmatched(aside("b", contact="c1"), at=T0)
    store.put_unmatched(aside("a"), at=T0 + timedelta(minutes=1))
    store.put_unmatched(Unmatched("other", "a", "no org"), at=T0 + timedelta(minutes=2))
    records = store.unmatched()
    assert [(r.source, r.record_id) for r in records] == [
        ("vendor", "b"),
        ("vendor", "a"),
        ("other", "a"),
    ]
    assert records[0].payload == {"contact": "c1"} and records[0].reason == "no company"
    assert [r.record_id for r in store.unmatched(source="other")] == ["a"]
    assert records[0].to_json()["first_seen"] == T0.isoformat()


def test_seen_again_refreshes_reason_and_counts_attempts_keeping_first_seen(store: Store) -> None:
    store.put_unmatched(aside("x", "lookup failed (HTTP 503)"), at=T0)
    store.put_unmatched(aside("x", "belongs to no company"), at=T0 + timedelta(hours=1))
    (record,) = store.unmatched()
    assert record.reason == "belongs to no company" and record.attempts == 2
    assert record.first_seen == T0 and record.last_seen == T0 + timedelta(hours=1)


def test_drop_forgets_one_record(store: Store) -> None:
    store.put_unmatched(aside("x"), at=T0)
    store.put_unmatched(aside("y"), at=T0)
    assert store.drop_unmatched("vendor", "x") is True
    assert store.drop_unmatched("vendor", "x") is False
    assert [r.record_id for r in store.unmatched()] == ["y"]


def test_a_failed_transaction_keeps_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.put_unmatched(aside("x"), at=T0)
        raise RuntimeError("crash between the two writes")
    assert store.unmatched() == []


def test_sqlite_keeps_records_across_reopening(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as first:
        first.put_unmatched(aside("x", contact="c\n1"), at=T0)
    with SQLiteStore(tmp_path / "s.db", create=False) as again:
        (record,) = again.unmatched()
        assert record.payload == {"contact": "c\n1"}


class KnowsLater:
    """A source whose records find their customer once ``known`` names it."""

    name = "vendor"

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookResult:
        record_id = body.decode()
        mapped = self.resolve_unmatched({"id": record_id})
        if isinstance(mapped, Unmatched):
            return WebhookResult(delivery_id=record_id, ignored=mapped.reason, unmatched=(mapped,))
        return WebhookResult(events=mapped, delivery_id=record_id)

    def backfill(self, *, since: datetime, cursor: str | None = None) -> Iterator[Any]:
        return iter(())

    def resolve_unmatched(self, payload: Mapping[str, Any]) -> tuple[TicketEvent, ...] | Unmatched:
        record_id = str(payload["id"])
        customer = self.known.get(record_id)
        if customer is None:
            return Unmatched(self.name, record_id, "no customer: unknown contact", payload)
        return (ticket_event(record_id, customer, at=T0, source=self.name),)

    @hookimpl
    def register_ticket_sources(self, register: Any) -> None:
        register(self)


def test_engine_keeps_webhook_records_aside_and_counts_them_on_re_resolve(store: Store) -> None:
    source = KnowsLater()
    engine = Engine(
        store=store, plugins=Plugins(load_entrypoints=False, plugins=[source]), execute=False
    )
    result = engine.ingest_webhook("vendor", b"T9", {}, now=T0)
    assert result.unmatched == 1 and result.stored == 0 and store.ticket_count() == 0
    assert result.to_json()["unmatched"] == 1

    report = engine.re_resolve(now=T0)
    assert (report.tried, report.resolved, report.still_unmatched) == (1, 0, 1)
    assert store.unmatched()[0].attempts == 2

    source.known["T9"] = "acme"
    report = engine.re_resolve(now=T0)
    assert (report.tried, report.resolved, report.still_unmatched) == (1, 1, 0)
    record = store.get_ticket("vendor", "T9")
    assert record is not None and record.ticket.customer_id == "acme"
    # Resolving again finds nothing left to do.
    assert engine.re_resolve(now=T0).tried == 0


def test_records_of_a_source_not_configured_stay_and_are_named(store: Store) -> None:
    store.put_unmatched(Unmatched("gone", "x", "no customer"), at=T0)
    engine = Engine(store=store, plugins=Plugins(load_entrypoints=False), execute=False)
    report = engine.re_resolve(now=T0)
    assert report.skipped_sources == ("gone",) and report.still_unmatched == 1
