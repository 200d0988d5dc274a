"""One update-merge rule: the store's ticket and the detector's view of it agree.

The store (every implementation) and the detector apply :func:`ticketspike.model.merge_update`,
so whatever order created and updated events arrive in, the category and priority a spike's
breakdown reports are the ones the store holds.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta, timezone

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketspike.model import (
    Category,
    EventKind,
    Priority,
    Ticket,
    TicketEvent,
    TicketFields,
    event_row,
    merge_update,
    ticket_fields,
)
from ticketspike.monitor import SpikeMonitor
from ticketspike.store.base import PutOutcome, Store
from ticketspike.testing import FixedClock, memory_engine

UTC = timezone.utc
START = datetime(2026, 3, 2, 9, tzinfo=UTC)
GIVEN = [Category.TECHNICAL, Category.BILLING, Category.TRAINING, Category.FEATURE_REQUEST]
SUBJECTS = ["invoice charged twice", "API returns 502", "how do I export", "please add SSO"]
_serial = itertools.count()


@st.composite
def histories(draw: st.DrawFn) -> list[TicketEvent]:
    """A few tickets of one customer, each created once and updated a few times (some
    updates without a category, a URL or a time of their own), some events delivered twice,
    all in a shuffled arrival order within a few hours."""
    customer = f"c{next(_serial)}"
    events: list[TicketEvent] = []
    for n in range(draw(st.integers(1, 4))):
        created = START + timedelta(minutes=draw(st.integers(0, 120)))
        given = draw(st.booleans())
        base = Ticket(
            ticket_id=f"{customer}-T{n}",  # ticket keys are global to a store
            customer_id=customer,
            created_at=created,
            category=draw(st.sampled_from(GIVEN)) if given else Category.OTHER,
            category_given=given,
            priority=draw(st.sampled_from(Priority)),
            subject=draw(st.sampled_from(SUBJECTS)),
            url=draw(st.sampled_from([None, f"https://desk.example/{n}"])),
        )
        events.append(TicketEvent(ticket=base))
        for _ in range(draw(st.integers(0, 4))):
            gives = draw(st.booleans())
            minutes = draw(st.one_of(st.none(), st.integers(0, 180)))
            update = attrs.evolve(
                base,
                category=draw(st.sampled_from(GIVEN)) if gives else Category.OTHER,
                category_given=gives,
                priority=draw(st.sampled_from(Priority)),
                url=draw(st.sampled_from([None, f"https://desk.example/{n}/moved"])),
            )
            events.append(
                TicketEvent(
                    ticket=update,
                    kind=EventKind.UPDATED,
                    occurred_at=None if minutes is None else created + timedelta(minutes=minutes),
                )
            )
    events += draw(st.lists(st.sampled_from(events), max_size=3))  # redeliveries
    return list(draw(st.permutations(events)))


def detector_view(monitor: SpikeMonitor, customer: str) -> dict[str, tuple[Category, Priority]]:
    """The category and priority of each ticket in the customer's window, as the detector
    holds them (what an assessment's breakdowns count)."""
    w = monitor.detector.customers[customer]
    return {tid: (cat, prio) for tid, _ts, cat, prio, _url in monitor.detector.window_tickets(w)}


def store_view(store: Store, events: list[TicketEvent]) -> dict[str, tuple[Category, Priority]]:
    out = {}
    for tid in {e.ticket.ticket_id for e in events}:
        record = store.get_ticket("api", tid)
        assert record is not None
        out[tid] = (record.ticket.category, record.ticket.priority)
    return out


@settings(max_examples=60, deadline=None)
@given(events=histories(), batch=st.integers(1, 3))
def test_the_engine_store_and_its_detector_agree_in_any_arrival_order(
    events: list[TicketEvent], batch: int
) -> None:
    """Ingested in batches of ``batch`` events (the detector is fed after its batch is
    stored, so within one batch it reads the final stored fields whatever the rule)."""
    customer = events[0].ticket.customer_id
    last = max(e.at for e in events)
    engine = memory_engine(clock=FixedClock(last + timedelta(minutes=1)), execute=False)
    with engine:
        for n in range(0, len(events), batch):
            engine.ingest_many(events[n : n + batch])
        held = store_view(engine.store, events)
        assert detector_view(engine.monitor, customer) == held
        # ... and so the breakdowns a spike signal reports count the stored tickets.
        assessment = engine.check(customer, at=last + timedelta(minutes=1))
        assert dict(assessment.category_breakdown) == Counter(c for c, _ in held.values())
        assert dict(assessment.severity_breakdown) == Counter(p for _, p in held.values())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=histories())
def test_every_store_merges_as_the_detector_does(
    any_store: Store, events: list[TicketEvent]
) -> None:
    """Each store on its own and a detector on its own, fed the same arrival order, hold the
    same fields: the rule is one function, not two that happen to agree."""
    monitor = SpikeMonitor()
    for event in events:
        any_store.put_ticket(event, at=START)
        monitor.ingest(event)
    customer = events[0].ticket.customer_id
    assert detector_view(monitor, customer) == store_view(any_store, events)


