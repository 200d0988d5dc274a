"""Window reads cut bodies in the store and agree with the whole tickets, on every store.

Bodies live apart from the ticket JSON in the SQL stores, so a window read (theme analysis,
summary, banner) never reads or decodes a 64 KB body; only ``get_ticket`` and ``tickets``
return it whole.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketspike.model import EventKind, Priority, TicketEvent
from ticketspike.store.base import PutOutcome
from ticketspike.store.sqlite import SQLiteStore
from ticketspike.store.ticket_heads import TicketHeads, ticket_heads
from ticketspike.testing import DEFAULT_TIME, ticket_event

BIG = "export fails with a timeout " * 2400  # 67,200 characters


def _event(ticket_id: str, body: str, *, hours: float = 1.0, internal: bool = False) -> TicketEvent:
    event = ticket_event(
        ticket_id, "acme", DEFAULT_TIME - timedelta(hours=hours), internal=internal
    )
    return attrs.evolve(event, ticket=attrs.evolve(event.ticket, body=body))


def test_heads_cut_bodies_and_keep_their_length(any_store) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(any_store, TicketHeads)
    for n, body in enumerate((BIG, "short", "")):
        assert any_store.put_ticket(_event(f"T-{n}", body, hours=n + 1), at=DEFAULT_TIME) is (
            PutOutcome.NEW
        )
    any_store.put_ticket(_event("T-int", BIG, internal=True), at=DEFAULT_TIME)
    since, until = DEFAULT_TIME - timedelta(days=1), DEFAULT_TIME
    heads = any_store.ticket_heads("acme", since=since, until=until, body_chars=100)
    whole = any_store.tickets(customer_id="acme", since=since, until=until, include_internal=False)
    assert [h.ticket.ticket_id for h in heads] == [r.ticket.ticket_id for r in whole]
    assert [h.ticket.ticket_id for h in heads] == ["T-2", "T-1", "T-0"]
    for head, record in zip(heads, whole, strict=True):
        assert head.ticket.body == record.ticket.body[:100]
        assert head.body_length == len(record.ticket.body)
        assert head.status == record.status
        assert attrs.evolve(head.ticket, body=record.ticket.body) == record.ticket
    assert heads[2].body_truncated and not heads[1].body_truncated
    # the single-ticket read and the general read still carry the whole body
    got = any_store.get_ticket("api", "T-0")
    assert got is not None and got.ticket.body == BIG
    assert whole[2].ticket.body == BIG
    inside = any_store.ticket_heads(
        "acme", since=since, until=until, body_chars=0, include_internal=True
    )
    assert len(inside) == 4 and all(h.ticket.body == "" for h in inside)


def test_an_update_keeps_the_body_apart(any_store) -> None:  # type: ignore[no-untyped-def]
    any_store.put_ticket(_event("T-1", BIG), at=DEFAULT_TIME)
    resolved = attrs.evolve(_event("T-1", BIG), kind=EventKind.RESOLVED)
    assert any_store.put_ticket(resolved, at=DEFAULT_TIME) is PutOutcome.UPDATED
    assert any_store.put_ticket(resolved, at=DEFAULT_TIME) is PutOutcome.DUPLICATE
    # an update changes the JSON (here the priority) and leaves the body whole
    urgent = _event("T-1", "ignored")
    urgent = attrs.evolve(
        urgent, kind=EventKind.UPDATED, ticket=attrs.evolve(urgent.ticket, priority=Priority.P1)
    )
    assert any_store.put_ticket(urgent, at=DEFAULT_TIME) is PutOutcome.UPDATED
    since = DEFAULT_TIME - timedelta(days=1)
    [head] = any_store.ticket_heads("acme", since=since, until=DEFAULT_TIME, body_chars=10)
    assert head.status == "resolved" and head.body_length == len(BIG)
    assert head.ticket.priority is Priority.P1 and head.ticket.body == BIG[:10]
    got = any_store.get_ticket("api", "T-1")
    assert got is not None and got.ticket.body == BIG and got.status == "resolved"
    assert got.ticket.priority is Priority.P1


def test_rows_written_before_the_body_column_read_the_same(tmp_path: Path) -> None:
    """A file whose tickets hold their body inside the JSON (older versions) reads as before."""
    path = tmp_path / "store.db"
    with SQLiteStore(path) as store:
        store.put_ticket(_event("T-1", BIG), at=DEFAULT_TIME)
    with sqlite3.connect(path) as db:
        (event,) = db.execute("SELECT event FROM tickets").fetchone()
        data = json.loads(event)
        assert "body" not in data  # the body is in its own column
        data["body"] = BIG
        db.execute(
            "UPDATE tickets SET event = ?, body = NULL, body_length = NULL", (json.dumps(data),)
        )
    db.close()
    with SQLiteStore(path) as store:
        since = DEFAULT_TIME - timedelta(days=1)
        [head] = store.ticket_heads("acme", since=since, until=DEFAULT_TIME, body_chars=10)
        assert head.ticket.body == BIG[:10] and head.body_length == len(BIG)
        got = store.get_ticket("api", "T-1")
        assert got is not None and got.ticket.body == BIG


class _Plain:
    """A store without the role: ``ticket_heads`` falls back to its whole tickets."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.tickets = inner.tickets


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bodies=st.lists(
        st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300),
        min_size=1,
        max_size=5,
    ),
    cut=st.integers(min_value=0, max_value=320),
)
def test_the_fallback_and_the_role_agree(bodies: list[str], cut: int, tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / f"h{abs(hash((tuple(bodies), cut)))}.db") as store:
        for n, body in enumerate(bodies):
            store.put_ticket(_event(f"T-{n}", body, hours=n + 1), at=DEFAULT_TIME)
        window = {"since": DEFAULT_TIME - timedelta(days=1), "until": DEFAULT_TIME}
        role = ticket_heads(store, "acme", body_chars=cut, **window)
        plain = ticket_heads(_Plain(store), "acme", body_chars=cut, **window)  # type: ignore[arg-type]
        assert role == plain, (bodies, cut, role, plain)


def test_a_body_with_nul_round_trips(any_store) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL text cannot hold NUL and SQLite's substr stops at one: such a body stays in
    the JSON, and both reads still give it exactly."""
    body = "before\x00after " * 50
    any_store.put_ticket(_event("T-nul", body), at=DEFAULT_TIME)
    since = DEFAULT_TIME - timedelta(days=1)
    [head] = any_store.ticket_heads("acme", since=since, until=DEFAULT_TIME, body_chars=9)
    assert head.ticket.body == body[:9] and head.body_length == len(body)
    got = any_store.get_ticket("api", "T-nul")
    assert got is not None and got.ticket.body == body
