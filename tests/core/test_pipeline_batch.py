"""The ingest pipeline's batch: what it reads once, and a new ticket written once."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from ticketspike.model import Account, Category, EventKind, Ticket, TicketEvent
from ticketspike.signals import Classification
from ticketspike.store import MemoryStore, SQLiteStore
from ticketspike.store.base import PutOutcome, Store
from ticketspike.store.ticket_keys import known_tickets
from ticketspike.testing import (
    DEFAULT_TIME,
    FakeAccounts,
    StaticPlugin,
    memory_engine,
    sample_account,
    ticket_event,
)

START = DEFAULT_TIME - timedelta(days=2)


def test_known_tickets_names_the_stored_ones_of_many(any_store: Store) -> None:
    with any_store.transaction():
        for n in range(450):  # more ids than one query takes
            any_store.put_ticket(ticket_event(f"T{n}", "acme", START), at=START)
        any_store.put_ticket(ticket_event("Z1", "acme", START, source="zendesk"), at=START)
        keys = [("api", f"T{n}") for n in range(0, 500, 7)]
        keys += [("zendesk", "Z1"), ("zendesk", "T1"), ("api", "Z1"), ("api", "T0")]
        expected = {("api", f"T{n}") for n in range(0, 450, 7)} | {("zendesk", "Z1")}
        assert known_tickets(any_store, keys) == expected
    assert known_tickets(any_store, []) == set()


def test_a_store_without_the_role_is_asked_ticket_by_ticket() -> None:
    class Plain:
        def __init__(self) -> None:
            self.inner = MemoryStore()

        def get_ticket(self, source: str, ticket_id: str) -> Any:
            return self.inner.get_ticket(source, ticket_id)

    plain = Plain()
    plain.inner.put_ticket(ticket_event("T1", "acme", START), at=START)
    found = known_tickets(plain, [("api", "T1"), ("api", "T2")])  # type: ignore[arg-type]
    assert found == {("api", "T1")}


@attrs.define
class CountingClassifier:
    """Says billing for every ticket, and keeps the ids it was asked about."""

    asked: list[str] = attrs.field(factory=list)
    name: str = "counting"

    def classify(self, ticket: Ticket) -> Classification | None:
        self.asked.append(ticket.ticket_id)
        return Classification(category=Category.BILLING, confidence=0.99)


class CountingStore(SQLiteStore):
    """An SQLite store that counts the calls a batch should make once, or not at all."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def set_category(self, source: str, ticket_id: str, category: Category) -> None:
        self._count("set_category")
        super().set_category(source, ticket_id, category)

    def state_version(self, customer_id: str) -> int:
        self._count("state_version")
        return super().state_version(customer_id)

    def state_versions(self, customer_ids: Any) -> dict[str, int]:
        self._count("state_versions")
        return super().state_versions(customer_ids)


def unclassified(ticket_id: str, customer: str, at: datetime) -> TicketEvent:
    return ticket_event(ticket_id, customer, at, category="other", subject="Charged twice")


def test_a_new_ticket_is_classified_before_it_is_stored_once(tmp_path: Path) -> None:
    classifier = CountingClassifier()
    store = CountingStore(tmp_path / "t.db")
    engine = memory_engine(StaticPlugin(classifiers=[classifier]), store=store, execute=False)
    events = [unclassified("T1", "acme", START), unclassified("T2", "acme", START)]
    # An update of T1 in the same batch keeps T1's class and is not classified itself.
    update = attrs.evolve(
        events[0], kind=EventKind.UPDATED, occurred_at=START + timedelta(minutes=5)
    )
    result = engine.ingest_many([*events, update])
    assert (result.stored, result.duplicates) == (2, 1)
    for ticket_id in ("T1", "T2"):
        record = store.get_ticket("api", ticket_id)
        assert record is not None and record.ticket.category is Category.BILLING
        assert not record.ticket.category_given  # a better classifier may refine it later
    assert classifier.asked == ["T1", "T2"]
    assert "set_category" not in store.calls  # written once, with its class
    # A redelivery is neither classified again nor written.
    again = engine.ingest_many(events)
    assert again.duplicates == 2
    assert classifier.asked == ["T1", "T2"]
    assert "set_category" not in store.calls


def test_the_inbox_still_classifies_what_webhooks_stored(tmp_path: Path) -> None:
    # A web request does not wait for a classifier: the inbox classifies when it runs.
    classifier = CountingClassifier()
    store = CountingStore(tmp_path / "t.db")
    engine = memory_engine(StaticPlugin(classifiers=[classifier]), store=store, execute=False)
    event = unclassified("W1", "acme", START)
    with store.transaction():
        store.put_ticket(event, at=START)
        store.enqueue([(event, PutOutcome.NEW)], received_at=START)
    assert classifier.asked == []
    engine.process_pending()
    record = store.get_ticket("api", "W1")
    assert record is not None and record.ticket.category is Category.BILLING
    assert classifier.asked == ["W1"] and store.calls.get("set_category") == 1


@attrs.define
class CountingAccounts:
    """An account directory that counts what it is asked."""

    inner: FakeAccounts
    asked: list[str] = attrs.field(factory=list)
    name: str = "counting-accounts"

    def get_account(self, customer_id: str) -> Account | None:
        self.asked.append(customer_id)
        return self.inner.get_account(customer_id)


def test_a_batch_reads_state_versions_and_accounts_once(tmp_path: Path) -> None:
    directory = CountingAccounts(FakeAccounts([sample_account("acme"), sample_account("globex")]))
    store = CountingStore(tmp_path / "t.db")
    engine = memory_engine(StaticPlugin(directories=[directory]), store=store, execute=False)
    events = [
        ticket_event(f"{customer}-{n}", customer, START + timedelta(minutes=n))
        for n in range(60)
        for customer in ("acme", "globex")
    ]
    engine.ingest_many(events)  # one batch (fewer events than a batch holds)
    assert sorted(directory.asked) == ["acme", "globex"]
    assert "state_version" not in store.calls  # no version read per event
    # One query for the batch's customers (no saved state to warm up from yet).
    assert store.calls.get("state_versions") == 1
    # The next batch asks again: a CRM change shows in the next batch.
    engine.ingest(ticket_event("acme-late", "acme", START + timedelta(hours=2)))
    assert sorted(directory.asked) == ["acme", "acme", "globex"]
