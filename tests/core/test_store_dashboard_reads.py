"""The dashboard's bulk reads agree with the general reads, on every store."""

from __future__ import annotations

from datetime import timedelta

from ticketspike.model import EventKind
from ticketspike.signals import TransitionKind
from ticketspike.store.dashboard_reads import DashboardReads
from ticketspike.testing import (
    DEFAULT_TIME,
    sample_account,
    sample_assessment,
    sample_plan,
    sample_transition,
    ticket_event,
)


def _fill(store) -> None:  # type: ignore[no-untyped-def]
    for n, customer in enumerate(("acme", "globex")):
        for t in range(4):
            kind = EventKind.RESOLVED if t < n + 1 else EventKind.CREATED
            at = DEFAULT_TIME - timedelta(hours=t + 1)
            store.put_ticket(ticket_event(f"{customer}-{t}", customer, at), at=at)
            if kind is EventKind.RESOLVED:
                event = ticket_event(f"{customer}-{t}", customer, at, kind=kind)
                store.put_ticket(event, at=DEFAULT_TIME)
        store.put_ticket(
            ticket_event(f"{customer}-n", customer, DEFAULT_TIME, internal=True), at=DEFAULT_TIME
        )
        transition = sample_transition(
            customer_id=customer,
            episode_id=f"ep_{customer}",
            assessment=sample_assessment(customer),
        )
        store.record_transition(
            transition, sample_plan(transition, sample_account(customer)), at=DEFAULT_TIME
        )
    closing = sample_transition(
        TransitionKind.RESOLVED,
        customer_id="globex",
        episode_id="ep_globex",
        at=DEFAULT_TIME + timedelta(hours=1),
        assessment=sample_assessment("globex"),
    )
    store.record_transition(closing, None, at=DEFAULT_TIME)


def test_bulk_reads_match_the_records(any_store) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(any_store, DashboardReads)
    _fill(any_store)
    active = {e.episode_id for e in any_store.episodes(active_only=True)}
    assert active == {"ep_acme"}
    lines = any_store.active_action_lines()
    records = [a for a in any_store.actions() if a.episode_id in active]
    assert [(a.episode_id, a.kind, a.step_id, a.status) for a in records] == [
        (a.episode_id, a.kind, a.step_id, a.status) for a in lines
    ]
    plans = any_store.plans(episode_id="ep_acme")
    assert any_store.active_plan_ids() == {"ep_acme": plans[-1].plan_id}
    assert any_store.plan_progress([plans[-1].plan_id]) == {
        plans[-1].plan_id: dict(plans[-1].plan.progress)
    }
    assert any_store.plan_progress(["nope"]) == {}
    since, until = DEFAULT_TIME - timedelta(days=1), DEFAULT_TIME
    for customer, resolved in (("acme", 1), ("globex", 2)):
        tickets = any_store.tickets(
            customer_id=customer, since=since, until=until, include_internal=False
        )
        assert len(tickets) == 4
        assert any_store.ticket_status_counts(customer, since=since, until=until) == (resolved, 4)
    assert any_store.ticket_status_counts("nobody", since=since, until=until) == (0, 0)
