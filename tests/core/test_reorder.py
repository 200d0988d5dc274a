"""The one reorder buffer: what ``replay``, ``scan`` and ``run`` release, and when."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from ticketspike.cli.engine_cmds import time_ordered as events_in_order
from ticketspike.detect.policy import DetectionPolicy
from ticketspike.model import EventKind, Ticket, TicketEvent, event_order, event_row, row_order
from ticketspike.monitor import SpikeMonitor, replay_rows
from ticketspike.reorder import time_ordered

UTC = timezone.utc
START = datetime(2026, 1, 5, tzinfo=UTC)
Item = tuple[float, int, str]  # (time, kind, id): the key is the whole item


def one_heap(items: Iterable[Item], lateness: float) -> Iterator[Item]:
    """The rule written the slow, obvious way: every item in one heap, released once it is
    at least ``lateness`` older than the newest seen, in key order, ties by arrival."""
    heap: list[tuple[Item, int]] = []
    newest = float("-inf")
    for seq, item in enumerate(items):
        heapq.heappush(heap, (item, seq))
        newest = max(newest, item[0])
        while heap and heap[0][0][0] <= newest - lateness:
            yield heapq.heappop(heap)[0]
    while heap:
        yield heapq.heappop(heap)[0]


def releases(out: Iterator[Item], fed: list[int]) -> list[tuple[int, Item]]:
    """Each released item with how many input items had been read when it came out."""
    return [(fed[0], item) for item in out]


def counted(items: list[Item], fed: list[int]) -> Iterator[Item]:
    for item in items:
        fed[0] += 1
        yield item


items = st.lists(
    st.tuples(
        st.integers(0, 40).map(float),  # few distinct times: many ties and stragglers
        st.integers(0, 2),
        st.sampled_from("abc"),
    ),
    max_size=60,
)


@given(items=items, lateness=st.integers(0, 12).map(float))
def test_the_buffer_releases_what_one_heap_would_when_it_would(
    items: list[Item], lateness: float
) -> None:
    fed_fast, fed_slow = [0], [0]
    fast = releases(
        time_ordered(
            counted(items, fed_fast),
            when=lambda i: i[0],
            key=lambda i: i,
            lateness_seconds=lateness,
        ),
        fed_fast,
    )
    slow = releases(one_heap(counted(items, fed_slow), lateness), fed_slow)
    assert fast == slow
    assert sorted(item for _, item in fast) == sorted(items)


@given(items=items)
def test_within_the_bound_arrival_order_does_not_matter(items: list[Item]) -> None:
    """Every item is at most the bound late, so the output is the items sorted (ties by
    arrival, which matters only for equal keys, which are equal items here)."""
    out = list(time_ordered(items, when=lambda i: i[0], key=lambda i: i, lateness_seconds=40.0))
    assert out == sorted(items)


def test_an_item_later_than_the_bound_is_released_at_once() -> None:
    seen = [0]
    data = [(10.0, 0, "a"), (20.0, 0, "b"), (5.0, 0, "late"), (21.0, 0, "c")]
    out = releases(
        time_ordered(
            counted(data, seen), when=lambda i: i[0], key=lambda i: i, lateness_seconds=4.0
        ),
        seen,
    )
    assert out == [(2, (10.0, 0, "a")), (3, (5.0, 0, "late")), (4, (20.0, 0, "b"))] + [
        (4, (21.0, 0, "c"))
    ]


def ticket_event(tid: str, at: datetime, kind: EventKind) -> TicketEvent:
    ticket = Ticket(tid, "acme", created_at=START)
    return TicketEvent(ticket=ticket, kind=kind, occurred_at=at)


def test_events_are_ordered_as_their_rows() -> None:
    """``run`` (events) and ``replay`` (rows) share the buffer and the order: time, kind
    (created, updated, resolved), source, id."""
    events = [
        ticket_event("T2", START + timedelta(hours=2), EventKind.UPDATED),
        ticket_event("T1", START + timedelta(hours=2), EventKind.RESOLVED),
        ticket_event("T3", START + timedelta(hours=1), EventKind.UPDATED),
        ticket_event("T0", START + timedelta(hours=2), EventKind.UPDATED),
        ticket_event("T4", START + timedelta(hours=2), EventKind.CREATED),
    ]
    ordered = list(events_in_order(events, lateness_hours=24))
    assert [e.ticket.ticket_id for e in ordered] == ["T3", "T4", "T0", "T2", "T1"]
    assert [event_order(e) for e in ordered] == [row_order(event_row(e)) for e in ordered]
    assert [event_order(e) for e in ordered] == sorted(event_order(e) for e in events)


def test_replay_with_no_lateness_allowed_streams_in_file_order() -> None:
    """A bound of zero (allowed by the policy) releases each row as it comes."""
    events = [
        TicketEvent(ticket=Ticket(f"T{i}", "acme", created_at=START + timedelta(hours=i)))
        for i in range(30)
    ]
    monitor = SpikeMonitor(DetectionPolicy(lateness_hours=0))
    list(replay_rows(map(event_row, events), monitor))
    assert monitor.detector.late_dropped == 0
    assert [r.ticket_id for r in monitor.detector.customers["acme"].rows][-1] == "T29"