def test_a_late_old_update_changes_neither_store_nor_detector(any_store: Store) -> None:
    created = Ticket("T1", "acme", created_at=START, priority=Priority.P3, category_given=True)
    newer = TicketEvent(
        ticket=attrs.evolve(created, priority=Priority.P1),
        kind=EventKind.UPDATED,
        occurred_at=START + timedelta(hours=2),
    )
    older = TicketEvent(
        ticket=attrs.evolve(created, priority=Priority.P2, category=Category.BILLING),
        kind=EventKind.UPDATED,
        occurred_at=START + timedelta(hours=1),
    )
    monitor = SpikeMonitor()
    outcomes = []
    for event in (TicketEvent(ticket=created), newer, older):
        outcomes.append(any_store.put_ticket(event, at=START))
        monitor.ingest(event)
    assert outcomes == [PutOutcome.NEW, PutOutcome.UPDATED, PutOutcome.DUPLICATE]
    record = any_store.get_ticket("api", "T1")
    assert record is not None
    assert (record.ticket.priority, record.ticket.category) == (Priority.P1, Category.OTHER)
    assert detector_view(monitor, "acme") == {"T1": (Category.OTHER, Priority.P1)}


def test_an_update_with_no_news_moves_the_time_it_is_judged_by(any_store: Store) -> None:
    """A newer update with the fields already held changes nothing (a duplicate) but is
    kept, so an older one arriving after it stays stale."""
    created = Ticket("T1", "acme", created_at=START, priority=Priority.P2)

    def update(priority: Priority, hours: int) -> TicketEvent:
        return TicketEvent(
            ticket=attrs.evolve(created, priority=priority),
            kind=EventKind.UPDATED,
            occurred_at=START + timedelta(hours=hours),
        )

    assert any_store.put_ticket(TicketEvent(ticket=created), at=START) is PutOutcome.NEW
    assert any_store.put_ticket(update(Priority.P2, 3), at=START) is PutOutcome.DUPLICATE
    assert any_store.put_ticket(update(Priority.P1, 2), at=START) is PutOutcome.DUPLICATE
    assert any_store.put_ticket(update(Priority.P4, 4), at=START) is PutOutcome.UPDATED
    record = any_store.get_ticket("api", "T1")
    assert record is not None and record.ticket.priority is Priority.P4


def test_an_update_keeps_the_url_unless_it_brings_one(any_store: Store) -> None:
    created = Ticket("T1", "acme", created_at=START, url="https://desk.example/1")
    bare = attrs.evolve(created, url=None, priority=Priority.P1)
    moved = attrs.evolve(created, url="https://desk.example/moved")
    for n, ticket in enumerate([created, bare, moved]):
        kind = EventKind.CREATED if n == 0 else EventKind.UPDATED
        at = START + timedelta(minutes=n)
        any_store.put_ticket(TicketEvent(ticket=ticket, kind=kind, occurred_at=at), at=START)
        record = any_store.get_ticket("api", "T1")
        assert record is not None
        assert record.ticket.url == (moved.url if n == 2 else created.url)


def test_the_rule_itself() -> None:
    held = TicketFields(Category.BILLING, Priority.P3, "https://a", START.timestamp())
    ticket = Ticket("T1", "acme", created_at=START, priority=Priority.P1, category_given=False)

    def row(kind: EventKind, minutes: int, t: Ticket = ticket) -> TicketEvent:
        return TicketEvent(ticket=t, kind=kind, occurred_at=START + timedelta(minutes=minutes))

    at = (START + timedelta(minutes=5)).timestamp()
    # A bare update: the priority changes, the category and the URL stay.
    assert merge_update(held, event_row(row(EventKind.UPDATED, 5))) == TicketFields(
        Category.BILLING, Priority.P1, "https://a", at
    )
    # Only updates merge; an older one than the last applied is stale.
    assert merge_update(held, event_row(row(EventKind.CREATED, 5))) is None
    assert merge_update(held, event_row(row(EventKind.RESOLVED, 5))) is None
    assert merge_update(held, event_row(row(EventKind.UPDATED, -1))) is None
    # A category the source gave replaces the held one.
    billing = attrs.evolve(ticket, category=Category.TRAINING, category_given=True)
    merged = merge_update(held, event_row(row(EventKind.UPDATED, 0, billing)))
    assert merged is not None and merged.category is Category.TRAINING
    # A created event's fields are as of its creation, an update's as of its time.
    assert ticket_fields(row(EventKind.CREATED, 30)).as_of == START.timestamp()
    assert ticket_fields(row(EventKind.UPDATED, 30)).as_of == at + 25 * 60
